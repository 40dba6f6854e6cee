//! The secret cache: entries and version values kept in the [`Store`], transformed by a
//! [`SecretCacheHook`], bounded by a least-recently-used limit that holds across
//! processes.
//!
//! # Layout
//!
//! Every key in the store starts with one byte saying what it is:
//!
//! | key | value |
//! |---|---|
//! | `m` name | metadata: the key check, the entry count, the access counter |
//! | `e` slot | an [`Entry`], sealed |
//! | `v` slot version-key | one version's value, sealed |
//! | `a` slot | the entry's last access tick |
//! | `l` tick slot | empty: the access index, oldest first |
//!
//! A slot is the hook's lookup key of the namespace and secret id; a version key is the
//! lookup key of the slot and version id. Eviction takes the first `l` record: no scan.
//!
//! Beside the database, every entry that can answer a hit alone (checked, no failure)
//! also has a [hit file](crate::hits) holding the entry and its staged values, sealed by
//! the same hook ([`hit`]); a hit reads that file and never opens the database. An
//! entry used through its hit file since it was written gets a second chance when it
//! comes up for eviction: it is recorded as just used instead (at most
//! [`SECOND_CHANCES`] per eviction, so eviction still reads only the front of the index).

pub mod entry;
pub mod hit;
pub mod hook;
pub mod policy;

use zeroize::Zeroizing;

pub use entry::{Entry, Failure, VersionInfo};
pub use hook::{EncryptionHook, HookError, SecretCacheHook};
pub use policy::Policy;

use crate::hits::HitFiles;
use crate::secret::SecretValue;
use crate::store::{Changes, Store, StoreError};

const KEY_CHECK: &[u8] = b"mkeycheck";
const KEY_CHECK_TEXT: &[u8] = b"smcache key check v1";
const COUNT: &[u8] = b"mcount";
const TICK: &[u8] = b"mtick";
/// At most this many entries at the front of the access index are spared by one
/// eviction because their hit files answered since they were recorded.
pub const SECOND_CHANCES: usize = 16;

pub type Slot = [u8; 32];

/// Whether the hook's key opens this cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCheck {
    Matches,
    /// A new cache: nothing to open yet.
    Empty,
    /// The cache was written under another key.
    Mismatch,
}

pub struct SecretCache<H: SecretCacheHook> {
    store: Store,
    hook: H,
    max_entries: usize,
    hits: HitFiles,
}

/// The slot of `secret_id` in `namespace` under `hook`.
pub fn slot_of<H: SecretCacheHook>(hook: &H, namespace: &str, secret_id: &str) -> Slot {
    let name = [namespace.as_bytes(), b"\0", secret_id.as_bytes()].concat();
    hook.lookup_key(&name)
}

impl<H: SecretCacheHook> SecretCache<H> {
    pub fn new(store: Store, hook: H, max_entries: usize) -> Self {
        let hits = store.hit_files();
        Self {
            store,
            hook,
            max_entries,
            hits,
        }
    }

    /// Whether this cache was written under the hook's key.
    pub fn key_check(&self) -> Result<KeyCheck, StoreError> {
        match self.store.get(KEY_CHECK)? {
            Some(stored) => match self.hook.get(KEY_CHECK, &stored) {
                Ok(text) if text.as_slice() == KEY_CHECK_TEXT => Ok(KeyCheck::Matches),
                _ => Ok(KeyCheck::Mismatch),
            },
            None if self.store.first(b"e")?.is_none() => Ok(KeyCheck::Empty),
            None => Ok(KeyCheck::Mismatch),
        }
    }

    /// Empties the cache and marks it as written under the hook's key.
    pub fn reset(&mut self) -> Result<(), StoreError> {
        self.store.clear()?;
        let mut changes = Changes::new();
        changes.insert(KEY_CHECK, self.sealed(KEY_CHECK, KEY_CHECK_TEXT)?);
        self.store.apply(changes)
    }

    /// The slot of `secret_id` in `namespace`.
    pub fn slot(&self, namespace: &str, secret_id: &str) -> Slot {
        slot_of(&self.hook, namespace, secret_id)
    }

