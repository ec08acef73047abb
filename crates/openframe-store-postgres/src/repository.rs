//! `Repository` on PostgreSQL: each method is one transaction (or one statement) on the pool.

use async_trait::async_trait;
use openframe_core::aggregate::{AggregateChange, InteractionAggregate};
use openframe_core::metric_names::{POOL_CONNECTIONS, POOL_MAX_CONNECTIONS};
use openframe_core::oauth::{OAuthClient, OAuthToken};
use openframe_core::portability::ImportBatch;
use openframe_core::portability::USER_TABLE;
use openframe_core::query::{RecordPage, TableQuery};
use openframe_core::schema::{
    INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, Table, field,
};
use openframe_core::stats::{AggregateGroup, AggregateQuery};
use openframe_core::unique::UniqueKey;
use openframe_core::{
    Error, EventPage, InteractionEvent, Record, Repository, Result, SysId, UpdatePlan, User,
};
use sqlx::Row;
use sqlx::postgres::{PgConnection, PgRow};

use crate::connect::PostgresRepository;
use crate::create_batch::NewInteraction;
use crate::error::{db_error, map_error};
use crate::outbox;
use crate::queries::{self, QUERIES};
use crate::rows::{bind_columns, bind_record, children_from_row, record_from_row, user_from_row};
use crate::table_query::{PageSql, known_table, page_from_rows};

#[async_trait]
impl Repository for PostgresRepository {
    async fn create_interaction(&self, new: InteractionAggregate) -> Result<String> {
        // Written with the creates queued beside it, in one statement (`create_batch.rs` says why).
        self.creates.create(NewInteraction::new(new)?).await
    }

    async fn update_interaction(
        &self,
        sys_id: &SysId,
        plan: Box<UpdatePlan>,
    ) -> Result<AggregateChange> {
        // Most updates meet no other write of their interaction: read, plan and write the version read, two
        // round trips and no transaction. When another write came between, nothing was written, and the
        // update waits its turn on the row lock instead, which always succeeds (and cannot starve).
        if let Some(change) = self.update_unlocked(sys_id, plan.as_ref()).await? {
            return Ok(change);
        }
        self.update_locked(sys_id, plan.as_ref()).await
    }

