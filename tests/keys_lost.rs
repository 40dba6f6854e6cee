//! The data key going missing or changing: no keyring daemon, a Secret Service item
//! deleted, an unreadable item, a changed `SMCACHE_KEY`, a stale kernel keyring copy, a
//! locked keyring. Every case ends in a working command; where a key can be had, the
//! cache is rebuilt under it (or, when the cache still opens, kept).
//!
//! Tests that need a Secret Service start their own (`common::keyring::PrivateKeyring`):
//! a private D-Bus daemon and gnome-keyring-daemon with an unlocked login keyring in a
//! temporary directory, so locking it or deleting items touches no other test. The
//! kernel keyring copy (description `smcache:<cache dir>`) goes to the test's session
//! keyring, which `scripts/test` makes private (`keyctl session -`); each cache
//! directory is unique, so tests never share a copy.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use common::keyring::{
    PrivateKeyring, Prompt, description, drop_fast_copy, fast_copy, key_bytes, keyctl,
};
use common::{TestEnv, assert_success, stderr, unique_name};

/// [`drop_fast_copy`], then asserts that the copy is really gone.
fn drop_fast_copy_and_check(dir: &Path) {
    drop_fast_copy(dir);
    assert_eq!(
        fast_copy(dir),
        None,
        "the kernel keyring copy is still there"
    );
}

/// Resets the counts, runs a get, asserts it printed `value`, returns it.
fn counted_get(env: &TestEnv, name: &str, value: &str) -> Output {
    env.proxy.reset();
    let out = env.get(name);
    assert_eq!(assert_success(&out), format!("{value}\n"));
    out
}

/// Asserts a get is answered by the cache alone, silently.
fn assert_hit(env: &TestEnv, name: &str, value: &str, when: &str) {
    let out = counted_get(env, name, value);
    assert_eq!(env.calls(), (0, 0), "not answered from the cache {when}");
    assert_eq!(stderr(&out), "", "{when}");
}

/// Path -> content of every file under `dir`.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(dir).expect("read cache directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            out.extend(snapshot(&path));
        } else {
            out.insert(path.clone(), fs::read(&path).expect("read cache file"));
        }
    }
    out
}

/// Injects: no Secret Service at all (the bus address points nowhere) and no
/// `SMCACHE_KEY`. get and env answer from Secrets Manager with exactly one warning each,
/// every time, and write nothing.
#[test]
fn without_a_keyring_commands_run_uncached_with_one_warning() {
    let env = TestEnv::new()
        .without_key()
        .with_env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent");
    let name = unique_name("keys/nobus");
    let value = "no-keyring-value-2b7c";
    env.moto.create_secret(&name, value);
    for _ in 0..2 {
        let out = counted_get(&env, &name, value);
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "not exactly one warning: {err}");
        assert!(err.contains("without the cache"), "{err}");
        assert!(env.calls().1 >= 1, "answered without Secrets Manager");

        let out = env.run(&["env", "-e", &format!("X={name}"), "--format", "json"]);
        assert!(assert_success(&out).contains(value));
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    }
    assert!(env.cache_files().is_empty(), "{:?}", env.cache_files());
    assert_eq!(
        fast_copy(&env.cache_dir),
        None,
        "a key appeared in the kernel keyring"
    );
}

/// Injects: the Secret Service item and the kernel keyring copy both deleted between
/// runs. A new key is made, the cache is rebuilt under it, and answers again.
#[test]
fn a_deleted_key_means_a_new_key_and_a_rebuilt_cache() {
    let keyring = PrivateKeyring::start();
    let env = keyring.attach(TestEnv::new());
    let name = unique_name("keys/deleted");
    let value = "deleted-key-value-f08e";
    env.moto.create_secret(&name, value);
    counted_get(&env, &name, value);
    assert_hit(&env, &name, value, "before the key was deleted");
    let old = key_bytes(
        &keyring
            .stored_key(&env.cache_dir)
            .expect("a key was created"),
    );
    assert_eq!(fast_copy(&env.cache_dir).as_deref(), Some(&old[..]));

    keyring.clear_key(&env.cache_dir);
    drop_fast_copy_and_check(&env.cache_dir);
    let out = counted_get(&env, &name, value);
    assert_eq!(
        env.calls(),
        (1, 1),
        "the cache was not rebuilt: {}",
        stderr(&out)
    );
    assert!(stderr(&out).lines().count() <= 1, "{}", stderr(&out));

    let new = key_bytes(&keyring.stored_key(&env.cache_dir).expect("a new key"));
    assert_ne!(new, old, "the deleted key came back");
    assert_eq!(fast_copy(&env.cache_dir).as_deref(), Some(&new[..]));
    assert_hit(&env, &name, value, "after the rebuild");
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
}

