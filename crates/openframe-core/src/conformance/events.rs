//! The event outbox: one event per committed create or update, ids in commit order, none for a write that
//! failed, pruning that moves the horizon.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use crate::event::{EventKind, StoredEvent, children};
use crate::repository::Repository;
use crate::schema::field;

use super::fixture::{AGENT, Fixture, UNKNOWN, ok, reference_body, sys_id};

/// Every event after `after`, read in pages of `page`.
async fn all_after(repo: &Arc<dyn Repository>, after: u64, page: usize) -> Vec<StoredEvent> {
    let mut events: Vec<StoredEvent> = Vec::new();
    let mut last = after;
    loop {
        let got = ok("events_after", repo.events_after(last, page).await).events;
        assert!(
            got.len() <= page,
            "events_after returned more than its limit"
        );
        let Some(tail) = got.last() else {
            return events;
        };
        last = tail.id;
        events.extend(got);
    }
}

fn assert_increasing(events: &[StoredEvent]) {
    for pair in events.windows(2) {
        assert!(
            pair[0].id < pair[1].id,
            "event ids must increase along the outbox: {} then {}",
            pair[0].id,
            pair[1].id
        );
    }
}

/// A create, two updates, a second create: four events in that order, carrying what changed; a rejected
/// update and an update of an unknown interaction add none. Pages honour `after` and `limit`.
pub async fn events_follow_every_write(repo: &Arc<dyn Repository>) {
    let fixture = Fixture::new(repo);
    let empty = ok("events_after", repo.events_after(0, 10).await);
    assert!(empty.events.is_empty(), "a fresh store has no events");
    assert_eq!(empty.horizon.head, 0, "a fresh store's head is 0");

    let a = ok("create", fixture.create(&reference_body()).await);
    let a_id = sys_id(a.sys_id.as_str());
    ok(
        "update",
        fixture
            .update(
                &a_id,
                &json!({"interaction": {"additionalParams": {"state": "work_in_progress"}}}),
            )
            .await,
    );
    let rejected = fixture
        .update(&a_id, &json!({"interaction": {"userPhoneNumber": "nope"}}))
        .await;
    assert!(rejected.is_err(), "an invalid update must fail");
    assert!(
        fixture
            .update(
                &sys_id(UNKNOWN),
                &json!({"interaction": {"additionalParams": {"state": "new"}}})
            )
            .await
            .is_err()
    );
    ok(
        "update",
        fixture
            .update(
                &a_id,
                &json!({"interactionContext": {"devicetype": "webrtc"},
                        "phoneLogs": [{"call_id": "2323223", "duration": "60"}]}),
            )
            .await,
    );
    let b = ok(
        "create",
        fixture
            .create(&json!({"interaction": {"userPhoneNumber": "+14089965744"}}))
            .await,
    );

    let events = all_after(repo, 0, 100).await;
    assert_eq!(
        events.len(),
        4,
        "one event per successful write: {events:?}"
    );
    assert_increasing(&events);
    let page = ok("events_after", repo.events_after(0, 100).await);
    assert_eq!(
        page.horizon.head, events[3].id,
        "the head is the latest event"
    );

    let kinds: Vec<EventKind> = events.iter().map(|e| e.event.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Created,
            EventKind::Updated,
            EventKind::Updated,
            EventKind::Created
        ]
    );
    let created = &events[0].event.data;
    assert_eq!(created.sys_id, a.sys_id.as_str());
    assert_eq!(created.number, a.number);
    assert_eq!(created.sys_mod_count, 0);
    assert_eq!(created.assigned_to, AGENT);
    assert_eq!(
        created.changes.get(field::NUMBER).map(String::as_str),
        Some(a.number.as_str())
    );
    assert_eq!(
        created
            .changes
            .get(field::SHORT_DESCRIPTION)
            .map(String::as_str),
        Some("New outbound call")
    );
    assert!(
        !created.changes.contains_key(field::CLOSED_AT),
        "empty fields are left out of a create"
    );
    assert_eq!(
        created.children,
        [
            children::PHONE_LOGS,
            children::RELATED_RECORDS,
            children::CONTEXT
        ]
    );

    let first_update = &events[1].event.data;
    assert_eq!(first_update.sys_mod_count, 1);
    assert_eq!(first_update.number, a.number);
    assert_eq!(
        first_update.changes.get(field::STATE).map(String::as_str),
        Some("work_in_progress")
    );
    assert!(
        !first_update.changes.contains_key(field::SHORT_DESCRIPTION),
        "unchanged fields are left out"
    );
    assert!(first_update.children.is_empty());

    let second_update = &events[2].event.data;
    assert_eq!(second_update.sys_mod_count, 2);
    assert_eq!(
        second_update.children,
        [children::PHONE_LOGS, children::CONTEXT]
    );

    assert_eq!(events[3].event.data.sys_id, b.sys_id.as_str());
    assert_eq!(events[3].event.data.number, b.number);
    assert_eq!(events[3].event.data.assigned_to, "");

    let middle = ok("events_after", repo.events_after(events[0].id, 2).await).events;
    assert_eq!(
        middle.iter().map(|e| e.id).collect::<Vec<_>>(),
        [events[1].id, events[2].id],
        "events_after(after, limit) starts after `after` and stops at `limit`"
    );
    let horizon = ok("events_after", repo.events_after(events[3].id, 0).await);
    assert!(
        horizon.events.is_empty(),
        "limit 0 asks for the horizon only"
    );
    assert_eq!(horizon.horizon.head, events[3].id);
}

