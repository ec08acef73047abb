//! Interaction events: one per committed create or update, written by the store into its outbox in the same
//! transaction as the write itself, so that an event never exists without its write or the other way round.
//!
//! The store gives every event an id and hands them back with [`crate::Repository::events_after`]. Ids
//! are whole numbers from 1, strictly increasing along the outbox and never reused, and an event is handed
//! out only once its write has committed. Their order follows the commits as far as it can be observed: if
//! write A committed before write B began, A's id is lower, so one interaction's events are in the order of
//! its writes; two writes in flight together may be numbered in either order. A reader never sees an id
//! appear below one it has already seen (so asking for the events after the last id it saw misses nothing),
//! and in every store today ids are also gap-free. Events older than
//! the retention window are pruned with [`crate::Repository::prune_events`]; a reader that asks for events
//! after an id older than that learns it from the [`EventHorizon`] and must re-read.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::aggregate::{AggregateChange, InteractionAggregate};
use crate::error::{Error, Result};
use crate::schema::field;

/// What happened to the interaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EventKind {
    /// A create (POST).
    #[serde(rename = "interaction.created")]
    Created,
    /// An update (PATCH), or a Table API write or delete of one of its children.
    #[serde(rename = "interaction.updated")]
    Updated,
    /// A delete (Table API `DELETE`), with everything under the interaction.
    #[serde(rename = "interaction.deleted")]
    Deleted,
}

impl EventKind {
    /// The event's name on the wire (`interaction.created`, `interaction.updated`).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Created => "interaction.created",
            EventKind::Updated => "interaction.updated",
            EventKind::Deleted => "interaction.deleted",
        }
    }
}

/// The child collections of an interaction, as named in [`EventData::children`].
pub mod children {
    /// Phone logs were added, changed or removed.
    pub const PHONE_LOGS: &str = "phone_logs";
    /// Related records were added or removed.
    pub const RELATED_RECORDS: &str = "related_records";
    /// Context variables were set or removed.
    pub const CONTEXT: &str = "context";
}

/// What an event tells about the interaction, as a stream client sees it (camelCase on the wire).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventData {
    /// The interaction's sys_id.
    pub sys_id: String,
    /// Its number (`IMS0001001`).
    pub number: String,
    /// Its `sys_mod_count` after the write.
    pub sys_mod_count: u64,
    /// The interaction fields the write changed, with their new values (every non-empty field on a create).
    /// A field cleared by the write is here with `""`.
    pub changes: BTreeMap<String, String>,
    /// `assigned_to` after the write (`""` when unassigned): what the stream's `assigned_to` filter matches.
    pub assigned_to: String,
    /// `inbound_id` after the write: what the stream's `inbound_id` filter matches.
    pub inbound_id: String,
    /// The child collections the write changed ([`children`]), in that module's order.
    pub children: Vec<String>,
}

/// One create, update or delete of one interaction, before the store has given it an id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractionEvent {
    /// Create or update.
    pub kind: EventKind,
    /// What the client sees.
    pub data: EventData,
}

impl InteractionEvent {
    /// The event of creating `aggregate`, whose interaction already holds its number.
    pub fn created(aggregate: &InteractionAggregate) -> Self {
        let interaction = &aggregate.interaction;
        let changes = interaction
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        let children = [
            (children::PHONE_LOGS, !aggregate.phone_logs.is_empty()),
            (
                children::RELATED_RECORDS,
                !aggregate.related_records.is_empty(),
            ),
            (children::CONTEXT, !aggregate.context.is_empty()),
        ];
        InteractionEvent::new(EventKind::Created, interaction, changes, &children)
    }

    /// The event of applying `change` to `before`.
    pub fn updated(before: &InteractionAggregate, change: &AggregateChange) -> Self {
        let after = &change.interaction;
        let changes = after
            .iter()
            .zip(before.interaction.values())
            .filter(|((_, new), old)| new != old)
            .map(|((name, new), _)| (name.to_owned(), new.to_owned()))
            .collect();
        let context_changed = change
            .context_set
            .iter()
            .any(|(k, v)| before.context.get(k) != Some(v))
            || change
                .context_removed
                .iter()
                .any(|k| before.context.contains_key(k));
        let removed = &change.removed;
        let children = [
            (
                children::PHONE_LOGS,
                !change.phone_logs.is_empty() || !removed.phone_logs.is_empty(),
            ),
            (
                children::RELATED_RECORDS,
                !change.related_records.is_empty() || !removed.related_records.is_empty(),
            ),
            (children::CONTEXT, context_changed),
        ];
        InteractionEvent::new(EventKind::Updated, after, changes, &children)
    }

