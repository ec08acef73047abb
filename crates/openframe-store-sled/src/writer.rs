//! The writer: one thread that runs every write of a store in turn and makes them durable in groups.
//!
//! A write is durable only once a flush that *started after it was applied* has completed: `Db::flush`
//! writes out everything applied before it starts, and the store then syncs the files (`durability.rs`).
//! One sync costs milliseconds however little it writes, and in sled 0.34 a flush also holds off every other
//! write while it runs (it holds a read lock of sled's process-wide lock, which a batch or a transaction
//! takes for writing). A flush per write therefore caps a store at a few hundred writes per second, whatever
//! the number of writers.
//!
//! So the writer commits in groups. It takes every write waiting in its queue (up to [`MAX_GROUP`]) and
//! runs each, one after another, then runs one flush for the group (in the store: apply the group's staged
//! writes as one batch, then `Db::flush`; the `group` module), and only then answers the writes that ran,
//! with the flush's outcome: an error reaches every one of them. A write that fails (a
//! conflict, a rejected update plan) wrote nothing and is answered at once. Writes that arrive while a group
//! is running wait for the next group, which starts as soon as this one is answered. Each write is applied
//! before its group's flush starts, on the same thread, so durability is exactly that of a flush per write;
//! a write alone finds the writer idle and is applied and flushed at once.
//!
//! One thread rather than tokio's blocking pool: sled applies one write at a time anyway, and dozens of
//! threads blocked on its lock cost CPU (futex storms), memory (a stack and a malloc arena each) and
//! latency, for nothing. Being the only thread that writes `data` also lets a write read and then apply a
//! batch with no transaction (see the `interactions` module). The flush is a plain blocking `Db::flush` on
//! this thread, never sled's `flush_async`, which runs the flush on sled's own I/O pool and, with concurrent
//! transactions, can deadlock every writer of the process (seen here; spacejam/sled#1412,
//! databendlabs/databend#1311).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::thread::JoinHandle;

use openframe_core::metric_names::COMMIT_BATCH_SIZE;
use openframe_core::{Error, Result};
use tokio::sync::oneshot;

use crate::error::from_sled;

/// Most writes committed before one flush: bounds how long the first write of a group waits for it.
pub(crate) const MAX_GROUP: usize = 256;

/// A queued write: runs on the writer thread and, if it committed, leaves an answer for after the flush.
type Job<C> = Box<dyn FnOnce(&C) -> Option<Committed> + Send>;

/// A committed write's answer, given the outcome of the flush that covers it.
type Committed = Box<dyn FnOnce(&std::result::Result<(), sled::Error>) + Send>;

/// The writer thread of one store and the queue to it; `C` is what writes act on (the store's trees).
pub(crate) struct Writer<C> {
    /// `None` only while dropping: closing the queue is what ends the thread.
    queue: Option<mpsc::Sender<Job<C>>>,
    thread: Option<JoinHandle<()>>,
}

