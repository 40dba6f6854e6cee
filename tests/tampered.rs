//! Records changed inside a working database: a byte flipped in a sealed entry or
//! value, records moved between slots, an entry sealed under another key, a key check
//! that no longer opens, and moments stored further ahead than the policy allows (a
//! clock that was set back). The database stays valid for sled; only smcache's own
//! checks can catch these.
//!
//! The test edits the database through the library's own store and cache types, with
//! the same key the binary uses, while no smcache process runs. Each edit also removes
//! the hit files, so that the database is what answers next; the hit files themselves
//! are tampered with by the `hit_file` tests at the end.

mod common;

use std::fs::{File, TryLockError};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use common::{TestEnv, assert_success, stderr, warm};
use smcache::cache::policy::{self, Millis};
use smcache::cache::{EncryptionHook, Entry, Failure, SecretCache, SecretCacheHook};
use smcache::crypto::DataKey;
use smcache::store::{Changes, Record, Store};

const HOUR: Millis = 3_600_000;
const YEAR: Millis = 365 * 24 * HOUR;

/// The data key the binary uses in `env` (its `SMCACHE_KEY`).
fn data_key(env: &TestEnv) -> DataKey {
    let bytes = STANDARD.decode(&env.key_b64).expect("test key is base64");
    DataKey::from_bytes(bytes.try_into().expect("test key is 32 bytes"))
}

/// Opens the cache's store, lets `edit` change it, closes it, and waits until sled has
/// really let go of its files: dropping a sled database does not release its file
/// lock at once, and a binary started meanwhile would find the database locked.
fn edit_store(env: &TestEnv, edit: impl FnOnce(&mut Store)) {
    let mut store = Store::open(&env.cache_dir, Duration::from_secs(5)).expect("open store");
    edit(&mut store);
    store.hit_files().clear().expect("remove the hit files");
    store.flush().expect("flush store");
    drop(store);
    wait_until_sled_lets_go(&env.cache_dir);
}

fn wait_until_sled_lets_go(cache_dir: &Path) {
    let db = File::open(cache_dir.join("db").join("db")).expect("open sled's log");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match db.try_lock() {
            Ok(()) => return,
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(err) => panic!("sled did not release its lock: {err:?}"),
        }
    }
}

/// The records whose key starts with `prefix`; panics unless there are `n`.
fn records(store: &Store, prefix: &[u8], n: usize) -> Vec<Record> {
    let found = store.scan(prefix).expect("scan store");
    assert_eq!(found.len(), n, "records with prefix {prefix:?}");
    found
}

fn put(store: &mut Store, records: &[Record]) {
    let mut changes = Changes::new();
    for (key, value) in records {
        changes.insert(key, value);
    }
    store.apply(changes).expect("apply changes");
}

/// The warning smcache gives for a record that does not open (entry or value).
const DID_NOT_OPEN: &str = "did not open";

/// Asserts the next get re-fetches and prints `value` with one warning that contains
/// `warning` (so the record was caught, not lost to a rebuilt database), and the one
/// after it is answered by the cache alone. Returns the first get's calls.
fn assert_fetched_again(
    env: &TestEnv,
    name: &str,
    value: &str,
    warning: &str,
    what: &str,
) -> (usize, usize) {
    env.proxy.reset();
    let out = env.get(name);
    assert_eq!(assert_success(&out), format!("{value}\n"), "after {what}");
    let err = stderr(&out);
    assert!(
        err.lines().count() == 1 && err.contains(warning),
        "after {what}: expected one warning with `{warning}`, got: {err}"
    );
    let made = env.calls();
    assert!(
        made.1 >= 1,
        "after {what}: no GetSecretValue, made {made:?}; {err}"
    );

    env.proxy.reset();
    let out = env.get(name);
    assert_eq!(
        assert_success(&out),
        format!("{value}\n"),
        "second get after {what}"
    );
    assert_eq!(env.proxy.total_calls(), 0, "not cached again after {what}");
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
    made
}

/// Injects: one bit flipped in the sealed entry record, at its format version byte, in
/// its nonce, in its ciphertext and in its tag, one place per round.
#[test]
fn an_entry_with_a_flipped_bit_is_dropped_and_fetched_again() {
    let value = "flipped-entry-value-d2b0";
    let (env, names) = warm("tamper/entry", [value]);
    for place in [0, 7, 40, usize::MAX] {
        edit_store(&env, |store| {
            let (key, mut sealed) = records(store, b"e", 1).remove(0);
            let at = place.min(sealed.len() - 1);
            sealed[at] ^= 0x01;
            put(store, &[(key, sealed)]);
        });
        let what = format!("flipping a bit at byte {place} of the entry");
        let made = assert_fetched_again(&env, &names[0], value, DID_NOT_OPEN, &what);
        assert_eq!(made, (1, 1), "{what}");
    }
}

