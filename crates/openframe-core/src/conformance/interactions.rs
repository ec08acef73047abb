//! Creating, updating and loading interactions: one behaviour per function.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use crate::aggregate::{AggregateChange, Context, InteractionAggregate};
use crate::error::{Conflict, Error};
use crate::limits::{MAX_PHONE_LOGS_PER_INTERACTION, MAX_RELATED_RECORDS_PER_INTERACTION};
use crate::number::{FIRST_NUMBER, format_number};
use crate::record::Record;
use crate::repository::Repository;
use crate::schema::{INTERACTION, PHONE_LOG, RELATED_RECORD, Table, field};
use crate::sys_id::SysId;

use super::fixture::{
    AGENT, Fixture, Twin, UNKNOWN, assert_aggregate, assert_conflict, change_difference, ok,
    reference_body, sys_id,
};

/// A related record's `documentId` the suite uses.
const CONSUMER: &str = "59e788fbdb1b1200b6075200cf9619d2";

/// Aggregates as the service builds them from `bodies`, in a scratch reference store, with their numbers
/// cleared: what a store is handed by `create_interaction`.
async fn built_aggregates(bodies: &[Value]) -> Vec<InteractionAggregate> {
    let scratch = Fixture::reference();
    let mut built = Vec::new();
    for body in bodies {
        let created = ok("scratch create", scratch.create(body).await);
        let mut aggregate = scratch.load(&created.sys_id).await;
        aggregate.interaction.set(field::NUMBER, "");
        built.push(aggregate);
    }
    built
}

/// The reference body with `logs` phone logs and three related records.
fn body_with_logs(logs: usize) -> Value {
    let mut body = reference_body();
    body["phoneLogs"] = (0..logs)
        .map(|i| {
            json!({
                "call_id": format!("c{i:02}"),
                "call_type": if i % 2 == 0 { "INBOUND" } else { "OUTBOUND" },
                "start_time": "2024-11-04 21:45:00",
                "end_time": format!("2024-11-04 21:{:02}:00", 46 + i),
            })
        })
        .collect();
    body["relatedRecords"] = json!([
        {"documentTable": "csm_consumer", "documentId": CONSUMER},
        {"documentTable": "sys_user", "documentId": AGENT},
        {"documentTable": "customer_account", "documentId": CONSUMER},
    ]);
    body
}

fn sys_id_of(aggregate: &InteractionAggregate) -> SysId {
    sys_id(aggregate.interaction.sys_id())
}

/// `create_interaction` stores the aggregate exactly as given and assigns `IMS0001001` first;
/// `load_interaction` returns it whole — interaction, context, phone logs and related records in order.
pub async fn create_then_load(repo: &Arc<dyn Repository>) {
    let aggregate = built_aggregates(&[body_with_logs(12)]).await.remove(0);
    let sys_id = sys_id_of(&aggregate);
    let number = ok(
        "create_interaction",
        repo.create_interaction(aggregate.clone()).await,
    );
    assert_eq!(
        number, "IMS0001001",
        "the first interaction of a store is numbered IMS0001001"
    );
    let mut expected = aggregate;
    expected.interaction.set(field::NUMBER, number.as_str());
    let loaded = Fixture::new(repo).load(&sys_id).await;
    assert_aggregate(
        &loaded,
        &expected,
        "load_interaction must return exactly what create_interaction stored, plus the number",
    );
}

/// Numbers start at `IMS0001001` and go up by one per create, and the stored `number` is the one returned.
pub async fn numbers_increase_by_one(repo: &Arc<dyn Repository>) {
    let fixture = Fixture::new(repo);
    for i in 0..12 {
        let created = ok("create", fixture.create(&reference_body()).await);
        assert_eq!(
            created.number,
            format_number(FIRST_NUMBER + i),
            "create number {} of a fresh store",
            i + 1
        );
        let stored = fixture.load(&created.sys_id).await;
        assert_eq!(
            stored.interaction.get(field::NUMBER),
            created.number,
            "the stored number must be the one create_interaction returned"
        );
    }
}

