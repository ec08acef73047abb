//! The event outbox, in `data` beside the interactions (see `layout`): each create or update appends its
//! event to the writes it stages, so both land atomically, with the next id from the writer's counter (the
//! `group` module; at open it is found again from the last event stored, [`recover_head`]). The writer
//! thread is the only writer, so ids are in commit order.
//!
//! sled makes a batch visible to readers as soon as it is applied, before the group's flush has made it
//! durable. So the writer records, after every successful flush, the latest event id that flush covered
//! ([`Watermark`]), and readers are given no event beyond it: a stream never shows a write that a crash
//! could still undo.

use std::sync::atomic::{AtomicU64, Ordering};

use openframe_core::{Error, EventHorizon, EventPage, InteractionEvent, Result, StoredEvent};
use sled::Tree;

use crate::error::from_sled;
use crate::group::GroupWrites;
use crate::layout::{
    EVENTS_PREFIX, EVENTS_PRUNED_KEY, Read, Staged, decode_u64, event_key, last_id, trailing_id,
};

/// The latest event id that is durable.
#[derive(Debug, Default)]
pub(crate) struct Watermark(AtomicU64);

impl Watermark {
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Called by the writer thread after a successful flush, with what [`head`] read before it began.
    pub(crate) fn durable_through(&self, id: u64) {
        self.0.fetch_max(id, Ordering::AcqRel);
    }
}

/// Appends `event` to the writes being staged, under the next id.
pub(crate) fn append(staged: &mut Staged<'_>, event: &InteractionEvent) -> Result<()> {
    let id = staged.take_event_id();
    staged.insert(event_key(id), event.to_payload().into_bytes());
    Ok(())
}

/// The latest event id given (0: none yet), found from the events stored: the last one's, or the id pruning
/// reached if that is higher (when `prune_events(0)` removed every event).
pub(crate) fn recover_head(data: &Tree) -> Result<u64> {
    let last = last_id(data, EVENTS_PREFIX)?.unwrap_or(0);
    Ok(last.max(counter(data, EVENTS_PRUNED_KEY)?))
}

fn counter(data: &impl Read, key: &[u8]) -> Result<u64> {
    match data.get(key)? {
        None => Ok(0),
        Some(bytes) => decode_u64(&bytes)
            .ok_or_else(|| Error::internal("corrupt event counter in the sled store")),
    }
}

/// Up to `limit` durable events after `after`, with the horizon.
pub(crate) fn after(data: &Tree, durable: u64, after: u64, limit: usize) -> Result<EventPage> {
    let horizon = EventHorizon {
        pruned_through: counter(data, EVENTS_PRUNED_KEY)?,
        head: durable,
    };
    let mut events = Vec::new();
    if limit > 0 && after < durable {
        for entry in data
            .range(event_key(after + 1)..=event_key(durable))
            .take(limit)
        {
            let (key, payload) = entry.map_err(from_sled)?;
            let id = trailing_id(&key).ok_or_else(|| Error::internal("corrupt event key"))?;
            let payload = std::str::from_utf8(&payload)
                .map_err(|_| Error::internal("a stored event is not UTF-8"))?;
            events.push(StoredEvent {
                id,
                event: InteractionEvent::from_payload(payload)?,
            });
        }
    }
    Ok(EventPage { events, horizon })
}

/// Removes every event but the latest `keep`. Writer thread only; it settles the group first, since it
/// scans the events in `data`.
pub(crate) fn prune(group: &GroupWrites, keep: u64) -> Result<()> {
    let data = &group.settle()?.data;
    let through = group.counters().event_head.saturating_sub(keep);
    let pruned = counter(data, EVENTS_PRUNED_KEY)?;
    if through <= pruned {
        return Ok(());
    }
    let mut staged = Staged::new(group);
    for key in data
        .range(event_key(pruned + 1)..=event_key(through))
        .keys()
    {
        staged.remove(key.map_err(from_sled)?.to_vec());
    }
    staged.insert(EVENTS_PRUNED_KEY.to_vec(), through.to_be_bytes().to_vec());
    staged.apply();
    Ok(())
}