/// Injects: one bit flipped in the sealed value record.
#[test]
fn a_value_with_a_flipped_bit_is_dropped_and_fetched_again() {
    let value = "flipped-value-value-19ce";
    let (env, names) = warm("tamper/value", [value]);
    edit_store(&env, |store| {
        let (key, mut sealed) = records(store, b"v", 1).remove(0);
        let middle = sealed.len() / 2;
        sealed[middle] ^= 0x80;
        put(store, &[(key, sealed)]);
    });
    let made = assert_fetched_again(&env, &names[0], value, DID_NOT_OPEN, "flipping a value bit");
    assert_eq!(made, (1, 1));
}

/// Injects: the entry records of two cached secrets swapped, then their value records
/// swapped. Each record still opens under the key, but not in the other's slot; a
/// secret never answers with the other's value.
#[test]
fn records_swapped_between_slots_are_dropped_not_served() {
    let values = ["swap-value-first-4410", "swap-value-second-ab97"];
    let (env, names) = warm("tamper/swap", values);
    for prefix in [b"e", b"v"] {
        edit_store(&env, |store| {
            let found = records(store, prefix, 2);
            let swapped = [
                (found[0].0.clone(), found[1].1.clone()),
                (found[1].0.clone(), found[0].1.clone()),
            ];
            put(store, &swapped);
        });
        for (name, value) in names.iter().zip(values) {
            let what = format!("swapping the `{}` records", prefix[0] as char);
            assert_fetched_again(&env, name, value, DID_NOT_OPEN, &what);
        }
    }
}

/// Injects: the entry and value records resealed under another data key, in place,
/// while the cache's key check still opens under the right key.
#[test]
fn records_sealed_under_another_key_are_dropped_and_fetched_again() {
    let value = "foreign-key-value-73f5";
    let (env, names) = warm("tamper/otherkey", [value]);
    let right = EncryptionHook::new(&data_key(&env));
    let other = EncryptionHook::new(&DataKey::from_bytes([0x42; 32]));
    edit_store(&env, |store| {
        let mut resealed = Vec::new();
        for prefix in [b"e", b"v"] {
            for (key, sealed) in records(store, prefix, 1) {
                let plain = right
                    .get(&key, &sealed)
                    .expect("record opens under the key");
                resealed.push((key.clone(), other.put(&key, &plain).expect("reseal")));
            }
        }
        put(store, &resealed);
    });
    let made = assert_fetched_again(&env, &names[0], value, DID_NOT_OPEN, "resealing");
    assert_eq!(made, (1, 1));
}

/// Injects: a bit flipped in the key check record. The cache counts as written under
/// another key: it is discarded and rebuilt, with one warning.
#[test]
fn a_damaged_key_check_means_a_rebuilt_cache() {
    let value = "keycheck-value-58d1";
    let (env, names) = warm("tamper/keycheck", [value]);
    edit_store(&env, |store| {
        let (key, mut sealed) = records(store, b"mkeycheck", 1).remove(0);
        let last = sealed.len() - 1;
        sealed[last] ^= 0x01;
        put(store, &[(key, sealed)]);
    });
    let made = assert_fetched_again(&env, &names[0], value, "key", "damaging the key check");
    assert_eq!(made, (1, 1));
}

/// Rewrites the single cached entry through the library, sealed with the right key.
fn edit_entry(env: &TestEnv, change: impl FnOnce(&mut Entry)) {
    let store = Store::open(&env.cache_dir, Duration::from_secs(5)).expect("open store");
    let mut cache = SecretCache::new(store, EncryptionHook::new(&data_key(env)), 1024);
    let mut entries = cache.entries().expect("read entries");
    assert_eq!(entries.len(), 1, "cached entries");
    let (slot, mut entry) = entries.remove(0);
    change(&mut entry);
    cache.save(&slot, &entry, &[], &[]).expect("save entry");
    cache.close().expect("close cache");
    wait_until_sled_lets_go(&env.cache_dir);
}

/// Injects: the entry's next check moved ten years ahead (a clock that was set back,
/// or a hand-edited file), with the default 3600 s interval: the binary treats it as
/// due and checks. A next check within the interval is honoured, as a control.
#[test]
fn a_next_check_further_ahead_than_the_interval_is_due() {
    let value = "clock-next-check-value-0a6b";
    let (env, names) = warm("clock/next", [value]);
    let name = &names[0];

    edit_entry(&env, |entry| {
        entry.next_check = Some(policy::now() + 30 * 60_000);
    });
    assert_eq!(assert_success(&env.get(name)), format!("{value}\n"));
    assert_eq!(
        env.calls(),
        (0, 0),
        "a next check 30 minutes ahead was not honoured"
    );

    for ahead in [2 * HOUR, 10 * YEAR] {
        edit_entry(&env, |entry| {
            entry.next_check = Some(policy::now() + ahead);
        });
        env.proxy.reset();
        let out = env.get(name);
        assert_eq!(assert_success(&out), format!("{value}\n"));
        assert_eq!(stderr(&out), "");
        assert_eq!(
            env.calls(),
            (1, 0),
            "a next check {ahead} ms ahead: one DescribeSecret, the version is cached"
        );
        env.proxy.reset();
        assert_eq!(assert_success(&env.get(name)), format!("{value}\n"));
        assert_eq!(
            env.calls(),
            (0, 0),
            "the check did not store a sane next check"
        );
    }
}