/// Creating an aggregate whose sys_id is taken is a [`Conflict::SysId`] naming it that changes nothing and
/// uses up no number.
pub async fn create_with_taken_sys_id_is_conflict(repo: &Arc<dyn Repository>) {
    let built = built_aggregates(&[reference_body(), reference_body()]).await;
    let fixture = Fixture::new(repo);
    let first = ok(
        "create_interaction",
        repo.create_interaction(built[0].clone()).await,
    );
    let stored = fixture.load(&sys_id_of(&built[0])).await;

    let mut again = built[0].clone();
    again
        .interaction
        .set(field::SHORT_DESCRIPTION, "a different call");
    let result = repo.create_interaction(again).await;
    assert_conflict(
        "create_interaction with a taken sys_id",
        result,
        Conflict::SysId {
            table: INTERACTION.name,
            sys_id: built[0].interaction.sys_id().to_owned(),
        },
    );
    assert_aggregate(
        &fixture.load(&sys_id_of(&built[0])).await,
        &stored,
        "a refused create must not change the interaction that has the sys_id",
    );
    let second = ok(
        "create_interaction",
        repo.create_interaction(built[1].clone()).await,
    );
    assert_eq!(
        (first.as_str(), second.as_str()),
        ("IMS0001001", "IMS0001002"),
        "a refused create must not use up a number"
    );
}

/// `load_interaction` of a sys_id no interaction has is `Ok(None)`, on an empty store and on one with data.
pub async fn load_of_unknown_is_none(repo: &Arc<dyn Repository>) {
    let unknown = sys_id(UNKNOWN);
    let result = ok("load_interaction", repo.load_interaction(&unknown).await);
    assert!(
        result.is_none(),
        "load_interaction of an unknown sys_id on an empty store returned {result:?}"
    );
    ok("create", Fixture::new(repo).create(&reference_body()).await);
    let result = ok("load_interaction", repo.load_interaction(&unknown).await);
    assert!(
        result.is_none(),
        "load_interaction of an unknown sys_id returned {result:?}"
    );
}

/// `update_interaction` hands the plan the stored aggregate, returns the plan's change and stores exactly
/// [`AggregateChange::apply_to`] of it: the interaction row overwritten (cleared fields included), context
/// keys removed then set, phone logs replaced in place by sys_id or appended in order, related records
/// appended.
pub async fn update_applies_the_change(repo: &Arc<dyn Repository>) {
    let fixture = Fixture::new(repo);
    let id = ok("create", fixture.create(&body_with_logs(3)).await).sys_id;
    let before = fixture.load(&id).await;

    let mut interaction = before.interaction.clone();
    interaction.set(field::STATE, "on_hold");
    interaction.set(field::SHORT_DESCRIPTION, "");
    interaction.set(field::ASSIGNED_TO, "");
    interaction.set(field::WORK_NOTES, "line one\nline two");
    interaction.set(field::SYS_MOD_COUNT, "1");
    interaction.set(field::SYS_UPDATED_ON, "2024-11-04 22:00:00");

    let mut replaced = before.phone_logs[1].clone();
    replaced.set(field::END_TIME, "2024-11-04 21:59:00");
    replaced.set(field::CALL_TYPE, "");
    replaced.set(field::SYS_MOD_COUNT, "1");
    let new_log = |id_text: &str, call_id: &str| {
        let mut log = Record::new(&PHONE_LOG);
        log.set(field::SYS_ID, id_text);
        log.set(field::SYS_CREATED_ON, "2024-11-04 22:00:00");
        log.set(field::SYS_CREATED_BY, "agent");
        log.set(field::SYS_UPDATED_ON, "2024-11-04 22:00:00");
        log.set(field::SYS_UPDATED_BY, "agent");
        log.set(field::SYS_MOD_COUNT, "0");
        log.set(field::INTERACTION, id.as_str());
        log.set(field::CALL_ID, call_id);
        log
    };
    let mut related = Record::new(&RELATED_RECORD);
    related.set(field::SYS_ID, "00000000000000000000000000000003");
    related.set(field::INTERACTION, id.as_str());
    related.set(field::DOCUMENT_TABLE, "sys_user");
    related.set(field::DOCUMENT_ID, "00000000000000000000000000000004");

    let change = AggregateChange {
        interaction,
        // `devicetype` is both removed and set: apply_to removes first, so it ends set.
        context_set: Context::from([
            ("devicetype".to_owned(), "avaya".to_owned()),
            ("added".to_owned(), "x".to_owned()),
        ]),
        context_removed: BTreeSet::from([
            "devicetype".to_owned(),
            "requester_session_language".to_owned(),
        ]),
        // A log sorting before every other by sys_id, the replaced one, then one sorting last.
        phone_logs: vec![
            new_log("00000000000000000000000000000001", "new-first"),
            replaced,
            new_log("fffffffffffffffffffffffffffffff1", "new-last"),
        ],
        related_records: vec![related],
        removed: Default::default(),
    };

    let seen = Arc::new(Mutex::new(Vec::new()));
    let plan = {
        let (seen, change) = (Arc::clone(&seen), change.clone());
        move |current: &InteractionAggregate| {
            seen.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(current.clone());
            Ok(change.clone())
        }
    };
    let returned = ok(
        "update_interaction",
        repo.update_interaction(&id, Box::new(plan)).await,
    );
    if returned != change {
        panic!(
            "update_interaction must return the plan's change (got = returned, want = the plan's):\n{}",
            change_difference(&returned, &change)
        );
    }
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    match seen.last() {
        Some(given) => assert_aggregate(
            given,
            &before,
            "the plan must be run on the aggregate as stored",
        ),
        None => panic!("update_interaction returned the change without running the plan"),
    }

    let mut expected = before;
    change.apply_to(&mut expected);
    assert_aggregate(
        &fixture.load(&id).await,
        &expected,
        "the stored interaction must be the change applied as AggregateChange::apply_to does",
    );
    let calls: Vec<_> = expected
        .phone_logs
        .iter()
        .map(|l| l.get(field::CALL_ID))
        .collect();
    assert_eq!(calls, ["c00", "c01", "c02", "new-first", "new-last"]);
}

