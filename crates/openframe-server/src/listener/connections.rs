//! The open connections and which of them are idle, so that a full server makes room for a new client by
//! closing the connection that has waited longest for a request — a keep-alive connection nobody uses, or
//! one whose client is sending its headers a byte at a time — instead of refusing the newcomer.
//!
//! A connection is busy from the moment its request's head has arrived until its response body is done
//! (an event stream stays busy for as long as it is open), and only an idle one is ever closed this way, so
//! no request is cut off.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::Notify;

/// The table of open connections, up to a cap.
#[derive(Debug)]
pub struct Connections {
    max: usize,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    open: HashMap<u64, Entry>,
}

#[derive(Debug)]
struct Entry {
    /// Requests whose response is not done.
    in_flight: usize,
    /// When `in_flight` last went to zero (or the connection opened).
    idle_since: Instant,
    /// Told when the connection is to close.
    evict: Arc<Notify>,
}

/// One admitted connection: its place in the table until dropped.
#[derive(Debug)]
pub struct Slot {
    id: u64,
    connections: Arc<Connections>,
    evicted: Arc<Notify>,
}

/// A request in flight on a connection; the connection is idle again once every guard is dropped.
#[derive(Debug)]
pub struct InFlight {
    id: u64,
    connections: Arc<Connections>,
}

impl Connections {
    /// An empty table for at most `max` connections.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Connections {
            max,
            table: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // Counters and handles only: a poisoned lock leaves nothing inconsistent.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for a new connection: a free one, or the place of the connection idle the longest, which is
    /// told to close. `None` when every connection is busy.
    pub fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut table = self.lock();
        if table.open.len() >= self.max {
            let (&oldest, _) = table
                .open
                .iter()
                .filter(|(_, e)| e.in_flight == 0)
                .min_by_key(|(_, e)| e.idle_since)?;
            if let Some(entry) = table.open.remove(&oldest) {
                entry.evict.notify_one();
                tracing::debug!("closing the longest-idle connection to make room for a new one");
            }
        }
        let id = table.next_id;
        table.next_id += 1;
        let evicted = Arc::new(Notify::new());
        table.open.insert(
            id,
            Entry {
                in_flight: 0,
                idle_since: Instant::now(),
                evict: Arc::clone(&evicted),
            },
        );
        Some(Slot {
            id,
            connections: Arc::clone(self),
            evicted,
        })
    }

    /// How many connections hold a place.
    pub fn open(&self) -> usize {
        self.lock().open.len()
    }
}

impl Slot {
    /// Marks a request in flight on this connection until the guard is dropped.
    pub fn request(&self) -> InFlight {
        if let Some(entry) = self.connections.lock().open.get_mut(&self.id) {
            entry.in_flight += 1;
        }
        InFlight {
            id: self.id,
            connections: Arc::clone(&self.connections),
        }
    }

    /// Resolves when the connection is to close to make room for another.
    pub async fn evicted(&self) {
        self.evicted.notified().await;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.connections.lock().open.remove(&self.id);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(entry) = self.connections.lock().open.get_mut(&self.id) {
            entry.in_flight = entry.in_flight.saturating_sub(1);
            if entry.in_flight == 0 {
                entry.idle_since = Instant::now();
            }
        }
    }
}

/// A response body that keeps its request in flight until it is done (sent whole, or dropped).
pub struct Tracked<B> {
    inner: B,
    _in_flight: InFlight,
}

impl<B> Tracked<B> {
    /// `inner`, keeping `in_flight` until it is dropped.
    pub fn new(inner: B, in_flight: InFlight) -> Self {
        Tracked {
            inner,
            _in_flight: in_flight,
        }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_table_closes_the_longest_idle_connection_never_a_busy_one() {
        let connections = Connections::new(2);
        let busy = connections.admit().expect("room");
        let request = busy.request();
        let idle = connections.admit().expect("room");
        // Full: the idle one makes room, the busy one stays.
        let newcomer = connections.admit().expect("the idle connection's place");
        tokio::time::timeout(std::time::Duration::from_secs(1), idle.evicted())
            .await
            .expect("the idle connection is told to close");
        assert_eq!(connections.open(), 2);
        // Now both are busy or new: the new one is idle, so one more takes its place.
        let _guard = newcomer.request();
        assert!(connections.admit().is_none(), "every connection is busy");
        drop(request);
        assert!(connections.admit().is_some(), "the first is idle again");
        drop(busy);
    }
}
