//! The voice-interaction request (CONTRACT §3): parsed from the JSON value tree — which the XML reader also
//! produces — into typed parts, with every rule that needs no stored data checked here, before any write.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::limits::{MAX_CONTEXT_KEYS, MAX_PHONE_LOGS, MAX_RELATED_RECORDS, MAX_VALUE_CHARS};
use crate::names::{CONTEXT_KEY_RULE, TABLE_NAME_RULE, is_context_key, is_table_name};
use crate::schema::{Access, FieldKind, INTERACTION, PHONE_LOG, Table, field};
use crate::sys_id::SYS_ID_RULE;

/// Whether the request creates (POST) or updates (PATCH) an interaction: the two differ in what is required.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// POST: `interaction.userPhoneNumber` is required.
    Create,
    /// PATCH: at least one part must carry something.
    Update,
}

/// Field assignments to one record, in request order; `""` clears a field.
pub type FieldValues = Vec<(&'static str, String)>;

/// One entry of `phoneLogs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneLogEntry {
    /// The fields it sets.
    pub fields: FieldValues,
}

impl PhoneLogEntry {
    /// The entry's `call_id`, when it gives a non-empty one: the key that updates an existing log.
    pub fn call_id(&self) -> Option<&str> {
        self.get(field::CALL_ID).filter(|v| !v.is_empty())
    }

    /// The value the entry gives field `name`, if it names it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One entry of `relatedRecords`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelatedRecordRef {
    /// The related record's table.
    pub document_table: String,
    /// The related record's sys_id.
    pub document_id: String,
}

/// A parsed, validated create or update request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VoiceInteractionRequest {
    /// Assignments to the interaction record: `userPhoneNumber` & co. under their field names, then
    /// `additionalParams`. `inbound_id` among them is resolved to a provider application by the service.
    pub interaction: FieldValues,
    /// Context variables to set; an empty value removes the variable.
    pub context: Vec<(String, String)>,
    /// Phone logs to create or update.
    pub phone_logs: Vec<PhoneLogEntry>,
    /// Related records to add.
    pub related_records: Vec<RelatedRecordRef>,
}

/// The top-level keys of a request body.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "interaction",
    "interactionContext",
    "phoneLogs",
    "relatedRecords",
];

/// The keys of `interaction` other than `additionalParams`, with the field each is stored as.
const INTERACTION_KEYS: &[(&str, &str)] = &[
    ("userPhoneNumber", field::USER_PHONE_NUMBER),
    ("callbackPhoneNumber", field::CALLER_PHONE_NUMBER),
    ("clientSessionId", field::CLIENT_SESSION_ID),
    ("inboundId", field::INBOUND_ID),
];

impl VoiceInteractionRequest {
    /// Parses and validates a request body.
    ///
    /// ```
    /// use openframe_core::{Mode, VoiceInteractionRequest};
    /// let body = serde_json::json!({"interaction": {"userPhoneNumber": "+1303506536"}});
    /// let req = VoiceInteractionRequest::parse(&body, Mode::Create).unwrap();
    /// assert_eq!(req.interaction, vec![("user_phone_number", "+1303506536".to_owned())]);
    ///
    /// let bad = serde_json::json!({"interaction": {"userPhoneNumber": "555-1234"}});
    /// let err = VoiceInteractionRequest::parse(&bad, Mode::Create).unwrap_err();
    /// assert!(err.to_string().starts_with("interaction.userPhoneNumber: must be E.164"));
    /// ```
    pub fn parse(body: &Value, mode: Mode) -> Result<Self> {
        let body = body
            .as_object()
            .ok_or_else(|| Error::invalid("body", "must be an object"))?;
        for key in body.keys() {
            if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
                return Err(Error::invalid(
                    key.as_str(),
                    format!(
                        "unknown field; expected one of {}",
                        TOP_LEVEL_KEYS.join(", ")
                    ),
                ));
            }
        }
        // A part sent as null counts as absent: clients that serialize every member of a struct send them.
        let part = |key: &str| body.get(key).filter(|v| !v.is_null());

