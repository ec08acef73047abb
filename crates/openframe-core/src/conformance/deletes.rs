//! Deletes (Table API `DELETE`): an interaction with everything under it, or one child through its parent.

use std::sync::Arc;

use serde_json::json;

use crate::error::Error;
use crate::event::{EventKind, children};
use crate::query::TableQuery;
use crate::record::Record;
use crate::repository::Repository;
use crate::schema::{INTERACTION, PHONE_LOG, RELATED_RECORD, Table, field};
use crate::sys_id::SysId;

use super::fixture::{Fixture, Twin, assert_aggregate, ok, reference_body, sys_id};

/// Every record of `table` whose `name` is `value`, through the Table API query.
async fn query(
    repo: &Arc<dyn Repository>,
    table: &'static Table,
    name: &str,
    value: &str,
) -> Vec<Record> {
    let query = ok(
        "parse query",
        TableQuery::parse(table, Some(&format!("{name}={value}")), None, None),
    );
    ok("query_records", repo.query_records(&query).await).records
}

#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(what: &str, result: crate::Result<T>) {
    match result {
        Err(Error::NotFound { .. }) => {}
        other => panic!("{what}: expected NotFound, got {other:?}"),
    }
}

/// `delete_interaction` removes the interaction, its context, phone logs and related records — from
/// `load_interaction`, `read_record` and queries — returns what it removed, leaves other interactions as
/// they were, writes one `interaction.deleted` event, and never gives the number again (not even when the
/// deleted interaction was the latest). A second delete, or an update of the deleted one, is `NotFound`.
pub async fn delete_takes_everything_under_the_interaction(repo: &Arc<dyn Repository>) {
    let fixture = Fixture::new(repo);
    let kept = ok("create", fixture.create(&reference_body()).await);
    let gone = ok("create", fixture.create(&reference_body()).await);
    let (kept_id, gone_id) = (sys_id(kept.sys_id.as_str()), sys_id(gone.sys_id.as_str()));
    let kept_before = fixture.load(&kept_id).await;
    let before = fixture.load(&gone_id).await;
    let head = ok("events_after", repo.events_after(0, 0).await)
        .horizon
        .head;

    let deleted = ok(
        "delete_interaction",
        repo.delete_interaction(&gone_id).await,
    );
    assert_aggregate(
        &deleted,
        &before,
        "delete_interaction must return the interaction as it was, whole",
    );
    assert!(
        ok("load_interaction", repo.load_interaction(&gone_id).await).is_none(),
        "a deleted interaction must not load"
    );
    assert!(
        ok(
            "read_record",
            repo.read_record(&INTERACTION, &gone_id).await
        )
        .is_none(),
        "a deleted interaction must not be read"
    );
    for child in before.phone_logs.iter().chain(&before.related_records) {
        let id = sys_id(child.sys_id());
        assert!(
            ok("read_record", repo.read_record(child.table(), &id).await).is_none(),
            "{} {} of a deleted interaction must be gone",
            child.table().name,
            child.sys_id()
        );
    }
    for table in [&PHONE_LOG, &RELATED_RECORD] {
        let left = query(repo, table, field::INTERACTION, gone_id.as_str()).await;
        assert!(
            left.is_empty(),
            "{} of a deleted interaction still answer a query: {left:?}",
            table.name
        );
    }
    assert!(
        query(repo, &INTERACTION, field::NUMBER, &gone.number)
            .await
            .is_empty()
    );
    let sessions = query(repo, &INTERACTION, field::CLIENT_SESSION_ID, "a545t65678").await;
    assert_eq!(
        sessions.iter().map(Record::sys_id).collect::<Vec<_>>(),
        [kept_id.as_str()],
        "only the kept interaction has the session id"
    );
    assert_aggregate(
        &fixture.load(&kept_id).await,
        &kept_before,
        "deleting one interaction changed another",
    );

    let page = ok("events_after", repo.events_after(head, 10).await);
    assert_eq!(
        page.events.len(),
        1,
        "one event per delete: {:?}",
        page.events
    );
    let event = &page.events[0].event;
    assert_eq!(event.kind, EventKind::Deleted);
    assert_eq!(event.data.sys_id, gone_id.as_str());
    assert_eq!(event.data.number, gone.number);
    assert_eq!(
        event.data.children,
        [
            children::PHONE_LOGS,
            children::RELATED_RECORDS,
            children::CONTEXT
        ],
        "the event names the collections deleted with the interaction"
    );

    assert_not_found("a second delete", repo.delete_interaction(&gone_id).await);
    assert_not_found(
        "an update of a deleted interaction",
        fixture
            .update(
                &gone_id,
                &json!({"interaction": {"additionalParams": {"state": "queued"}}}),
            )
            .await,
    );
    let after = ok(
        "events_after",
        repo.events_after(page.horizon.head, 10).await,
    );
    assert!(after.events.is_empty(), "a failed delete writes no event");

    let next = ok("create", fixture.create(&reference_body()).await);
    assert_eq!(
        next.number, "IMS0001003",
        "the number of a deleted interaction (IMS0001002, the latest) is never given again"
    );
}

