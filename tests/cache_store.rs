//! What the cache keeps and where: the size limit, turning it off, one namespace per
//! region, private files with nothing readable in them, and the data key from
//! `SMCACHE_KEY`.

mod common;

use std::fs;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use common::{DEFAULT_REGION, TestEnv, assert_exit, assert_success, mode, stderr, unique_name};

/// Runs `get` and returns how many calls it made in all.
fn calls_made(env: &TestEnv, name: &str, args: &[&str], value: &str) -> usize {
    let before = env.proxy.total_calls();
    assert_eq!(
        assert_success(&env.get_with(name, args)),
        format!("{value}\n")
    );
    env.proxy.total_calls() - before
}

#[test]
fn least_recently_used_secret_is_evicted_first() {
    let env = TestEnv::new();
    let [a, b, c] = ["lru/a", "lru/b", "lru/c"].map(unique_name);
    for (name, value) in [(&a, "value-a"), (&b, "value-b"), (&c, "value-c")] {
        env.moto.create_secret(name, value);
    }
    let size = ["--max-cache-size", "2"];

    assert_eq!(calls_made(&env, &a, &size, "value-a"), 2);
    assert_eq!(calls_made(&env, &b, &size, "value-b"), 2);
    assert_eq!(calls_made(&env, &a, &size, "value-a"), 0, "a was not kept");
    // c makes three: b, used longest ago, goes.
    assert_eq!(calls_made(&env, &c, &size, "value-c"), 2);
    assert_eq!(
        calls_made(&env, &a, &size, "value-a"),
        0,
        "a was evicted instead of b"
    );
    assert_eq!(calls_made(&env, &c, &size, "value-c"), 0, "c was not kept");
    assert_eq!(
        calls_made(&env, &b, &size, "value-b"),
        2,
        "b was not evicted"
    );
    env.assert_no_plaintext(&[b"value-a", b"value-b", b"value-c"]);
}

#[test]
fn size_zero_caches_nothing() {
    let env = TestEnv::new();
    let name = unique_name("lru/zero");
    env.moto.create_secret(&name, "uncached-zero");
    let size = ["--max-cache-size", "0"];

    for _ in 0..2 {
        assert_success(&env.get_with(&name, &size));
    }
    assert_eq!(
        env.proxy.calls("GetSecretValue"),
        2,
        "size 0 answered from a cache"
    );
    // Nothing was left behind for a cache that may hold things.
    assert_eq!(calls_made(&env, &name, &[], "uncached-zero"), 2);
    env.assert_no_plaintext(&[b"uncached-zero"]);
}

#[test]
fn no_cache_flag_neither_reads_nor_writes_the_cache() {
    let env = TestEnv::new();
    let name = unique_name("nocache/flag");
    env.moto.create_secret(&name, "old-cached");
    assert_success(&env.get(&name));
    env.moto.put_value(&name, "new-live", &[]);

    for _ in 0..2 {
        let out = env.get_with(&name, &["--no-cache"]);
        assert_eq!(
            assert_success(&out),
            "new-live\n",
            "--no-cache read the cache"
        );
    }
    assert_eq!(
        env.calls(),
        (1, 3),
        "each --no-cache get is one GetSecretValue"
    );

    // The cached entry is as it was: fresh, holding the old value.
    assert_eq!(assert_success(&env.get(&name)), "old-cached\n");
    assert_eq!(env.calls(), (1, 3), "--no-cache wrote the cache");
    env.assert_no_plaintext(&[b"old-cached", b"new-live"]);
}

#[test]
fn no_cache_variable_leaves_no_files() {
    let env = TestEnv::new().with_env("SMCACHE_NO_CACHE", "1");
    let name = unique_name("nocache/env");
    env.moto.create_secret(&name, "env-uncached");

    for _ in 0..2 {
        assert_eq!(assert_success(&env.get(&name)), "env-uncached\n");
    }
    assert_eq!(env.calls(), (0, 2));
    assert_eq!(env.cache_files(), Vec::<std::path::PathBuf>::new());
}

