//! Identifiers: 12-byte, time-ordered ids written as 24 lowercase hex digits (MongoDB ObjectId layout).

use std::fmt;
use std::hash::Hasher;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Error;

fn process_bytes() -> &'static [u8; 5] {
    static BYTES: OnceLock<[u8; 5]> = OnceLock::new();
    BYTES.get_or_init(rand::random)
}

fn counter() -> &'static AtomicU32 {
    static COUNTER: OnceLock<AtomicU32> = OnceLock::new();
    COUNTER.get_or_init(|| AtomicU32::new(rand::random::<u32>() & 0x00ff_ffff))
}

/// An id's text: 24 lowercase hex digits, kept inline so that copying an id allocates nothing.
type Text = [u8; 24];

/// A fresh id: seconds since the epoch, 5 bytes fixed per process, a 3-byte counter.
fn generate() -> Text {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    let count = counter().fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&secs.to_be_bytes());
    bytes[4..9].copy_from_slice(process_bytes());
    bytes[9..].copy_from_slice(&count.to_be_bytes()[1..]);
    hex(&bytes)
}

fn hex(bytes: &[u8; 12]) -> Text {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 24];
    for (i, b) in bytes.iter().enumerate() {
        text[2 * i] = DIGITS[usize::from(b >> 4)];
        text[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
    }
    text
}

/// The text of an id as `&str`; it is ASCII by construction.
fn text(text: &Text) -> &str {
    std::str::from_utf8(text).unwrap_or_default()
}

/// 64-bit FNV-1a of `bytes`: the same on every build and platform, so every scheduler derives
/// the same occurrence id.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(bytes);
    hasher.finish()
}

fn normalise(kind: &'static str, value: &str) -> Result<Text, Error> {
    if value.len() == 24 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut text = [0u8; 24];
        for (t, b) in text.iter_mut().zip(value.bytes()) {
            *t = b.to_ascii_lowercase();
        }
        Ok(text)
    } else {
        Err(Error::InvalidId {
            kind,
            value: value.chars().take(64).collect(),
        })
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Text);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.as_str()).finish()
            }
        }

        impl $name {
            /// A new, unique id; ids made in later seconds sort after earlier ones.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(generate())
            }

            /// Validates an id that came from outside (24 hex digits); a malformed one is a typed error.
            pub fn parse(value: &str) -> Result<Self, Error> {
                normalise($kind, value).map(Self)
            }

            /// The id as 24 lowercase hex digits.
            pub fn as_str(&self) -> &str {
                text(&self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self, Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.as_str().to_owned()
            }
        }
    };
}

id_type!(
    /// Identifies a job.
    JobId,
    "job"
);
id_type!(
    /// Identifies a scheduler item.
    ItemId,
    "scheduler item"
);

impl JobId {
    /// The id of the job that `item`'s occurrence at `at` adds (R15): every scheduler process
    /// derives the same one, so a store that refuses a second job of that id stores the
    /// occurrence once, however many schedulers fire it and whichever of them dies half-way.
    /// Like a fresh id it starts with the seconds of `at`; the rest is a hash of both.
    pub fn for_occurrence(item: &ItemId, at: DateTime<Utc>) -> Self {
        let secs = u32::try_from(at.timestamp()).unwrap_or(0);
        let hash = fnv1a(
            &[
                item.as_str().as_bytes(),
                &at.timestamp_millis().to_be_bytes(),
            ]
            .concat(),
        );
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&secs.to_be_bytes());
        bytes[4..].copy_from_slice(&hash.to_be_bytes());
        Self(hex(&bytes))
    }
}
id_type!(
    /// Identifies one error record of a job.
    RecordId,
    "error record"
);

/// Fences one claimed attempt: store calls for the attempt are refused once the token changed (R8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeaseToken(i64);

impl LeaseToken {
    /// A random token for a new claim.
    pub fn random() -> Self {
        Self(rand::random::<i64>())
    }

    /// The token a store read back from its own storage.
    pub fn from_i64(value: i64) -> Self {
        Self(value)
    }

    /// The token as a store writes it.
    pub fn as_i64(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occurrence_ids_are_fixed_by_item_and_time() {
        let item = ItemId::parse("65a1b2c3d4e5f60718293a4b").unwrap();
        let other = ItemId::parse("65a1b2c3d4e5f60718293a4c").unwrap();
        let at = DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let id = JobId::for_occurrence(&item, at);
        assert_eq!(id.as_str(), "6b0ac2409246d1557a59fd6c");
        assert_eq!(JobId::for_occurrence(&item, at), id);
        assert_ne!(JobId::for_occurrence(&other, at), id);
        assert_ne!(
            JobId::for_occurrence(&item, at + chrono::TimeDelta::milliseconds(1)),
            id
        );
        assert_eq!(JobId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn ids_are_unique_ordered_and_round_trip() {
        let a = JobId::new();
        let b = JobId::new();
        assert!(a < b);
        assert_eq!(JobId::parse(a.as_str()).unwrap(), a);
        assert_eq!(
            JobId::parse(&a.as_str().to_uppercase()).unwrap(),
            a,
            "hex case is normalised"
        );
    }

    #[test]
    fn malformed_ids_are_typed_errors() {
        for bad in [
            "",
            "xyz",
            "0123456789abcdef0123456",
            "0123456789abcdef0123456g",
            "é",
        ] {
            assert!(
                matches!(JobId::parse(bad), Err(Error::InvalidId { .. })),
                "{bad}"
            );
        }
        let json = serde_json::from_str::<JobId>("\"nothex\"");
        assert!(json.is_err());
    }
}