/// Injects: a remembered permanent failure whose retry moment is ten years ahead
/// (beyond the 3600 s back-off cap). The binary does not answer the remembered error
/// but checks again, and prints the value.
#[test]
fn a_retry_moment_further_ahead_than_the_cap_is_due() {
    let value = "clock-retry-value-c7e3";
    let (env, names) = warm("clock/retry", [value]);
    let name = &names[0];
    edit_entry(&env, |entry| {
        let now = policy::now();
        entry.failure = Some(Failure {
            code: "AccessDeniedException".into(),
            message: "remembered by the test".into(),
            count: 3,
            failed_at: now,
            retry_at: now + 10 * YEAR,
            transient: false,
        });
    });
    let out = env.get(name);
    assert_eq!(assert_success(&out), format!("{value}\n"));
    assert!(!stderr(&out).contains("AccessDenied"), "{}", stderr(&out));
    assert_eq!(env.calls().0, 1, "the far-future retry moment was honoured");

    env.proxy.reset();
    assert_eq!(assert_success(&env.get(name)), format!("{value}\n"));
    assert_eq!(
        env.calls(),
        (0, 0),
        "the failure was not cleared by the check"
    );
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
}

/// The hit files of the cache, by name.
fn hit_files(env: &TestEnv) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(env.cache_dir.join("hits"))
        .expect("read the hit-file directory")
        .map(|entry| entry.expect("hit-file entry").path())
        .collect();
    files.sort();
    files
}

/// Asserts that `get -v NAME` printed `value` without a call, answered by the database
/// because the hit file did not open, and that the hit after it is a plain one again.
fn assert_answered_by_the_database(env: &TestEnv, name: &str, value: &str, what: &str) {
    env.proxy.reset();
    let out = env.run(&["get", "-v", name]);
    assert_eq!(assert_success(&out), format!("{value}\n"), "after {what}");
    let err = stderr(&out);
    assert!(
        err.contains("hit file did not open"),
        "after {what}: the hit file was not refused: {err}"
    );
    assert_eq!(env.proxy.total_calls(), 0, "after {what}: a call was made");
    let out = env.run(&["get", "-v", name]);
    assert_eq!(assert_success(&out), format!("{value}\n"), "after {what}");
    assert!(
        !stderr(&out).contains("did not open"),
        "after {what}: the hit file was not written anew: {}",
        stderr(&out)
    );
    env.assert_no_plaintext(&[value.as_bytes(), name.as_bytes()]);
}

/// Injects: one bit flipped in a hit file, at its format byte, in its nonce, in its
/// ciphertext and in its tag. The database answers, and writes the hit file anew.
#[test]
fn hit_file_with_a_flipped_bit_is_not_served() {
    let value = "flipped-hit-value-4c8d";
    let (env, names) = warm("tamper/hit", [value]);
    for place in [0, 7, 40, usize::MAX] {
        let [file] = hit_files(&env).try_into().expect("one hit file");
        let mut sealed = std::fs::read(&file).expect("read the hit file");
        let at = place.min(sealed.len() - 1);
        sealed[at] ^= 0x01;
        std::fs::write(&file, &sealed).expect("write the hit file");
        let what = format!("flipping a bit at byte {place} of the hit file");
        assert_answered_by_the_database(&env, &names[0], value, &what);
    }
}

/// Injects: the hit files of two secrets swapped, then one replaced by a symbolic link
/// to the other's. Each secret still gets its own value.
#[test]
fn hit_files_swapped_or_linked_are_not_served() {
    let values = ["swapped-hit-value-a-61f0", "swapped-hit-value-b-0e5d"];
    let (env, names) = warm("tamper/hit-swap", values);
    let [first, second] = hit_files(&env).try_into().expect("two hit files");
    let first_bytes = std::fs::read(&first).expect("read a hit file");
    std::fs::copy(&second, &first).expect("copy a hit file");
    std::fs::write(&second, first_bytes).expect("write a hit file");
    for (name, value) in names.iter().zip(values) {
        assert_answered_by_the_database(&env, name, value, "swapping the hit files");
    }

    std::fs::remove_file(&first).expect("remove a hit file");
    std::os::unix::fs::symlink(&second, &first).expect("link a hit file");
    env.proxy.reset();
    for (name, value) in names.iter().zip(values) {
        let out = env.get(name);
        assert_eq!(assert_success(&out), format!("{value}\n"), "after linking");
    }
    assert_eq!(env.proxy.total_calls(), 0, "after linking: a call was made");
    assert!(
        !std::fs::symlink_metadata(&first)
            .expect("the hit file is back")
            .is_symlink(),
        "the link was left in place of the hit file"
    );
}