#[test]
fn regions_have_separate_entries() {
    let env = TestEnv::new();
    let name = unique_name("region/same-name");
    env.moto.create_secret(&name, "value-east");
    env.moto
        .in_region("us-west-2")
        .create_secret(&name, "value-west");
    let west = ["--region", "us-west-2"];

    assert_eq!(calls_made(&env, &name, &[], "value-east"), 2);
    assert_eq!(
        calls_made(&env, &name, &west, "value-west"),
        2,
        "east's entry served west"
    );
    assert_eq!(calls_made(&env, &name, &[], "value-east"), 0);
    assert_eq!(calls_made(&env, &name, &west, "value-west"), 0);
    // The region from the environment and from the flag are one namespace.
    let flag_east = ["--region", DEFAULT_REGION];
    assert_eq!(calls_made(&env, &name, &flag_east, "value-east"), 0);
    env.assert_no_plaintext(&[b"value-east", b"value-west", b"us-west-2"]);
}

/// Every directory under `dir`, `dir` included.
fn dirs_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = vec![dir.to_path_buf()];
    for entry in fs::read_dir(dir).expect("read cache directory").flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(dirs_under(&entry.path()));
        }
    }
    found
}

#[test]
fn cache_files_are_private_and_hold_no_plaintext() {
    let env = TestEnv::new();
    let name = unique_name("files/private-name");
    let value = "file-check-value-93";
    env.moto.create_secret(&name, value);
    assert_success(&env.get(&name));

    for dir in dirs_under(&env.cache_dir) {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    let files = env.cache_files();
    assert!(!files.is_empty(), "nothing was written");
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    let key = STANDARD.decode(&env.key_b64).expect("key");
    env.assert_no_plaintext(&[
        value.as_bytes(),
        name.as_bytes(),
        b"files/private",
        DEFAULT_REGION.as_bytes(),
        env.key_b64.as_bytes(),
        &key,
    ]);
}

#[test]
fn invalid_smcache_key_is_an_error_naming_it() {
    let env = TestEnv::new();
    let name = unique_name("key/invalid");
    env.moto.create_secret(&name, "keyed-value");
    let short = STANDARD.encode([7u8; 31]);
    let long = STANDARD.encode([7u8; 33]);

    for bad in ["not base64!", short.as_str(), long.as_str()] {
        let out = env.run_with(|cmd| {
            cmd.args(["get", &name]).env("SMCACHE_KEY", bad);
        });
        assert_exit(&out, 1);
        assert!(out.stdout.is_empty(), "{bad:?}: printed the value");
        assert!(
            stderr(&out).contains("SMCACHE_KEY"),
            "{bad:?}: {}",
            stderr(&out)
        );
    }
    env.assert_no_plaintext(&[b"keyed-value"]);
}

#[test]
fn changed_key_discards_the_cache_and_rebuilds_it() {
    let env = TestEnv::new();
    let name = unique_name("key/rotated");
    env.moto.create_secret(&name, "survives-rotation");
    let other_key = STANDARD.encode([0x5a_u8; 32]);
    let with_other_key = |env: &TestEnv| {
        env.run_with(|cmd| {
            cmd.args(["get", &name]).env("SMCACHE_KEY", &other_key);
        })
    };

    assert_success(&env.get(&name));
    assert_eq!(env.calls(), (1, 1));
    let out = with_other_key(&env);
    assert_eq!(assert_success(&out), "survives-rotation\n");
    assert_eq!(
        env.calls(),
        (2, 2),
        "the old cache was read under a new key"
    );

    // Rebuilt under the new key: a hit.
    assert_eq!(assert_success(&with_other_key(&env)), "survives-rotation\n");
    assert_eq!(env.calls(), (2, 2));
    env.assert_no_plaintext(&[b"survives-rotation"]);
}