    /// The event of deleting `aggregate`: no changes; `children` names the collections deleted with it.
    pub fn deleted(aggregate: &InteractionAggregate) -> Self {
        let children = [
            (children::PHONE_LOGS, !aggregate.phone_logs.is_empty()),
            (
                children::RELATED_RECORDS,
                !aggregate.related_records.is_empty(),
            ),
            (children::CONTEXT, !aggregate.context.is_empty()),
        ];
        InteractionEvent::new(
            EventKind::Deleted,
            &aggregate.interaction,
            BTreeMap::new(),
            &children,
        )
    }

    fn new(
        kind: EventKind,
        interaction: &crate::record::Record,
        changes: BTreeMap<String, String>,
        children: &[(&str, bool)],
    ) -> Self {
        InteractionEvent {
            kind,
            data: EventData {
                sys_id: interaction.sys_id().to_owned(),
                number: interaction.get(field::NUMBER).to_owned(),
                sys_mod_count: interaction.get(field::SYS_MOD_COUNT).parse().unwrap_or(0),
                changes,
                assigned_to: interaction.get(field::ASSIGNED_TO).to_owned(),
                inbound_id: interaction.get(field::INBOUND_ID).to_owned(),
                children: children
                    .iter()
                    .filter(|(_, changed)| *changed)
                    .map(|(name, _)| (*name).to_owned())
                    .collect(),
            },
        }
    }

    /// The event as a store keeps it: one JSON text.
    pub fn to_payload(&self) -> String {
        // Serializing plain strings, numbers and maps of strings cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// An event back from a store's payload.
    pub fn from_payload(payload: &str) -> Result<Self> {
        serde_json::from_str(payload)
            .map_err(|e| Error::internal(format!("a stored event does not parse: {e}")))
    }
}

/// An event with the id its store gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// From 1, strictly increasing along the outbox, never reused; lower than the id of every write that
    /// began after this one's committed (the module's documentation says exactly what is promised).
    pub id: u64,
    /// The event.
    pub event: InteractionEvent,
}

/// Which event ids a store can still hand out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventHorizon {
    /// Every event with an id up to this one has been pruned (0: none has).
    pub pruned_through: u64,
    /// The id of the latest event a reader may see (0: there is none yet). On a store whose writes are
    /// made durable after they are applied, nothing beyond what is durable.
    pub head: u64,
}

impl EventHorizon {
    /// Whether a reader that has seen every event up to `last_seen` can go on from there without a gap:
    /// false when events after it were pruned, or when it claims an id the store has not reached.
    pub fn can_resume_after(&self, last_seen: u64) -> bool {
        last_seen >= self.pruned_through && last_seen <= self.head
    }
}

/// A page of events after some id, with the store's horizon read in the same snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventPage {
    /// The events, in id order.
    pub events: Vec<StoredEvent>,
    /// What the store still holds.
    pub horizon: EventHorizon,
}

/// An outbox kept in memory, with the id, horizon and pruning rules of this module: for a store that holds
/// everything in memory (the memory store, a test double). A store appends the event of each write while
/// holding whatever makes the write atomic, so that ids follow the writes.
///
/// ```
/// use openframe_core::event::{EventKind, EventData, InteractionEvent, MemoryOutbox};
///
/// let mut outbox = MemoryOutbox::default();
/// let event = InteractionEvent { kind: EventKind::Created, data: EventData {
///     sys_id: "0123456789abcdef0123456789abcdef".into(), number: "IMS0001001".into(), sys_mod_count: 0,
///     changes: Default::default(), assigned_to: String::new(), inbound_id: String::new(),
///     children: Vec::new() } };
/// assert_eq!(outbox.append(event.clone()), 1);
/// assert_eq!(outbox.append(event), 2);
/// outbox.prune(1);
/// let page = outbox.events_after(0, 10);
/// assert_eq!(page.events.iter().map(|e| e.id).collect::<Vec<_>>(), [2]);
/// assert_eq!((page.horizon.pruned_through, page.horizon.head), (1, 2));
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryOutbox {
    events: VecDeque<StoredEvent>,
    horizon: EventHorizon,
}

impl MemoryOutbox {
    /// Gives `event` the next id (from 1, consecutive) and keeps it; returns the id.
    pub fn append(&mut self, event: InteractionEvent) -> u64 {
        self.horizon.head += 1;
        self.events.push_back(StoredEvent {
            id: self.horizon.head,
            event,
        });
        self.horizon.head
    }

