//! Where the data key comes from: `SMCACHE_KEY`, or the OS keyring.
//!
//! This is the only module that talks to a keyring.
//!
//! - `SMCACHE_KEY`, when set, is the key (standard base64 of 32 bytes), for CI and
//!   containers. Anything else in it is an error.
//! - Otherwise the key's persistent home is the Secret Service keyring (GNOME Keyring,
//!   KWallet, ...): service `smcache`, user the absolute cache directory, the key as
//!   base64 text. It is created on first use.
//! - Reading from Secret Service costs a D-Bus round trip (15-30 ms), more than the
//!   whole cache hit. So a copy of the key is also put in the kernel's session keyring
//!   (keyutils) for [`FAST_COPY_TTL`]; while it lives, a lookup costs a system call.
//!   The copy expires on its own, so locking or clearing the Secret Service keyring
//!   takes effect within that time, and it never outlives the login session.
//!
//! A key that does not match the cache is resolved by the caller with
//! [`KeyRing::authoritative`]: the fast copy may be stale, Secret Service is not.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keyring_core::{CredentialStore, Entry};
use linux_keyutils::{KeyRing as KernelKeyRing, KeyRingIdentifier};
use zeroize::Zeroizing;

use crate::crypto::DataKey;

/// The variable that overrides the keyring.
pub const KEY_VAR: &str = "SMCACHE_KEY";
/// The Secret Service item's service attribute.
pub const SERVICE: &str = "smcache";
/// How long the kernel keyring's copy of the key lives.
pub const FAST_COPY_TTL: Duration = Duration::from_secs(600);
/// How long to wait for the Secret Service daemon before running uncached. A locked
/// collection can make it wait for a password prompt nobody will answer.
const DBUS_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{KEY_VAR} is not standard base64 of exactly 32 bytes")]
    InvalidEnvKey,
    #[error("no OS keyring to keep the cache key in: {0}")]
    Unavailable(String),
    #[error("the OS keyring holds an invalid smcache key for this cache directory")]
    InvalidStoredKey,
}

/// Where a key came from; decides what a mismatch with the cache means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `SMCACHE_KEY`: the user's word is final.
    Environment,
    /// The kernel keyring's short-lived copy: may be older than Secret Service's.
    FastCopy,
    /// Secret Service: the persistent home.
    Keyring,
    /// Just made and stored in Secret Service: there is no cache it can open.
    Created,
}

/// The key from `SMCACHE_KEY`, if that is set.
pub fn from_environment() -> Result<Option<DataKey>, KeyError> {
    match std::env::var_os(KEY_VAR) {
        None => Ok(None),
        Some(value) => {
            let text = value.to_str().ok_or(KeyError::InvalidEnvKey)?;
            decode(text).map(Some).ok_or(KeyError::InvalidEnvKey)
        }
    }
}

fn decode(text: &str) -> Option<DataKey> {
    let bytes = Zeroizing::new(STANDARD.decode(text.trim()).ok()?);
    let array: [u8; DataKey::LEN] = bytes.as_slice().try_into().ok()?;
    Some(DataKey::from_bytes(array))
}

fn encode(key: &DataKey) -> Zeroizing<String> {
    Zeroizing::new(STANDARD.encode(key.expose_secret()))
}

/// The OS keyring entries of one cache directory.
#[derive(Debug)]
pub struct KeyRing {
    user: String,
}

impl KeyRing {
    pub fn for_cache_dir(dir: &Path) -> Self {
        Self {
            user: dir.to_string_lossy().into_owned(),
        }
    }

    /// The key, from the fast copy if it lives, else from Secret Service, else a new
    /// key stored there.
    pub fn key(&self) -> Result<(DataKey, KeyOrigin), KeyError> {
        if let Some(key) = self.fast_copy() {
            return Ok((key, KeyOrigin::FastCopy));
        }
        self.authoritative()
    }

    /// The key if there is one (the fast copy, else Secret Service's), never creating
    /// one: `None` when the keyring works but holds no key for this cache directory.
    pub fn existing(&self) -> Result<Option<(DataKey, KeyOrigin)>, KeyError> {
        if let Some(key) = self.fast_copy() {
            return Ok(Some((key, KeyOrigin::FastCopy)));
        }
        let user = self.user.clone();
        let found = with_timeout(move || read_existing(&user))??;
        if let Some(key) = &found {
            self.store_fast_copy(key);
        }
        Ok(found.map(|key| (key, KeyOrigin::Keyring)))
    }

    /// The key from Secret Service (creating it if there is none), skipping the fast
    /// copy; refreshes the fast copy.
    pub fn authoritative(&self) -> Result<(DataKey, KeyOrigin), KeyError> {
        let user = self.user.clone();
        let (key, origin) = with_timeout(move || read_or_create(&user))??;
        self.store_fast_copy(&key);
        Ok((key, origin))
    }

