//! Tests of the test support itself: the moto client, the proxy and `TestEnv`.
//! If these fail, failures elsewhere say nothing about smcache.

mod common;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::panic::AssertUnwindSafe;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use common::http::{self, Response};
use common::{Fault, Moto, Proxy, TestEnv, unique_name};

/// A `GetSecretValue` request as the SDK would send it, region us-east-1.
fn get_request(secret_id: &str, connection: &str) -> Vec<u8> {
    let body = json!({ "SecretId": secret_id }).to_string();
    format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: secretsmanager.GetSecretValue\r\n\
         Content-Type: application/x-amz-json-1.1\r\nAuthorization: AWS4-HMAC-SHA256 \
         Credential=test/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, \
         Signature=0\r\nConnection: {connection}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn connect(proxy: &Proxy) -> TcpStream {
    let stream = TcpStream::connect(common::http::authority(&proxy.url())).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set timeout");
    stream
}

/// Sends one raw request on a new connection and reads the answer.
fn roundtrip(proxy: &Proxy, request: &[u8]) -> Response {
    let mut stream = connect(proxy);
    stream.write_all(request).expect("send request");
    http::read_response(&mut BufReader::new(stream), false).expect("read response")
}

/// Reads until the proxy closes; returns what came and how long it took.
fn read_until_closed(mut stream: TcpStream) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    (received, started.elapsed())
}

#[test]
fn secret_read_through_proxy_is_counted_once() {
    let env = TestEnv::new();
    let name = unique_name("harness/get");
    let version = env.moto.create_secret(&name, "hunter2");

    let resp = roundtrip(&env.proxy, &get_request(&name, "close"));

    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["SecretString"], "hunter2");
    assert_eq!(resp.json()["VersionId"], version.as_str());
    assert_eq!(env.proxy.calls("GetSecretValue"), 1);
    assert_eq!(env.proxy.total_calls(), 1);
    assert_eq!(
        env.proxy.requests(),
        vec![("GetSecretValue".into(), json!({ "SecretId": name }))]
    );
}

#[test]
fn status_fault_answers_without_moto_and_is_counted() {
    let env = TestEnv::new();
    let through_proxy = Moto::new(&env.proxy.url());
    let name = unique_name("harness/fault");
    env.proxy
        .set_fault(Fault::Status(500, "InternalServiceError"));

    let body = json!({ "Name": name, "SecretString": "x" });
    let resp = through_proxy
        .try_call("CreateSecret", &body)
        .expect("call proxy");

    assert_eq!(resp.status, 500);
    assert_eq!(
        resp.header("x-amzn-errortype"),
        Some("InternalServiceError")
    );
    assert_eq!(resp.json()["__type"], "InternalServiceError");
    assert_eq!(env.proxy.calls("CreateSecret"), 1);
    let describe = env
        .moto
        .try_call("DescribeSecret", &json!({ "SecretId": name }));
    assert_eq!(
        describe.expect("describe").status,
        404,
        "moto must not have seen CreateSecret"
    );

    env.proxy.set_fault(Fault::None);
    through_proxy.create_secret(&name, "x");
    assert_eq!(env.proxy.calls("CreateSecret"), 2);
}

#[test]
fn fault_for_one_action_leaves_others_alone() {
    let env = TestEnv::new();
    let through_proxy = Moto::new(&env.proxy.url());
    let name = unique_name("harness/fault-for");
    env.moto.create_secret(&name, "x");
    env.proxy
        .set_fault_for("GetSecretValue", Fault::Status(400, "ThrottlingException"));

    let get = through_proxy.try_call("GetSecretValue", &json!({ "SecretId": name }));
    assert_eq!(get.expect("get").json()["__type"], "ThrottlingException");
    assert_eq!(through_proxy.describe(&name)["Name"], name.as_str());

    env.proxy.set_fault_for("GetSecretValue", Fault::None);
    let get = through_proxy.try_call("GetSecretValue", &json!({ "SecretId": name }));
    assert_eq!(get.expect("get").status, 200);
    assert_eq!(env.proxy.calls("GetSecretValue"), 2);
    assert_eq!(env.proxy.calls("DescribeSecret"), 1);
}

