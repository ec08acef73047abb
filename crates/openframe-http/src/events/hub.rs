//! The event hub: one pump per server reads the store's outbox in id order and routes each event to the
//! stream clients of this server (`event_stream.rs`) it is for, so a thousand clients cost one store read,
//! not a thousand, and an event wakes only the clients whose filter it matches (`event_routing.rs`).
//!
//! The pump reads when this server commits a write (the handlers call [`EventHub::committed`]) and, for
//! writes committed by other servers on the same database, on a short poll. It also prunes the outbox to the
//! retention window now and then. It starts with the first stream client or the first write, and stops when
//! the hub is dropped. While no client is subscribed it reads nothing (no event is parsed for nobody); the
//! next client to subscribe starts from the store's head.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use openframe_core::event::EventData;
use openframe_core::{EventKind, Repository, Result, StoredEvent};
use tokio::sync::{Notify, watch};

use super::routing::{Filter, IndexSize, Mailbox, Subscribers};

/// How the hub and its streams behave; [`EventSettings::default`] is what `serve` uses.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EventSettings {
    /// The retention window: the outbox keeps the latest this many events. A client that resumes from an
    /// older id is told to re-read (`event: reset`).
    pub retention: u64,
    /// How often the outbox is pruned to the retention window.
    pub prune_every: Duration,
    /// How often the pump looks for events committed by other servers on the same database.
    pub poll_every: Duration,
    /// The least time between two reads of the outbox: under load, the events of this long are read in one
    /// query and routed together, so a client is woken at most once per window however many of its events
    /// it holds (at the price of up to this much added latency).
    pub batch_window: Duration,
    /// Events a client's mailbox holds before it overflows and the client reads the outbox instead (the
    /// events are shared between clients: a mailbox holds pointers).
    pub buffer: usize,
    /// Events read from the outbox at a time.
    pub page: usize,
    /// How often an idle stream sends a `: keep-alive` comment.
    pub keep_alive: Duration,
    /// Most event streams one user may hold open at once; one more is a 429.
    pub max_streams_per_user: usize,
    /// Most event streams open at once on this router, whoever holds them; one more is a 429. A server
    /// sets it below its connection cap, so that streams never take the connections ordinary requests
    /// need.
    pub max_streams: usize,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            retention: 100_000,
            prune_every: Duration::from_secs(60),
            poll_every: Duration::from_millis(500),
            batch_window: Duration::from_millis(25),
            buffer: 4096,
            page: 256,
            keep_alive: Duration::from_secs(15),
            max_streams_per_user: 20,
            max_streams: 768,
        }
    }
}

/// An event as the streams send it: its JSON written once for every client, by the first that sends it
/// (an event that no client matches is never written).
#[derive(Debug)]
pub struct WireEvent {
    /// The outbox id (the SSE `id`).
    pub id: u64,
    /// The SSE `event` name.
    pub kind: EventKind,
    /// What the filters look at.
    pub data: EventData,
    json: OnceLock<String>,
}

impl WireEvent {
    /// The wire form of a stored event.
    pub fn new(stored: StoredEvent) -> Self {
        WireEvent {
            id: stored.id,
            kind: stored.event.kind,
            data: stored.event.data,
            json: OnceLock::new(),
        }
    }

    /// The SSE `data`: `data` as JSON.
    pub fn json(&self) -> &str {
        // Serializing plain strings, numbers and maps of strings cannot fail.
        self.json
            .get_or_init(|| serde_json::to_string(&self.data).unwrap_or_default())
    }
}

/// One server's event fan-out. Shared by every handler through `AppState`.
#[derive(Debug)]
pub struct EventHub {
    repo: Arc<dyn Repository>,
    settings: EventSettings,
    routing: Mutex<Routing>,
    /// Wakes the pump; a wake-up while it is busy is kept for when it next waits.
    wake: Arc<Notify>,
    pump_running: AtomicBool,
    /// Set on shutdown: every stream ends, so that the server's drain does not wait for them.
    closing: watch::Sender<bool>,
    /// The open streams, by the user who holds them.
    streams: Arc<Mutex<StreamCount>>,
}

/// How many event streams are open, in all and per user.
#[derive(Debug, Default)]
struct StreamCount {
    total: usize,
    by_user: std::collections::HashMap<String, usize>,
}

