//! What every handler shares: the service over the store, the credential checker, the event hub and the
//! body-read deadline.

use std::sync::{Arc, Weak};
use std::time::Duration;

use openframe_core::{CommitListener, Repository, Service};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::Authenticator;
use crate::events::{EventHub, EventSettings};

/// [`AppState::body_read_timeout`] unless set otherwise.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The state behind a router: build it over a store, adjust it, then hand it to [`crate::router`] or a
/// [`crate::RouterBuilder`].
///
/// Writes made through [`AppState::service`] (or any clone of it, from anywhere in the host program) reach
/// this router's event streams at once, like the router's own.
#[derive(Clone, Debug)]
pub struct AppState {
    pub(crate) service: Service,
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) body_read_timeout: Duration,
    pub(crate) events: Arc<EventHub>,
    /// Turns of the large pages written at once (`table_api/mod.rs`).
    pub(crate) large_pages: Arc<Semaphore>,
}

/// How long a large page waits for its turn before the client is told to come back (503).
const LARGE_PAGE_WAIT: Duration = Duration::from_secs(10);

impl AppState {
    /// State for a router over `repo`.
    pub fn new(repo: Arc<dyn Repository>) -> Self {
        AppState::with_service(Service::new(repo))
    }

    /// State over an existing service (to share its environment, say). The service's commits wake this
    /// state's event hub from now on.
    pub fn with_service(service: Service) -> Self {
        let repo = service.repository();
        let events = Arc::new(EventHub::new(Arc::clone(repo), EventSettings::default()));
        service.notify_commits_to(Arc::new(WakeHub(Arc::downgrade(&events))));
        AppState {
            auth: Arc::new(Authenticator::new(Arc::clone(repo))),
            events,
            service,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            // As many as there are cores: a page is written while it is rendered, so more would only share them.
            large_pages: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
        }
    }

    /// A turn to write a large page, or a 503 after [`LARGE_PAGE_WAIT`]: a large page holds its rows in
    /// memory while it is sent, so only a few are written at once.
    pub(crate) async fn large_page_turn(
        &self,
    ) -> Result<OwnedSemaphorePermit, crate::wire::error::ApiError> {
        match tokio::time::timeout(
            LARGE_PAGE_WAIT,
            Arc::clone(&self.large_pages).acquire_owned(),
        )
        .await
        {
            Ok(Ok(turn)) => Ok(turn),
            _ => Err(crate::wire::error::ApiError::busy(
                "too many large pages are being written; retry later, or ask for fewer rows",
            )),
        }
    }

    /// The same state with another body-read deadline: a client slower to send its body gets a 408.
    #[must_use]
    pub fn with_body_read_timeout(self, body_read_timeout: Duration) -> Self {
        AppState {
            body_read_timeout,
            ..self
        }
    }

    /// The same state with other event-stream settings (a short retention window in tests, say).
    #[must_use]
    pub fn with_event_settings(mut self, settings: EventSettings) -> Self {
        self.events = Arc::new(EventHub::new(
            Arc::clone(self.service.repository()),
            settings,
        ));
        self.service
            .notify_commits_to(Arc::new(WakeHub(Arc::downgrade(&self.events))));
        self
    }

    /// The voice-interaction service the handlers call: use it (or a clone) to write from the host program.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// The longest a handler waits for a request body.
    pub fn body_read_timeout(&self) -> Duration {
        self.body_read_timeout
    }

    /// This state's event hub (its settings, its subscribers).
    pub fn events(&self) -> &Arc<EventHub> {
        &self.events
    }

    /// Ends every open event stream, now and from now on: call it when shutting down, as streams never end
    /// by themselves and a graceful drain would wait for them.
    pub fn close_streams(&self) {
        self.events.close_streams();
    }

    /// Forgets every cached credential (after users change in this process).
    pub fn clear_credential_cache(&self) {
        self.auth.clear_cache();
    }
}

/// Wakes a hub when the service commits, for as long as the hub lives.
#[derive(Debug)]
struct WakeHub(Weak<EventHub>);

impl CommitListener for WakeHub {
    fn committed(&self) {
        if let Some(hub) = self.0.upgrade() {
            hub.committed();
        }
    }
}