#[test]
fn hang_fault_waits_then_closes_without_answer() {
    let env = TestEnv::new();
    env.proxy.set_fault(Fault::Hang(Duration::from_millis(400)));
    let mut stream = connect(&env.proxy);

    stream
        .write_all(&get_request("whatever", "keep-alive"))
        .expect("send");
    let (received, elapsed) = read_until_closed(stream);

    assert!(
        received.is_empty(),
        "got an answer: {}",
        String::from_utf8_lossy(&received)
    );
    assert!(
        elapsed >= Duration::from_millis(350),
        "closed after only {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "hung for {elapsed:?}");
    assert_eq!(env.proxy.calls("GetSecretValue"), 1);
}

#[test]
fn close_fault_closes_at_once() {
    let env = TestEnv::new();
    env.proxy.set_fault(Fault::Close);
    let mut stream = connect(&env.proxy);

    stream
        .write_all(&get_request("whatever", "keep-alive"))
        .expect("send");
    let (received, elapsed) = read_until_closed(stream);

    assert!(
        received.is_empty(),
        "got an answer: {}",
        String::from_utf8_lossy(&received)
    );
    assert!(
        elapsed < Duration::from_secs(2),
        "took {elapsed:?} to close"
    );
    assert_eq!(env.proxy.total_calls(), 1);
}

#[test]
fn keep_alive_connection_serves_three_requests() {
    let env = TestEnv::new();
    let name = unique_name("harness/keepalive");
    env.moto.create_secret(&name, "v");
    let mut stream = connect(&env.proxy);
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));

    for _ in 0..3 {
        stream
            .write_all(&get_request(&name, "keep-alive"))
            .expect("send");
        let resp = http::read_response(&mut reader, false).expect("read response");
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(
            resp.header("connection"),
            None,
            "proxy must keep the connection open"
        );
    }

    assert_eq!(env.proxy.calls("GetSecretValue"), 3);
    assert_eq!(env.proxy.connections(), 1);
}

#[test]
fn chunked_request_body_is_forwarded() {
    let env = TestEnv::new();
    let name = unique_name("harness/chunked");
    env.moto.create_secret(&name, "v");
    let body = json!({ "SecretId": name }).to_string();
    let (first, second) = body.split_at(5);
    let request = String::from_utf8(get_request(&name, "close")).expect("utf-8");
    let head = request.split("Content-Length").next().expect("head");
    let chunked = format!(
        "{head}Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        first.len(),
        second.len()
    );

    let resp = roundtrip(&env.proxy, chunked.as_bytes());

    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        env.proxy.bodies("GetSecretValue"),
        vec![json!({ "SecretId": name })]
    );
}

#[test]
fn regions_are_isolated() {
    let moto = Moto::from_env();
    let west = moto.in_region("us-west-2");
    let name = unique_name("harness/region");
    west.create_secret(&name, "west");

    let body = json!({ "SecretId": name });
    let east = moto.try_call("GetSecretValue", &body).expect("call moto");
    assert_eq!(
        east.json()["__type"],
        "ResourceNotFoundException",
        "{}",
        east.text()
    );
    assert_eq!(west.call("GetSecretValue", &body)["SecretString"], "west");
}

#[test]
fn stages_and_versions_can_be_moved() {
    let moto = Moto::from_env();
    let name = unique_name("harness/stages");
    let v1 = moto.create_secret(&name, "one");
    let v2 = moto.put_value(&name, "two", &["AWSPENDING"]);

    moto.update_stage(&name, "AWSCURRENT", &v2, Some(&v1));

    let stages = &moto.describe(&name)["VersionIdsToStages"];
    assert!(
        stages[&v2]
            .as_array()
            .expect("stages")
            .contains(&json!("AWSCURRENT"))
    );
    assert!(
        stages[&v1]
            .as_array()
            .expect("stages")
            .contains(&json!("AWSPREVIOUS"))
    );
    let binary = unique_name("harness/binary");
    moto.create_binary(&binary, &[0, 1, 2, 255]);
    let got = moto.call("GetSecretValue", &json!({ "SecretId": binary }));
    assert_eq!(got["SecretBinary"], "AAEC/w==");
}

