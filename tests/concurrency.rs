//! Many smcache processes on one cache at once, as `make -j` and parallel CI steps
//! run them: each answers, the cache is shared rather than fought over, and a process
//! that cannot have the cache in time answers without it.
//!
//! All processes of a test share the test's cache directory and `SMCACHE_KEY`. The
//! measured call counts are printed (`cargo test -- --nocapture` shows them).

mod common;

use std::fs::File;
use std::process::Output;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use common::{TestEnv, assert_success, run_parallel, stderr, unique_name};

/// One burst of processes at a time: two bursts sharing the cores would measure each
/// other, not smcache.
static BURST: Mutex<()> = Mutex::new(());

fn one_burst_at_a_time() -> MutexGuard<'static, ()> {
    BURST.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Asserts that every output is a success that printed exactly `value` and a newline,
/// naming the index of the first that did not.
fn assert_all_printed(outputs: &[Output], value: &str) {
    let expected = format!("{value}\n");
    for (i, out) in outputs.iter().enumerate() {
        assert_eq!(
            assert_success(out),
            expected,
            "process {i} printed another value"
        );
    }
}

/// Asserts that no process wrote anything on stderr (no warning, no error); the panic
/// counts those that did and shows each distinct message once, without paths.
fn assert_all_silent(outputs: &[Output]) {
    let loud: Vec<String> = outputs
        .iter()
        .map(stderr)
        .filter(|err| !err.is_empty())
        .collect();
    let mut distinct: Vec<String> = loud.iter().map(|err| without_paths(err)).collect();
    distinct.sort();
    distinct.dedup();
    assert!(
        loud.is_empty(),
        "{} of {} processes wrote on stderr:\n{}",
        loud.len(),
        outputs.len(),
        distinct.join("")
    );
}

