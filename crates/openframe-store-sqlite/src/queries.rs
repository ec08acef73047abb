//! The SQL the store runs, by name. The schema itself lives in `migrations/`.
//!
//! Statements over the four record tables are generated once, from the field lists of
//! `openframe_core::schema`, so that their column lists can never drift from the records they bind; the
//! others are written out. The Table API's queries, whose shape each request chooses, are built per query
//! in `record_query.rs`. Every statement is run through the connection's prepared-statement cache.

use std::sync::LazyLock;

use openframe_core::schema::{
    INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, TABLES, Table, field,
};

/// The next interaction number, not yet taken.
pub(crate) const NEXT_NUMBER: &str = "SELECT value FROM counter WHERE name = 'interaction_number'";

/// Takes the next interaction number: the counter moves past it.
pub(crate) const TAKE_NUMBER: &str =
    "UPDATE counter SET value = value + 1 WHERE name = 'interaction_number'";

/// An interaction's context variables.
pub(crate) const SELECT_CONTEXT: &str =
    "SELECT name, value FROM interaction_context WHERE interaction = ?1";

/// Sets one context variable.
pub(crate) const UPSERT_CONTEXT: &str = "INSERT INTO interaction_context (interaction, name, value) \
     VALUES (?1, ?2, ?3) ON CONFLICT (interaction, name) DO UPDATE SET value = excluded.value";

/// Removes one context variable.
pub(crate) const DELETE_CONTEXT: &str =
    "DELETE FROM interaction_context WHERE interaction = ?1 AND name = ?2";

/// Removes every context variable of interaction `?1`.
pub(crate) const DELETE_ALL_CONTEXT: &str =
    "DELETE FROM interaction_context WHERE interaction = ?1";

/// Removes phone log `?2` of interaction `?1`.
pub(crate) const DELETE_PHONE_LOG: &str =
    "DELETE FROM sn_openframe_phone_log WHERE interaction = ?1 AND sys_id = ?2";

/// Removes every phone log of interaction `?1`.
pub(crate) const DELETE_PHONE_LOGS: &str =
    "DELETE FROM sn_openframe_phone_log WHERE interaction = ?1";

/// Removes related record `?2` of interaction `?1`.
pub(crate) const DELETE_RELATED_RECORD: &str =
    "DELETE FROM interaction_related_record WHERE interaction = ?1 AND sys_id = ?2";

/// Removes every related record of interaction `?1`.
pub(crate) const DELETE_RELATED_RECORDS: &str =
    "DELETE FROM interaction_related_record WHERE interaction = ?1";

/// Removes interaction `?1` (its children first: they reference it). Its number stays taken: the counter
/// never moves back.
pub(crate) const DELETE_INTERACTION: &str = "DELETE FROM interaction WHERE sys_id = ?1";

/// Adds a user; roles are a JSON array.
pub(crate) const INSERT_USER: &str =
    "INSERT INTO users (sys_id, user_name, name, password_hash, roles) VALUES (?1, ?2, ?3, ?4, ?5)";

/// A user by sign-in name.
pub(crate) const SELECT_USER: &str =
    "SELECT sys_id, user_name, name, password_hash, roles FROM users WHERE user_name = ?1";

/// The users whose sys_id is in the JSON array `?1` (one statement for any number, through the unique
/// index on sys_id).
pub(crate) const SELECT_USERS_BY_SYS_ID: &str = "SELECT sys_id, user_name, name, password_hash, roles FROM users \
     WHERE sys_id IN (SELECT value FROM json_each(?1))";

/// Replaces the password hash (`?1`) of the user named `?2`.
pub(crate) const SET_USER_PASSWORD: &str =
    "UPDATE users SET password_hash = ?1 WHERE user_name = ?2";

/// Removes the user named `?1`.
pub(crate) const DELETE_USER: &str = "DELETE FROM users WHERE user_name = ?1";

/// Whether there is any user.
pub(crate) const HAS_USERS: &str = "SELECT EXISTS (SELECT 1 FROM users)";

/// Moves the number counter up to `?1` if it is below (an import's highest number plus one).
pub(crate) const RAISE_NUMBER: &str =
    "UPDATE counter SET value = max(value, ?1) WHERE name = 'interaction_number'";

/// Up to `?2` interaction sys_ids above `?1`, in order (the export's keyset page).
pub(crate) const PAGE_INTERACTION_IDS: &str =
    "SELECT sys_id FROM interaction WHERE sys_id > ?1 ORDER BY sys_id LIMIT ?2";

/// Up to `?2` users named above `?1`, by name (byte-wise: the column's collation is BINARY).
pub(crate) const PAGE_USERS: &str = "SELECT sys_id, user_name, name, password_hash, roles FROM users \
     WHERE user_name > ?1 ORDER BY user_name LIMIT ?2";

/// Reads the schema version from the database header: answers only when the file can be read.
pub(crate) const PING: &str = "PRAGMA user_version";

