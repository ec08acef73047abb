//! The writer: one thread that owns the connection every write goes through, fed by a channel.
//!
//! Each job runs in its own `BEGIN IMMEDIATE` transaction, committed only when the job succeeds; the
//! caller's future resolves after the commit. A job is split into `run` (its writes, inside the
//! transaction) and `finish` (its reply, after the commit) so that several jobs can later share one
//! transaction and one fsync (group commit) without changing what a job is.

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;

use openframe_core::{Error, Result};
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use crate::error::sqlite;

/// A connection shared between the writer thread and (for an in-memory database) the readers.
pub(crate) type SharedConnection = Arc<Mutex<Connection>>;

/// Locks a shared connection. A poisoned lock is still usable: every job starts by rolling back whatever
/// transaction a panic may have left open.
pub(crate) fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A write waiting for the writer thread.
trait Job: Send {
    /// Does the job's writes in the open transaction. An `Err` rolls them back.
    fn run(&mut self, conn: &Connection) -> Result<()>;
    /// Replies to the caller once the transaction has ended: `outcome` is `run`'s error or the commit's.
    fn finish(self: Box<Self>, outcome: Result<()>);
}

/// A job from a closure: keeps the closure's value between `run` and `finish`.
struct Pending<T, F> {
    op: Option<F>,
    value: Option<T>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> Result<()> {
        let op = self
            .op
            .take()
            .ok_or_else(|| Error::internal("a write job ran twice"))?;
        self.value = Some(op(conn)?);
        Ok(())
    }

    fn finish(self: Box<Self>, outcome: Result<()>) {
        let Pending { value, reply, .. } = *self;
        let result = outcome.and_then(|()| {
            value.ok_or_else(|| Error::internal("a write job finished without running"))
        });
        // The caller may have gone away (its request was cancelled); the write stands regardless.
        let _ = reply.send(result);
    }
}

/// The handle to the writer thread. Dropping it lets the thread finish the queued jobs, then waits for it.
#[derive(Debug)]
pub(crate) struct Writer {
    jobs: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub(crate) fn spawn(conn: SharedConnection) -> Result<Self> {
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        let thread = thread::Builder::new()
            .name("openframe-sqlite-writer".into())
            .spawn(move || serve(&conn, &queue))
            .map_err(|e| Error::internal(format!("starting the SQLite writer thread: {e}")))?;
        Ok(Writer {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Runs `op` in a write transaction on the writer thread and returns its value once committed. An
    /// error from `op` rolls everything back and is returned unchanged.
    pub(crate) async fn write<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            op: Some(op),
            value: None,
            reply,
        });
        self.jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Whether the writer thread is still taking jobs.
    pub(crate) fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop once the queue is empty; joining means the
        // connection is closed (and the WAL checkpointed) when the repository is gone.
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            // A job that held the last handle to the repository (a plan capturing it) drops it on the
            // writer thread itself, which must not wait for itself: its loop ends on its own.
            if thread.thread().id() != thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

fn stopped() -> Error {
    Error::internal("the SQLite writer thread has stopped")
}

/// The writer thread's loop: one job, one transaction.
fn serve(conn: &Mutex<Connection>, queue: &mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(mut job) = queue.recv() {
        let outcome = {
            let mut conn = lock(conn);
            in_transaction(&mut conn, job.as_mut())
        };
        job.finish(outcome);
    }
}

/// Runs `job` in a `BEGIN IMMEDIATE` transaction: committed when it succeeds, rolled back when it fails or
/// panics (a panic in an update plan must not take the writer down with it).
fn in_transaction(conn: &mut Connection, job: &mut dyn Job) -> Result<()> {
    if !conn.is_autocommit() {
        // Only if an earlier rollback failed; the transaction it left must not absorb this job.
        let _ = conn.execute_batch("ROLLBACK");
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite("beginning a write transaction"))?;
    let ran = panic::catch_unwind(AssertUnwindSafe(|| job.run(&tx)))
        .unwrap_or_else(|_| Err(Error::internal("a write panicked; it was rolled back")));
    match ran {
        Ok(()) => tx.commit().map_err(sqlite("committing a write")),
        Err(e) => {
            // Dropping the transaction would roll back too, but silently; a failure here is retried by
            // the next job's check above.
            let _ = tx.rollback();
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (Writer, SharedConnection) {
        let conn = Connection::open_in_memory().expect("database");
        conn.execute_batch("CREATE TABLE t (v INTEGER NOT NULL)")
            .expect("table");
        let conn = Arc::new(Mutex::new(conn));
        (Writer::spawn(Arc::clone(&conn)).expect("writer"), conn)
    }

    fn count(conn: &SharedConnection) -> i64 {
        lock(conn)
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .expect("count")
    }

    #[tokio::test]
    async fn a_failed_job_writes_nothing_and_its_error_comes_back() {
        let (writer, conn) = writer();
        let err = writer
            .write(|conn| {
                conn.execute("INSERT INTO t VALUES (1)", [])
                    .map_err(sqlite("insert"))?;
                Err::<(), _>(Error::invalid("field", "rule"))
            })
            .await;
        assert!(matches!(err, Err(Error::Invalid { field, .. }) if field == "field"));
        assert_eq!(count(&conn), 0);
        let n = writer
            .write(|conn| {
                conn.execute("INSERT INTO t VALUES (2)", [])
                    .map_err(sqlite("insert"))
            })
            .await;
        assert_eq!(n.ok(), Some(1));
        assert_eq!(count(&conn), 1);
    }

    #[tokio::test]
    async fn a_panicking_job_is_rolled_back_and_the_writer_lives_on() {
        let (writer, conn) = writer();
        let err = writer
            .write(|conn| -> Result<()> {
                conn.execute("INSERT INTO t VALUES (1)", [])
                    .map_err(sqlite("insert"))?;
                panic!("a bug in a plan");
            })
            .await;
        assert!(matches!(err, Err(Error::Internal { .. })));
        assert!(writer.is_running());
        writer
            .write(|conn| {
                conn.execute("INSERT INTO t VALUES (2)", [])
                    .map_err(sqlite("insert"))
            })
            .await
            .expect("next write");
        assert_eq!(count(&conn), 1);
    }
}