impl<C: Send + 'static> Writer<C> {
    /// Starts the writer thread: writes act on `context`, and each group is made durable by `flush`
    /// (`Db::flush` in the store, a stand-in in tests).
    pub(crate) fn start(
        context: C,
        mut flush: impl FnMut(&C) -> sled::Result<()> + Send + 'static,
    ) -> Result<Self> {
        let (queue, jobs) = mpsc::channel::<Job<C>>();
        let thread = std::thread::Builder::new()
            .name("openframe-sled-writer".into())
            .spawn(move || {
                // Ends when the store is dropped and the queue closes.
                while let Ok(first) = jobs.recv() {
                    let mut committed = Vec::new();
                    let group = std::iter::once(first).chain(jobs.try_iter().take(MAX_GROUP - 1));
                    for job in group {
                        committed.extend(job(&context));
                    }
                    if committed.is_empty() {
                        continue;
                    }
                    metrics::histogram!(COMMIT_BATCH_SIZE, "store" => "sled")
                        .record(committed.len() as f64);
                    let flushed = flush(&context);
                    for answer in committed {
                        answer(&flushed);
                    }
                }
            })
            .map_err(Error::unavailable)?;
        Ok(Writer {
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    /// Runs `write` on the writer thread and returns its value once it is durable: after a flush that
    /// started after `write` returned. `write` must leave nothing half-written when it fails (one batch or
    /// one transaction). An error from `write` means nothing was written and comes back at
    /// once; a flush error comes back instead of the value.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        write: impl FnOnce(&C) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.submit(write)?.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Queues `job`; its outcome arrives on the receiver: after the group's flush if it succeeded, at once
    /// if it failed.
    fn submit<T: Send + 'static>(
        &self,
        job: impl FnOnce(&C) -> Result<T> + Send + 'static,
    ) -> Result<oneshot::Receiver<Result<T>>> {
        let (answer, answered) = oneshot::channel();
        let job: Job<C> = Box::new(move |context| {
            // A panicking write (a bug in an update plan) fails that write only, not the writer.
            let outcome = catch_unwind(AssertUnwindSafe(|| job(context)))
                .unwrap_or_else(|_| Err(Error::internal("a write to the sled store panicked")));
            match outcome {
                Ok(value) => Some(
                    Box::new(move |flushed: &std::result::Result<(), sled::Error>| {
                        let outcome = match flushed {
                            Ok(()) => Ok(value),
                            Err(e) => Err(from_sled(e.clone())),
                        };
                        // A writer that stopped waiting (its request was cancelled) needs no answer.
                        let _ = answer.send(outcome);
                    }) as Committed,
                ),
                Err(e) => {
                    let _ = answer.send(Err(e));
                    None
                }
            }
        });
        let queue = self.queue.as_ref().ok_or_else(stopped)?;
        queue.send(job).map_err(|_| stopped())?;
        Ok(answered)
    }
}

/// The writer thread is gone: only a panic outside any write (in a flush) can do that, which is a bug.
fn stopped() -> Error {
    Error::internal("the sled writer thread stopped")
}

impl<C> Drop for Writer<C> {
    /// Closes the queue and waits for the thread to finish what it was given, so that the database is
    /// closed (and its directory free to open again) once the store is dropped.
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            // A panic in the thread has already failed the writes it was serving.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;

    /// What the test writes act on: a log of the writes and flushes, in the order the writer ran them.
    #[derive(Default)]
    struct Log {
        events: Mutex<Vec<String>>,
        flushes: AtomicUsize,
        /// Held by a test to keep a flush from finishing.
        gate: Mutex<()>,
    }

    impl Log {
        fn push(&self, event: String) {
            self.events.lock().unwrap().push(event);
        }
    }

    /// A writer over a shared [`Log`] whose flushes record themselves, wait for the gate, then give
    /// `outcome`.
    fn writer(outcome: std::result::Result<(), sled::Error>) -> (Writer<Arc<Log>>, Arc<Log>) {
        let log = Arc::new(Log::default());
        let writer = Writer::start(Arc::clone(&log), move |log: &Arc<Log>| {
            let n = log.flushes.fetch_add(1, Ordering::SeqCst) + 1;
            log.push(format!("flush {n}"));
            drop(log.gate.lock().unwrap_or_else(|p| p.into_inner()));
            outcome.clone()
        })
        .unwrap();
        (writer, log)
    }

    /// Writes that record themselves, then answer their number.
    fn write(n: usize) -> impl FnOnce(&Arc<Log>) -> Result<usize> + Send + 'static {
        move |log| {
            log.push(format!("write {n}"));
            Ok(n)
        }
    }

    /// One write, then twenty queued while the flush of the first is held; the answers and the log.
    async fn one_then_twenty(
        outcome: std::result::Result<(), sled::Error>,
    ) -> (Vec<Result<usize>>, Vec<String>) {
        let (writer, log) = writer(outcome);
        let held = log.gate.lock().unwrap();
        let mut waiting = vec![writer.submit(write(0)).unwrap()];
        // The writer is a thread of its own: wait for it to start the first flush.
        while log.flushes.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        waiting.extend((1..=20).map(|n| writer.submit(write(n)).unwrap()));
        drop(held);
        let mut answers = Vec::new();
        for answer in waiting {
            answers.push(answer.await.unwrap());
        }
        let events = log.events.lock().unwrap().clone();
        (answers, events)
    }

    #[tokio::test]
    async fn writes_arriving_during_a_flush_commit_together_and_share_the_next() {
        let (answers, events) = one_then_twenty(Ok(())).await;
        let values: Vec<usize> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(values, (0..=20).collect::<Vec<_>>());
        // The first write has a flush of its own; the twenty that queued meanwhile run after it, then
        // share one flush.
        assert_eq!(events[..2], ["write 0", "flush 1"]);
        assert_eq!(events.len(), 2 + 20 + 1);
        assert_eq!(events.last().map(String::as_str), Some("flush 2"));
    }

    #[tokio::test]
    async fn a_flush_error_reaches_every_write_it_covered() {
        let broken = sled::Error::Io(std::io::Error::other("disk gone"));
        let (answers, events) = one_then_twenty(Err(broken)).await;
        assert_eq!(answers.len(), 21);
        assert!(
            answers
                .iter()
                .all(|a| matches!(a, Err(Error::Unavailable { .. }))),
            "{answers:?}"
        );
        assert_eq!(events.last().map(String::as_str), Some("flush 2"));
    }

    #[tokio::test]
    async fn a_write_alone_is_flushed_at_once() {
        let (writer, log) = writer(Ok(()));
        for n in 1..=3 {
            assert_eq!(writer.write(write(n)).await.unwrap(), n);
            assert_eq!(log.flushes.load(Ordering::SeqCst), n);
        }
    }

    #[tokio::test]
    async fn failed_and_panicking_writes_are_answered_without_a_flush() {
        let (writer, log) = writer(Ok(()));
        let refused = writer
            .write(|_: &Arc<Log>| -> Result<()> { Err(Error::NotFound { what: "thing" }) })
            .await;
        assert!(matches!(refused, Err(Error::NotFound { .. })));
        let panicked = writer
            .write(|_: &Arc<Log>| -> Result<()> { panic!("a buggy plan") })
            .await;
        assert!(matches!(panicked, Err(Error::Internal { .. })));
        assert_eq!(log.flushes.load(Ordering::SeqCst), 0);
        // The writer goes on.
        assert_eq!(writer.write(write(7)).await.unwrap(), 7);
        assert_eq!(log.flushes.load(Ordering::SeqCst), 1);
    }
}
