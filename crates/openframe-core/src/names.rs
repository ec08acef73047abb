//! Name rules: table names (`relatedRecords[].documentTable`) and context-variable keys.

/// The table-name rule, in the words every error uses.
pub const TABLE_NAME_RULE: &str = "must match [a-z][a-z0-9_]{0,79}";
/// The context-key rule, in the words every error uses.
pub const CONTEXT_KEY_RULE: &str = "must match [A-Za-z_][A-Za-z0-9_.-]{0,99}";

/// Whether `s` is a table name: `[a-z][a-z0-9_]{0,79}`.
///
/// ```
/// use openframe_core::names::is_table_name;
/// assert!(is_table_name("csm_consumer"));
/// assert!(!is_table_name("Csm"));
/// ```
pub fn is_table_name(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=80).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// Whether `s` is a context-variable key: `[A-Za-z_][A-Za-z0-9_.-]{0,99}`.
///
/// ```
/// use openframe_core::names::is_context_key;
/// assert!(is_context_key("requester_session_language"));
/// assert!(!is_context_key("1st"));
/// ```
pub fn is_context_key(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=100).contains(&b.len())
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// Whether `name` is a plain name for people to read: 1-100 characters, no control characters, no spaces at
/// either end (user names, OAuth client names).
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 100
        && !name.chars().any(char::is_control)
        && name.trim() == name
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table_name_boundaries() {
        assert!(is_table_name("a"));
        assert!(is_table_name(&format!("a{}", "b".repeat(79))));
        assert!(!is_table_name(&format!("a{}", "b".repeat(80))));
        for bad in ["", "_a", "1a", "a-b", "a.b", "A", "tablé"] {
            assert!(!is_table_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn context_key_boundaries() {
        assert!(is_context_key("_"));
        assert!(is_context_key("a.b-c_D9"));
        assert!(is_context_key(&"k".repeat(100)));
        assert!(!is_context_key(&"k".repeat(101)));
        for bad in ["", ".a", "-a", "9a", "a b", "a/b", "ключ"] {
            assert!(!is_context_key(bad), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn table_names_match_their_pattern(s in "[a-z][a-z0-9_]{0,79}") {
            prop_assert!(is_table_name(&s));
        }

        #[test]
        fn context_keys_match_their_pattern(s in "[A-Za-z_][A-Za-z0-9_.-]{0,99}") {
            prop_assert!(is_context_key(&s));
        }

        #[test]
        fn noise_is_judged_like_the_pattern(s in "[a-zA-Z0-9_.\\- ]{0,3}") {
            let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_lowercase());
            let rest_ok = s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            prop_assert_eq!(is_table_name(&s), first_ok && rest_ok);
        }
    }
}
