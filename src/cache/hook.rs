//! The extension point between the cache and the store: how a record is transformed on
//! its way to disk and back, and how names become lookup keys.
//!
//! Like the `SecretCacheHook` of the AWS caching libraries, a hook sees every record the
//! cache stores (`put`) and reverses the transformation on load (`get`). smcache's own
//! hook is [`EncryptionHook`]; tests use a transparent one.

use zeroize::Zeroizing;

use crate::crypto::{DataKey, Sealer};

/// A record that a hook could not reverse: tampered, moved to another slot, or
/// written under another key. The cache drops it and fetches again.
#[derive(Debug, thiserror::Error)]
#[error("cache record cannot be opened")]
pub struct HookError;

pub trait SecretCacheHook {
    /// Transforms a record before it is stored at `slot`.
    fn put(&self, slot: &[u8], record: &[u8]) -> Result<Vec<u8>, HookError>;

    /// Reverses [`SecretCacheHook::put`] for the record stored at `slot`.
    fn get(&self, slot: &[u8], stored: &[u8]) -> Result<Zeroizing<Vec<u8>>, HookError>;

    /// The lookup key under which `name` is stored.
    fn lookup_key(&self, name: &[u8]) -> [u8; 32];
}

/// Seals every record with the data key (XChaCha20-Poly1305, bound to its slot) and
/// derives lookup keys with a keyed hash. See [`crate::crypto`] for the format.
#[derive(Debug)]
pub struct EncryptionHook {
    sealer: Sealer,
}

impl EncryptionHook {
    pub fn new(key: &DataKey) -> Self {
        Self {
            sealer: Sealer::new(key),
        }
    }
}

impl SecretCacheHook for EncryptionHook {
    fn put(&self, slot: &[u8], record: &[u8]) -> Result<Vec<u8>, HookError> {
        self.sealer.seal(slot, record).map_err(|_| HookError)
    }

    fn get(&self, slot: &[u8], stored: &[u8]) -> Result<Zeroizing<Vec<u8>>, HookError> {
        self.sealer.open(slot, stored).map_err(|_| HookError)
    }

    fn lookup_key(&self, name: &[u8]) -> [u8; 32] {
        self.sealer.lookup_key(name)
    }
}
