//! The command-line surface: clap types only.
//!
//! Nothing outside this module and [`crate::config`] sees clap. The same model feeds the
//! parser, `smcache completions`, and the man pages under `man/`, so the three cannot
//! disagree. Values are parsed here (durations, `NAME=SECRET_ID#KEY`) so that bad input is
//! a usage error naming the option, exit 2, before anything runs.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::duration::parse_duration;

const AFTER_HELP: &str = "\
Examples:
  smcache get prod/db --json-key password
  smcache env -s prod/db -- ./migrate
  eval \"$(smcache env -e DB_URL=prod/db#url)\"
  smcache purge

Environment variables named beside an option set it when the option is not given.
Durations (T) are whole seconds (90) or a number with a unit (90s, 15m, 1h, 2d).";

/// AWS Secrets Manager secrets for shell scripts, served from an encrypted on-disk cache
///
/// smcache prints secrets from AWS Secrets Manager and puts them into environment
/// variables. What it fetches is kept in an encrypted cache shared by every invocation, so
/// scripts that read the same secrets again and again do not call Secrets Manager each time.
///
/// A cached secret is fresh until its next check, a moment drawn from [T/2, T] after the
/// last successful one (T is --refresh-interval); until then the cache answers alone. Then
/// it is stale: Secrets Manager is asked which version carries the stage, and only a version
/// not yet cached is fetched. A failed check is remembered with its error code and not
/// repeated before its back-off has passed (--retry-base, --retry-growth, --retry-max);
/// meanwhile the remembered error is the answer. When Secrets Manager cannot be reached, a
/// stale value is still served, with a warning, for at most --max-stale past its refresh
/// time. A permanent failure (access denied, not found, deleted) drops the cached values.
///
/// The cache is sealed with a 256-bit data key from SMCACHE_KEY or the OS keyring; when
/// neither can be had, smcache warns once and works without the cache. Plaintext is never
/// written to disk.
#[derive(Debug, Parser)]
#[command(name = "smcache", version, about, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes, before or after its name.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global Options")]
pub struct GlobalArgs {
    /// AWS region [env: AWS_REGION, AWS_DEFAULT_REGION; default: the profile's]
    #[arg(long, global = true, value_name = "R", value_parser = non_empty)]
    pub region: Option<String>,

    /// AWS named profile
    #[arg(long, global = true, value_name = "P", env = "AWS_PROFILE", value_parser = non_empty)]
    pub profile: Option<String>,

    /// Secrets Manager endpoint, for emulators and VPC endpoints
    /// [env: AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL]
    #[arg(long, global = true, value_name = "U", value_parser = non_empty)]
    pub endpoint_url: Option<String>,

    /// Where the encrypted cache lives [default: $XDG_CACHE_HOME/smcache, else ~/.cache/smcache]
    #[arg(long, global = true, value_name = "D", env = "SMCACHE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Neither read nor write the cache [env: SMCACHE_NO_CACHE=1]
    #[arg(long, global = true)]
    pub no_cache: bool,