        let mut req = VoiceInteractionRequest::default();
        let interaction = part("interaction");
        if let Some(v) = interaction {
            req.interaction = parse_interaction(object(v, "interaction")?)?;
        }
        if let Some(v) = part("interactionContext") {
            req.context = parse_context(object(v, "interactionContext")?)?;
        }
        if let Some(v) = part("phoneLogs") {
            let entries = array(v, "phoneLogs", MAX_PHONE_LOGS)?;
            req.phone_logs = entries
                .iter()
                .enumerate()
                .map(|(i, e)| parse_phone_log(e, &format!("phoneLogs[{i}]")))
                .collect::<Result<_>>()?;
        }
        if let Some(v) = part("relatedRecords") {
            let entries = array(v, "relatedRecords", MAX_RELATED_RECORDS)?;
            req.related_records = entries
                .iter()
                .enumerate()
                .map(|(i, e)| parse_related_record(e, &format!("relatedRecords[{i}]")))
                .collect::<Result<_>>()?;
        }

        match mode {
            Mode::Create => {
                if interaction.is_none() {
                    return Err(Error::invalid("interaction", "is required"));
                }
                if !req
                    .interaction
                    .iter()
                    .any(|(k, v)| *k == field::USER_PHONE_NUMBER && !v.is_empty())
                {
                    return Err(Error::invalid("interaction.userPhoneNumber", "is required"));
                }
            }
            Mode::Update => {
                if interaction.is_some() && req.interaction.is_empty() {
                    return Err(Error::invalid(
                        "interaction",
                        "must carry at least one field",
                    ));
                }
                if req.interaction.is_empty()
                    && req.context.is_empty()
                    && req.phone_logs.is_empty()
                    && req.related_records.is_empty()
                {
                    return Err(Error::invalid(
                        "body",
                        format!("must carry at least one of {}", TOP_LEVEL_KEYS.join(", ")),
                    ));
                }
            }
        }
        Ok(req)
    }
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| Error::invalid(path, "must be an object"))
}

fn array<'a>(v: &'a Value, path: &str, max: usize) -> Result<&'a [Value]> {
    let items = v
        .as_array()
        .ok_or_else(|| Error::invalid(path, "must be an array of objects"))?;
    if items.len() > max {
        return Err(Error::invalid(
            path,
            format!("must have at most {max} entries"),
        ));
    }
    Ok(items)
}

/// A scalar as the text it is stored as: strings as they are, numbers and booleans as their text, `null` as
/// `""` (which clears). Objects and arrays are refused: values are flat.
pub fn value_text(v: &Value, path: &str) -> Result<String> {
    let text = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(_) | Value::Object(_) => {
            return Err(Error::invalid(
                path,
                "must be a string, number, boolean or null",
            ));
        }
    };
    crate::schema::check_text(&text).map_err(|rule| Error::invalid(path, rule))?;
    Ok(text)
}

fn parse_interaction(obj: &Map<String, Value>) -> Result<FieldValues> {
    let mut out = FieldValues::new();
    for (key, v) in obj {
        if key == "additionalParams" {
            if !v.is_null() {
                let params = object(v, "interaction.additionalParams")?;
                let fields = parse_fields(params, &INTERACTION, "interaction.additionalParams")?;
                // Every interaction is in some state: clearing it would leave one no workflow knows.
                if fields
                    .iter()
                    .any(|(k, v)| *k == field::STATE && v.is_empty())
                {
                    return Err(Error::invalid(
                        "interaction.additionalParams.state",
                        "cannot be cleared",
                    ));
                }
                out.extend(fields);
            }
            continue;
        }
        let path = format!("interaction.{key}");
        let Some(&(_, name)) = INTERACTION_KEYS.iter().find(|(k, _)| k == key) else {
            return Err(Error::invalid(
                path,
                "unknown field; expected one of userPhoneNumber, callbackPhoneNumber, clientSessionId, inboundId, additionalParams",
            ));
        };
        let text = value_text(v, &path)?;
        if name == field::USER_PHONE_NUMBER && text.is_empty() {
            return Err(Error::invalid(path, "must not be empty"));
        }
        check_kind(&INTERACTION, name, &text, &path)?;
        out.push((name, text));
    }
    Ok(out)
}