/// Injects: the Secret Service item replaced by text that is no key, the kernel copy
/// gone. The item is replaced by a new key and the cache rebuilt.
#[test]
fn an_unreadable_stored_key_is_replaced_and_the_cache_rebuilt() {
    let keyring = PrivateKeyring::start();
    let env = keyring.attach(TestEnv::new());
    let name = unique_name("keys/unreadable");
    let value = "unreadable-key-value-61d3";
    env.moto.create_secret(&name, value);
    counted_get(&env, &name, value);

    keyring.store_key(&env.cache_dir, "this is not a key");
    drop_fast_copy_and_check(&env.cache_dir);
    let out = counted_get(&env, &name, value);
    assert!(stderr(&out).lines().count() <= 2, "{}", stderr(&out));
    key_bytes(&keyring.stored_key(&env.cache_dir).expect("a key"));
    assert_hit(&env, &name, value, "after the key was replaced");
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
}

/// Injects: `SMCACHE_KEY` changed between runs, then changed back. Each change
/// discards the cache with one warning and rebuilds it under the key in use.
#[test]
fn a_changed_smcache_key_means_a_rebuilt_cache() {
    let env = TestEnv::new();
    let name = unique_name("keys/changed");
    let value = "changed-key-value-9a45";
    env.moto.create_secret(&name, value);
    counted_get(&env, &name, value);
    assert_hit(&env, &name, value, "under the first key");

    let other = STANDARD.encode([0x17_u8; 32]);
    let with_other = |env: &TestEnv| {
        env.proxy.reset();
        env.run_with(|cmd| {
            cmd.env("SMCACHE_KEY", &other).arg("get").arg(&name);
        })
    };
    let out = with_other(&env);
    assert_eq!(assert_success(&out), format!("{value}\n"));
    assert_eq!(env.calls(), (1, 1), "not rebuilt under the new key");
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    let out = with_other(&env);
    assert_eq!(assert_success(&out), format!("{value}\n"));
    assert_eq!(env.calls(), (0, 0), "the rebuilt cache does not answer");

    let out = counted_get(&env, &name, value);
    assert_eq!(env.calls(), (1, 1), "not rebuilt under the first key again");
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert_hit(&env, &name, value, "back under the first key");
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
}

/// Injects: a wrong 32-byte key put in the session keyring as the kernel copy, while
/// Secret Service holds the right one. The cache is kept (no calls, no warning) and the
/// copy is corrected.
#[test]
fn a_stale_kernel_copy_is_corrected_and_the_cache_kept() {
    let keyring = PrivateKeyring::start();
    let env = keyring.attach(TestEnv::new());
    let name = unique_name("keys/stale-copy");
    let value = "stale-copy-value-c25a";
    env.moto.create_secret(&name, value);
    counted_get(&env, &name, value);
    let right = key_bytes(&keyring.stored_key(&env.cache_dir).expect("a key"));

    let wrong = [0xa5_u8; 32];
    let out = keyctl(
        &["padd", "user", &description(&env.cache_dir), "@s"],
        &wrong,
    );
    assert!(out.status.success(), "keyctl padd: {}", stderr(&out));
    assert_eq!(fast_copy(&env.cache_dir).as_deref(), Some(&wrong[..]));

    assert_hit(&env, &name, value, "with a stale kernel copy");
    assert_eq!(
        fast_copy(&env.cache_dir).as_deref(),
        Some(&right[..]),
        "the kernel copy was not corrected"
    );
    assert_eq!(
        keyring.stored_key(&env.cache_dir).map(|t| key_bytes(&t)),
        Some(right),
        "the Secret Service key changed"
    );
    assert_hit(&env, &name, value, "after the copy was corrected");
}

/// Injects: the login keyring locked, with a prompter that fails at once (no display).
#[test]
fn a_locked_keyring_means_uncached() {
    locked_keyring_means_uncached(Prompt::Dismissed);
}

/// Injects: the login keyring locked, with a prompter that never answers: smcache stops
/// waiting for the Secret Service after its 5 s bound.
#[test]
fn a_locked_keyring_whose_prompt_is_never_answered_means_uncached_within_seconds() {
    locked_keyring_means_uncached(Prompt::NeverAnswered);
}

/// While the kernel copy lives, the cache answers as before; with the copy gone, the get
/// still succeeds within a few seconds, says it ran without the cache, and leaves the
/// cache as it was.
fn locked_keyring_means_uncached(prompt: Prompt) {
    let keyring = PrivateKeyring::start_with(prompt);
    let env = keyring.attach(TestEnv::new());
    let name = unique_name("keys/locked");
    let value = "locked-keyring-value-8e1b";
    env.moto.create_secret(&name, value);
    counted_get(&env, &name, value);

    keyring.lock();
    assert_hit(
        &env,
        &name,
        value,
        "with a locked keyring and a kernel copy",
    );

    drop_fast_copy_and_check(&env.cache_dir);
    let before = snapshot(&env.cache_dir);
    let started = Instant::now();
    let out = counted_get(&env, &name, value);
    let elapsed = started.elapsed();
    eprintln!(
        "get with a locked keyring: {elapsed:.2?}, {:?}",
        stderr(&out)
    );
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:.2?}");
    let err = stderr(&out);
    assert!(err.contains("without the cache"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(env.calls().1 >= 1, "answered without Secrets Manager");
    assert!(
        before == snapshot(&env.cache_dir),
        "the cache files changed"
    );
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
}
