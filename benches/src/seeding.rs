//! Filling a store with many interactions quickly: concurrent creates through the service, each with a
//! `clientSessionId` of its own, until a count is reached or a time budget runs out.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use openframe_core::{Service, SysId, VoiceInteractionRequest};

use crate::bodies::{caller, create_request_in_session, session_id};

/// How many creates run at once while seeding: enough to keep a pooled or group-committing store busy.
pub const SEED_CONCURRENCY: usize = 64;

/// The interactions seeded so far: indexes `0..len()`, each made exactly once (a task checks the budget
/// before it takes an index, never after).
#[derive(Debug, Default)]
pub struct Seeded {
    /// `(index, sys_id)` of each, in no particular order: its `clientSessionId` is [`session_id`]`(index)`.
    pub sessions: Vec<(usize, SysId)>,
}

impl Seeded {
    /// How many interactions were seeded.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

/// Creates interactions `seeded.len()..target` on `service` from `template`, [`SEED_CONCURRENCY`] at a
/// time, stopping early when `budget` runs out; appends them to `seeded`. Panics on a failed create: a bench
/// on a store that cannot create means nothing.
pub async fn seed(
    service: &Service,
    template: &VoiceInteractionRequest,
    seeded: &mut Seeded,
    target: usize,
    budget: Duration,
) {
    let deadline = Instant::now() + budget;
    let next = Arc::new(AtomicUsize::new(seeded.len()));
    let mut tasks = Vec::with_capacity(SEED_CONCURRENCY);
    for _ in 0..SEED_CONCURRENCY {
        let (service, template, next) = (service.clone(), template.clone(), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let caller = caller();
            let mut made = Vec::new();
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= target {
                    break;
                }
                let req = create_request_in_session(&template, &session_id(i));
                let created = service
                    .create(&caller, req)
                    .await
                    .unwrap_or_else(|e| panic!("seeding create {i} failed: {e}: {e:?}"));
                made.push((i, created.sys_id));
            }
            made
        }));
    }
    for task in tasks {
        let made = task.await.expect("a seeding task panicked");
        seeded.sessions.extend(made);
    }
}
