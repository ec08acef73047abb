//! Interaction numbers: `IMS` then at least seven digits, zero-padded, unique and increasing.

/// The counter value of the first interaction a store creates (`IMS0001001`).
pub const FIRST_NUMBER: u64 = 1001;

/// The number's prefix.
pub const PREFIX: &str = "IMS";

/// Formats counter value `n` as an interaction number.
///
/// ```
/// use openframe_core::number::{format_number, FIRST_NUMBER};
/// assert_eq!(format_number(FIRST_NUMBER), "IMS0001001");
/// assert_eq!(format_number(12_345_678), "IMS12345678");
/// ```
pub fn format_number(n: u64) -> String {
    format!("{PREFIX}{n:07}")
}

/// The counter value of an interaction number, if `s` is one.
pub fn parse_number(s: &str) -> Option<u64> {
    let digits = s.strip_prefix(PREFIX)?;
    if digits.len() < 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_number() {
        assert_eq!(format_number(FIRST_NUMBER), "IMS0001001");
    }

    proptest! {
        #[test]
        fn round_trips_and_keeps_order(a in FIRST_NUMBER..u64::MAX / 2, b in FIRST_NUMBER..u64::MAX / 2) {
            prop_assert_eq!(parse_number(&format_number(a)), Some(a));
            // Numbers compare like their counters while they have the same width, which is what a
            // client sorting `IMS…` strings sees for the first nine million interactions.
            if format_number(a).len() == format_number(b).len() {
                prop_assert_eq!(a.cmp(&b), format_number(a).cmp(&format_number(b)));
            }
        }
    }
}
