//! Sealing and opening cache records with the data key.
//!
//! This is the only module that touches the AEAD and the keyed hash.
//!
//! # Format
//!
//! A sealed record is `version (1 byte) || nonce (24 bytes) || ciphertext || tag (16 bytes)`.
//! Version 1 is XChaCha20-Poly1305 under the record key (below), with associated data
//! `"smcache/v1/" || slot`, where `slot` is the record's full lookup key in the store.
//!
//! # Invariants
//!
//! - Every seal draws a fresh random 192-bit nonce from the operating system; with
//!   192 bits, random nonces do not collide in any realistic number of writes.
//! - The associated data binds a record to its slot: a record copied or moved to another
//!   slot fails to open, so nobody with write access to the files can swap one secret's
//!   value for another's.
//! - The 256-bit data key is never used directly. Two keys are derived from it with
//!   BLAKE3's key derivation, one for the AEAD and one for the keyed hash that turns
//!   secret ids, regions and profiles into lookup keys; neither appears in plaintext.
//! - Key material lives in [`DataKey`] and the derived keys in zeroizing buffers; none is
//!   `Clone`, none prints in `Debug`.
//! - An unknown version byte, a short record or a failed tag is one error,
//!   [`CryptoError::Open`]: the caller discards the record and fetches again.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The on-disk format this module writes.
pub const FORMAT_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const AAD_PREFIX: &[u8] = b"smcache/v1/";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("cache record does not open with this key (tampered, moved, or another key)")]
    Open,
    #[error("the operating system's random source failed")]
    Random,
}

/// The 256-bit data key that seals the cache.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl DataKey {
    pub const LEN: usize = 32;

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A new random key from the operating system.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| CryptoError::Random)?;
        Ok(Self(bytes))
    }

    /// The key bytes, to store in a keyring. Nothing else needs them.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// The keys derived from a [`DataKey`]: everything the cache needs to seal, open and
/// name records.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    hash_key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    pub fn new(key: &DataKey) -> Self {
        let aead_key = Zeroizing::new(blake3::derive_key("smcache 2026 record AEAD key", &key.0));
        let hash_key = Zeroizing::new(blake3::derive_key("smcache 2026 lookup hash key", &key.0));
        let cipher = XChaCha20Poly1305::new_from_slice(aead_key.as_slice())
            .expect("a 32-byte key is the XChaCha20-Poly1305 key length");
        Self { cipher, hash_key }
    }

    /// The lookup key for `name`: a keyed hash, so the name cannot be read back or
    /// guessed from the files without the data key.
    pub fn lookup_key(&self, name: &[u8]) -> [u8; 32] {
        *blake3::keyed_hash(&self.hash_key, name).as_bytes()
    }

    /// Seals `plaintext` for the record at `slot`.
    pub fn seal(&self, slot: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        self.seal_with_nonce(slot, plaintext, nonce)
    }

    fn seal_with_nonce(
        &self,
        slot: &[u8],
        plaintext: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Result<Vec<u8>, CryptoError> {
        let aad = associated_data(slot);
        let ciphertext = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Open)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(FORMAT_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens a record sealed for `slot`.
    pub fn open(&self, slot: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != FORMAT_VERSION {
            return Err(CryptoError::Open);
        }
        let (nonce, ciphertext) = sealed[1..].split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Open)?;
        let aad = associated_data(slot);
        self.cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Open)
    }
}

fn associated_data(slot: &[u8]) -> Vec<u8> {
    [AAD_PREFIX, slot].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(byte: u8) -> Sealer {
        Sealer::new(&DataKey::from_bytes([byte; 32]))
    }

    #[test]
    fn seal_then_open_round_trips() {
        let s = sealer(7);
        let sealed = s.seal(b"slot-a", b"value").unwrap();
        assert_eq!(s.open(b"slot-a", &sealed).unwrap().as_slice(), b"value");
        assert_eq!(sealed[0], FORMAT_VERSION);
        assert_eq!(sealed.len(), 1 + NONCE_LEN + 5 + TAG_LEN);
    }

    #[test]
    fn a_record_moved_to_another_slot_does_not_open() {
        let s = sealer(7);
        let sealed = s.seal(b"slot-a", b"value").unwrap();
        assert_eq!(s.open(b"slot-b", &sealed), Err(CryptoError::Open));
    }

    #[test]
    fn another_key_or_a_flipped_bit_does_not_open() {
        let sealed = sealer(7).seal(b"slot", b"value").unwrap();
        assert_eq!(sealer(8).open(b"slot", &sealed), Err(CryptoError::Open));
        for at in [0, 1, 30, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[at] ^= 1;
            assert_eq!(
                sealer(7).open(b"slot", &bad),
                Err(CryptoError::Open),
                "byte {at}"
            );
        }
        assert_eq!(
            sealer(7).open(b"slot", &sealed[..20]),
            Err(CryptoError::Open)
        );
    }

    #[test]
    fn nonces_are_fresh_per_seal() {
        let s = sealer(1);
        assert_ne!(s.seal(b"x", b"v").unwrap(), s.seal(b"x", b"v").unwrap());
    }

    #[test]
    fn lookup_keys_depend_on_the_data_key() {
        assert_eq!(
            sealer(1).lookup_key(b"prod/db"),
            sealer(1).lookup_key(b"prod/db")
        );
        assert_ne!(
            sealer(1).lookup_key(b"prod/db"),
            sealer(2).lookup_key(b"prod/db")
        );
        assert_ne!(
            sealer(1).lookup_key(b"prod/db"),
            sealer(1).lookup_key(b"prod/dc")
        );
    }

    /// Frozen vector for format version 1: a cache written by this version must stay
    /// readable, so this record must keep opening. Changing the format means a new
    /// version byte and a new vector, not an edit here.
    #[test]
    fn format_v1_test_vector() {
        let s = sealer(0x42);
        let sealed = s
            .seal_with_nonce(b"slot", b"smcache", [9; NONCE_LEN])
            .unwrap();
        let hex = to_hex(&sealed);
        assert_eq!(hex, V1_VECTOR);
        assert_eq!(s.open(b"slot", &sealed).unwrap().as_slice(), b"smcache");
        let lookup = to_hex(&s.lookup_key(b"prod/db"));
        assert_eq!(lookup, V1_LOOKUP);
    }

    fn to_hex(bytes: &[u8]) -> String {
        bytes.iter().fold(String::new(), |mut out, b| {
            use std::fmt::Write;
            let _ = write!(out, "{b:02x}");
            out
        })
    }

    const V1_VECTOR: &str = "010909090909090909090909090909090909090909090909090ed3b7b257c760a5cd77ae76f03c37f4ab2bb0dcfb37c0";
    const V1_LOOKUP: &str = "43344e395f287438c1bfd702cd97cccaa85bb8be7ba93a7c3618b68e20bbfba5";

    #[test]
    fn debug_never_prints_key_material() {
        let shown = format!("{:?} {:?}", DataKey::from_bytes([0xAB; 32]), sealer(0xAB));
        assert!(
            !shown.to_lowercase().contains("ab, ") && !shown.contains("171"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"));
    }
}