    async fn delete_interaction(&self, sys_id: &SysId) -> Result<InteractionAggregate> {
        let doing = format!("deleting interaction {sys_id}");
        let failed = || db_error(doing.as_str());
        let mut tx = self.pool.begin().await.map_err(failed())?;
        // Under the row's lock, no update can come between the read and the delete, so the event tells what
        // was deleted.
        let (deleted, _) = lock_aggregate(&mut tx, sys_id, &doing).await?;
        let event = InteractionEvent::deleted(&deleted).to_payload();
        QUERIES
            .delete_interaction
            .query()
            .bind(sys_id.as_str())
            .bind(event)
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed())?
            .ok_or_else(|| {
                Error::internal(format!("interaction {sys_id} vanished under its row lock"))
            })?;
        tx.commit().await.map_err(failed())?;
        Ok(deleted)
    }

    async fn load_interaction(&self, sys_id: &SysId) -> Result<Option<InteractionAggregate>> {
        // One statement, so one snapshot for the interaction and its children, and no transaction to open.
        let Some(row) = QUERIES
            .load_interaction
            .query()
            .bind(sys_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error(format!("loading interaction {sys_id}")))?
        else {
            return Ok(None);
        };
        let interaction = record_from_row(&INTERACTION, &row)?;
        children_from_row(interaction, &row, INTERACTION.fields.len()).map(Some)
    }

    async fn add_user(&self, user: &User) -> Result<()> {
        for (name, value) in [
            ("user_name", user.user_name.as_str()),
            ("password_hash", user.password_hash.as_str()),
        ]
        .into_iter()
        .chain(user.roles.iter().map(|r| ("role", r.as_str())))
        {
            refuse_nul(name, value)?;
        }
        sqlx::query(queries::INSERT_USER)
            .bind(user.sys_id.as_str())
            .bind(user.user_name.as_str())
            .bind(user.name.as_str())
            .bind(user.password_hash.as_str())
            .bind(user.roles.as_slice())
            .execute(&self.pool)
            .await
            .map_err(|e| {
                map_error(
                    format!("adding user {}", user.user_name),
                    e,
                    &user_keys(user),
                )
            })?;
        Ok(())
    }

    async fn find_user(&self, user_name: &str) -> Result<Option<User>> {
        if user_name.contains('\0') {
            // PostgreSQL text cannot hold a NUL, so no stored name has one (and the server would refuse the
            // parameter: a sign-in attempt must not turn into an internal error).
            return Ok(None);
        }
        let Some(row) = sqlx::query(queries::SELECT_USER)
            .bind(user_name)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error(format!("finding user {user_name}")))?
        else {
            return Ok(None);
        };
        user_from_row(&row).map(Some)
    }

    async fn find_users_by_sys_id(&self, sys_ids: &[SysId]) -> Result<Vec<User>> {
        let ids: Vec<&str> = sys_ids.iter().map(SysId::as_str).collect();
        sqlx::query(queries::SELECT_USERS_BY_SYS_ID)
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("finding users by sys_id"))?
            .iter()
            .map(user_from_row)
            .collect()
    }

    async fn has_users(&self) -> Result<bool> {
        sqlx::query_scalar(queries::HAS_USERS)
            .fetch_one(&self.pool)
            .await
            .map_err(db_error("counting users"))
    }

    async fn set_user_password(&self, user_name: &str, password_hash: &str) -> Result<()> {
        refuse_nul("password_hash", password_hash)?;
        if user_name.contains('\0') {
            return Err(Error::NotFound { what: "user" }); // as in find_user
        }
        let changed = sqlx::query(queries::SET_USER_PASSWORD)
            .bind(password_hash)
            .bind(user_name)
            .execute(&self.pool)
            .await
            .map_err(db_error(format!("changing the password of {user_name}")))?;
        if changed.rows_affected() == 0 {
            return Err(Error::NotFound { what: "user" });
        }
        Ok(())
    }

    async fn remove_user(&self, user_name: &str) -> Result<()> {
        if user_name.contains('\0') {
            return Err(Error::NotFound { what: "user" }); // as in find_user
        }
        let removed = sqlx::query(queries::DELETE_USER)
            .bind(user_name)
            .execute(&self.pool)
            .await
            .map_err(db_error(format!("removing user {user_name}")))?;
        if removed.rows_affected() == 0 {
            return Err(Error::NotFound { what: "user" });
        }
        Ok(())
    }

    async fn add_oauth_client(&self, client: &OAuthClient) -> Result<()> {
        self.insert_oauth_client(client).await
    }

    async fn find_oauth_client(&self, client_id: &str) -> Result<Option<OAuthClient>> {
        self.select_oauth_client(client_id).await
    }

    async fn add_oauth_token(&self, token: &OAuthToken) -> Result<()> {
        self.insert_oauth_token(token).await
    }

    async fn find_oauth_token(&self, token_hash: &str) -> Result<Option<OAuthToken>> {
        self.select_oauth_token(token_hash).await
    }

    async fn prune_oauth_tokens(&self, now: i64) -> Result<u64> {
        self.delete_expired_oauth_tokens(now).await
    }

    async fn add_provider_application(&self, app: &Record) -> Result<()> {
        if app.table() != &PROVIDER_APPLICATION {
            return Err(Error::internal(format!(
                "a {} record is not a provider application",
                app.table().name
            )));
        }
        for (name, value) in app.iter() {
            refuse_nul(name, value)?;
        }
        let inbound_id = app.get(field::INBOUND_ID);
        bind_record(QUERIES.insert_provider_application.query(), app, None)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                map_error(
                    format!("adding provider application {inbound_id}"),
                    e,
                    &provider_application_keys(app),
                )
            })?;
        Ok(())
    }

    async fn find_provider_application(&self, inbound_id: &str) -> Result<Option<Record>> {
        if inbound_id.contains('\0') {
            return Ok(None); // as in find_user
        }
        QUERIES
            .select_provider_application
            .query()
            .bind(inbound_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error(format!(
                "finding provider application {inbound_id}"
            )))?
            .map(|row| record_from_row(&PROVIDER_APPLICATION, &row))
            .transpose()
    }

    async fn read_record(&self, table: &'static Table, sys_id: &SysId) -> Result<Option<Record>> {
        let table = known_table(table)?;
        let Some(select) = QUERIES.select_by_sys_id(table) else {
            return Err(Error::internal(format!(
                "no query for table {}",
                table.name
            )));
        };
        select
            .query()
            .bind(sys_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error(format!("reading {} {sys_id}", table.name)))?
            .map(|row| record_from_row(table, &row))
            .transpose()
    }

    async fn query_records(&self, query: &TableQuery) -> Result<RecordPage> {
        // One statement: the count and the page come from its one snapshot.
        let sql = PageSql::new(query)?;
        let rows = sql
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(db_error(format!("querying {}", query.table.name)))?;
        page_from_rows(known_table(query.table)?, &rows)
    }

    async fn aggregate_records(&self, query: &AggregateQuery) -> Result<Vec<AggregateGroup>> {
        // One statement: every group comes from its one snapshot.
        crate::stats_query::aggregate_records(&self.pool, query).await
    }

    async fn events_after(&self, after: u64, limit: usize) -> Result<EventPage> {
        // Appends carry no id: the events committed so far get theirs first (`sequencer.rs` says why here).
        self.sequencer.number_committed(&self.pool).await?;
        outbox::after(&self.pool, after, limit).await
    }

    async fn prune_events(&self, keep: u64) -> Result<()> {
        outbox::prune(&self.pool, keep).await
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query(queries::PING)
            .execute(&self.pool)
            .await
            .map_err(db_error("pinging"))?;
        Ok(())
    }

    /// Closes the pool: each connection says goodbye to the server instead of vanishing.
    async fn close(&self) {
        self.pool.close().await;
    }

    async fn export_interactions(
        &self,
        after: Option<&SysId>,
        limit: usize,
    ) -> Result<Vec<InteractionAggregate>> {
        let mut conn = self.pool.acquire().await.map_err(db_error("exporting"))?;
        // Every sys_id sorts above "" (the column is byte-wise, "C").
        let after = after.map_or("", SysId::as_str);
        crate::portability::interactions(&mut conn, after, limit).await
    }

    async fn export_provider_applications(
        &self,
        after: Option<&SysId>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        let mut conn = self.pool.acquire().await.map_err(db_error("exporting"))?;
        let after = after.map_or("", SysId::as_str);
        crate::portability::provider_applications(&mut conn, after, limit).await
    }

    async fn export_users(&self, after: Option<&str>, limit: usize) -> Result<Vec<User>> {
        let mut conn = self.pool.acquire().await.map_err(db_error("exporting"))?;
        // User names are never empty, so every one sorts above "".
        crate::portability::users(&mut conn, after.unwrap_or_default(), limit).await
    }

    async fn import(&self, batch: &ImportBatch) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_error("importing"))?;
        match crate::portability::import(&mut tx, batch).await {
            Ok(()) => tx.commit().await.map_err(db_error("committing an import")),
            Err(e) => {
                // Nothing of the batch is kept; a failed rollback means the connection is gone, which ends
                // the transaction just the same.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    fn record_gauges(&self) {
        let open = self.pool.size();
        let idle = u32::try_from(self.pool.num_idle())
            .unwrap_or(u32::MAX)
            .min(open);
        let max = self.pool.options().get_max_connections();
        metrics::gauge!(POOL_CONNECTIONS, "store" => "postgres", "state" => "idle").set(idle);
        metrics::gauge!(POOL_CONNECTIONS, "store" => "postgres", "state" => "in_use")
            .set(open - idle);
        metrics::gauge!(POOL_MAX_CONNECTIONS, "store" => "postgres").set(max);
    }
}