/// A create or an update that brings a phone log or related record whose sys_id another record of its
/// table has (another interaction's, or for a related record, always appended, any) is a
/// [`Conflict::SysId`] naming it, and writes nothing (a refused create may use up a number).
pub async fn taken_child_sys_ids_are_conflicts(repo: &Arc<dyn Repository>) {
    let built = built_aggregates(&[body_with_logs(2), body_with_logs(2)]).await;
    let fixture = Fixture::new(repo);
    ok(
        "create_interaction",
        repo.create_interaction(built[0].clone()).await,
    );
    let first = fixture.load(&sys_id_of(&built[0])).await;
    let taken = |table: &Table, sys_id: &str| Conflict::SysId {
        table: table.name,
        sys_id: sys_id.to_owned(),
    };

    let mut log_taken = built[1].clone();
    log_taken.phone_logs[1].set(field::SYS_ID, first.phone_logs[0].sys_id());
    assert_conflict(
        "create_interaction with another interaction's phone-log sys_id",
        repo.create_interaction(log_taken).await,
        taken(&PHONE_LOG, first.phone_logs[0].sys_id()),
    );
    let mut related_taken = built[1].clone();
    related_taken.related_records[0].set(field::SYS_ID, first.related_records[1].sys_id());
    assert_conflict(
        "create_interaction with another interaction's related-record sys_id",
        repo.create_interaction(related_taken).await,
        taken(&RELATED_RECORD, first.related_records[1].sys_id()),
    );
    let second_id = sys_id_of(&built[1]);
    assert_eq!(
        ok("load_interaction", repo.load_interaction(&second_id).await),
        None,
        "a refused create must write nothing"
    );
    // (A store may have used up a number on the refused creates: numbers are unique, not dense.)
    ok(
        "create_interaction",
        repo.create_interaction(built[1].clone()).await,
    );
    let second = fixture.load(&second_id).await;

    // Updates of the second interaction adding a child with one of the first's sys_ids.
    let with_child = |log: Option<&Record>, related: Option<&Record>| {
        let mut change = AggregateChange {
            interaction: second.interaction.clone(),
            context_set: Context::new(),
            context_removed: BTreeSet::new(),
            phone_logs: Vec::new(),
            related_records: Vec::new(),
            removed: Default::default(),
        };
        for (child, into) in [
            (log, &mut change.phone_logs),
            (related, &mut change.related_records),
        ] {
            if let Some(child) = child {
                let mut child = child.clone();
                child.set(field::INTERACTION, second_id.as_str());
                into.push(child);
            }
        }
        change
    };
    for (what, change, expected) in [
        (
            "a phone log with another interaction's log's sys_id",
            with_child(Some(&first.phone_logs[1]), None),
            taken(&PHONE_LOG, first.phone_logs[1].sys_id()),
        ),
        (
            "a related record with another interaction's record's sys_id",
            with_child(None, Some(&first.related_records[0])),
            taken(&RELATED_RECORD, first.related_records[0].sys_id()),
        ),
    ] {
        let plan = move |_: &InteractionAggregate| Ok(change.clone());
        assert_conflict(
            &format!("update_interaction adding {what}"),
            repo.update_interaction(&second_id, Box::new(plan)).await,
            expected,
        );
        for (id, before) in [(&second_id, &second), (&sys_id_of(&first), &first)] {
            assert_aggregate(
                &fixture.load(id).await,
                before,
                &format!("an update adding {what} was refused but wrote something"),
            );
        }
    }
}

