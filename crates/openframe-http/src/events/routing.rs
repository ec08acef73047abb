//! Routing events to the stream clients they are for: each client's [`Filter`], its bounded [`Mailbox`], and
//! the [`Subscribers`] index that finds an event's clients by its `assigned_to` and `inbound_id` values.
//!
//! Why an index and not a broadcast: with a broadcast every client is woken for every batch and checks every
//! event of it, so a thousand clients filtered on their own agents cost a thousand wake-ups per batch and a
//! thousand filter checks per event, whatever they receive. With the index an event costs two map look-ups
//! plus one check per unfiltered client, and wakes only the clients it is for: the server's cost per event
//! does not grow with the number of connected clients.
//!
//! Why a bounded mailbox per client: the pump must never wait for a slow client, nor hold events for it
//! without bound. A mailbox that is full is emptied and marked overflowed; its client then reads the outbox
//! from the first event it lost (every event is in the outbox, in order) and carries on from its mailbox,
//! skipping what it already read. The events themselves are shared (`Arc`), so a mailbox costs a pointer
//! per queued event.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use super::hub::WireEvent;

/// What a client asked to see: the interaction's values after the write, combined with AND.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Filter {
    /// Only events of interactions assigned to this user.
    pub assigned_to: Option<String>,
    /// Only events of interactions with this inbound id.
    pub inbound_id: Option<String>,
}

impl Filter {
    /// Whether `event` is one this filter lets through.
    pub fn matches(&self, event: &WireEvent) -> bool {
        self.assigned_to
            .as_ref()
            .is_none_or(|a| *a == event.data.assigned_to)
            && self
                .inbound_id
                .as_ref()
                .is_none_or(|i| *i == event.data.inbound_id)
    }

    /// Where the index keeps a client with this filter. A client with both filters is kept under its
    /// `assigned_to` (an agent's interactions are the narrower set) and checked against its `inbound_id`.
    fn route(&self) -> Route<'_> {
        match (&self.assigned_to, &self.inbound_id) {
            (Some(assigned_to), _) => Route::AssignedTo(assigned_to),
            (None, Some(inbound_id)) => Route::InboundId(inbound_id),
            (None, None) => Route::Everything,
        }
    }
}

/// The index entry a filter lives in.
enum Route<'a> {
    AssignedTo(&'a str),
    InboundId(&'a str),
    Everything,
}

/// What a client's mailbox had for it.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// Events were moved into the client's inbox, in id order.
    Events,
    /// The mailbox overflowed: the client must read the outbox after this id (everything up to it that
    /// matched was delivered), then go on with its mailbox.
    Overflowed {
        /// The id just before the first event the mailbox lost.
        resume_after: u64,
    },
}

/// One client's queue of events routed to it, filled by the pump and emptied by the client's stream.
#[derive(Debug)]
pub struct Mailbox {
    filter: Filter,
    /// The most events held before the mailbox overflows.
    capacity: usize,
    queue: Mutex<Queue>,
    /// Woken when the queue goes from empty to not, or overflows; a wake-up with no waiter is kept, so none
    /// is lost between the client finding the queue empty and waiting.
    arrived: Notify,
}

#[derive(Debug, Default)]
struct Queue {
    events: VecDeque<Arc<WireEvent>>,
    /// Set when the queue overflowed: the id to re-read the outbox after.
    overflowed: Option<u64>,
}

impl Mailbox {
    /// An empty mailbox for a client with `filter`, holding at most `capacity` events (at least one).
    pub fn new(filter: Filter, capacity: usize) -> Self {
        Mailbox {
            filter,
            capacity: capacity.max(1),
            queue: Mutex::new(Queue::default()),
            arrived: Notify::new(),
        }
    }

    /// The client's filter.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// Queues an event routed to this client; the pump calls it in id order. Never waits for the client: a
    /// full queue is dropped and marked overflowed instead (its client re-reads those events from the
    /// outbox), and events after that are dropped too until the client has seen the mark. Returns whether
    /// this event made the mailbox overflow.
    pub fn push(&self, event: &Arc<WireEvent>) -> bool {
        let mut queue = self.lock();
        if queue.overflowed.is_some() {
            return false;
        }
        if queue.events.len() >= self.capacity {
            // The front is the first event the client has not taken: everything matching before it was.
            let first_lost = queue.events.front().map_or(event.id, |e| e.id);
            queue.overflowed = Some(first_lost.saturating_sub(1));
            queue.events = VecDeque::new();
            drop(queue);
            self.arrived.notify_one();
            return true;
        }
        let was_empty = queue.events.is_empty();
        queue.events.push_back(Arc::clone(event));
        drop(queue);
        // One wake-up per batch, not per event: the client takes the whole queue when it wakes.
        if was_empty {
            self.arrived.notify_one();
        }
        false
    }

