//! The event outbox (`migrations/0002_events.sql`): appended to inside the write transaction of every
//! create and update, read back in id order by the event stream.

use openframe_core::{EventHorizon, EventPage, InteractionEvent, Result, StoredEvent};
use rusqlite::Connection;

use crate::error::sqlite;

const APPEND: &str = "INSERT INTO interaction_event (payload) VALUES (?1)";
const AFTER: &str = "SELECT id, payload FROM interaction_event WHERE id > ?1 ORDER BY id LIMIT ?2";
/// The latest id ever given (AUTOINCREMENT keeps it in `sqlite_sequence`, which has no row before the first).
const HEAD: &str =
    "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'interaction_event'), 0)";
const PRUNED_THROUGH: &str = "SELECT pruned_through FROM interaction_event_horizon";
const PRUNE: &str = "DELETE FROM interaction_event WHERE id <= ?1";
const SET_PRUNED_THROUGH: &str =
    "UPDATE interaction_event_horizon SET pruned_through = max(pruned_through, ?1)";

const READING: &str = "reading interaction events";

/// Appends `event` in the open write transaction.
pub(crate) fn append(conn: &Connection, event: &InteractionEvent) -> Result<()> {
    conn.prepare_cached(APPEND)
        .and_then(|mut stmt| stmt.execute([event.to_payload()]))
        .map_err(sqlite("writing an interaction event"))?;
    Ok(())
}

/// Up to `limit` events after `after` and the horizon; run inside one read transaction.
pub(crate) fn after(conn: &Connection, after: u64, limit: usize) -> Result<EventPage> {
    let horizon = horizon(conn)?;
    let mut events = Vec::new();
    if limit > 0 {
        let mut stmt = conn.prepare_cached(AFTER).map_err(sqlite(READING))?;
        let mut rows = stmt
            .query([to_i64(after), i64::try_from(limit).unwrap_or(i64::MAX)])
            .map_err(sqlite(READING))?;
        while let Some(row) = rows.next().map_err(sqlite(READING))? {
            let id: i64 = row.get(0).map_err(sqlite(READING))?;
            // Parsed where SQLite holds it, without copying it into a String first.
            let payload = row
                .get_ref(1)
                .and_then(|value| Ok(value.as_str()?))
                .map_err(sqlite(READING))?;
            events.push(StoredEvent {
                id: u64::try_from(id).unwrap_or(0),
                event: InteractionEvent::from_payload(payload)?,
            });
        }
    }
    Ok(EventPage { events, horizon })
}

fn horizon(conn: &Connection) -> Result<EventHorizon> {
    let read = |sql: &str| -> Result<u64> {
        let n: i64 = conn
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
            .map_err(sqlite("reading the event horizon"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    Ok(EventHorizon {
        pruned_through: read(PRUNED_THROUGH)?,
        head: read(HEAD)?,
    })
}

/// Deletes every event but the latest `keep`, in the open write transaction.
pub(crate) fn prune(conn: &Connection, keep: u64) -> Result<()> {
    let through = horizon(conn)?.head.saturating_sub(keep);
    for sql in [PRUNE, SET_PRUNED_THROUGH] {
        conn.prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute([to_i64(through)]))
            .map_err(sqlite("pruning interaction events"))?;
    }
    Ok(())
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