    /// Time until cached secret metadata is re-checked; the moment is drawn from [T/2, T]
    #[arg(long, global = true, value_name = "T", env = "SMCACHE_REFRESH_INTERVAL",
          allow_hyphen_values = true, value_parser = parse_duration, default_value = "3600")]
    pub refresh_interval: Duration,

    /// Most secrets kept; least recently used goes first; 0 caches nothing
    #[arg(
        long,
        global = true,
        value_name = "N",
        env = "SMCACHE_MAX_CACHE_SIZE",
        default_value_t = 1024,
        allow_hyphen_values = true
    )]
    pub max_cache_size: usize,

    /// Back-off after the first failure
    #[arg(long, global = true, value_name = "T", env = "SMCACHE_RETRY_BASE",
          allow_hyphen_values = true, value_parser = parse_duration, default_value = "1")]
    pub retry_base: Duration,

    /// Back-off after the n-th consecutive failure is base * F^(n-1)
    #[arg(long, global = true, value_name = "F", env = "SMCACHE_RETRY_GROWTH",
          allow_hyphen_values = true, value_parser = parse_growth, default_value = "2")]
    pub retry_growth: f64,

    /// Back-off cap
    #[arg(long, global = true, value_name = "T", env = "SMCACHE_RETRY_MAX",
          allow_hyphen_values = true, value_parser = parse_duration, default_value = "3600")]
    pub retry_max: Duration,

    /// Stage used when none is asked for
    #[arg(long, global = true, value_name = "S", env = "SMCACHE_DEFAULT_STAGE",
          default_value = "AWSCURRENT", value_parser = non_empty)]
    pub default_stage: String,

    /// How long past its refresh time a cached value may still be served when Secrets
    /// Manager cannot be reached
    #[arg(long, global = true, value_name = "T", env = "SMCACHE_MAX_STALE",
          allow_hyphen_values = true, value_parser = parse_duration, default_value = "86400")]
    pub max_stale: Duration,

    /// More diagnostics on stderr (-vv for more) [env: SMCACHE_LOG, a tracing filter]
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// No warnings, errors only
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a secret's value
    ///
    /// Prints the SecretString of the version asked for (--version-id, else --stage, else
    /// --default-stage) and a newline. With --json-key K the SecretString must be a JSON
    /// object, and only its top-level key K is printed: a string raw, any other value as JSON
    /// text. --binary writes SecretBinary's bytes as they are. --output json prints a
    /// GetSecretValue-shaped object: ARN, Name, VersionId, VersionStages, CreatedDate, and
    /// SecretString or SecretBinary (base64).
    ///
    /// Errors name the secret id and, for AWS errors, the AWS error code
    /// (ResourceNotFoundException, AccessDeniedException, ...).
    Get(GetArgs),
    /// Put secrets into environment variables, for a command or for `eval`
    ///
    /// -e NAME=SECRET_ID gives NAME the whole SecretString; -e NAME=SECRET_ID#KEY gives it
    /// top-level key KEY of the JSON object in the SecretString. -s SECRET_ID makes one
    /// variable per top-level key of a JSON-object secret, and for any other secret one
    /// variable named after the last /-separated part of its id. Names made by -s are
    /// upper-cased, every character outside A-Z, 0-9 and _ becomes _, a leading digit gets a
    /// _ in front, and --prefix goes before them. JSON values that are not strings are
    /// written as their JSON text (5432, true). --var beats --secret for the same name; a
    /// later --secret beats an earlier one. Every secret comes through the same cache as
    /// `smcache get`.
    ///
    /// With COMMAND, smcache replaces itself with the command, which runs with the variables
    /// added to the inherited environment; its exit status is smcache's. A command that
    /// cannot be found exits 127, one that cannot be executed 126. If any secret or key
    /// fails, no command runs, and the error names the secret and the key.
    ///
    /// Without COMMAND, the variables are printed as --format says. shell: export NAME='value'
    /// lines, safe to eval whatever the value holds. dotenv: NAME="value" lines with \\, \",
    /// \n, \r and \t escaped (loaders that expand ${NAME} inside values, as python-dotenv
    /// does, cannot be told not to, so a value holding ${ is read back exactly only with
    /// expansion off). json: one object of strings.
    Env(EnvArgs),
    /// Remove cached secrets: all, or the ones named
    ///
    /// Without SECRET_ID everything cached goes, whatever key sealed it: values, metadata,
    /// remembered errors and back-off. With ids, only those secrets as fetched through the
    /// current region, profile and endpoint. The number of entries removed is printed on
    /// stderr. The next use of a removed secret goes to Secrets Manager again.
    Purge(PurgeArgs),
    /// Show what is cached, never a value
    ///
    /// One row per cached secret and region, profile and endpoint. Its state is fresh (the
    /// next check is ahead: the cache answers alone), stale (the next check has passed: the
    /// next use asks Secrets Manager) or backoff (the last check failed and its retry moment
    /// is ahead: the remembered error is the answer until then).
    ///
    /// --output json prints an array of objects with these fields: secret_id; region,
    /// profile, endpoint (null when not set); stages (stage to version id, as last seen);
    /// versions (the version ids whose values are cached); fetched_at, next_check (RFC 3339
    /// in UTC, or null); state; failures (consecutive failed checks); last_error (the AWS
    /// error code of the last failure, or null); next_retry (RFC 3339 in UTC, or null).
    Status(StatusArgs),
    /// Print a shell completion script
    ///
    /// Writes the completion script for SHELL to stdout. The same scripts are in the
    /// completions/ directory of the source tree.
    Completions(CompletionsArgs),
}

