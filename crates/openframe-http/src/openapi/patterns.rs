//! The value rules of `openframe_core` written as regular expressions, for the document's `pattern`s.
//!
//! Core checks values with plain functions (`is_e164`, `is_sys_id`, `DateTime::parse`, …) and keeps no regex;
//! the document needs one per rule so that clients and schema-driven tests generate the values the server
//! takes. The tests below hold each pattern to its core function, both ways, so the two cannot drift apart.
//! The syntax is the common subset of ECMA-262 (what JSON Schema means), Python's `re` and Rust's `regex`.

use openframe_core::schema::{FieldKind, Table};

/// A sys_id: 32 lowercase hexadecimal characters (`openframe_core::sys_id::is_sys_id`).
pub const SYS_ID: &str = "[0-9a-f]{32}";

/// An E.164 number by format: `+`, a digit 1-9, 1 to 14 more digits (`openframe_core::phone::is_e164`).
pub const E164: &str = r"\+[1-9][0-9]{1,14}";

/// A year 0001-9999.
const YEAR: &str = "(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])";
/// A leap year 0001-9999: divisible by 4 and not by 100, or by 400.
const LEAP_YEAR: &str =
    "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)";

/// A calendar date `yyyy-MM-dd` that exists.
fn date() -> String {
    let month_day = "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])\
                     |(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)\
                     |02-(?:0[1-9]|1[0-9]|2[0-8]))";
    format!("(?:{YEAR}-{month_day}|{LEAP_YEAR}-02-29)")
}

/// A time of day `HH:mm:ss`.
const TIME: &str = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]";

/// A UTC date-time `yyyy-MM-dd HH:mm:ss` that exists in the calendar (`openframe_core::DateTime::parse`).
pub fn date_time() -> String {
    format!("{} {TIME}", date())
}

/// A table name: `[a-z][a-z0-9_]{0,79}` (`openframe_core::names::is_table_name`).
pub const TABLE_NAME: &str = "[a-z][a-z0-9_]{0,79}";

/// A context-variable key (`openframe_core::names::is_context_key`).
pub const CONTEXT_KEY: &str = "[A-Za-z_][A-Za-z0-9_.-]{0,99}";

/// Text without NUL characters, which no store keeps (`openframe_core::request::value_text`).
pub const NO_NUL: &str = "[^\\x00]*";

/// Whole seconds as text: up to 12 digits (`FieldKind::Seconds`).
pub const SECONDS: &str = "[0-9]{0,12}";

/// `sysparm_query` of `table` (`openframe_core::query::TableQuery::parse`): tokens separated by `^` (empty
/// ones skipped): `ORDERBY[DESC]field` anywhere; conditions `field<op>operand`, where the operand runs to the
/// next `^` and, for `<`, `<=`, `>`, `>=` and `BETWEEN`, must be a whole number on a number field, a date-time
/// (or `javascript:gs.dateGenerate(…)`) on a date-time field, and not empty otherwise; `NQ`, alone or before
/// a condition, starts a new query; a condition prefixed `OR` must follow a condition of its query.
pub fn encoded_query(table: &Table) -> String {
    let names = || table.field_names().collect::<Vec<_>>().join("|");
    let field = format!("(?:{})", names());
    let generated = format!(
        r#"javascript:gs\.dateGenerate\((?:'{d}','(?:{TIME}|start|end)'|'{dt}'|"{dt}")\)"#,
        d = date(),
        dt = date_time()
    );
    let condition = table
        .fields
        .iter()
        .map(|def| {
            // `one` after `<=`/`>=`, `after_strict` after `<`/`>` (not starting with `=`, which would make
            // it the other operator), `low` before BETWEEN's `@`.
            let (one, after_strict, low) =
                if openframe_core::query::compares_as_number(table, def.name) {
                    let n = "[0-9]+".to_owned();
                    (n.clone(), n.clone(), n)
                } else if def.kind == FieldKind::DateTime {
                    let t = format!("(?:{}|{generated})", date_time());
                    (t.clone(), t.clone(), t)
                } else {
                    (
                        "[^^]+".to_owned(),
                        "[^^=][^^]*".to_owned(),
                        "[^^@]+".to_owned(),
                    )
                };
            format!(
                "{name}(?:ISNOTEMPTY|ISEMPTY|EMPTYSTRING|ANYTHING\
                 |(?:STARTSWITH|ENDSWITH|NOT LIKE|NOT IN|LIKE|IN|!=|=)[^^]*\
                 |(?:NSAMEAS|SAMEAS){field}|(?:<=|>=){one}|(?:<|>){after_strict}|BETWEEN{low}@{one})",
                name = def.name
            )
        })
        .chain(
            // Computed fields (`interaction.active`) take true or false, in any case.
            openframe_core::computed::computed_fields(table)
                .iter()
                .map(|name| {
                    format!(
                        "{name}(?:ISNOTEMPTY|ISEMPTY|EMPTYSTRING|ANYTHING|(?:!=|=){b}\
                         |(?:NOT IN|IN){b}(?:,{b})*)",
                        b = format_args!("(?:{BOOLEAN_TEXT})")
                    )
                }),
        )
        .collect::<Vec<_>>()
        .join("|");
    let condition = format!("(?:{condition})");
    let order = format!("ORDERBY(?:DESC)?{field}");
    let end = r"(?:\^+|$)";
    // Tokens each followed by `^`s or the end, in two states: no condition yet in the current query (A), and
    // some (B), where `OR` may follow.
    let stay_a = format!("(?:(?:{order}|NQ){end})");
    let to_b = format!("(?:(?:NQ)?{condition}{end})");
    let stay_b = format!("(?:(?:{order}|(?:NQ|OR)?{condition}){end})");
    let to_a = format!("(?:NQ{end})");
    format!(
        r"\^*{stay_a}*(?:{to_b}{stay_b}*(?:{to_a}{stay_a}*{to_b}{stay_b}*)*(?:{to_a}{stay_a}*)?)?"
    )
}

