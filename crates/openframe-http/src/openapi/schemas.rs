//! The document's schemas, written from `openframe_core`'s own tables and limits: the request bodies accept
//! exactly what `VoiceInteractionRequest::parse` accepts, so that generated requests are realistic, and the
//! response schemas describe what the handlers and the renderer write.

use openframe_core::Mode;
use openframe_core::limits::{
    MAX_CONTEXT_KEYS, MAX_PHONE_LOGS, MAX_PHONE_LOGS_PER_INTERACTION, MAX_RELATED_RECORDS,
    MAX_RELATED_RECORDS_PER_INTERACTION, MAX_VALUE_CHARS,
};
use openframe_core::schema::{self, Access, FieldKind, INTERACTION, PHONE_LOG, Table};
use openframe_core::table_write::{
    is_writable_table, may_clear, nameable_fields, required_on_create,
};
use serde_json::json;
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::xml::XmlBuilder;
use utoipa::openapi::{Ref, RefOr};

use super::patterns;

/// A `$ref` to the component schema `name`.
pub fn reference(name: &str) -> RefOr<Schema> {
    Ref::from_schema_name(name).into()
}

/// Component names, so that a typo is a compile error rather than a dangling `$ref`.
pub mod name {
    #![allow(missing_docs)]
    pub const CREATE_REQUEST: &str = "CreateVoiceInteraction";
    pub const UPDATE_REQUEST: &str = "UpdateVoiceInteraction";
    pub const INTERACTION_ON_CREATE: &str = "InteractionOnCreate";
    pub const INTERACTION_ON_UPDATE: &str = "InteractionOnUpdate";
    pub const ADDITIONAL_PARAMS: &str = "AdditionalParams";
    pub const CONTEXT: &str = "InteractionContext";
    pub const PHONE_LOG_ENTRY: &str = "PhoneLogEntry";
    pub const RELATED_RECORD_REF: &str = "RelatedRecordRef";
    pub const CREATE_RESULT: &str = "CreateResult";
    pub const UPDATE_RESULT: &str = "UpdateResult";
    pub const VOICE_INTERACTION: &str = "VoiceInteractionResult";
    pub const ERROR: &str = "Error";
    pub const HEALTH: &str = "Health";
    pub const REFERENCE_LINK: &str = "ReferenceLink";
    pub const DISPLAY_VALUE: &str = "DisplayValue";
    pub const STATS: &str = "Stats";
    pub const STATS_RESULT: &str = "StatsResult";
}

/// Every component schema, by name.
pub fn components() -> Vec<(String, RefOr<Schema>)> {
    let mut out: Vec<(String, RefOr<Schema>)> = vec![
        (name::CREATE_REQUEST.into(), create_request()),
        (name::UPDATE_REQUEST.into(), update_request()),
        (name::INTERACTION_ON_CREATE.into(), interaction_part(true)),
        (name::INTERACTION_ON_UPDATE.into(), interaction_part(false)),
        (name::ADDITIONAL_PARAMS.into(), additional_params()),
        (name::CONTEXT.into(), context()),
        (name::PHONE_LOG_ENTRY.into(), phone_log_entry()),
        (name::RELATED_RECORD_REF.into(), related_record_ref()),
        (name::CREATE_RESULT.into(), create_result()),
        (name::UPDATE_RESULT.into(), update_result()),
        (name::VOICE_INTERACTION.into(), voice_interaction()),
        (name::ERROR.into(), error()),
        (name::HEALTH.into(), health()),
        (name::REFERENCE_LINK.into(), reference_link()),
        (name::DISPLAY_VALUE.into(), display_value()),
        (name::STATS.into(), stats()),
        (name::STATS_RESULT.into(), stats_result()),
    ];
    for table in schema::TABLES {
        if is_writable_table(table) {
            out.push((
                write_name(table, Mode::Create),
                table_write(table, Mode::Create),
            ));
            out.push((
                write_name(table, Mode::Update),
                table_write(table, Mode::Update),
            ));
        }
        out.push((record_name(table), record(table)));
    }
    for table in schema::TABLES.into_iter().chain([&schema::SYS_USER]) {
        out.push((row_name(table), table_row(table)));
        out.push((row_list_name(table), table_rows(table)));
        out.push((row_result_name(table), table_row_result(table)));
    }
    out
}

/// `<response>` is the root element of every XML body the server writes (CONTRACT §3).
fn xml_root() -> Option<utoipa::openapi::xml::Xml> {
    Some(XmlBuilder::new().name(Some("response")).build())
}

