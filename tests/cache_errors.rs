//! Failures of Secrets Manager as the cache sees them: remembered with a growing
//! back-off, bridged with the cached value while transient, and never hidden when
//! permanent.
//!
//! A failing process takes "now" somewhere between its start and its exit, and its
//! back-off window starts there. So "still within the window" is checked at a deadline
//! counted from the failing process's start (with 0.8 s to spare for the next one to
//! start), and "past the window" at a deadline counted from its exit: a slow machine
//! cannot turn either into the other.

mod common;

use std::process::Output;
use std::thread;
use std::time::{Duration, Instant};

use common::{Fault, TestEnv, assert_exit, assert_success, stderr, unique_name};

const UNAVAILABLE: Fault = Fault::Status(500, "InternalServiceError");
const DUE: &[&str] = &["--refresh-interval", "0"];

/// When a process ran: just before it started and just after it exited.
struct Span {
    start: Instant,
    end: Instant,
}

/// Like [`TestEnv::get_with`], also returning when the process ran.
fn timed_get(env: &TestEnv, name: &str, args: &[&str]) -> (Output, Span) {
    let start = Instant::now();
    let out = env.get_with(name, args);
    (
        out,
        Span {
            start,
            end: Instant::now(),
        },
    )
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn sleep_until(deadline: Instant) {
    thread::sleep(deadline.saturating_duration_since(Instant::now()));
}

/// Asserts exit 1, nothing on stdout, and `code` and the secret named on stderr.
fn assert_failed_with(out: &Output, name: &str, code: &str) {
    assert_exit(out, 1);
    assert!(out.stdout.is_empty(), "printed {:?}", common::stdout(out));
    let err = stderr(out);
    assert!(err.contains(code) && err.contains(name), "{err}");
}

/// Asserts a stale answer: the value, exit 0, and a warning naming the secret.
fn assert_stale(out: &Output, name: &str, value: &str) {
    assert_eq!(assert_success(out), format!("{value}\n"));
    let err = stderr(out);
    assert!(
        err.to_lowercase().contains("warn") && err.contains(name),
        "no warning about serving a stale value: {err:?}"
    );
}

#[test]
fn remembered_failure_answers_within_the_back_off_without_calls() {
    let env = TestEnv::new();
    let name = unique_name("errors/remembered");
    env.moto.create_secret(&name, "never-fetched");
    let args = ["--retry-base", "30"];

    env.proxy.set_fault(UNAVAILABLE);
    assert_failed_with(&env.get_with(&name, &args), &name, "InternalServiceError");
    assert_eq!(env.proxy.total_calls(), 1);
    for _ in 0..2 {
        assert_failed_with(&env.get_with(&name, &args), &name, "InternalServiceError");
    }
    assert_eq!(
        env.proxy.total_calls(),
        1,
        "a call was made within the back-off"
    );

    // Even with Secrets Manager back, the remembered failure is the answer until due.
    env.proxy.clear_faults();
    assert_failed_with(&env.get_with(&name, &args), &name, "InternalServiceError");
    assert_eq!(env.proxy.total_calls(), 1);
    env.assert_no_plaintext(&[b"never-fetched", name.as_bytes()]);
}

#[test]
fn back_off_grows_with_each_consecutive_failure() {
    let env = TestEnv::new();
    let name = unique_name("errors/growth");
    env.moto.create_secret(&name, "growth-value");
    let args = ["--retry-base", "1", "--retry-growth", "2"];
    env.proxy.set_fault(UNAVAILABLE);

    // Failure 1: back-off 1 s.
    let (out, first) = timed_get(&env, &name, &args);
    assert_failed_with(&out, &name, "InternalServiceError");
    assert_eq!(env.proxy.total_calls(), 1);

    // Past it: failure 2, back-off 2 s.
    sleep_until(first.end + ms(1200));
    let (out, second) = timed_get(&env, &name, &args);
    assert_failed_with(&out, &name, "InternalServiceError");
    assert_eq!(
        env.proxy.total_calls(),
        2,
        "no retry after the first back-off"
    );

    // 1.2 s later is within 2 s: no call.
    sleep_until(second.start + ms(1200));
    assert_failed_with(&env.get_with(&name, &args), &name, "InternalServiceError");
    assert_eq!(
        env.proxy.total_calls(),
        2,
        "the second back-off did not grow"
    );

    // Past 2 s: a call.
    sleep_until(second.end + ms(2200));
    assert_failed_with(&env.get_with(&name, &args), &name, "InternalServiceError");
    assert_eq!(
        env.proxy.total_calls(),
        3,
        "no retry after the second back-off"
    );
    env.assert_no_plaintext(&[b"growth-value"]);
}

#[test]
fn back_off_is_capped_at_retry_max() {
    let env = TestEnv::new();
    let name = unique_name("errors/cap");
    env.moto.create_secret(&name, "capped-value");
    // Uncapped, failures 2 and 3 would back off 10 s and 100 s.
    let args = [
        "--retry-base",
        "1",
        "--retry-growth",
        "10",
        "--retry-max",
        "2",
    ];
    env.proxy.set_fault(UNAVAILABLE);

    let (_, first) = timed_get(&env, &name, &args);
    sleep_until(first.end + ms(1200));
    let (_, second) = timed_get(&env, &name, &args);
    assert_eq!(env.proxy.total_calls(), 2);

    sleep_until(second.start + ms(1200));
    assert_failed_with(&env.get_with(&name, &args), &name, "InternalServiceError");
    assert_eq!(env.proxy.total_calls(), 2, "no back-off after failure 2");

    sleep_until(second.end + ms(2200));
    let (out, third) = timed_get(&env, &name, &args);
    assert_failed_with(&out, &name, "InternalServiceError");
    assert_eq!(
        env.proxy.total_calls(),
        3,
        "failure 2's back-off exceeded --retry-max"
    );

    sleep_until(third.end + ms(2200));
    assert_failed_with(&env.get_with(&name, &args), &name, "InternalServiceError");
    assert_eq!(
        env.proxy.total_calls(),
        4,
        "failure 3's back-off exceeded --retry-max"
    );
    env.assert_no_plaintext(&[b"capped-value"]);
}

/// A cached secret whose every get is due; returns its name.
fn cached(env: &TestEnv, prefix: &str, value: &str) -> String {
    let name = unique_name(prefix);
    env.moto.create_secret(&name, value);
    assert_eq!(
        assert_success(&env.get_with(&name, DUE)),
        format!("{value}\n")
    );
    name
}

#[test]
fn server_error_serves_the_cached_value_with_a_warning() {
    let env = TestEnv::new();
    let name = cached(&env, "errors/stale-500", "stale-but-good");
    let args = ["--refresh-interval", "0", "--retry-base", "30"];

    env.proxy.set_fault(UNAVAILABLE);
    assert_stale(&env.get_with(&name, &args), &name, "stale-but-good");
    assert_eq!(
        env.proxy.total_calls(),
        3,
        "one DescribeSecret, answered 500"
    );

    // Within the back-off the stale value is served without asking.
    assert_stale(&env.get_with(&name, &args), &name, "stale-but-good");
    assert_eq!(env.proxy.total_calls(), 3);
    env.assert_no_plaintext(&[b"stale-but-good"]);
}

#[test]
fn network_failure_serves_the_cached_value_with_a_warning() {
    let env = TestEnv::new();
    let name = cached(&env, "errors/stale-net", "offline-value");

    env.proxy.set_fault(Fault::Close);
    assert_stale(&env.get_with(&name, DUE), &name, "offline-value");
    assert_eq!(env.proxy.total_calls(), 3);
    env.assert_no_plaintext(&[b"offline-value"]);
}

#[test]
fn max_stale_bounds_how_long_a_stale_value_is_served() {
    let env = TestEnv::new();
    let name = cached(&env, "errors/too-stale", "too-old-value");

    // The entry was due when it was fetched; 1.1 s later it is past --max-stale 0.
    thread::sleep(ms(1100));
    env.proxy.set_fault(UNAVAILABLE);
    let out = env.get_with(&name, &["--refresh-interval", "0", "--max-stale", "0"]);
    assert_failed_with(&out, &name, "InternalServiceError");
    assert_eq!(env.proxy.total_calls(), 3);
    env.assert_no_plaintext(&[b"too-old-value"]);
}

#[test]
fn access_denied_is_reported_not_bridged_with_the_cached_value() {
    let env = TestEnv::new();
    let name = cached(&env, "errors/denied", "revoked-value");

    env.proxy
        .set_fault(Fault::Status(400, "AccessDeniedException"));
    assert_failed_with(&env.get_with(&name, DUE), &name, "AccessDeniedException");
    assert_eq!(env.proxy.total_calls(), 3);

    // Revocation holds for later processes too, within the back-off without a call.
    assert_failed_with(&env.get_with(&name, DUE), &name, "AccessDeniedException");
    assert_eq!(env.proxy.total_calls(), 3);
    env.assert_no_plaintext(&[b"revoked-value"]);
}

#[test]
fn revoked_value_is_not_served_by_a_later_transient_failure() {
    let env = TestEnv::new();
    let name = cached(&env, "errors/denied-then-500", "dropped-value");
    // Back-off 0: every later process asks again.
    let args = ["--refresh-interval", "0", "--retry-base", "0"];

    env.proxy
        .set_fault(Fault::Status(400, "AccessDeniedException"));
    assert_failed_with(&env.get_with(&name, &args), &name, "AccessDeniedException");

    // Had the permanent failure kept the value, this transient one would serve it.
    env.proxy.set_fault(UNAVAILABLE);
    assert_failed_with(&env.get_with(&name, &args), &name, "InternalServiceError");
    assert_eq!(env.proxy.total_calls(), 4);
    env.assert_no_plaintext(&[b"dropped-value"]);
}

#[test]
fn secret_scheduled_for_deletion_is_an_error_once_due() {
    let env = TestEnv::new();
    let name = cached(&env, "errors/deleted", "deleted-value");

    env.moto.delete_secret(&name, false);
    let out = env.get_with(&name, DUE);
    assert_exit(&out, 1);
    assert!(out.stdout.is_empty(), "served a deleted secret");
    let err = stderr(&out);
    assert!(
        err.contains(&name) && err.to_lowercase().contains("delet"),
        "{err}"
    );
    env.assert_no_plaintext(&[b"deleted-value"]);
}
