//! Behaviour of the SQLite store beyond the shared conformance suite: durability across reopen, numbers
//! under concurrency, atomicity of failed updates, and opening bad paths.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use openframe_core::number::{FIRST_NUMBER, format_number};
use openframe_core::schema::{INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, field};
use openframe_core::{
    AggregateChange, Conflict, Context, Error, InteractionAggregate, Record, Repository, SysId,
    User,
};
use openframe_store_sqlite::SqliteRepository;

fn record(table: &'static openframe_core::schema::Table, fields: &[(&str, &str)]) -> Record {
    let mut r = Record::new(table);
    r.set(field::SYS_ID, SysId::random().as_str());
    r.set(field::SYS_MOD_COUNT, "0");
    for (k, v) in fields {
        r.set(k, *v);
    }
    r
}

/// A new aggregate with one context variable, two phone logs and one related record.
fn aggregate() -> InteractionAggregate {
    let interaction = record(
        &INTERACTION,
        &[
            (field::TYPE, "phone"),
            (field::STATE, "new"),
            (field::USER_PHONE_NUMBER, "+14089965744"),
        ],
    );
    let id = interaction.sys_id().to_owned();
    InteractionAggregate {
        context: Context::from([("queue".to_owned(), "billing".to_owned())]),
        phone_logs: vec![
            record(
                &PHONE_LOG,
                &[(field::INTERACTION, &id), (field::CALL_ID, "c1")],
            ),
            record(
                &PHONE_LOG,
                &[(field::INTERACTION, &id), (field::CALL_ID, "c2")],
            ),
        ],
        related_records: vec![record(
            &RELATED_RECORD,
            &[
                (field::INTERACTION, &id),
                (field::DOCUMENT_TABLE, "incident"),
                (field::DOCUMENT_ID, SysId::random().as_str()),
            ],
        )],
        interaction,
    }
}

fn sys_id(agg: &InteractionAggregate) -> SysId {
    SysId::parse(agg.interaction.sys_id()).expect("sys_id")
}

/// A fresh in-memory store holding one aggregate: the store, its sys_id, and the aggregate as stored.
async fn one_stored() -> (SqliteRepository, SysId, InteractionAggregate) {
    let repo = SqliteRepository::open_in_memory().expect("open");
    let new = aggregate();
    let id = sys_id(&new);
    repo.create_interaction(new).await.expect("create");
    let stored = repo
        .load_interaction(&id)
        .await
        .expect("load")
        .expect("exists");
    (repo, id, stored)
}

/// A change of `current` that writes these phone logs and nothing else.
fn logs_only(current: &InteractionAggregate, phone_logs: Vec<Record>) -> AggregateChange {
    AggregateChange {
        interaction: current.interaction.clone(),
        context_set: Context::new(),
        context_removed: BTreeSet::new(),
        phone_logs,
        related_records: Vec::new(),
        removed: Default::default(),
    }
}

