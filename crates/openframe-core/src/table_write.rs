//! A Table API write (CONTRACT §9): the flat `{"field": value, …}` body of a `POST`, `PUT` or `PATCH` on
//! `interaction`, `sn_openframe_phone_log` or `interaction_related_record`, checked by the field rules the
//! openframe endpoints apply ([`crate::schema`]), before the service turns it into its create and update
//! inputs ([`crate::Service::table_create`], [`crate::Service::table_update`]).
//!
//! Which fields a client may name, beyond [`Access::Writable`] ones:
//! - `interaction`: the four the openframe endpoint's `interaction` object sets (`user_phone_number`,
//!   `caller_phone_number`, `client_session_id`, `inbound_id`), on create and update alike;
//! - a phone log's or related record's parent `interaction`, and a related record's `document_table` and
//!   `document_id`: required on create (they say where the record goes and what it relates), refused on
//!   update (a child never moves, and a related record is its reference).

use serde_json::Value;

use crate::error::{Error, Result};
use crate::request::{FieldValues, Mode, value_text};
use crate::schema::{
    Access, FieldDef, FieldKind, INTERACTION, PHONE_LOG, RELATED_RECORD, Table, field,
};
use crate::sys_id::is_sys_id;

/// Fields of `interaction` the openframe endpoint's `interaction` object writes, though read-only to
/// `additionalParams`.
const INTERACTION_KEYED: &[&str] = &[
    field::USER_PHONE_NUMBER,
    field::CALLER_PHONE_NUMBER,
    field::CLIENT_SESSION_ID,
    field::INBOUND_ID,
];

/// A parsed, checked Table API write of one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableWrite {
    /// The table written.
    pub table: &'static Table,
    /// Assignments, in body order; `""` clears a field. Every value obeys its field's kind, but for the
    /// references in `unresolved`.
    pub fields: FieldValues,
    /// Reference fields given by something other than a sys_id (a user name, an interaction number): the
    /// service resolves them to sys_ids ([`crate::Service::resolve_references`]) or refuses them.
    pub unresolved: Vec<&'static str>,
}

/// The tables the Table API writes.
pub fn is_writable_table(table: &Table) -> bool {
    [&INTERACTION, &PHONE_LOG, &RELATED_RECORD].contains(&table)
}

impl TableWrite {
    /// Parses and checks a body for `table` (one [`is_writable_table`] accepts). Every error names the field.
    ///
    /// ```
    /// use openframe_core::{Mode, schema::INTERACTION, table_write::TableWrite};
    /// let w = TableWrite::parse(&INTERACTION, &serde_json::json!({"duration": 30}), Mode::Update).unwrap();
    /// assert_eq!(w.fields, vec![("duration", "30".to_owned())]);
    /// let bad = TableWrite::parse(&INTERACTION, &serde_json::json!({"number": "IMS1"}), Mode::Update);
    /// assert_eq!(bad.unwrap_err().to_string(), "number: cannot be written");
    /// ```
    pub fn parse(table: &'static Table, body: &Value, mode: Mode) -> Result<Self> {
        let body = body
            .as_object()
            .ok_or_else(|| Error::invalid("body", "must be an object"))?;
        let mut write = TableWrite {
            table,
            fields: FieldValues::with_capacity(body.len()),
            unresolved: Vec::new(),
        };
        for (key, value) in body {
            let Some((_, def)) = table.field(key) else {
                return Err(Error::invalid(
                    key.as_str(),
                    format!("unknown field of {}", table.name),
                ));
            };
            if !may_write(table, def.name, def.access, mode) {
                return Err(match def.access {
                    Access::System => {
                        Error::invalid(def.name, "is a system field and cannot be written")
                    }
                    _ => Error::invalid(def.name, "cannot be written"),
                });
            }
            let mut text = value_text(plain(value, def.name)?, def.name)?;
            if text.is_empty() && must_not_be_empty(def.name) {
                return Err(Error::invalid(def.name, "cannot be cleared"));
            }
            match def.kind {
                FieldKind::Reference(_) if !text.is_empty() && !is_sys_id(&text) => {
                    write.unresolved.push(def.name);
                }
                // A choice may be given by its label, as a read with display values shows it.
                FieldKind::Choice(options) if !options.contains(&text.as_str()) => {
                    text = crate::display::choice_by_label(options, &text)
                        .ok_or_else(|| Error::invalid(def.name, def.kind.rule()))?
                        .to_owned();
                }
                kind => kind
                    .check(&text)
                    .map_err(|rule| Error::invalid(def.name, rule))?,
            }
            write.fields.push((def.name, text));
        }
        if mode == Mode::Create {
            for name in required_on_create(table) {
                if write.get(name).is_none_or(str::is_empty) {
                    return Err(Error::invalid(*name, "is required"));
                }
            }
        }
        Ok(write)
    }