/// Deleting one phone log or related record (Table API `DELETE` through the parent's update) removes that
/// record only: its siblings keep their values and order, `read_record` and queries find them (and not it),
/// the parent is stamped as any update stamps it, and the store agrees with the reference throughout. A
/// second delete of the same child is `NotFound`.
pub async fn deleting_a_child_leaves_its_siblings(repo: &Arc<dyn Repository>) {
    let twin = Twin::new(repo);
    let mut body = reference_body();
    body["phoneLogs"] = (0..6)
        .map(|i| json!({"call_id": format!("call-{i}"), "start_time": "2024-11-04 21:45:00"}))
        .collect();
    body["relatedRecords"] = json!([
        {"documentTable": "csm_consumer", "documentId": "59e788fbdb1b1200b6075200cf9619d2"},
        {"documentTable": "sys_user", "documentId": "a8f98bb0eb32010045e1a5115206fe3a"},
        {"documentTable": "customer_account", "documentId": "59e788fbdb1b1200b6075200cf9619d2"},
    ]);
    let created = twin.create(&body).await;
    let id = sys_id(created.sys_id.as_str());
    let other = twin.create(&reference_body()).await;
    let other_before = twin.store.load(&sys_id(other.sys_id.as_str())).await;
    let before = twin.store.load(&id).await;

    // The first, a middle and the last log, then the middle related record: each leaves the rest in place.
    let removals: Vec<(&'static Table, SysId)> = [1, 0, 3]
        .iter()
        .map(|&i| (&PHONE_LOG, sys_id(before.phone_logs[i].sys_id())))
        .chain([(&RELATED_RECORD, sys_id(before.related_records[1].sys_id()))])
        .collect();
    for (table, child) in &removals {
        let expected = twin.reference.delete(table, child).await;
        let got = twin.store.delete(table, child).await;
        ok(&format!("delete {} {child}", table.name), got);
        ok("reference delete", expected);
        twin.assert_same(&id).await;
        assert_not_found(
            "a second delete of the child",
            twin.store.delete(table, child).await,
        );
    }

    let after = twin.store.load(&id).await;
    let removed: Vec<&str> = removals.iter().map(|(_, c)| c.as_str()).collect();
    let kept_logs: Vec<&Record> = before
        .phone_logs
        .iter()
        .filter(|l| !removed.contains(&l.sys_id()))
        .collect();
    assert_eq!(
        after.phone_logs.iter().collect::<Vec<_>>(),
        kept_logs,
        "the other phone logs keep their values and order"
    );
    assert_eq!(after.related_records.len(), 2);
    assert_eq!(
        after.interaction.get(field::SYS_MOD_COUNT),
        "4",
        "each child delete is an update of the parent"
    );
    for log in &after.phone_logs {
        let found = ok(
            "read_record",
            repo.read_record(&PHONE_LOG, &sys_id(log.sys_id())).await,
        );
        assert_eq!(found.as_ref(), Some(log), "a sibling reads back by sys_id");
    }
    for child in &removed {
        for table in [&PHONE_LOG, &RELATED_RECORD] {
            assert!(
                ok("read_record", repo.read_record(table, &sys_id(child)).await).is_none(),
                "a deleted child must not be read"
            );
        }
    }
    let sorted = |records: &[Record]| -> Vec<String> {
        let mut ids: Vec<String> = records.iter().map(|r| r.sys_id().to_owned()).collect();
        ids.sort();
        ids
    };
    let queried = query(repo, &PHONE_LOG, field::INTERACTION, id.as_str()).await;
    assert_eq!(
        sorted(&queried),
        sorted(&after.phone_logs),
        "a query by interaction finds the siblings and only them"
    );
    assert_aggregate(
        &twin.store.load(&sys_id(other.sys_id.as_str())).await,
        &other_before,
        "deleting a child changed another interaction",
    );

    // A log added after the removals gets the next place, and is found.
    let change = twin
        .update(&id, &json!({"phoneLogs": [{"call_id": "call-new"}]}))
        .await;
    let added = sys_id(
        ok(
            "update",
            change.map_err(|f| Error::internal(format!("{f:?}"))),
        )
        .phone_logs[0]
            .sys_id(),
    );
    let found = ok("read_record", repo.read_record(&PHONE_LOG, &added).await);
    assert_eq!(
        found.map(|r| r.get(field::CALL_ID).to_owned()).as_deref(),
        Some("call-new")
    );
}