fn user(name: &str, roles: &[&str]) -> User {
    User {
        sys_id: SysId::random(),
        user_name: name.to_owned(),
        name: String::new(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
    }
}

fn open(path: &Path) -> SqliteRepository {
    SqliteRepository::open(path).expect("open")
}

#[tokio::test]
async fn data_survives_close_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("openframe.db");
    let new = aggregate();
    let id = sys_id(&new);
    let jane = user("jane", &["sn_openframe_user", "admin", "x,y"]);
    let app = record(
        &PROVIDER_APPLICATION,
        &[(field::NAME, "Genesys"), (field::INBOUND_ID, "gen-1")],
    );
    {
        let repo = open(&path);
        assert_eq!(
            repo.create_interaction(new.clone()).await.expect("create"),
            format_number(FIRST_NUMBER)
        );
        repo.add_user(&jane).await.expect("user");
        repo.add_provider_application(&app).await.expect("app");
    }
    let repo = open(&path);
    let mut expected = new;
    expected
        .interaction
        .set(field::NUMBER, format_number(FIRST_NUMBER));
    assert_eq!(
        repo.load_interaction(&id).await.expect("load"),
        Some(expected)
    );
    assert_eq!(repo.find_user("jane").await.expect("user"), Some(jane));
    assert!(repo.has_users().await.expect("has users"));
    assert_eq!(
        repo.find_provider_application("gen-1").await.expect("app"),
        Some(app)
    );
    // The counter survived too.
    assert_eq!(
        repo.create_interaction(aggregate()).await.expect("create"),
        format_number(FIRST_NUMBER + 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_get_distinct_increasing_numbers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo: Arc<dyn Repository> = Arc::new(open(&dir.path().join("openframe.db")));
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let repo = Arc::clone(&repo);
            tokio::spawn(async move {
                let agg = aggregate();
                let first = repo.create_interaction(agg.clone()).await.expect("create");
                // Within one task, later creates get larger numbers.
                let second = repo.create_interaction(aggregate()).await.expect("create");
                assert!(second > first, "{second} after {first}");
                (sys_id(&agg), first)
            })
        })
        .collect();
    let mut numbers = BTreeSet::new();
    for task in tasks {
        let (id, number) = task.await.expect("task");
        let stored = repo
            .load_interaction(&id)
            .await
            .expect("load")
            .expect("exists");
        assert_eq!(stored.interaction.get(field::NUMBER), number);
        assert_eq!(stored.phone_logs.len(), 2);
        numbers.insert(number);
    }
    assert_eq!(numbers.len(), 40, "numbers are distinct");
    let next = repo.create_interaction(aggregate()).await.expect("create");
    assert_eq!(
        next,
        format_number(FIRST_NUMBER + 80),
        "no number was skipped"
    );
}

#[tokio::test]
async fn two_repositories_on_one_file_share_the_counter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("openframe.db");
    let (a, b) = (open(&path), open(&path));
    let mut numbers = Vec::new();
    for _ in 0..3 {
        numbers.push(a.create_interaction(aggregate()).await.expect("a"));
        numbers.push(b.create_interaction(aggregate()).await.expect("b"));
    }
    let expected: Vec<_> = (0..6).map(|i| format_number(FIRST_NUMBER + i)).collect();
    assert_eq!(numbers, expected);
}

#[tokio::test]
async fn a_failing_plan_writes_nothing_and_its_error_comes_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = open(&dir.path().join("openframe.db"));
    let new = aggregate();
    let id = sys_id(&new);
    repo.create_interaction(new).await.expect("create");
    let before = repo.load_interaction(&id).await.expect("load");

    let err = repo
        .update_interaction(
            &id,
            Box::new(|_| {
                Err(Error::invalid(
                    "phoneLogs[0].call_type",
                    "must be one of INBOUND, OUTBOUND",
                ))
            }),
        )
        .await
        .expect_err("the plan fails");
    assert!(
        matches!(&err, Error::Invalid { field, rule } if field == "phoneLogs[0].call_type" && rule.starts_with("must be")),
        "{err:?}"
    );
    assert_eq!(repo.load_interaction(&id).await.expect("load"), before);
}

#[tokio::test]
async fn a_change_that_fails_half_way_is_rolled_back() {
    let repo = SqliteRepository::open_in_memory().expect("open");
    let new = aggregate();
    let id = sys_id(&new);
    let taken = new.related_records[0].clone();
    repo.create_interaction(new).await.expect("create");
    let before = repo.load_interaction(&id).await.expect("load");

    // The interaction row, the context and a new log are written before the related record, whose sys_id
    // is taken, fails.
    let err = repo
        .update_interaction(
            &id,
            Box::new(move |current| {
                let mut interaction = current.interaction.clone();
                interaction.set(field::STATE, "closed_complete");
                let log = record(
                    &PHONE_LOG,
                    &[(field::INTERACTION, current.interaction.sys_id())],
                );
                Ok(AggregateChange {
                    interaction,
                    context_set: Context::from([("k".to_owned(), "v".to_owned())]),
                    context_removed: BTreeSet::from(["queue".to_owned()]),
                    phone_logs: vec![log],
                    related_records: vec![taken.clone()],
                    removed: Default::default(),
                })
            }),
        )
        .await
        .expect_err("the related record's sys_id is taken");
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert_eq!(repo.load_interaction(&id).await.expect("load"), before);
}

