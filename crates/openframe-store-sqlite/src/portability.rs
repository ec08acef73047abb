//! Export pages and verbatim imports (`openframe export` / `openframe import`): keyset-paged reads in one
//! read transaction each, and one import batch as one write (all or nothing within the writer's transaction).

use openframe_core::portability::ImportBatch;
use openframe_core::schema::PROVIDER_APPLICATION;
use openframe_core::{Error, InteractionAggregate, Record, Result, User};
use rusqlite::{Connection, params};

use crate::error::sqlite;
use crate::queries::{self, RECORDS};
use crate::tables::{
    UserColumns, insert_provider_application, insert_user, load_aggregate, record, user_columns,
    user_from_columns, write_aggregate,
};

/// SQLite takes a signed 64-bit limit; anything past it is "no limit" in practice.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Up to `limit` whole interactions whose sys_id is above `after` (`""`: from the first), in sys_id order.
pub(crate) fn interactions(
    conn: &Connection,
    after: &str,
    limit: usize,
) -> Result<Vec<InteractionAggregate>> {
    let ids: Vec<String> = conn
        .prepare_cached(queries::PAGE_INTERACTION_IDS)
        .and_then(|mut stmt| {
            stmt.query_map(params![after, sql_limit(limit)], |row| row.get(0))?
                .collect()
        })
        .map_err(sqlite("reading a page of interactions"))?;
    ids.iter()
        .map(|id| {
            load_aggregate(conn, id)?.ok_or_else(|| {
                Error::internal(format!(
                    "interaction {id} vanished inside a read transaction"
                ))
            })
        })
        .collect()
}

/// Up to `limit` provider applications whose sys_id is above `after`, in sys_id order.
pub(crate) fn provider_applications(
    conn: &Connection,
    after: &str,
    limit: usize,
) -> Result<Vec<Record>> {
    let rows: Vec<Vec<String>> = conn
        .prepare_cached(&RECORDS.page_provider_applications)
        .and_then(|mut stmt| {
            stmt.query_map(params![after, sql_limit(limit)], |row| {
                record(&PROVIDER_APPLICATION, row)
            })?
            .collect()
        })
        .map_err(sqlite("reading a page of provider applications"))?;
    rows.into_iter()
        .map(|values| Record::from_values(&PROVIDER_APPLICATION, values))
        .collect()
}

/// Up to `limit` users named above `after`, by name.
pub(crate) fn users(conn: &Connection, after: &str, limit: usize) -> Result<Vec<User>> {
    let rows: Vec<UserColumns> = conn
        .prepare_cached(queries::PAGE_USERS)
        .and_then(|mut stmt| {
            stmt.query_map(params![after, sql_limit(limit)], user_columns)?
                .collect()
        })
        .map_err(sqlite("reading a page of users"))?;
    rows.into_iter().map(user_from_columns).collect()
}

/// Writes `batch` verbatim inside the caller's transaction (a writer's job: an error leaves none of it)
/// and raises the number counter past its highest number.
pub(crate) fn import(conn: &Connection, batch: &ImportBatch) -> Result<()> {
    batch.check()?;
    for user in &batch.users {
        insert_user(conn, user)?;
    }
    for app in &batch.provider_applications {
        insert_provider_application(conn, app)?;
    }
    for a in &batch.interactions {
        write_aggregate(conn, a, "importing an interaction")?;
    }
    if let Some(highest) = batch.highest_number()? {
        let next = i64::try_from(highest.saturating_add(1))
            .map_err(|_| Error::invalid("number", "is too large"))?;
        conn.prepare_cached(queries::RAISE_NUMBER)
            .and_then(|mut stmt| stmt.execute([next]))
            .map_err(sqlite("moving the number counter"))?;
    }
    Ok(())
}