impl PostgresRepository {
    /// An update without a lock: `None` when another write of the interaction came between the read and
    /// the write, and nothing was written.
    async fn update_unlocked(
        &self,
        sys_id: &SysId,
        plan: &UpdatePlan,
    ) -> Result<Option<AggregateChange>> {
        let doing = format!("updating interaction {sys_id}");
        // Both statements on one connection: sqlx pings a connection each time it goes back to the pool, a
        // round trip of its own.
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_error(doing.as_str()))?;
        // One statement, so the interaction, its children and its version come from one snapshot.
        let Some(row) = QUERIES
            .load_versioned
            .query()
            .bind(sys_id.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error(doing.as_str()))?
        else {
            return Err(interaction_not_found());
        };
        let interaction = record_from_row(&INTERACTION, &row)?;
        let version = version_at(&row, INTERACTION.fields.len() + 3)?;
        let current = children_from_row(interaction, &row, INTERACTION.fields.len())?;
        let change = plan(&current)?;
        check_children(sys_id, &change.phone_logs, &change.related_records)?;
        let written = write_change(&mut *conn, sys_id, &version, &current, &change)
            .await
            .map_err(|e| map_error(doing.as_str(), e, &change_keys(&change)))?;
        Ok(written.then_some(change))
    }

    /// An update under the row's lock, taken first: a second update of the interaction waits for it.
    async fn update_locked(&self, sys_id: &SysId, plan: &UpdatePlan) -> Result<AggregateChange> {
        let doing = format!("updating interaction {sys_id}");
        let failed = || db_error(doing.as_str());
        let mut tx = self.pool.begin().await.map_err(failed())?;
        let (current, version) = lock_aggregate(&mut tx, sys_id, &doing).await?;

        let change = match plan(&current) {
            Ok(change) => change,
            Err(e) => {
                // Nothing was written; a failed rollback only means the connection is gone, which ends the
                // transaction just the same.
                let _ = tx.rollback().await;
                return Err(e);
            }
        };
        check_children(sys_id, &change.phone_logs, &change.related_records)?;
        // The lock is held, so the version is still the one read.
        if !write_change(&mut *tx, sys_id, &version, &current, &change)
            .await
            .map_err(|e| map_error(doing.as_str(), e, &change_keys(&change)))?
        {
            return Err(Error::internal(format!(
                "interaction {sys_id} changed under its row lock"
            )));
        }
        tx.commit().await.map_err(failed())?;
        Ok(change)
    }
}