/// Updating a sys_id no interaction has is `NotFound`, runs no plan and writes nothing.
pub async fn update_of_unknown_is_not_found(repo: &Arc<dyn Repository>) {
    let fixture = Fixture::new(repo);
    let id = ok("create", fixture.create(&reference_body()).await).sys_id;
    let before = fixture.load(&id).await;
    let unknown = sys_id(UNKNOWN);

    let calls = Arc::new(AtomicUsize::new(0));
    let plan = {
        let calls = Arc::clone(&calls);
        move |current: &InteractionAggregate| {
            calls.fetch_add(1, Ordering::SeqCst);
            let mut interaction = current.interaction.clone();
            interaction.set(field::WORK_NOTES, "must not be written");
            Ok(AggregateChange {
                interaction,
                context_set: Context::from([("k".to_owned(), "v".to_owned())]),
                context_removed: BTreeSet::new(),
                phone_logs: Vec::new(),
                related_records: Vec::new(),
                removed: Default::default(),
            })
        }
    };
    let result = repo.update_interaction(&unknown, Box::new(plan)).await;
    assert!(
        matches!(result, Err(Error::NotFound { .. })),
        "update_interaction of an unknown sys_id must be NotFound, got {result:?}"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "no plan may run when there is no interaction"
    );
    let after = ok("load_interaction", repo.load_interaction(&unknown).await);
    assert!(
        after.is_none(),
        "a NotFound update created something: {after:?}"
    );
    assert_aggregate(
        &fixture.load(&id).await,
        &before,
        "a NotFound update changed another interaction",
    );

    let result = fixture
        .update(&unknown, &json!({"interactionContext": {"k": "v"}}))
        .await;
    assert!(
        matches!(result, Err(Error::NotFound { .. })),
        "PATCH of an unknown sys_id must be NotFound, got {result:?}"
    );
}