    /// Waits for events and moves them all into `inbox` (which must be empty: its allocation is reused),
    /// or reports an overflow.
    pub async fn receive(&self, inbox: &mut VecDeque<Arc<WireEvent>>) -> Delivery {
        loop {
            if let Some(delivery) = self.take(inbox) {
                return delivery;
            }
            self.arrived.notified().await;
        }
    }

    /// What [`Mailbox::receive`] returns, without waiting: `None` when the queue is empty.
    pub fn take(&self, inbox: &mut VecDeque<Arc<WireEvent>>) -> Option<Delivery> {
        let mut queue = self.lock();
        if let Some(resume_after) = queue.overflowed.take() {
            return Some(Delivery::Overflowed { resume_after });
        }
        if queue.events.is_empty() {
            return None;
        }
        inbox.clear();
        std::mem::swap(&mut queue.events, inbox);
        Some(Delivery::Events)
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding the lock leaves a queue that is still a valid queue; carry on with it.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The clients of one hub, indexed by their filter so that an event finds the few it is for.
#[derive(Debug, Default)]
pub struct Subscribers {
    by_assigned_to: HashMap<String, Vec<Arc<Mailbox>>>,
    by_inbound_id: HashMap<String, Vec<Arc<Mailbox>>>,
    unfiltered: Vec<Arc<Mailbox>>,
    count: usize,
}

/// How big the index is (for tests and diagnostics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexSize {
    /// Subscribed clients.
    pub subscribers: usize,
    /// Distinct `assigned_to` values with at least one client.
    pub assigned_to_keys: usize,
    /// Distinct `inbound_id` values with at least one client (filtered on `inbound_id` only).
    pub inbound_id_keys: usize,
    /// Clients without a filter.
    pub unfiltered: usize,
}

impl Subscribers {
    /// Adds a client.
    pub fn insert(&mut self, mailbox: Arc<Mailbox>) {
        match mailbox.filter.route() {
            Route::AssignedTo(key) => self
                .by_assigned_to
                .entry(key.to_owned())
                .or_default()
                .push(Arc::clone(&mailbox)),
            Route::InboundId(key) => self
                .by_inbound_id
                .entry(key.to_owned())
                .or_default()
                .push(Arc::clone(&mailbox)),
            Route::Everything => self.unfiltered.push(Arc::clone(&mailbox)),
        }
        self.count += 1;
    }

    /// Removes a client (the same `Arc` that was inserted), and its key once no client is left under it.
    pub fn remove(&mut self, mailbox: &Arc<Mailbox>) {
        let removed = match mailbox.filter.route() {
            Route::AssignedTo(key) => remove_keyed(&mut self.by_assigned_to, key, mailbox),
            Route::InboundId(key) => remove_keyed(&mut self.by_inbound_id, key, mailbox),
            Route::Everything => remove_from(&mut self.unfiltered, mailbox),
        };
        if removed {
            self.count -= 1;
        }
    }

    /// Whether no client is subscribed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many clients are subscribed, and under how many keys.
    pub fn size(&self) -> IndexSize {
        IndexSize {
            subscribers: self.count,
            assigned_to_keys: self.by_assigned_to.len(),
            inbound_id_keys: self.by_inbound_id.len(),
            unfiltered: self.unfiltered.len(),
        }
    }