/// One open stream's place under the caps, given back when the stream ends.
#[derive(Debug)]
pub struct StreamPermit {
    streams: Arc<Mutex<StreamCount>>,
    user: String,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut count = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        count.total = count.total.saturating_sub(1);
        if let Some(n) = count.by_user.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                count.by_user.remove(&self.user);
            }
        }
    }
}

/// The subscribers and the pump's position, under one lock: a client subscribes between two deliveries, so
/// it gets exactly the matching events after the position it is given.
#[derive(Debug, Default)]
struct Routing {
    subscribers: Subscribers,
    /// The id of the latest event routed (or the store's head when the first client subscribed).
    position: u64,
    /// Whether `position` follows the outbox: from the first subscriber until the last one leaves. While it
    /// does not, the pump reads nothing and the next subscriber first moves it to the store's head.
    following: bool,
    /// How many times a client's mailbox overflowed (and the client went to the outbox).
    overflows: u64,
}

/// A client's place in the hub: its mailbox, indexed until this is dropped.
#[derive(Debug)]
pub struct Subscription {
    hub: Arc<EventHub>,
    mailbox: Arc<Mailbox>,
}

impl Subscription {
    /// Where the events routed to this client arrive.
    pub fn mailbox(&self) -> &Mailbox {
        &self.mailbox
    }

    /// The hub subscribed to.
    pub fn hub(&self) -> &Arc<EventHub> {
        &self.hub
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(&self.mailbox);
    }
}

impl EventHub {
    /// A hub over `repo`; nothing runs until [`EventHub::committed`] or [`EventHub::subscribe`].
    pub fn new(repo: Arc<dyn Repository>, settings: EventSettings) -> Self {
        EventHub {
            repo,
            settings,
            routing: Mutex::new(Routing::default()),
            wake: Arc::new(Notify::new()),
            pump_running: AtomicBool::new(false),
            closing: watch::Sender::new(false),
            streams: Arc::default(),
        }
    }

    /// A place for one more stream of `user`'s, or what to tell the client when the user's cap
    /// ([`EventSettings::max_streams_per_user`]) or the router's ([`EventSettings::max_streams`]) is
    /// reached. The place is given back when the permit is dropped.
    pub fn admit_stream(&self, user: &str) -> std::result::Result<StreamPermit, String> {
        let mut count = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        let held = count.by_user.get(user).copied().unwrap_or(0);
        if held >= self.settings.max_streams_per_user {
            return Err(format!(
                "{user} holds {held} event streams, the most one user may; close one first"
            ));
        }
        if count.total >= self.settings.max_streams {
            return Err(format!(
                "this server holds {} event streams, the most it serves; retry later",
                count.total
            ));
        }
        count.total += 1;
        *count.by_user.entry(user.to_owned()).or_default() += 1;
        Ok(StreamPermit {
            streams: Arc::clone(&self.streams),
            user: user.to_owned(),
        })
    }

    /// How many event streams are open on this router.
    pub fn open_streams(&self) -> usize {
        self.streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }

