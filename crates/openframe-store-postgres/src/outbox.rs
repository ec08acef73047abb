//! The event outbox (`migrations/0003_events.sql`, `0004_event_sequencer.sql`): each create and update
//! appends its event, without an id, in the statement that writes it ([`append_cte`]); a sequencing round
//! numbers the committed ones after the fact; the event stream reads them back in id order.
//!
//! ## Why the ids keep their promises
//!
//! An append inserts into `interaction_event_pending`, whose `seq` comes from a sequence at the insert. It
//! locks nothing that another write needs, so writes commit side by side. A round ([`sequence`]) is a short
//! transaction of its own:
//!
//! 1. [`LOCK_COUNTER`], its first statement, locks the counter row: rounds (of every server on the database)
//!    and pruning run one at a time. At READ COMMITTED each later statement takes a new snapshot, so what the
//!    round reads next is everything committed up to the moment it got the lock, the rounds it waited for
//!    included. (One statement that both waited for the lock and moved the rows would work from a snapshot
//!    taken before its wait.)
//! 2. [`MOVE_COMMITTED`] deletes every pending row it sees — committed ones only — inserts them into
//!    `interaction_event` with ids head+1, head+2, … in `seq` order, and sets head to the last.
//! 3. The commit, durable whatever the connection's default: a round lost in a crash would give its ids to
//!    other events the next time, and clients hold those ids as their `Last-Event-ID`. WAL is flushed in
//!    order, so that commit also makes every write it numbered durable before any reader sees its event.
//!
//! What follows:
//!
//! - **No gap is filled later.** Only committed writes get ids, and a round's ids all become visible at its
//!   commit. Rounds follow one another, each starting from the head the one before committed, so ids are
//!   dense, and a reader's snapshot shows whole rounds, the earlier ones first: the ids it sees are every id
//!   up to the head. A reader that has seen N and asks for the events after N misses nothing.
//! - **A write that began after another committed gets a higher id.** B's `nextval` came after A's commit,
//!   so A's `seq` is lower; a round that sees B committed sees A committed too, so A is numbered by an
//!   earlier round or by the same one, before B.
//! - **One interaction's events follow its commits.** An update writes only the row version it read (the
//!   guard of `queries::Queries::write_change`), and appends after that guard has the row: a create's row
//!   cannot be read before it commits, and a version can be read only once its write has committed, or
//!   waited for behind the first write's row lock (an update's `UPDATE` or `SELECT … FOR UPDATE`), which
//!   PostgreSQL releases only after it has marked the first transaction committed
//!   (`ProcArrayEndTransaction`). Either way the second write's append comes after the first's commit, the
//!   case above.
//!
//! Ids are still gap-free, but not "in commit order" for unrelated writes that overlap: two writes in flight
//! together may be numbered in either order.
//!
//! Creates that arrive together share one statement (`create_batch.rs`). Each still appends its event in the
//! statement that writes it, and that statement begins after the create was asked for, so after every write
//! that had committed by then: all of the above holds for each create of a batch. A batch's events take
//! their `seq` in the batch's order, the order of their numbers.
//!
//! The append does not `NOTIFY` any more (nothing listened: servers poll, `openframe-http/src/events.rs`).
//! PostgreSQL serializes the commits of all transactions that notified — one database-wide lock from just
//! before the commit to its end, so that the notification queue is in commit order — which would have kept
//! writes committing one at a time.

use openframe_core::{Error, EventHorizon, EventPage, InteractionEvent, Result, StoredEvent};
use sqlx::{PgPool, Row};

use crate::error::db_error;

/// Whether any committed event waits for its id: a round is needed only then.
const ANY_PENDING: &str = "SELECT EXISTS (SELECT FROM interaction_event_pending)";

/// A round's first statement: the counter row's lock, held to the round's commit, and the head to number
/// from. Also makes the round's commit wait for the WAL flush even on a connection whose default does not.
const LOCK_COUNTER: &str = "SELECT head, set_config('synchronous_commit', 'on', true) \
     FROM interaction_event_counter FOR UPDATE";

/// Numbers every pending event this statement sees: ids `$1`+1, `$1`+2, … in `seq` order, and the head
/// moved to the last. `$1`: the head, read under the lock. Returns the new head.
const MOVE_COMMITTED: &str = "WITH moved AS (DELETE FROM interaction_event_pending RETURNING seq, payload), \
     numbered AS (INSERT INTO interaction_event (id, payload) \
         SELECT $1 + row_number() OVER (ORDER BY seq), payload FROM moved RETURNING id) \
     UPDATE interaction_event_counter SET head = $1 + (SELECT count(*) FROM numbered) RETURNING head";

