//! Reading and writing rows: records, the interaction aggregate, users and provider applications.
//!
//! Every function takes the connection of a transaction the caller opened, and uses only the named
//! statements of [`crate::queries`].

use std::collections::HashSet;

use openframe_core::portability::USER_TABLE;
use openframe_core::query::{RecordPage, TableQuery};
use openframe_core::schema::{
    INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, Table, field,
};
use openframe_core::{
    AggregateChange, Conflict, Context, Error, InteractionAggregate, Record, Result, SysId, User,
};
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::error::{map, sqlite};
use crate::queries::{self, RECORDS};
use crate::record_query;

/// A record of `table` from a row selected with every field in column order.
pub(crate) fn record(table: &'static Table, row: &Row<'_>) -> rusqlite::Result<Vec<String>> {
    (0..table.fields.len()).map(|i| row.get(i)).collect()
}

/// The records of `table` that `sql` selects with `key`, oldest first.
fn select_records(
    conn: &Connection,
    table: &'static Table,
    sql: &str,
    key: &str,
) -> Result<Vec<Record>> {
    let rows: Vec<Vec<String>> = conn
        .prepare_cached(sql)
        .and_then(|mut stmt| stmt.query_map([key], |row| record(table, row))?.collect())
        .map_err(sqlite("reading records"))?;
    rows.into_iter()
        .map(|values| Record::from_values(table, values))
        .collect()
}

/// Inserts `record` of `table` with `sql`, that table's insert, every field bound in column order; a taken
/// sys_id is a conflict.
pub(crate) fn write_record(
    conn: &Connection,
    table: &'static Table,
    sql: &str,
    record: &Record,
) -> Result<()> {
    if record.table() != table {
        return Err(Error::internal(format!(
            "a {} record was written as a {} record",
            record.table().name,
            table.name
        )));
    }
    let table = table.name;
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(params_from_iter(record.values())))
        .map_err(|e| {
            // The sys_id is the table's one unique column (`seq` is the store's own).
            map(e, format!("writing a {table} record"), || Conflict::SysId {
                table,
                sys_id: record.sys_id().to_owned(),
            })
        })?;
    Ok(())
}

/// Checks that a phone log or related record belongs to the interaction it is written with: the store
/// finds them by their `interaction` field, so one that named another would be lost from this aggregate.
pub(crate) fn check_owner(record: &Record, interaction: &str) -> Result<()> {
    let owner = record.get(field::INTERACTION);
    if owner == interaction {
        Ok(())
    } else {
        Err(Error::internal(format!(
            "{} {} names interaction {owner:?}, but is written with interaction {interaction}",
            record.table().name,
            record.sys_id()
        )))
    }
}

