//! `openframe_store_sqlite::backup`: copies taken while the store is writing open cleanly and hold one
//! consistent state; a backup never overwrites a file and refuses what is not an openframe database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use openframe_core::number::{FIRST_NUMBER, format_number};
use openframe_core::schema::field;
use openframe_core::{
    Caller, Conflict, Error, Mode, Repository, Service, SysId, VoiceInteractionRequest,
};
use openframe_store_sqlite::{SqliteRepository, backup};

/// Phone logs, context variables and related records every interaction of the test is created with: a copy
/// that caught an interaction half-written would show fewer.
const LOGS: usize = 3;
const CONTEXT: usize = 2;
const RELATED: usize = 1;

fn body(i: usize) -> serde_json::Value {
    serde_json::json!({
        "interaction": {"userPhoneNumber": "+14089965744", "clientSessionId": format!("s-{i}")},
        "interactionContext": {"a": "1", "b": format!("{i}")},
        "phoneLogs": [
            {"call_id": format!("{i}-1")}, {"call_id": format!("{i}-2")}, {"call_id": format!("{i}-3")}
        ],
        "relatedRecords": [{"documentTable": "csm_consumer", "documentId": "59e788fbdb1b1200b6075200cf9619d2"}]
    })
}

/// Every interaction of the copy at `path`, checked complete; their numbers must be exactly the first `n`
/// (SQLite hands numbers out in commit order without gaps, so a snapshot holds a prefix of them).
async fn check_copy(path: &std::path::Path) -> usize {
    let repo = SqliteRepository::open(path).expect("the backup opens as a store");
    let mut all = Vec::new();
    let mut after: Option<SysId> = None;
    loop {
        let page = repo
            .export_interactions(after.as_ref(), 100)
            .await
            .expect("export_interactions");
        let Some(last) = page.last() else { break };
        after = Some(SysId::parse(last.interaction.sys_id()).expect("sys_id"));
        all.extend(page);
    }
    let mut numbers: Vec<String> = Vec::new();
    for a in &all {
        let id = a.interaction.sys_id();
        assert_eq!(a.phone_logs.len(), LOGS, "{id}: phone logs");
        assert_eq!(a.context.len(), CONTEXT, "{id}: context");
        assert_eq!(a.related_records.len(), RELATED, "{id}: related records");
        numbers.push(a.interaction.get(field::NUMBER).to_owned());
    }
    numbers.sort();
    let expected: Vec<String> = (0..all.len() as u64)
        .map(|i| format_number(FIRST_NUMBER + i))
        .collect();
    assert_eq!(
        numbers,
        expected,
        "the copy holds the first {} interactions",
        all.len()
    );
    all.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_taken_while_writing_are_consistent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("live.db");
    let repo: Arc<dyn Repository> = Arc::new(SqliteRepository::open(&source).expect("open"));
    let service = Service::new(Arc::clone(&repo));
    let caller = Caller {
        sys_id: SysId::random(),
        user_name: "agent".into(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (service, caller, stop) = (service.clone(), caller.clone(), Arc::clone(&stop));
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            // At least a few creates each, whatever the timing.
            while i < 5 || !stop.load(Ordering::Relaxed) {
                let req = VoiceInteractionRequest::parse(&body(w * 100_000 + i), Mode::Create)
                    .expect("body");
                service.create(&caller, req).await.expect("create");
                i += 1;
            }
            i
        }));
    }

    let mut copies = Vec::new();
    for n in 0..4 {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let dest = dir.path().join(format!("copy-{n}.db"));
        let (from, to) = (source.clone(), dest.clone());
        let report = tokio::task::spawn_blocking(move || backup(&from, &to))
            .await
            .expect("backup task")
            .expect("backup while writing");
        assert!(report.bytes > 0);
        copies.push((dest, report.interactions));
    }
    stop.store(true, Ordering::Relaxed);
    let mut created = 0;
    for w in writers {
        created += w.await.expect("writer");
    }

    for (copy, reported) in &copies {
        let held = check_copy(copy).await;
        assert_eq!(
            held as u64,
            *reported,
            "{}: the report's count",
            copy.display()
        );
    }
    // A copy of the store at rest holds everything.
    let last = dir.path().join("at-rest.db");
    backup(&source, &last).expect("backup at rest");
    assert_eq!(check_copy(&last).await, created);
}

#[test]
fn a_backup_never_overwrites_and_needs_an_openframe_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("live.db");
    drop(SqliteRepository::open(&source).expect("open"));

    let taken = dir.path().join("taken.db");
    std::fs::write(&taken, b"keep me").expect("write");
    match backup(&source, &taken) {
        Err(Error::Conflict(Conflict::BackupDestination { path })) => {
            assert_eq!(path, taken.display().to_string());
        }
        other => panic!("backup onto an existing file: {other:?}"),
    }
    assert_eq!(std::fs::read(&taken).expect("read"), b"keep me");

    let missing = dir.path().join("missing.db");
    assert!(backup(&missing, &dir.path().join("a.db")).is_err());
    assert!(!missing.exists(), "a missing source is not created");

    let other = dir.path().join("other.db");
    rusqlite_free_empty_db(&other);
    match backup(&other, &dir.path().join("b.db")) {
        Err(Error::Invalid { field, .. }) => assert_eq!(field, "source"),
        r => panic!("backup of a database that is not openframe's: {r:?}"),
    }
    // No partial file is left behind by any of these.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains(".partial-")), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "a.db" || n == "b.db"),
        "{names:?}"
    );
}

/// A SQLite database with a table but no openframe schema (user_version 0).
fn rusqlite_free_empty_db(path: &std::path::Path) {
    // The store crate's own API cannot make one, and the test needs no rusqlite of its own: an empty file
    // is a valid, empty SQLite database.
    std::fs::write(path, b"").expect("write");
}
