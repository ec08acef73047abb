//! The E.164 phone-number rule.
//!
//! Only the format is checked — `+`, a digit 1-9, then 1 to 14 more digits — not the numbering plan: the
//! reference's own example `+1303506536` is one digit short of a real North American number and must pass.

/// The rule, in the words every error uses.
pub const E164_RULE: &str = "must be E.164 (+ then 2-15 digits, the first not 0)";

/// Whether `s` is an E.164 number by format.
///
/// ```
/// use openframe_core::phone::is_e164;
/// assert!(is_e164("+1303506536"));
/// assert!(!is_e164("13035065360"));
/// ```
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    let bytes = digits.as_bytes();
    (2..=15).contains(&bytes.len())
        && matches!(bytes[0], b'1'..=b'9')
        && bytes.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reference_examples_pass() {
        assert!(is_e164("+1303506536"));
        assert!(is_e164("+14089965744"));
    }

    #[test]
    fn boundaries() {
        assert!(is_e164("+12"));
        assert!(!is_e164("+1"));
        assert!(is_e164("+123456789012345"));
        assert!(!is_e164("+1234567890123456"));
        assert!(!is_e164("+0123"));
        assert!(!is_e164("+1 303 506"));
        assert!(!is_e164("+"));
        assert!(!is_e164(""));
        assert!(!is_e164("+١٢٣٤")); // non-ASCII digits
    }

    proptest! {
        #[test]
        fn accepts_the_format(s in "\\+[1-9][0-9]{1,14}") {
            prop_assert!(is_e164(&s));
        }

        #[test]
        fn agrees_with_a_regex_on_noise(s in "\\+?[0-9a ]{0,18}") {
            let expect = s.starts_with('+')
                && s.len() >= 3 && s.len() <= 16
                && s[1..].bytes().all(|b| b.is_ascii_digit())
                && !s[1..].starts_with('0');
            prop_assert_eq!(is_e164(&s), expect);
        }
    }
}
