//! The four tables of CONTRACT §4: their fields, each field's kind (the rule its values obey) and who may write it.
//!
//! Every rule about a field lives here once: which fields `additionalParams` may set, which are references,
//! what a phone log's `call_type` may be. Stores read the field lists to lay out columns in the same order.

use crate::datetime::{DATE_TIME_RULE, DateTime};
use crate::names::{TABLE_NAME_RULE, is_table_name};
use crate::phone::{E164_RULE, is_e164};
use crate::sys_id::{SYS_ID_RULE, is_sys_id};

/// Field names, one constant each, shared by the tables that have the field.
pub mod field {
    #![allow(missing_docs)]
    pub const SYS_ID: &str = "sys_id";
    pub const SYS_CREATED_ON: &str = "sys_created_on";
    pub const SYS_CREATED_BY: &str = "sys_created_by";
    pub const SYS_UPDATED_ON: &str = "sys_updated_on";
    pub const SYS_UPDATED_BY: &str = "sys_updated_by";
    pub const SYS_MOD_COUNT: &str = "sys_mod_count";

    pub const NUMBER: &str = "number";
    pub const TYPE: &str = "type";
    pub const STATE: &str = "state";
    pub const DIRECTION: &str = "direction";
    pub const SHORT_DESCRIPTION: &str = "short_description";
    pub const ASSIGNED_TO: &str = "assigned_to";
    pub const OPENED_FOR: &str = "opened_for";
    pub const OPENED_BY: &str = "opened_by";
    pub const OPENED_AT: &str = "opened_at";
    pub const CLOSED_AT: &str = "closed_at";
    pub const CLOSED_BY: &str = "closed_by";
    pub const ACCOUNT: &str = "account";
    pub const CONTACT: &str = "contact";
    pub const CONSUMER: &str = "consumer";
    pub const QUEUE: &str = "queue";
    pub const ASSIGNMENT_GROUP: &str = "assignment_group";
    pub const PARENT: &str = "parent";
    pub const WORK_NOTES: &str = "work_notes";
    pub const DURATION: &str = "duration";
    pub const CALLER_PHONE_NUMBER: &str = "caller_phone_number";
    pub const USER_PHONE_NUMBER: &str = "user_phone_number";
    pub const CLIENT_SESSION_ID: &str = "client_session_id";
    pub const INBOUND_ID: &str = "inbound_id";
    pub const PROVIDER_APPLICATION: &str = "provider_application";
    pub const CHANNEL_METADATA_TABLE: &str = "channel_metadata_table";

    pub const INTERACTION: &str = "interaction";
    pub const CALL_ID: &str = "call_id";
    pub const AGENT: &str = "agent";
    pub const START_TIME: &str = "start_time";
    pub const END_TIME: &str = "end_time";
    pub const CALL_TYPE: &str = "call_type";
    pub const PHONE_NUMBER: &str = "phone_number";

    pub const DOCUMENT_TABLE: &str = "document_table";
    pub const DOCUMENT_ID: &str = "document_id";

    pub const NAME: &str = "name";

    pub const USER_NAME: &str = "user_name";
    pub const ACTIVE: &str = "active";
    pub const ROLES: &str = "roles";
}

/// The rule a field's values obey. The empty string (unset) passes every kind; whether a field may be
/// left empty is the service's business.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text up to `max_chars` characters.
    Text {
        /// Longest value in characters.
        max_chars: usize,
    },
    /// One of a fixed list of values, compared exactly.
    Choice(&'static [&'static str]),
    /// A sys_id of a record of the named table (what the Table API links to).
    Reference(&'static str),
    /// A sys_id (the record's own, or `document_id`).
    SysId,
    /// A UTC date-time `yyyy-MM-dd HH:mm:ss`.
    DateTime,
    /// A whole, non-negative number of seconds.
    Seconds,
    /// An E.164 phone number.
    Phone,
    /// A table name.
    TableName,
    /// A counter kept by the system (`sys_mod_count`, `number`).
    Counter,
}

/// Who may write a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// Set by the system only (`sys_*`); a client naming it is a 400.
    System,
    /// Set by the service from other inputs (`opened_by`, `number`, …); a client naming it is a 400.
    ReadOnly,
    /// A client may set it.
    Writable,
}

/// One field of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldDef {
    /// The field's name on the wire and as a column.
    pub name: &'static str,
    /// The rule its values obey.
    pub kind: FieldKind,
    /// Who may write it.
    pub access: Access,
}

/// Longest value of a duration, in digits: enough for any call, small enough to fit an `i64`.
const MAX_SECONDS_DIGITS: usize = 12;

