//! sys_ids: the 32-lowercase-hex identifiers of every record.

use std::fmt;

use crate::error::{Error, Result};

/// Length of a sys_id in characters.
pub const SYS_ID_LEN: usize = 32;

/// A validated sys_id: exactly 32 lowercase hexadecimal characters.
///
/// ```
/// use openframe_core::SysId;
/// assert!(SysId::parse("12961fff7fb2d2102d0cd3cf8c86652b").is_ok());
/// assert!(SysId::parse("12961FFF7FB2D2102D0CD3CF8C86652B").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SysId(String);

impl SysId {
    /// Checks `s` against the sys_id rule.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if is_sys_id(s) {
            Ok(SysId(s.to_owned()))
        } else {
            Err(SYS_ID_RULE)
        }
    }

    /// Parses `s`, naming `field` in the error.
    pub fn parse_field(s: &str, field: &str) -> Result<Self> {
        SysId::parse(s).map_err(|rule| Error::invalid(field, rule))
    }

    /// A new random sys_id (122 random bits, as a UUID v4 without dashes).
    pub fn random() -> Self {
        SysId(uuid::Uuid::new_v4().simple().to_string())
    }

    /// A new time-ordered sys_id: 48 bits of Unix milliseconds, then 74 random bits (a UUID v7 without
    /// dashes). The service gives these to the records it creates: every store indexes records by sys_id
    /// (and children by their interaction's sys_id), and keys that grow with time append to the end of
    /// those indexes, where random keys dirty a different page of each index on every insert, and every
    /// dirty page is written again at each commit. Still 32 lowercase hex characters, still unguessable
    /// enough for an identifier; not for secrets (use [`SysId::random`]).
    pub fn time_ordered() -> Self {
        SysId(uuid::Uuid::now_v7().simple().to_string())
    }

    /// The sys_id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The sys_id as an owned `String`.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// The rule, in the words every error uses.
pub const SYS_ID_RULE: &str = "must be a sys_id (32 lowercase hexadecimal characters)";

/// Whether `s` is 32 lowercase hexadecimal characters.
pub fn is_sys_id(s: &str) -> bool {
    s.len() == SYS_ID_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl fmt::Display for SysId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SysId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SysId({})", self.0)
    }
}

impl AsRef<str> for SysId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn random_ids_are_valid_and_distinct() {
        let a = SysId::random();
        let b = SysId::random();
        assert!(is_sys_id(a.as_str()));
        assert_ne!(a, b);
    }

    #[test]
    fn time_ordered_ids_are_valid_distinct_and_increasing() {
        let ids: Vec<SysId> = (0..1000).map(|_| SysId::time_ordered()).collect();
        assert!(ids.iter().all(|id| is_sys_id(id.as_str())));
        // uuid's v7 generator keeps a counter within a millisecond, so ids made in turn sort in turn.
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    }

    #[test]
    fn rejects_wrong_length_case_and_alphabet() {
        for bad in [
            "",
            "abc",
            "12961fff7fb2d2102d0cd3cf8c86652",
            "12961fff7fb2d2102d0cd3cf8c86652bb",
            "12961FFF7fb2d2102d0cd3cf8c86652b",
            "12961fff7fb2d2102d0cd3cf8c86652g",
            "12961fff-fb2d2102d0cd3cf8c86652b",
        ] {
            assert!(SysId::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn accepts_every_lowercase_hex_string_of_32(s in "[0-9a-f]{32}") {
            prop_assert!(SysId::parse(&s).is_ok());
        }

        #[test]
        fn rejects_anything_else(s in "\\PC{0,40}") {
            let ok = s.len() == 32 && s.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
            prop_assert_eq!(SysId::parse(&s).is_ok(), ok);
        }
    }
}
