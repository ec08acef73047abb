//! Checkpoints off the write path: copying the write-ahead log back into the database file.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses 1000 WAL pages, on the writer's
//! connection: that commit, and every write queued behind it, then also waits for the pages to be copied and
//! the database file fsynced. Here the writer's connection reports the WAL's size after each commit instead
//! (a WAL hook), and past [`CHECKPOINT_PAGES`] nudges a thread of its own that runs `PASSIVE` checkpoints on
//! a separate connection while the writer goes on committing.
//!
//! A passive checkpoint never waits, so under a steady stream of commits it may never catch the WAL's end,
//! and the WAL is only rewound from its start when it has been copied entirely. So past [`WAL_LIMIT_PAGES`]
//! the writer runs a `RESTART` checkpoint itself, between two batches: little is left to copy by then, and
//! the next commit starts the WAL over. The WAL file stays bounded (about `WAL_LIMIT_PAGES` pages) whatever
//! the load.
//!
//! Durability does not depend on checkpoints: a commit is durable once its WAL frames are fsynced.

use std::cell::Cell;
use std::ffi::c_int;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use openframe_core::{Error, Result};
use rusqlite::Connection;
use rusqlite::hooks::Wal;

use crate::connection::BUSY_TIMEOUT;
use crate::error::sqlite;

/// WAL pages past which the checkpointer is nudged: SQLite's own automatic checkpoint threshold.
pub(crate) const CHECKPOINT_PAGES: u32 = 1000;

/// WAL pages past which the writer checkpoints and rewinds the WAL itself (32 MiB of 4 KiB pages).
pub(crate) const WAL_LIMIT_PAGES: u32 = 8000;

thread_local! {
    /// Pages in the WAL after the last commit made on this thread: the writer thread's own.
    static WAL_PAGES: Cell<u32> = const { Cell::new(0) };
}

/// Makes `conn` record the WAL's size after each of its commits, for [`wal_pages`], in place of SQLite's
/// automatic checkpoints (a connection has one WAL hook; this one replaces theirs).
pub(crate) fn track_wal(conn: &Connection) {
    conn.wal_hook(Some(committed));
}

fn committed(_: &Wal, pages: c_int) -> rusqlite::Result<()> {
    WAL_PAGES.set(u32::try_from(pages).unwrap_or(0));
    Ok(())
}

/// Pages in the WAL after the last commit on this thread (0 before any, and for an in-memory database).
pub(crate) fn wal_pages() -> u32 {
    WAL_PAGES.get()
}

/// Forgets the recorded size once the writer has rewound the WAL.
pub(crate) fn wal_rewound() {
    WAL_PAGES.set(0);
}

/// Copies the WAL into the database file and has the next commit rewind it, on the writer's connection
/// between transactions. It waits for nobody: while the checkpointer is at work or a reader still reads old
/// WAL pages it copies what it can and fails with `SQLITE_BUSY`, and the writer tries again after its next
/// batch, rather than stall every write queued behind it.
pub(crate) fn restart(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::ZERO)
        .map_err(sqlite("checkpointing the write-ahead log"))?;
    let checkpointed = conn
        .query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| {
            row.get::<_, i64>(0)
        })
        .map_err(sqlite("checkpointing the write-ahead log"));
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite("checkpointing the write-ahead log"))?;
    // The pragma's first column is 1 when it could not finish (SQLITE_BUSY).
    match checkpointed? {
        0 => Ok(()),
        _ => Err(Error::unavailable(
            "the write-ahead log is in use; checkpoint later",
        )),
    }
}