/// A plan's `Invalid` comes back unchanged (field and rule) and nothing is written; the same holds for the
/// service's own rules that need the stored aggregate (end_time before start_time, too many context keys)
/// and for an unknown `inboundId`.
pub async fn rejected_update_writes_nothing(repo: &Arc<dyn Repository>) {
    let fixture = Fixture::new(repo);
    let id = ok("create", fixture.create(&reference_body()).await).sys_id;
    let before = fixture.load(&id).await;

    let (field_path, rule) = (
        "phoneLogs[0].end_time",
        "must not be before start_time 2024-11-04 21:45:00",
    );
    let result = repo
        .update_interaction(
            &id,
            Box::new(move |_| Err(Error::invalid(field_path, rule))),
        )
        .await;
    match &result {
        Err(Error::Invalid { field: f, rule: r }) if f == field_path && r == rule => {}
        other => panic!(
            "a plan's Invalid must come back as it was ({field_path}: {rule}), got {other:?}"
        ),
    }
    assert_aggregate(
        &fixture.load(&id).await,
        &before,
        "a refused plan must write nothing",
    );

    // The first entry alone would add a log; the second breaks a rule, so neither may be written.
    let body = json!({"phoneLogs": [
        {"call_id": "c-new", "call_type": "INBOUND"},
        {"call_id": "2323223", "end_time": "2024-11-04 21:40:00"}
    ]});
    let result = fixture.update(&id, &body).await;
    assert!(
        matches!(&result, Err(Error::Invalid { field, .. }) if field == "phoneLogs[1].end_time"),
        "end_time before start_time must be Invalid naming phoneLogs[1].end_time, got {result:?}"
    );
    assert_aggregate(
        &fixture.load(&id).await,
        &before,
        "a refused PATCH must write nothing",
    );

    let context = |from: usize, to: usize| -> Value {
        let keys: Map<String, Value> = (from..to).map(|i| (format!("k{i}"), json!("v"))).collect();
        json!({"interactionContext": keys})
    };
    ok(
        "PATCH 200 keys",
        fixture.update(&id, &context(0, 200)).await,
    );
    let before = fixture.load(&id).await;
    let result = fixture.update(&id, &context(150, 260)).await;
    assert!(
        matches!(&result, Err(Error::Invalid { field, .. }) if field == "interactionContext"),
        "a merge leaving 2 + 260 context keys must be Invalid naming interactionContext, got {result:?}"
    );
    assert_aggregate(
        &fixture.load(&id).await,
        &before,
        "a refused PATCH must write nothing",
    );

    let body = json!({"interaction": {"inboundId": "nobody-registered-this"}, "interactionContext": {"k0": "w"}});
    let result = fixture.update(&id, &body).await;
    assert!(
        matches!(&result, Err(Error::Invalid { field, .. }) if field == "interaction.inboundId"),
        "an unknown inboundId must be Invalid naming interaction.inboundId, got {result:?}"
    );
    assert_aggregate(
        &fixture.load(&id).await,
        &before,
        "a refused PATCH must write nothing",
    );
}

/// PATCHes through the service leave the store exactly where they leave the reference: field updates,
/// closing, context merge and removal, phone-log upsert by `call_id`, duration computed, related-record
/// dedupe, provider resolution.
pub async fn updates_match_the_reference(repo: &Arc<dyn Repository>) {
    let twin = Twin::new(repo);
    let app = super::accounts::provider_application("genesys-1", "Genesys");
    for side in [&twin.store, &twin.reference] {
        ok(
            "add_provider_application",
            side.repo().add_provider_application(&app).await,
        );
    }

    let id = twin.create(&reference_body()).await.sys_id;
    let change = twin
        .update(
            &id,
            &json!({
                "interaction": {"additionalParams": {"state": "work_in_progress", "short_description": "Transferred"}},
                "interactionContext": {"devicetype": null, "queue_name": "billing", "never_set": null},
                "phoneLogs": [
                    {"call_id": "2323223", "end_time": "2024-11-04 21:47:30"},
                    {"call_id": "44", "call_type": "OUTBOUND", "phone_number": "+14089965744"},
                    {"call_id": "44", "contact": CONSUMER}
                ],
                "relatedRecords": [
                    {"documentTable": "csm_consumer", "documentId": CONSUMER},
                    {"documentTable": "sys_user", "documentId": AGENT},
                    {"documentTable": "sys_user", "documentId": AGENT}
                ]
            }),
        )
        .await
        .unwrap_or_else(|f| panic!("PATCH failed: {f:?}"));
    assert_eq!(change.phone_logs.len(), 2, "one log updated, one created");
    assert_eq!(
        change.related_records.len(),
        1,
        "known pairs are not added twice"
    );

    let stored = twin.store.load(&id).await;
    assert_eq!(stored.phone_logs.len(), 3);
    assert_eq!(stored.phone_logs[0].get(field::DURATION), "150");
    assert_eq!(stored.phone_logs[2].get(field::CONTACT), CONSUMER);
    assert!(!stored.context.contains_key("devicetype"));
    assert_eq!(stored.related_records.len(), 2);

    twin.update(
        &id,
        &json!({"interaction": {
            "inboundId": "genesys-1",
            "callbackPhoneNumber": null,
            "additionalParams": {"state": "closed_complete", "short_description": null, "duration": 150}
        }}),
    )
    .await
    .unwrap_or_else(|f| panic!("PATCH failed: {f:?}"));
    let stored = twin.store.load(&id).await;
    let i = &stored.interaction;
    assert_eq!(i.get(field::PROVIDER_APPLICATION), app.sys_id());
    assert_eq!(i.get(field::CLOSED_BY), AGENT);
    assert!(i.is_set(field::CLOSED_AT));
    assert_eq!(i.get(field::SHORT_DESCRIPTION), "");
    assert_eq!(i.get(field::CALLER_PHONE_NUMBER), "");

    twin.update(&id, &json!({"interactionContext": {"absent": null}}))
        .await
        .unwrap_or_else(|f| panic!("PATCH failed: {f:?}"));
    assert_eq!(
        twin.store
            .load(&id)
            .await
            .interaction
            .get(field::SYS_MOD_COUNT),
        "3"
    );
}

