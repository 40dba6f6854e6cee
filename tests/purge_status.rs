//! `smcache purge` and `smcache status` against moto: what purge removes (and what it
//! leaves), and what status reports in each state, without ever showing a value.

mod common;

use std::time::{Duration, SystemTime};

use serde_json::Value;

use common::{Fault, TestEnv, assert_exit, assert_success, stderr, stdout, unique_name};

/// The documented fields of one `status --output json` row.
const FIELDS: [&str; 12] = [
    "secret_id",
    "region",
    "profile",
    "endpoint",
    "stages",
    "versions",
    "fetched_at",
    "next_check",
    "state",
    "failures",
    "last_error",
    "next_retry",
];

/// `smcache get ARGS...`; panics unless it prints `want` and a newline.
fn get(env: &TestEnv, args: &[&str], want: &str) {
    let out = env.run_with(|cmd| {
        cmd.arg("get").args(args);
    });
    assert_eq!(assert_success(&out), format!("{want}\n"));
}

/// How many calls `smcache get ARGS...` made to Secrets Manager.
fn calls_for_get(env: &TestEnv, args: &[&str], want: &str) -> usize {
    env.proxy.reset();
    get(env, args, want);
    env.proxy.total_calls()
}

/// `smcache status --output json ARGS...` as its array of rows.
fn status_json(env: &TestEnv, args: &[&str]) -> Vec<Value> {
    let out = env.run_with(|cmd| {
        cmd.args(["status", "--output", "json"]).args(args);
    });
    let text = assert_success(&out);
    match serde_json::from_str(&text) {
        Ok(Value::Array(rows)) => rows,
        other => panic!("status --output json is not an array: {other:?}\n{text}"),
    }
}

/// The one row for `secret_id`; panics if there is not exactly one.
fn row<'a>(rows: &'a [Value], secret_id: &str) -> &'a Value {
    let matching: Vec<&Value> = rows
        .iter()
        .filter(|r| r["secret_id"] == secret_id)
        .collect();
    assert_eq!(matching.len(), 1, "rows for {secret_id}: {rows:#?}");
    matching[0]
}

/// The region of every row, sorted.
fn regions(rows: &[Value]) -> Vec<&str> {
    let mut regions: Vec<&str> = rows.iter().filter_map(|r| r["region"].as_str()).collect();
    regions.sort_unstable();
    regions
}