/// Reads interaction `sys_id` with its context, phone logs and related records.
pub(crate) fn load_aggregate(
    conn: &Connection,
    sys_id: &str,
) -> Result<Option<InteractionAggregate>> {
    let Some(interaction) =
        select_records(conn, &INTERACTION, &RECORDS.select_interaction, sys_id)?
            .into_iter()
            .next()
    else {
        return Ok(None);
    };
    let mut stmt = conn
        .prepare_cached(queries::SELECT_CONTEXT)
        .map_err(sqlite("reading context variables"))?;
    let context = stmt
        .query_map([sys_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .and_then(|rows| rows.collect::<rusqlite::Result<Context>>())
        .map_err(sqlite("reading context variables"))?;
    Ok(Some(InteractionAggregate {
        interaction,
        context,
        phone_logs: select_records(conn, &PHONE_LOG, &RECORDS.select_phone_logs, sys_id)?,
        related_records: select_records(
            conn,
            &RELATED_RECORD,
            &RECORDS.select_related_records,
            sys_id,
        )?,
    }))
}

/// The next interaction number; [`take_number`] moves the counter past it.
pub(crate) fn next_number(conn: &Connection) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached(queries::NEXT_NUMBER)
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(sqlite("reading the next interaction number"))?;
    u64::try_from(n).map_err(|_| Error::internal(format!("the number counter is negative ({n})")))
}

/// Moves the counter past the number [`next_number`] gave, in the same transaction.
pub(crate) fn take_number(conn: &Connection) -> Result<()> {
    conn.prepare_cached(queries::TAKE_NUMBER)
        .and_then(|mut stmt| stmt.execute([]))
        .map_err(sqlite("taking the next interaction number"))?;
    Ok(())
}

/// Inserts a whole new aggregate. Its phone logs are new too: plain inserts, for which SQLite needs no
/// statement journal (an upsert's `DO UPDATE` may rewrite the log's `interaction`, a foreign key, so SQLite
/// would copy every page the statement touches first, in case it has to undo it halfway). A taken sys_id is
/// a conflict, never an overwrite of another interaction's log.
pub(crate) fn insert_aggregate(conn: &Connection, new: &InteractionAggregate) -> Result<()> {
    write_aggregate(conn, new, "writing an interaction")
}

/// Inserts `a`'s interaction, context, phone logs and related records. When the interaction's insert breaks
/// a uniqueness rule, the conflict is its sys_id if an interaction has it, else its number.
pub(crate) fn write_aggregate(
    conn: &Connection,
    a: &InteractionAggregate,
    doing: &'static str,
) -> Result<()> {
    let sys_id = a.interaction.sys_id();
    conn.prepare_cached(&RECORDS.insert_interaction)
        .and_then(|mut stmt| stmt.execute(params_from_iter(a.interaction.values())))
        .map_err(|e| {
            map(e, doing, || {
                let sys_id_taken =
                    select_records(conn, &INTERACTION, &RECORDS.select_interaction, sys_id)
                        .is_ok_and(|found| !found.is_empty());
                if sys_id_taken {
                    Conflict::SysId {
                        table: INTERACTION.name,
                        sys_id: sys_id.to_owned(),
                    }
                } else {
                    Conflict::Number {
                        number: a.interaction.get(field::NUMBER).to_owned(),
                    }
                }
            })
        })?;
    set_context(conn, sys_id, &a.context)?;
    for log in &a.phone_logs {
        check_owner(log, sys_id)?;
        write_record(conn, &PHONE_LOG, &RECORDS.insert_phone_log, log)?;
    }
    for related in &a.related_records {
        check_owner(related, sys_id)?;
        write_record(
            conn,
            &RELATED_RECORD,
            &RECORDS.insert_related_record,
            related,
        )?;
    }
    Ok(())
}

/// Writes an update's change to the aggregate `current` it was planned on, with the semantics of
/// [`AggregateChange::apply_to`].
pub(crate) fn write_change(
    conn: &Connection,
    current: &InteractionAggregate,
    change: &AggregateChange,
) -> Result<()> {
    let sys_id = current.interaction.sys_id();
    if change.interaction.sys_id() != sys_id {
        return Err(Error::internal(format!(
            "an update of interaction {sys_id} returned interaction {}",
            change.interaction.sys_id()
        )));
    }
    let updated = conn
        .prepare_cached(&RECORDS.update_interaction)
        .and_then(|mut stmt| stmt.execute(params_from_iter(change.interaction.values())))
        .map_err(|e| {
            map(e, "updating an interaction", || Conflict::Number {
                number: change.interaction.get(field::NUMBER).to_owned(),
            })
        })?;
    if updated != 1 {
        return Err(Error::internal(format!(
            "updating interaction {sys_id} changed {updated} rows"
        )));
    }
    // Removals first, as apply_to does: a name both removed and set ends up set.
    let mut delete = conn
        .prepare_cached(queries::DELETE_CONTEXT)
        .map_err(sqlite("removing context variables"))?;
    for name in &change.context_removed {
        delete
            .execute(params![sys_id, name])
            .map_err(sqlite("removing context variables"))?;
    }
    set_context(conn, sys_id, &change.context_set)?;
    // A log the interaction has (stored, or inserted earlier in this change) is overwritten where it is, all
    // but its `interaction`, which check_owner says stays this one; any other is new, and inserted. Neither
    // statement can rewrite a foreign key, so SQLite keeps no statement journal for them, as it did for the
    // upsert this replaces (insert_aggregate).
    let mut stored: HashSet<&str> = current.phone_logs.iter().map(Record::sys_id).collect();
    for log in &change.phone_logs {
        check_owner(log, sys_id)?;
        if stored.contains(log.sys_id()) {
            overwrite_phone_log(conn, log)?;
        } else {
            write_record(conn, &PHONE_LOG, &RECORDS.insert_phone_log, log)?;
            stored.insert(log.sys_id());
        }
    }
    for related in &change.related_records {
        check_owner(related, sys_id)?;
        write_record(
            conn,
            &RELATED_RECORD,
            &RECORDS.insert_related_record,
            related,
        )?;
    }
    // Removals last, as apply_to does.
    for (sql, removed) in [
        (queries::DELETE_PHONE_LOG, &change.removed.phone_logs),
        (
            queries::DELETE_RELATED_RECORD,
            &change.removed.related_records,
        ),
    ] {
        for child in removed {
            execute(conn, sql, params![sys_id, child], "removing a child record")?;
        }
    }
    Ok(())
}

/// Deletes interaction `sys_id` with its context and children; returns what it deleted, `None` when there
/// is no such interaction.
pub(crate) fn delete_aggregate(
    conn: &Connection,
    sys_id: &str,
) -> Result<Option<InteractionAggregate>> {
    let Some(deleted) = load_aggregate(conn, sys_id)? else {
        return Ok(None);
    };
    for sql in [
        queries::DELETE_ALL_CONTEXT,
        queries::DELETE_PHONE_LOGS,
        queries::DELETE_RELATED_RECORDS,
        queries::DELETE_INTERACTION,
    ] {
        execute(conn, sql, params![sys_id], "deleting an interaction")?;
    }
    Ok(Some(deleted))
}

/// Runs one cached statement.
fn execute(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    doing: &'static str,
) -> Result<()> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(params))
        .map_err(sqlite(doing))?;
    Ok(())
}

