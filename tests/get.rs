//! `smcache get`: what it prints, how it selects a version, and how it fails.
//!
//! Cache behaviour over time (refresh, back-off, stale values) is in `cache_*.rs`;
//! here a cache appears only to show that a second process is answered from it.

mod common;

use std::io::BufReader;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use common::http::{self, Response};
use common::{TestEnv, assert_exit, assert_success, stderr, unique_name};

/// Asserts a failed `get`: exit 1, nothing on stdout, and each of `words` in stderr.
/// Returns stderr for further checks.
fn assert_get_error(out: &std::process::Output, words: &[&str]) -> String {
    assert_exit(out, 1);
    assert!(out.stdout.is_empty(), "a failure printed {:?}", out.stdout);
    let err = stderr(out);
    for word in words {
        assert!(err.contains(word), "stderr lacks `{word}`: {err}");
    }
    err
}

// Whitespace, a tab, an inner newline and non-ASCII: printed byte for byte.
const AWKWARD: &str = "p@ss w0rd\twith ünïcode\nsecond line  ";

#[test]
fn prints_secret_string_and_newline_then_answers_from_cache() {
    let env = TestEnv::new();
    let name = unique_name("get/plain");
    env.moto.create_secret(&name, AWKWARD);

    let first = env.run(&["get", &name]);
    assert_eq!(assert_success(&first), format!("{AWKWARD}\n"));
    assert_eq!(
        env.calls(),
        (1, 1),
        "first get: one DescribeSecret, one GetSecretValue"
    );

    // A new process, well within the refresh interval: the cache alone answers.
    let second = env.run(&["get", &name]);
    assert_eq!(assert_success(&second), format!("{AWKWARD}\n"));
    assert_eq!(stderr(&second), "", "a cache hit says nothing");
    assert_eq!(env.proxy.total_calls(), 2, "the cache hit made a call");

    assert!(!env.cache_files().is_empty(), "nothing was cached");
    env.assert_no_plaintext(&[AWKWARD.as_bytes(), b"with \xc3\xbcn"]);
}

#[test]
fn no_newline_flag_prints_the_value_alone() {
    let env = TestEnv::new();
    let name = unique_name("get/n");
    env.moto.create_secret(&name, "hunter2");

    let short = env.run(&["get", "-n", &name]);
    assert_eq!(short.stdout, b"hunter2");
    let long = env.run(&["get", &name, "--no-newline"]);
    assert_eq!(long.stdout, b"hunter2");
    assert_exit(&long, 0);
    assert_eq!(env.calls(), (1, 1));
    env.assert_no_plaintext(&[b"hunter2"]);
}

#[test]
fn json_key_prints_strings_raw_and_other_values_as_json() {
    let env = TestEnv::new();
    let name = unique_name("get/json");
    let secret = r#"{"user":"admin","port":5432,"ssl":true,"opts":{"a":[1,"x"]},"pw":"s3cr\"et"}"#;
    env.moto.create_secret(&name, secret);

    let key = |k: &str| assert_success(&env.run(&["get", &name, "--json-key", k]));
    assert_eq!(key("user"), "admin\n");
    assert_eq!(key("port"), "5432\n");
    assert_eq!(key("ssl"), "true\n");
    assert_eq!(key("opts"), "{\"a\":[1,\"x\"]}\n");
    assert_eq!(
        key("pw"),
        "s3cr\"et\n",
        "strings are printed unquoted, unescaped"
    );

    let raw = env.run(&["get", &name, "--json-key", "pw", "-n"]);
    assert_eq!(raw.stdout, b"s3cr\"et");
    assert_eq!(
        env.calls(),
        (1, 1),
        "every key after the first comes from the cache"
    );
    env.assert_no_plaintext(&[b"admin", b"s3cr\"et"]);
}