/// Which version of a secret to use.
#[derive(Debug, Args, Clone)]
pub struct VersionArgs {
    /// The version carrying stage S [default: --default-stage]
    #[arg(long, value_name = "S", value_parser = non_empty)]
    pub stage: Option<String>,

    /// That exact version; wins over --stage
    #[arg(long, value_name = "V", value_parser = non_empty)]
    pub version_id: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  smcache get prod/db
  smcache get prod/db --json-key password
  smcache get prod/tls-key --binary > key.der
  smcache get prod/db --stage AWSPREVIOUS --output json")]
pub struct GetArgs {
    /// Secret name or ARN
    #[arg(value_name = "SECRET_ID", value_parser = non_empty)]
    pub secret_id: String,

    #[command(flatten)]
    pub version: VersionArgs,

    /// Print top-level key K of the JSON SecretString (strings raw, other values as JSON)
    #[arg(long, value_name = "K", conflicts_with_all = ["binary", "output"])]
    pub json_key: Option<String>,

    /// Write SecretBinary's raw bytes to stdout, nothing added
    #[arg(long, conflicts_with = "output")]
    pub binary: bool,

    /// Output format
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = GetOutput::Text)]
    pub output: GetOutput,

    /// Check Secrets Manager now, whatever the refresh interval or back-off
    #[arg(long)]
    pub refresh: bool,

    /// No trailing newline
    #[arg(short = 'n', long)]
    pub no_newline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GetOutput {
    /// The SecretString and a newline
    Text,
    /// A GetSecretValue-shaped object
    Json,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  smcache env -s prod/db -- ./migrate
  smcache env -e PGPASSWORD=prod/db#password -e API_TOKEN=prod/token -- psql
  eval \"$(smcache env -s prod/db --prefix DB_)\"
  smcache env -s prod/db --format dotenv > .env")]
pub struct EnvArgs {
    /// NAME gets the whole SecretString, or top-level key KEY of its JSON object
    #[arg(short = 'e', long = "var", value_name = "NAME=SECRET_ID[#KEY]",
          value_parser = parse_var_spec)]
    pub vars: Vec<VarSpec>,

    /// Every top-level key of a JSON-object secret becomes a variable (any other secret:
    /// one variable named after the last `/` part of its id)
    #[arg(short = 's', long = "secret", value_name = "SECRET_ID", value_parser = non_empty)]
    pub secrets: Vec<String>,

    /// Prepended to every name made by --secret
    #[arg(long, value_name = "P", default_value = "", hide_default_value = true,
          value_parser = parse_prefix)]
    pub prefix: String,

    #[command(flatten)]
    pub version: VersionArgs,

    /// Without COMMAND: how to print the variables
    #[arg(long, value_enum, default_value_t = EnvFormat::Shell, conflicts_with = "command")]
    pub format: EnvFormat,

    /// The command to run with the variables added to its environment
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

