//! From arguments to exit code: parse, configure logging, dispatch, report.

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use tracing::Level;
use tracing_subscriber::filter::{LevelFilter, Targets};

use crate::cli::{Cli, Command};
use crate::commands;
use crate::config::{Config, Verbosity};

/// Exit status for a failure.
const FAILURE: u8 = 1;
/// Exit status for a usage error, as clap uses.
const USAGE: u8 = 2;

pub fn main() -> ExitCode {
    crate::hardening::harden_process();
    quiet_database_panics();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { USAGE } else { 0 });
        }
    };
    match dispatch(&cli) {
        Ok(code) => code,
        Err(err) if err.is::<UsageError>() => {
            eprintln!("error: {err}");
            ExitCode::from(USAGE)
        }
        Err(err) => {
            report(&err);
            ExitCode::from(FAILURE)
        }
    }
}

/// A configuration value clap could not check by itself: exit status 2, like clap's own.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

fn dispatch(cli: &Cli) -> Result<ExitCode> {
    let ok = |()| ExitCode::SUCCESS;
    match &cli.command {
        // Completions depend on nothing but the clap model: not even a home directory.
        Command::Completions(args) => commands::completions::run(args).map(ok),
        Command::Get(args) => commands::get::run(&configure(cli)?, args).map(ok),
        Command::Env(args) => commands::env::run(&configure(cli)?, args).map(ExitCode::from),
        Command::Purge(args) => commands::purge::run(&configure(cli)?, args).map(ok),
        Command::Status(args) => commands::status::run(&configure(cli)?, args).map(ok),
    }
}

/// The validated configuration, with logging set up as it asks.
fn configure(cli: &Cli) -> Result<Config> {
    let config = Config::from_args(&cli.global).map_err(UsageError)?;
    init_logging(config.verbosity);
    Ok(config)
}

/// Prints the error chain once, then a hint where one helps.
fn report(err: &anyhow::Error) {
    let mut message = err.to_string();
    for cause in err.chain().skip(1) {
        message.push_str(": ");
        message.push_str(&cause.to_string());
    }
    eprintln!("error: {message}");
    if let Some(hint) = hint(err) {
        eprintln!("hint: {hint}");
    }
}

fn hint(err: &anyhow::Error) -> Option<&'static str> {
    use crate::resolve::ResolveError;
    match err.downcast_ref::<ResolveError>()? {
        ResolveError::Aws { error, .. }
        | ResolveError::Remembered { error, .. }
        | ResolveError::Version { error, .. } => match error.code.as_str() {
            "CredentialsError" => {
                Some("set AWS credentials (AWS_PROFILE, aws sso login, or AWS_ACCESS_KEY_ID)")
            }
            "NoRegion" => Some("pass --region or set AWS_REGION"),
            "NetworkError" | "Timeout" => Some("check --endpoint-url and the network"),
            _ => None,
        },
        ResolveError::NoStage { .. } => {
            Some("list the stages with `aws secretsmanager describe-secret`")
        }
    }
}

/// Limits every crate but smcache to `debug`, whatever `SMCACHE_LOG` asks: at `trace`,
/// the AWS SDK logs whole HTTP responses, secret values included.
fn cap_dependencies(filter: &Targets) -> Targets {
    let cap = |level: LevelFilter| level.min(LevelFilter::DEBUG);
    let own = filter.default_level().unwrap_or(LevelFilter::OFF);
    let mut capped = Targets::new()
        .with_default(cap(own))
        .with_target("smcache", own);
    for (target, level) in filter {
        let ours = target == "smcache" || target.starts_with("smcache::");
        capped = capped.with_target(target, if ours { level } else { cap(level) });
    }
    capped
}

/// sled panics on some damaged files; the store catches those panics and reports a
/// damaged cache in one line, so the default panic message would only add noise.
fn quiet_database_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_sled = info
            .location()
            .is_some_and(|at| at.file().contains("/sled-"));
        if !in_sled {
            default(info);
        }
    }));
}

fn init_logging(verbosity: Verbosity) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    // Other crates are silent unless asked for: the SDK's own warnings print whole
    // HTTP responses (Debug), and every failure reaches the user as smcache's error.
    let default = match verbosity {
        Verbosity::Quiet => "off,smcache=error",
        Verbosity::Normal => "off,smcache=warn",
        Verbosity::Verbose => "warn,smcache=info",
        Verbosity::Debug => "warn,smcache=debug",
    };
    let spec = match (verbosity, std::env::var("SMCACHE_LOG")) {
        (Verbosity::Normal, Ok(spec)) if !spec.is_empty() => spec,
        _ => default.to_owned(),
    };
    let filter: Targets = spec
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(Level::WARN));
    let filter = cap_dependencies(&filter);
    let output = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false);
    tracing_subscriber::registry()
        .with(output)
        .with(filter)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_never_log_at_trace() {
        let capped = cap_dependencies(&"trace,aws_smithy_runtime=trace".parse().unwrap());
        assert!(capped.would_enable("smcache::resolve", &Level::TRACE));
        assert!(!capped.would_enable("aws_smithy_runtime::client", &Level::TRACE));
        assert!(capped.would_enable("aws_smithy_runtime::client", &Level::DEBUG));
        assert!(!capped.would_enable("hyper", &Level::TRACE));
        let default = cap_dependencies(&"off,smcache=warn".parse().unwrap());
        assert!(default.would_enable("smcache::open", &Level::WARN));
        assert!(!default.would_enable("smcache::open", &Level::INFO));
        assert!(!default.would_enable("aws_config::imds", &Level::WARN));
        let quiet = cap_dependencies(&"warn".parse().unwrap());
        assert!(!quiet.would_enable("smcache", &Level::INFO));
        assert!(quiet.would_enable("smcache", &Level::WARN));
    }
}