/// `sysparm_fields` of `table` (`openframe_core::query::parse_field_list`): field names separated by commas,
/// spaces or tabs around each, empty items skipped (so an empty list means every field).
pub fn field_list(table: &Table) -> String {
    let computed = openframe_core::computed::computed_fields(table)
        .iter()
        .copied();
    names_list(&table.field_names().chain(computed).collect::<Vec<_>>())
}

/// A comma list of these names, as [`field_list`] reads it (`sysparm_avg_fields`: the number fields).
pub fn names_list(names: &[&str]) -> String {
    let field = format!("(?:{})", names.join("|"));
    format!("[ \t]*(?:{field}[ \t]*)?(?:,[ \t]*(?:{field}[ \t]*)?)*")
}

/// `true` or `false` in any case, or nothing (which means false): `sysparm_exclude_reference_link`.
pub const BOOLEAN_TEXT: &str = "[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]";

/// `true`, `false` or `all` in any case, or nothing (false): `sysparm_display_value`
/// (`openframe_core::display::DisplayMode::parse`).
pub const DISPLAY_MODE_TEXT: &str = "[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Aa][Ll][Ll]";

/// The whole value must match: `^(?:…)$`.
pub fn whole(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}

/// The whole value must match, or be empty (which clears a field): `^(?:…)?$`.
pub fn whole_or_empty(pattern: &str) -> String {
    format!("^(?:{pattern})?$")
}

#[cfg(test)]
mod tests {
    use super::*;
    use openframe_core::DateTime;
    use openframe_core::names::{is_context_key, is_table_name};
    use openframe_core::phone::is_e164;
    use openframe_core::query::{TableQuery, parse_field_list};
    use openframe_core::schema::INTERACTION;
    use openframe_core::sys_id::is_sys_id;
    use proptest::prelude::*;
    use regex::Regex;

    fn re(pattern: &str) -> Regex {
        Regex::new(&whole(pattern)).expect("pattern compiles")
    }

    #[test]
    fn date_time_pattern_is_the_calendar() {
        let pattern = re(&date_time());
        // Every day of years that test each leap rule, at the edges of the clock.
        for year in [1, 4, 100, 400, 1900, 1999, 2000, 2023, 2024, 2100, 9999] {
            for month in 0..=13 {
                for day in 0..=32 {
                    for time in ["00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60"] {
                        let text = format!("{year:04}-{month:02}-{day:02} {time}");
                        assert_eq!(
                            pattern.is_match(&text),
                            DateTime::parse(&text).is_some(),
                            "{text}"
                        );
                    }
                }
            }
        }
        for text in [
            "0000-01-01 00:00:00",
            "2024-1-01 00:00:00",
            "2024-01-01T00:00:00",
        ] {
            assert!(!pattern.is_match(text), "{text}");
        }
    }

    proptest! {
        #[test]
        fn date_times_the_pattern_makes_parse(text in date_time_strategy()) {
            prop_assert!(DateTime::parse(&text).is_some(), "{}", text);
        }

        #[test]
        fn near_date_times_agree(text in "[0-9]{4}-[0-2][0-9]-[0-3][0-9] [0-2][0-9]:[0-6][0-9]:[0-6][0-9]") {
            prop_assert_eq!(re(&date_time()).is_match(&text), DateTime::parse(&text).is_some(), "{}", text);
        }

        #[test]
        fn sys_ids_agree(text in "[0-9a-gA-F]{30,34}") {
            prop_assert_eq!(re(SYS_ID).is_match(&text), is_sys_id(&text), "{}", text);
        }

        #[test]
        fn phone_numbers_agree(text in r"\+?[0-9a]{0,17}") {
            prop_assert_eq!(re(E164).is_match(&text), is_e164(&text), "{}", text);
        }

        #[test]
        fn table_names_agree(text in "[a-zA-Z0-9_.-]{0,82}") {
            prop_assert_eq!(re(TABLE_NAME).is_match(&text), is_table_name(&text), "{}", text);
        }

        #[test]
        fn context_keys_agree(text in "[a-zA-Z0-9_. /-]{0,102}") {
            prop_assert_eq!(re(CONTEXT_KEY).is_match(&text), is_context_key(&text), "{}", text);
        }
    }

