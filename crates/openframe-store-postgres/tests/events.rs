//! The PostgreSQL event outbox under concurrency, beyond the shared conformance suite: many writers on
//! several connections and stores, readers polling while they write, and the sequencing rounds that number
//! events after their writes committed (`src/outbox.rs`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use openframe_core::schema::field;
use openframe_core::{EventKind, Repository, StoredEvent, SysId};
use openframe_store_postgres::{PostgresOptions, PostgresRepository};
use tokio::task::JoinSet;

use support::{TestSchema, bump, new_interaction, test_options};

fn options(max_connections: u32) -> PostgresOptions {
    test_options().with_max_connections(max_connections)
}

/// Every event from the start, in pages of `page`.
async fn read_all(repo: &PostgresRepository, page: usize) -> Vec<StoredEvent> {
    let mut events: Vec<StoredEvent> = Vec::new();
    loop {
        let after = events.last().map_or(0, |e| e.id);
        let got = repo.events_after(after, page).await.unwrap().events;
        if got.is_empty() {
            return events;
        }
        events.extend(got);
    }
}

async fn join_all<T: 'static>(mut tasks: JoinSet<T>) -> Vec<T> {
    let mut done = Vec::new();
    while let Some(result) = tasks.join_next().await {
        match result {
            Ok(value) => done.push(value),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    done
}

/// 64 tasks creating 20 interactions each, while 8 more update the same 4 interactions: afterwards every
/// write's event is there exactly once, with ids 1, 2, … and no hole, and each interaction's updates come
/// in the order they committed (`sys_mod_count` 1, 2, …).
#[tokio::test]
async fn concurrent_writes_each_get_one_event_in_order() {
    const CREATORS: usize = 64;
    const CREATES_EACH: usize = 20;
    const TARGETS: usize = 4;
    const UPDATERS: usize = 8;
    const UPDATES_EACH: usize = 5;
    let Some(schema) = TestSchema::new("concurrent_writes_each_get_one_event_in_order").await
    else {
        return;
    };
    let store = Arc::new(schema.connect(options(16)).await);
    let mut targets = Vec::new();
    for _ in 0..TARGETS {
        let new = new_interaction(0);
        targets.push(SysId::parse(new.interaction.sys_id()).unwrap());
        store.create_interaction(new).await.unwrap();
    }

    let mut creates = JoinSet::new();
    for _ in 0..CREATORS {
        let store = Arc::clone(&store);
        creates.spawn(async move {
            let mut created = Vec::new();
            for _ in 0..CREATES_EACH {
                let new = new_interaction(1);
                let sys_id = new.interaction.sys_id().to_owned();
                store.create_interaction(new).await.unwrap();
                created.push(sys_id);
            }
            created
        });
    }
    let mut updates = JoinSet::new();
    for i in 0..UPDATERS {
        let (store, targets) = (Arc::clone(&store), targets.clone());
        updates.spawn(async move {
            for j in 0..UPDATES_EACH {
                let target = &targets[(i + j) % TARGETS];
                store
                    .update_interaction(target, Box::new(bump))
                    .await
                    .unwrap();
            }
        });
    }
    let created: BTreeSet<String> = join_all(creates).await.into_iter().flatten().collect();
    join_all(updates).await;

    let events = read_all(&store, 100).await;
    let writes = TARGETS + CREATORS * CREATES_EACH + UPDATERS * UPDATES_EACH;
    let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    let expected: Vec<u64> = (1..=writes as u64).collect();
    assert_eq!(ids, expected, "ids 1.. with neither hole nor repeat");

    let created_events: BTreeSet<String> = events
        .iter()
        .filter(|e| e.event.kind == EventKind::Created)
        .map(|e| e.event.data.sys_id.clone())
        .filter(|sys_id| created.contains(sys_id))
        .collect();
    assert_eq!(created_events, created, "every create has its event, once");

    let mut counts: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for event in &events {
        counts
            .entry(event.event.data.sys_id.as_str())
            .or_default()
            .push(event.event.data.sys_mod_count);
    }
    let mut updated = 0;
    for target in &targets {
        let seen = &counts[target.as_str()];
        let in_order: Vec<u64> = (0..seen.len() as u64).collect();
        assert_eq!(
            seen, &in_order,
            "interaction {target}'s events follow its commits"
        );
        updated += seen.len() - 1;
        let stored = store.load_interaction(target).await.unwrap().unwrap();
        assert_eq!(
            stored.interaction.get(field::SYS_MOD_COUNT),
            (seen.len() - 1).to_string()
        );
    }
    assert_eq!(updated, UPDATERS * UPDATES_EACH);
}

/// What one reader saw, polling `events_after` from the last id it had while the writes went on.
struct Tail {
    ids: Vec<u64>,
    sys_ids: BTreeSet<String>,
}

/// Polls `repo` until `done` is set and a poll after that finds nothing new. Every page must go on exactly
/// from the id before it: an id below the reader's position showing up later would be missed by a real
/// reader, and a page that skips ids would mean it.
async fn tail(repo: Arc<PostgresRepository>, done: Arc<AtomicBool>) -> Tail {
    let mut seen = Tail {
        ids: Vec::new(),
        sys_ids: BTreeSet::new(),
    };
    loop {
        let finished = done.load(Ordering::Acquire);
        let after = seen.ids.last().copied().unwrap_or(0);
        let page = repo.events_after(after, 13).await.unwrap();
        assert!(page.horizon.head >= after, "the head never moves back");
        let empty = page.events.is_empty();
        for (offset, event) in page.events.into_iter().enumerate() {
            assert_eq!(
                event.id,
                after + 1 + offset as u64,
                "a page goes on from the reader's position without a hole"
            );
            seen.ids.push(event.id);
            seen.sys_ids.insert(event.event.data.sys_id);
        }
        if finished && empty {
            return seen;
        }
        tokio::task::yield_now().await;
    }
}

/// Two stores on one database (two servers), each with writers, and a reader on each polling all the
/// while: both readers end with every acknowledged write's event exactly once, each id once, none
/// appearing behind a reader's position — whichever server the write went through.
#[tokio::test]
async fn readers_polling_during_writes_never_miss_an_event() {
    const WRITERS_PER_STORE: usize = 12;
    const CREATES_EACH: usize = 15;
    let Some(schema) = TestSchema::new("readers_polling_during_writes_never_miss_an_event").await
    else {
        return;
    };
    let stores = [
        Arc::new(schema.connect(options(8)).await),
        Arc::new(schema.connect(options(8)).await),
    ];
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = stores
        .iter()
        .map(|store| tokio::spawn(tail(Arc::clone(store), Arc::clone(&done))))
        .collect();

    let mut writes = JoinSet::new();
    for store in &stores {
        for _ in 0..WRITERS_PER_STORE {
            let store = Arc::clone(store);
            writes.spawn(async move {
                let mut acknowledged = Vec::new();
                for _ in 0..CREATES_EACH {
                    let new = new_interaction(0);
                    let sys_id = new.interaction.sys_id().to_owned();
                    store.create_interaction(new).await.unwrap();
                    acknowledged.push(sys_id);
                }
                acknowledged
            });
        }
    }
    let acknowledged: BTreeSet<String> = join_all(writes).await.into_iter().flatten().collect();
    done.store(true, Ordering::Release);

    let total = 2 * WRITERS_PER_STORE * CREATES_EACH;
    assert_eq!(acknowledged.len(), total);
    let expected: Vec<u64> = (1..=total as u64).collect();
    for (i, reader) in readers.into_iter().enumerate() {
        let seen = match reader.await {
            Ok(seen) => seen,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        assert_eq!(seen.ids, expected, "reader {i}: every id once, in order");
        assert_eq!(
            seen.sys_ids, acknowledged,
            "reader {i}: every acknowledged write"
        );
    }
    for store in &stores {
        let all: Vec<u64> = read_all(store, 500).await.iter().map(|e| e.id).collect();
        assert_eq!(
            all, expected,
            "a read afterwards finds what the readers saw"
        );
    }
}