#[test]
fn json_key_that_is_missing_names_the_secret_and_the_key() {
    let env = TestEnv::new();
    let name = unique_name("get/json-missing");
    env.moto
        .create_secret(&name, r#"{"user":"admin","password":"topsecret1"}"#);

    let out = env.run(&["get", &name, "--json-key", "passwd"]);
    let err = assert_get_error(&out, &[&name, "passwd"]);
    assert!(
        !err.contains("topsecret1") && !err.contains("admin"),
        "{err}"
    );
    env.assert_no_plaintext(&[b"topsecret1", b"admin"]);
}

#[test]
fn json_key_on_a_secret_that_is_not_json_fails_without_showing_it() {
    let env = TestEnv::new();
    let name = unique_name("get/not-json");
    let value = "plain-value-Zq8vX {not json";
    env.moto.create_secret(&name, value);

    let out = env.run(&["get", &name, "--json-key", "user"]);
    let err = assert_get_error(&out, &[&name, "JSON"]);
    assert!(!err.contains("Zq8vX"), "the error shows the secret: {err}");

    // A JSON value that is not an object has no keys either.
    let array = unique_name("get/json-array");
    env.moto.create_secret(&array, r#"["Zq8vY"]"#);
    let out = env.run(&["get", &array, "--json-key", "0"]);
    let err = assert_get_error(&out, &[&array]);
    assert!(!err.contains("Zq8vY"), "the error shows the secret: {err}");
    env.assert_no_plaintext(&[b"Zq8vX", b"Zq8vY"]);
}

// 0x00 and 0xff are not UTF-8; 0x0a would be eaten by a careless trim.
const BLOB: &[u8] = &[0x00, 0xff, 0x0a, 0x80, 0x41, 0x00, 0xfe, 0x0d, 0x0a];

#[test]
fn binary_writes_the_raw_bytes_and_nothing_else() {
    let env = TestEnv::new();
    let name = unique_name("get/binary");
    env.moto.create_binary(&name, BLOB);

    let first = env.run(&["get", "--binary", &name]);
    assert_exit(&first, 0);
    assert_eq!(first.stdout, BLOB);
    let cached = env.run(&["get", &name, "--binary"]);
    assert_exit(&cached, 0);
    assert_eq!(cached.stdout, BLOB, "the cached copy differs");
    assert_eq!(env.calls(), (1, 1));
    env.assert_no_plaintext(&[BLOB]);
}

#[test]
fn binary_flag_on_a_string_secret_fails() {
    let env = TestEnv::new();
    let name = unique_name("get/binary-on-string");
    env.moto.create_secret(&name, "just-a-string-Q7");

    let out = env.run(&["get", &name, "--binary"]);
    let err = assert_get_error(&out, &[&name, "SecretBinary"]);
    assert!(!err.contains("just-a-string-Q7"), "{err}");
    env.assert_no_plaintext(&[b"just-a-string-Q7"]);
}

#[test]
fn plain_get_of_a_binary_secret_points_to_the_binary_flag() {
    let env = TestEnv::new();
    let name = unique_name("get/string-on-binary");
    env.moto.create_binary(&name, BLOB);

    let out = env.run(&["get", &name]);
    assert_get_error(&out, &[&name, "--binary"]);
    env.assert_no_plaintext(&[BLOB]);
}

/// The `CreatedDate` moto holds for the current version, in whole Unix seconds.
fn created_seconds(env: &TestEnv, name: &str) -> u64 {
    let answer = env
        .moto
        .call("GetSecretValue", &json!({ "SecretId": name }));
    answer["CreatedDate"]
        .as_f64()
        .unwrap_or_else(|| panic!("moto gave no CreatedDate: {answer}")) as u64
}

/// `CreatedDate` from smcache's JSON as Unix seconds; panics unless it is RFC 3339.
fn rfc3339_seconds(value: &Value) -> u64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("CreatedDate {value} is not a string"));
    let time = humantime::parse_rfc3339_weak(text)
        .unwrap_or_else(|e| panic!("CreatedDate `{text}` is not RFC 3339: {e}"));
    time.duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Parses stdout as one JSON object and checks it has exactly the contract's fields.
fn json_object(out: &std::process::Output, value_field: &str) -> Value {
    let text = assert_success(out);
    let object: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let mut fields: Vec<_> = object
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();
    fields.sort();
    let mut expected = vec![
        "ARN",
        "CreatedDate",
        "Name",
        "VersionId",
        "VersionStages",
        value_field,
    ];
    expected.sort_unstable();
    assert_eq!(fields, expected, "{text}");
    object
}

#[test]
fn output_json_is_shaped_like_get_secret_value() {
    let env = TestEnv::new();
    let name = unique_name("get/json-out");
    let version = env.moto.create_secret(&name, AWKWARD);
    let arn = env.moto.describe(&name)["ARN"]
        .as_str()
        .expect("ARN")
        .to_string();

    let object = json_object(
        &env.run(&["get", &name, "--output", "json"]),
        "SecretString",
    );
    assert_eq!(object["ARN"], json!(arn));
    assert_eq!(object["Name"], json!(name));
    assert_eq!(object["VersionId"], json!(version));
    assert_eq!(object["VersionStages"], json!(["AWSCURRENT"]));
    assert_eq!(object["SecretString"], json!(AWKWARD));
    assert_eq!(
        rfc3339_seconds(&object["CreatedDate"]),
        created_seconds(&env, &name)
    );

    // The cached answer carries the same metadata.
    let cached = json_object(
        &env.run(&["get", &name, "--output", "json"]),
        "SecretString",
    );
    assert_eq!(cached, object);
    assert_eq!(env.calls(), (1, 1));
    env.assert_no_plaintext(&[AWKWARD.as_bytes(), name.as_bytes()]);
}

#[test]
fn output_json_of_a_binary_secret_has_it_in_base64() {
    let env = TestEnv::new();
    let name = unique_name("get/json-binary");
    let version = env.moto.create_binary(&name, BLOB);

    let object = json_object(
        &env.run(&["get", &name, "--output", "json"]),
        "SecretBinary",
    );
    assert_eq!(object["SecretBinary"], json!(STANDARD.encode(BLOB)));
    assert_eq!(object["VersionId"], json!(version));
    assert_eq!(object["Name"], json!(name));
    assert_eq!(object["VersionStages"], json!(["AWSCURRENT"]));
    env.assert_no_plaintext(&[BLOB, STANDARD.encode(BLOB).as_bytes()]);
}

/// A secret with "one" (now AWSPREVIOUS) and "two" (AWSCURRENT); returns their ids.
fn two_versions(env: &TestEnv, name: &str) -> (String, String) {
    let v1 = env.moto.create_secret(name, "value-one");
    let v2 = env.moto.put_value(name, "value-two", &[]);
    (v1, v2)
}

#[test]
fn stage_selects_the_version_carrying_it() {
    let env = TestEnv::new();
    let name = unique_name("get/stage");
    two_versions(&env, &name);

    let previous = env.run(&["get", &name, "--stage", "AWSPREVIOUS"]);
    assert_eq!(assert_success(&previous), "value-one\n");
    let current = env.run(&["get", &name]);
    assert_eq!(assert_success(&current), "value-two\n");
    let by_default = env.run(&["--default-stage", "AWSPREVIOUS", "get", &name]);
    assert_eq!(assert_success(&by_default), "value-one\n");
    env.assert_no_plaintext(&[b"value-one", b"value-two"]);
}

#[test]
fn version_id_wins_over_stage() {
    let env = TestEnv::new();
    let name = unique_name("get/version-id");
    let (v1, v2) = two_versions(&env, &name);

    let out = env.run(&["get", &name, "--stage", "AWSPREVIOUS", "--version-id", &v2]);
    assert_eq!(assert_success(&out), "value-two\n");
    let out = env.run(&["get", &name, "--version-id", &v1]);
    assert_eq!(assert_success(&out), "value-one\n");
    env.assert_no_plaintext(&[b"value-one", b"value-two"]);
}

#[test]
fn a_stage_no_version_carries_fails_without_fetching_a_value() {
    let env = TestEnv::new();
    let name = unique_name("get/no-stage");
    env.moto.create_secret(&name, "staged-value-R4");

    let out = env.run(&["get", &name, "--stage", "NOSUCHSTAGE"]);
    assert_get_error(&out, &[&name, "NOSUCHSTAGE"]);
    assert_eq!(
        env.calls(),
        (1, 0),
        "a value was fetched for a stage nobody has"
    );

    // Until the next check, the cache knows the stage is on no version: no call.
    assert_success(&env.run(&["get", &name]));
    env.proxy.reset();
    let out = env.run(&["get", &name, "--stage", "NOSUCHSTAGE"]);
    assert_get_error(&out, &[&name, "NOSUCHSTAGE"]);
    assert_eq!(env.calls(), (0, 0), "a known missing stage was looked up");

    // A stage that appears is seen at the next check, or at once with --refresh.
    let v2 = env
        .moto
        .put_value(&name, "pending-value-R5", &["NOSUCHSTAGE"]);
    let out = env.run(&["get", &name, "--stage", "NOSUCHSTAGE", "--refresh"]);
    assert_eq!(assert_success(&out), "pending-value-R5\n");
    assert_eq!(env.calls(), (1, 1), "--refresh looked up the stage");
    let out = env.run(&["get", &name, "--version-id", &v2]);
    assert_eq!(assert_success(&out), "pending-value-R5\n");
    assert_eq!(env.calls(), (1, 1), "the new version was cached");
    env.assert_no_plaintext(&[b"staged-value-R4", b"pending-value-R5"]);
}

#[test]
fn missing_secret_names_it_and_the_aws_error_code() {
    let env = TestEnv::new();
    let name = unique_name("get/missing");

    let out = env.run(&["get", &name]);
    assert_get_error(&out, &[&name, "ResourceNotFoundException"]);
}

#[test]
fn missing_credentials_are_reported_as_such() {
    let env = TestEnv::new();
    let name = unique_name("get/no-credentials");
    env.moto.create_secret(&name, "unreachable-value");

    let out = env.run_with(|cmd| {
        cmd.args(["get", &name])
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY");
    });
    let err = assert_get_error(&out, &[&name]);
    assert!(err.to_lowercase().contains("credentials"), "{err}");
    assert_eq!(env.proxy.total_calls(), 0, "an unsigned request went out");
}

#[test]
fn unreachable_endpoint_fails_fast_with_a_network_error() {
    let env = TestEnv::new();
    let name = unique_name("get/dead-endpoint");

    let started = Instant::now();
    let out = env.run(&["get", &name, "--endpoint-url", &common::dead_endpoint()]);
    let elapsed = started.elapsed();
    let err = assert_get_error(&out, &[&name]);
    // A refused connection is known at once; the connect timeout must not be waited out.
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    // The message must say what happened, not only that something did.
    assert!(
        err.to_lowercase().contains("connect"),
        "no network cause in: {err}"
    );
}

#[test]
fn bad_durations_are_usage_errors_naming_the_option() {
    let env = TestEnv::new();
    let cases: &[&[&str]] = &[
        &["--refresh-interval", "-5"],
        &["--refresh-interval=-5"],
        &["--retry-base", ""],
        &["--max-stale", "5x"],
        &["--retry-max", "1h30m"],
    ];
    // Every case is tried before failing, so one report lists all that deviate.
    let mut wrong = Vec::new();
    for args in cases {
        let out = env.run_with(|cmd| {
            cmd.args(["get", "any-secret"]).args(*args);
        });
        let option = args[0].split('=').next().expect("an option");
        if out.status.code() != Some(2) || !stderr(&out).contains(option) {
            wrong.push(format!("{args:?}: {}: {}", out.status, stderr(&out)));
        }
    }
    assert!(
        wrong.is_empty(),
        "not a usage error naming the option:\n{}",
        wrong.join("\n")
    );
    assert_eq!(env.proxy.total_calls(), 0);
}

#[test]
fn bad_duration_in_the_environment_is_a_usage_error_naming_the_option() {
    let env = TestEnv::new().with_env("SMCACHE_REFRESH_INTERVAL", "abc");

    let out = env.run(&["get", "any-secret"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("--refresh-interval") || err.contains("SMCACHE_REFRESH_INTERVAL"),
        "{err}"
    );
    assert_eq!(env.proxy.total_calls(), 0);
}

/// Serves one request on a loopback port, answers it with an AWS error, and hands
/// the request's headers back: the shared proxy records bodies only.
fn capture_one_request() -> (String, thread::JoinHandle<http::Headers>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind header catcher");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept smcache's request");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set timeout");
        let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
        let request = http::read_request(&mut reader, &mut stream)
            .expect("read request")
            .expect("a request");
        let body = br#"{"__type":"AccessDeniedException","message":"caught"}"#.to_vec();
        let response = Response {
            status: 400,
            reason: "Bad Request".into(),
            headers: vec![("Content-Type".into(), "application/x-amz-json-1.1".into())],
            body,
        };
        let _ = http::write_response(&mut stream, &response, true);
        request.headers
    });
    (url, handle)
}

