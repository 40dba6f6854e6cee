//! The cache with a transparent hook: layout, LRU and key checks, without encryption.

use std::time::Duration;

use zeroize::Zeroizing;

use super::*;
use crate::secret::SecretBytes;

/// Stores records as they are, prefixed so a test can see the hook ran.
struct PlainHook;

impl SecretCacheHook for PlainHook {
    fn put(&self, _slot: &[u8], record: &[u8]) -> Result<Vec<u8>, HookError> {
        Ok([b"plain:", record].concat())
    }

    fn get(&self, _slot: &[u8], stored: &[u8]) -> Result<Zeroizing<Vec<u8>>, HookError> {
        stored
            .strip_prefix(b"plain:")
            .map(|r| Zeroizing::new(r.to_vec()))
            .ok_or(HookError)
    }

    fn lookup_key(&self, name: &[u8]) -> [u8; 32] {
        *blake3::hash(name).as_bytes()
    }
}

fn cache(dir: &std::path::Path, max: usize) -> SecretCache<PlainHook> {
    let store = Store::open(&dir.join("cache"), Duration::from_secs(1)).unwrap();
    let mut cache = SecretCache::new(store, PlainHook, max);
    if cache.key_check().unwrap() == KeyCheck::Empty {
        cache.reset().unwrap();
    }
    cache
}

fn put(cache: &mut SecretCache<PlainHook>, id: &str) -> Slot {
    put_with_check(cache, id, None)
}

/// Saves an entry for `id` with one version `v1` at AWSCURRENT, next checked at
/// `next_check` (`None`: never checked, so it cannot answer alone).
fn put_with_check(
    cache: &mut SecretCache<PlainHook>,
    id: &str,
    next_check: Option<policy::Millis>,
) -> Slot {
    let slot = cache.slot("ns", id);
    let mut entry = Entry::new(id);
    entry.assign_stages("v1", &["AWSCURRENT".into()]);
    entry.next_check = next_check;
    entry.add_version(VersionInfo {
        version_id: "v1".into(),
        created_date: None,
        fetched_at: 0,
    });
    let value = SecretValue::String(SecretBytes::from_string(format!("value of {id}")));
    cache.save(&slot, &entry, &[("v1", &value)], &[]).unwrap();
    slot
}

#[test]
fn entries_and_values_round_trip_through_the_hook() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cache(tmp.path(), 10);
    let slot = put(&mut c, "prod/db");
    drop(c);
    let mut c = cache(tmp.path(), 10);
    assert_eq!(c.key_check().unwrap(), KeyCheck::Matches);
    let entry = c.entry(&slot).unwrap().unwrap();
    assert_eq!(entry.secret_id, "prod/db");
    let value = c.value(&slot, "v1").unwrap().unwrap();
    assert_eq!(
        value,
        SecretValue::String(SecretBytes::from_string("value of prod/db".into()))
    );
    assert_eq!(c.count().unwrap(), 1);
}

#[test]
fn least_recently_used_goes_first_and_touch_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cache(tmp.path(), 2);
    let a = put(&mut c, "a");
    let b = put(&mut c, "b");
    c.touch(&a).unwrap();
    let d = put(&mut c, "d");
    assert!(c.entry(&b).unwrap().is_none(), "b was least recently used");
    assert!(
        c.value(&b, "v1").unwrap().is_none(),
        "its value went with it"
    );
    assert!(c.entry(&a).unwrap().is_some());
    assert!(c.entry(&d).unwrap().is_some());
    assert_eq!(c.count().unwrap(), 2);
}

#[test]
fn an_entry_that_does_not_open_is_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cache(tmp.path(), 10);
    let slot = put(&mut c, "x");
    let mut changes = Changes::new();
    changes.insert(entry_key(&slot), b"garbage");
    c.store.apply(changes).unwrap();
    assert!(c.entry(&slot).unwrap().is_none());
    assert_eq!(c.count().unwrap(), 0);
}

#[test]
fn remove_and_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cache(tmp.path(), 10);
    let a = put(&mut c, "a");
    put(&mut c, "b");
    assert!(c.remove(&a).unwrap());
    assert!(!c.remove(&a).unwrap());
    assert_eq!(c.count().unwrap(), 1);
    assert_eq!(c.clear().unwrap(), 1);
    assert_eq!(c.count().unwrap(), 0);
    assert_eq!(c.key_check().unwrap(), KeyCheck::Matches);
}