/// The horizon and up to `$2` events after `$1`, in one snapshot; one row with NULL event columns when
/// there is none.
const AFTER: &str = "SELECT c.head, c.pruned_through, e.id, e.payload FROM interaction_event_counter AS c \
     LEFT JOIN LATERAL (SELECT id, payload FROM interaction_event WHERE id > $1 ORDER BY id LIMIT $2) AS e \
     ON true ORDER BY e.id";

/// Deletes every event but the latest `$1` and records how far. One statement, so one transaction; its
/// update of the counter row waits for a round in progress (and then keeps the round's head).
const PRUNE: &str = "WITH bound AS (SELECT head - $1 AS through FROM interaction_event_counter), \
     gone AS (DELETE FROM interaction_event WHERE id <= (SELECT through FROM bound)) \
     UPDATE interaction_event_counter SET pruned_through = greatest(pruned_through, (SELECT through FROM bound))";

/// The append as part of a write's statement: `event AS (…)`, storing the event `payload` (an SQL
/// expression) unnumbered once for each row of `from` (what follows `FROM`: the part that says the write
/// happened, or a join on it, and an `ORDER BY` when several rows must take their `seq` in an order). A
/// write's event is thus in the write's own statement: no round trip of its own, and no event without its
/// write.
pub(crate) fn append_cte(payload: &str, from: &str) -> String {
    format!(
        "event AS (INSERT INTO interaction_event_pending (payload) SELECT {payload} FROM {from})"
    )
}

/// Whether a committed event is waiting for its id.
pub(crate) async fn any_pending(pool: &PgPool) -> Result<bool> {
    sqlx::query_scalar(ANY_PENDING)
        .fetch_one(pool)
        .await
        .map_err(db_error("looking for unnumbered interaction events"))
}

/// One sequencing round (the module's comment says why it is correct): numbers every event committed
/// before it got the counter's lock and returns the new head.
pub(crate) async fn sequence(pool: &PgPool) -> Result<u64> {
    let failed = || db_error("numbering interaction events");
    let mut tx = pool.begin().await.map_err(failed())?;
    let locked = sqlx::query(LOCK_COUNTER)
        .fetch_one(&mut *tx)
        .await
        .map_err(failed())?;
    let head: i64 = locked
        .try_get(0)
        .map_err(|e| Error::internal(format!("the event counter's head: {e}")))?;
    let head: i64 = sqlx::query_scalar(MOVE_COMMITTED)
        .bind(head)
        .fetch_one(&mut *tx)
        .await
        .map_err(failed())?;
    tx.commit().await.map_err(failed())?;
    Ok(to_u64(head))
}

/// Up to `limit` events after `after`, with the horizon: only numbered events, so only committed ones.
pub(crate) async fn after(pool: &PgPool, after: u64, limit: usize) -> Result<EventPage> {
    let rows = sqlx::query(AFTER)
        .bind(to_i64(after))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await
        .map_err(db_error("reading interaction events"))?;
    let column = |e: sqlx::Error| Error::internal(format!("an interaction event row: {e}"));
    let mut page = EventPage::default();
    for row in &rows {
        page.horizon = EventHorizon {
            head: to_u64(row.try_get(0).map_err(column)?),
            pruned_through: to_u64(row.try_get(1).map_err(column)?),
        };
        let id: Option<i64> = row.try_get(2).map_err(column)?;
        let payload: Option<String> = row.try_get(3).map_err(column)?;
        if let (Some(id), Some(payload)) = (id, payload) {
            page.events.push(StoredEvent {
                id: to_u64(id),
                event: InteractionEvent::from_payload(&payload)?,
            });
        }
    }
    Ok(page)
}