/// `text` with the test's temporary directory names made alike, so equal messages
/// from different tests compare equal.
fn without_paths(text: &str) -> String {
    text.split('"')
        .map(|part| {
            if part.starts_with("/tmp/") {
                "<path>"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("\"")
}

/// Injects: 32 processes asking for the same secret at the same moment, nothing cached.
/// The first to take the cache fetches and stores; the others wait for it and read
/// what it stored, so the whole burst makes about one round of calls.
#[test]
fn parallel_cold_gets_make_about_one_round_of_calls() {
    let env = TestEnv::new();
    let name = unique_name("concurrency/cold");
    let value = "cold-burst-value-7f3a";
    env.moto.create_secret(&name, value);

    let burst = one_burst_at_a_time();
    let started = Instant::now();
    let outputs = run_parallel(32, |_| env.get_cmd(&name, &[]));
    let elapsed = started.elapsed();
    drop(burst);

    let (describe, get_value) = env.calls();
    eprintln!(
        "32 parallel cold gets: {describe} DescribeSecret, {get_value} GetSecretValue, \
         {} calls in all, {elapsed:.2?}",
        env.proxy.total_calls()
    );
    assert_all_printed(&outputs, value);
    assert_all_silent(&outputs);
    assert!(
        describe <= 4 && get_value <= 4,
        "32 cold gets made {describe} DescribeSecret and {get_value} GetSecretValue calls"
    );
    assert_eq!(env.proxy.total_calls(), describe + get_value);
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
}

/// Injects: 64 processes at once on a warm cache. None may call Secrets Manager.
#[test]
fn parallel_warm_gets_make_no_calls() {
    let env = TestEnv::new();
    let name = unique_name("concurrency/warm");
    let value = "warm-burst-value-c41d";
    env.moto.create_secret(&name, value);
    assert_success(&env.run(&["get", &name]));
    env.proxy.reset();

    let burst = one_burst_at_a_time();
    let started = Instant::now();
    let outputs = run_parallel(64, |_| env.get_cmd(&name, &[]));
    let elapsed = started.elapsed();
    drop(burst);

    eprintln!(
        "64 parallel warm gets: {} DescribeSecret, {} GetSecretValue, {elapsed:.2?}",
        env.proxy.calls("DescribeSecret"),
        env.proxy.calls("GetSecretValue"),
    );
    assert_all_printed(&outputs, value);
    assert_all_silent(&outputs);
    assert_eq!(
        env.proxy.total_calls(),
        0,
        "a warm get called Secrets Manager"
    );
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
}

/// Injects: 16 gets, 8 purges (4 of everything, 4 of this secret) and 8
/// `get --refresh` all at once. Every one succeeds, every get prints the value, and
/// the cache is usable afterwards.
#[test]
fn gets_purges_and_refreshes_in_parallel_all_succeed() {
    let env = TestEnv::new();
    let name = unique_name("concurrency/mixed");
    let value = "mixed-burst-value-9be2";
    env.moto.create_secret(&name, value);
    assert_success(&env.run(&["get", &name]));
    env.proxy.reset();

    let burst = one_burst_at_a_time();
    let started = Instant::now();
    let outputs = run_parallel(32, |i| match i % 4 {
        0 | 2 => env.get_cmd(&name, &[]),
        1 => env.get_cmd(&name, &["--refresh"]),
        _ => {
            let mut cmd = env.cmd();
            cmd.arg("purge");
            if i % 8 == 3 {
                cmd.arg(&name);
            }
            cmd
        }
    });
    let elapsed = started.elapsed();
    drop(burst);

    let (describe, get_value) = env.calls();
    eprintln!(
        "16 gets + 8 get --refresh + 8 purges in parallel: {describe} DescribeSecret, \
         {get_value} GetSecretValue, {elapsed:.2?}"
    );
    let (purges, gets): (Vec<_>, Vec<_>) = outputs
        .into_iter()
        .enumerate()
        .partition(|(i, _)| i % 4 == 3);
    let purges: Vec<Output> = purges.into_iter().map(|(_, out)| out).collect();
    let gets: Vec<Output> = gets.into_iter().map(|(_, out)| out).collect();
    assert_all_printed(&gets, value);
    assert_all_silent(&gets);
    for out in &purges {
        assert_eq!(assert_success(out), "", "a purge printed on stdout");
        let err = stderr(out);
        assert!(
            err.starts_with("purged ") && err.lines().count() == 1,
            "a purge said more than what it purged: {err}"
        );
    }
    // Each refresh checks once; each get after a purge fetches at most once.
    assert!(
        describe >= 8,
        "only {describe} DescribeSecret for 8 refreshes"
    );
    assert!(describe + get_value <= 48, "{describe} + {get_value} calls");

    // Whatever order they ran in, the cache is consistent: one get fills it, the next hits.
    assert_eq!(
        assert_success(&env.run(&["get", &name])),
        format!("{value}\n")
    );
    env.proxy.reset();
    assert_eq!(
        assert_success(&env.run(&["get", &name])),
        format!("{value}\n")
    );
    assert_eq!(
        env.proxy.total_calls(),
        0,
        "the cache is not usable after the burst"
    );
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
}

/// Injects: the test itself holds smcache's lock file (an exclusive flock on
/// `<cache>/lock`) for longer than smcache waits. The get answers from Secrets
/// Manager, says at `-v` that the cache was in use, and leaves the cache as it was.
#[test]
fn a_process_that_cannot_have_the_cache_in_time_answers_uncached() {
    let env = TestEnv::new();
    let name = unique_name("concurrency/busy");
    let cold = unique_name("concurrency/busy-cold");
    let value = "busy-cache-value-52e0";
    let cold_value = "busy-cold-value-7a19";
    env.moto.create_secret(&name, value);
    env.moto.create_secret(&cold, cold_value);
    assert_success(&env.run(&["get", &name]));
    env.proxy.reset();

    let lock = File::options()
        .read(true)
        .write(true)
        .open(env.cache_dir.join("lock"))
        .expect("open the cache's lock file");
    lock.lock().expect("take the cache's lock");
    // A fresh entry answers from its hit file: the lock does not hold it up.
    let hit = env.run(&["get", &name]);
    let calls_for_hit = env.proxy.total_calls();
    // A secret the cache does not hold needs the database: it waits, then goes without.
    let started = Instant::now();
    let out = env.run(&["get", "-v", &cold]);
    let elapsed = started.elapsed();
    lock.unlock().expect("release the cache's lock");
    drop(lock);

    assert_eq!(assert_success(&hit), format!("{value}\n"));
    assert_eq!(calls_for_hit, 0, "a hit called Secrets Manager");
    assert_eq!(assert_success(&out), format!("{cold_value}\n"));
    let err = stderr(&out);
    assert!(
        err.contains("in use"),
        "stderr does not say the cache was in use: {err}"
    );
    assert!(!err.contains(cold_value), "stderr holds the value: {err}");
    assert!(
        env.proxy.calls("GetSecretValue") >= 1,
        "a process without the cache answered without calling Secrets Manager"
    );
    assert!(
        elapsed >= Duration::from_secs(4) && elapsed < Duration::from_secs(20),
        "waited {elapsed:.2?} for the cache (the bound is 5 s)"
    );

    // The cache was not touched: with the lock free again, it answers alone for the
    // first secret and still has nothing of the second.
    env.proxy.reset();
    assert_eq!(
        assert_success(&env.run(&["get", &name])),
        format!("{value}\n")
    );
    assert_eq!(env.proxy.total_calls(), 0, "the cache no longer answers");
    assert_eq!(
        assert_success(&env.run(&["get", &cold])),
        format!("{cold_value}\n")
    );
    assert_eq!(
        env.proxy.calls("DescribeSecret"),
        1,
        "the cold secret was cached"
    );
    env.assert_no_plaintext(&[
        value.as_bytes(),
        name.as_bytes(),
        cold_value.as_bytes(),
        cold.as_bytes(),
    ]);
}

/// Injects: DescribeSecret hangs for 4 s while one process checks a due secret. Another
/// process asking for a secret that is fresh in the cache must not wait for it: the
/// cache is closed while the first one is on the network. Asserted by order, not time:
/// the second process has answered while the first is still hanging.
#[test]
fn a_process_on_a_hanging_network_does_not_hold_up_cache_hits() {
    let _burst = one_burst_at_a_time();
    let env = TestEnv::new();
    let (fresh, _) = env.new_secret("parallel/fresh", "fresh-while-hanging-value-5d1e");
    let (due, _) = env.new_secret("parallel/due", "due-while-hanging-value-9c02");
    assert_success(&env.get(&fresh));
    assert_success(&env.get(&due));
    env.proxy.reset();
    env.proxy.set_fault_for(
        "DescribeSecret",
        common::Fault::Hang(Duration::from_secs(4)),
    );

    let mut hanging = env
        .get_cmd(&due, &["--refresh-interval", "0", "-q"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the hanging get");
    // The hanging process holds nothing once its request is on the wire.
    let started = Instant::now();
    while env.proxy.calls("DescribeSecret") == 0 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        env.proxy.calls("DescribeSecret"),
        1,
        "the due get never reached the network"
    );
    let out = env.get(&fresh);
    let still_hanging = hanging.try_wait().expect("poll the hanging get").is_none();
    assert_eq!(assert_success(&out), "fresh-while-hanging-value-5d1e\n");
    assert_eq!(stderr(&out), "", "the hit waited for the cache");
    assert!(
        still_hanging,
        "the hit answered only after the hanging process let go"
    );
    let _ = hanging.kill();
    let _ = hanging.wait();
}