    /// The entry at `slot`. One that does not open is removed and reported as absent.
    pub fn entry(&mut self, slot: &Slot) -> Result<Option<Entry>, StoreError> {
        let key = entry_key(slot);
        let Some(stored) = self.store.get(&key)? else {
            return Ok(None);
        };
        let parsed = self
            .hook
            .get(&key, &stored)
            .ok()
            .and_then(|plain| serde_json::from_slice::<Entry>(&plain).ok());
        if parsed.is_none() {
            tracing::warn!("dropped a cache entry that did not open; fetching it again");
            self.remove(slot)?;
        }
        Ok(parsed)
    }

    /// The cached value of `version_id`. One that does not open is removed.
    pub fn value(
        &mut self,
        slot: &Slot,
        version_id: &str,
    ) -> Result<Option<SecretValue>, StoreError> {
        let key = self.value_key(slot, version_id);
        let Some(stored) = self.store.get(&key)? else {
            return Ok(None);
        };
        let value = self
            .hook
            .get(&key, &stored)
            .ok()
            .and_then(|plain| SecretValue::decode(&plain));
        if value.is_none() {
            tracing::warn!("dropped a cached value that did not open; fetching it again");
            self.remove_hit(slot)?;
            let mut changes = Changes::new();
            changes.remove(&key);
            self.store.apply(changes)?;
        }
        Ok(value)
    }

    /// Stores `entry` at `slot` with the values fetched for it, removes the values of
    /// `dropped` versions, marks the entry as just used, and evicts the least recently
    /// used entries beyond the limit. All in one atomic change; the entry's hit file is
    /// removed before it and written anew after it.
    pub fn save(
        &mut self,
        slot: &Slot,
        entry: &Entry,
        fetched: &[(&str, &SecretValue)],
        dropped: &[String],
    ) -> Result<(), StoreError> {
        let key = entry_key(slot);
        let json = Zeroizing::new(serde_json::to_vec(entry).expect("entries always serialize"));
        let is_new = self.store.get(&key)?.is_none();
        let mut changes = Changes::new();
        changes.insert(&key, self.sealed(&key, &json)?);
        for (version_id, value) in fetched {
            let vkey = self.value_key(slot, version_id);
            changes.insert(&vkey, self.sealed(&vkey, &value.encode())?);
        }
        for version_id in dropped {
            changes.remove(self.value_key(slot, version_id));
        }
        let mut count = self.count()? + u64::from(is_new);
        let mut tick = self.tick()?;
        let excess = count.saturating_sub(self.max_entries as u64);
        let (victims, spared) = self.eviction(slot, excess)?;
        for victim in &victims {
            self.remove_into(&mut changes, victim)?;
            count -= 1;
        }
        for survivor in &spared {
            tick += 1;
            self.touch_into(&mut changes, survivor, tick)?;
        }
        self.touch_into(&mut changes, slot, tick + 1)?;
        changes.insert(COUNT, count.to_be_bytes());
        self.remove_hit(slot)?;
        self.store.apply(changes)?;
        for survivor in &spared {
            self.hits.forget_use(survivor);
        }
        self.write_hit(slot, entry, fetched);
        Ok(())
    }

    /// Records that `entry` at `slot` answered a hit from the database: marks it as used
    /// (see [`SecretCache::touch`]) and writes its hit file if it has none that opens,
    /// so that the next hit need not open the database.
    pub fn served(&mut self, slot: &Slot, entry: &Entry) -> Result<(), StoreError> {
        self.touch(slot)?;
        if hit::read(&self.hits, &self.hook, slot).is_none() {
            self.write_hit(slot, entry, &[]);
        }
        Ok(())
    }

