//! The event outbox (`migrations/0003_events.sql`): appended to as the last statement of every create and
//! update transaction, read back in id order by the event stream.

use openframe_core::{Error, EventHorizon, EventPage, InteractionEvent, Result, StoredEvent};
use sqlx::postgres::PgConnection;
use sqlx::{PgPool, Row};

use crate::error::db_error;

/// The channel every append notifies (on commit), so that the servers sharing the database read at once.
pub const CHANNEL: &str = "openframe_events";

/// Takes the next id, under the counter row's lock held to the commit (the migration says why), stores the
/// event and queues the notification. `$1`: the payload.
const APPEND: &str = "WITH next AS (UPDATE interaction_event_counter SET head = head + 1 RETURNING head), \
     added AS (INSERT INTO interaction_event (id, payload) SELECT head, $1 FROM next RETURNING id) \
     SELECT id, pg_notify('openframe_events', id::text) IS NULL FROM added";

/// The horizon and up to `$2` events after `$1`, in one snapshot; one row with NULL event columns when
/// there is none.
const AFTER: &str = "SELECT c.head, c.pruned_through, e.id, e.payload FROM interaction_event_counter AS c \
     LEFT JOIN LATERAL (SELECT id, payload FROM interaction_event WHERE id > $1 ORDER BY id LIMIT $2) AS e \
     ON true ORDER BY e.id";

/// Deletes every event but the latest `$1` and records how far. One statement, so one transaction.
const PRUNE: &str = "WITH bound AS (SELECT head - $1 AS through FROM interaction_event_counter), \
     gone AS (DELETE FROM interaction_event WHERE id <= (SELECT through FROM bound)) \
     UPDATE interaction_event_counter SET pruned_through = greatest(pruned_through, (SELECT through FROM bound))";

/// Appends `event` in the open transaction `tx`: its last write before the commit.
pub(crate) async fn append(tx: &mut PgConnection, event: &InteractionEvent) -> Result<()> {
    sqlx::query(APPEND)
        .bind(event.to_payload())
        .execute(tx)
        .await
        .map_err(db_error("writing an interaction event"))?;
    Ok(())
}

/// Up to `limit` events after `after`, with the horizon.
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
