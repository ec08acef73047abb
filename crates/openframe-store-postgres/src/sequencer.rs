//! When the outbox's events get their ids (`outbox.rs` says how): before every read of the outbox
//! ([`openframe_core::Repository::events_after`]), a sequencing round numbers what has committed.
//!
//! Why there: every reader that must see an event goes through `events_after` — the pump of each server
//! (woken by the server's own commits, and polling for the other servers' ones), a stream client catching up,
//! and the conformance suite, which reads right after its writes — so an event is numbered by the first read
//! that could want it, on whichever server. A separate step run by the pump alone would leave a lagging
//! client, or a store used without a pump, reading a stale head.
//!
//! Why rounds are shared: one read may not skip a round because another is in progress (that round may have
//! taken its snapshot before the reader's own write committed, and the pump would then broadcast the event a
//! poll later, 500 ms), but a hundred readers at once must not run a hundred rounds one after the other
//! either. So the readers of one store share rounds: a reader runs a round unless a round that *began* after
//! it arrived has since committed (which saw everything the reader could ask for), and waits for the one in
//! progress, if any, without a connection. However many call at once, each waits for at most the round in
//! progress and one more, shared by all of them. Rounds of different servers queue on the counter's lock in
//! the database, at most one per server. When nothing is pending — an idle server polling — a read costs
//! one extra statement (`EXISTS` on the pending table) and no round, so no commit.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use openframe_core::Result;
use sqlx::PgPool;
use tokio::sync::Mutex;

use crate::outbox;

/// The rounds of one store.
#[derive(Debug, Default)]
pub(crate) struct Sequencer {
    /// Tickets: how many rounds this store has begun.
    begun: AtomicU64,
    /// Held while a round runs; holds the ticket of the latest round that committed (0: none yet).
    committed: Mutex<u64>,
}

impl Sequencer {
    /// Makes sure every event committed before this call has its id.
    pub(crate) async fn number_committed(&self, pool: &PgPool) -> Result<()> {
        if !outbox::any_pending(pool).await? {
            // Every event committed so far was numbered by a round that has committed.
            return Ok(());
        }
        self.run_or_join(|| async { outbox::sequence(pool).await.map(|_| ()) })
            .await
    }

    /// Runs `round` unless a round that began after this call was made has committed by the time it is
    /// this call's turn. A round that fails or is cancelled covers nobody.
    async fn run_or_join<F, R>(&self, round: F) -> Result<()>
    where
        F: FnOnce() -> R,
        R: Future<Output = Result<()>>,
    {
        let arrived = self.begun.load(Ordering::SeqCst);
        let mut committed = self.committed.lock().await;
        if *committed > arrived {
            return Ok(());
        }
        let ticket = self.begun.fetch_add(1, Ordering::SeqCst) + 1;
        round().await?;
        *committed = ticket;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use openframe_core::Error;
    use tokio::sync::oneshot;

    use super::*;

    /// A round that counts itself.
    async fn counted(rounds: &AtomicUsize) -> Result<()> {
        rounds.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    #[tokio::test]
    async fn calls_one_after_the_other_each_run_a_round() {
        let sequencer = Sequencer::default();
        let rounds = AtomicUsize::new(0);
        for _ in 0..3 {
            sequencer.run_or_join(|| counted(&rounds)).await.ok();
        }
        assert_eq!(rounds.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn callers_that_arrive_during_a_round_share_the_next_one() {
        let sequencer = Arc::new(Sequencer::default());
        let rounds = Arc::new(AtomicUsize::new(0));
        let (release, held) = oneshot::channel::<()>();
        let (started, running) = oneshot::channel::<()>();
        let first = {
            let (sequencer, rounds) = (Arc::clone(&sequencer), Arc::clone(&rounds));
            tokio::spawn(async move {
                sequencer
                    .run_or_join(|| async move {
                        rounds.fetch_add(1, Ordering::SeqCst);
                        let _ = started.send(());
                        let _ = held.await;
                        Ok(())
                    })
                    .await
            })
        };
        running.await.ok();
        // These arrive while the first round runs: it may have missed what they want, so one more round
        // runs after it, and only one.
        let waiting: Vec<_> = (0..8)
            .map(|_| {
                let (sequencer, rounds) = (Arc::clone(&sequencer), Arc::clone(&rounds));
                tokio::spawn(async move { sequencer.run_or_join(|| counted(&rounds)).await })
            })
            .collect();
        // The test runs on one thread: yielding lets every waiter run up to the lock, where it waits.
        for _ in 0..16 {
            tokio::task::yield_now().await;
        }
        let _ = release.send(());
        assert!(matches!(first.await, Ok(Ok(()))));
        for task in waiting {
            assert!(matches!(task.await, Ok(Ok(()))));
        }
        assert_eq!(rounds.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_or_cancelled_round_covers_nobody() {
        let sequencer = Sequencer::default();
        let rounds = AtomicUsize::new(0);
        let failed = sequencer
            .run_or_join(|| async { Err(Error::internal("the database went away")) })
            .await;
        assert!(failed.is_err());
        // Polled once, up to its round's first wait, then dropped.
        tokio::select! {
            biased;
            _ = sequencer.run_or_join(std::future::pending::<Result<()>>) => panic!("a pending round ended"),
            () = std::future::ready(()) => {}
        }
        sequencer.run_or_join(|| counted(&rounds)).await.ok();
        assert_eq!(
            rounds.load(Ordering::SeqCst),
            1,
            "the next caller runs its own round"
        );
    }
}
