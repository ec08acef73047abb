//! The event hub: one pump per server reads the store's outbox in id order and broadcasts each event once
//! to every stream client of this server (`event_stream.rs`), so a thousand clients cost one store read, not
//! a thousand.
//!
//! The pump reads when this server commits a write (the handlers call [`EventHub::committed`]) and, for
//! writes committed by other servers on the same database, on a short poll. It also prunes the outbox to the
//! retention window now and then. It starts with the first stream client or the first write, and stops when
//! the hub is dropped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use openframe_core::event::EventData;
use openframe_core::{EventKind, Repository, Result, StoredEvent};
use tokio::sync::{Notify, OnceCell, broadcast, watch};

/// How the hub and its streams behave; [`EventSettings::default`] is what `serve` uses.
#[derive(Clone, Debug)]
pub struct EventSettings {
    /// The retention window: the outbox keeps the latest this many events. A client that resumes from an
    /// older id is told to re-read (`event: reset`).
    pub retention: u64,
    /// How often the outbox is pruned to the retention window.
    pub prune_every: Duration,
    /// How often the pump looks for events committed by other servers on the same database.
    pub poll_every: Duration,
    /// The least time between two reads of the outbox: under load, the events of this long go to the
    /// clients as one batch, so that each client is woken once per batch rather than once per event (a
    /// thousand clients woken for every create would cost more than the creates).
    pub batch_window: Duration,
    /// Batches the broadcast buffer holds for a slow client before it falls back to reading the outbox.
    pub buffer: usize,
    /// Events read from the outbox at a time.
    pub page: usize,
    /// How often an idle stream sends a `: keep-alive` comment.
    pub keep_alive: Duration,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            retention: 100_000,
            prune_every: Duration::from_secs(60),
            poll_every: Duration::from_millis(500),
            batch_window: Duration::from_millis(25),
            buffer: 1024,
            page: 256,
            keep_alive: Duration::from_secs(15),
        }
    }
}

/// An event as the streams send it: its JSON written once for every client.
#[derive(Debug)]
pub struct WireEvent {
    /// The outbox id (the SSE `id`).
    pub id: u64,
    /// The SSE `event` name.
    pub kind: EventKind,
    /// What the filters look at.
    pub data: EventData,
    /// The SSE `data`: `data` as JSON.
    pub json: String,
}

impl WireEvent {
    /// The wire form of a stored event.
    pub fn new(stored: StoredEvent) -> Self {
        let json = serde_json::to_string(&stored.event.data).unwrap_or_default();
        WireEvent {
            id: stored.id,
            kind: stored.event.kind,
            data: stored.event.data,
            json,
        }
    }
}

/// Consecutive events, broadcast together.
pub type Batch = Arc<Vec<WireEvent>>;

/// One server's event fan-out. Shared by every handler through `AppState`.
#[derive(Debug)]
pub struct EventHub {
    repo: Arc<dyn Repository>,
    settings: EventSettings,
    sender: broadcast::Sender<Batch>,
    /// Wakes the pump; a wake-up while it is busy is kept for when it next waits.
    wake: Arc<Notify>,
    /// The id of the latest event broadcast (or, before any, the store's head when the pump started).
    position: AtomicU64,
    started: OnceCell<()>,
    pump_running: AtomicBool,
    /// Set on shutdown: every stream ends, so that the server's drain does not wait for them.
    closing: watch::Sender<bool>,
}

impl EventHub {
    /// A hub over `repo`; nothing runs until [`EventHub::committed`] or [`EventHub::subscribe`].
    pub fn new(repo: Arc<dyn Repository>, settings: EventSettings) -> Self {
        let (sender, _) = broadcast::channel(settings.buffer.max(1));
        EventHub {
            repo,
            settings,
            sender,
            wake: Arc::new(Notify::new()),
            position: AtomicU64::new(0),
            started: OnceCell::new(),
            pump_running: AtomicBool::new(false),
            closing: watch::Sender::new(false),
        }
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

    /// A receiver of every event broadcast from now on and the id of the latest event broadcast before
    /// it: a client that has seen nothing yet starts there.
    pub async fn subscribe(self: &Arc<Self>) -> Result<(broadcast::Receiver<Batch>, u64)> {
        self.start_position().await?;
        self.start_pump();
        // Subscribe first, then read the position: the pump stores the position before it broadcasts, so
        // every event after the position read is in the receiver.
        let receiver = self.sender.subscribe();
        Ok((receiver, self.position.load(Ordering::SeqCst)))
    }

    /// How many stream clients are listening.
    pub fn clients(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Starts from the store's head, once.
    async fn start_position(&self) -> Result<()> {
        self.started
            .get_or_try_init(|| async {
                let head = self.repo.events_after(0, 0).await?.horizon.head;
                self.position.store(head, Ordering::SeqCst);
                Ok(())
            })
            .await
            .map(|_| ())
    }

    fn start_pump(self: &Arc<Self>) {
        if !self.pump_running.swap(true, Ordering::SeqCst) {
            tokio::spawn(pump(Arc::downgrade(self), Arc::clone(&self.wake)));
        }
    }

    /// Reads every event after the position and broadcasts it; `Err` leaves the rest for the next round.
    async fn read_outbox(&self) -> Result<()> {
        loop {
            let after = self.position.load(Ordering::SeqCst);
            let page = self.repo.events_after(after, self.settings.page).await?;
            let full = page.events.len() >= self.settings.page;
            let batch: Vec<WireEvent> = page.events.into_iter().map(WireEvent::new).collect();
            if let Some(last) = batch.last() {
                self.position.store(last.id, Ordering::SeqCst);
                // No receiver is not an error: nobody is listening right now.
                let _ = self.sender.send(Arc::new(batch));
            }
            if !full {
                return Ok(());
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
        if let Err(e) = strong.start_position().await {
            tracing::warn!(error = %e, "event stream: cannot read the outbox's head yet");
        } else if let Err(e) = strong.read_outbox().await {
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