/// `{"result": <inner>}`, `<response><result>…</result></response>` in XML.
fn envelope(inner: RefOr<Schema>, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .description(Some(description))
        .property("result", inner)
        .required("result")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .xml(xml_root())
        .into()
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn closed_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

/// The types a request value may have: numbers and booleans are taken as their text, `null` clears.
fn scalar_types(nullable: bool) -> SchemaType {
    let mut types = vec![Type::String, Type::Number, Type::Boolean];
    if nullable {
        types.push(Type::Null);
    }
    SchemaType::Array(types)
}

/// A string-or-null value whose text must match `pattern` (an empty string clears).
fn patterned_or_null(pattern: &str, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
        .pattern(Some(patterns::whole_or_empty(pattern)))
        .description(Some(description))
        .into()
}

/// Free text up to `max` characters; numbers and booleans count as their text.
fn free_text(max: usize, nullable: bool) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(scalar_types(nullable))
        .max_length(Some(max))
        .pattern(Some(patterns::whole(patterns::NO_NUL)))
        .into()
}

/// The schema of a value a request gives a writable field of this kind: what `FieldKind::check` accepts
/// after `value_text` has made text of it.
fn request_value(field: &str, kind: FieldKind) -> RefOr<Schema> {
    match kind {
        FieldKind::Text { max_chars } => free_text(max_chars, true),
        FieldKind::Choice(options) => {
            let mut values: Vec<serde_json::Value> = options.iter().map(|o| json!(o)).collect();
            // Every interaction is in some state: `state` alone cannot be cleared.
            let clearable = field != schema::field::STATE;
            if clearable {
                values.push(json!(""));
                values.push(serde_json::Value::Null);
            }
            let types = if clearable {
                SchemaType::Array(vec![Type::String, Type::Null])
            } else {
                SchemaType::Type(Type::String)
            };
            ObjectBuilder::new()
                .schema_type(types)
                .enum_values(Some(values))
                .into()
        }
        FieldKind::Reference(table) => patterned_or_null(
            patterns::SYS_ID,
            &format!("sys_id of a {table} record; empty or null clears"),
        ),
        FieldKind::SysId => patterned_or_null(patterns::SYS_ID, "a sys_id"),
        FieldKind::DateTime => patterned_or_null(
            &patterns::date_time(),
            "UTC date-time yyyy-MM-dd HH:mm:ss; empty or null clears",
        ),
        FieldKind::Phone => patterned_or_null(patterns::E164, "E.164 number; empty or null clears"),
        FieldKind::TableName => patterned_or_null(patterns::TABLE_NAME, "a table name"),
        FieldKind::Seconds | FieldKind::Counter => AnyOfBuilder::new()
            .description(Some(
                "whole seconds, as text or a number; empty or null clears",
            ))
            .item(string().pattern(Some(patterns::whole(patterns::SECONDS))))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .maximum(Some(999_999_999_999_i64)),
            )
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .into(),
    }
}

/// An object whose properties are `table`'s writable fields (`additionalParams`, a phone-log entry).
fn writable_fields(object: ObjectBuilder, table: &Table) -> ObjectBuilder {
    table
        .fields
        .iter()
        .filter(|f| f.access == Access::Writable)
        .fold(object, |o, f| {
            o.property(f.name, request_value(f.name, f.kind))
        })
}

/// An object that may also be `null`: a part sent as `null` counts as absent (and `additionalParams: null`
/// sets nothing). Nullable in the component itself rather than through an `anyOf`, which keeps schemas shallow.
fn nullable_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Object, Type::Null]))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

fn request(create: bool) -> ObjectBuilder {
    let interaction = if create {
        reference(name::INTERACTION_ON_CREATE)
    } else {
        reference(name::INTERACTION_ON_UPDATE)
    };
    let list = |item: &str, max: usize, what: &str, cap: usize| -> RefOr<Schema> {
        ArrayBuilder::new()
            .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
            .items(reference(item))
            .max_items(Some(max))
            .description(Some(format!(
                "At most {max} per request; an interaction holds at most {cap} {what}, and a request \
                 that would leave it more is a 400 writing nothing."
            )))
            .into()
    };
    closed_object()
        .property("interaction", interaction)
        .property("interactionContext", reference(name::CONTEXT))
        .property(
            "phoneLogs",
            list(
                name::PHONE_LOG_ENTRY,
                MAX_PHONE_LOGS,
                "phone logs",
                MAX_PHONE_LOGS_PER_INTERACTION,
            ),
        )
        .property(
            "relatedRecords",
            list(
                name::RELATED_RECORD_REF,
                MAX_RELATED_RECORDS,
                "related records",
                MAX_RELATED_RECORDS_PER_INTERACTION,
            ),
        )
        // XML bodies have one root element of any name; this is the name the examples use.
        .xml(Some(XmlBuilder::new().name(Some("request")).build()))
}