impl FieldKind {
    /// Whether `value` obeys the kind. The empty string (unset) always does.
    pub fn accepts(self, value: &str) -> bool {
        value.is_empty()
            || match self {
                FieldKind::Text { max_chars } => value.chars().count() <= max_chars,
                FieldKind::Choice(options) => options.contains(&value),
                FieldKind::Reference(_) | FieldKind::SysId => is_sys_id(value),
                FieldKind::DateTime => DateTime::parse(value).is_some(),
                FieldKind::Phone => is_e164(value),
                FieldKind::TableName => is_table_name(value),
                FieldKind::Seconds | FieldKind::Counter => {
                    value.len() <= MAX_SECONDS_DIGITS && value.bytes().all(|b| b.is_ascii_digit())
                }
            }
    }

    /// The kind's rule in words, as error details show it.
    pub fn rule(self) -> String {
        match self {
            FieldKind::Text { max_chars } => format!("must be at most {max_chars} characters"),
            FieldKind::Choice(options) => format!("must be one of {}", options.join(", ")),
            FieldKind::Reference(_) | FieldKind::SysId => SYS_ID_RULE.to_owned(),
            FieldKind::DateTime => DATE_TIME_RULE.to_owned(),
            FieldKind::Phone => E164_RULE.to_owned(),
            FieldKind::TableName => TABLE_NAME_RULE.to_owned(),
            FieldKind::Seconds | FieldKind::Counter => {
                format!("must be a whole number of seconds (at most {MAX_SECONDS_DIGITS} digits)")
            }
        }
    }

    /// Checks `value` against the kind; the error is the rule in words.
    pub fn check(self, value: &str) -> Result<(), String> {
        if self.accepts(value) {
            Ok(())
        } else {
            Err(self.rule())
        }
    }

    /// Checks a stored value of a field of this kind: [`check_text`], then [`check`](Self::check). What a
    /// request's value must pass, and what an import checks every value of every record with.
    pub fn check_value(self, value: &str) -> Result<(), String> {
        check_text(value)?;
        self.check(value)
    }
}

/// The rules every text value obeys, whatever its field or context key: no NUL character (no store can keep
/// one: PostgreSQL refuses it) and at most [`MAX_VALUE_CHARS`](crate::limits::MAX_VALUE_CHARS) characters.
/// The error is the rule in words.
pub fn check_text(value: &str) -> Result<(), String> {
    use crate::limits::MAX_VALUE_CHARS;
    if value.contains('\0') {
        return Err("must not contain NUL characters".to_owned());
    }
    if value.len() > MAX_VALUE_CHARS && value.chars().count() > MAX_VALUE_CHARS {
        return Err(format!("must be at most {MAX_VALUE_CHARS} characters"));
    }
    Ok(())
}

/// A table: its name, the other names it answers to, and its fields in column order.
#[derive(Debug, PartialEq, Eq)]
pub struct Table {
    /// The table's name.
    pub name: &'static str,
    /// Other names the table answers to (the reference spells the phone-log table two ways).
    pub aliases: &'static [&'static str],
    /// Its fields, system fields first, in the order stores lay out their columns.
    pub fields: &'static [FieldDef],
}

impl Table {
    /// The field called `name` and its position, if the table has it.
    pub fn field(&self, name: &str) -> Option<(usize, &'static FieldDef)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }

    /// The field names in column order.
    pub fn field_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields.iter().map(|f| f.name)
    }

    /// Whether the table answers to `name`.
    pub fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }
}

/// Users as the Table API shows them (`sys_user`): read-only, never a password hash, and not one of the
/// stored tables ([`TABLES`]): each store keeps its users apart (see [`crate::User`]). `active` is always
/// `true` (a removed user is gone); `roles` is comma-separated.
pub static SYS_USER: Table = Table {
    name: "sys_user",
    aliases: &[],
    fields: &[
        def(field::SYS_ID, FieldKind::SysId, Access::System),
        def(
            field::USER_NAME,
            FieldKind::Text { max_chars: 100 },
            Access::ReadOnly,
        ),
        def(
            field::NAME,
            FieldKind::Text { max_chars: 100 },
            Access::ReadOnly,
        ),
        def(
            field::ACTIVE,
            FieldKind::Text { max_chars: 5 },
            Access::ReadOnly,
        ),
        def(field::ROLES, TEXT, Access::ReadOnly),
    ],
};

/// The four tables, for lookups by name.
pub static TABLES: [&Table; 4] = [
    &INTERACTION,
    &PHONE_LOG,
    &RELATED_RECORD,
    &PROVIDER_APPLICATION,
];

