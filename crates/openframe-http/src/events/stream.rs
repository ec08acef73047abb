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
//! stream goes on from: it must re-read what it shows, then carry on. The hub routes to each client only the
//! events its filter matches (`event_routing.rs`); a client too slow for its mailbox reads the outbox from
//! the first event it lost and catches up: it never silently misses an event, nor gets one twice.
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

use super::hub::{StreamPermit, Subscription, WireEvent};
use super::routing::Delivery;
pub use super::routing::Filter;
use crate::state::AppState;
use crate::table_api::Params;
use crate::wire::error::ApiError;

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
    let permit = hub
        .admit_stream(&caller.user_name)
        .map_err(ApiError::too_many_streams)?;
    let (subscription, position) = hub.subscribe(filter).await?;
    let keep_alive = hub.settings().keep_alive;
    let client = Client {
        _permit: permit,
        subscription,
        cursor: resume_from.unwrap_or(position),
        catching_up: resume_from.is_some(),
        inbox: VecDeque::new(),
        ready: VecDeque::new(),
    };
    // On shutdown the stream ends (the client reconnects with its Last-Event-ID).
    let closed = Box::pin(hub.closed());
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
    /// Its place under the stream caps, given back when the stream ends.
    _permit: StreamPermit,
    /// Its mailbox in the hub, and its filter; dropping it (the stream ended) takes the client out of the
    /// hub's index.
    subscription: Subscription,
    /// The id of the latest event this client has passed: sent, or (in the outbox) filtered out.
    cursor: u64,
    /// Whether the next events must come from the outbox (resuming, or the mailbox overflowed).
    catching_up: bool,
    /// Events taken from the mailbox, not sent yet; some may have been sent from the outbox already.
    inbox: VecDeque<Arc<WireEvent>>,
    /// Events read from the outbox, not sent yet.
    ready: VecDeque<Event>,
}

impl Client {
    /// The next SSE event; `None` ends the stream (the store failed).
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
            while let Some(event) = self.inbox.pop_front() {
                // Routed while this client was reading the same events from the outbox: sent already.
                if event.id <= self.cursor {
                    continue;
                }
                self.cursor = event.id;
                return Some(sse_event(&event));
            }
            let mailbox = self.subscription.mailbox();
            match mailbox.receive(&mut self.inbox).await {
                Delivery::Events => {}
                Delivery::Overflowed { resume_after } => {
                    // Everything up to `resume_after` that matched was taken from the mailbox; the rest is in
                    // the outbox. The cursor may be further on already (read from the outbox before).
                    self.cursor = self.cursor.max(resume_after);
                    self.catching_up = true;
                }
            }
        }
    }

    /// Reads one page of the outbox after the cursor into `ready`; a reset event when the cursor is outside
    /// the store's horizon. Done catching up when the page is not full.
    async fn catch_up(&mut self) -> openframe_core::Result<Option<Event>> {
        let hub = self.subscription.hub();
        let page_size = hub.settings().page;
        let page = hub
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
        let filter = self.subscription.mailbox().filter();
        for stored in page.events {
            let event = WireEvent::new(stored);
            self.cursor = event.id;
            if filter.matches(&event) {
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
        .data(event.json())
}
