//! One module per subcommand, and what they share.

pub mod completions;
pub mod env;
pub mod get;
pub mod purge;
pub mod status;

use anyhow::{Result, bail};
use serde_json::Value;

use crate::cli::VersionArgs;
use crate::config::Config;
use crate::resolve::{Request, Selector};

/// The request for `secret_id` with `--stage`/`--version-id` as given.
pub fn request_for(
    config: &Config,
    secret_id: &str,
    version: &VersionArgs,
    refresh: bool,
) -> Request {
    let selector = match (&version.version_id, &version.stage) {
        (Some(id), _) => Selector::VersionId(id.clone()),
        (None, Some(stage)) => Selector::Stage(stage.clone()),
        (None, None) => Selector::Stage(config.default_stage.clone()),
    };
    Request {
        secret_id: secret_id.to_owned(),
        selector,
        refresh,
    }
}

/// Top-level `key` of the JSON object in `text`: strings raw, other values as JSON text.
/// Errors never quote the secret's content.
pub fn json_field(secret_id: &str, text: &str, key: &str) -> Result<String> {
    let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(text) else {
        bail!("secret `{secret_id}` is not a JSON object, so it has no key `{key}`");
    };
    let rendered = match object.remove(key) {
        Some(Value::String(text)) => text,
        Some(other) => other.to_string(),
        None => bail!("secret `{secret_id}` has no key `{key}`"),
    };
    Ok(rendered)
}
