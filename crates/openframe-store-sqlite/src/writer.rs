//! The writer: one thread that owns the connection every write goes through, fed by a channel, with group
//! commit.
//!
//! The thread takes whatever jobs are queued (at least one, at most [`MAX_BATCH`]; it never waits for more)
//! and runs them in one `BEGIN IMMEDIATE` transaction. One `COMMIT`, so one fsync of the WAL, then makes the
//! whole batch durable, and only then is every job of the batch answered. Under load the queue fills while a
//! commit is being fsynced, so batches grow with the load; a lone write is one job, one transaction, with no
//! added wait.
//!
//! Each job is all or nothing, and a failing job fails alone. The jobs first run one after another straight
//! in the transaction ([`run_together`]): most succeed, and most that fail (a taken sys_id, an update of a
//! missing interaction, a plan's refusal) do so before they change anything, which leaves nothing to undo.
//! Only when a job fails *after* changing rows, or panics, is the transaction rolled back and the batch run
//! again with each job inside its own `SAVEPOINT` ([`run_in_savepoints`]), where a failing job is rolled back
//! to its savepoint alone. Savepoints are not the default because they are not free: the first change a job
//! makes to a page copies the whole page into the savepoint's journal, about an eighth of the writer's time
//! when every job had one.
//!
//! A job is split into `run` (its writes, inside the transaction; it may run twice, since a batch can be
//! rolled back and run again) and `finish` (its reply, after the commit).

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;

use openframe_core::metric_names::COMMIT_BATCH_SIZE;
use openframe_core::{Error, Result};
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::checkpoint::{self, Checkpointer};
use crate::error::{copies, sqlite};

/// The most jobs one transaction takes: bounds how long a batch holds the write lock and how much memory
/// its jobs hold, while being above any sensible number of concurrent writers.
pub(crate) const MAX_BATCH: usize = 256;

/// A connection shared between the writer thread and (for an in-memory database) the readers.
pub(crate) type SharedConnection = Arc<Mutex<Connection>>;

/// Locks a shared connection. A poisoned lock is still usable: every batch starts by rolling back whatever
/// transaction a panic may have left open.
pub(crate) fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A write waiting for the writer thread.
trait Job: Send {
    /// Does the job's writes in the open transaction. An `Err` rolls them back. Runs again, from the start,
    /// if its batch is rolled back and run again; only the last run's value counts.
    fn run(&mut self, conn: &Connection) -> Result<()>;
    /// Replies to the caller once the transaction has ended: `outcome` is `run`'s error or the commit's.
    fn finish(self: Box<Self>, outcome: Result<()>);
}

/// A job from a closure: keeps the closure's value between `run` and `finish`.
struct Pending<T, F> {
    op: F,
    value: Option<T>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnMut(&Connection) -> Result<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> Result<()> {
        self.value = None;
        self.value = Some((self.op)(conn)?);
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

/// Counts of the writer's work, for `Debug` and tests.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Batches run (each one transaction, whether or not it committed).
    pub batches: AtomicU64,
    /// Jobs run.
    pub jobs: AtomicU64,
    /// Batches rolled back and run again in savepoints (a job failed after writing, or panicked).
    pub replayed: AtomicU64,
}

/// The handle to the writer thread. Dropping it lets the thread finish the queued jobs, then waits for it.
#[derive(Debug)]
pub(crate) struct Writer {
    jobs: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<thread::JoinHandle<()>>,
    stats: Arc<Stats>,
}

impl Writer {
    /// Starts the writer thread on `conn`, with the `checkpointer` of a file database (which the thread
    /// owns from then on).
    pub(crate) fn spawn(
        conn: SharedConnection,
        checkpointer: Option<Checkpointer>,
    ) -> Result<Self> {
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        let stats = Arc::new(Stats::default());
        let counts = Arc::clone(&stats);
        let thread = thread::Builder::new()
            .name("openframe-sqlite-writer".into())
            .spawn(move || serve(&conn, &queue, &counts, checkpointer.as_ref()))
            .map_err(|e| Error::internal(format!("starting the SQLite writer thread: {e}")))?;
        Ok(Writer {
            jobs: Some(jobs),
            thread: Some(thread),
            stats,
        })
    }