    /// What [`crate::Repository::events_after`] answers: up to `limit` events with ids above `after`, in
    /// id order, and the horizon.
    pub fn events_after(&self, after: u64, limit: usize) -> EventPage {
        // Ids are consecutive, so the first event after `after` is at a computable position.
        let first = self.events.front().map_or(0, |e| e.id);
        let skip = usize::try_from((after + 1).saturating_sub(first)).unwrap_or(usize::MAX);
        EventPage {
            events: self.events.iter().skip(skip).take(limit).cloned().collect(),
            horizon: self.horizon,
        }
    }

    /// What [`crate::Repository::prune_events`] does: drops every event but the latest `keep` and moves the
    /// horizon's `pruned_through` (never back).
    pub fn prune(&mut self, keep: u64) {
        let through = self.horizon.head.saturating_sub(keep);
        while self.events.front().is_some_and(|e| e.id <= through) {
            self.events.pop_front();
        }
        self.horizon.pruned_through = self.horizon.pruned_through.max(through);
    }

    /// Where the ids stand.
    pub fn horizon(&self) -> EventHorizon {
        self.horizon
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Context;
    use crate::record::Record;
    use crate::schema::{INTERACTION, PHONE_LOG};

    fn aggregate() -> InteractionAggregate {
        let mut interaction = Record::new(&INTERACTION);
        interaction.set(field::SYS_ID, "0123456789abcdef0123456789abcdef");
        interaction.set(field::NUMBER, "IMS0001001");
        interaction.set(field::SYS_MOD_COUNT, "0");
        interaction.set(field::STATE, "new");
        InteractionAggregate {
            interaction,
            context: Context::from([("k".to_owned(), "v".to_owned())]),
            phone_logs: Vec::new(),
            related_records: Vec::new(),
        }
    }

    #[test]
    fn a_create_carries_every_set_field_and_its_non_empty_children() {
        let event = InteractionEvent::created(&aggregate());
        assert_eq!(event.kind, EventKind::Created);
        assert_eq!(event.data.number, "IMS0001001");
        assert_eq!(
            event.data.changes.get(field::STATE).map(String::as_str),
            Some("new")
        );
        assert!(!event.data.changes.contains_key(field::ASSIGNED_TO));
        assert_eq!(event.data.children, [children::CONTEXT]);
    }

    #[test]
    fn an_update_carries_only_what_changed() {
        let before = aggregate();
        let mut interaction = before.interaction.clone();
        interaction.set(field::SYS_MOD_COUNT, "1");
        interaction.set(field::ASSIGNED_TO, "fedcba9876543210fedcba9876543210");
        interaction.set(field::STATE, "");
        let change = AggregateChange {
            interaction,
            context_set: Context::from([("k".to_owned(), "v".to_owned())]),
            context_removed: Default::default(),
            phone_logs: vec![Record::new(&PHONE_LOG)],
            related_records: Vec::new(),
            removed: Default::default(),
        };
        let event = InteractionEvent::updated(&before, &change);
        assert_eq!(event.kind, EventKind::Updated);
        assert_eq!(event.data.sys_mod_count, 1);
        let changed: Vec<&str> = event.data.changes.keys().map(String::as_str).collect();
        assert_eq!(
            changed,
            [field::ASSIGNED_TO, field::STATE, field::SYS_MOD_COUNT]
        );
        assert_eq!(event.data.changes[field::STATE], "");
        assert_eq!(event.data.assigned_to, "fedcba9876543210fedcba9876543210");
        // Setting a context variable to the value it had changes nothing.
        assert_eq!(event.data.children, [children::PHONE_LOGS]);
    }

    #[test]
    fn payloads_round_trip() {
        let event = InteractionEvent::created(&aggregate());
        assert_eq!(
            InteractionEvent::from_payload(&event.to_payload()).ok(),
            Some(event)
        );
        assert!(InteractionEvent::from_payload("{").is_err());
    }

    #[test]
    fn a_reader_resumes_only_inside_the_horizon() {
        let horizon = EventHorizon {
            pruned_through: 10,
            head: 20,
        };
        assert!(!horizon.can_resume_after(9));
        assert!(horizon.can_resume_after(10));
        assert!(horizon.can_resume_after(20));
        assert!(!horizon.can_resume_after(21));
        assert!(EventHorizon::default().can_resume_after(0));
    }
}