fn create_request() -> RefOr<Schema> {
    request(true)
        .description(Some(
            "A new voice interaction: `interaction` with `userPhoneNumber` is required; phone logs, \
             related records and context variables are optional. Unknown keys are a 400.",
        ))
        .required("interaction")
        .into()
}

fn update_request() -> RefOr<Schema> {
    request(false)
        .description(Some(
            "Changes to a voice interaction: at least one of the four parts must carry something. \
             Context variables merge into the stored ones; phone logs with a known `call_id` update that log.",
        ))
        .min_properties(Some(1))
        .into()
}

fn interaction_part(create: bool) -> RefOr<Schema> {
    let user_phone: RefOr<Schema> = if create {
        string()
            .pattern(Some(patterns::whole(patterns::E164)))
            .description(Some(
                "the customer's number, E.164; stored as user_phone_number",
            ))
            .into()
    } else {
        // On PATCH it may change but not be cleared.
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(patterns::whole(patterns::E164)))
            .description(Some("the customer's number, E.164; cannot be cleared"))
            .into()
    };
    // On PATCH the part may be null (absent); on POST it is required and must be an object.
    let object = if create {
        closed_object()
    } else {
        nullable_object()
    };
    let mut o = object
        .property("userPhoneNumber", user_phone)
        .property(
            "callbackPhoneNumber",
            patterned_or_null(patterns::E164, "stored as caller_phone_number; empty or null clears"),
        )
        .property("clientSessionId", free_text(MAX_VALUE_CHARS, true))
        .property(
            "inboundId",
            ObjectBuilder::new()
                .schema_type(scalar_types(true))
                .max_length(Some(MAX_VALUE_CHARS))
                .pattern(Some(patterns::whole(patterns::NO_NUL)))
                .description(Some(
                    "the inbound_id of a registered provider application (`openframe provider add`); \
                     any other value is a 400. Empty or null clears it and provider_application.",
                )),
        )
        .property("additionalParams", reference(name::ADDITIONAL_PARAMS));
    if create {
        o = o.required("userPhoneNumber");
    } else {
        o = o.min_properties(Some(1));
    }
    o.into()
}

fn additional_params() -> RefOr<Schema> {
    writable_fields(nullable_object(), &INTERACTION)
        .description(Some(
            "Writable interaction fields by name. Moving `state` to a closed_* value sets closed_at and \
             closed_by when they are unset. System and read-only fields are a 400.",
        ))
        .into()
}

fn context() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Object, Type::Null]))
        .description(Some(
            "Context variables: a flat map; a PATCH merges it into the stored map, and an empty or null \
             value removes the key.",
        ))
        .property_names(Some(string().pattern(Some(patterns::whole(patterns::CONTEXT_KEY)))))
        .additional_properties(Some(AdditionalProperties::RefOr(free_text(
            MAX_VALUE_CHARS,
            true,
        ))))
        .max_properties(Some(MAX_CONTEXT_KEYS))
        .into()
}

fn phone_log_entry() -> RefOr<Schema> {
    writable_fields(closed_object(), &PHONE_LOG)
        .description(Some(
            "A phone log: an entry whose call_id the interaction already has updates that log, any other \
             creates one. `agent` defaults to the caller; `duration` is computed from start_time and \
             end_time when not given; end_time must not be before start_time.",
        ))
        .min_properties(Some(1))
        .xml(Some(XmlBuilder::new().name(Some("phoneLogs")).build()))
        .into()
}

fn related_record_ref() -> RefOr<Schema> {
    closed_object()
        .description(Some(
            "A related record; a pair the interaction already has is not added twice.",
        ))
        .property(
            "documentTable",
            // Scalars are taken as their text here too, and `true`/`false` are table names.
            ObjectBuilder::new()
                .schema_type(SchemaType::Array(vec![Type::String, Type::Boolean]))
                .pattern(Some(patterns::whole(patterns::TABLE_NAME))),
        )
        .property(
            "documentId",
            string().pattern(Some(patterns::whole(patterns::SYS_ID))),
        )
        .required("documentTable")
        .required("documentId")
        .xml(Some(XmlBuilder::new().name(Some("relatedRecords")).build()))
        .into()
}