    /// Marks the entry at `slot` as just used, unless it was used so recently that no
    /// eviction can reach it yet; returns whether anything was written.
    ///
    /// An entry touched less than `limit / 2` ticks ago has at most that many entries
    /// recorded after it, so it is in the more recent half and cannot be the least
    /// recently used one yet. Skipping its touch saves a cache hit the write and the
    /// flush that would follow it; the price is an order that is approximate within the
    /// recent half (two entries used there may be evicted later in either order).
    pub fn touch(&mut self, slot: &Slot) -> Result<bool, StoreError> {
        let last = self
            .store
            .get(&[&b"a"[..], slot].concat())?
            .map(|b| read_u64(&b));
        let now = self.tick()?;
        let horizon = (self.max_entries / 2) as u64;
        if last.is_some_and(|last| now.saturating_sub(last) < horizon) {
            return Ok(false);
        }
        let mut changes = Changes::new();
        self.touch_into(&mut changes, slot, now + 1)?;
        self.store.apply(changes)?;
        Ok(true)
    }

    /// Removes the entry at `slot` and its values. Returns whether there was one.
    pub fn remove(&mut self, slot: &Slot) -> Result<bool, StoreError> {
        let existed = self.store.get(&entry_key(slot))?.is_some();
        let mut changes = Changes::new();
        self.remove_into(&mut changes, slot)?;
        if existed {
            changes.insert(COUNT, self.count()?.saturating_sub(1).to_be_bytes());
        }
        self.store.apply(changes)?;
        Ok(existed)
    }

    /// Every entry that opens, with its slot.
    pub fn entries(&self) -> Result<Vec<(Slot, Entry)>, StoreError> {
        let mut out = Vec::new();
        for (key, stored) in self.store.scan(b"e")? {
            let Ok(slot) = Slot::try_from(&key[1..]) else {
                continue;
            };
            let plain = self.hook.get(&key, &stored).ok();
            if let Some(entry) = plain.and_then(|p| serde_json::from_slice::<Entry>(&p).ok()) {
                out.push((slot, entry));
            }
        }
        Ok(out)
    }

    /// Number of entries.
    pub fn count(&self) -> Result<u64, StoreError> {
        Ok(self.store.get(COUNT)?.map_or(0, |b| read_u64(&b)))
    }

    /// Removes everything but the key check. Returns how many entries went.
    pub fn clear(&mut self) -> Result<u64, StoreError> {
        let count = self.store.scan(b"e")?.len() as u64;
        self.reset()?;
        Ok(count)
    }

    /// Gives the cache up after a database failure: its files are removed when it is
    /// dropped, so the next process rebuilds it.
    pub fn discard(mut self) {
        self.store.discard();
    }

    /// The store, to reopen it under another hook.
    pub fn into_store(self) -> Store {
        self.store
    }