    /// Ends every stream, now and from now on (they are long-lived responses that a graceful shutdown
    /// would otherwise wait for). Clients reconnect elsewhere with their `Last-Event-ID`.
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once [`EventHub::close_streams`] has been called.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closing = self.closing.subscribe();
        async move {
            // An error means the hub is gone, which ends the streams just the same.
            let _ = closing.wait_for(|closed| *closed).await;
        }
    }

    /// The hub's settings.
    pub fn settings(&self) -> &EventSettings {
        &self.settings
    }

    /// The store the events come from.
    pub fn repository(&self) -> &Arc<dyn Repository> {
        &self.repo
    }

    /// Tells the pump that this server committed a write, whose event it should read now. Call it only
    /// after the write returned (it is durable by then).
    pub fn committed(self: &Arc<Self>) {
        self.wake.notify_one();
        self.start_pump();
    }

    /// Subscribes a client with `filter`: its subscription, which receives every matching event routed
    /// from now on, and the id of the latest event routed before it (a client that has seen nothing yet
    /// starts there).
    pub async fn subscribe(self: &Arc<Self>, filter: Filter) -> Result<(Subscription, u64)> {
        self.start_pump();
        let mailbox = Arc::new(Mailbox::new(filter, self.settings.buffer));
        let position = match self.register(&mailbox, None) {
            Some(position) => position,
            None => {
                // Nobody was listening, so the position is stale: start from the store's head.
                let head = self.repo.events_after(0, 0).await?.horizon.head;
                self.register(&mailbox, Some(head)).unwrap_or(head)
            }
        };
        let subscription = Subscription {
            hub: Arc::clone(self),
            mailbox,
        };
        Ok((subscription, position))
    }

    /// How many stream clients are listening.
    pub fn clients(&self) -> usize {
        self.routing().subscribers.size().subscribers
    }

    /// How many times a client's mailbox overflowed since the hub started (each time, that client read the
    /// outbox instead).
    pub fn overflows(&self) -> u64 {
        self.routing().overflows
    }

    /// How big the subscriber index is.
    pub fn index_size(&self) -> IndexSize {
        self.routing().subscribers.size()
    }

    /// Indexes `mailbox` and returns the position it starts from; `None` when the position is stale and
    /// `head` (the store's, read since) was not given.
    fn register(&self, mailbox: &Arc<Mailbox>, head: Option<u64>) -> Option<u64> {
        let mut routing = self.routing();
        if !routing.following {
            routing.position = routing.position.max(head?);
            routing.following = true;
        }
        routing.subscribers.insert(Arc::clone(mailbox));
        Some(routing.position)
    }

    fn unsubscribe(&self, mailbox: &Arc<Mailbox>) {
        let mut routing = self.routing();
        routing.subscribers.remove(mailbox);
        if routing.subscribers.is_empty() {
            routing.following = false;
        }
    }

    fn routing(&self) -> MutexGuard<'_, Routing> {
        // Nothing in `Routing` is left half-changed by a panic (the index's maps are each updated in one
        // call), so a poisoned lock's state is still good.
        self.routing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn start_pump(self: &Arc<Self>) {
        if !self.pump_running.swap(true, Ordering::SeqCst) {
            tokio::spawn(pump(Arc::downgrade(self), Arc::clone(&self.wake)));
        }
    }

    /// Reads every event after the position and routes it, while anybody listens; `Err` leaves the rest for
    /// the next round.
    async fn read_outbox(&self) -> Result<()> {
        loop {
            let after = {
                let routing = self.routing();
                if !routing.following {
                    return Ok(());
                }
                routing.position
            };
            let page = self.repo.events_after(after, self.settings.page).await?;
            let full = page.events.len() >= self.settings.page;
            let events: Vec<Arc<WireEvent>> = page
                .events
                .into_iter()
                .map(|stored| Arc::new(WireEvent::new(stored)))
                .collect();
            self.route(&events);
            if !full {
                return Ok(());
            }
        }
    }

    /// Queues each event for the clients it matches and moves the position past them, under the lock that
    /// subscribing takes: a client subscribed before gets the whole page, one subscribed after none of it.
    fn route(&self, events: &[Arc<WireEvent>]) {
        let mut routing = self.routing();
        for event in events {
            // The position may have moved on while the page was read (a client subscribed while nobody
            // was listening, and started from the head): what is behind it is not for anyone.
            if event.id > routing.position {
                let overflows = routing.subscribers.deliver(event);
                routing.overflows += overflows;
                routing.position = event.id;
            }
        }
    }
}

/// The pump: waits for a local commit or the poll interval, then reads the outbox; prunes it now and then.
/// Holds the hub only while working, so that dropping the last `AppState` ends it.
async fn pump(hub: Weak<EventHub>, wake: Arc<Notify>) {
    let mut last_prune: Option<Instant> = None;
    loop {
        let Some(strong) = hub.upgrade() else { return };
        if let Err(e) = strong.read_outbox().await {
            tracing::warn!(error = %e, "event stream: reading the outbox failed; retrying");
        }
        let settings = strong.settings.clone();
        if last_prune.is_none_or(|at| at.elapsed() >= settings.prune_every) {
            last_prune = Some(Instant::now());
            if let Err(e) = strong.repo.prune_events(settings.retention).await {
                tracing::warn!(error = %e, "event stream: pruning the outbox failed");
            }
        }
        drop(strong);
        tokio::time::sleep(settings.batch_window).await;
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(settings.poll_every) => {}
        }
    }
}