#[tokio::test]
async fn an_update_cannot_take_another_interactions_phone_log() {
    let repo = SqliteRepository::open_in_memory().expect("open");
    let (first, second) = (aggregate(), aggregate());
    let (first_id, second_id) = (sys_id(&first), sys_id(&second));
    let theirs = first.phone_logs[0].clone();
    repo.create_interaction(first).await.expect("create");
    repo.create_interaction(second).await.expect("create");
    let before = (
        repo.load_interaction(&first_id).await.expect("load"),
        repo.load_interaction(&second_id).await.expect("load"),
    );

    // A log the second interaction does not have, under the sys_id of one of the first's: an insert, which
    // the taken sys_id refuses (an upsert would have moved the log to the second interaction).
    let err = repo
        .update_interaction(
            &second_id,
            Box::new(move |current| {
                let mut log = theirs.clone();
                log.set(field::INTERACTION, current.interaction.sys_id());
                Ok(logs_only(current, vec![log]))
            }),
        )
        .await
        .expect_err("the log's sys_id is taken");
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    let after = (
        repo.load_interaction(&first_id).await.expect("load"),
        repo.load_interaction(&second_id).await.expect("load"),
    );
    assert_eq!(after, before);
}

#[tokio::test]
async fn a_new_log_listed_twice_in_a_change_is_written_once_with_its_last_version() {
    let (repo, id, mut expected) = one_stored().await;

    let change = repo
        .update_interaction(
            &id,
            Box::new(|current| {
                let first = record(
                    &PHONE_LOG,
                    &[
                        (field::INTERACTION, current.interaction.sys_id()),
                        (field::CALL_ID, "c3"),
                    ],
                );
                let mut again = first.clone();
                again.set(field::CALL_TYPE, "INBOUND");
                Ok(logs_only(current, vec![first, again]))
            }),
        )
        .await
        .expect("update");
    change.apply_to(&mut expected);
    let stored = repo.load_interaction(&id).await.expect("load");
    assert_eq!(stored, Some(expected));
    let logs = stored.expect("exists").phone_logs;
    assert_eq!(logs.len(), 3);
    assert_eq!(logs[2].get(field::CALL_TYPE), "INBOUND");
}

#[tokio::test]
async fn an_update_writes_what_apply_to_describes() {
    let (repo, id, mut expected) = one_stored().await;

    let change = repo
        .update_interaction(
            &id,
            Box::new(|current| {
                let mut interaction = current.interaction.clone();
                interaction.set(field::STATE, "on_hold");
                interaction.set(field::SYS_MOD_COUNT, "1");
                // Rewrite the first log (it keeps its place), add a third.
                let mut first = current.phone_logs[0].clone();
                first.set(field::CALL_TYPE, "INBOUND");
                let third = record(
                    &PHONE_LOG,
                    &[
                        (field::INTERACTION, current.interaction.sys_id()),
                        (field::CALL_ID, "c3"),
                    ],
                );
                let related = record(
                    &RELATED_RECORD,
                    &[
                        (field::INTERACTION, current.interaction.sys_id()),
                        (field::DOCUMENT_TABLE, "case"),
                    ],
                );
                Ok(AggregateChange {
                    interaction,
                    context_set: Context::from([
                        ("queue".to_owned(), "sales".to_owned()),
                        ("lang".to_owned(), "fr".to_owned()),
                    ]),
                    context_removed: BTreeSet::from(["queue".to_owned(), "absent".to_owned()]),
                    phone_logs: vec![third, first],
                    related_records: vec![related],
                    removed: Default::default(),
                })
            }),
        )
        .await
        .expect("update");
    change.apply_to(&mut expected);
    let stored = repo
        .load_interaction(&id)
        .await
        .expect("load")
        .expect("exists");
    assert_eq!(stored, expected);
    let calls: Vec<_> = stored
        .phone_logs
        .iter()
        .map(|l| l.get(field::CALL_ID))
        .collect();
    assert_eq!(calls, ["c1", "c2", "c3"]);
}