#[test]
fn requests_carry_smcache_in_the_user_agent() {
    let env = TestEnv::new();
    let (url, catcher) = capture_one_request();

    let out = env.run(&["get", "ua-probe", "--endpoint-url", &url]);
    assert_get_error(&out, &["ua-probe", "AccessDeniedException"]);
    let headers = catcher.join().expect("header catcher");
    let agent = http::header(&headers, "user-agent").unwrap_or_default();
    assert!(agent.contains("smcache/"), "User-Agent is `{agent}`");
}

#[test]
fn after_a_batch_other_stages_are_looked_up_not_assumed_missing() {
    let env = TestEnv::new();
    let a = unique_name("get/batch-stage-a");
    let b = unique_name("get/batch-stage-b");
    env.moto.create_secret(&a, "first-value-B1");
    env.moto.put_value(&a, "second-value-B2", &[]);
    env.moto.create_secret(&b, "other-value-B3");
    // One BatchGetSecretValue: it tells the current versions' stages only.
    assert_success(&env.run(&["env", "-s", &a, "-s", &b, "--format", "json"]));
    env.proxy.reset();

    let out = env.run(&["get", &a, "--stage", "AWSPREVIOUS"]);
    assert_eq!(assert_success(&out), "first-value-B1\n");
    assert_eq!(env.calls(), (1, 1), "AWSPREVIOUS was not looked up");
    env.assert_no_plaintext(&[b"first-value-B1", b"second-value-B2"]);
}