/// Phone logs and related records come back in creation order, over more than ten of each and several
/// updates, with updated logs keeping their place (a store ordering by sys_id, by time or by a position
/// compared as text fails).
pub async fn phone_logs_keep_creation_order(repo: &Arc<dyn Repository>) {
    let twin = Twin::new(repo);
    let mut body = body_with_logs(3);
    body["relatedRecords"] = json!([{"documentTable": "t00", "documentId": CONSUMER}]);
    let id = twin.create(&body).await.sys_id;
    let mut calls: Vec<String> = (0..3).map(|i| format!("c{i:02}")).collect();
    let mut tables = vec!["t00".to_owned()];

    for round in 1..=5 {
        let mut logs =
            vec![json!({"call_id": "c01", "end_time": format!("2024-11-04 22:0{round}:00")})];
        for k in 0..3 {
            let call = format!("c{:02}", round * 3 + k);
            logs.push(json!({"call_id": call, "start_time": "2024-11-04 21:45:00"}));
            calls.push(call);
        }
        if round == 3 {
            // No call_id: always a new log.
            logs.push(json!({"call_type": "INBOUND"}));
            calls.push(String::new());
        }
        let mut related = vec![json!({"documentTable": "t00", "documentId": CONSUMER})];
        for k in 0..2 {
            let table = format!("t{:02}", round * 2 + k - 1);
            related.push(json!({"documentTable": table, "documentId": CONSUMER}));
            tables.push(table);
        }
        twin.update(&id, &json!({"phoneLogs": logs, "relatedRecords": related}))
            .await
            .unwrap_or_else(|f| panic!("PATCH round {round} failed: {f:?}"));
    }

    let stored = twin.store.load(&id).await;
    let got: Vec<&str> = stored
        .phone_logs
        .iter()
        .map(|l| l.get(field::CALL_ID))
        .collect();
    assert_eq!(got, calls, "phone logs must come back in creation order");
    let got: Vec<&str> = stored
        .related_records
        .iter()
        .map(|r| r.get(field::DOCUMENT_TABLE))
        .collect();
    assert_eq!(
        got, tables,
        "related records must come back in creation order"
    );
}

