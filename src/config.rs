//! The validated configuration: command-line flags over `SMCACHE_*` and AWS environment
//! variables over defaults, resolved once. Nothing after this module sees clap.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::aws::AwsSettings;
use crate::cache::Policy;
use crate::cli::GlobalArgs;

/// How long a process waits for another to release the cache before answering
/// without it.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// How much to say on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
    Debug,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub aws: AwsSettings,
    /// Canonical text of the endpoint, region, profile and access key id: entries of
    /// different namespaces never share a slot.
    pub namespace: String,
    /// Where the cache lives, or why there is no such place (no home directory): then
    /// every command runs uncached.
    pub cache_dir: Result<PathBuf, String>,
    /// Whether to use the cache at all (`--no-cache` and size 0 turn it off).
    pub use_cache: bool,
    pub max_cache_size: usize,
    pub policy: Policy,
    pub default_stage: String,
    pub verbosity: Verbosity,
    pub lock_wait: Duration,
}

impl Config {
    pub fn from_args(args: &GlobalArgs) -> Result<Self, String> {
        let aws = AwsSettings {
            region: args
                .region
                .clone()
                .or_else(|| first_env(&["AWS_REGION", "AWS_DEFAULT_REGION"])),
            profile: args.profile.clone(),
            endpoint: args
                .endpoint_url
                .clone()
                .or_else(|| first_env(&["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"])),
        };
        let no_cache = args.no_cache || env::var_os("SMCACHE_NO_CACHE").is_some_and(|v| truthy(&v));
        let verbosity = match (args.quiet, args.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, 1) => Verbosity::Verbose,
            (false, _) => Verbosity::Debug,
        };
        Ok(Self {
            namespace: namespace(&aws),
            cache_dir: cache_dir(args.cache_dir.as_deref())?,
            use_cache: !no_cache && args.max_cache_size > 0,
            max_cache_size: args.max_cache_size,
            policy: Policy {
                refresh_interval: args.refresh_interval,
                retry_base: args.retry_base,
                retry_growth: args.retry_growth,
                retry_max: args.retry_max,
                max_stale: args.max_stale,
            },
            default_stage: args.default_stage.clone(),
            verbosity,
            lock_wait: LOCK_WAIT,
            aws,
        })
    }
}

/// The first of `names` that is set and not empty.
fn first_env(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|name| env::var(name).ok().filter(|v| !v.is_empty()))
}

fn truthy(value: &OsString) -> bool {
    let value = value.to_string_lossy().to_ascii_lowercase();
    !matches!(value.as_str(), "" | "0" | "false" | "no" | "off")
}

/// The namespace of cache entries. A region that comes from the profile file is not
/// known without reading AWS configuration, which a cache hit avoids; it is then named
/// by the profile. The access key id tells apart accounts whose credentials come from
/// the environment under the same profile name.
fn namespace(aws: &AwsSettings) -> String {
    let field = |v: &Option<String>| v.clone().unwrap_or_default();
    let profile = aws.profile.clone().or_else(|| first_env(&["AWS_PROFILE"]));
    let access_key = first_env(&["AWS_ACCESS_KEY_ID"]).unwrap_or_default();
    format!(
        "endpoint={}\nregion={}\nprofile={}\naccess_key={}",
        field(&aws.endpoint),
        field(&aws.region),
        profile.unwrap_or_else(|| "default".into()),
        access_key
    )
}

/// The cache directory as an absolute path: the flag or `SMCACHE_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/smcache`, else `~/.cache/smcache`.
/// `Ok(Err(why))` when there is no default to fall back on: a cache problem, not a
/// usage error.
fn cache_dir(chosen: Option<&Path>) -> Result<Result<PathBuf, String>, String> {
    let dir = match chosen {
        Some(dir) if dir.as_os_str().is_empty() => {
            return Err("--cache-dir (SMCACHE_CACHE_DIR) must not be empty".into());
        }
        Some(dir) => dir.to_owned(),
        None => match default_cache_dir() {
            Some(dir) => dir,
            None => {
                return Ok(Err(
                    "no cache directory (set --cache-dir, SMCACHE_CACHE_DIR or HOME)".into(),
                ));
            }
        },
    };
    // One spelling per directory (`./c/` and `c` alike): the keyring item is named by it.
    let dir: PathBuf = dir.components().collect();
    if dir.is_absolute() {
        return Ok(Ok(dir));
    }
    Ok(env::current_dir().map(|cwd| cwd.join(&dir)).map_err(|err| {
        format!(
            "cannot resolve the cache directory `{}`: {err}",
            dir.display()
        )
    }))
}

fn default_cache_dir() -> Option<PathBuf> {
    if let Some(xdg) = env::var_os("XDG_CACHE_HOME").map(PathBuf::from)
        && xdg.is_absolute()
    {
        return Some(xdg.join("smcache"));
    }
    let home = env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|home| home.is_absolute())?;
    Some(home.join(".cache").join("smcache"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_differ_by_region_endpoint_and_profile() {
        let base = AwsSettings {
            region: Some("us-east-1".into()),
            ..AwsSettings::default()
        };
        let other_region = AwsSettings {
            region: Some("eu-west-1".into()),
            ..base.clone()
        };
        let other_endpoint = AwsSettings {
            endpoint: Some("http://x".into()),
            ..base.clone()
        };
        let other_profile = AwsSettings {
            profile: Some("prod".into()),
            ..base.clone()
        };
        let all = [&base, &other_region, &other_endpoint, &other_profile].map(namespace);
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn truthy_values() {
        for yes in ["1", "true", "yes", "on", "TRUE"] {
            assert!(truthy(&OsString::from(yes)), "{yes}");
        }
        for no in ["", "0", "false", "no", "off"] {
            assert!(!truthy(&OsString::from(no)), "{no}");
        }
    }
}
