//! The data key from the OS keyring, when `SMCACHE_KEY` is not set.
//!
//! These tests need a Secret Service on the session bus and a private kernel session
//! keyring, as `scripts/test` provides. The Secret Service item has the attributes
//! `service` = `smcache` and `username` = the cache directory (the keyring crates'
//! names for service and user), which is what `secret-tool` is asked for here.
//!
//! smcache also keeps a copy of the key in the kernel keyring (description
//! `smcache:<cache dir>`) for a while; each `TestEnv` has its own cache directory, so
//! no two tests share a key or its copy.

mod common;

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use common::keyring::{drop_fast_copy, key_bytes};
use common::{TestEnv, assert_exit, assert_success, run_tool, stderr, unique_name};

/// A test environment without `SMCACHE_KEY`, after checking a session bus is there.
fn keyring_env() -> TestEnv {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session: run these tests with `scripts/test`, which starts a private \
         session bus with an unlocked gnome-keyring"
    );
    TestEnv::new().without_key()
}

fn dir_text(dir: &Path) -> &str {
    dir.to_str().expect("UTF-8 cache directory")
}

/// The key text Secret Service holds for `dir`, if any.
fn stored_key(dir: &Path) -> Option<String> {
    let out = run_tool(
        "secret-tool",
        &["lookup", "service", "smcache", "username", dir_text(dir)],
    );
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).expect("UTF-8 key text"))
}

/// Puts `key_text` in Secret Service as the key of `dir`, replacing any.
fn store_key(dir: &Path, key_text: &str) {
    // Cleared first: an item with other attributes than smcache's would sit beside it.
    clear_key(dir);
    let mut child = Command::new("secret-tool")
        .args(["store", "--label=smcache test key", "service", "smcache"])
        .args(["username", dir_text(dir)])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("run secret-tool store");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), key_text.as_bytes())
        .expect("write key to secret-tool");
    drop(child.stdin.take());
    assert!(child.wait().expect("secret-tool store").success());
}

fn clear_key(dir: &Path) {
    let out = run_tool(
        "secret-tool",
        &["clear", "service", "smcache", "username", dir_text(dir)],
    );
    assert!(out.status.success(), "secret-tool clear: {}", stderr(&out));
}

#[test]
fn first_get_creates_a_key_in_the_keyring_and_later_ones_use_it() {
    let env = keyring_env();
    let name = unique_name("keyring/create");
    env.moto.create_secret(&name, "keyring-value");
    assert_eq!(
        stored_key(&env.cache_dir),
        None,
        "a key exists before first use"
    );

    assert_eq!(assert_success(&env.get(&name)), "keyring-value\n");
    let text = stored_key(&env.cache_dir).expect("no key was stored in Secret Service");
    let key = key_bytes(&text);

    // A new process opens the cache with that key: a hit.
    let second = env.get(&name);
    assert_eq!(assert_success(&second), "keyring-value\n");
    assert_eq!(stderr(&second), "");
    assert_eq!(env.calls(), (1, 1));

    // Also when it has to read the key from Secret Service rather than the fast copy.
    drop_fast_copy(&env.cache_dir);
    assert_eq!(assert_success(&env.get(&name)), "keyring-value\n");
    assert_eq!(env.calls(), (1, 1));
    assert_eq!(stored_key(&env.cache_dir).as_deref(), Some(text.as_str()));
    env.assert_no_plaintext(&[b"keyring-value", text.trim().as_bytes(), &key]);
}

#[test]
fn deleted_key_means_a_new_key_and_a_rebuilt_cache() {
    let env = keyring_env();
    let name = unique_name("keyring/deleted");
    env.moto.create_secret(&name, "outlives-its-key");
    assert_success(&env.get(&name));
    let old = stored_key(&env.cache_dir).expect("key stored");

    clear_key(&env.cache_dir);
    drop_fast_copy(&env.cache_dir);
    let out = env.get(&name);
    assert_eq!(assert_success(&out), "outlives-its-key\n");
    assert_eq!(env.calls(), (2, 2), "the cache was not rebuilt");
    let new = stored_key(&env.cache_dir).expect("no new key was stored");
    assert_ne!(key_bytes(&new), key_bytes(&old));

    assert_eq!(assert_success(&env.get(&name)), "outlives-its-key\n");
    assert_eq!(env.calls(), (2, 2), "the rebuilt cache missed");
    env.assert_no_plaintext(&[b"outlives-its-key"]);
}

#[test]
fn rotated_key_means_a_rebuilt_cache() {
    let env = keyring_env();
    let name = unique_name("keyring/rotated");
    env.moto.create_secret(&name, "outlives-rotation");
    assert_success(&env.get(&name));

    let rotated = STANDARD.encode([0x42_u8; 32]);
    store_key(&env.cache_dir, &rotated);
    drop_fast_copy(&env.cache_dir);
    assert_eq!(assert_success(&env.get(&name)), "outlives-rotation\n");
    assert_eq!(env.calls(), (2, 2), "the cache was not rebuilt");
    assert_eq!(
        stored_key(&env.cache_dir).as_deref(),
        Some(rotated.as_str()),
        "the user's key was replaced"
    );

    assert_eq!(assert_success(&env.get(&name)), "outlives-rotation\n");
    assert_eq!(env.calls(), (2, 2), "the rebuilt cache missed");
    env.assert_no_plaintext(&[b"outlives-rotation"]);
}

#[test]
fn without_any_keyring_the_value_is_still_printed_and_nothing_written() {
    let env = keyring_env().with_env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent");
    let name = unique_name("keyring/none");
    env.moto.create_secret(&name, "no-keyring-value");

    for round in 1..=2 {
        let out = env.get(&name);
        assert_exit(&out, 0);
        assert_eq!(common::stdout(&out), "no-keyring-value\n");
        let err = stderr(&out);
        assert_eq!(
            err.lines().count(),
            1,
            "round {round}: not one warning: {err:?}"
        );
        assert!(err.contains("cache"), "round {round}: {err:?}");
        assert_eq!(
            env.proxy.calls("GetSecretValue"),
            round,
            "answered from a cache"
        );
    }
    env.assert_no_plaintext(&[b"no-keyring-value"]);
    assert_eq!(stored_key(&env.cache_dir), None);
}
