//! When a cached secret is checked again: the refresh interval and its jitter, new
//! versions, old versions kept, and `--refresh`.
//!
//! `--refresh-interval 0` makes every get due, so each process checks once with
//! DescribeSecret; GetSecretValue is only for versions the cache does not hold.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{Fault, TestEnv, assert_exit, assert_success, stderr, unique_name};

const DUE: &[&str] = &["--refresh-interval", "0"];

#[test]
fn due_check_of_an_unchanged_secret_fetches_no_value() {
    let env = TestEnv::new();
    let name = unique_name("refresh/unchanged");
    env.moto.create_secret(&name, "steady-value");

    assert_eq!(assert_success(&env.get_with(&name, DUE)), "steady-value\n");
    assert_eq!(env.calls(), (1, 1));
    assert_eq!(assert_success(&env.get_with(&name, DUE)), "steady-value\n");
    assert_eq!(
        env.calls(),
        (2, 1),
        "a due check fetched a version already cached"
    );
    env.assert_no_plaintext(&[b"steady-value"]);
}

#[test]
fn new_current_version_is_fetched_once_and_old_versions_stay_cached() {
    let env = TestEnv::new();
    let name = unique_name("refresh/rotated");
    let old = env.moto.create_secret(&name, "before-rotation");
    assert_success(&env.get_with(&name, DUE));

    env.moto.put_value(&name, "after-rotation", &[]);
    assert_eq!(
        assert_success(&env.get_with(&name, DUE)),
        "after-rotation\n"
    );
    assert_eq!(
        env.calls(),
        (2, 2),
        "the new version takes exactly one GetSecretValue"
    );
    assert_eq!(
        assert_success(&env.get_with(&name, DUE)),
        "after-rotation\n"
    );
    assert_eq!(env.calls(), (3, 2));

    // The old version is still held: when due, only the metadata is checked...
    let by_id = env.get_with(&name, &["--version-id", &old, "--refresh-interval", "0"]);
    assert_eq!(assert_success(&by_id), "before-rotation\n");
    assert_eq!(env.calls(), (4, 2));
    let by_stage = env.get_with(
        &name,
        &["--stage", "AWSPREVIOUS", "--refresh-interval", "0"],
    );
    assert_eq!(assert_success(&by_stage), "before-rotation\n");
    assert_eq!(env.calls(), (5, 2));

    // ...and once a check with a long interval has made the entry fresh, not even that.
    assert_success(&env.get_with(&name, &["--refresh-interval", "1h"]));
    assert_eq!(env.calls(), (6, 2));
    let fresh = env.get_with(&name, &["--version-id", &old, "--refresh-interval", "1h"]);
    assert_eq!(assert_success(&fresh), "before-rotation\n");
    assert_eq!(
        env.calls(),
        (6, 2),
        "a fresh entry's old version needed a call"
    );
    env.assert_no_plaintext(&[b"before-rotation", b"after-rotation"]);
}

#[test]
fn no_check_before_half_the_interval() {
    let env = TestEnv::new();
    let name = unique_name("refresh/jitter-low");
    env.moto.create_secret(&name, "jittered-low");
    let interval = ["--refresh-interval", "4s"];

    let first = Instant::now();
    assert_success(&env.get_with(&name, &interval));
    assert_eq!(env.calls(), (1, 1));

    // Before interval/2 (2 s, counted from before the first process started) the entry
    // is fresh, whatever the draw.
    let second = Instant::now();
    assert_eq!(
        assert_success(&env.get_with(&name, &interval)),
        "jittered-low\n"
    );
    assert!(
        second - first < Duration::from_millis(1800),
        "too slow to tell"
    );
    assert_eq!(env.calls(), (1, 1), "checked again before interval/2");
    env.assert_no_plaintext(&[b"jittered-low"]);
}

#[test]
fn always_checked_after_the_full_interval() {
    let env = TestEnv::new();
    let name = unique_name("refresh/jitter-high");
    env.moto.create_secret(&name, "jittered-high");
    let interval = ["--refresh-interval", "1s"];

    assert_success(&env.get_with(&name, &interval));
    assert_eq!(env.calls(), (1, 1));

    // Counted from after the first process exited: it fetched before that.
    thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        assert_success(&env.get_with(&name, &interval)),
        "jittered-high\n"
    );
    assert_eq!(
        env.calls(),
        (2, 1),
        "not checked again after the full interval"
    );
    env.assert_no_plaintext(&[b"jittered-high"]);
}

#[test]
fn refresh_flag_checks_at_once_and_stores_what_it_finds() {
    let env = TestEnv::new();
    let name = unique_name("refresh/flag");
    env.moto.create_secret(&name, "first-value");
    assert_success(&env.get(&name));

    // Fresh for an hour, yet --refresh asks.
    assert_eq!(
        assert_success(&env.get_with(&name, &["--refresh"])),
        "first-value\n"
    );
    assert_eq!(env.calls(), (2, 1));

    // Without it the cache keeps answering until due; with it the new version comes.
    env.moto.put_value(&name, "second-value", &[]);
    assert_eq!(assert_success(&env.get(&name)), "first-value\n");
    assert_eq!(env.calls(), (2, 1));
    assert_eq!(
        assert_success(&env.get_with(&name, &["--refresh"])),
        "second-value\n"
    );
    assert_eq!(env.calls(), (3, 2));

    // What it found was stored.
    assert_eq!(assert_success(&env.get(&name)), "second-value\n");
    assert_eq!(env.calls(), (3, 2));
    env.assert_no_plaintext(&[b"first-value", b"second-value"]);
}

#[test]
fn failed_refresh_fails_and_leaves_the_cache_as_it_was() {
    let env = TestEnv::new();
    let name = unique_name("refresh/flag-fails");
    env.moto.create_secret(&name, "kept-value");
    assert_success(&env.get(&name));

    env.proxy
        .set_fault(Fault::Status(500, "InternalServiceError"));
    let out = env.get_with(&name, &["--refresh"]);
    assert_exit(&out, 1);
    assert!(
        out.stdout.is_empty(),
        "a failed --refresh printed the old value"
    );
    assert!(
        stderr(&out).contains("InternalServiceError"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.calls(), (2, 1));

    // No failure was recorded: a normal get is a plain hit (a remembered transient
    // failure would bring a stale-value warning), and makes no call.
    let after = env.get(&name);
    assert_eq!(assert_success(&after), "kept-value\n");
    assert_eq!(stderr(&after), "", "the failed --refresh left a trace");
    assert_eq!(env.calls(), (2, 1));
    env.assert_no_plaintext(&[b"kept-value"]);
}

#[test]
fn refresh_flag_ignores_a_remembered_failure() {
    let env = TestEnv::new();
    let name = unique_name("refresh/past-backoff");
    env.moto.create_secret(&name, "back-again");
    let backoff = ["--retry-base", "1h"];

    env.proxy
        .set_fault(Fault::Status(500, "InternalServiceError"));
    assert_exit(&env.get_with(&name, &backoff), 1);
    env.proxy.clear_faults();
    assert_exit(&env.get_with(&name, &backoff), 1);
    assert_eq!(env.calls(), (1, 0), "the back-off did not hold");

    let out = env.get_with(&name, &["--refresh", "--retry-base", "1h"]);
    assert_eq!(assert_success(&out), "back-again\n");
    assert_eq!(env.calls(), (2, 1));

    // The success replaced the failure.
    assert_eq!(
        assert_success(&env.get_with(&name, &backoff)),
        "back-again\n"
    );
    assert_eq!(env.calls(), (2, 1));
    env.assert_no_plaintext(&[b"back-again"]);
}