/// Awkward text — quotes, `%`, `_`, backslashes, SQL, unicode beyond the BMP, padding, line breaks,
/// 4,000-character values, keys differing only in case — is stored and returned byte for byte.
pub async fn values_round_trip_exactly(repo: &Arc<dyn Repository>) {
    let awkward = [
        "O'Brien said \"hi\"",
        "100% _under_ \\back\\slash\\",
        "%",
        "_",
        "\\",
        "'; DROP TABLE interaction; --",
        "Ünïcödé ✓ 日本語 𝄞 🙂",
        "  padded  ",
        "line\nbreak\ttab\r\n",
        "NULL",
        "null",
        "007",
    ];
    let long: String = "é𝄞x".repeat(1333) + "!";
    assert_eq!(long.chars().count(), 4000);
    let short: String = "Ünï'%_\\".repeat(23).chars().take(160).collect();

    let mut context = Map::new();
    for (i, v) in awkward.iter().enumerate() {
        context.insert(format!("v{i}"), json!(v));
    }
    for key in ["A", "a", "_", "x.y-z", &"k".repeat(100)] {
        context.insert(key.to_owned(), json!(format!("key {key}")));
    }
    context.insert("long".into(), json!(long));
    let logs: Vec<Value> = awkward.iter().map(|v| json!({"call_id": v})).collect();
    let body = json!({
        "interaction": {
            "userPhoneNumber": "+14089965744",
            "clientSessionId": long,
            "additionalParams": {"short_description": short, "work_notes": long}
        },
        "interactionContext": context,
        "phoneLogs": logs
    });

    let twin = Twin::new(repo);
    let id = twin.create(&body).await.sys_id;
    let stored = twin.store.load(&id).await;
    assert_eq!(stored.interaction.get(field::CLIENT_SESSION_ID), long);
    assert_eq!(stored.interaction.get(field::WORK_NOTES), long);
    assert_eq!(stored.interaction.get(field::SHORT_DESCRIPTION), short);
    for (i, v) in awkward.iter().enumerate() {
        assert_eq!(
            stored.context.get(&format!("v{i}")).map(String::as_str),
            Some(*v)
        );
        assert_eq!(stored.phone_logs[i].get(field::CALL_ID), *v);
    }
    assert_eq!(stored.context["A"], "key A");
    assert_eq!(stored.context["a"], "key a");

    // Updating by an awkward call_id finds the log rather than adding one; overwriting and removing
    // awkward keys works.
    let logs: Vec<Value> = awkward
        .iter()
        .map(|v| json!({"call_id": v, "call_type": "OUTBOUND"}))
        .collect();
    twin.update(
        &id,
        &json!({"phoneLogs": logs, "interactionContext": {"A": null, "a": "%\\_'", "long": long.to_uppercase()}}),
    )
    .await
    .unwrap_or_else(|f| panic!("PATCH failed: {f:?}"));
    let stored = twin.store.load(&id).await;
    assert_eq!(stored.phone_logs.len(), awkward.len());
    assert!(!stored.context.contains_key("A"));
    assert_eq!(stored.context["a"], "%\\_'");
}

