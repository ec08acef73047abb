//! Behaviour of the sled store beyond the shared conformance suite: persistence across reopening, numbering
//! under concurrency, aborted plans and the on-disk order of children.

use std::sync::Arc;

use openframe_core::schema::{PHONE_LOG, RELATED_RECORD, field};
use openframe_core::user::new_provider_application;
use openframe_core::{
    Caller, DateTime, Error, InteractionAggregate, Mode, Record, Repository, Service, SysId, User,
    VoiceInteractionRequest,
};
use openframe_store_sled::SledRepository;
use serde_json::{Value, json};

fn caller() -> Caller {
    Caller {
        sys_id: SysId::random(),
        user_name: "agent".into(),
    }
}

fn request(body: Value, mode: Mode) -> VoiceInteractionRequest {
    VoiceInteractionRequest::parse(&body, mode).expect("a valid request")
}

fn user(name: &str) -> User {
    User {
        sys_id: SysId::random(),
        user_name: name.into(),
        name: String::new(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        roles: vec!["sn_openframe_api_user".into()],
    }
}

fn phone_logs(range: std::ops::Range<usize>) -> Value {
    range
        .map(|i| json!({"call_id": format!("call-{i:02}"), "call_type": "INBOUND"}))
        .collect()
}

fn call_ids(aggregate: &InteractionAggregate) -> Vec<String> {
    aggregate
        .phone_logs
        .iter()
        .map(|l| l.get(field::CALL_ID).to_owned())
        .collect()
}

#[tokio::test]
async fn everything_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let (created, written) = {
        let repo: Arc<dyn Repository> = Arc::new(SledRepository::open(dir.path()).unwrap());
        let app = new_provider_application(
            SysId::random(),
            "gen-1",
            "Genesys",
            "admin",
            DateTime::from_unix(0),
        )
        .unwrap();
        repo.add_provider_application(&app).await.unwrap();
        repo.add_user(&user("jane")).await.unwrap();
        let service = Service::new(Arc::clone(&repo));
        let created = service
            .create(
                &caller(),
                request(
                    json!({
                        "interaction": {"userPhoneNumber": "+14089965744", "clientSessionId": "s-1",
                                        "inboundId": "gen-1"},
                        "interactionContext": {"queue": "billing"},
                        "phoneLogs": phone_logs(0..2),
                        "relatedRecords": [{"documentTable": "incident",
                                            "documentId": "0123456789abcdef0123456789abcdef"}],
                    }),
                    Mode::Create,
                ),
            )
            .await
            .unwrap();
        let written = service.read(&created.sys_id).await.unwrap();
        (created, written)
    };

    let repo: Arc<dyn Repository> = Arc::new(SledRepository::open(dir.path()).unwrap());
    let read = repo.load_interaction(&created.sys_id).await.unwrap();
    assert_eq!(read.as_ref(), Some(&written));
    assert_eq!(written.interaction.get(field::NUMBER), "IMS0001001");
    assert_eq!(written.phone_logs.len(), 2);
    assert_eq!(written.related_records.len(), 1);
    assert!(repo.has_users().await.unwrap());
    assert_eq!(
        repo.find_user("jane").await.unwrap().unwrap().user_name,
        "jane"
    );
    let app = repo.find_provider_application("gen-1").await.unwrap();
    assert_eq!(app.unwrap().get(field::NAME), "Genesys");

    // The number counter is durable too: numbering goes on where it stopped.
    let next = Service::new(repo)
        .create(
            &caller(),
            request(
                json!({"interaction": {"userPhoneNumber": "+14089965744"}}),
                Mode::Create,
            ),
        )
        .await
        .unwrap();
    assert_eq!(next.number, "IMS0001002");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_get_distinct_increasing_numbers() {
    let service = Service::new(Arc::new(SledRepository::temporary().unwrap()));
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let service = service.clone();
            tokio::spawn(async move {
                service
                    .create(
                        &caller(),
                        request(
                            json!({"interaction": {"userPhoneNumber": "+14089965744"},
                                   "phoneLogs": phone_logs(0..2)}),
                            Mode::Create,
                        ),
                    )
                    .await
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap().unwrap().number);
    }
    numbers.sort();
    let expected: Vec<_> = (1001..1025)
        .map(openframe_core::number::format_number)
        .collect();
    assert_eq!(numbers, expected);

    let later = service
        .create(
            &caller(),
            request(
                json!({"interaction": {"userPhoneNumber": "+14089965744"}}),
                Mode::Create,
            ),
        )
        .await
        .unwrap();
    assert_eq!(later.number, "IMS0001025");
}

#[tokio::test]
async fn a_failing_plan_writes_nothing() {
    let repo: Arc<dyn Repository> = Arc::new(SledRepository::temporary().unwrap());
    let service = Service::new(Arc::clone(&repo));
    let created = service
        .create(
            &caller(),
            request(
                json!({"interaction": {"userPhoneNumber": "+14089965744"},
                       "phoneLogs": phone_logs(0..1)}),
                Mode::Create,
            ),
        )
        .await
        .unwrap();
    let before = repo.load_interaction(&created.sys_id).await.unwrap();

    let err = repo
        .update_interaction(
            &created.sys_id,
            Box::new(|_| {
                Err(Error::invalid(
                    "phoneLogs[0].end_time",
                    "must not be before",
                ))
            }),
        )
        .await
        .unwrap_err();
    match err {
        Error::Invalid { field, rule } => {
            assert_eq!(field, "phoneLogs[0].end_time");
            assert_eq!(rule, "must not be before");
        }
        other => panic!("expected the plan's error unchanged, got {other:?}"),
    }
    assert_eq!(
        repo.load_interaction(&created.sys_id).await.unwrap(),
        before
    );

    // A change the store refuses half-way (a new phone log whose sys_id another interaction's log has)
    // leaves nothing behind either: not the new interaction fields, context or related record staged before.
    let other = service
        .create(
            &caller(),
            request(
                json!({"interaction": {"userPhoneNumber": "+14089965744"},
                       "phoneLogs": phone_logs(0..1)}),
                Mode::Create,
            ),
        )
        .await
        .unwrap();
    let foreign = repo
        .load_interaction(&other.sys_id)
        .await
        .unwrap()
        .unwrap()
        .phone_logs[0]
        .clone();
    let err = repo
        .update_interaction(
            &created.sys_id,
            Box::new(move |current| {
                let mut interaction = current.interaction.clone();
                interaction.set(field::WORK_NOTES, "should not stick");
                let mut related = Record::new(&RELATED_RECORD);
                related.set(field::SYS_ID, SysId::random().as_str());
                Ok(openframe_core::AggregateChange {
                    interaction,
                    context_set: [("k".to_owned(), "v".to_owned())].into(),
                    context_removed: Default::default(),
                    related_records: vec![related],
                    removed: Default::default(),
                    phone_logs: vec![foreign.clone()],
                })
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert_eq!(
        repo.load_interaction(&created.sys_id).await.unwrap(),
        before
    );
}

#[tokio::test]
async fn updating_a_missing_interaction_is_not_found() {
    let repo = SledRepository::temporary().unwrap();
    let err = repo
        .update_interaction(
            &SysId::random(),
            Box::new(|_| panic!("the plan must not run")),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::NotFound {
            what: "interaction"
        }
    ));
    assert_eq!(repo.load_interaction(&SysId::random()).await.unwrap(), None);
}

#[tokio::test]
async fn many_phone_logs_keep_creation_order() {
    let dir = tempfile::tempdir().unwrap();
    let sys_id = {
        let repo: Arc<dyn Repository> = Arc::new(SledRepository::open(dir.path()).unwrap());
        let service = Service::new(Arc::clone(&repo));
        let created = service
            .create(
                &caller(),
                request(
                    json!({"interaction": {"userPhoneNumber": "+14089965744"},
                           "phoneLogs": phone_logs(0..12)}),
                    Mode::Create,
                ),
            )
            .await
            .unwrap();
        // Update an early log (it keeps its place) and add more after the tenth, where a decimal or
        // little-endian sequence would sort wrongly.
        service
            .update(
                &caller(),
                &created.sys_id,
                request(
                    json!({"phoneLogs": [{"call_id": "call-01", "call_type": "OUTBOUND"},
                                         {"call_id": "call-12"}, {"call_id": "call-13"}]}),
                    Mode::Update,
                ),
            )
            .await
            .unwrap();
        let aggregate = service.read(&created.sys_id).await.unwrap();
        let expected: Vec<_> = (0..14).map(|i| format!("call-{i:02}")).collect();
        assert_eq!(call_ids(&aggregate), expected);
        assert_eq!(aggregate.phone_logs[1].get(field::CALL_TYPE), "OUTBOUND");
        assert_eq!(aggregate.phone_logs[1].get(field::SYS_MOD_COUNT), "1");
        created.sys_id
    };

    // The layout promise: the interaction's row (under `i` and its id, the counter value its number
    // spells: 1001 for the first) holds its phone logs in creation order.
    let db = when_unlocked(|| sled::open(dir.path()));
    let data = db.open_tree("data").unwrap();
    let row = data
        .get([b"i".as_slice(), &1001u64.to_be_bytes()].concat())
        .unwrap()
        .expect("the interaction's row");
    // The format version, the JSON's length, then the JSON as one LZ4 block.
    assert_eq!(row[0], 4, "format version");
    let len = u32::from_le_bytes(row[1..5].try_into().unwrap());
    let json = lz4_flex::block::decompress(&row[5..], len as usize).unwrap();
    let (values, _, logs, _, _): (Vec<String>, Value, Vec<Vec<String>>, Value, u64) =
        serde_json::from_slice(&json).unwrap();
    assert_eq!(values[0], sys_id.as_str());
    let call_ids: Vec<_> = logs
        .into_iter()
        .map(|values| {
            Record::from_values(&PHONE_LOG, values)
                .unwrap()
                .get(field::CALL_ID)
                .to_owned()
        })
        .collect();
    let expected: Vec<_> = (0..14).map(|i| format!("call-{i:02}")).collect();
    assert_eq!(call_ids, expected);
}

#[tokio::test]
async fn taken_names_are_conflicts() {
    let repo = SledRepository::temporary().unwrap();
    assert!(!repo.has_users().await.unwrap());
    repo.add_user(&user("jane")).await.unwrap();
    assert!(matches!(
        repo.add_user(&user("jane")).await,
        Err(Error::Conflict { .. })
    ));
    assert!(repo.has_users().await.unwrap());
    assert_eq!(repo.find_user("john").await.unwrap(), None);

    let app = |id: &str| {
        new_provider_application(
            SysId::random(),
            id,
            "Genesys",
            "admin",
            DateTime::from_unix(0),
        )
        .unwrap()
    };
    repo.add_provider_application(&app("gen-1")).await.unwrap();
    assert!(matches!(
        repo.add_provider_application(&app("gen-1")).await,
        Err(Error::Conflict { .. })
    ));
    repo.add_provider_application(&app("gen-2")).await.unwrap();
    assert_eq!(repo.find_provider_application("gen-3").await.unwrap(), None);
    repo.ping().await.unwrap();
}

#[test]
fn unusable_paths_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a database").unwrap();
    for path in [file.clone(), file.join("below-a-file")] {
        match SledRepository::open(&path) {
            Err(Error::Unavailable { .. } | Error::Internal { .. }) => {}
            other => panic!("{path:?}: expected an error, got {other:?}"),
        }
    }
}

#[test]
fn open_existing_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // (Retried while a dropped database's lock lingers.)
    let refused = |path: &std::path::Path, want: &str| {
        let result = when_unlocked(|| match SledRepository::open_existing(path) {
            Err(Error::Unavailable { .. }) => Err("locked"),
            other => Ok(other),
        });
        match result {
            Err(Error::Invalid { field, rule }) if field == "store" && rule.ends_with(want) => {}
            other => panic!("{path:?}: expected Invalid ending {want:?}, got {other:?}"),
        }
    };
    let missing = dir.path().join("nope");
    refused(&missing, "does not exist");
    assert!(!missing.exists(), "open_existing created the directory");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    refused(&empty, "is not a sled store");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    // A sled database that openframe never wrote.
    let foreign = dir.path().join("foreign");
    drop(sled::open(&foreign).unwrap());
    refused(&foreign, "is not an openframe store");

    let store = dir.path().join("store");
    drop(SledRepository::open(&store).unwrap());
    when_unlocked(|| SledRepository::open_existing(&store));
}

#[test]
fn a_directory_is_opened_by_one_store_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let first = SledRepository::open(dir.path()).unwrap();
    assert!(matches!(
        SledRepository::open(dir.path()),
        Err(Error::Unavailable { .. })
    ));
    drop(first);
    SledRepository::open(dir.path()).unwrap();
}