/// Statements generated from the schema's field lists.
#[derive(Debug)]
pub(crate) struct RecordQueries {
    /// An interaction by sys_id.
    pub select_interaction: String,
    /// A new interaction.
    pub insert_interaction: String,
    /// Overwrites every field of the interaction whose sys_id is `?1`.
    pub update_interaction: String,
    /// An interaction's phone logs, in creation order.
    pub select_phone_logs: String,
    /// Overwrites every field of the phone log whose sys_id is `?1` but its `interaction` (an update's
    /// change to a log its interaction already has; see `tables::write_change`).
    pub update_phone_log: String,
    /// A new phone log (a create or an import: a taken sys_id is a conflict, not an overwrite).
    pub insert_phone_log: String,
    /// An interaction's related records, in creation order.
    pub select_related_records: String,
    /// A new related record.
    pub insert_related_record: String,
    /// A provider application by inbound_id.
    pub select_provider_application: String,
    /// A new provider application.
    pub insert_provider_application: String,
    /// Up to `?2` provider applications whose sys_id is above `?1`, in sys_id order.
    pub page_provider_applications: String,
    /// A record by sys_id, for each table of `schema::TABLES` in its order.
    pub select_by_sys_id: Vec<(&'static Table, String)>,
}

impl RecordQueries {
    /// The statement that reads a record of `table` by sys_id; `None` for a table the store does not keep.
    pub fn select_by_sys_id(&self, table: &Table) -> Option<&str> {
        self.select_by_sys_id
            .iter()
            .find(|(t, _)| *t == table)
            .map(|(_, sql)| sql.as_str())
    }
}

/// The generated statements, built once per process.
pub(crate) static RECORDS: LazyLock<RecordQueries> = LazyLock::new(|| RecordQueries {
    select_interaction: select(&INTERACTION, field::SYS_ID),
    insert_interaction: insert(&INTERACTION),
    update_interaction: update(&INTERACTION),
    select_phone_logs: select(&PHONE_LOG, field::INTERACTION),
    update_phone_log: update_keeping(&PHONE_LOG, &[field::INTERACTION]),
    insert_phone_log: insert(&PHONE_LOG),
    select_related_records: select(&RELATED_RECORD, field::INTERACTION),
    insert_related_record: insert(&RELATED_RECORD),
    select_provider_application: select(&PROVIDER_APPLICATION, field::INBOUND_ID),
    insert_provider_application: insert(&PROVIDER_APPLICATION),
    page_provider_applications: format!(
        "SELECT {} FROM {} WHERE \"sys_id\" > ?1 ORDER BY \"sys_id\" LIMIT ?2",
        columns(&PROVIDER_APPLICATION),
        PROVIDER_APPLICATION.name
    ),
    select_by_sys_id: TABLES
        .iter()
        .map(|&table| (table, select(table, field::SYS_ID)))
        .collect(),
});

/// `"a", "b", …`: every field of `table`, in column order.
pub(crate) fn columns(table: &Table) -> String {
    let names: Vec<String> = table.field_names().map(quote).collect();
    names.join(", ")
}

/// Field names are `[a-z_]+` (schema.rs), so quoting is only about keywords such as `type` and `number`.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{name}\"")
}

/// Every field, in column order, where `key = ?1`, oldest row first.
fn select(table: &Table, key: &str) -> String {
    format!(
        "SELECT {} FROM {} WHERE {} = ?1 ORDER BY seq",
        columns(table),
        table.name,
        quote(key)
    )
}

/// A row from every field, bound in column order (`?1` … `?n`).
fn insert(table: &Table) -> String {
    let params: Vec<String> = (1..=table.fields.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        table.name,
        columns(table),
        params.join(", ")
    )
}

/// Overwrites every field but sys_id of the row whose sys_id is `?1`, bound in column order like `insert`
/// (sys_id is the first field of every table).
fn update(table: &Table) -> String {
    update_keeping(table, &[])
}

/// `update`, leaving the fields `kept` as they are (their values are still bound, and not used). The last
/// field cannot be kept: SQLite counts a statement's parameters by its highest `?N`, and every value of the
/// record is bound.
fn update_keeping(table: &Table, kept: &[&str]) -> String {
    debug_assert!(
        table.fields.last().is_none_or(|f| !kept.contains(&f.name)),
        "the last field of {} cannot be kept",
        table.name
    );
    let sets: Vec<String> = table
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name != field::SYS_ID && !kept.contains(&f.name))
        .map(|(i, f)| format!("{} = ?{}", quote(f.name), i + 1))
        .collect();
    format!(
        "UPDATE {} SET {} WHERE {} = ?1",
        table.name,
        sets.join(", "),
        quote(field::SYS_ID)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_id_is_the_first_field_of_every_table() {
        // update() binds the key as ?1 and Record::sys_id() reads values[0]: both rely on this.
        for table in openframe_core::schema::TABLES {
            assert_eq!(table.fields[0].name, field::SYS_ID, "{}", table.name);
        }
    }

    #[test]
    fn generated_statements_name_every_field_in_order() {
        assert_eq!(
            insert(&RELATED_RECORD),
            "INSERT INTO interaction_related_record (\"sys_id\", \"sys_created_on\", \"sys_created_by\", \
             \"sys_updated_on\", \"sys_updated_by\", \"sys_mod_count\", \"interaction\", \"document_table\", \
             \"document_id\") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        );
        assert_eq!(
            select(&RELATED_RECORD, field::INTERACTION),
            "SELECT \"sys_id\", \"sys_created_on\", \"sys_created_by\", \"sys_updated_on\", \
             \"sys_updated_by\", \"sys_mod_count\", \"interaction\", \"document_table\", \"document_id\" \
             FROM interaction_related_record WHERE \"interaction\" = ?1 ORDER BY seq"
        );
        let update = update(&RELATED_RECORD);
        assert!(update.starts_with(
            "UPDATE interaction_related_record SET \"sys_created_on\" = ?2, \"sys_created_by\" = ?3,"
        ));
        assert!(update.ends_with("\"document_id\" = ?9 WHERE \"sys_id\" = ?1"));
        let kept = update_keeping(&PHONE_LOG, &[field::INTERACTION]);
        assert!(kept.starts_with("UPDATE sn_openframe_phone_log SET \"sys_created_on\" = ?2,"));
        assert!(!kept.contains("\"interaction\" ="));
        let last = PHONE_LOG.fields.len();
        assert!(kept.ends_with(&format!("\"contact\" = ?{last} WHERE \"sys_id\" = ?1")));
    }
}