/// An interaction holds at most [`MAX_PHONE_LOGS_PER_INTERACTION`] phone logs and
/// [`MAX_RELATED_RECORDS_PER_INTERACTION`] related records: an update that would leave more is `Invalid`
/// naming `phoneLogs` or `relatedRecords` and writes nothing, while one that only changes stored logs (or
/// names stored related records) passes at the cap. The store is handed one interaction one short of each
/// cap directly, so the test makes a handful of writes however large the caps are.
pub async fn children_are_capped_per_interaction(repo: &Arc<dyn Repository>) {
    // sys_ids no TestEnvironment makes (its second half is a small counter), scattered like real ones.
    let made_up = |n: usize| {
        let n = n as u64;
        sys_id(&format!(
            "{:016x}{:016x}",
            n.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            0x7000_0000_0000_0000 + n
        ))
    };
    let mut big = built_aggregates(&[reference_body()]).await.remove(0);
    let (log, related) = (big.phone_logs[0].clone(), big.related_records[0].clone());
    for i in big.phone_logs.len()..MAX_PHONE_LOGS_PER_INTERACTION - 1 {
        let mut log = log.clone();
        log.set(field::CALL_ID, format!("cap{i}"));
        big.phone_logs.push(log);
    }
    for i in big.related_records.len()..MAX_RELATED_RECORDS_PER_INTERACTION - 1 {
        let mut record = related.clone();
        record.set(field::DOCUMENT_ID, made_up(2_000_000 + i).as_str());
        big.related_records.push(record);
    }
    // Every sys_id made up, so that none is one the fixture below will make for a new record.
    let id = made_up(0);
    big.interaction.set(field::SYS_ID, id.as_str());
    for (i, child) in big
        .phone_logs
        .iter_mut()
        .chain(&mut big.related_records)
        .enumerate()
    {
        child.set(field::SYS_ID, made_up(1 + i).as_str());
        child.set(field::INTERACTION, id.as_str());
    }
    ok("create_interaction", repo.create_interaction(big).await);
    let fixture = Fixture::new(repo);

    let refused = |result: crate::error::Result<AggregateChange>,
                   field_name: &str,
                   what: &str,
                   limit: usize| match result {
        Err(Error::Invalid { field, rule })
            if field == field_name
                && rule
                    == format!(
                        "an interaction may have at most {limit} {what}; this request would leave {}",
                        limit + 1
                    ) => {}
        Ok(_) => panic!(
            "an update leaving {} {what} must be Invalid naming {field_name}, but it was written",
            limit + 1
        ),
        Err(e) => panic!(
            "an update leaving {} {what} must be Invalid naming {field_name}, got `{e}`",
            limit + 1
        ),
    };

    // Two new logs (and a context change riding along) would leave one too many: nothing is written.
    let before = fixture.load(&id).await;
    let result = fixture
        .update(
            &id,
            &json!({"interactionContext": {"k": "v"},
                    "phoneLogs": [{"call_id": "n1"}, {"call_id": "n2"}]}),
        )
        .await;
    refused(
        result,
        "phoneLogs",
        "phone logs",
        MAX_PHONE_LOGS_PER_INTERACTION,
    );
    assert_aggregate(
        &fixture.load(&id).await,
        &before,
        "an update over the phone-log cap must write nothing",
    );

    // A stored log changed and one new log named twice: exactly the cap.
    ok(
        "PATCH to the phone-log cap",
        fixture
            .update(
                &id,
                &json!({"phoneLogs": [
                    {"call_id": "2323223", "call_type": "INBOUND"},
                    {"call_id": "n1"},
                    {"call_id": "n1", "call_type": "OUTBOUND"}
                ]}),
            )
            .await,
    );
    ok(
        "PATCH of a stored log at the cap",
        fixture
            .update(
                &id,
                &json!({"phoneLogs": [{"call_id": "n1", "call_type": "INBOUND"}]}),
            )
            .await,
    );
    let before = fixture.load(&id).await;
    assert_eq!(before.phone_logs.len(), MAX_PHONE_LOGS_PER_INTERACTION);
    refused(
        fixture
            .update(&id, &json!({"phoneLogs": [{"call_id": "n2"}]}))
            .await,
        "phoneLogs",
        "phone logs",
        MAX_PHONE_LOGS_PER_INTERACTION,
    );

    // Related records: a stored pair is not counted again.
    let (x, y) = (made_up(3_000_000), made_up(3_000_001));
    refused(
        fixture
            .update(
                &id,
                &json!({"relatedRecords": [
                    {"documentTable": "t", "documentId": x.as_str()},
                    {"documentTable": "t", "documentId": y.as_str()}
                ]}),
            )
            .await,
        "relatedRecords",
        "related records",
        MAX_RELATED_RECORDS_PER_INTERACTION,
    );
    assert_aggregate(
        &fixture.load(&id).await,
        &before,
        "an update over a cap must write nothing",
    );
    ok(
        "PATCH to the related-record cap",
        fixture
            .update(
                &id,
                &json!({"relatedRecords": [
                    {"documentTable": "csm_consumer", "documentId": CONSUMER},
                    {"documentTable": "t", "documentId": x.as_str()}
                ]}),
            )
            .await,
    );
    let before = fixture.load(&id).await;
    assert_eq!(
        before.related_records.len(),
        MAX_RELATED_RECORDS_PER_INTERACTION
    );
    refused(
        fixture
            .update(
                &id,
                &json!({"relatedRecords": [{"documentTable": "t", "documentId": y.as_str()}]}),
            )
            .await,
        "relatedRecords",
        "related records",
        MAX_RELATED_RECORDS_PER_INTERACTION,
    );
    assert_aggregate(
        &fixture.load(&id).await,
        &before,
        "an update over a cap must write nothing",
    );
}