/// One `--var NAME=SECRET_ID[#KEY]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarSpec {
    pub name: String,
    pub secret_id: String,
    pub key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnvFormat {
    /// `export NAME='value'` lines, safe to eval
    Shell,
    /// `NAME="value"` lines for dotenv loaders
    Dotenv,
    /// One JSON object of strings
    Json,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  smcache purge
  smcache purge prod/db prod/api-token
  smcache purge --region eu-west-1 prod/db")]
pub struct PurgeArgs {
    /// Secrets to remove (in the current region, profile and endpoint); none: everything
    #[arg(value_name = "SECRET_ID")]
    pub secret_ids: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  smcache status
  smcache status --output json | jq -r '.[] | select(.state == \"backoff\") | .secret_id'")]
pub struct StatusArgs {
    /// Output format
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = StatusOutput::Text)]
    pub output: StatusOutput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusOutput {
    /// An aligned table
    Text,
    /// An array of objects
    Json,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  smcache completions bash > ~/.local/share/bash-completion/completions/smcache
  smcache completions zsh > ~/.zfunc/_smcache
  smcache completions fish > ~/.config/fish/completions/smcache.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The clap model, for completions and man pages.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

fn non_empty(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err("must not be empty".into());
    }
    Ok(value.to_owned())
}

fn parse_growth(value: &str) -> Result<f64, String> {
    let growth: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("`{value}` is not a number"))?;
    if !growth.is_finite() || growth < 1.0 {
        return Err(format!("`{value}` must be a number of at least 1"));
    }
    Ok(growth)
}

/// A `--prefix` must itself start a valid variable name, so that every name made with it
/// is one: checked here, before any secret is fetched.
fn parse_prefix(value: &str) -> Result<String, String> {
    if !value.is_empty() && !is_env_name(value) {
        return Err(format!(
            "`{value}` cannot start a variable name (letters, digits and `_`, not starting with \
             a digit)"
        ));
    }
    Ok(value.to_owned())
}

/// Parses `NAME=SECRET_ID` or `NAME=SECRET_ID#KEY`. Secret names and ARNs cannot
/// contain `#`, so the first one starts the key.
pub fn parse_var_spec(value: &str) -> Result<VarSpec, String> {
    let (name, target) = value
        .split_once('=')
        .ok_or_else(|| format!("`{value}` is not NAME=SECRET_ID or NAME=SECRET_ID#KEY"))?;
    if !is_env_name(name) {
        return Err(format!(
            "`{name}` is not a variable name (letters, digits and `_`, not starting with a digit)"
        ));
    }
    let (secret_id, key) = match target.split_once('#') {
        Some((id, key)) => (id, Some(key)),
        None => (target, None),
    };
    if secret_id.is_empty() {
        return Err(format!("`{value}` names no secret after `=`"));
    }
    if key.is_some_and(str::is_empty) {
        return Err(format!("`{value}` names no key after `#`"));
    }
    Ok(VarSpec {
        name: name.to_owned(),
        secret_id: secret_id.to_owned(),
        key: key.map(str::to_owned),
    })
}

/// A portable environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clap_model_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn var_specs_parse_with_and_without_key() {
        let spec = parse_var_spec("DB=prod/db#password").unwrap();
        assert_eq!(
            spec,
            VarSpec {
                name: "DB".into(),
                secret_id: "prod/db".into(),
                key: Some("password".into())
            }
        );
        assert_eq!(parse_var_spec("T=tok").unwrap().key, None);
    }

    #[test]
    fn prefixes_must_start_a_variable_name() {
        for good in ["", "DB_", "_", "app1_"] {
            assert_eq!(parse_prefix(good).unwrap(), good);
        }
        for bad in ["1_", "DB-", "a b", "é"] {
            assert!(parse_prefix(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn malformed_var_specs_are_rejected() {
        for bad in ["DB", "=x", "1DB=x", "D-B=x", "DB=", "DB=#k", "DB=x#"] {
            assert!(parse_var_spec(bad).is_err(), "{bad} was accepted");
        }
    }
}
