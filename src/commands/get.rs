//! `smcache get`: print one secret's value.

use std::io::Write;

use anyhow::{Context, Result, bail};
use base64::Engine;
use serde_json::{Map, Value};
use zeroize::{Zeroize, Zeroizing};

use crate::cli::{GetArgs, GetOutput};
use crate::commands::{json_field, request_for};
use crate::config::Config;
use crate::resolve::{Resolved, Resolver};
use crate::secret::SecretValue;

pub fn run(config: &Config, args: &GetArgs) -> Result<()> {
    let mut secrets = Resolver::new(config)?;
    let request = request_for(config, &args.secret_id, &args.version, args.refresh);
    let answer = secrets.resolve(&request);
    secrets.close();
    let bytes = render(args, &answer?)?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&bytes)
        .and_then(|()| stdout.flush())
        .context("failed to write to stdout")
}

/// The bytes to print, in a buffer that is wiped afterwards.
fn render(args: &GetArgs, resolved: &Resolved) -> Result<Zeroizing<Vec<u8>>> {
    let id = &args.secret_id;
    let newline = !args.no_newline;
    let mut out = Zeroizing::new(Vec::new());
    match (&resolved.value, args.binary, args.output) {
        (_, false, GetOutput::Json) => {
            out.extend_from_slice(json_output(resolved).as_bytes());
        }
        (SecretValue::Binary(bytes), true, _) => {
            return Ok(Zeroizing::new(bytes.expose_secret().to_vec()));
        }
        (SecretValue::String(_), true, _) => {
            bail!("secret `{id}` has no SecretBinary (it holds a SecretString; drop --binary)")
        }
        (SecretValue::Binary(_), false, _) => {
            bail!("secret `{id}` has no SecretString (it holds a SecretBinary; use --binary)")
        }
        (SecretValue::String(text), false, _) => match &args.json_key {
            Some(key) => {
                let text = text.expose_str().unwrap_or_default();
                out.extend_from_slice(json_field(id, text, key)?.as_bytes());
            }
            None => out.extend_from_slice(text.expose_secret()),
        },
    }
    if newline {
        out.push(b'\n');
    }
    Ok(out)
}

/// A GetSecretValue-shaped object.
fn json_output(resolved: &Resolved) -> Zeroizing<String> {
    let mut object = Map::new();
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    object.insert("ARN".into(), text(&resolved.arn));
    object.insert("Name".into(), text(&resolved.name));
    object.insert(
        "VersionId".into(),
        Value::String(resolved.version_id.clone()),
    );
    object.insert("VersionStages".into(), resolved.stages.clone().into());
    object.insert("CreatedDate".into(), text(&resolved.created_date));
    let (field, value) = match &resolved.value {
        SecretValue::String(bytes) => (
            "SecretString",
            bytes.expose_str().unwrap_or_default().to_owned(),
        ),
        SecretValue::Binary(bytes) => (
            "SecretBinary",
            base64::engine::general_purpose::STANDARD.encode(bytes.expose_secret()),
        ),
    };
    object.insert(field.into(), Value::String(value));
    let object = Value::Object(object);
    let rendered = serde_json::to_string_pretty(&object).expect("JSON values always serialize");
    // The tree holds a copy of the value; wipe it before it is freed.
    if let Value::Object(mut map) = object
        && let Some(Value::String(mut copy)) = map.remove(field)
    {
        copy.zeroize();
    }
    Zeroizing::new(rendered)
}
