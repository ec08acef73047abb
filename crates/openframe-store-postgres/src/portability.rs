//! Export pages and verbatim imports (`openframe export` / `openframe import`): one statement per page, and
//! one transaction per import batch.

use openframe_core::portability::ImportBatch;
use openframe_core::schema::{INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, field};
use openframe_core::unique::UniqueKey;
use openframe_core::{Error, InteractionAggregate, Record, Result, User};
use sqlx::postgres::PgConnection;

use crate::error::{db_error, map_error};
use crate::queries::{self, QUERIES};
use crate::repository::{provider_application_keys, user_keys};
use crate::rows::{bind_columns, bind_record, children_from_row, record_from_row, user_from_row};

/// PostgreSQL takes a signed 64-bit limit.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Up to `limit` whole interactions whose sys_id is above `after` (`""`: from the first), in sys_id order,
/// from one statement's snapshot.
pub(crate) async fn interactions(
    conn: &mut PgConnection,
    after: &str,
    limit: usize,
) -> Result<Vec<InteractionAggregate>> {
    let rows = QUERIES
        .page_interactions
        .query()
        .bind(after)
        .bind(sql_limit(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error("reading a page of interactions"))?;
    rows.iter()
        .map(|row| {
            let interaction = record_from_row(&INTERACTION, row)?;
            children_from_row(interaction, row, INTERACTION.fields.len())
        })
        .collect()
}

/// Up to `limit` provider applications whose sys_id is above `after`, in sys_id order.
pub(crate) async fn provider_applications(
    conn: &mut PgConnection,
    after: &str,
    limit: usize,
) -> Result<Vec<Record>> {
    let rows = QUERIES
        .page_provider_applications
        .query()
        .bind(after)
        .bind(sql_limit(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error("reading a page of provider applications"))?;
    rows.iter()
        .map(|row| record_from_row(&PROVIDER_APPLICATION, row))
        .collect()
}

/// Up to `limit` users named above `after`, by name (byte-wise).
pub(crate) async fn users(conn: &mut PgConnection, after: &str, limit: usize) -> Result<Vec<User>> {
    let rows = sqlx::query(queries::PAGE_USERS)
        .bind(after)
        .bind(sql_limit(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error("reading a page of users"))?;
    rows.iter().map(user_from_row).collect()
}

/// PostgreSQL text cannot hold a NUL character: refused in words of our own.
fn refuse_nul(field: &str, value: &str) -> Result<()> {
    if value.contains('\0') {
        Err(Error::invalid(field, "must not contain NUL characters"))
    } else {
        Ok(())
    }
}

fn check_text(batch: &ImportBatch) -> Result<()> {
    for u in &batch.users {
        refuse_nul("password_hash", &u.password_hash)?;
    }
    for r in batch.table_records() {
        for (name, value) in r.iter() {
            refuse_nul(name, value)?;
        }
    }
    for a in &batch.interactions {
        for (k, v) in &a.context {
            refuse_nul("context", k)?;
            refuse_nul("context", v)?;
        }
    }
    Ok(())
}

/// Writes `batch` verbatim in the caller's transaction and moves the number sequence past its highest
/// number. The caller commits.
pub(crate) async fn import(conn: &mut PgConnection, batch: &ImportBatch) -> Result<()> {
    batch.check()?;
    check_text(batch)?;
    for user in &batch.users {
        sqlx::query(queries::INSERT_USER)
            .bind(user.sys_id.as_str())
            .bind(user.user_name.as_str())
            .bind(user.name.as_str())
            .bind(user.password_hash.as_str())
            .bind(user.roles.as_slice())
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                map_error(
                    format!("importing user {}", user.user_name),
                    e,
                    &user_keys(user),
                )
            })?;
    }
    for app in &batch.provider_applications {
        bind_record(QUERIES.insert_provider_application.query(), app, None)
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                map_error(
                    "importing a provider application",
                    e,
                    &provider_application_keys(app),
                )
            })?;
    }
    for a in &batch.interactions {
        let (names, values): (Vec<&str>, Vec<&str>) = a
            .context
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .unzip();
        let mut insert = bind_record(QUERIES.import_interaction.query(), &a.interaction, None)
            .bind(names)
            .bind(values);
        insert = bind_columns(insert, &PHONE_LOG, &a.phone_logs);
        insert = bind_columns(insert, &RELATED_RECORD, &a.related_records);
        insert.execute(&mut *conn).await.map_err(|e| {
            let mut keys = a.unique_keys();
            keys.push(UniqueKey::Number(a.interaction.get(field::NUMBER)));
            map_error(
                format!("importing interaction {}", a.interaction.sys_id()),
                e,
                &keys,
            )
        })?;
    }
    if let Some(highest) = batch.highest_number()? {
        let highest =
            i64::try_from(highest).map_err(|_| Error::invalid("number", "is too large"))?;
        sqlx::query(queries::RAISE_NUMBER)
            .bind(highest)
            .execute(&mut *conn)
            .await
            .map_err(db_error("moving the number sequence"))?;
    }
    Ok(())
}
