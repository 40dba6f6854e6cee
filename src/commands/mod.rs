//! One module per subcommand, and what they share.

pub mod completions;
pub mod env;
pub mod get;
pub mod purge;
pub mod status;

use anyhow::{Result, bail};
use serde_json::Value;
use zeroize::{Zeroize, Zeroizing};

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
pub fn json_field(secret_id: &str, text: &str, key: &str) -> Result<Zeroizing<String>> {
    let parsed = serde_json::from_str::<Value>(text);
    let Ok(Value::Object(mut object)) = parsed else {
        if let Ok(other) = parsed {
            wipe_json(other);
        }
        bail!("secret `{secret_id}` is not a JSON object, so it has no key `{key}`");
    };
    let field = object.remove(key);
    wipe_json(Value::Object(object));
    match field {
        Some(value) => Ok(render_json(value)),
        None => bail!("secret `{secret_id}` has no key `{key}`"),
    }
}

/// A JSON value as a variable or `--json-key` shows it: strings raw, anything else as
/// JSON text. The tree is wiped.
pub fn render_json(value: Value) -> Zeroizing<String> {
    match value {
        Value::String(text) => Zeroizing::new(text),
        other => {
            let rendered = Zeroizing::new(other.to_string());
            wipe_json(other);
            rendered
        }
    }
}

/// Wipes the strings (keys and values) of a JSON tree parsed from a secret before it is
/// freed. Numbers are small and stored in a form that cannot be wiped.
pub fn wipe_json(value: Value) {
    match value {
        Value::String(mut text) => text.zeroize(),
        Value::Array(items) => items.into_iter().for_each(wipe_json),
        Value::Object(object) => {
            for (mut key, value) in object {
                key.zeroize();
                wipe_json(value);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fields_render_strings_raw_and_the_rest_as_json() {
        let text = r#"{"user":"u","port":5432,"tls":{"on":true}}"#;
        assert_eq!(*json_field("s", text, "user").unwrap(), "u");
        assert_eq!(*json_field("s", text, "port").unwrap(), "5432");
        assert_eq!(*json_field("s", text, "tls").unwrap(), r#"{"on":true}"#);
    }

    #[test]
    fn json_field_errors_never_quote_the_value() {
        let missing = json_field("s", r#"{"user":"hunter2"}"#, "pw")
            .unwrap_err()
            .to_string();
        assert_eq!(missing, "secret `s` has no key `pw`");
        let not_object = json_field("s", r#"["hunter2"]"#, "pw")
            .unwrap_err()
            .to_string();
        assert!(!not_object.contains("hunter2"), "{not_object}");
    }
}
