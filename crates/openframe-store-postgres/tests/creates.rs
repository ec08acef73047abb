//! Creates under concurrency, through the store's batches (`src/create_batch.rs`; its unit tests force
//! given creates into one batch): whatever batches they fall into, every create is written whole, numbered
//! once, and has its event once.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use openframe_core::schema::field;
use openframe_core::{EventKind, InteractionEvent, Repository, SysId};
use tokio::task::JoinSet;

use support::{TestSchema, new_interaction, test_options};

/// 200 creates at once: numbers 1001..=1200, each interaction readable as it was given, and one created
/// event each, the event of the interaction as stored, with ids 1..=200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_creates_are_each_written_whole_with_one_event() {
    const CREATES: usize = 200;
    let Some(schema) = TestSchema::new("many_concurrent_creates_are_each_written_whole").await
    else {
        return;
    };
    let options = test_options().with_max_connections(8);
    let store = Arc::new(schema.connect(options).await);
    let mut creates = JoinSet::new();
    for i in 0..CREATES {
        let store = Arc::clone(&store);
        // Some with no phone log, some with several.
        let new = new_interaction(i % 4);
        creates.spawn(async move {
            let number = store.create_interaction(new.clone()).await;
            (new, number)
        });
    }
    let mut created = BTreeMap::new();
    while let Some(done) = creates.join_next().await {
        let (new, number) = done.expect("create task");
        let number = number.expect("create");
        assert!(
            created.insert(number.clone(), new).is_none(),
            "{number} handed out twice"
        );
    }
    let expected: Vec<String> = (1001..1001 + CREATES as u64)
        .map(openframe_core::number::format_number)
        .collect();
    assert_eq!(created.keys().cloned().collect::<Vec<_>>(), expected);

    for (number, new) in &created {
        let sys_id = SysId::parse(new.interaction.sys_id()).expect("sys_id");
        let mut stored = new.clone();
        stored.interaction.set(field::NUMBER, number);
        assert_eq!(
            store.load_interaction(&sys_id).await.unwrap(),
            Some(stored),
            "{number}"
        );
    }

    let page = store.events_after(0, 1000).await.unwrap();
    let ids: Vec<u64> = page.events.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=CREATES as u64).collect::<Vec<_>>());
    let mut seen = BTreeSet::new();
    for stored in &page.events {
        assert_eq!(stored.event.kind, EventKind::Created);
        let data = &stored.event.data;
        assert!(seen.insert(data.number.clone()), "{} twice", data.number);
        let new = &created[&data.number];
        assert_eq!(data.sys_id, new.interaction.sys_id());
        let mut numbered = new.clone();
        numbered.interaction.set(field::NUMBER, &data.number);
        assert_eq!(stored.event, InteractionEvent::created(&numbered));
    }
    assert_eq!(seen.len(), CREATES);
    assert_eq!(page.horizon.head, CREATES as u64);
}