/// Overwrites the stored phone log with `log`'s sys_id, which must exist.
fn overwrite_phone_log(conn: &Connection, log: &Record) -> Result<()> {
    let updated = conn
        .prepare_cached(&RECORDS.update_phone_log)
        .and_then(|mut stmt| stmt.execute(params_from_iter(log.values())))
        .map_err(sqlite("updating a phone log"))?;
    if updated != 1 {
        return Err(Error::internal(format!(
            "updating phone log {} changed {updated} rows",
            log.sys_id()
        )));
    }
    Ok(())
}

pub(crate) fn set_context(conn: &Connection, interaction: &str, context: &Context) -> Result<()> {
    let mut upsert = conn
        .prepare_cached(queries::UPSERT_CONTEXT)
        .map_err(sqlite("setting context variables"))?;
    for (name, value) in context {
        upsert
            .execute(params![interaction, name, value])
            .map_err(sqlite("setting context variables"))?;
    }
    Ok(())
}

/// Adds a user; a taken user name is a conflict.
pub(crate) fn insert_user(conn: &Connection, user: &User) -> Result<()> {
    let roles = serde_json::to_string(&user.roles)
        .map_err(|e| Error::internal(format!("encoding roles: {e}")))?;
    conn.prepare_cached(queries::INSERT_USER)
        .and_then(|mut stmt| {
            stmt.execute(params![
                user.sys_id.as_str(),
                user.user_name,
                user.name,
                user.password_hash,
                roles
            ])
        })
        .map_err(|e| {
            // The name or the sys_id: the name when a user has it (as `check_unique` would say first).
            map(e, "adding a user", || {
                if matches!(find_user(conn, &user.user_name), Ok(Some(_))) {
                    Conflict::UserName {
                        user_name: user.user_name.clone(),
                    }
                } else {
                    Conflict::SysId {
                        table: USER_TABLE,
                        sys_id: user.sys_id.as_str().to_owned(),
                    }
                }
            })
        })?;
    Ok(())
}

/// The user called `user_name`.
pub(crate) fn find_user(conn: &Connection, user_name: &str) -> Result<Option<User>> {
    let row: Option<UserColumns> = conn
        .prepare_cached(queries::SELECT_USER)
        .and_then(|mut stmt| stmt.query_row([user_name], user_columns).optional())
        .map_err(sqlite("reading a user"))?;
    row.map(user_from_columns).transpose()
}

/// The users whose sys_id is among `sys_ids`, in one statement.
pub(crate) fn find_users_by_sys_id(conn: &Connection, sys_ids: &[SysId]) -> Result<Vec<User>> {
    let ids = serde_json::to_string(&sys_ids.iter().map(SysId::as_str).collect::<Vec<_>>())
        .map_err(|e| Error::internal(format!("encoding sys_ids: {e}")))?;
    let rows: Vec<UserColumns> = conn
        .prepare_cached(queries::SELECT_USERS_BY_SYS_ID)
        .and_then(|mut stmt| stmt.query_map([ids], user_columns)?.collect())
        .map_err(sqlite("reading users by sys_id"))?;
    rows.into_iter().map(user_from_columns).collect()
}

/// A user's columns as the user queries select them: sys_id, user_name, name, password_hash, roles.
pub(crate) type UserColumns = (String, String, String, String, String);