/// Parses a map of field name to value for `table`: only writable fields, each value obeying its kind.
fn parse_fields(
    obj: &Map<String, Value>,
    table: &'static Table,
    path: &str,
) -> Result<FieldValues> {
    let mut out = FieldValues::with_capacity(obj.len());
    for (key, v) in obj {
        let fpath = format!("{path}.{key}");
        let Some((_, def)) = table.field(key) else {
            return Err(Error::invalid(
                fpath,
                format!("unknown field of {}", table.name),
            ));
        };
        match def.access {
            Access::Writable => {}
            Access::System => {
                return Err(Error::invalid(
                    fpath,
                    "is a system field and cannot be written",
                ));
            }
            Access::ReadOnly => return Err(Error::invalid(fpath, "cannot be written")),
        }
        let text = value_text(v, &fpath)?;
        def.kind
            .check(&text)
            .map_err(|rule| Error::invalid(&fpath, rule))?;
        out.push((def.name, text));
    }
    Ok(out)
}

fn check_kind(table: &Table, name: &str, text: &str, path: &str) -> Result<()> {
    let kind = table.field(name).map_or(
        FieldKind::Text {
            max_chars: MAX_VALUE_CHARS,
        },
        |(_, d)| d.kind,
    );
    kind.check(text).map_err(|rule| Error::invalid(path, rule))
}

fn parse_context(obj: &Map<String, Value>) -> Result<Vec<(String, String)>> {
    if obj.len() > MAX_CONTEXT_KEYS {
        return Err(Error::invalid(
            "interactionContext",
            format!("must have at most {MAX_CONTEXT_KEYS} keys"),
        ));
    }
    obj.iter()
        .map(|(key, v)| {
            let path = format!("interactionContext.{key}");
            if !is_context_key(key) {
                return Err(Error::invalid(path, format!("name {CONTEXT_KEY_RULE}")));
            }
            Ok((key.clone(), value_text(v, &path)?))
        })
        .collect()
}

fn parse_phone_log(v: &Value, path: &str) -> Result<PhoneLogEntry> {
    let obj = object(v, path)?;
    if obj.is_empty() {
        return Err(Error::invalid(path, "must carry at least one field"));
    }
    Ok(PhoneLogEntry {
        fields: parse_fields(obj, &PHONE_LOG, path)?,
    })
}