/// Deletes every event but the latest `keep`.
pub(crate) async fn prune(pool: &PgPool, keep: u64) -> Result<()> {
    sqlx::query(PRUNE)
        .bind(to_i64(keep))
        .execute(pool)
        .await
        .map_err(db_error("pruning interaction events"))?;
    Ok(())
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use openframe_core::Repository;
    use sqlx::pool::PoolConnection;
    use sqlx::postgres::{PgConnection, Postgres};
    use sqlx::{AssertSqlSafe, Executor};

    use super::*;
    use crate::PostgresOptions;
    use crate::test_support::{TestSchema, new_interaction, test_options};

    /// Connections of the store's pool: they work in its schema.
    async fn connections(pool: &PgPool, n: usize) -> Vec<PoolConnection<Postgres>> {
        let mut taken = Vec::new();
        for _ in 0..n {
            taken.push(pool.acquire().await.unwrap());
        }
        taken
    }

    /// A write's append ([`append_cte`]) in a statement of its own, so that a test can hold its transaction
    /// open after it.
    async fn append(conn: &mut PgConnection, event: &InteractionEvent) -> Result<()> {
        let statement = format!("WITH {} SELECT 1", append_cte("$1", "(SELECT 1) AS one"));
        sqlx::query(AssertSqlSafe(statement))
            .bind(event.to_payload())
            .execute(conn)
            .await
            .map_err(db_error("writing an interaction event"))?;
        Ok(())
    }

    async fn backend_pid(conn: &mut PgConnection) -> i32 {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(conn)
            .await
            .unwrap()
    }

    fn event() -> InteractionEvent {
        InteractionEvent::created(&new_interaction(0))
    }

    /// Two writes with their append done and not committed, and a round holding the counter's lock: none
    /// waits for another. Under 0003's scheme the second append would wait for the first one's commit,
    /// so its `lock_timeout` would end it; here no lock is ever waited for, and an append touches no table
    /// but the pending one.
    #[tokio::test]
    async fn open_appends_and_a_round_in_progress_do_not_block_each_other() {
        let Some(schema) = TestSchema::new("open_appends_do_not_block_each_other").await else {
            return;
        };
        let options = PostgresOptions {
            max_connections: 5,
            ..test_options()
        };
        let store = schema.connect(options).await;
        let mut conns = connections(&store.pool, 4).await;
        let [first, second, round, observer] = conns.as_mut_slice() else {
            unreachable!("four connections were taken");
        };
        let mut pids = Vec::new();
        for conn in [&mut *first, &mut *second, &mut *round] {
            pids.push(backend_pid(conn).await);
            conn.execute("BEGIN").await.unwrap();
            conn.execute("SET LOCAL lock_timeout = '2s'").await.unwrap();
        }
        append(first, &event()).await.unwrap();
        append(second, &event()).await.unwrap();
        sqlx::query(LOCK_COUNTER)
            .fetch_one(&mut **round)
            .await
            .unwrap();
        append(first, &event()).await.unwrap();

        let waiting: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_locks WHERE pid = ANY($1) AND NOT granted")
                .bind(&pids)
                .fetch_one(&mut **observer)
                .await
                .unwrap();
        assert_eq!(waiting, 0, "no lock is waited for");
        let on_counter: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE pid = ANY($1) \
             AND relation = 'interaction_event_counter'::regclass",
        )
        .bind(&pids[..2])
        .fetch_one(&mut **observer)
        .await
        .unwrap();
        assert_eq!(on_counter, 0, "an append does not touch the counter");

        // The writes commit while the round still holds the counter.
        first.execute("COMMIT").await.unwrap();
        second.execute("COMMIT").await.unwrap();
        round.execute("ROLLBACK").await.unwrap();
        drop(conns);
        let page = store.events_after(0, 10).await.unwrap();
        let ids: Vec<u64> = page.events.iter().map(|e| e.id).collect();
        assert_eq!(ids, [1, 2, 3]);
        assert_eq!(page.horizon.head, 3);
    }

    /// A read that finds another round in progress (another server's, whose snapshot may predate this
    /// server's write) waits for it, then numbers the write itself: it does not return without the event
    /// the pump was woken for.
    #[tokio::test]
    async fn a_read_waits_for_a_round_in_progress_and_then_numbers_what_committed() {
        let Some(schema) = TestSchema::new("a_read_waits_for_a_round_in_progress").await else {
            return;
        };
        let options = PostgresOptions {
            max_connections: 5,
            ..test_options()
        };
        let store = Arc::new(schema.connect(options).await);
        let mut conns = connections(&store.pool, 2).await;
        let [other_round, observer] = conns.as_mut_slice() else {
            unreachable!("two connections were taken");
        };
        let other_pid = backend_pid(other_round).await;
        other_round.execute("BEGIN").await.unwrap();
        sqlx::query(LOCK_COUNTER)
            .fetch_one(&mut **other_round)
            .await
            .unwrap();
        // The write itself does not wait for the round (under 0003's scheme it would, for good).
        tokio::time::timeout(
            Duration::from_secs(60),
            store.create_interaction(new_interaction(1)),
        )
        .await
        .expect("a write waited for a round's lock")
        .unwrap();

        let read = {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.events_after(0, 10).await })
        };
        // Until the read's round waits for the other one's lock (a bounded wait for that state, not a
        // measurement).
        let mut blocked = 0_i64;
        for _ in 0..1000 {
            blocked = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
            )
            .bind(other_pid)
            .fetch_one(&mut **observer)
            .await
            .unwrap();
            if blocked > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            blocked, 1,
            "the read's round waits for the round in progress"
        );
        other_round.execute("COMMIT").await.unwrap();
        let page = read.await.unwrap().unwrap();
        assert_eq!(
            page.events.len(),
            1,
            "the read numbered the committed write"
        );
        assert_eq!(page.horizon.head, 1);
    }
}
