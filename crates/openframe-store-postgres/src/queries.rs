//! The store's named queries. Column lists come from `openframe_core::schema`, so a query and the record it
//! reads or writes can never disagree on column order; the tables themselves are in `migrations/`.

use std::sync::{Arc, LazyLock};

use openframe_core::schema::{
    INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, TABLES, Table,
};
use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgArguments, Postgres};
use sqlx::query::Query;

/// A query built once from the schema. Its text holds only column and table names from the static schema,
/// never input, which is what makes [`AssertSqlSafe`] true here.
#[derive(Debug)]
pub(crate) struct Named(Arc<str>);

impl Named {
    /// A query ready for its binds.
    pub(crate) fn query(&self) -> Query<'static, Postgres, PgArguments> {
        sqlx::query(AssertSqlSafe(Arc::clone(&self.0)))
    }

    #[cfg(test)]
    pub(crate) fn text(&self) -> &str {
        &self.0
    }
}

fn named(text: String) -> Named {
    Named(text.into())
}

/// The queries built from the schema.
#[derive(Debug)]
pub(crate) struct Queries {
    /// `$1`: sys_id.
    pub select_interaction: Named,
    /// `$1`: sys_id; locks the row until the transaction ends.
    pub select_interaction_for_update: Named,
    /// One bind per field in column order.
    pub insert_interaction: Named,
    /// One bind per field in column order; `$1` (sys_id) picks the row.
    pub update_interaction: Named,
    /// `$1`: interaction sys_id; in creation order.
    pub select_phone_logs: Named,
    /// One `text[]` bind per field in column order; rows keep the order of the arrays.
    pub insert_phone_logs: Named,
    /// One `text[]` bind per field in column order; rows are matched by sys_id, keeping their position.
    pub update_phone_logs: Named,
    /// `$1`: interaction sys_id; in creation order.
    pub select_related_records: Named,
    /// One `text[]` bind per field in column order; rows keep the order of the arrays.
    pub insert_related_records: Named,
    /// One bind per field in column order.
    pub insert_provider_application: Named,
    /// `$1`: inbound_id.
    pub select_provider_application: Named,
    /// `$1`: sys_id; one per table of `schema::TABLES`, in its order (see [`Queries::select_by_sys_id`]).
    select_by_sys_id: [Named; 4],
}

impl Queries {
    /// `$1`: sys_id; the record of `table` with that sys_id. `None` for a table not in the schema.
    pub(crate) fn select_by_sys_id(&self, table: &Table) -> Option<&Named> {
        TABLES
            .iter()
            .position(|t| *t == table)
            .map(|i| &self.select_by_sys_id[i])
    }
}

/// The queries, built on first use.
pub(crate) static QUERIES: LazyLock<Queries> = LazyLock::new(|| Queries {
    select_interaction: named(format!(
        "SELECT {} FROM interaction WHERE sys_id = $1",
        columns(&INTERACTION)
    )),
    select_interaction_for_update: named(format!(
        "SELECT {} FROM interaction WHERE sys_id = $1 FOR UPDATE",
        columns(&INTERACTION)
    )),
    insert_interaction: insert_values(&INTERACTION),
    update_interaction: named(format!(
        "UPDATE interaction SET {} WHERE sys_id = $1",
        INTERACTION
            .field_names()
            .enumerate()
            .skip(1)
            .map(|(i, name)| format!("{name} = ${}", i + 1))
            .collect::<Vec<_>>()
            .join(", ")
    )),
    select_phone_logs: select_children(&PHONE_LOG),
    insert_phone_logs: insert_unnest(&PHONE_LOG),
    update_phone_logs: named(format!(
        "UPDATE {table} AS t SET {sets} FROM {unnest} WHERE t.sys_id = u.sys_id",
        table = PHONE_LOG.name,
        sets = PHONE_LOG
            .field_names()
            .skip(1)
            .map(|name| format!("{name} = u.{name}"))
            .collect::<Vec<_>>()
            .join(", "),
        unnest = unnest(&PHONE_LOG, false),
    )),
    select_related_records: select_children(&RELATED_RECORD),
    insert_related_records: insert_unnest(&RELATED_RECORD),
    insert_provider_application: insert_values(&PROVIDER_APPLICATION),
    select_provider_application: named(format!(
        "SELECT {} FROM {} WHERE inbound_id = $1",
        columns(&PROVIDER_APPLICATION),
        PROVIDER_APPLICATION.name
    )),
    select_by_sys_id: TABLES.map(|table| {
        named(format!(
            "SELECT {} FROM {} WHERE sys_id = $1",
            columns(table),
            table.name
        ))
    }),
});