    /// Queues `op` for the writer thread, at once (before the future is polled), and returns its value once
    /// the transaction it ran in has committed. An error from `op` rolls its writes back (only its own) and
    /// is returned unchanged. `op` may be called twice (see the module): it must do the same from the
    /// same database, and act on nothing but the connection.
    pub(crate) fn write<T, F>(&self, op: F) -> impl Future<Output = Result<T>> + Send + 'static
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            op,
            value: None,
            reply,
        });
        let queued = match &self.jobs {
            Some(jobs) => jobs.send(job).map_err(|_| stopped()),
            None => Err(stopped()),
        };
        async move {
            queued?;
            answer.await.map_err(|_| stopped())?
        }
    }

    /// Whether the writer thread is still taking jobs.
    pub(crate) fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// The writer's counts so far.
    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
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

/// The writer thread's loop: every queued job (up to [`MAX_BATCH`]), one transaction, then the replies, then
/// whatever checkpointing the WAL's size calls for (see `checkpoint.rs`).
fn serve(
    conn: &Mutex<Connection>,
    queue: &mpsc::Receiver<Box<dyn Job>>,
    stats: &Stats,
    checkpointer: Option<&Checkpointer>,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::new();
    // The WAL's size when the checkpointer was last nudged (0: not since the WAL was rewound).
    let mut nudged_at: u32 = 0;
    while let Ok(job) = queue.recv() {
        batch.push(job);
        batch.extend(queue.try_iter().take(MAX_BATCH - 1));
        let outcomes = run_batch(&lock(conn), &mut batch, stats);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
        // Looked up per batch (not once per thread), so a recorder installed after the store opened counts.
        metrics::histogram!(COMMIT_BATCH_SIZE, "store" => "sqlite").record(batch.len() as f64);
        // After the commit (and after the lock is released, so readers of an in-memory database go on).
        for (job, outcome) in batch.drain(..).zip(outcomes) {
            job.finish(outcome);
        }
        // A burst can leave a large allocation behind; keep what a normal batch needs.
        batch.shrink_to(MAX_BATCH);
        let pages = checkpoint::wal_pages();
        if pages < nudged_at {
            nudged_at = 0;
        }
        if pages >= checkpoint::WAL_LIMIT_PAGES {
            // Failing (the checkpointer or a reader is on the WAL) only leaves the WAL long for now: the
            // next batch tries again.
            if checkpoint::restart(&lock(conn)).is_ok() {
                checkpoint::wal_rewound();
                nudged_at = 0;
            }
        } else if pages >= nudged_at + checkpoint::CHECKPOINT_PAGES
            && let Some(checkpointer) = checkpointer
        {
            // Once per CHECKPOINT_PAGES of growth, not after every batch past it: the pages every commit
            // rewrites (the last leaf of each table and index) are then copied once per checkpoint
            // instead of once per batch.
            checkpointer.nudge();
            nudged_at = pages;
        }
    }
}

/// Runs `jobs` in one write transaction and commits; returns each job's outcome in order. A job's `Ok` is
/// final only when the commit succeeded: if the commit fails, every job that had succeeded gets the commit's
/// error instead (a job that failed keeps its own error; nothing of it was written either way).
fn run_batch(conn: &Connection, jobs: &mut [Box<dyn Job>], stats: &Stats) -> Vec<Result<()>> {
    if !conn.is_autocommit() {
        // Only if an earlier rollback failed; the transaction it left must not absorb this batch.
        let _ = conn.execute_batch("ROLLBACK");
    }
    run_together(conn, jobs).unwrap_or_else(|| {
        stats.replayed.fetch_add(1, Ordering::Relaxed);
        run_in_savepoints(conn, jobs)
    })
}