#[tokio::test]
async fn updating_an_unknown_interaction_is_not_found() {
    let repo = SqliteRepository::open_in_memory().expect("open");
    let err = repo
        .update_interaction(
            &SysId::random(),
            Box::new(|_| panic!("the plan must not run")),
        )
        .await
        .expect_err("no such interaction");
    assert!(
        matches!(
            err,
            Error::NotFound {
                what: "interaction"
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        repo.load_interaction(&SysId::random()).await.expect("load"),
        None
    );
}

#[tokio::test]
async fn taken_names_and_inbound_ids_are_conflicts() {
    let repo = SqliteRepository::open_in_memory().expect("open");
    assert!(!repo.has_users().await.expect("has users"));
    repo.add_user(&user("jane", &[])).await.expect("user");
    let err = repo
        .add_user(&user("jane", &["admin"]))
        .await
        .expect_err("taken");
    assert!(
        matches!(&err, Error::Conflict(Conflict::UserName { user_name }) if user_name == "jane"),
        "{err:?}"
    );
    assert_eq!(
        repo.find_user("jane").await.expect("find").map(|u| u.roles),
        Some(vec![])
    );
    assert_eq!(repo.find_user("john").await.expect("find"), None);

    let app = |name| {
        record(
            &PROVIDER_APPLICATION,
            &[(field::NAME, name), (field::INBOUND_ID, "gen-1")],
        )
    };
    repo.add_provider_application(&app("one"))
        .await
        .expect("app");
    let err = repo
        .add_provider_application(&app("two"))
        .await
        .expect_err("taken");
    assert!(
        matches!(&err, Error::Conflict(Conflict::InboundId { inbound_id }) if inbound_id == "gen-1"),
        "{err:?}"
    );
    let stored = repo
        .find_provider_application("gen-1")
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(stored.get(field::NAME), "one");
}

#[tokio::test]
async fn creating_a_taken_sys_id_is_a_conflict_and_uses_no_number() {
    let repo = SqliteRepository::open_in_memory().expect("open");
    let new = aggregate();
    repo.create_interaction(new.clone()).await.expect("create");
    let err = repo.create_interaction(new).await.expect_err("taken");
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert_eq!(
        repo.create_interaction(aggregate()).await.expect("create"),
        format_number(FIRST_NUMBER + 1)
    );
}

#[test]
fn bad_paths_are_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing_dir = dir.path().join("no/such/dir/openframe.db");
    let err = SqliteRepository::open(&missing_dir).expect_err("missing directory");
    let Error::Unavailable { source } = &err else {
        panic!("{err:?}");
    };
    assert!(
        source.to_string().contains("no/such/dir/openframe.db"),
        "{source}"
    );

    // A directory where the file should be.
    assert!(SqliteRepository::open(dir.path()).is_err());

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5a_u8; 8192]).expect("write");
    let err = SqliteRepository::open(&garbage).expect_err("not a database");
    assert!(
        matches!(err, Error::Internal { .. } | Error::Unavailable { .. }),
        "{err:?}"
    );
}

#[test]
fn open_creates_the_file_outside_a_runtime() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("new.db");
    let repo = SqliteRepository::open(&path).expect("open");
    assert!(path.exists());
    assert!(format!("{repo:?}").contains("new.db"));
    drop(repo);
    drop(SqliteRepository::open_in_memory().expect("in memory"));
}

#[tokio::test]
async fn in_memory_databases_are_private_and_answer_pings() {
    let (a, b) = (
        SqliteRepository::open_in_memory().expect("a"),
        SqliteRepository::open_in_memory().expect("b"),
    );
    let new = aggregate();
    let id = sys_id(&new);
    a.create_interaction(new).await.expect("create");
    assert!(a.load_interaction(&id).await.expect("load").is_some());
    assert!(b.load_interaction(&id).await.expect("load").is_none());
    a.ping().await.expect("ping");
}

#[test]
fn open_existing_creates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.db");
    let err = SqliteRepository::open_existing(&missing).expect_err("a missing file");
    assert!(
        matches!(&err, Error::Invalid { field, rule } if field == "store" && rule.ends_with("does not exist")),
        "{err:?}"
    );
    assert!(!missing.exists(), "open_existing created the file");

    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").expect("empty file");
    let err = SqliteRepository::open_existing(&empty).expect_err("an empty file");
    assert!(
        err.to_string().ends_with("is not an openframe database"),
        "{err}"
    );
    assert_eq!(std::fs::metadata(&empty).expect("still there").len(), 0);

    let store = dir.path().join("store.db");
    drop(SqliteRepository::open(&store).expect("create"));
    SqliteRepository::open_existing(&store).expect("an existing store opens");
}