/// Concurrent updates of one interaction and concurrent creates, with a reader tailing the outbox all the
/// while: the reader ends with exactly the events a read after the writes finds (none skipped because it
/// became visible after a later one), and one interaction's events come in `sys_mod_count` order.
pub async fn events_are_in_commit_order_under_concurrency(repo: &Arc<dyn Repository>) {
    const WRITERS: usize = 16;
    const UPDATES_EACH: usize = 3;
    let fixture = Fixture::new(repo);
    let target = ok("create", fixture.create(&reference_body()).await);
    let target_id = sys_id(target.sys_id.as_str());

    let done = Arc::new(AtomicBool::new(false));
    let tail = {
        let (repo, done) = (Arc::clone(repo), Arc::clone(&done));
        tokio::spawn(async move {
            let mut seen: Vec<StoredEvent> = Vec::new();
            loop {
                let finished = done.load(Ordering::Acquire);
                let after = seen.last().map_or(0, |e| e.id);
                let page = ok("events_after", repo.events_after(after, 7).await);
                let empty = page.events.is_empty();
                seen.extend(page.events);
                if finished && empty {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };

    let writers: Vec<_> = (0..WRITERS)
        .map(|i| {
            let (fixture, target_id) = (fixture.clone(), target_id.clone());
            tokio::spawn(async move {
                for j in 0..UPDATES_EACH {
                    let work_notes = format!("writer {i} update {j}");
                    ok(
                        "update",
                        fixture
                            .update(&target_id, &json!({"interaction": {"additionalParams": {"work_notes": work_notes}}}))
                            .await,
                    );
                    let body = json!({"interaction": {"userPhoneNumber": "+14089965744",
                                                      "clientSessionId": format!("c-{i}-{j}")}});
                    ok("create", fixture.create(&body).await);
                }
            })
        })
        .collect();
    for writer in writers {
        if let Err(e) = writer.await {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    done.store(true, Ordering::Release);
    let tailed = match tail.await {
        Ok(seen) => seen,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };

    let all = all_after(repo, 0, 1000).await;
    let writes = 1 + WRITERS * UPDATES_EACH * 2;
    assert_eq!(all.len(), writes, "one event per write");
    assert_increasing(&all);
    let tailed_ids: Vec<u64> = tailed.iter().map(|e| e.id).collect();
    let all_ids: Vec<u64> = all.iter().map(|e| e.id).collect();
    assert_eq!(
        tailed_ids, all_ids,
        "a reader tailing the outbox during the writes must see every event, in order"
    );
    let counts: Vec<u64> = all
        .iter()
        .filter(|e| e.event.data.sys_id == target.sys_id.as_str())
        .map(|e| e.event.data.sys_mod_count)
        .collect();
    let expected: Vec<u64> = (0..=(WRITERS * UPDATES_EACH) as u64).collect();
    assert_eq!(
        counts, expected,
        "one interaction's events come in commit order"
    );
    let numbers: BTreeSet<&str> = all
        .iter()
        .filter(|e| e.event.kind == EventKind::Created)
        .map(|e| e.event.data.number.as_str())
        .collect();
    assert_eq!(
        numbers.len(),
        1 + WRITERS * UPDATES_EACH,
        "every create has its event"
    );
}

/// Pruning keeps the latest events, says how far it went in the horizon, and never reuses an id.
pub async fn pruning_moves_the_horizon(repo: &Arc<dyn Repository>) {
    let fixture = Fixture::new(repo);
    for i in 0..5 {
        let body = json!({"interaction": {"userPhoneNumber": "+14089965744", "clientSessionId": format!("p-{i}")}});
        ok("create", fixture.create(&body).await);
    }
    let before = all_after(repo, 0, 100).await;
    assert_eq!(before.len(), 5);
    ok("prune_events", repo.prune_events(2).await);
    let page = ok("events_after", repo.events_after(0, 100).await);
    let kept: Vec<u64> = page.events.iter().map(|e| e.id).collect();
    assert_eq!(
        kept,
        [before[3].id, before[4].id],
        "pruning keeps the latest events"
    );
    assert_eq!(page.horizon.pruned_through, before[2].id);
    assert_eq!(page.horizon.head, before[4].id);
    assert!(!page.horizon.can_resume_after(before[1].id));
    assert!(page.horizon.can_resume_after(before[2].id));

    ok("prune_events", repo.prune_events(100).await);
    let again = ok("events_after", repo.events_after(0, 100).await);
    assert_eq!(
        again.horizon.pruned_through, before[2].id,
        "pruning never moves back"
    );
    assert_eq!(again.events.len(), 2);

    ok("prune_events", repo.prune_events(0).await);
    ok(
        "create",
        fixture
            .create(&json!({"interaction": {"userPhoneNumber": "+14089965744"}}))
            .await,
    );
    let after = ok("events_after", repo.events_after(0, 100).await);
    assert_eq!(after.events.len(), 1);
    assert!(
        after.events[0].id > before[4].id,
        "an id is never reused, even after every event was pruned"
    );
    assert_eq!(after.horizon.pruned_through, before[4].id);
}