    /// Queries built from pieces of the grammar, right and wrong, so that both answers are common.
    fn query_strategy() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "state",
            "number",
            "short_description",
            "sys_id",
            "nofield",
            "=",
            "!=",
            "LIKE",
            "STARTSWITH",
            "ISEMPTY",
            "ISNOTEMPTY",
            "IN",
            "NOT IN",
            "ENDSWITH",
            "NOT LIKE",
            "ANYTHING",
            "BETWEEN",
            "SAMEAS",
            "NSAMEAS",
            "<",
            ">=",
            "@",
            "duration",
            "opened_at",
            "9",
            "2024-01-01 00:00:00",
            "javascript:gs.dateGenerate('2024-01-01','start')",
            "javascript:gs.dateGenerate(\"2024-01-01 00:00:00\")",
            "ORDERBY",
            "ORDERBYDESC",
            "OR",
            "NQ",
            "^",
            "^",
            "^OR",
            "new",
            "active",
            "true",
            "FALSE",
            ",",
            "x y",
            "IMS",
            "",
            "Q",
        ]);
        prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn encoded_queries_agree(query in query_strategy()) {
            // Compiled once: the interaction table's pattern is large.
            static PATTERN: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
            let pattern = PATTERN.get_or_init(|| re(&encoded_query(&INTERACTION)));
            let parsed = TableQuery::parse(&INTERACTION, Some(&query), None, None);
            prop_assert_eq!(pattern.is_match(&query), parsed.is_ok(), "{:?}: {:?}", query, parsed);
        }
    }

    proptest! {
        #[test]
        fn field_lists_agree(list in field_list_strategy()) {
            let pattern = re(&field_list(&INTERACTION));
            let parsed = parse_field_list(&INTERACTION, &list);
            prop_assert_eq!(pattern.is_match(&list), parsed.is_ok(), "{:?}: {:?}", list, parsed);
        }
    }

    proptest! {
        #[test]
        fn display_modes_agree(text in "(?:[tT][rR]?[uU]?[eE]?|[fF][aA][lL][sS][eE]|[aA][lL]{0,3}| |x){0,2}") {
            let parsed = openframe_core::display::DisplayMode::parse(Some(&text));
            prop_assert_eq!(re(&format!("(?:{DISPLAY_MODE_TEXT})?")).is_match(&text), parsed.is_ok(), "{:?}", text);
        }
    }

    fn field_list_strategy() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "number", "state", "sys_id", "active", "nofield", ",", ",", " ", "\t", "", "Number",
            "x",
        ]);
        prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
    }

    #[test]
    fn encoded_query_examples() {
        let pattern = re(&encoded_query(&INTERACTION));
        for ok in [
            "",
            "^",
            "state=new",
            "state=new^ORstate=queued^ORDERBYDESCnumber",
            "ORDERBYnumber^state!=",
            "queueISEMPTY^^assigned_toISNOTEMPTY^",
            "short_descriptionLIKEa=b!c",
            "NQstate=new",
            "state=new^NQ^NQduration>9^ORduration<=010^NQ",
            "stateINnew,queued^stateNOT INx^short_descriptionNOT LIKEy^numberENDSWITH1",
            "queueANYTHING^queueEMPTYSTRING^stateSAMEASdirection^stateNSAMEASqueue",
            "durationBETWEEN1@20^short_descriptionBETWEENa@b@c",
            "opened_at>javascript:gs.dateGenerate('2024-02-29','end')",
            "opened_atBETWEEN2024-01-01 00:00:00@javascript:gs.dateGenerate('2024-12-31','23:59:59')",
            "state=javascript:gs.dateGenerate('x','y')",
        ] {
            assert!(pattern.is_match(ok), "{ok}");
            assert!(
                TableQuery::parse(&INTERACTION, Some(ok), None, None).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "ORstate=new",
            "ORDERBYnumber^ORstate=new",
            "state",
            "queueISEMPTYx",
            "State=new",
            "state=a^NQ^ORstate=b",
            "duration>x",
            "durationBETWEEN1",
            "opened_at<2024-02-30 00:00:00",
            "stateSAMEASnope",
            "short_description<",
        ] {
            assert!(!pattern.is_match(bad), "{bad}");
            assert!(
                TableQuery::parse(&INTERACTION, Some(bad), None, None).is_err(),
                "{bad}"
            );
        }
    }

    fn date_time_strategy() -> impl Strategy<Value = String> {
        proptest::string::string_regex(&date_time()).expect("pattern is a strategy")
    }
}