    /// The value the write gives `name`, if it names it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Takes `name` out of the write, returning its value.
    pub fn take(&mut self, name: &str) -> Option<String> {
        let at = self.fields.iter().position(|(k, _)| *k == name)?;
        Some(self.fields.remove(at).1)
    }
}

/// The fields of `table` a write of this mode may name, in column order (what the OpenAPI document lists).
pub fn nameable_fields(
    table: &'static Table,
    mode: Mode,
) -> impl Iterator<Item = &'static FieldDef> {
    table
        .fields
        .iter()
        .filter(move |f| may_write(table, f.name, f.access, mode))
}

/// Whether a write may leave field `name` empty: every interaction is in some state (as `additionalParams`
/// says), and the user's phone number is what the openframe create requires.
pub fn may_clear(name: &str) -> bool {
    !must_not_be_empty(name)
}

/// Whether a client may name field `name` of `table` in a write of this mode (the module's list).
fn may_write(table: &Table, name: &str, access: Access, mode: Mode) -> bool {
    match access {
        Access::Writable => true,
        Access::System => false,
        _ if table == &INTERACTION => INTERACTION_KEYED.contains(&name),
        _ => mode == Mode::Create && required_on_create(table).contains(&name),
    }
}

/// The fields a create of `table` must name.
pub fn required_on_create(table: &Table) -> &'static [&'static str] {
    if table == &PHONE_LOG {
        &[field::INTERACTION]
    } else if table == &RELATED_RECORD {
        &[
            field::INTERACTION,
            field::DOCUMENT_TABLE,
            field::DOCUMENT_ID,
        ]
    } else {
        &[]
    }
}

/// Fields a write may not clear (see [`may_clear`]).
fn must_not_be_empty(name: &str) -> bool {
    name == field::STATE || name == field::USER_PHONE_NUMBER
}