/// The checkpointer thread. Dropping it ends the thread (after the checkpoint in progress, if any).
#[derive(Debug)]
pub(crate) struct Checkpointer {
    nudges: Option<mpsc::SyncSender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on `conn`, a read-write connection to the database the writer writes.
    pub(crate) fn spawn(conn: Connection) -> Result<Self> {
        // One pending nudge is enough: a checkpoint copies whatever the WAL holds when it starts.
        let (nudges, nudged) = mpsc::sync_channel::<()>(1);
        let thread = thread::Builder::new()
            .name("openframe-sqlite-checkpointer".into())
            .spawn(move || {
                while nudged.recv().is_ok() {
                    // A failure (another process checkpointing, an I/O error) leaves the pages in the WAL,
                    // where they are durable and readable; the next nudge or the writer's restart retries.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .map_err(|e| {
                Error::internal(format!("starting the SQLite checkpointer thread: {e}"))
            })?;
        Ok(Checkpointer {
            nudges: Some(nudges),
            thread: Some(thread),
        })
    }

    /// Asks for a checkpoint, without waiting for it (nor for the thread to take the request).
    pub(crate) fn nudge(&self) {
        if let Some(nudges) = &self.nudges {
            // Full: a checkpoint is already asked for. Disconnected: the thread is gone, and the writer's
            // restarts keep the WAL bounded alone.
            let _ = nudges.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.nudges.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::writer::{MAX_BATCH, Writer};

    const PAGE: u64 = 512;

    /// A WAL database of small pages (so that thousands of WAL pages are cheap) whose writer connection
    /// tracks the WAL like the store's; fsyncs are off, durability is not what these tests are about.
    fn database(path: &Path) -> Connection {
        let conn = Connection::open(path).expect("database");
        conn.execute_batch(&format!(
            "PRAGMA page_size = {PAGE}; PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;
             CREATE TABLE t (v BLOB NOT NULL);"
        ))
        .expect("setup");
        track_wal(&conn);
        conn
    }

    /// Queues `n` writes of about one page each and waits for them all.
    async fn fill(writer: &Writer, n: usize) {
        let writes: Vec<_> = (0..n)
            .map(|_| {
                writer.write(|conn| {
                    conn.execute("INSERT INTO t VALUES (zeroblob(400))", [])
                        .map_err(sqlite("insert"))
                })
            })
            .collect();
        for write in writes {
            write.await.expect("write");
        }
    }

    fn size(path: &Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    fn wal(path: &Path) -> std::path::PathBuf {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        wal.into()
    }

    #[tokio::test]
    async fn the_writer_keeps_the_wal_bounded_by_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("wal.db");
        let writer = Writer::spawn(Arc::new(Mutex::new(database(&path))), None).expect("writer");
        let written = 3 * WAL_LIMIT_PAGES as usize;
        fill(&writer, written).await;
        // The WAL file is rewound, never shrunk: its size is the most it ever held. Without the writer's
        // restarts it would hold every page written; with them, at most the limit and one more batch.
        let frame = PAGE + 24;
        let most = (u64::from(WAL_LIMIT_PAGES) + 4 * MAX_BATCH as u64) * frame;
        let held = size(&wal(&path));
        assert!(held <= most, "{held} > {most} bytes of WAL");
        assert!(
            size(&path) > u64::from(WAL_LIMIT_PAGES) * PAGE,
            "the pages reached the database file"
        );
    }

    #[tokio::test]
    async fn the_checkpointer_copies_the_wal_without_the_writer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("wal.db");
        let conn = database(&path);
        let checkpointer =
            Checkpointer::spawn(crate::connection::open_checkpointer(&path).expect("open"))
                .expect("checkpointer");
        let writer = Writer::spawn(Arc::new(Mutex::new(conn)), Some(checkpointer)).expect("writer");
        let before = size(&path);
        // Past the nudge, short of the writer's own restart.
        fill(&writer, 2 * CHECKPOINT_PAGES as usize).await;
        assert!(
            size(&wal(&path)) < u64::from(WAL_LIMIT_PAGES) * PAGE,
            "the writer had no reason to checkpoint itself"
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while size(&path) <= before + u64::from(CHECKPOINT_PAGES) * PAGE {
            assert!(Instant::now() < deadline, "no checkpoint copied the WAL");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
