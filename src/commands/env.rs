//! `smcache env`: secrets as environment variables, for a command or for `eval`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Write;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::cli::{EnvArgs, EnvFormat};
use crate::commands::{json_field, render_json, request_for, wipe_json};
use crate::config::Config;
use crate::resolve::Resolver;
use crate::secret::SecretValue;

/// Exit status for a command that cannot be found, as shells use.
const NOT_FOUND: u8 = 127;
/// Exit status for a command that cannot be executed.
const NOT_EXECUTABLE: u8 = 126;

/// Variable name -> value, in name order.
type Variables = BTreeMap<String, Zeroizing<String>>;

pub fn run(config: &Config, args: &EnvArgs) -> Result<u8> {
    let mut secrets = Resolver::new(config)?;
    let variables = collect(config, args, &mut secrets);
    // Nothing may hold the cache, a connection or a runtime while the command runs.
    secrets.close();
    drop(secrets);
    let variables = variables?;
    if args.command.is_empty() {
        print(&variables, args.format)?;
        return Ok(0);
    }
    Ok(exec(&args.command, &variables))
}

/// Resolves every secret named, in the precedence order: `--secret`s in order (a later
/// one wins), then `--var`s, which beat them all.
fn collect(config: &Config, args: &EnvArgs, secrets: &mut Resolver) -> Result<Variables> {
    let mut ids: Vec<String> = args.secrets.clone();
    ids.extend(args.vars.iter().map(|spec| spec.secret_id.clone()));
    let selector = request_for(config, "", &args.version, false).selector;
    secrets.prefetch(&ids, &selector);
    let mut variables = Variables::new();
    let mut strings: BTreeMap<String, Zeroizing<String>> = BTreeMap::new();
    let mut fetch = |id: &str| -> Result<Zeroizing<String>> {
        if let Some(text) = strings.get(id) {
            return Ok(Zeroizing::new(text.to_string()));
        }
        let request = request_for(config, id, &args.version, false);
        let resolved = secrets.resolve(&request)?;
        let SecretValue::String(bytes) = &resolved.value else {
            bail!("secret `{id}` has no SecretString (it holds a SecretBinary)");
        };
        let text = Zeroizing::new(bytes.expose_str().unwrap_or_default().to_owned());
        strings.insert(id.to_owned(), Zeroizing::new(text.to_string()));
        Ok(text)
    };
    for id in &args.secrets {
        let text = fetch(id)?;
        for (name, value) in expand_secret(id, &text, &args.prefix)? {
            variables.insert(name, value);
        }
    }
    for spec in &args.vars {
        let text = fetch(&spec.secret_id)?;
        let value = match &spec.key {
            Some(key) => json_field(&spec.secret_id, &text, key)?,
            None => text,
        };
        variables.insert(spec.name.clone(), value);
    }
    for (name, value) in &variables {
        if value.contains('\0') {
            bail!("the value for `{name}` contains a NUL byte, which no environment can hold");
        }
    }
    Ok(variables)
}

/// The variables one `--secret` makes: one per top-level key of a JSON object, or one
/// named after the last `/` part of the id for anything else.
fn expand_secret(id: &str, text: &str, prefix: &str) -> Result<Vec<(String, Zeroizing<String>)>> {
    let named = |part: &str| -> Result<String> {
        let name = format!("{prefix}{}", variable_name(part));
        if !crate::cli::is_env_name(&name) {
            bail!("secret `{id}`: `{name}` is not a valid variable name (check --prefix)");
        }
        Ok(name)
    };
    let parsed = serde_json::from_str::<Value>(text);
    let Ok(Value::Object(object)) = parsed else {
        if let Ok(other) = parsed {
            wipe_json(other);
        }
        let last = id.rsplit('/').next().unwrap_or(id);
        return Ok(vec![(named(last)?, Zeroizing::new(text.to_owned()))]);
    };
    let mut out = Vec::with_capacity(object.len());
    for (key, value) in object {
        let rendered = render_json(value);
        let name = named(&key)?;
        if out.iter().any(|(taken, _)| *taken == name) {
            tracing::warn!("secret `{id}`: two keys become `{name}`; the one sorted last wins");
        }
        out.push((name, rendered));
    }
    Ok(out)
}

/// A variable name from a JSON key or id part: upper-cased, every character outside
/// `A-Z0-9_` turned into `_`, and a leading digit given a `_` in front.
pub fn variable_name(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| c.to_ascii_uppercase())
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

fn print(variables: &Variables, format: EnvFormat) -> Result<()> {
    let mut out = Zeroizing::new(String::new());
    match format {
        EnvFormat::Shell => {
            for (name, value) in variables {
                let _ = writeln!(out, "export {name}={}", *shell_quote(value));
            }
        }
        EnvFormat::Dotenv => {
            for (name, value) in variables {
                let _ = writeln!(out, "{name}=\"{}\"", *dotenv_escape(value));
            }
        }
        EnvFormat::Json => {
            let object: serde_json::Map<String, Value> = variables
                .iter()
                .map(|(name, value)| (name.clone(), Value::String(value.to_string())))
                .collect();
            out.push_str(&serde_json::to_string_pretty(&object).expect("strings serialize"));
            out.push('\n');
        }
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .context("failed to write to stdout")
}

/// Single-quotes `value` for POSIX shells: safe to `eval` whatever it holds.
pub fn shell_quote(value: &str) -> Zeroizing<String> {
    let mut quoted = Zeroizing::new(String::with_capacity(value.len() + 2));
    quoted.push('\'');
    for c in value.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

/// Escapes `value` for a double-quoted dotenv value.
pub fn dotenv_escape(value: &str) -> Zeroizing<String> {
    let mut escaped = Zeroizing::new(String::with_capacity(value.len()));
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Replaces smcache with the command; returns only if that fails.
fn exec(command: &[OsString], variables: &Variables) -> u8 {
    use std::os::unix::process::CommandExt;

    let mut child = std::process::Command::new(&command[0]);
    child.args(&command[1..]);
    for (name, value) in variables {
        child.env(name, value.as_str());
    }
    crate::hardening::restore_for_child();
    let err = child.exec();
    let program = command[0].to_string_lossy();
    eprintln!("error: cannot run `{program}`: {err}");
    match err.kind() {
        std::io::ErrorKind::NotFound => NOT_FOUND,
        _ => NOT_EXECUTABLE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_upper_cased_and_sanitized() {
        assert_eq!(variable_name("db-host.name"), "DB_HOST_NAME");
        assert_eq!(variable_name("1st"), "_1ST");
        assert_eq!(variable_name("päss"), "P_SS");
        assert_eq!(variable_name(""), "_");
    }

    #[test]
    fn shell_quoting_survives_any_character() {
        assert_eq!(*shell_quote("it's"), "'it'\\''s'");
        assert_eq!(*shell_quote("$x `y` \\ \"z\"\n"), "'$x `y` \\ \"z\"\n'");
    }

    #[test]
    fn dotenv_escaping() {
        assert_eq!(*dotenv_escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn json_object_secrets_expand_per_key_and_others_by_id() {
        let vars = expand_secret("prod/db", r#"{"user":"u","port":5432,"a-b":true}"#, "").unwrap();
        let names: Vec<_> = vars.iter().map(|(n, v)| format!("{n}={}", **v)).collect();
        assert_eq!(names, ["A_B=true", "PORT=5432", "USER=u"]);
        let vars = expand_secret("team/api-token", "plain", "X_").unwrap();
        assert_eq!(vars[0].0, "X_API_TOKEN");
        assert!(expand_secret("prod/db", r#"{"k":"v"}"#, "bad-").is_err());
    }
}