#[tokio::test]
async fn debug_shows_no_data() {
    let repo = SledRepository::temporary().unwrap();
    repo.add_user(&user("jane")).await.unwrap();
    let shown = format!("{repo:?}");
    assert!(
        !shown.contains("argon2") && !shown.contains("jane"),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_writers_all_succeed_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let written: Vec<InteractionAggregate> = {
        let repo: Arc<dyn Repository> = Arc::new(SledRepository::open(dir.path()).unwrap());
        let service = Service::new(Arc::clone(&repo));
        // 64 writers, each creating three interactions and updating each once: their writes share
        // flushes, and every one must still succeed.
        let tasks: Vec<_> = (0..64)
            .map(|task| {
                let service = service.clone();
                tokio::spawn(async move {
                    let mut ids = Vec::new();
                    for n in 0..3 {
                        let body = json!({"interaction": {"userPhoneNumber": "+14089965744",
                                                          "clientSessionId": format!("s-{task}")},
                                          "phoneLogs": phone_logs(0..1)});
                        let created = service
                            .create(&caller(), request(body, Mode::Create))
                            .await?;
                        let body = json!({"phoneLogs": [{"call_id": format!("late-{task}-{n}")}]});
                        service
                            .update(&caller(), &created.sys_id, request(body, Mode::Update))
                            .await?;
                        ids.push(created.sys_id);
                    }
                    Ok::<_, Error>(ids)
                })
            })
            .collect();
        let mut ids = Vec::new();
        for task in tasks {
            ids.extend(task.await.unwrap().unwrap());
        }
        let mut written = Vec::new();
        for id in &ids {
            written.push(repo.load_interaction(id).await.unwrap().unwrap());
        }
        written
    };

    let repo = SledRepository::open(dir.path()).unwrap();
    let mut numbers = Vec::new();
    for before in &written {
        let sys_id = SysId::parse(before.interaction.sys_id()).unwrap();
        let after = repo.load_interaction(&sys_id).await.unwrap();
        assert_eq!(after.as_ref(), Some(before));
        assert_eq!(before.phone_logs.len(), 2);
        numbers.push(before.interaction.get(field::NUMBER).to_owned());
    }
    numbers.sort();
    let expected: Vec<_> = (1001..1001 + 192)
        .map(openframe_core::number::format_number)
        .collect();
    assert_eq!(numbers, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_never_see_half_an_update() {
    let repo = Arc::new(SledRepository::temporary().unwrap());
    let sys_id = SysId::random();
    let mut interaction = Record::new(&openframe_core::schema::INTERACTION);
    interaction.set(field::SYS_ID, sys_id.as_str());
    let mut log = Record::new(&PHONE_LOG);
    log.set(field::SYS_ID, SysId::random().as_str());
    log.set(field::INTERACTION, sys_id.as_str());
    log.set(field::CALL_ID, "0");
    repo.create_interaction(InteractionAggregate {
        interaction,
        context: [("version".to_owned(), "0".to_owned())].into(),
        phone_logs: vec![log],
        related_records: Vec::new(),
    })
    .await
    .unwrap();

    // Update k rewrites the phone log with call_id k and sets the context's version to k: a read that saw
    // the interaction row of one update and the phone log of another would disagree with itself.
    let writer = {
        let (repo, sys_id) = (Arc::clone(&repo), sys_id.clone());
        tokio::spawn(async move {
            for k in 1..=300 {
                repo.update_interaction(
                    &sys_id,
                    Box::new(move |current| {
                        let mut log = current.phone_logs[0].clone();
                        log.set(field::CALL_ID, k.to_string());
                        Ok(openframe_core::AggregateChange {
                            interaction: current.interaction.clone(),
                            context_set: [("version".to_owned(), k.to_string())].into(),
                            context_removed: Default::default(),
                            phone_logs: vec![log],
                            related_records: Vec::new(),
                            removed: Default::default(),
                        })
                    }),
                )
                .await
                .unwrap();
            }
        })
    };
    let mut reads = 0;
    while !writer.is_finished() {
        let read = repo.load_interaction(&sys_id).await.unwrap().unwrap();
        assert_eq!(
            read.context["version"],
            read.phone_logs[0].get(field::CALL_ID),
            "a torn read"
        );
        reads += 1;
    }
    writer.await.unwrap();
    assert!(reads > 0);
}

#[path = "../src/testing.rs"]
mod testing;
use testing::when_unlocked;

/// The store in `dir`, once an earlier store there has let go of it.
fn reopen(dir: &std::path::Path) -> SledRepository {
    when_unlocked(|| SledRepository::open(dir))
}

#[tokio::test]
async fn numbers_and_event_ids_go_on_after_reopening_even_with_every_event_pruned() {
    // Neither counter is stored: both are found again at open, from the last interaction and event (or
    // the pruning mark).
    let dir = tempfile::tempdir().unwrap();
    let create = |repo: Arc<dyn Repository>| async move {
        let body = json!({"interaction": {"userPhoneNumber": "+14089965744"}});
        Service::new(repo)
            .create(&caller(), request(body, Mode::Create))
            .await
            .unwrap()
            .number
    };
    {
        let repo: Arc<dyn Repository> = Arc::new(reopen(dir.path()));
        assert_eq!(create(Arc::clone(&repo)).await, "IMS0001001");
        assert_eq!(create(Arc::clone(&repo)).await, "IMS0001002");
        repo.prune_events(0).await.unwrap();
        assert!(repo.events_after(0, 10).await.unwrap().events.is_empty());
    }
    let repo: Arc<dyn Repository> = Arc::new(reopen(dir.path()));
    assert_eq!(create(Arc::clone(&repo)).await, "IMS0001003");
    let page = repo.events_after(0, 10).await.unwrap();
    let ids: Vec<u64> = page.events.iter().map(|e| e.id).collect();
    assert_eq!(ids, [3], "no event id is given twice");
}

#[tokio::test]
async fn a_deleted_interactions_number_is_not_given_again_after_reopening() {
    // The number counter is found again from the last interaction row at open; deleting that row must not
    // bring its number back.
    let dir = tempfile::tempdir().unwrap();
    let create = |repo: Arc<dyn Repository>| async move {
        let body = json!({"interaction": {"userPhoneNumber": "+14089965744"},
                          "phoneLogs": [{"call_id": "a"}, {"call_id": "b"}, {"call_id": "c"}]});
        Service::new(repo)
            .create(&caller(), request(body, Mode::Create))
            .await
            .unwrap()
    };
    let kept = {
        let repo: Arc<dyn Repository> = Arc::new(reopen(dir.path()));
        let kept = create(Arc::clone(&repo)).await;
        let gone = create(Arc::clone(&repo)).await;
        assert_eq!(gone.number, "IMS0001002");
        repo.delete_interaction(&gone.sys_id).await.unwrap();
        // A middle log of the kept interaction goes: the last one moves up and is still found by sys_id.
        let logs = repo
            .load_interaction(&kept.sys_id)
            .await
            .unwrap()
            .unwrap()
            .phone_logs;
        let middle = SysId::parse(logs[1].sys_id()).unwrap();
        Service::new(Arc::clone(&repo))
            .table_delete(&caller(), &PHONE_LOG, &middle)
            .await
            .unwrap();
        kept
    };
    let repo: Arc<dyn Repository> = Arc::new(reopen(dir.path()));
    assert_eq!(create(Arc::clone(&repo)).await.number, "IMS0001003");
    let logs = repo
        .load_interaction(&kept.sys_id)
        .await
        .unwrap()
        .unwrap()
        .phone_logs;
    assert_eq!(call_ids_of(&logs), ["a", "c"]);
    let last = SysId::parse(logs[1].sys_id()).unwrap();
    let read = repo.read_record(&PHONE_LOG, &last).await.unwrap();
    assert_eq!(
        read.as_ref(),
        Some(&logs[1]),
        "the moved log reads back by sys_id"
    );
}

fn call_ids_of(logs: &[Record]) -> Vec<&str> {
    logs.iter().map(|l| l.get(field::CALL_ID)).collect()
}
