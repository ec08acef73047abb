//! The read pool: a few connections, each used by one blocking task at a time, so that reads run beside
//! the writer (WAL lets readers see the last commit while a write is in progress).

use std::sync::{Arc, Mutex};

use openframe_core::{Error, Result};
use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::error::sqlite;
use crate::writer::{SharedConnection, lock};

/// Connections that serve reads; a read waits (asynchronously) for a free one.
#[derive(Debug)]
pub(crate) struct Readers {
    connections: Vec<SharedConnection>,
    /// Indexes into `connections` not in use; a permit guarantees one is there.
    free: Mutex<Vec<usize>>,
    permits: Arc<Semaphore>,
}

impl Readers {
    /// A pool of `connections`; one may be the writer's own (an in-memory database has only one), whose
    /// mutex then serializes reads with writes.
    pub(crate) fn new(connections: Vec<SharedConnection>) -> Self {
        let n = connections.len();
        Readers {
            connections,
            free: Mutex::new((0..n).collect()),
            permits: Arc::new(Semaphore::new(n)),
        }
    }

    /// How many connections serve reads.
    pub(crate) fn len(&self) -> usize {
        self.connections.len()
    }

    /// How many of them are free right now.
    pub(crate) fn idle(&self) -> usize {
        self.permits.available_permits()
    }

    /// Runs `op` on a free connection, in one read transaction (so that its statements see one snapshot),
    /// on tokio's blocking pool.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| Error::internal(format!("the SQLite read pool is closed: {e}")))?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            // Dropped in reverse order: the lease goes back to the free list before the permit is released.
            let _permit = permit;
            let lease = Lease::take(&pool)?;
            let mut conn = lock(&pool.connections[lease.index]);
            let tx = conn
                .transaction()
                .map_err(sqlite("beginning a read transaction"))?;
            op(&tx)
            // `tx` is dropped here: a read-only transaction has nothing to commit.
        })
        .await
        .map_err(|e| Error::internal(format!("a SQLite read task failed: {e}")))?
    }
}

/// A connection index taken from the free list, given back on drop (a panic included).
struct Lease<'a> {
    pool: &'a Readers,
    index: usize,
}

impl<'a> Lease<'a> {
    fn take(pool: &'a Readers) -> Result<Self> {
        let index = pool
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .ok_or_else(|| Error::internal("no free SQLite read connection despite a permit"))?;
        Ok(Lease { pool, index })
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.pool
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(self.index);
    }
}