fn parse_related_record(v: &Value, path: &str) -> Result<RelatedRecordRef> {
    let obj = object(v, path)?;
    for key in obj.keys() {
        if key != "documentTable" && key != "documentId" {
            return Err(Error::invalid(
                format!("{path}.{key}"),
                "unknown field; expected documentTable, documentId",
            ));
        }
    }
    let required = |key: &str, ok: fn(&str) -> bool, rule: &str| -> Result<String> {
        let kpath = format!("{path}.{key}");
        let text = match obj.get(key) {
            Some(v) => value_text(v, &kpath)?,
            None => String::new(),
        };
        if text.is_empty() {
            return Err(Error::invalid(kpath, "is required"));
        }
        if !ok(&text) {
            return Err(Error::invalid(kpath, rule));
        }
        Ok(text)
    };
    Ok(RelatedRecordRef {
        document_table: required("documentTable", is_table_name, TABLE_NAME_RULE)?,
        document_id: required("documentId", crate::sys_id::is_sys_id, SYS_ID_RULE)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(body: Value, mode: Mode) -> String {
        VoiceInteractionRequest::parse(&body, mode)
            .unwrap_err()
            .to_string()
    }

    fn reference_post() -> Value {
        json!({
            "interaction": {
                "userPhoneNumber": "+1303506536",
                "clientSessionId": "a545t65678",
                "callbackPhoneNumber": "+14089965744",
                "additionalParams": {
                    "direction": "inbound",
                    "short_description": "New outbound call",
                    "assigned_to": "a8f98bb0eb32010045e1a5115206fe3a"
                }
            },
            "interactionContext": {"devicetype": "genesys", "requester_session_language": "en-US"},
            "phoneLogs": [
                {"call_id": "2323223", "agent": "a8f98bb0eb32010045e1a5115206fe3a", "start_time": "2024-11-04 21:45:00"},
                {"call_id": "33535353", "agent": "a8f98bb0eb32010045e1a5115206fe3a", "start_time": "2024-11-04 21:45:00"}
            ],
            "relatedRecords": [
                {"documentTable": "csm_consumer", "documentId": "59e788fbdb1b1200b6075200cf9619d2"}
            ]
        })
    }

    #[test]
    fn parses_the_reference_example() {
        let req = VoiceInteractionRequest::parse(&reference_post(), Mode::Create).unwrap();
        assert!(
            req.interaction
                .contains(&("caller_phone_number", "+14089965744".into()))
        );
        assert!(
            req.interaction
                .contains(&("short_description", "New outbound call".into()))
        );
        assert_eq!(req.context.len(), 2);
        assert_eq!(req.phone_logs.len(), 2);
        assert_eq!(req.phone_logs[1].call_id(), Some("33535353"));
        assert_eq!(req.related_records[0].document_table, "csm_consumer");
    }

    #[test]
    fn every_rule_names_its_field() {
        let cases: Vec<(Value, Mode, &str)> = vec![
            (json!([]), Mode::Create, "body: must be an object"),
            (
                json!({"interactoin": {}}),
                Mode::Create,
                "interactoin: unknown field",
            ),
            (json!({}), Mode::Create, "interaction: is required"),
            (
                json!({"interaction": {}}),
                Mode::Create,
                "interaction.userPhoneNumber: is required",
            ),
            (
                json!({"interaction": []}),
                Mode::Create,
                "interaction: must be an object",
            ),
            (
                json!({"interaction": {"userPhoneNumber": "+0123"}}),
                Mode::Create,
                "interaction.userPhoneNumber: must be E.164",
            ),
            (
                json!({"interaction": {"userPhoneNumber": ""}}),
                Mode::Update,
                "interaction.userPhoneNumber: must not be empty",
            ),
            (
                json!({"interaction": {"callbackPhoneNumber": "12"}}),
                Mode::Update,
                "interaction.callbackPhoneNumber: must be E.164",
            ),
            (
                json!({"interaction": {"phone": "+12"}}),
                Mode::Update,
                "interaction.phone: unknown field",
            ),
            (
                json!({"interaction": {"clientSessionId": {"a": 1}}}),
                Mode::Update,
                "interaction.clientSessionId: must be a string",
            ),
            (
                json!({"interaction": {"clientSessionId": "x".repeat(4001)}}),
                Mode::Update,
                "interaction.clientSessionId: must be at most 4000 characters",
            ),
            (
                json!({"interaction": {"additionalParams": []}}),
                Mode::Update,
                "interaction.additionalParams: must be an object",
            ),
            (
                json!({"interaction": {"additionalParams": {"state": "open"}}}),
                Mode::Update,
                "interaction.additionalParams.state: must be one of new,",
            ),
            (
                json!({"interaction": {"additionalParams": {"state": null}}}),
                Mode::Update,
                "interaction.additionalParams.state: cannot be cleared",
            ),
            (
                json!({"interaction": {"additionalParams": {"direction": "sideways"}}}),
                Mode::Update,
                "interaction.additionalParams.direction: must be one of inbound, outbound",
            ),
            (
                json!({"interaction": {"additionalParams": {"short_description": "x".repeat(161)}}}),
                Mode::Update,
                "interaction.additionalParams.short_description: must be at most 160 characters",
            ),
            (
                json!({"interaction": {"additionalParams": {"assigned_to": "bob"}}}),
                Mode::Update,
                "interaction.additionalParams.assigned_to: must be a sys_id",
            ),
            (
                json!({"interaction": {"additionalParams": {"closed_at": "yesterday"}}}),
                Mode::Update,
                "interaction.additionalParams.closed_at: must be a UTC date-time",
            ),
            (
                json!({"interaction": {"additionalParams": {"duration": "5m"}}}),
                Mode::Update,
                "interaction.additionalParams.duration: must be a whole number",
            ),
            (
                json!({"interaction": {"additionalParams": {"sys_id": "x"}}}),
                Mode::Update,
                "interaction.additionalParams.sys_id: is a system field",
            ),
            (
                json!({"interaction": {"additionalParams": {"number": "IMS1"}}}),
                Mode::Update,
                "interaction.additionalParams.number: cannot be written",
            ),
            (
                json!({"interaction": {"additionalParams": {"opened_by": "x"}}}),
                Mode::Update,
                "interaction.additionalParams.opened_by: cannot be written",
            ),
            (
                json!({"interaction": {"additionalParams": {"colour": "x"}}}),
                Mode::Update,
                "interaction.additionalParams.colour: unknown field of interaction",
            ),
            (
                json!({"interaction": {"additionalParams": {"work_notes": ["a"]}}}),
                Mode::Update,
                "interaction.additionalParams.work_notes: must be a string",
            ),
            (
                json!({"interaction": {}}),
                Mode::Update,
                "interaction: must carry at least one field",
            ),
            (json!({}), Mode::Update, "body: must carry at least one of"),
            (
                json!({"phoneLogs": []}),
                Mode::Update,
                "body: must carry at least one of",
            ),
            (
                json!({"interactionContext": []}),
                Mode::Update,
                "interactionContext: must be an object",
            ),
            (
                json!({"interactionContext": {"1bad": "x"}}),
                Mode::Update,
                "interactionContext.1bad: name must match",
            ),
            (
                json!({"interactionContext": {"k": {"nested": 1}}}),
                Mode::Update,
                "interactionContext.k: must be a string",
            ),
            (
                json!({"phoneLogs": {}}),
                Mode::Update,
                "phoneLogs: must be an array",
            ),
            (
                json!({"phoneLogs": ["x"]}),
                Mode::Update,
                "phoneLogs[0]: must be an object",
            ),
            (
                json!({"phoneLogs": [{}]}),
                Mode::Update,
                "phoneLogs[0]: must carry at least one field",
            ),
            (
                json!({"phoneLogs": [{"call_id": "1"}, {"call_type": "inbound"}]}),
                Mode::Update,
                "phoneLogs[1].call_type: must be one of INBOUND, OUTBOUND",
            ),
            (
                json!({"phoneLogs": [{"start_time": "2024-11-04T21:45:00Z"}]}),
                Mode::Update,
                "phoneLogs[0].start_time: must be a UTC date-time",
            ),
            (
                json!({"phoneLogs": [{"end_time": "2024-02-30 00:00:00"}]}),
                Mode::Update,
                "phoneLogs[0].end_time: must be a UTC date-time",
            ),
            (
                json!({"phoneLogs": [{"duration": -5}]}),
                Mode::Update,
                "phoneLogs[0].duration: must be a whole number",
            ),
            (
                json!({"phoneLogs": [{"phone_number": "+1-303"}]}),
                Mode::Update,
                "phoneLogs[0].phone_number: must be E.164",
            ),
            (
                json!({"phoneLogs": [{"agent": "Alice"}]}),
                Mode::Update,
                "phoneLogs[0].agent: must be a sys_id",
            ),
            (
                json!({"phoneLogs": [{"contact": "x"}]}),
                Mode::Update,
                "phoneLogs[0].contact: must be a sys_id",
            ),
            (
                json!({"phoneLogs": [{"interaction": "x"}]}),
                Mode::Update,
                "phoneLogs[0].interaction: cannot be written",
            ),
            (
                json!({"phoneLogs": [{"sys_mod_count": "3"}]}),
                Mode::Update,
                "phoneLogs[0].sys_mod_count: is a system field",
            ),
            (
                json!({"phoneLogs": [{"callid": "3"}]}),
                Mode::Update,
                "phoneLogs[0].callid: unknown field of sn_openframe_phone_log",
            ),
            (
                json!({"relatedRecords": [{"documentTable": "sys_user"}]}),
                Mode::Update,
                "relatedRecords[0].documentId: is required",
            ),
            (
                json!({"relatedRecords": [{"documentId": "59e788fbdb1b1200b6075200cf9619d2"}]}),
                Mode::Update,
                "relatedRecords[0].documentTable: is required",
            ),
            (
                json!({"relatedRecords": [{"documentTable": "Sys User", "documentId": "59e788fbdb1b1200b6075200cf9619d2"}]}),
                Mode::Update,
                "relatedRecords[0].documentTable: must match",
            ),
            (
                json!({"relatedRecords": [{"documentTable": "sys_user", "documentId": "x"}]}),
                Mode::Update,
                "relatedRecords[0].documentId: must be a sys_id",
            ),
            (
                json!({"relatedRecords": [{"documentTable": "sys_user", "documentId": "59e788fbdb1b1200b6075200cf9619d2", "x": 1}]}),
                Mode::Update,
                "relatedRecords[0].x: unknown field",
            ),
        ];
        for (body, mode, expected) in cases {
            let got = err(body.clone(), mode);
            assert!(
                got.starts_with(expected),
                "{body}: got {got:?}, want {expected:?}"
            );
        }
    }

    #[test]
    fn limits_name_their_part() {
        let logs: Vec<Value> = (0..501)
            .map(|i| json!({"call_id": i.to_string()}))
            .collect();
        assert!(
            err(json!({"phoneLogs": logs}), Mode::Update)
                .starts_with("phoneLogs: must have at most 500 entries")
        );
        let rr: Vec<Value> = (0..501)
            .map(
                |_| json!({"documentTable": "t", "documentId": "59e788fbdb1b1200b6075200cf9619d2"}),
            )
            .collect();
        assert!(
            err(json!({"relatedRecords": rr}), Mode::Update)
                .starts_with("relatedRecords: must have at most 500")
        );
        let ctx: Map<String, Value> = (0..257).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert!(
            err(json!({"interactionContext": ctx}), Mode::Update)
                .starts_with("interactionContext: must have at most 256 keys")
        );
        assert!(
            err(
                json!({"interactionContext": {"k": "é".repeat(4001)}}),
                Mode::Update
            )
            .starts_with("interactionContext.k: must be at most 4000 characters")
        );
        // 4000 multi-byte characters are within the limit.
        let ok = json!({"interactionContext": {"k": "é".repeat(4000)}});
        assert!(VoiceInteractionRequest::parse(&ok, Mode::Update).is_ok());
    }

    #[test]
    fn scalars_become_text_and_null_clears() {
        let body = json!({
            "interaction": {"additionalParams": {"duration": 42, "work_notes": true, "queue": null}},
            "interactionContext": {"retries": 3, "gone": null},
            "phoneLogs": [{"call_id": 2323223}]
        });
        let req = VoiceInteractionRequest::parse(&body, Mode::Update).unwrap();
        assert!(req.interaction.contains(&("duration", "42".into())));
        assert!(req.interaction.contains(&("work_notes", "true".into())));
        assert!(req.interaction.contains(&("queue", String::new())));
        assert!(req.context.contains(&("retries".into(), "3".into())));
        assert!(req.context.contains(&("gone".into(), String::new())));
        assert_eq!(req.phone_logs[0].call_id(), Some("2323223"));
    }

    #[test]
    fn null_parts_are_absent() {
        let body = json!({"interaction": {"userPhoneNumber": "+12"}, "phoneLogs": null, "relatedRecords": null});
        assert!(VoiceInteractionRequest::parse(&body, Mode::Create).is_ok());
    }
}
