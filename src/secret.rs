//! Wrapper types for secret material: secret values and key bytes.
//!
//! Every byte that came out of Secrets Manager or a keyring lives in one of these types
//! from the moment it is read until it is written to its destination. They print as
//! `<redacted>`, are wiped when dropped, and are neither `Clone`, `Display` nor
//! `Serialize`: the only way to the bytes is the loudly named `expose_*` method.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Bytes that must not leak: a secret value or key material.
#[derive(Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Takes ownership of `bytes`; the caller's copy is this one.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Moves a string's bytes in without copying them.
    pub fn from_string(value: String) -> Self {
        Self(value.into_bytes())
    }

    /// The secret bytes themselves. Callers write them to their destination and
    /// keep no copy.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// The bytes as UTF-8 text, if they are.
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes(<redacted>)")
    }
}

/// A secret's value as Secrets Manager holds it: a `SecretString` or a `SecretBinary`.
#[derive(Debug, PartialEq, Eq)]
pub enum SecretValue {
    String(SecretBytes),
    Binary(SecretBytes),
}

impl SecretValue {
    /// The tagged encoding stored in a version slot: one tag byte, then the bytes.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let (tag, bytes) = match self {
            Self::String(b) => (b's', b.expose_secret()),
            Self::Binary(b) => (b'b', b.expose_secret()),
        };
        let mut out = Zeroizing::new(Vec::with_capacity(bytes.len() + 1));
        out.push(tag);
        out.extend_from_slice(bytes);
        out
    }

    /// Reverses [`SecretValue::encode`]; `None` for an unknown tag or a string that is
    /// not UTF-8.
    pub fn decode(encoded: &[u8]) -> Option<Self> {
        let (&tag, rest) = encoded.split_first()?;
        let bytes = SecretBytes::new(rest.to_vec());
        match tag {
            b's' if bytes.expose_str().is_some() => Some(Self::String(bytes)),
            b'b' => Some(Self::Binary(bytes)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_value() {
        let value = SecretValue::String(SecretBytes::from_string("hunter2-sentinel".into()));
        let shown = format!("{value:?} {:?}", SecretBytes::new(b"raw-sentinel".to_vec()));
        assert!(!shown.contains("hunter2-sentinel"), "{shown}");
        assert!(!shown.contains("raw-sentinel"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn encoding_round_trips_both_kinds() {
        for value in [
            SecretValue::String(SecretBytes::from_string("päss\n'word".into())),
            SecretValue::Binary(SecretBytes::new(vec![0, 255, 10, 13])),
        ] {
            assert_eq!(SecretValue::decode(&value.encode()), Some(value));
        }
    }

    #[test]
    fn decoding_rejects_unknown_tags_and_invalid_utf8() {
        assert_eq!(SecretValue::decode(b"xabc"), None);
        assert_eq!(SecretValue::decode(&[b's', 0xff, 0xfe]), None);
        assert_eq!(SecretValue::decode(b""), None);
    }
}