/// Locks interaction `sys_id`'s row, then reads it whole: its aggregate and its version. The children are
/// read by a statement of their own, after the lock is held: at READ COMMITTED it sees what the write before
/// committed (a statement that both locked and read them would read them as of before its wait).
async fn lock_aggregate(
    conn: &mut PgConnection,
    sys_id: &SysId,
    doing: &str,
) -> Result<(InteractionAggregate, String)> {
    let Some(row) = QUERIES
        .select_interaction_for_update
        .query()
        .bind(sys_id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error(doing))?
    else {
        return Err(interaction_not_found());
    };
    let interaction = record_from_row(&INTERACTION, &row)?;
    let version = version_at(&row, INTERACTION.fields.len())?;
    let children = QUERIES
        .load_children
        .query()
        .bind(sys_id.as_str())
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error(doing))?;
    Ok((children_from_row(interaction, &children, 0)?, version))
}

/// An update of an interaction there is none of.
fn interaction_not_found() -> Error {
    Error::NotFound {
        what: "interaction",
    }
}

/// The row version (`xmin` as text) in column `at` of `row`.
fn version_at(row: &PgRow, at: usize) -> Result<String> {
    row.try_get(at)
        .map_err(|e| Error::internal(format!("an interaction row's version: {e}")))
}

/// PostgreSQL text cannot hold a NUL character: refused up front, in words of our own, rather than as the
/// server's encoding error.
fn refuse_nul(field: &str, value: &str) -> Result<()> {
    if value.contains('\0') {
        Err(Error::invalid(field, "must not contain NUL characters"))
    } else {
        Ok(())
    }
}

/// Child records are found again by their `interaction` field, so one naming another interaction would be
/// lost: a caller bug, refused before anything is written.
pub(crate) fn check_children(
    sys_id: &SysId,
    phone_logs: &[Record],
    related: &[Record],
) -> Result<()> {
    for record in phone_logs.iter().chain(related) {
        if record.get(field::INTERACTION) != sys_id.as_str() {
            return Err(Error::internal(format!(
                "{} {} names interaction {:?}, not {sys_id}",
                record.table().name,
                record.sys_id(),
                record.get(field::INTERACTION)
            )));
        }
    }
    Ok(())
}