/// A value as a scalar: itself, or the `value` (else `display_value`) of the `{"value": …,
/// "display_value": …}` object a client that read the record with `sysparm_display_value=all` may send
/// back.
fn plain<'a>(value: &'a Value, name: &str) -> Result<&'a Value> {
    let Value::Object(object) = value else {
        return Ok(value);
    };
    if let Some(key) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "value" | "display_value" | "link"))
    {
        return Err(Error::invalid(
            format!("{name}.{key}"),
            "unknown member; expected value, display_value, link",
        ));
    }
    object
        .get("value")
        .or_else(|| object.get("display_value"))
        .ok_or_else(|| Error::invalid(name, "must carry value or display_value"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(table: &'static Table, body: Value, mode: Mode) -> String {
        TableWrite::parse(table, &body, mode)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn every_rule_names_its_field() {
        let id = "59e788fbdb1b1200b6075200cf9619d2";
        let cases: Vec<(&'static Table, Value, Mode, &str)> = vec![
            (
                &INTERACTION,
                json!([]),
                Mode::Create,
                "body: must be an object",
            ),
            (
                &INTERACTION,
                json!({"colour": "x"}),
                Mode::Create,
                "colour: unknown field of interaction",
            ),
            (
                &INTERACTION,
                json!({"sys_id": id}),
                Mode::Create,
                "sys_id: is a system field",
            ),
            (
                &INTERACTION,
                json!({"sys_mod_count": 3}),
                Mode::Update,
                "sys_mod_count: is a system field",
            ),
            (
                &INTERACTION,
                json!({"number": "IMS1"}),
                Mode::Create,
                "number: cannot be written",
            ),
            (
                &INTERACTION,
                json!({"opened_by": id}),
                Mode::Update,
                "opened_by: cannot be written",
            ),
            (
                &INTERACTION,
                json!({"state": "open"}),
                Mode::Update,
                "state: must be one of new,",
            ),
            (
                &INTERACTION,
                json!({"state": ""}),
                Mode::Update,
                "state: cannot be cleared",
            ),
            (
                &INTERACTION,
                json!({"user_phone_number": null}),
                Mode::Update,
                "user_phone_number: cannot be cleared",
            ),
            (
                &INTERACTION,
                json!({"user_phone_number": "555"}),
                Mode::Create,
                "user_phone_number: must be E.164",
            ),
            (
                &INTERACTION,
                json!({"duration": -1}),
                Mode::Update,
                "duration: must be a whole number",
            ),
            (
                &INTERACTION,
                json!({"work_notes": ["a"]}),
                Mode::Update,
                "work_notes: must be a string",
            ),
            (
                &INTERACTION,
                json!({"work_notes": {"colour": 1}}),
                Mode::Update,
                "work_notes.colour: unknown member",
            ),
            (
                &INTERACTION,
                json!({"work_notes": {}}),
                Mode::Update,
                "work_notes: must carry value",
            ),
            (
                &PHONE_LOG,
                json!({"call_id": "1"}),
                Mode::Create,
                "interaction: is required",
            ),
            (
                &PHONE_LOG,
                json!({"interaction": id}),
                Mode::Update,
                "interaction: cannot be written",
            ),
            (
                &PHONE_LOG,
                json!({"interaction": id, "call_type": "inbound"}),
                Mode::Create,
                "call_type: must be one of INBOUND",
            ),
            (
                &PHONE_LOG,
                json!({"interaction": id, "start_time": "today"}),
                Mode::Create,
                "start_time: must be a UTC date-time",
            ),
            (
                &RELATED_RECORD,
                json!({"interaction": id, "document_table": "sys_user"}),
                Mode::Create,
                "document_id: is required",
            ),
            (
                &RELATED_RECORD,
                json!({"interaction": id, "document_table": "Sys User", "document_id": id}),
                Mode::Create,
                "document_table: must match",
            ),
            (
                &RELATED_RECORD,
                json!({"interaction": id, "document_table": "t", "document_id": "x"}),
                Mode::Create,
                "document_id: must be a sys_id",
            ),
            (
                &RELATED_RECORD,
                json!({"document_id": id}),
                Mode::Update,
                "document_id: cannot be written",
            ),
        ];
        for (table, body, mode, expected) in cases {
            let got = err(table, body.clone(), mode);
            assert!(
                got.starts_with(expected),
                "{body}: got {got:?}, want {expected:?}"
            );
        }
    }

    #[test]
    fn choices_may_be_given_by_label() {
        let w = TableWrite::parse(
            &INTERACTION,
            &json!({"state": "Work in Progress", "direction": "Outbound"}),
            Mode::Update,
        )
        .unwrap();
        assert_eq!(w.get("state"), Some("work_in_progress"));
        assert_eq!(w.get("direction"), Some("outbound"));
        let err = TableWrite::parse(&INTERACTION, &json!({"state": "Working"}), Mode::Update);
        assert!(
            err.unwrap_err()
                .to_string()
                .starts_with("state: must be one of")
        );
    }

    #[test]
    fn scalars_and_value_objects_become_text() {
        let body = json!({"duration": 42, "work_notes": true, "queue": null,
            "short_description": {"value": "v", "display_value": "d"}, "direction": {"display_value": "inbound"}});
        let w = TableWrite::parse(&INTERACTION, &body, Mode::Update).unwrap();
        assert_eq!(w.get("duration"), Some("42"));
        assert_eq!(w.get("work_notes"), Some("true"));
        assert_eq!(w.get("queue"), Some(""));
        assert_eq!(w.get("short_description"), Some("v"));
        assert_eq!(w.get("direction"), Some("inbound"));
        assert!(w.unresolved.is_empty());
    }

    #[test]
    fn references_by_display_value_wait_for_resolution() {
        let body =
            json!({"assigned_to": "admin", "opened_for": "59e788fbdb1b1200b6075200cf9619d2"});
        let w = TableWrite::parse(&INTERACTION, &body, Mode::Create).unwrap();
        assert_eq!(w.unresolved, ["assigned_to"]);
        let log = json!({"interaction": "IMS0001001"});
        let w = TableWrite::parse(&PHONE_LOG, &log, Mode::Create).unwrap();
        assert_eq!(w.unresolved, ["interaction"]);
    }

    #[test]
    fn only_the_three_interaction_tables_are_written() {
        assert!(is_writable_table(&PHONE_LOG));
        assert!(!is_writable_table(&crate::schema::PROVIDER_APPLICATION));
    }
}