/// Runs `jobs` straight in one transaction and commits it, or returns `None` with the transaction rolled
/// back when a job failed after changing rows or panicked: its changes could not be undone alone.
///
/// A job that fails without having changed a row (SQLite's count of changed rows says so: a statement that
/// fails is undone by SQLite and counts nothing) left nothing to undo, and the others go on.
fn run_together(conn: &Connection, jobs: &mut [Box<dyn Job>]) -> Option<Vec<Result<()>>> {
    if let Err(copy) = begin(conn) {
        return Some(jobs.iter().map(|_| Err(copy())).collect());
    }
    let mut outcomes: Vec<Result<()>> = Vec::with_capacity(jobs.len());
    for job in jobs.iter_mut() {
        let changed_before = conn.total_changes();
        match panic::catch_unwind(AssertUnwindSafe(|| job.run(conn))) {
            Ok(Ok(())) if !conn.is_autocommit() => outcomes.push(Ok(())),
            Ok(Err(e)) if !conn.is_autocommit() && conn.total_changes() == changed_before => {
                outcomes.push(Err(e));
            }
            _ => {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                return None;
            }
        }
    }
    if let Err(copy) = commit(conn) {
        for outcome in outcomes.iter_mut().filter(|outcome| outcome.is_ok()) {
            *outcome = Err(copy());
        }
    }
    Some(outcomes)
}

/// Runs `jobs` in one write transaction, each in a savepoint, and commits: a job that fails is rolled back
/// alone. Returns each job's outcome in order.
fn run_in_savepoints(conn: &Connection, jobs: &mut [Box<dyn Job>]) -> Vec<Result<()>> {
    let mut outcomes: Vec<Result<()>> = Vec::with_capacity(jobs.len());
    // Jobs whose writes are in the open transaction, waiting for its commit.
    let mut uncommitted: Vec<usize> = Vec::new();
    let mut open = false;
    for (i, job) in jobs.iter_mut().enumerate() {
        if !open {
            if let Err(copy) = begin(conn) {
                outcomes.extend((i..jobs.len()).map(|_| Err(copy())));
                return outcomes;
            }
            open = true;
        }
        match run_in_savepoint(conn, job.as_mut()) {
            Ran::Done => {
                outcomes.push(Ok(()));
                uncommitted.push(i);
            }
            Ran::Failed(e) => outcomes.push(Err(e)),
            Ran::TransactionLost(e) => {
                // SQLite rolled back the whole transaction (it may on I/O errors, a full disk, or running
                // out of memory), and with it the jobs before this one: they fail too. Later jobs start
                // a new transaction.
                let copy = copies(e, Some("rolled back with its write batch"));
                for &j in &uncommitted {
                    outcomes[j] = Err(copy());
                }
                outcomes.push(Err(copy()));
                uncommitted.clear();
                open = false;
            }
        }
    }
    if open && let Err(copy) = commit(conn) {
        for &j in &uncommitted {
            outcomes[j] = Err(copy());
        }
    }
    outcomes
}

/// Opens the batch's write transaction. Failing means another process held the lock past the busy timeout:
/// every job still to run would wait as long, so each gets a copy of the error.
fn begin(conn: &Connection) -> std::result::Result<(), impl Fn() -> Error> {
    execute(conn, "BEGIN IMMEDIATE", "beginning a write transaction").map_err(|e| copies(e, None))
}

/// Commits the batch's transaction. When that fails it is rolled back, and every job whose writes it held
/// gets a copy of the error.
fn commit(conn: &Connection) -> std::result::Result<(), impl Fn() -> Error> {
    execute(conn, "COMMIT", "committing a write batch").map_err(|e| {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        copies(e, None)
    })
}

/// What became of one job of a batch.
enum Ran {
    /// Its writes are in the transaction.
    Done,
    /// It failed and its writes were rolled back; the transaction goes on.
    Failed(Error),
    /// The transaction itself is gone (SQLite rolled it back): this job failed, and so did the batch so far.
    TransactionLost(Error),
}

/// Runs `job` inside a savepoint of the open transaction, rolled back to it if the job fails or panics (a
/// panic in an update plan must take neither the writer nor the rest of the batch with it).
fn run_in_savepoint(conn: &Connection, job: &mut dyn Job) -> Ran {
    if let Err(e) = execute(conn, "SAVEPOINT job", "starting a write") {
        return Ran::Failed(e);
    }
    let ran = panic::catch_unwind(AssertUnwindSafe(|| job.run(conn)))
        .unwrap_or_else(|_| Err(Error::internal("a write panicked; it was rolled back")));
    if conn.is_autocommit() {
        return Ran::TransactionLost(ran.err().unwrap_or_else(|| {
            Error::internal("a write ended its transaction; it was rolled back")
        }));
    }
    let ended = match ran {
        Ok(()) => execute(conn, "RELEASE job", "ending a write").map(|()| Ran::Done),
        Err(e) => execute(conn, "ROLLBACK TO job", "rolling back a write")
            .and_then(|()| execute(conn, "RELEASE job", "rolling back a write"))
            .map(|()| Ran::Failed(e)),
    };
    // A savepoint that cannot be released or rolled back leaves the transaction in a state nothing
    // should be committed from.
    ended.unwrap_or_else(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        Ran::TransactionLost(e)
    })
}