    /// Writes everything to disk and releases the cache.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.store.flush()
    }

    fn sealed(&self, slot: &[u8], plain: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.hook.put(slot, plain).map_err(|_| StoreError::Seal)
    }

    fn value_key(&self, slot: &Slot, version_id: &str) -> Vec<u8> {
        let name = [&slot[..], b"\0", version_id.as_bytes()].concat();
        [&b"v"[..], slot, &self.hook.lookup_key(&name)].concat()
    }

    /// Writes the hit file of `entry` at `slot` if the entry can answer a hit alone, with
    /// the values of its staged versions: from `fetched`, or else from the store. A hit
    /// file that cannot be written only costs later hits the database.
    fn write_hit(&self, slot: &Slot, entry: &Entry, fetched: &[(&str, &SecretValue)]) {
        if entry.failure.is_some() || entry.next_check.is_none() {
            return;
        }
        let mut values: Vec<(&str, Zeroizing<Vec<u8>>)> = Vec::new();
        for version_id in entry.stages.values() {
            if !entry.has_version(version_id) || values.iter().any(|(id, _)| id == version_id) {
                continue;
            }
            let encoded = match fetched.iter().find(|(id, _)| id == version_id) {
                Some((_, value)) => Some(value.encode()),
                None => self.stored_value(slot, version_id),
            };
            if let Some(encoded) = encoded {
                values.push((version_id.as_str(), encoded));
            }
        }
        let parts: Vec<(&str, &[u8])> = values.iter().map(|(id, v)| (*id, &v[..])).collect();
        let plain = hit::encode(entry, &parts);
        let written = self
            .hook
            .put(&hit::hit_key(slot), &plain)
            .map_err(|_| std::io::Error::other("sealing failed"))
            .and_then(|sealed| self.hits.write(slot, &sealed));
        if let Err(err) = written {
            tracing::debug!("could not write a hit file: {err}");
        }
    }

    /// Removes the hit file of `slot`; where that fails, the entry must not change.
    fn remove_hit(&self, slot: &Slot) -> Result<(), StoreError> {
        self.hits.remove(slot).map_err(|source| StoreError::Io {
            path: self.hits.dir().to_owned(),
            source,
        })
    }

    /// The encoded value of `version_id` as the store holds it, if it opens.
    fn stored_value(&self, slot: &Slot, version_id: &str) -> Option<Zeroizing<Vec<u8>>> {
        let key = self.value_key(slot, version_id);
        let stored = self.store.get(&key).ok()??;
        self.hook.get(&key, &stored).ok()
    }

    /// The last access tick handed out.
    fn tick(&self) -> Result<u64, StoreError> {
        Ok(self.store.get(TICK)?.map_or(0, |b| read_u64(&b)))
    }

    /// Records `slot` as used at `tick`, which must be past every tick recorded.
    fn touch_into(&self, changes: &mut Changes, slot: &Slot, tick: u64) -> Result<(), StoreError> {
        let access_key = [&b"a"[..], slot].concat();
        if let Some(old) = self.store.get(&access_key)? {
            changes.remove([&b"l"[..], &old, slot].concat());
        }
        let tick = tick.to_be_bytes();
        changes.insert(TICK, tick);
        changes.insert(&access_key, tick);
        changes.insert([&b"l"[..], &tick, slot].concat(), b"");
        Ok(())
    }

    /// Also removes the hit file, at once: the caller applies `changes` afterwards.
    fn remove_into(&self, changes: &mut Changes, slot: &Slot) -> Result<(), StoreError> {
        self.remove_hit(slot)?;
        changes.remove(entry_key(slot));
        for (key, _) in self.store.scan(&[&b"v"[..], slot].concat())? {
            changes.remove(key);
        }
        let access_key = [&b"a"[..], slot].concat();
        if let Some(old) = self.store.get(&access_key)? {
            changes.remove([&b"l"[..], &old, slot].concat());
        }
        changes.remove(access_key);
        Ok(())
    }

    /// The `n` least recently used entries other than `slot`, to evict, and the entries
    /// ahead of them that were used through their hit files since they were recorded,
    /// to record as used instead. Reads the front of the access index, never the whole
    /// of it (unless the limit was just lowered).
    fn eviction(&self, slot: &Slot, n: u64) -> Result<(Vec<Slot>, Vec<Slot>), StoreError> {
        if n == 0 {
            return Ok((Vec::new(), Vec::new()));
        }
        let wanted = usize::try_from(n).unwrap_or(usize::MAX);
        let front = self
            .store
            .first_n(b"l", wanted.saturating_add(1 + SECOND_CHANCES))?;
        let mut victims = Vec::new();
        let mut spared = Vec::new();
        let candidates = front
            .into_iter()
            .filter_map(|(key, _)| Slot::try_from(key.get(9..)?).ok())
            .filter(|candidate| candidate != slot);
        for candidate in candidates {
            if victims.len() == wanted {
                break;
            }
            if spared.len() < SECOND_CHANCES && self.hits.used(&candidate) {
                spared.push(candidate);
            } else {
                victims.push(candidate);
            }
        }
        // Fewer entries than the limit asks to evict are not recently used: the spared
        // ones go after all, oldest first.
        let short = wanted.saturating_sub(victims.len()).min(spared.len());
        victims.extend(spared.drain(..short));
        Ok((victims, spared))
    }
}

fn entry_key(slot: &Slot) -> Vec<u8> {
    [&b"e"[..], slot].concat()
}

fn read_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map_or(0, u64::from_be_bytes)
}

#[cfg(test)]
mod tests;