/// Reads [`UserColumns`] from a row.
pub(crate) fn user_columns(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserColumns> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

/// A user from its columns as stored (roles a JSON array).
pub(crate) fn user_from_columns(
    (sys_id, user_name, name, password_hash, roles): UserColumns,
) -> Result<User> {
    let sys_id = SysId::parse(&sys_id)
        .map_err(|rule| Error::internal(format!("user {user_name} has a bad sys_id: {rule}")))?;
    let roles = serde_json::from_str(&roles)
        .map_err(|e| Error::internal(format!("user {user_name} has unreadable roles: {e}")))?;
    Ok(User {
        sys_id,
        user_name,
        name,
        password_hash,
        roles,
    })
}

/// Replaces a user's password hash; `NotFound` when no user has the name.
pub(crate) fn set_user_password(conn: &Connection, user_name: &str, hash: &str) -> Result<()> {
    let changed = conn
        .prepare_cached(queries::SET_USER_PASSWORD)
        .and_then(|mut stmt| stmt.execute([hash, user_name]))
        .map_err(sqlite("changing a user's password"))?;
    if changed == 0 {
        return Err(Error::NotFound { what: "user" });
    }
    Ok(())
}

/// Removes a user; `NotFound` when no user has the name.
pub(crate) fn remove_user(conn: &Connection, user_name: &str) -> Result<()> {
    let removed = conn
        .prepare_cached(queries::DELETE_USER)
        .and_then(|mut stmt| stmt.execute([user_name]))
        .map_err(sqlite("removing a user"))?;
    if removed == 0 {
        return Err(Error::NotFound { what: "user" });
    }
    Ok(())
}

/// Whether there is any user.
pub(crate) fn has_users(conn: &Connection) -> Result<bool> {
    conn.prepare_cached(queries::HAS_USERS)
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(sqlite("counting users"))
}

/// Adds a provider application; a taken inbound_id is a conflict.
pub(crate) fn insert_provider_application(conn: &Connection, app: &Record) -> Result<()> {
    if app.table() != &PROVIDER_APPLICATION {
        return Err(Error::internal(format!(
            "a {} record was added as a provider application",
            app.table().name
        )));
    }
    let inbound_id = app.get(field::INBOUND_ID);
    conn.prepare_cached(&RECORDS.insert_provider_application)
        .and_then(|mut stmt| stmt.execute(params_from_iter(app.values())))
        .map_err(|e| {
            // The sys_id or the inbound_id: the inbound_id when another application has it.
            map(
                e,
                "adding a provider application",
                || match find_provider_application(conn, inbound_id) {
                    Ok(Some(other)) if other.sys_id() != app.sys_id() => Conflict::InboundId {
                        inbound_id: inbound_id.to_owned(),
                    },
                    _ => Conflict::SysId {
                        table: PROVIDER_APPLICATION.name,
                        sys_id: app.sys_id().to_owned(),
                    },
                },
            )
        })?;
    Ok(())
}

/// The provider application with `inbound_id`.
pub(crate) fn find_provider_application(
    conn: &Connection,
    inbound_id: &str,
) -> Result<Option<Record>> {
    Ok(select_records(
        conn,
        &PROVIDER_APPLICATION,
        &RECORDS.select_provider_application,
        inbound_id,
    )?
    .into_iter()
    .next())
}

/// The record of `table` with `sys_id`; none for a table the store does not keep.
pub(crate) fn read_record(
    conn: &Connection,
    table: &'static Table,
    sys_id: &str,
) -> Result<Option<Record>> {
    let Some(table) = record_query::known_table(table) else {
        return Ok(None);
    };
    let Some(sql) = RECORDS.select_by_sys_id(table) else {
        return Ok(None);
    };
    Ok(select_records(conn, table, sql, sys_id)?.into_iter().next())
}

/// The page `query` selects and its total. Both statements run in the caller's (read) transaction, so the
/// total counts the snapshot the page came from.
pub(crate) fn query_records(conn: &Connection, query: &TableQuery) -> Result<RecordPage> {
    let Some(sql) = record_query::build(query)? else {
        return Ok(RecordPage {
            records: Vec::new(),
            total: 0,
        });
    };
    let table = sql.table;
    // SQLite takes a signed 64-bit limit; anything past it is "no limit" in practice.
    let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
    let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
    let mut page_params: Vec<&dyn rusqlite::ToSql> = sql
        .values
        .iter()
        .map(|v| v as &dyn rusqlite::ToSql)
        .collect();
    page_params.push(&limit);
    page_params.push(&offset);
    let rows: Vec<Vec<String>> = conn
        .prepare_cached(&sql.page)
        .and_then(|mut stmt| {
            stmt.query_map(page_params.as_slice(), |row| record(table, row))?
                .collect()
        })
        .map_err(sqlite("querying records"))?;
    let records = rows
        .into_iter()
        .map(|values| Record::from_values(table, values))
        .collect::<Result<Vec<_>>>()?;
    // A first page that is not full holds every match: no need to count them again.
    let total = if !query.count {
        0
    } else if query.offset == 0 && records.len() < query.limit {
        records.len() as u64
    } else {
        let n: i64 = conn
            .prepare_cached(&sql.count)
            .and_then(|mut stmt| {
                stmt.query_row(params_from_iter(sql.values.iter()), |row| row.get(0))
            })
            .map_err(sqlite("counting records"))?;
        u64::try_from(n).map_err(|_| Error::internal(format!("a negative count ({n})")))?
    };
    Ok(RecordPage { records, total })
}

/// Reads the database header: fails when the file cannot be read.
pub(crate) fn ping(conn: &Connection) -> Result<()> {
    conn.prepare_cached(queries::PING)
        .and_then(|mut stmt| stmt.query_row([], |row| row.get::<_, i64>(0)))
        .map_err(sqlite("pinging the database"))?;
    Ok(())
}