    /// Queues `event` in the mailbox of every client whose filter it matches, and no other; returns how
    /// many mailboxes overflowed.
    pub fn deliver(&self, event: &Arc<WireEvent>) -> u64 {
        let keyed = [
            self.by_assigned_to.get(&event.data.assigned_to),
            self.by_inbound_id.get(&event.data.inbound_id),
        ];
        let candidates = keyed
            .into_iter()
            .flatten()
            .flatten()
            .chain(&self.unfiltered);
        // Each client is under one key only, so none gets an event twice; the check covers the filter a
        // client is not indexed by.
        let mut overflows = 0;
        for mailbox in candidates {
            if mailbox.filter.matches(event) && mailbox.push(event) {
                overflows += 1;
            }
        }
        overflows
    }
}

fn remove_keyed(
    index: &mut HashMap<String, Vec<Arc<Mailbox>>>,
    key: &str,
    mailbox: &Arc<Mailbox>,
) -> bool {
    let Some(list) = index.get_mut(key) else {
        return false;
    };
    let removed = remove_from(list, mailbox);
    if list.is_empty() {
        index.remove(key);
    }
    removed
}

fn remove_from(list: &mut Vec<Arc<Mailbox>>, mailbox: &Arc<Mailbox>) -> bool {
    match list.iter().position(|m| Arc::ptr_eq(m, mailbox)) {
        Some(at) => {
            list.swap_remove(at);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openframe_core::event::EventData;
    use openframe_core::{EventKind, InteractionEvent, StoredEvent};

    fn event(id: u64, assigned_to: &str, inbound_id: &str) -> Arc<WireEvent> {
        Arc::new(WireEvent::new(StoredEvent {
            id,
            event: InteractionEvent {
                kind: EventKind::Created,
                data: EventData {
                    sys_id: format!("{id:032x}"),
                    number: format!("IMS{id:07}"),
                    sys_mod_count: 0,
                    changes: Default::default(),
                    assigned_to: assigned_to.into(),
                    inbound_id: inbound_id.into(),
                    children: vec![],
                },
            },
        }))
    }

    fn filter(assigned_to: Option<&str>, inbound_id: Option<&str>) -> Filter {
        Filter {
            assigned_to: assigned_to.map(str::to_owned),
            inbound_id: inbound_id.map(str::to_owned),
        }
    }

    fn drain(mailbox: &Mailbox) -> Vec<u64> {
        let mut inbox = VecDeque::new();
        match mailbox.take(&mut inbox) {
            None => vec![],
            Some(Delivery::Events) => inbox.iter().map(|e| e.id).collect(),
            Some(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn each_event_reaches_exactly_the_mailboxes_whose_filter_it_matches() {
        let mut index = Subscribers::default();
        let alice = Arc::new(Mailbox::new(filter(Some("alice"), None), 16));
        let bob = Arc::new(Mailbox::new(filter(Some("bob"), None), 16));
        let line = Arc::new(Mailbox::new(filter(None, Some("line-1")), 16));
        let alice_on_line = Arc::new(Mailbox::new(filter(Some("alice"), Some("line-1")), 16));
        let everything = Arc::new(Mailbox::new(Filter::default(), 16));
        for m in [&alice, &bob, &line, &alice_on_line, &everything] {
            index.insert(Arc::clone(m));
        }
        for e in [
            event(1, "alice", ""),
            event(2, "bob", "line-1"),
            event(3, "alice", "line-1"),
            event(4, "", ""),
            event(5, "carol", "line-2"),
        ] {
            index.deliver(&e);
        }
        assert_eq!(drain(&alice), [1, 3]);
        assert_eq!(drain(&bob), [2]);
        assert_eq!(drain(&line), [2, 3]);
        assert_eq!(drain(&alice_on_line), [3]);
        assert_eq!(drain(&everything), [1, 2, 3, 4, 5]);
    }

    #[test]
    fn removing_every_client_leaves_an_empty_index() {
        let mut index = Subscribers::default();
        let mailboxes: Vec<Arc<Mailbox>> = (0..50)
            .map(|i| {
                let f = match i % 4 {
                    0 => filter(Some(&format!("agent-{}", i % 7)), None),
                    1 => filter(None, Some(&format!("line-{}", i % 3))),
                    2 => filter(Some("agent-0"), Some("line-0")),
                    _ => Filter::default(),
                };
                Arc::new(Mailbox::new(f, 4))
            })
            .collect();
        for m in &mailboxes {
            index.insert(Arc::clone(m));
        }
        assert_eq!(index.size().subscribers, 50);
        for m in mailboxes.iter().rev() {
            index.remove(m);
            // A second removal is a no-op, not a miscount.
            index.remove(m);
        }
        assert_eq!(index.size(), IndexSize::default());
        assert!(index.is_empty());
    }

    #[test]
    fn a_full_mailbox_overflows_from_its_first_untaken_event_and_then_fills_again() {
        let mailbox = Mailbox::new(Filter::default(), 2);
        for id in [10, 11] {
            mailbox.push(&event(id, "", ""));
        }
        assert_eq!(drain(&mailbox), [10, 11]);
        for id in [12, 13, 14, 15] {
            mailbox.push(&event(id, "", ""));
        }
        let mut inbox = VecDeque::new();
        assert_eq!(
            mailbox.take(&mut inbox),
            Some(Delivery::Overflowed { resume_after: 11 }),
            "12 was the first event the client had not taken"
        );
        assert!(inbox.is_empty());
        assert_eq!(
            mailbox.take(&mut inbox),
            None,
            "the overflow is reported once"
        );
        mailbox.push(&event(16, "", ""));
        assert_eq!(drain(&mailbox), [16]);
    }

    #[tokio::test]
    async fn a_waiting_client_is_woken_by_an_event_pushed_before_it_waits() {
        let mailbox = Arc::new(Mailbox::new(Filter::default(), 4));
        let mut inbox = VecDeque::new();
        assert_eq!(mailbox.take(&mut inbox), None);
        mailbox.push(&event(1, "", ""));
        assert_eq!(mailbox.receive(&mut inbox).await, Delivery::Events);
        assert_eq!(inbox.len(), 1);
    }
}