/// Writes `change`, planned from `current` at row version `version`, with its event, in one statement;
/// `false` when the row is no longer that version, and then nothing was written. Has the semantics of
/// [`AggregateChange::apply_to`].
async fn write_change<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    sys_id: &SysId,
    version: &str,
    current: &InteractionAggregate,
    change: &AggregateChange,
) -> Result<bool, sqlx::Error> {
    let event = InteractionEvent::updated(current, change).to_payload();
    // The sys_id picks the row; the change's own values overwrite the rest.
    let mut write = QUERIES.write_change.query().bind(sys_id.as_str());
    for value in change.interaction.values().iter().skip(1) {
        write = write.bind(value.as_str());
    }
    // apply_to removes, then sets: a name in both is simply set, and the statement must not both delete and
    // upsert one row.
    let removed: Vec<&str> = change
        .context_removed
        .iter()
        .filter(|name| !change.context_set.contains_key(*name))
        .map(String::as_str)
        .collect();
    let (names, values): (Vec<&str>, Vec<&str>) = change
        .context_set
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .unzip();
    write = write.bind(removed).bind(names).bind(values);
    let (rewritten, appended) = split_phone_logs(&current.phone_logs, &change.phone_logs);
    write = bind_columns(write, &PHONE_LOG, &rewritten);
    write = bind_columns(write, &PHONE_LOG, &appended);
    write = bind_columns(write, &RELATED_RECORD, &change.related_records);
    let removed_logs: Vec<&str> = change
        .removed
        .phone_logs
        .iter()
        .map(String::as_str)
        .collect();
    let removed_related: Vec<&str> = change
        .removed
        .related_records
        .iter()
        .map(String::as_str)
        .collect();
    let written = write
        .bind(version)
        .bind(event)
        .bind(removed_logs)
        .bind(removed_related)
        .fetch_optional(conn)
        .await?;
    Ok(written.is_some())
}

/// The keys kept unique that adding `user` writes.
pub(crate) fn user_keys(user: &User) -> [UniqueKey<'_>; 2] {
    [
        UniqueKey::UserName(&user.user_name),
        UniqueKey::SysId {
            table: USER_TABLE,
            sys_id: user.sys_id.as_str(),
        },
    ]
}

/// The keys kept unique that adding the provider application `app` writes.
pub(crate) fn provider_application_keys(app: &Record) -> [UniqueKey<'_>; 2] {
    [
        UniqueKey::SysId {
            table: PROVIDER_APPLICATION.name,
            sys_id: app.sys_id(),
        },
        UniqueKey::InboundId(app.get(field::INBOUND_ID)),
    ]
}

/// The keys kept unique that an update may write: the sys_ids of its new children, and the number.
fn change_keys(change: &AggregateChange) -> Vec<UniqueKey<'_>> {
    change
        .phone_logs
        .iter()
        .chain(&change.related_records)
        .map(|r| UniqueKey::SysId {
            table: r.table().name,
            sys_id: r.sys_id(),
        })
        .chain([UniqueKey::Number(change.interaction.get(field::NUMBER))])
        .collect()
}

/// Splits the change's phone logs into rewrites of logs the interaction has and new logs to append, as
/// `apply_to` treats them: each sys_id once, the last row given for it winning, new ones in first-seen order.
fn split_phone_logs(current: &[Record], changed: &[Record]) -> (Vec<Record>, Vec<Record>) {
    let mut updated: Vec<Record> = Vec::new();
    let mut appended: Vec<Record> = Vec::new();
    for log in changed {
        let target = if current.iter().any(|l| l.sys_id() == log.sys_id()) {
            &mut updated
        } else {
            &mut appended
        };
        match target.iter_mut().find(|l| l.sys_id() == log.sys_id()) {
            Some(existing) => *existing = log.clone(),
            None => target.push(log.clone()),
        }
    }
    (updated, appended)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(sys_id: &str, call_id: &str) -> Record {
        let mut r = Record::new(&PHONE_LOG);
        r.set(field::SYS_ID, sys_id);
        r.set(field::CALL_ID, call_id);
        r
    }

    #[test]
    fn phone_logs_split_like_apply_to() {
        let current = [log("a", "1"), log("b", "1")];
        let changed = [
            log("c", "1"),
            log("b", "2"),
            log("d", "1"),
            log("c", "2"),
            log("b", "3"),
        ];
        let (updated, appended) = split_phone_logs(&current, &changed);
        assert_eq!(updated, [log("b", "3")]);
        assert_eq!(appended, [log("c", "2"), log("d", "1")]);
    }
}
