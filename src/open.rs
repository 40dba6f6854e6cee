//! Opening the cache: the key, the store, and what to do when they do not fit.
//!
//! A cache problem never fails a command. Whatever goes wrong here (no keyring, a busy
//! or unreadable cache, a private directory that is not private) ends in `None` and a
//! warning, and the caller answers from Secrets Manager. The one exception is an
//! invalid `SMCACHE_KEY`: the user asked for that key, and silently ignoring it would
//! hide a broken setup.

use crate::cache::{EncryptionHook, KeyCheck, SecretCache};
use crate::config::Config;
use crate::crypto::DataKey;
use crate::keys::{self, KeyError, KeyOrigin, KeyRing};
use crate::store::{Store, StoreError};

pub type Cache = SecretCache<EncryptionHook>;

/// Why the cache could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    NoDirectory(String),
}

/// The cache key found before the cache is opened: `SMCACHE_KEY`, or the OS keyring's
/// (its fast copy if there is one). `None` when there is none yet.
pub type FoundKey = Result<Option<(DataKey, KeyOrigin)>, KeyError>;

/// Looks up the key of the cache in `dir`, creating none.
pub fn find_key(dir: &std::path::Path) -> FoundKey {
    if let Some(key) = keys::from_environment()? {
        return Ok(Some((key, KeyOrigin::Environment)));
    }
    match KeyRing::for_cache_dir(dir).existing() {
        Err(KeyError::InvalidStoredKey) => Ok(None),
        found => found,
    }
}

/// Opens the cache for reading and writing, or explains on stderr why not.
pub fn open(config: &Config) -> Result<Option<Cache>, KeyError> {
    open_with(config, None)
}

/// [`open`], with the key already looked up by [`find_key`] (`None`: look it up).
pub fn open_with(config: &Config, key: Option<FoundKey>) -> Result<Option<Cache>, KeyError> {
    if !config.use_cache {
        return Ok(None);
    }
    match try_open(config, key) {
        Ok(cache) => Ok(Some(cache)),
        Err(OpenError::Key(err @ KeyError::InvalidEnvKey)) => Err(err),
        // Another smcache holds the cache: routine under `make -j`, so only at -v.
        Err(err @ OpenError::Store(StoreError::Busy { .. })) => {
            tracing::info!(
                "{}; answering from Secrets Manager without the cache",
                chain(&err)
            );
            Ok(None)
        }
        Err(err) => {
            tracing::warn!(
                "{}; answering from Secrets Manager without the cache",
                chain(&err)
            );
            Ok(None)
        }
    }
}

/// Opens the cache for `purge` and `status`, which work on it whatever the cache size
/// and report why they cannot.
pub fn open_for_maintenance(config: &Config) -> Result<Cache, OpenError> {
    try_open(config, None)
}

fn try_open(config: &Config, key: Option<FoundKey>) -> Result<Cache, OpenError> {
    let dir = config
        .cache_dir
        .as_deref()
        .map_err(|why| OpenError::NoDirectory(why.clone()))?;
    let keyring = KeyRing::for_cache_dir(dir);
    // Without any key source, nothing is written; but a key is only ever created under
    // the cache lock, so that two first runs do not both create one.
    let found = key.unwrap_or_else(|| find_key(dir))?;
    let store = Store::open(dir, config.lock_wait)?;
    let (key, origin) = match found {
        Some(found) => found,
        None => keyring_key(&keyring)?,
    };
    let max_entries = config.max_cache_size.max(1);
    match settle_key(store, &key, origin, &keyring, max_entries) {
        Err(OpenError::Store(StoreError::Database { detail, .. })) => {
            // sled opened the files but not the records in them: the damaged database
            // is gone now (settle_key discarded it), so this run rebuilds it.
            tracing::warn!("cache database was unreadable ({detail}); rebuilding it");
            let store = Store::open(dir, config.lock_wait)?;
            settle_key(store, &key, origin, &keyring, max_entries)
        }
        settled => settled,
    }
}

/// The key from the OS keyring; an unreadable one is replaced.
fn keyring_key(keyring: &KeyRing) -> Result<(DataKey, KeyOrigin), KeyError> {
    match keyring.key() {
        Err(KeyError::InvalidStoredKey) => {
            tracing::warn!("the OS keyring held an unreadable cache key; replacing it");
            Ok((keyring.replace()?, KeyOrigin::Created))
        }
        found => found,
    }
}

/// Makes sure the cache opens with the key: a stale fast copy is replaced by the
/// keyring's key, and a cache no key opens is emptied and rebuilt under the key.
fn settle_key(
    store: Store,
    key: &DataKey,
    origin: KeyOrigin,
    keyring: &KeyRing,
    max_entries: usize,
) -> Result<Cache, OpenError> {
    let mut cache = SecretCache::new(store, EncryptionHook::new(key), max_entries);
    let mut check = cache.key_check();
    if check.as_ref().is_ok_and(|c| *c == KeyCheck::Mismatch) && origin == KeyOrigin::FastCopy {
        // The fast copy may be stale. If the keyring cannot say, run without the cache
        // this time rather than empty one the keyring's key may still open.
        let (fresh, _) = keyring.authoritative()?;
        cache = SecretCache::new(cache.into_store(), EncryptionHook::new(&fresh), max_entries);
        check = cache.key_check();
    }
    let settled = check.and_then(|check| match check {
        KeyCheck::Matches => Ok(()),
        KeyCheck::Empty => cache.reset(),
        KeyCheck::Mismatch => {
            tracing::warn!("the cache key changed; discarding the old cache and starting anew");
            cache.reset()
        }
    });
    match settled {
        Ok(()) => Ok(cache),
        Err(err) => {
            // sled opened the files but cannot read them: the next run starts anew.
            cache.discard();
            Err(err.into())
        }
    }
}

/// An error and its causes in one line: `cache at `x` cannot be used: Read-only file system`.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
