//! `GET /api/now/openframe/events`: the interaction events as Server-Sent Events.
//!
//! ```text
//! id: 42
//! event: interaction.updated
//! data: {"sysId":"…","number":"IMS0001001","sysModCount":3,"changes":{…},"assignedTo":"…","inboundId":"…","children":[]}
//! ```
//!
//! A client that sends `Last-Event-ID` (or `?last_event_id=`) first gets every event after that id from the
//! outbox, then the live ones; without it, only events committed after it connected. A client whose id
//! lies beyond the retention window (or ahead of the store) gets one `event: reset` whose id is where the
//! stream goes on from: it must re-read what it shows, then carry on. A client too slow for the broadcast
//! buffer reads the outbox from its last id and catches up: it never silently misses an event.
//!
//! Filters (`assigned_to`, with `me` for the caller, and `inbound_id`) match the interaction's values after
//! the write; an event they leave out still moves the stream's position.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use openframe_core::{Caller, SysId};
use serde_json::json;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::app::AppState;
use crate::error::ApiError;
use crate::events::{Batch, EventHub, WireEvent};
use crate::table_api::Params;

/// What a client asked to see.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only events of interactions assigned to this user.
    pub assigned_to: Option<String>,
    /// Only events of interactions with this inbound id.
    pub inbound_id: Option<String>,
}

impl Filter {
    fn matches(&self, event: &WireEvent) -> bool {
        self.assigned_to
            .as_ref()
            .is_none_or(|a| *a == event.data.assigned_to)
            && self
                .inbound_id
                .as_ref()
                .is_none_or(|i| *i == event.data.inbound_id)
    }
}

/// `GET /api/now/openframe/events`
pub async fn stream(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(raw.as_deref())?;
    let filter = parse_filter(&params, &caller)?;
    let resume_from = last_event_id(&headers, &params)?;
    let hub = Arc::clone(&app.events);
    let (receiver, position) = hub.subscribe().await?;
    let keep_alive = hub.settings().keep_alive;
    let client = Client {
        hub,
        receiver,
        cursor: resume_from.unwrap_or(position),
        catching_up: resume_from.is_some(),
        filter,
        ready: VecDeque::new(),
    };
    // On shutdown the stream ends (the client reconnects with its Last-Event-ID).
    let closed = Box::pin(client.hub.closed());
    let events = stream::unfold((client, closed), |(mut client, mut closed)| async move {
        tokio::select! {
            event = client.next() => event.map(|event| (Ok::<_, Infallible>(event), (client, closed))),
            () = &mut closed => None,
        }
    });
    Ok(sse(events, keep_alive))
}

fn sse(
    events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static,
    keep_alive: std::time::Duration,
) -> Response {
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(keep_alive).text("keep-alive"))
        .into_response()
}

fn parse_filter(params: &Params, caller: &Caller) -> Result<Filter, ApiError> {
    let assigned_to = match params.get("assigned_to") {
        None => None,
        Some("me") => Some(caller.sys_id.as_str().to_owned()),
        Some(raw) => Some(
            SysId::parse(raw)
                .map_err(|rule| ApiError::invalid("assigned_to", format!("{rule}, or `me`")))?
                .as_str()
                .to_owned(),
        ),
    };
    let inbound_id = match params.get("inbound_id") {
        None => None,
        Some("") => return Err(ApiError::invalid("inbound_id", "must not be empty")),
        Some(id) => Some(id.to_owned()),
    };
    Ok(Filter {
        assigned_to,
        inbound_id,
    })
}

/// The id to resume after: the `Last-Event-ID` header (what `EventSource` sends on reconnecting), else the
/// `last_event_id` parameter.
fn last_event_id(headers: &HeaderMap, params: &Params) -> Result<Option<u64>, ApiError> {
    let (field, raw) = match headers.get("last-event-id") {
        Some(value) => (
            "Last-Event-ID",
            value
                .to_str()
                .map_err(|_| ApiError::invalid("Last-Event-ID", "must be a whole number"))?,
        ),
        None => match params.get("last_event_id") {
            Some(raw) => ("last_event_id", raw),
            None => return Ok(None),
        },
    };
    let raw = raw.trim();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(field, "must be a whole number"));
    }
    raw.parse()
        .map(Some)
        .map_err(|_| ApiError::invalid(field, "must be a whole number"))
}

/// One stream client's state.
struct Client {
    hub: Arc<EventHub>,
    receiver: broadcast::Receiver<Batch>,
    /// The id of the latest event this client has passed (sent or filtered out).
    cursor: u64,
    /// Whether the next events must come from the outbox (resuming, lagging, or a gap in the broadcast).
    catching_up: bool,
    filter: Filter,
    /// Events taken from the outbox or a batch, not sent yet.
    ready: VecDeque<Event>,
}

impl Client {
    /// The next SSE event; `None` ends the stream (the server is going away, or the store failed).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            if self.catching_up {
                match self.catch_up().await {
                    Ok(Some(reset)) => return Some(reset),
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "event stream: reading the outbox failed; closing the stream");
                        return None;
                    }
                }
            }
            match self.receiver.recv().await {
                Ok(batch) => self.take(&batch),
                Err(RecvError::Lagged(_)) => self.catching_up = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// Queues a broadcast batch's events for this client, from the one after its cursor.
    fn take(&mut self, batch: &[WireEvent]) {
        for event in batch {
            if event.id <= self.cursor {
                continue;
            }
            if event.id != self.cursor + 1 {
                // Events between the cursor and this one never reached this client (it subscribed while
                // they were being broadcast, or they were pruned): the outbox says which.
                self.catching_up = true;
                return;
            }
            self.cursor = event.id;
            if self.filter.matches(event) {
                self.ready.push_back(sse_event(event));
            }
        }
    }

    /// Reads one page of the outbox after the cursor into `ready`; a reset event when the cursor is outside
    /// the store's horizon. Done catching up when the page is not full.
    async fn catch_up(&mut self) -> openframe_core::Result<Option<Event>> {
        let page_size = self.hub.settings().page;
        let page = self
            .hub
            .repository()
            .events_after(self.cursor, page_size)
            .await?;
        if !page.horizon.can_resume_after(self.cursor) {
            let reason = if self.cursor > page.horizon.head {
                "unknown event id"
            } else {
                "events after this id are beyond the retention window"
            };
            self.cursor = page.horizon.head;
            self.catching_up = false;
            return Ok(Some(
                Event::default()
                    .id(self.cursor.to_string())
                    .event("reset")
                    .data(json!({ "reason": reason }).to_string()),
            ));
        }
        self.catching_up = page.events.len() >= page_size;
        for stored in page.events {
            let event = WireEvent::new(stored);
            self.cursor = event.id;
            if self.filter.matches(&event) {
                self.ready.push_back(sse_event(&event));
            }
        }
        Ok(None)
    }
}

fn sse_event(event: &WireEvent) -> Event {
    Event::default()
        .id(event.id.to_string())
        .event(event.kind.name())
        .data(&event.json)
}