fn sys_id() -> ObjectBuilder {
    string().pattern(Some(patterns::whole(patterns::SYS_ID)))
}

fn create_result() -> RefOr<Schema> {
    let inner = closed_object()
        .property("status", string().enum_values(Some(["SUCCESS"])))
        .property("sysId", sys_id())
        .property("number", string().pattern(Some(r"^IMS[0-9]{7,}$")))
        .required("status")
        .required("sysId")
        .required("number");
    envelope(inner.into(), "The created interaction's sys_id and number.")
}

fn update_result() -> RefOr<Schema> {
    let inner = closed_object()
        .property("status", string().enum_values(Some(["SUCCESS"])))
        .required("status");
    envelope(inner.into(), "The update was applied.")
}

fn voice_interaction() -> RefOr<Schema> {
    let related = closed_object()
        .property("documentTable", string())
        .property("documentId", string())
        .required("documentTable")
        .required("documentId");
    let inner = closed_object()
        .property("sysId", sys_id())
        .property("number", string())
        .property("interaction", reference(&record_name(&INTERACTION)))
        .property(
            "interactionContext",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .additional_properties(Some(AdditionalProperties::RefOr(string().into()))),
        )
        .property(
            "phoneLogs",
            ArrayBuilder::new().items(reference(&record_name(&PHONE_LOG))),
        )
        .property("relatedRecords", ArrayBuilder::new().items(related))
        .required("sysId")
        .required("number")
        .required("interaction")
        .required("interactionContext")
        .required("phoneLogs")
        .required("relatedRecords");
    envelope(
        inner.into(),
        "One interaction whole: every field (empty where unset), the context, phone logs in creation \
         order, related records.",
    )
}

fn error() -> RefOr<Schema> {
    let error = closed_object()
        .property("message", string().description(Some("short, stable text")))
        .property(
            "detail",
            string().description(Some(
                "what exactly was wrong, naming the field where there is one",
            )),
        )
        .required("message")
        .required("detail");
    closed_object()
        .description(Some(
            "The platform's error envelope, in the negotiated format.",
        ))
        .property("error", error)
        .property("status", string().enum_values(Some(["failure"])))
        .required("error")
        .required("status")
        .xml(xml_root())
        .into()
}

fn health() -> RefOr<Schema> {
    closed_object()
        .property("status", string().enum_values(Some(["ok"])))
        .required("status")
        .into()
}

fn reference_link() -> RefOr<Schema> {
    closed_object()
        .description(Some(
            "A reference shown as a link to the referenced record's Table API URL.",
        ))
        .property("link", string())
        .property("value", sys_id())
        .required("link")
        .required("value")
        .into()
}

fn display_value() -> RefOr<Schema> {
    closed_object()
        .description(Some(
            "A field with `sysparm_display_value=true` (`display_value`, and `link` on a reference) or `all` \
             (`display_value` and `value`, and `link` on a reference).",
        ))
        .property("display_value", string())
        .property("value", string())
        .property("link", string())
        .required("display_value")
        .into()
}

/// `InteractionRecord`, `SnOpenframePhoneLogRecord`, …: a record with every field.
pub fn record_name(table: &Table) -> String {
    format!("{}Record", camel(table.name))
}

/// A Table API row of `table`.
pub fn row_name(table: &Table) -> String {
    format!("{}Row", camel(table.name))
}

/// A Table API list of `table`.
pub fn row_list_name(table: &Table) -> String {
    format!("{}RowList", camel(table.name))
}

/// A Table API single-row result of `table`.
pub fn row_result_name(table: &Table) -> String {
    format!("{}RowResult", camel(table.name))
}