/// An RFC 3339 timestamp field as a time; panics if it is not one.
fn time(row: &Value, field: &str) -> SystemTime {
    let text = row[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string: {row}"));
    humantime::parse_rfc3339(text).unwrap_or_else(|e| panic!("{field} = {text}: {e}"))
}

/// Whether `at` lies within `slack` of `now + offset`.
fn near(at: SystemTime, offset: Duration, slack: Duration) -> bool {
    let target = SystemTime::now() + offset;
    let gap = at
        .duration_since(target)
        .or_else(|_| target.duration_since(at))
        .unwrap_or_default();
    gap <= slack
}

// --- purge ---------------------------------------------------------------------------

#[test]
fn purge_without_ids_removes_everything() {
    let env = TestEnv::new();
    let (a, _) = env.new_secret("purge/all-a", "value a");
    let (b, _) = env.new_secret("purge/all-b", "value b");
    get(&env, &[&a], "value a");
    get(&env, &[&b], "value b");
    assert_eq!(calls_for_get(&env, &[&a], "value a"), 0, "not cached");

    let out = env.run(&["purge"]);

    assert_success(&out);
    assert!(stdout(&out).is_empty(), "stdout: {}", stdout(&out));
    assert!(stderr(&out).contains("purged 2 "), "{}", stderr(&out));
    assert_eq!(status_json(&env, &[]), Vec::<Value>::new());
    assert!(calls_for_get(&env, &[&a], "value a") > 0);
    assert!(calls_for_get(&env, &[&b], "value b") > 0);
}

#[test]
fn purge_without_ids_also_forgets_failures_and_backoff() {
    let env = TestEnv::new();
    let (id, _) = env.new_secret("purge/backoff", "v");
    env.proxy
        .set_fault(Fault::Status(500, "InternalServiceError"));
    assert_exit(&env.run(&["get", "--retry-base", "10m", &id]), 1);
    env.proxy.clear_faults();

    assert_success(&env.run(&["purge"]));

    assert_eq!(status_json(&env, &[]), Vec::<Value>::new());
    assert!(calls_for_get(&env, &["--retry-base", "10m", &id], "v") > 0);
}

#[test]
fn purge_of_an_empty_or_missing_cache_removes_nothing() {
    let env = TestEnv::new();

    let out = env.run(&["purge"]);

    assert_success(&out);
    assert!(stderr(&out).contains("purged 0 "), "{}", stderr(&out));
    assert!(!env.cache_dir.exists(), "purge created the cache");
}

#[test]
fn purge_with_ids_removes_only_those() {
    let env = TestEnv::new();
    let (a, _) = env.new_secret("purge/one-a", "value a");
    let (b, _) = env.new_secret("purge/one-b", "value b");
    let (c, _) = env.new_secret("purge/one-c", "value c");
    for (id, value) in [(&a, "value a"), (&b, "value b"), (&c, "value c")] {
        get(&env, &[id], value);
    }

    let out = env.run(&["purge", &a, &c, &unique_name("purge/never-cached")]);

    assert_success(&out);
    assert!(stderr(&out).contains("purged 2 "), "{}", stderr(&out));
    assert_eq!(calls_for_get(&env, &[&b], "value b"), 0, "b was purged");
    assert!(
        calls_for_get(&env, &[&a], "value a") > 0,
        "a was not purged"
    );
    assert!(
        calls_for_get(&env, &[&c], "value c") > 0,
        "c was not purged"
    );
}

#[test]
fn purge_with_ids_affects_only_the_current_region() {
    let env = TestEnv::new();
    let id = unique_name("purge/region");
    env.moto.create_secret(&id, "in us-east-1");
    env.moto
        .in_region("eu-west-1")
        .create_secret(&id, "in eu-west-1");
    let eu = ["--region", "eu-west-1", id.as_str()];
    get(&env, &[&id], "in us-east-1");
    get(&env, &eu, "in eu-west-1");
    assert_eq!(regions(&status_json(&env, &[])), ["eu-west-1", "us-east-1"]);

    let out = env.run(&["purge", "--region", "eu-west-1", &id]);

    assert_success(&out);
    assert!(stderr(&out).contains("purged 1 "), "{}", stderr(&out));
    assert_eq!(regions(&status_json(&env, &[])), ["us-east-1"]);
    assert_eq!(calls_for_get(&env, &[&id], "in us-east-1"), 0);
    assert!(calls_for_get(&env, &eu, "in eu-west-1") > 0);
}

// --- status --------------------------------------------------------------------------

#[test]
fn status_of_a_fresh_secret() {
    let env = TestEnv::new();
    let value = "fresh-value-4c1d9a";
    let (id, version) = env.new_secret("status/fresh", value);
    get(&env, &[&id], value);

    let rows = status_json(&env, &[]);

    assert_eq!(rows.len(), 1, "{rows:#?}");
    let row = row(&rows, &id);
    let fields: Vec<&str> = row
        .as_object()
        .expect("a row is an object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut want_fields = FIELDS.to_vec();
    want_fields.sort_unstable();
    let mut got_fields = fields.clone();
    got_fields.sort_unstable();
    assert_eq!(got_fields, want_fields);
    assert_eq!(row["region"], "us-east-1");
    assert_eq!(row["profile"], Value::Null);
    assert_eq!(row["endpoint"], env.proxy.url());
    assert_eq!(row["stages"], serde_json::json!({ "AWSCURRENT": version }));
    assert_eq!(row["versions"], serde_json::json!([version]));
    assert!(near(
        time(row, "fetched_at"),
        Duration::ZERO,
        Duration::from_secs(60)
    ));
    // Drawn from [interval/2, interval] after the check: 30 to 60 minutes ahead.
    let next_check = time(row, "next_check");
    assert!(near(
        next_check,
        Duration::from_secs(45 * 60),
        Duration::from_secs(16 * 60)
    ));
    assert_eq!(row["state"], "fresh");
    assert_eq!(row["failures"], 0);
    assert_eq!(row["last_error"], Value::Null);
    assert_eq!(row["next_retry"], Value::Null);
}

#[test]
fn status_text_is_a_table_with_one_row_per_secret() {
    let env = TestEnv::new();
    let (a, version) = env.new_secret("status/text-a", "text-value-a-77e1");
    let (b, _) = env.new_secret("status/text-b", "text-value-b-77e1");
    get(&env, &[&a], "text-value-a-77e1");
    get(&env, &[&b], "text-value-b-77e1");

    let text = assert_success(&env.run(&["status"]));

    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for column in ["SECRET", "REGION", "STAGES", "NEXT CHECK", "STATE", "ERROR"] {
        assert!(lines[0].contains(column), "no {column} column: {text}");
    }
    let row_a = lines.iter().find(|l| l.starts_with(&a)).expect("row for a");
    assert!(row_a.contains("us-east-1"), "{text}");
    assert!(
        row_a.contains(&format!("AWSCURRENT={}", &version[..8])),
        "{text}"
    );
    assert!(row_a.contains("fresh"), "{text}");
    assert!(lines.iter().any(|l| l.starts_with(&b)), "{text}");
    // Aligned: the state column starts at the same place on every line.
    let state_at = lines[0].find("STATE").unwrap();
    assert_eq!(&row_a[state_at..state_at + 5], "fresh", "{text}");
}

#[test]
fn status_of_an_empty_cache() {
    let env = TestEnv::new();

    assert_eq!(status_json(&env, &[]), Vec::<Value>::new());
    let text = assert_success(&env.run(&["status"]));
    assert_eq!(text.lines().count(), 1, "only the header: {text}");
}

#[test]
fn status_of_a_stale_secret() {
    let env = TestEnv::new();
    let (id, _) = env.new_secret("status/stale", "stale-value-0b3e");
    get(&env, &["--refresh-interval", "0", &id], "stale-value-0b3e");

    for args in [&["--refresh-interval", "0"][..], &[]] {
        let rows = status_json(&env, args);
        let row = row(&rows, &id);
        assert_eq!(row["state"], "stale", "{args:?}: {row}");
        assert_eq!(row["failures"], 0);
        assert!(time(row, "next_check") <= SystemTime::now());
    }
    let text = assert_success(&env.run(&["status"]));
    assert!(text.contains("stale"), "{text}");
}

#[test]
fn status_of_a_secret_in_backoff() {
    let env = TestEnv::new();
    let (id, _) = env.new_secret("status/backoff", "backoff-value-9d2f");
    env.proxy
        .set_fault(Fault::Status(500, "InternalServiceError"));

    let out = env.run(&["get", "--retry-base", "10m", &id]);

    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("InternalServiceError"),
        "{}",
        stderr(&out)
    );
    env.proxy.clear_faults();
    let rows = status_json(&env, &[]);
    let row = row(&rows, &id);
    assert_eq!(row["state"], "backoff", "{row}");
    assert_eq!(row["failures"], 1);
    assert_eq!(row["last_error"], "InternalServiceError");
    assert!(near(
        time(row, "next_retry"),
        Duration::from_secs(600),
        Duration::from_secs(60)
    ));
    assert_eq!(row["versions"], serde_json::json!([]));
    let text = assert_success(&env.run(&["status"]));
    let line = text.lines().find(|l| l.starts_with(&id)).expect("row");
    assert!(line.contains("backoff"), "{text}");
    assert!(line.contains("InternalServiceError x1"), "{text}");
}

#[test]
fn status_of_a_cached_secret_whose_check_failed() {
    let env = TestEnv::new();
    let value = "cached-value-then-failure-51a0";
    let (id, version) = env.new_secret("status/stale-backoff", value);
    get(&env, &["--refresh-interval", "0", &id], value);
    env.proxy
        .set_fault(Fault::Status(500, "InternalServiceError"));

    // A transient failure: the stale value is served, and the failure remembered.
    let args = [
        "--refresh-interval",
        "0",
        "--retry-base",
        "10m",
        id.as_str(),
    ];
    get(&env, &args, value);

    env.proxy.clear_faults();
    let rows = status_json(&env, &[]);
    let row = row(&rows, &id);
    assert_eq!(row["state"], "backoff", "{row}");
    assert_eq!(row["failures"], 1);
    assert_eq!(row["last_error"], "InternalServiceError");
    assert_eq!(row["versions"], serde_json::json!([version]));
}

#[test]
fn status_never_shows_a_value() {
    let env = TestEnv::new();
    let plain = "plain-status-secret-e8b7c6";
    let (a, _) = env.new_secret("status/nv-plain", plain);
    let (b, _) = env.new_secret(
        "status/nv-json",
        r#"{"password": "json-status-secret-a1f2e3"}"#,
    );
    let (c, _) = env.new_secret("status/nv-fail", "failing-status-secret-d4c5");
    get(&env, &[&a], plain);
    let out = env.run(&["env", "-s", &b, "--format", "json"]);
    assert_success(&out);
    env.proxy
        .set_fault(Fault::Status(500, "InternalServiceError"));
    assert_exit(&env.run(&["get", "--retry-base", "10m", &c]), 1);
    env.proxy.clear_faults();

    for args in [
        &["status"][..],
        &["status", "--output", "json"],
        &["status", "-vv"],
    ] {
        let out = env.run(args);
        let shown = format!("{}{}", stdout(&out), stderr(&out));
        assert_success(&out);
        for value in [
            plain,
            "json-status-secret-a1f2e3",
            "failing-status-secret-d4c5",
        ] {
            assert!(!shown.contains(value), "{args:?} shows {value}:\n{shown}");
        }
        assert!(
            shown.contains(&a) && shown.contains(&b) && shown.contains(&c),
            "{shown}"
        );
    }
}

#[test]
fn status_and_purge_with_an_invalid_key_fail_naming_it() {
    let env = TestEnv::new().with_env("SMCACHE_KEY", "not a key");

    for args in [&["status"][..], &["purge", "some/secret"]] {
        let out = env.run(args);
        assert_exit(&out, 1);
        assert!(
            stderr(&out).contains("SMCACHE_KEY"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
    }
}
