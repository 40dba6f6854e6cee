//! An admin client for the moto server the tests run against.
//!
//! It sets up and changes secrets behind smcache's back, talking straight to
//! moto (or, for the proxy's own tests, through a `Proxy`). Requests carry a fake
//! `SigV4` `Authorization` header: moto reads the region from its credential
//! scope and keeps each region's secrets apart, and ignores the signature.

use std::io::{self, BufReader};
use std::net::TcpStream;
use std::process;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::http::{self, Request, Response};

/// The variable `scripts/test` sets to the moto server's URL.
pub const MOTO_URL_VAR: &str = "SMCACHE_TEST_MOTO";

/// The region used unless a test asks for another.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Far longer than moto needs; only there so a wedged server fails the test.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A Secrets Manager client for one region of one moto server.
#[derive(Debug, Clone)]
pub struct Moto {
    url: String,
    region: String,
}

impl Moto {
    /// The moto server named by `SMCACHE_TEST_MOTO`, region us-east-1.
    pub fn from_env() -> Moto {
        match std::env::var(MOTO_URL_VAR) {
            Ok(url) if !url.is_empty() => Moto::new(&url),
            _ => panic!(
                "{MOTO_URL_VAR} is not set: run the integration tests with `scripts/test`, \
                 which starts a moto server and exports it"
            ),
        }
    }

    /// A client for the server at `url` (`http://host:port`), region us-east-1.
    pub fn new(url: &str) -> Moto {
        let url = url.trim_end_matches('/').to_string();
        http::authority(&url); // fail here, not at the first call, on a bad URL
        Moto {
            url,
            region: DEFAULT_REGION.to_string(),
        }
    }

    /// The same server seen from `region`.
    pub fn in_region(&self, region: &str) -> Moto {
        Moto {
            url: self.url.clone(),
            region: region.to_string(),
        }
    }

    /// The server's URL, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The region requests are made in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Sends `action` with `body` and returns whatever came back.
    pub fn try_call(&self, action: &str, body: &Value) -> io::Result<Response> {
        let req = self.request(action, body);
        let mut stream = TcpStream::connect(http::authority(&self.url))?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        http::write_request(&mut stream, &req, true)?;
        http::read_response(&mut BufReader::new(stream), false)
    }

    /// Sends `action` with `body` and returns the JSON answer; panics with the
    /// answer on any status but 200.
    pub fn call(&self, action: &str, body: &Value) -> Value {
        let resp = self.try_call(action, body).unwrap_or_else(|e| {
            panic!(
                "moto {action} at {}: {e} (is moto running? use `scripts/test`)",
                self.url
            )
        });
        assert!(
            resp.status == 200,
            "moto {action} {body} in {}: HTTP {}: {}",
            self.region,
            resp.status,
            resp.text()
        );
        resp.json()
    }

    /// Creates secret `name` holding `value` as `SecretString`; returns its version id.
    pub fn create_secret(&self, name: &str, value: &str) -> String {
        let resp = self.call(
            "CreateSecret",
            &json!({ "Name": name, "SecretString": value }),
        );
        version_id(&resp)
    }

    /// Creates secret `name` holding `bytes` as `SecretBinary`; returns its version id.
    pub fn create_binary(&self, name: &str, bytes: &[u8]) -> String {
        let body = json!({ "Name": name, "SecretBinary": STANDARD.encode(bytes) });
        version_id(&self.call("CreateSecret", &body))
    }

    /// Adds a version holding `value` with `stages` (AWSCURRENT when empty);
    /// returns its version id.
    pub fn put_value(&self, name: &str, value: &str, stages: &[&str]) -> String {
        let mut body = json!({ "SecretId": name, "SecretString": value });
        if !stages.is_empty() {
            body["VersionStages"] = json!(stages);
        }
        version_id(&self.call("PutSecretValue", &body))
    }

    /// Moves `stage` to version `move_to`. Moving a stage that another version
    /// holds (AWSCURRENT always is) needs that version as `remove_from`.
    pub fn update_stage(&self, name: &str, stage: &str, move_to: &str, remove_from: Option<&str>) {
        let mut body =
            json!({ "SecretId": name, "VersionStage": stage, "MoveToVersionId": move_to });
        if let Some(old) = remove_from {
            body["RemoveFromVersionId"] = json!(old);
        }
        self.call("UpdateSecretVersionStage", &body);
    }

    /// Deletes `name`: at once when `force`, else scheduled (restorable; reads
    /// then fail with `InvalidRequestException`).
    pub fn delete_secret(&self, name: &str, force: bool) {
        let body = json!({ "SecretId": name, "ForceDeleteWithoutRecovery": force });
        self.call("DeleteSecret", &body);
    }

    /// Cancels the scheduled deletion of `name`.
    pub fn restore_secret(&self, name: &str) {
        self.call("RestoreSecret", &json!({ "SecretId": name }));
    }

    /// `DescribeSecret`'s answer: `VersionIdsToStages`, `DeletedDate`, ...
    pub fn describe(&self, name: &str) -> Value {
        self.call("DescribeSecret", &json!({ "SecretId": name }))
    }

    fn request(&self, action: &str, body: &Value) -> Request {
        let credential = format!("test/20260101/{}/secretsmanager/aws4_request", self.region);
        let authorization =
            format!("AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=0");
        let headers = vec![
            ("Host".to_string(), http::authority(&self.url)),
            (
                "X-Amz-Target".to_string(),
                format!("secretsmanager.{action}"),
            ),
            (
                "Content-Type".to_string(),
                "application/x-amz-json-1.1".to_string(),
            ),
            ("Authorization".to_string(), authorization),
        ];
        let body = serde_json::to_vec(body).expect("serialize JSON");
        Request {
            method: "POST".into(),
            target: "/".into(),
            headers,
            body,
        }
    }
}

/// A secret name no other call, test or process will get: `prefix` plus the
/// process id, the time and a per-process counter. moto lives as long as the
/// test run, so names must not repeat across test binaries either.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{prefix}-{}-{nanos:x}-{n}", process::id())
}

fn version_id(resp: &Value) -> String {
    resp["VersionId"]
        .as_str()
        .unwrap_or_else(|| panic!("moto answer has no VersionId: {resp}"))
        .to_string()
}