fn camel(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// Every field as a string, all present (how `Record` serializes).
fn record(table: &Table) -> RefOr<Schema> {
    table
        .fields
        .iter()
        .fold(
            closed_object().description(Some(format!("A {} record.", table.name))),
            |o, f| o.property(f.name, string()).required(f.name),
        )
        .into()
}

/// A Table API row: the fields `sysparm_fields` chose (all by default, computed ones included); a field is
/// a string, or a [`name::DISPLAY_VALUE`] as `sysparm_display_value` asks; a non-empty reference is a
/// [`name::REFERENCE_LINK`] (with the stored value) unless `sysparm_exclude_reference_link=true`.
fn table_row(table: &Table) -> RefOr<Schema> {
    let computed = openframe_core::computed::computed_fields(table)
        .iter()
        .map(|name| (*name, None));
    table
        .fields
        .iter()
        .map(|f| (f.name, Some(f.kind)))
        .chain(computed)
        .fold(
            closed_object().description(Some(format!("A {} row of the Table API.", table.name))),
            |o, (name, kind)| {
                let mut value = AnyOfBuilder::new()
                    .item(string())
                    .item(reference(name::DISPLAY_VALUE));
                if let Some(FieldKind::Reference(_)) = kind {
                    value = value.item(reference(name::REFERENCE_LINK));
                }
                o.property(name, value)
            },
        )
        .into()
}

/// One group's (or the whole query's) Aggregate API results: numbers as strings, `""` where no value took
/// part.
fn stats() -> RefOr<Schema> {
    let by_field = || {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(AdditionalProperties::RefOr(string().into())))
    };
    closed_object()
        .property("count", string().pattern(Some(patterns::whole("[0-9]+"))))
        .property(
            "avg",
            by_field().description(Some("four decimals, as `1.5000`")),
        )
        .property("min", by_field())
        .property("max", by_field())
        .property("sum", by_field())
        .into()
}

/// The Aggregate API's answer: `{"stats": …}` without `sysparm_group_by`, else one
/// `{"stats": …, "groupby_fields": [{field, value[, display_value]}]}` per group.
fn stats_result() -> RefOr<Schema> {
    let whole = closed_object()
        .property("stats", reference(name::STATS))
        .required("stats");
    let group_field = closed_object()
        .property("field", string())
        .property("value", string())
        .property("display_value", string())
        .required("field")
        .required("value");
    let group = closed_object()
        .property("stats", reference(name::STATS))
        .property("groupby_fields", ArrayBuilder::new().items(group_field))
        .required("stats")
        .required("groupby_fields");
    envelope(
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(whole)
            .item(
                ArrayBuilder::new()
                    .items(group)
                    .xml(Some(XmlBuilder::new().name(Some("result")).build())),
            )
            .into(),
        "The results, whole or per group in group order; XML repeats <result> per group.",
    )
}

/// The body of a Table API write of `table`.
pub fn write_name(table: &Table, mode: Mode) -> String {
    let verb = if mode == Mode::Create {
        "Create"
    } else {
        "Update"
    };
    format!("{}{verb}Body", camel(table.name))
}

/// A Table API write's flat body: the fields core's `table_write` lets a client name, each a scalar or the
/// `{"value": …, "display_value": …}` object a read with `sysparm_display_value=all` shows.
fn table_write(table: &'static Table, mode: Mode) -> RefOr<Schema> {
    let object = closed_object().description(Some(format!(
        "Fields of {} to set, flat; numbers and booleans are stored as their text, null or \"\" clears. \
         A reference may also be given by display value: a sys_user by user name, an interaction by number.",
        table.name
    )));
    let object = nameable_fields(table, mode).fold(object, |o, f| {
        let plain = match f.kind {
            FieldKind::Reference(target) => ObjectBuilder::new()
                .schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
                .max_length(Some(MAX_VALUE_CHARS))
                .pattern(Some(patterns::whole(patterns::NO_NUL)))
                .description(Some(format!(
                    "sys_id or display value of a {target} record; empty or null clears"
                )))
                .into(),
            FieldKind::Phone if !may_clear(f.name) => string()
                .pattern(Some(patterns::whole(patterns::E164)))
                .description(Some("E.164 number"))
                .into(),
            kind => request_value(f.name, kind),
        };
        let wrapped = closed_object()
            .property("value", plain.clone())
            .property("display_value", plain.clone())
            .property("link", string());
        o.property(f.name, AnyOfBuilder::new().item(plain).item(wrapped))
    });
    let required = if mode == Mode::Create {
        required_on_create(table)
    } else {
        &[]
    };
    required
        .iter()
        .fold(object, |o, name| o.required(*name))
        .into()
}

fn table_rows(table: &Table) -> RefOr<Schema> {
    envelope(
        ArrayBuilder::new()
            .items(reference(&row_name(table)))
            .xml(Some(XmlBuilder::new().name(Some("result")).build()))
            .into(),
        &format!(
            "A page of {} rows; XML repeats <result> per row.",
            table.name
        ),
    )
}

fn table_row_result(table: &Table) -> RefOr<Schema> {
    envelope(
        reference(&row_name(table)),
        &format!("One {} row.", table.name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_names_are_camel_case_table_names() {
        assert_eq!(record_name(&PHONE_LOG), "SnOpenframePhoneLogRecord");
        assert_eq!(row_name(&INTERACTION), "InteractionRow");
    }
}
