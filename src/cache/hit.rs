//! What a hit file holds: an entry and the values of the versions its stages point at,
//! sealed by the hook for the slot `h` + the entry's slot (so a file copied to another
//! entry's name does not open). See [`crate::hits`] for where the files live and when
//! they are written.
//!
//! Plain layout: entry JSON length (u32, big-endian), entry JSON, then for each value:
//! version id length (u16), version id, value length (u32), [`SecretValue::encode`]d
//! value.

use zeroize::Zeroizing;

use super::{Entry, SecretCacheHook, Slot};
use crate::hits::HitFiles;
use crate::secret::SecretValue;

/// An entry as its hit file holds it.
#[derive(Debug)]
pub struct HitRecord {
    pub entry: Entry,
    values: Vec<(String, SecretValue)>,
}

impl HitRecord {
    /// Takes the value of `version_id` out of the record.
    pub fn take_value(&mut self, version_id: &str) -> Option<SecretValue> {
        let at = self.values.iter().position(|(id, _)| id == version_id)?;
        Some(self.values.swap_remove(at).1)
    }
}

/// The hit record of `slot`, if its file exists, is trusted and opens with `hook`.
pub fn read<H: SecretCacheHook>(files: &HitFiles, hook: &H, slot: &Slot) -> Option<HitRecord> {
    let sealed = files.read(slot)?;
    let record = hook
        .get(&hit_key(slot), &sealed)
        .ok()
        .and_then(|plain| decode(&plain));
    if record.is_none() {
        tracing::info!("a hit file did not open; answering from the database");
    }
    record
}

/// The name a hit record is sealed for.
pub(super) fn hit_key(slot: &Slot) -> Vec<u8> {
    [&b"h"[..], slot].concat()
}

pub(super) fn encode(entry: &Entry, values: &[(&str, &[u8])]) -> Zeroizing<Vec<u8>> {
    let json = Zeroizing::new(serde_json::to_vec(entry).expect("entries always serialize"));
    let mut out = Zeroizing::new(Vec::new());
    out.extend_from_slice(&len_u32(json.len()).to_be_bytes());
    out.extend_from_slice(&json);
    for (version_id, value) in values {
        let id = version_id.as_bytes();
        // Version ids are at most 64 characters; a longer one is left to the database.
        let Ok(id_len) = u16::try_from(id.len()) else {
            continue;
        };
        out.extend_from_slice(&id_len.to_be_bytes());
        out.extend_from_slice(id);
        out.extend_from_slice(&len_u32(value.len()).to_be_bytes());
        out.extend_from_slice(value);
    }
    out
}

fn decode(plain: &[u8]) -> Option<HitRecord> {
    let mut rest = plain;
    let json_len = take_len::<4>(&mut rest)?;
    let entry = serde_json::from_slice(take(&mut rest, json_len)?).ok()?;
    let mut values = Vec::new();
    while !rest.is_empty() {
        let id_len = take_len::<2>(&mut rest)?;
        let id = std::str::from_utf8(take(&mut rest, id_len)?)
            .ok()?
            .to_owned();
        let value_len = take_len::<4>(&mut rest)?;
        values.push((id, SecretValue::decode(take(&mut rest, value_len)?)?));
    }
    Some(HitRecord { entry, values })
}

fn len_u32(len: usize) -> u32 {
    // Values are at most 64 KiB; entries a few KiB.
    u32::try_from(len).expect("hit record parts are far below 4 GiB")
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if rest.len() < n {
        return None;
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Some(head)
}

/// A big-endian length of `N` bytes (2 or 4).
fn take_len<const N: usize>(rest: &mut &[u8]) -> Option<usize> {
    let bytes = take(rest, N)?;
    let mut wide = [0u8; 8];
    wide[8 - N..].copy_from_slice(bytes);
    usize::try_from(u64::from_be_bytes(wide)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretBytes;

    #[test]
    fn a_record_round_trips_and_rejects_truncation() {
        let mut entry = Entry::new("prod/db");
        entry.assign_stages("v1", &["AWSCURRENT".into()]);
        let string = SecretValue::String(SecretBytes::from_string("pässword".into()));
        let binary = SecretValue::Binary(SecretBytes::new(vec![0, 1, 255]));
        let (s, b) = (string.encode(), binary.encode());
        let plain = encode(&entry, &[("v1", &s), ("v0", &b)]);
        let mut record = decode(&plain).unwrap();
        assert_eq!(record.entry, entry);
        assert_eq!(record.take_value("v0"), Some(binary));
        assert_eq!(record.take_value("v1"), Some(string));
        assert_eq!(record.take_value("v1"), None);
        for cut in [1, 5, plain.len() - 1] {
            assert!(decode(&plain[..cut]).is_none(), "cut at {cut}");
        }
    }
}