/// The table's columns in field order, comma-separated.
fn columns(table: &Table) -> String {
    table.field_names().collect::<Vec<_>>().join(", ")
}

/// `$1, $2, …` for each field of `table`.
fn placeholders(table: &Table) -> String {
    (1..=table.fields.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn insert_values(table: &Table) -> Named {
    named(format!(
        "INSERT INTO {} ({}) VALUES ({})",
        table.name,
        columns(table),
        placeholders(table)
    ))
}

fn select_children(table: &Table) -> Named {
    named(format!(
        "SELECT {} FROM {} WHERE interaction = $1 ORDER BY created_seq",
        columns(table),
        table.name
    ))
}

/// `UNNEST($1::text[], …) [WITH ORDINALITY] AS u(<columns>[, ord])`: one row per array element.
fn unnest(table: &Table, ordinality: bool) -> String {
    let arrays = (1..=table.fields.len())
        .map(|i| format!("${i}::text[]"))
        .collect::<Vec<_>>()
        .join(", ");
    if ordinality {
        format!(
            "UNNEST({arrays}) WITH ORDINALITY AS u({}, ord)",
            columns(table)
        )
    } else {
        format!("UNNEST({arrays}) AS u({})", columns(table))
    }
}

/// A multi-row insert from one array per column. `ORDER BY ord` makes the identity column (`created_seq`)
/// follow the arrays' order, which is creation order.
fn insert_unnest(table: &Table) -> Named {
    named(format!(
        "INSERT INTO {name} ({cols}) SELECT {cols} FROM {unnest} ORDER BY ord",
        name = table.name,
        cols = columns(table),
        unnest = unnest(table, true),
    ))
}

/// Selects whether the interaction exists (a create checks before it takes a number).
pub(crate) const INTERACTION_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM interaction WHERE sys_id = $1)";
/// The next interaction number.
pub(crate) const NEXT_NUMBER: &str = "SELECT nextval('interaction_number')";
/// `$1`: interaction; in name order.
pub(crate) const SELECT_CONTEXT: &str =
    "SELECT name, value FROM interaction_context WHERE interaction = $1 ORDER BY name";
/// `$1`: interaction, `$2`/`$3`: names and values; sets each, replacing what was there.
pub(crate) const UPSERT_CONTEXT: &str = "INSERT INTO interaction_context (interaction, name, value) \
     SELECT $1, u.name, u.value FROM UNNEST($2::text[], $3::text[]) AS u(name, value) \
     ON CONFLICT (interaction, name) DO UPDATE SET value = EXCLUDED.value";
/// `$1`: interaction, `$2`: the names to remove.
pub(crate) const DELETE_CONTEXT: &str =
    "DELETE FROM interaction_context WHERE interaction = $1 AND name = ANY($2::text[])";
/// `$1`..`$4`: sys_id, user_name, password_hash, roles.
pub(crate) const INSERT_USER: &str =
    "INSERT INTO users (sys_id, user_name, password_hash, roles) VALUES ($1, $2, $3, $4)";
/// `$1`: user_name.
pub(crate) const SELECT_USER: &str =
    "SELECT sys_id, user_name, password_hash, roles FROM users WHERE user_name = $1";
/// Whether there is any user.
pub(crate) const HAS_USERS: &str = "SELECT EXISTS (SELECT 1 FROM users)";
/// The health check.
pub(crate) const PING: &str = "SELECT 1";

/// Constraint names the store words its conflicts from (see `migrations/`).
pub(crate) mod constraint {
    pub const INTERACTION_PKEY: &str = "interaction_pkey";
    pub const USER_NAME: &str = "users_user_name_key";
    pub const INBOUND_ID: &str = "sys_cs_provider_application_inbound_id_key";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_name_every_column_in_order() {
        assert_eq!(
            QUERIES.select_related_records.text(),
            "SELECT sys_id, sys_created_on, sys_created_by, sys_updated_on, sys_updated_by, sys_mod_count, \
             interaction, document_table, document_id FROM interaction_related_record \
             WHERE interaction = $1 ORDER BY created_seq"
        );
        let insert = QUERIES.insert_phone_logs.text();
        assert!(insert.contains("$15::text[]) WITH ORDINALITY"), "{insert}");
        assert!(!insert.contains("$16"), "{insert}");
        let update = QUERIES.update_interaction.text();
        assert!(
            update.starts_with("UPDATE interaction SET sys_created_on = $2,"),
            "{update}"
        );
        assert!(
            update.ends_with("channel_metadata_table = $31 WHERE sys_id = $1"),
            "{update}"
        );
    }
}