#[test]
fn lowering_the_limit_evicts_down_to_it_in_one_save() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cache(tmp.path(), 10);
    let slots: Vec<Slot> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|id| put(&mut c, id))
        .collect();
    drop(c);
    let mut c = cache(tmp.path(), 2);
    let newest = put(&mut c, "f");
    assert_eq!(c.count().unwrap(), 2);
    let kept: Vec<bool> = slots
        .iter()
        .map(|s| c.entry(s).unwrap().is_some())
        .collect();
    assert_eq!(
        kept,
        [false, false, false, false, true],
        "only the most recent stays"
    );
    assert!(c.entry(&newest).unwrap().is_some());
    assert_eq!(c.entries().unwrap().len(), 2);
}

#[test]
fn a_touch_is_skipped_only_while_no_eviction_can_reach_the_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cache(tmp.path(), 10);
    let a = put(&mut c, "a");
    assert!(!c.touch(&a).unwrap(), "just used: nothing to write");
    for id in ["b", "c", "d", "e"] {
        put(&mut c, id);
    }
    assert!(
        !c.touch(&a).unwrap(),
        "4 entries used since: still in the recent half"
    );
    put(&mut c, "f");
    assert!(c.touch(&a).unwrap(), "5 entries used since: recorded again");
}

#[test]
fn lazy_touches_keep_the_recently_used_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cache(tmp.path(), 4);
    let a = put(&mut c, "a");
    let b = put(&mut c, "b");
    put(&mut c, "c");
    put(&mut c, "d");
    c.touch(&a).unwrap();
    put(&mut c, "e");
    assert!(c.entry(&a).unwrap().is_some(), "a was used after b");
    assert!(
        c.entry(&b).unwrap().is_none(),
        "b is the least recently used"
    );
}

/// Like [`put`], for an entry that can answer alone: checked, no failure.
fn put_fresh(cache: &mut SecretCache<PlainHook>, id: &str) -> Slot {
    put_with_check(cache, id, Some(policy::now() + 60_000))
}

fn read_hit(cache: &SecretCache<PlainHook>, slot: &Slot) -> Option<hit::HitRecord> {
    hit::read(&cache.hits, &PlainHook, slot)
}

#[test]
fn only_entries_that_answer_alone_have_hit_files() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cache(tmp.path(), 10);
    let fresh = put_fresh(&mut c, "fresh");
    let mut record = read_hit(&c, &fresh).expect("a fresh entry has a hit file");
    assert_eq!(record.entry.secret_id, "fresh");
    assert_eq!(
        record.take_value("v1"),
        Some(SecretValue::String(SecretBytes::from_string(
            "value of fresh".into()
        )))
    );

    let unchecked = put(&mut c, "unchecked");
    assert!(read_hit(&c, &unchecked).is_none(), "never checked");
    let mut failed = c.entry(&fresh).unwrap().unwrap();
    failed.failure = Some(Failure {
        code: "ThrottlingException".into(),
        message: String::new(),
        count: 1,
        failed_at: 0,
        retry_at: 1,
        transient: true,
    });
    c.save(&fresh, &failed, &[], &[]).unwrap();
    assert!(
        read_hit(&c, &fresh).is_none(),
        "a failed entry lost its hit file"
    );

    let again = put_fresh(&mut c, "again");
    assert!(read_hit(&c, &again).is_some());
    c.remove(&again).unwrap();
    assert!(read_hit(&c, &again).is_none(), "removed with its entry");
    let last = put_fresh(&mut c, "last");
    c.clear().unwrap();
    assert!(read_hit(&c, &last).is_none(), "cleared with the cache");
}

#[test]
fn a_hit_file_written_from_the_store_holds_the_staged_values() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cache(tmp.path(), 10);
    let slot = put_fresh(&mut c, "s");
    c.hits.clear().unwrap();
    let entry = c.entry(&slot).unwrap().unwrap();
    c.served(&slot, &entry).unwrap();
    let mut record = read_hit(&c, &slot).expect("served writes a missing hit file");
    assert!(record.take_value("v1").is_some());
}

#[test]
fn an_entry_used_through_its_hit_file_gets_a_second_chance() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cache(tmp.path(), 2);
    let a = put_fresh(&mut c, "a");
    let b = put_fresh(&mut c, "b");
    assert!(read_hit(&c, &a).is_some(), "a hit on a");
    let third = put_fresh(&mut c, "c");
    assert!(c.entry(&a).unwrap().is_some(), "a was used: spared");
    assert!(
        c.entry(&b).unwrap().is_none(),
        "b was the least recently used"
    );
    assert!(read_hit(&c, &b).is_none(), "b's hit file went with it");
    // a's use was counted once: unused since, it is next.
    put_fresh(&mut c, "d");
    assert!(c.entry(&a).unwrap().is_none());
    assert!(c.entry(&third).unwrap().is_some());
}
