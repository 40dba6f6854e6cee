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
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use common::{TestEnv, assert_exit, assert_success, stderr, unique_name};

/// Calls that reached Secrets Manager: (DescribeSecret, GetSecretValue).
fn calls(env: &TestEnv) -> (usize, usize) {
    (
        env.proxy.calls("DescribeSecret"),
        env.proxy.calls("GetSecretValue"),
    )
}

/// A test environment without `SMCACHE_KEY`, after checking a session bus is there.
fn keyring_env() -> TestEnv {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session: run these tests with `scripts/test`, which starts a private \
         session bus with an unlocked gnome-keyring"
    );
    TestEnv::new().without_key()
}

fn get(env: &TestEnv, name: &str) -> Output {
    env.run(&["get", name])
}

fn run_tool(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
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

/// Removes smcache's kernel keyring copy of `dir`'s key, if there is one, so the next
/// run must go to Secret Service.
fn drop_fast_copy(dir: &Path) {
    let description = format!("smcache:{}", dir_text(dir));
    let found = run_tool("keyctl", &["search", "@s", "user", &description]);
    if found.status.success() {
        let id = String::from_utf8_lossy(&found.stdout).trim().to_string();
        let out = run_tool("keyctl", &["unlink", &id, "@s"]);
        assert!(out.status.success(), "keyctl unlink: {}", stderr(&out));
    }
}

/// Decodes a stored key text; panics unless it is base64 of 32 bytes.
fn key_bytes(text: &str) -> Vec<u8> {
    let bytes = STANDARD
        .decode(text.trim())
        .unwrap_or_else(|e| panic!("stored key is not base64: {e}"));
    assert_eq!(bytes.len(), 32, "stored key is not 32 bytes");
    bytes
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

    assert_eq!(assert_success(&get(&env, &name)), "keyring-value\n");
    let text = stored_key(&env.cache_dir).expect("no key was stored in Secret Service");
    let key = key_bytes(&text);

    // A new process opens the cache with that key: a hit.
    let second = get(&env, &name);
    assert_eq!(assert_success(&second), "keyring-value\n");
    assert_eq!(stderr(&second), "");
    assert_eq!(calls(&env), (1, 1));

    // Also when it has to read the key from Secret Service rather than the fast copy.
    drop_fast_copy(&env.cache_dir);
    assert_eq!(assert_success(&get(&env, &name)), "keyring-value\n");
    assert_eq!(calls(&env), (1, 1));
    assert_eq!(stored_key(&env.cache_dir).as_deref(), Some(text.as_str()));
    env.assert_no_plaintext(&[b"keyring-value", text.trim().as_bytes(), &key]);
}

#[test]
fn deleted_key_means_a_new_key_and_a_rebuilt_cache() {
    let env = keyring_env();
    let name = unique_name("keyring/deleted");
    env.moto.create_secret(&name, "outlives-its-key");
    assert_success(&get(&env, &name));
    let old = stored_key(&env.cache_dir).expect("key stored");

    clear_key(&env.cache_dir);
    drop_fast_copy(&env.cache_dir);
    let out = get(&env, &name);
    assert_eq!(assert_success(&out), "outlives-its-key\n");
    assert_eq!(calls(&env), (2, 2), "the cache was not rebuilt");
    let new = stored_key(&env.cache_dir).expect("no new key was stored");
    assert_ne!(key_bytes(&new), key_bytes(&old));

    assert_eq!(assert_success(&get(&env, &name)), "outlives-its-key\n");
    assert_eq!(calls(&env), (2, 2), "the rebuilt cache missed");
    env.assert_no_plaintext(&[b"outlives-its-key"]);
}

#[test]
fn rotated_key_means_a_rebuilt_cache() {
    let env = keyring_env();
    let name = unique_name("keyring/rotated");
    env.moto.create_secret(&name, "outlives-rotation");
    assert_success(&get(&env, &name));

    let rotated = STANDARD.encode([0x42_u8; 32]);
    store_key(&env.cache_dir, &rotated);
    drop_fast_copy(&env.cache_dir);
    assert_eq!(assert_success(&get(&env, &name)), "outlives-rotation\n");
    assert_eq!(calls(&env), (2, 2), "the cache was not rebuilt");
    assert_eq!(
        stored_key(&env.cache_dir).as_deref(),
        Some(rotated.as_str()),
        "the user's key was replaced"
    );

    assert_eq!(assert_success(&get(&env, &name)), "outlives-rotation\n");
    assert_eq!(calls(&env), (2, 2), "the rebuilt cache missed");
    env.assert_no_plaintext(&[b"outlives-rotation"]);
}

#[test]
fn without_any_keyring_the_value_is_still_printed_and_nothing_written() {
    let env = keyring_env().with_env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent");
    let name = unique_name("keyring/none");
    env.moto.create_secret(&name, "no-keyring-value");

    for round in 1..=2 {
        let out = get(&env, &name);
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