/// Runs one transaction-control statement, prepared once per connection.
fn execute(conn: &Connection, sql: &str, doing: &'static str) -> Result<()> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute([]))
        .map_err(sqlite(doing))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (Writer, SharedConnection) {
        let conn = Connection::open_in_memory().expect("database");
        conn.execute_batch("CREATE TABLE t (v INTEGER NOT NULL UNIQUE)")
            .expect("table");
        let conn = Arc::new(Mutex::new(conn));
        (
            Writer::spawn(Arc::clone(&conn), None).expect("writer"),
            conn,
        )
    }

    fn count(conn: &SharedConnection) -> i64 {
        lock(conn)
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .expect("count")
    }

    fn values(conn: &SharedConnection) -> Vec<i64> {
        let conn = lock(conn);
        let mut stmt = conn.prepare("SELECT v FROM t ORDER BY v").expect("prepare");
        stmt.query_map([], |row| row.get(0))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    }

    fn insert(v: i64) -> impl FnMut(&Connection) -> Result<()> + Send + 'static {
        move |conn| {
            conn.execute("INSERT INTO t VALUES (?1)", [v])
                .map_err(|e| {
                    crate::error::map(e, "insert", || openframe_core::Conflict::SysId {
                        table: "t",
                        sys_id: v.to_string(),
                    })
                })?;
            Ok(())
        }
    }

    /// Holds the writer thread inside a job until the returned sender is used (or dropped), so that the
    /// jobs queued meanwhile make up the next batch, deterministically.
    async fn hold(writer: &Writer) -> (mpsc::Sender<()>, impl Future<Output = Result<()>>) {
        let (started, is_started) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let held = writer.write(move |_| {
            let _ = started.send(());
            let _ = released.recv();
            Ok(())
        });
        tokio::task::spawn_blocking(move || is_started.recv())
            .await
            .expect("join")
            .expect("the writer took the holding job");
        (release, held)
    }

    fn batches(writer: &Writer) -> (u64, u64) {
        let stats = writer.stats();
        (
            stats.batches.load(Ordering::Relaxed),
            stats.jobs.load(Ordering::Relaxed),
        )
    }

    #[tokio::test]
    async fn queued_jobs_share_a_batch_and_a_failing_or_panicking_one_fails_alone() {
        let (writer, conn) = writer();
        let (release, held) = hold(&writer).await;
        let a = writer.write(insert(1));
        let b = writer.write(|conn| {
            insert(2)(conn)?;
            Err::<(), _>(Error::invalid("field", "rule"))
        });
        let c = writer.write(insert(3));
        let d = writer.write(|conn| -> Result<()> {
            insert(4)(conn)?;
            panic!("a bug in a plan");
        });
        let e = writer.write(|conn| {
            // A constraint violation fails only its statement; the job's other write goes with it.
            insert(5)(conn)?;
            conn.execute("INSERT INTO t VALUES (NULL)", [])
                .map_err(sqlite("insert"))?;
            Ok(())
        });
        let f = writer.write(insert(6));
        drop(release);
        held.await.expect("the holding job");
        assert!(a.await.is_ok());
        assert!(matches!(b.await, Err(Error::Invalid { field, .. }) if field == "field"));
        assert!(c.await.is_ok());
        assert!(matches!(d.await, Err(Error::Internal { .. })));
        assert!(matches!(e.await, Err(Error::Internal { .. })));
        assert!(f.await.is_ok());
        assert_eq!(values(&conn), [1, 3, 6]);
        assert_eq!(
            batches(&writer),
            (2, 7),
            "the holding job, then one batch of six"
        );
        assert_eq!(
            writer.stats().replayed.load(Ordering::Relaxed),
            1,
            "run again in savepoints once, when the first job that wrote and failed was met"
        );
    }

    #[tokio::test]
    async fn jobs_that_fail_before_changing_anything_need_no_replay() {
        let (writer, conn) = writer();
        let (release, held) = hold(&writer).await;
        let a = writer.write(insert(1));
        let refused = writer.write(|_| Err::<(), _>(Error::NotFound { what: "thing" }));
        // The statement fails and SQLite undoes it: the job changed nothing.
        let taken = writer.write(insert(1));
        let b = writer.write(insert(2));
        drop(release);
        held.await.expect("the holding job");
        assert!(a.await.is_ok());
        assert!(matches!(
            refused.await,
            Err(Error::NotFound { what: "thing" })
        ));
        assert!(matches!(taken.await, Err(Error::Conflict { .. })));
        assert!(b.await.is_ok());
        assert_eq!(values(&conn), [1, 2]);
        assert_eq!(batches(&writer), (2, 5));
        assert_eq!(writer.stats().replayed.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_replayed_job_runs_again_from_the_start_and_keeps_its_last_value() {
        let (writer, conn) = writer();
        let (release, held) = hold(&writer).await;
        let mut runs = 0;
        let counted = writer.write(move |conn| {
            runs += 1;
            insert(10)(conn)?;
            Ok(runs)
        });
        let failing = writer.write(|conn| {
            insert(11)(conn)?;
            Err::<(), _>(Error::invalid("field", "rule"))
        });
        drop(release);
        held.await.expect("the holding job");
        assert_eq!(counted.await.ok(), Some(2), "run once, then once more");
        assert!(failing.await.is_err());
        assert_eq!(values(&conn), [10]);
        assert_eq!(writer.stats().replayed.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_failed_commit_fails_every_job_of_the_batch() {
        let (writer, conn) = writer();
        lock(&conn)
            .execute_batch(
                "PRAGMA foreign_keys = ON;
                 CREATE TABLE parent (id INTEGER PRIMARY KEY);
                 CREATE TABLE child (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
            )
            .expect("tables");
        let (release, held) = hold(&writer).await;
        let a = writer.write(insert(1));
        // A deferred foreign key is checked at COMMIT: this job succeeds, the commit then fails.
        let orphan = writer.write(|conn| {
            conn.execute("INSERT INTO child VALUES (42)", [])
                .map_err(sqlite("insert"))?;
            Ok(())
        });
        let failed = writer.write(|_| Err::<(), _>(Error::NotFound { what: "thing" }));
        let c = writer.write(insert(3));
        drop(release);
        held.await.expect("the holding job");
        for outcome in [a.await, orphan.await, c.await] {
            assert!(
                matches!(outcome, Err(Error::Internal { .. })),
                "{outcome:?}"
            );
        }
        assert!(matches!(
            failed.await,
            Err(Error::NotFound { what: "thing" })
        ));
        assert_eq!(count(&conn), 0);
        writer.write(insert(4)).await.expect("the next batch");
        assert_eq!(values(&conn), [4]);
    }

    #[tokio::test]
    async fn a_transaction_lost_mid_batch_fails_the_jobs_before_and_not_after() {
        let (writer, conn) = writer();
        let (release, held) = hold(&writer).await;
        let a = writer.write(insert(1));
        // What SQLite does on some I/O errors: it rolls the whole transaction back.
        let lost = writer.write(|conn| {
            insert(2)(conn)?;
            conn.execute_batch("ROLLBACK").map_err(sqlite("rollback"))
        });
        let c = writer.write(insert(3));
        drop(release);
        held.await.expect("the holding job");
        assert!(matches!(a.await, Err(Error::Internal { .. })));
        assert!(matches!(lost.await, Err(Error::Internal { .. })));
        assert!(c.await.is_ok());
        assert_eq!(values(&conn), [3]);
        assert_eq!(batches(&writer), (2, 4));
    }

    #[tokio::test]
    async fn many_concurrent_writes_all_land() {
        let (writer, conn) = writer();
        let writer = Arc::new(writer);
        let tasks: Vec<_> = (0..500)
            .map(|v| tokio::spawn(writer.write(insert(v))))
            .collect();
        for task in tasks {
            task.await.expect("join").expect("write");
        }
        assert_eq!(values(&conn), (0..500).collect::<Vec<_>>());
        let (batches, jobs) = batches(&writer);
        assert_eq!(jobs, 500);
        assert!(batches <= 500);
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