/// The table that answers to `name`, if any.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().copied().find(|t| t.answers_to(name))
}

/// The stored table that answers to `name`, or [`SYS_USER`]: what the Table API reads and a reference
/// walks into.
pub fn readable_table(name: &str) -> Option<&'static Table> {
    table(name).or_else(|| (name == SYS_USER.name).then_some(&SYS_USER))
}

const fn def(name: &'static str, kind: FieldKind, access: Access) -> FieldDef {
    FieldDef { name, kind, access }
}

/// Text up to the general per-value limit.
const TEXT: FieldKind = FieldKind::Text {
    max_chars: crate::limits::MAX_VALUE_CHARS,
};

macro_rules! with_system_fields {
    ($($rest:expr),* $(,)?) => {
        &[
            def(field::SYS_ID, FieldKind::SysId, Access::System),
            def(field::SYS_CREATED_ON, FieldKind::DateTime, Access::System),
            def(field::SYS_CREATED_BY, TEXT, Access::System),
            def(field::SYS_UPDATED_ON, FieldKind::DateTime, Access::System),
            def(field::SYS_UPDATED_BY, TEXT, Access::System),
            def(field::SYS_MOD_COUNT, FieldKind::Counter, Access::System),
            $($rest),*
        ]
    };
}

/// Values of `interaction.state`.
pub const STATES: &[&str] = &[
    "new",
    "queued",
    "work_in_progress",
    "on_hold",
    "wrap_up",
    "closed_complete",
    "closed_abandoned",
];
/// The state a new interaction starts in.
pub const INITIAL_STATE: &str = "new";
/// Values of `interaction.direction`.
pub const DIRECTIONS: &[&str] = &["inbound", "outbound"];
/// Values of a phone log's `call_type`.
pub const CALL_TYPES: &[&str] = &["INBOUND", "OUTBOUND"];
/// `interaction.type` of every interaction this API creates.
pub const INTERACTION_TYPE: &str = "phone";

/// Whether moving to `state` closes the interaction (and so sets `closed_at`/`closed_by` if unset).
pub fn is_closed_state(state: &str) -> bool {
    state.starts_with("closed_")
}

/// The Interaction (`interaction`) table.
pub static INTERACTION: Table = Table {
    name: "interaction",
    aliases: &[],
    fields: with_system_fields![
        def(field::NUMBER, FieldKind::Counter, Access::ReadOnly),
        def(field::TYPE, TEXT, Access::ReadOnly),
        def(field::STATE, FieldKind::Choice(STATES), Access::Writable),
        def(
            field::DIRECTION,
            FieldKind::Choice(DIRECTIONS),
            Access::Writable
        ),
        def(
            field::SHORT_DESCRIPTION,
            FieldKind::Text { max_chars: 160 },
            Access::Writable
        ),
        def(
            field::ASSIGNED_TO,
            FieldKind::Reference("sys_user"),
            Access::Writable
        ),
        def(
            field::OPENED_FOR,
            FieldKind::Reference("sys_user"),
            Access::Writable
        ),
        def(
            field::OPENED_BY,
            FieldKind::Reference("sys_user"),
            Access::ReadOnly
        ),
        def(field::OPENED_AT, FieldKind::DateTime, Access::ReadOnly),
        def(field::CLOSED_AT, FieldKind::DateTime, Access::Writable),
        def(
            field::CLOSED_BY,
            FieldKind::Reference("sys_user"),
            Access::Writable
        ),
        def(
            field::ACCOUNT,
            FieldKind::Reference("customer_account"),
            Access::Writable
        ),
        def(
            field::CONTACT,
            FieldKind::Reference("customer_contact"),
            Access::Writable
        ),
        def(
            field::CONSUMER,
            FieldKind::Reference("csm_consumer"),
            Access::Writable
        ),
        def(
            field::QUEUE,
            FieldKind::Reference("awa_queue"),
            Access::Writable
        ),
        def(
            field::ASSIGNMENT_GROUP,
            FieldKind::Reference("sys_user_group"),
            Access::Writable
        ),
        def(
            field::PARENT,
            FieldKind::Reference("interaction"),
            Access::Writable
        ),
        def(field::WORK_NOTES, TEXT, Access::Writable),
        def(field::DURATION, FieldKind::Seconds, Access::Writable),
        def(
            field::CALLER_PHONE_NUMBER,
            FieldKind::Phone,
            Access::ReadOnly
        ),
        def(field::USER_PHONE_NUMBER, FieldKind::Phone, Access::ReadOnly),
        def(field::CLIENT_SESSION_ID, TEXT, Access::ReadOnly),
        def(field::INBOUND_ID, TEXT, Access::ReadOnly),
        def(
            field::PROVIDER_APPLICATION,
            FieldKind::Reference("sys_cs_provider_application"),
            Access::ReadOnly
        ),
        def(
            field::CHANNEL_METADATA_TABLE,
            FieldKind::TableName,
            Access::ReadOnly
        ),
    ],
};