/// Pins what this moto version answers where it differs from AWS or where
/// smcache's error handling depends on it.
#[test]
fn moto_error_answers_are_as_expected() {
    let moto = Moto::from_env();
    let name = unique_name("harness/errors");
    moto.create_secret(&name, "x");
    let error = |body: serde_json::Value| {
        let resp = moto.try_call("GetSecretValue", &body).expect("call moto");
        (
            resp.status,
            resp.json()["__type"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    };

    let missing_stage = error(json!({ "SecretId": name, "VersionStage": "NOPE" }));
    assert_eq!(missing_stage, (404, "ResourceNotFoundException".into()));
    let missing_version =
        json!({ "SecretId": name, "VersionId": "00000000-0000-0000-0000-000000000000" });
    assert_eq!(
        error(missing_version),
        (404, "ResourceNotFoundException".into())
    );

    moto.delete_secret(&name, false);
    assert_eq!(
        error(json!({ "SecretId": name })),
        (400, "InvalidRequestException".into())
    );
    moto.restore_secret(&name);
    moto.delete_secret(&name, true);
    assert_eq!(
        error(json!({ "SecretId": name })),
        (404, "ResourceNotFoundException".into())
    );
}

#[test]
fn batch_get_secret_value_reports_values_and_errors() {
    let moto = Moto::from_env();
    let (a, missing) = (unique_name("harness/batch"), unique_name("harness/missing"));
    moto.create_secret(&a, "va");

    let resp = moto.call(
        "BatchGetSecretValue",
        &json!({ "SecretIdList": [a, missing] }),
    );

    assert_eq!(resp["SecretValues"][0]["SecretString"], "va");
    assert_eq!(resp["Errors"][0]["SecretId"], missing.as_str());
    assert_eq!(resp["Errors"][0]["ErrorCode"], "ResourceNotFoundException");
}

#[test]
fn proxy_reset_forgets_requests_and_drop_stops_listening() {
    let env = TestEnv::new();
    let _ = roundtrip(&env.proxy, &get_request("nope", "close"));
    assert_eq!(env.proxy.total_calls(), 1);
    env.proxy.reset();
    assert_eq!(env.proxy.total_calls(), 0);

    let url = env.proxy.url();
    drop(env);
    assert!(
        TcpStream::connect(http::authority(&url)).is_err(),
        "proxy still listening"
    );
}

#[test]
fn dead_endpoint_refuses_connections() {
    let url = common::dead_endpoint();
    assert!(TcpStream::connect(http::authority(&url)).is_err());
}

#[test]
fn unique_names_do_not_repeat() {
    let names: std::collections::HashSet<_> = (0..1000).map(|_| unique_name("p")).collect();
    assert_eq!(names.len(), 1000);
    assert!(
        names
            .iter()
            .all(|n| n.starts_with(&format!("p-{}-", std::process::id())))
    );
}

#[test]
fn test_env_sets_up_files_and_a_clean_environment() {
    let env = TestEnv::new();
    let vars: Vec<_> = env
        .cmd()
        .get_envs()
        .map(|(k, v)| (k.to_owned(), v.map(ToOwned::to_owned)))
        .collect();
    let var = |name: &str| {
        let value = vars
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.clone());
        value.map(|v| v.into_string().expect("utf-8"))
    };

    assert!(env.home.is_dir() && env.empty_file.is_file());
    assert!(
        !env.cache_dir.exists(),
        "cache dir must be left for smcache to create"
    );
    assert_eq!(var("SMCACHE_KEY").as_deref(), Some(env.key_b64.as_str()));
    assert_eq!(
        var("AWS_ENDPOINT_URL_SECRETS_MANAGER"),
        Some(env.proxy.url())
    );
    assert_eq!(var("AWS_MAX_ATTEMPTS").as_deref(), Some("1"));
    assert_eq!(
        var("SMCACHE_CACHE_DIR"),
        env.cache_dir.to_str().map(String::from)
    );
    assert_eq!(
        var("SMCACHE_TEST_MOTO"),
        None,
        "only listed variables reach smcache"
    );
    let key = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &env.key_b64);
    assert_eq!(key.expect("key is base64").len(), 32);

    let keyless = TestEnv::new()
        .without_key()
        .with_env("SMCACHE_LOG", "debug");
    let names: Vec<_> = keyless
        .cmd()
        .get_envs()
        .map(|(k, _)| k.to_owned())
        .collect();
    assert!(!names.iter().any(|k| k == "SMCACHE_KEY"));
    assert!(names.iter().any(|k| k == "SMCACHE_LOG"));
}

#[test]
fn plaintext_check_scans_nested_cache_files() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.cache_dir.join("db")).expect("mkdir");
    std::fs::write(env.cache_dir.join("db/blob"), b"xx sealed yy").expect("write");

    assert_eq!(env.cache_files(), vec![env.cache_dir.join("db/blob")]);
    env.assert_no_plaintext(&[b"hunter2"]);
    let found =
        std::panic::catch_unwind(AssertUnwindSafe(|| env.assert_no_plaintext(&[b"sealed"])));
    let message = *found
        .expect_err("must panic")
        .downcast::<String>()
        .expect("message");
    assert!(message.contains("db/blob"), "{message}");
}

#[test]
fn run_parallel_runs_every_command() {
    let started = Instant::now();
    let outputs = common::run_parallel(4, |i| {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &format!("sleep 0.5; echo {i}; exit {i}")]);
        cmd
    });

    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "ran one after another"
    );
    for (i, out) in outputs.iter().enumerate() {
        assert_eq!(common::stdout(out).trim(), i.to_string());
        common::assert_exit(out, i32::try_from(i).expect("small"));
    }
    assert_eq!(common::assert_success(&outputs[0]), "0\n");
}