    /// Replaces the key in Secret Service with a new one, for a cache that no key we
    /// can find opens.
    pub fn replace(&self) -> Result<DataKey, KeyError> {
        let user = self.user.clone();
        let key = with_timeout(move || create(&user))??;
        self.store_fast_copy(&key);
        Ok(key)
    }

    fn description(&self) -> String {
        format!("{SERVICE}:{}", self.user)
    }

    fn fast_copy(&self) -> Option<DataKey> {
        let ring = KernelKeyRing::from_special_id(KeyRingIdentifier::Session, false).ok()?;
        let key = ring.search(&self.description()).ok()?;
        let bytes = Zeroizing::new(key.read_to_vec().ok()?);
        let array: [u8; DataKey::LEN] = bytes.as_slice().try_into().ok()?;
        Some(DataKey::from_bytes(array))
    }

    /// Best effort: without a kernel keyring every lookup goes to Secret Service.
    fn store_fast_copy(&self, key: &DataKey) {
        let stored = KernelKeyRing::from_special_id(KeyRingIdentifier::Session, false)
            .and_then(|ring| ring.add_key(&self.description(), key.expose_secret()))
            .and_then(|copy| copy.set_timeout(FAST_COPY_TTL.as_secs() as usize));
        if let Err(err) = stored {
            tracing::debug!(error = %err, "no kernel keyring copy of the cache key");
        }
    }
}

/// Runs a Secret Service call on its own thread, so a daemon waiting for a password
/// prompt costs [`DBUS_TIMEOUT`] rather than the user's command.
fn with_timeout<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, KeyError> + Send + 'static,
) -> Result<Result<T, KeyError>, KeyError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(call());
    });
    rx.recv_timeout(DBUS_TIMEOUT).map_err(|_| {
        KeyError::Unavailable(format!(
            "the Secret Service did not answer within {}s (locked keyring?)",
            DBUS_TIMEOUT.as_secs()
        ))
    })
}

fn entry(user: &str) -> Result<Entry, KeyError> {
    let store: Arc<CredentialStore> = dbus_secret_service_keyring_store::Store::new()
        .map_err(|err| KeyError::Unavailable(describe(&err)))?;
    Entry::new_in_store(&store, SERVICE, user).map_err(|err| KeyError::Unavailable(describe(&err)))
}

fn read_or_create(user: &str) -> Result<(DataKey, KeyOrigin), KeyError> {
    let entry = entry(user)?;
    match entry.get_password() {
        Ok(text) => {
            let text = Zeroizing::new(text);
            decode(&text)
                .map(|key| (key, KeyOrigin::Keyring))
                .ok_or(KeyError::InvalidStoredKey)
        }
        Err(keyring_core::Error::NoEntry) => Ok((store_new(&entry)?, KeyOrigin::Created)),
        Err(err) => Err(KeyError::Unavailable(describe(&err))),
    }
}

fn read_existing(user: &str) -> Result<Option<DataKey>, KeyError> {
    match entry(user)?.get_password() {
        Ok(text) => decode(&Zeroizing::new(text))
            .map(Some)
            .ok_or(KeyError::InvalidStoredKey),
        Err(keyring_core::Error::NoEntry) => Ok(None),
        Err(err) => Err(KeyError::Unavailable(describe(&err))),
    }
}

fn create(user: &str) -> Result<DataKey, KeyError> {
    store_new(&entry(user)?)
}

fn store_new(entry: &Entry) -> Result<DataKey, KeyError> {
    let key = DataKey::generate().map_err(|err| KeyError::Unavailable(err.to_string()))?;
    entry
        .set_password(&encode(&key))
        .map_err(|err| KeyError::Unavailable(describe(&err)))?;
    tracing::info!("created a new cache key in the OS keyring");
    Ok(key)
}

/// A keyring error in words. Some keyring errors carry the bytes they could not
/// decode; those bytes are never shown.
fn describe(err: &keyring_core::Error) -> String {
    use keyring_core::Error as E;
    match err {
        E::BadEncoding(_) | E::BadDataFormat(..) => "the stored item is not readable".into(),
        E::NoStorageAccess(inner) => format!("the keyring is not accessible: {inner}"),
        E::PlatformFailure(inner) => format!("keyring failure: {inner}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_exactly_32_bytes_of_standard_base64() {
        let key = DataKey::from_bytes([3; 32]);
        let text = encode(&key);
        assert_eq!(decode(&text).unwrap().expose_secret(), &[3; 32]);
        assert!(decode(&STANDARD.encode([3u8; 31])).is_none());
        assert!(decode(&STANDARD.encode([3u8; 33])).is_none());
        assert!(decode("not base64!").is_none());
        assert!(decode("").is_none());
    }
}