/// The Phone Log (`sn_openframe_phone_log`) table.
pub static PHONE_LOG: Table = Table {
    name: "sn_openframe_phone_log",
    aliases: &["sn_open_frame_phone_log"],
    fields: with_system_fields![
        def(
            field::INTERACTION,
            FieldKind::Reference("interaction"),
            Access::ReadOnly
        ),
        def(field::CALL_ID, TEXT, Access::Writable),
        def(
            field::AGENT,
            FieldKind::Reference("sys_user"),
            Access::Writable
        ),
        def(field::START_TIME, FieldKind::DateTime, Access::Writable),
        def(field::END_TIME, FieldKind::DateTime, Access::Writable),
        def(field::DURATION, FieldKind::Seconds, Access::Writable),
        def(
            field::CALL_TYPE,
            FieldKind::Choice(CALL_TYPES),
            Access::Writable
        ),
        def(field::PHONE_NUMBER, FieldKind::Phone, Access::Writable),
        def(
            field::CONTACT,
            FieldKind::Reference("customer_contact"),
            Access::Writable
        ),
    ],
};

/// The Interaction Related Record (`interaction_related_record`) table.
pub static RELATED_RECORD: Table = Table {
    name: "interaction_related_record",
    aliases: &[],
    fields: with_system_fields![
        def(
            field::INTERACTION,
            FieldKind::Reference("interaction"),
            Access::ReadOnly
        ),
        def(
            field::DOCUMENT_TABLE,
            FieldKind::TableName,
            Access::ReadOnly
        ),
        def(field::DOCUMENT_ID, FieldKind::SysId, Access::ReadOnly),
    ],
};

/// The Provider Channel Application (`sys_cs_provider_application`) table.
pub static PROVIDER_APPLICATION: Table = Table {
    name: "sys_cs_provider_application",
    aliases: &[],
    fields: with_system_fields![
        def(
            field::NAME,
            FieldKind::Text { max_chars: 100 },
            Access::Writable
        ),
        def(
            field::INBOUND_ID,
            FieldKind::Text { max_chars: 100 },
            Access::Writable
        ),
        def(
            field::SHORT_DESCRIPTION,
            FieldKind::Text { max_chars: 160 },
            Access::Writable
        ),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_unique_per_table() {
        for t in TABLES {
            let mut names: Vec<_> = t.field_names().collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "{}", t.name);
        }
    }

    #[test]
    fn writable_interaction_fields_are_the_contracts() {
        let writable: Vec<_> = INTERACTION
            .fields
            .iter()
            .filter(|f| f.access == Access::Writable)
            .map(|f| f.name)
            .collect();
        assert_eq!(
            writable,
            [
                "state",
                "direction",
                "short_description",
                "assigned_to",
                "opened_for",
                "closed_at",
                "closed_by",
                "account",
                "contact",
                "consumer",
                "queue",
                "assignment_group",
                "parent",
                "work_notes",
                "duration"
            ]
        );
    }

    #[test]
    fn phone_log_answers_to_both_spellings() {
        assert_eq!(table("sn_open_frame_phone_log"), Some(&PHONE_LOG));
        assert_eq!(table("sn_openframe_phone_log"), Some(&PHONE_LOG));
        assert_eq!(table("sys_user"), None);
    }

    #[test]
    fn kinds_check_values() {
        assert!(FieldKind::Choice(STATES).check("on_hold").is_ok());
        assert!(FieldKind::Choice(STATES).check("ON_HOLD").is_err());
        assert!(FieldKind::Seconds.check("300").is_ok());
        assert!(FieldKind::Seconds.check("-1").is_err());
        assert!(FieldKind::Seconds.check("1.5").is_err());
        assert!(FieldKind::Seconds.check("1234567890123").is_err());
        assert!(FieldKind::Text { max_chars: 3 }.check("äöü").is_ok());
        assert!(FieldKind::Text { max_chars: 3 }.check("äöüx").is_err());
        assert!(FieldKind::Reference("sys_user").check("").is_ok());
        assert!(FieldKind::Reference("sys_user").check("abc").is_err());
    }
}
