//! End to end through the real binary: `openframe export | openframe import` moves a store SQLite →
//! PostgreSQL → sled → SQLite with every dump byte-identical, and the last copy serves the same data (the
//! admin's password, the numbers, the counter past them); a bad dump stops with one line naming its line;
//! `openframe backup` copies a SQLite store while a server writes to it, and refuses what it must.
//!
//! PostgreSQL comes from `OPENFRAME_TEST_POSTGRES_URL` (`scripts/test.sh` sets it), in a database of its own;
//! without it the round trip says loudly that it was skipped, except under `CI=true`, where that fails.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::binary::{ADMIN_PASSWORD, BIN, Server, send};
use common::postgres::{TestDatabase, postgres_url};
use reqwest::Method;
use serde_json::{Value, json};

const ADMIN: (&str, &str) = ("admin", ADMIN_PASSWORD);
const API: &str = "/api/now/openframe/voice-interaction";

fn openframe(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("OPENFRAME_STORE")
        .env_remove("OPENFRAME_LISTEN");
    cmd
}

/// `openframe export --store STORE`'s output; it must succeed and say what it wrote.
fn export(store: &str) -> String {
    let out = openframe(&["export", "--store", store])
        .output()
        .expect("run export");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "export {store}: {stderr}");
    assert!(stderr.contains("openframe: exported "), "{stderr}");
    String::from_utf8(out.stdout).expect("UTF-8 dump")
}

/// `openframe export --store FROM | openframe import --store TO`, through a real pipe.
fn pipe(from: &str, to: &str) {
    let mut exporter = openframe(&["export", "--store", from])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start export");
    let stdout = exporter.stdout.take().expect("export stdout");
    let importer = openframe(&["import", "--store", to])
        .stdin(Stdio::from(stdout))
        .stderr(Stdio::piped())
        .spawn()
        .expect("start import");
    let imported = importer.wait_with_output().expect("import");
    let exported = exporter.wait_with_output().expect("export");
    let (e, i) = (
        String::from_utf8_lossy(&exported.stderr),
        String::from_utf8_lossy(&imported.stderr),
    );
    assert!(exported.status.success(), "export {from}: {e}");
    assert!(imported.status.success(), "import {to}: {i}");
    assert!(i.contains("openframe: imported "), "{i}");
}

/// `openframe import --store STORE` fed `input`.
fn import(store: &str, input: &[u8]) -> Output {
    let mut child = openframe(&["import", "--store", store])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start import");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write dump");
    drop(stdin);
    child.wait_with_output().expect("import")
}

/// Fills a SQLite store through the real server: a provider, users, interactions created from the
/// reference's example and updated with the reference's PATCH. Returns the created sys_ids.
async fn fill(store: &str) -> Vec<String> {
    let out = openframe(&[
        "provider",
        "add",
        "--inbound-id",
        "genesys-cloud-1",
        "--name",
        "Genesys \"Cloud\"",
        "--store",
        store,
    ])
    .output()
    .expect("provider add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start(store);
    let create = include_str!("../../../docs/examples/create.json");
    let update = include_str!("../../../docs/examples/update.json");
    let mut ids = Vec::new();
    for i in 0..6 {
        let mut body: Value = serde_json::from_str(create).expect("create.json");
        body["interaction"]["clientSessionId"] = json!(format!("session-{i}"));
        body["interaction"]["inboundId"] = json!("genesys-cloud-1");
        body["interactionContext"]["note"] = json!(format!("line\n\"{i}\" ünï"));
        let (status, reply) = send(
            Method::POST,
            &server.url(API),
            ADMIN,
            Some(&body.to_string()),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
        let id = reply["result"]["sysId"].as_str().expect("sysId").to_owned();
        if i % 2 == 0 {
            let (status, reply) = send(
                Method::PATCH,
                &server.url(&format!("{API}/{id}")),
                ADMIN,
                Some(update),
            )
            .await;
            assert_eq!(status, 200, "{reply}");
        }
        ids.push(id);
    }
    let (code, _) = server.stop();
    assert_eq!(code, 0);
    // After the server's first start, which creates `admin` only in a store without users.
    let out = openframe(&[
        "user",
        "add",
        "agent.émile",
        "--role",
        "sn_openframe_api_user",
        "--store",
        store,
    ])
    .env("OPENFRAME_PASSWORD", "agent-password")
    .output()
    .expect("user add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_import_round_trips_sqlite_postgres_sled_sqlite() {
    let Some(pg) = postgres_url("export_import_round_trips_sqlite_postgres_sled_sqlite") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name).display().to_string();
    let first = format!("sqlite://{}", path("first.db"));
    let ids = fill(&first).await;
    let dump = export(&first);
    let lines: Vec<&str> = dump.lines().collect();
    assert_eq!(lines[0], r#"{"openframe_export":1}"#);
    // admin + agent, the provider, 6 interactions with the example's 3 phone logs and 2 related records
    // each; the PATCH (on every other one) rewrites those logs and names the same related records again,
    // which adds none.
    let count = |table: &str| {
        let tag = format!("{{\"table\":\"{table}\",");
        lines.iter().filter(|l| l.starts_with(&tag)).count()
    };
    let counts = [
        count("sys_user"),
        count("sys_cs_provider_application"),
        count("interaction"),
        count("sn_openframe_phone_log"),
        count("interaction_related_record"),
    ];
    assert_eq!(counts, [2, 1, 6, 6 * 3, 6 * 2], "{dump}");
    assert_eq!(counts.iter().sum::<usize>(), lines.len() - 2, "{dump}");
    assert!(dump.contains("$argon2id$"), "password hashes travel");

    let db = TestDatabase::create(&pg).await;
    let postgres = db.url(None);
    let sled = format!("sled://{}", path("sled"));
    let last = format!("sqlite://{}", path("last.db"));
    let mut from = first.clone();
    for to in [&postgres, &sled, &last] {
        pipe(&from, to);
        assert_eq!(
            export(to),
            dump,
            "the dump of {to} differs from the first store's"
        );
        from = to.clone();
    }
    db.drop_now().await;

    // The last copy serves the same records, to the same admin password, and numbers past them.
    let server = Server::start(&last);
    for id in &ids {
        let (status, reply) = send(
            Method::GET,
            &server.url(&format!("{API}/{id}")),
            ADMIN,
            None,
        )
        .await;
        assert_eq!(status, 200, "{reply}");
    }
    let (status, reply) = send(
        Method::POST,
        &server.url(API),
        ("agent.émile", "agent-password"),
        Some(r#"{"interaction":{"userPhoneNumber":"+14089965744"}}"#),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply["result"]["number"], "IMS0001007",
        "the counter moved past IMS0001006"
    );
    let (code, _) = server.stop();
    assert_eq!(code, 0);
}

#[test]
fn a_bad_dump_stops_at_its_line_and_writes_nothing_of_its_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = format!("sqlite://{}", dir.path().join("target.db").display());
    let dump = concat!(
        "{\"openframe_export\":1}\n",
        "{\"table\":\"sys_cs_provider_application\",\"record\":{\"sys_id\":\"0123456789abcdef0123456789abcdef\",\"inbound_id\":\"g-1\",\"name\":\"G\"}}\n",
        "{\"table\":\"interaction\",\"record\":{\"sys_id\":\"not-a-sys-id\",\"number\":\"IMS0001001\"}}\n",
        "{\"openframe_export_end\":{\"records\":2}}\n",
    );
    let out = import(&store, dump.as_bytes());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(
        lines[0].starts_with("openframe: error: import into sqlite://")
            && lines[0].contains("stopped at line 3: record.sys_id: must be a sys_id")
            && lines[0].ends_with("nothing was written"),
        "{stderr}"
    );
    // The provider on line 2 was in the same batch: not written.
    let after = export(&store);
    assert_eq!(
        after,
        "{\"openframe_export\":1}\n{\"openframe_export_end\":{\"records\":0}}\n"
    );

    // A truncated dump is refused too.
    let out = import(&store, &dump.as_bytes()[..40]);
    assert_eq!(out.status.code(), Some(1));
    // And importing the same records twice is a conflict, not a duplicate.
    let good = concat!(
        "{\"openframe_export\":1}\n",
        "{\"table\":\"sys_cs_provider_application\",\"record\":{\"sys_id\":\"0123456789abcdef0123456789abcdef\",\"inbound_id\":\"g-1\",\"name\":\"G\"}}\n",
        "{\"openframe_export_end\":{\"records\":1}}\n",
    );
    assert!(import(&store, good.as_bytes()).status.success());
    let again = import(&store, good.as_bytes());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stopped at line 2: "), "{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");
}

#[test]
fn a_dump_value_no_api_could_write_is_refused_and_writes_nothing() {
    const INTERACTION: &str = "0123456789abcdef0123456789abcde1";
    let cases = [
        (
            "\"state\":\"bogus\"",
            "line 3: record.state: must be one of new,",
        ),
        (
            "\"user_phone_number\":\"call me\"",
            "line 3: record.user_phone_number: must be E.164",
        ),
        (
            "\"sys_created_on\":\"yesterday\"",
            "line 3: record.sys_created_on: must be a UTC date-time",
        ),
        (
            "\"sys_mod_count\":\"abc\"",
            "line 3: record.sys_mod_count: must be a whole number",
        ),
        (
            "\"work_notes\":\"a\\u0000b\"",
            "line 3: record.work_notes: must not contain NUL characters",
        ),
    ];
    for (bad, want) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = format!("sqlite://{}", dir.path().join("target.db").display());
        let dump = format!(
            "{{\"openframe_export\":1}}\n\
             {{\"table\":\"sys_cs_provider_application\",\"record\":{{\"sys_id\":\"0123456789abcdef0123456789abcdef\",\"inbound_id\":\"g-1\",\"name\":\"G\"}}}}\n\
             {{\"table\":\"interaction\",\"record\":{{\"sys_id\":\"{INTERACTION}\",\"number\":\"IMS0001001\",{bad}}},\"context\":{{\"k\":\"v\"}}}}\n\
             {{\"openframe_export_end\":{{\"records\":2}}}}\n"
        );
        let out = import(&store, dump.as_bytes());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bad}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{bad}: one line: {stderr}");
        assert!(
            lines[0].starts_with("openframe: error: import into sqlite://")
                && lines[0].contains(&format!("stopped at {want}"))
                && lines[0].ends_with("nothing was written"),
            "{bad}: {stderr}"
        );
        assert_eq!(
            export(&store),
            "{\"openframe_export\":1}\n{\"openframe_export_end\":{\"records\":0}}\n",
            "{bad}: the target must hold nothing of the dump"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_the_server_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("live.db");
    let store = format!("sqlite://{}", db.display());
    let server = Server::start(&store);
    let body = include_str!("../../../docs/examples/create.json");
    let url = server.url(API);
    let writer = tokio::spawn(async move {
        let mut created = 0;
        for _ in 0..40 {
            let (status, reply) = send(Method::POST, &url, ADMIN, Some(body)).await;
            assert_eq!(status, 200, "{reply}");
            created += 1;
        }
        created
    });
    let mut copies = Vec::new();
    for n in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let dest = dir.path().join(format!("copy-{n}.db"));
        let out = openframe(&["backup", "--store", &store, &dest.display().to_string()])
            .output()
            .expect("backup");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.starts_with("openframe: backed up "), "{stderr}");
        copies.push(dest);
    }
    let created = writer.await.expect("writer");
    let (code, _) = server.stop();
    assert_eq!(code, 0);
    assert_eq!(created, 40);

    for copy in &copies {
        check_backup(copy);
    }

    // Refusals: an existing destination (left as it was), a store that is not SQLite.
    let out = openframe(&[
        "backup",
        "--store",
        &store,
        &copies[0].display().to_string(),
    ])
    .output()
    .expect("backup");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("exists; a backup never overwrites a file"),
        "{stderr}"
    );
    check_backup(&copies[0]);
    let out = openframe(&[
        "backup",
        "--store",
        "memory://",
        &dir.path().join("m.db").display().to_string(),
    ])
    .output()
    .expect("backup");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("sqlite://PATH stores only"), "{stderr}");
}

/// A copy opens as a store, and every interaction in it is complete: the example's context, three phone
/// logs and two related records, and the admin who made them.
fn check_backup(copy: &Path) {
    let dump = export(&format!("sqlite://{}", copy.display()));
    let mut interactions = 0;
    let mut logs = 0;
    let mut related = 0;
    for line in dump.lines() {
        let v: Value = serde_json::from_str(line).expect("JSON line");
        match v["table"].as_str() {
            Some("interaction") => {
                interactions += 1;
                assert_eq!(v["context"]["devicetype"], "genesys", "{line}");
            }
            Some("sn_openframe_phone_log") => logs += 1,
            Some("interaction_related_record") => related += 1,
            _ => {}
        }
    }
    assert!(dump.contains("\"user_name\":\"admin\""), "{dump}");
    assert_eq!(
        logs,
        3 * interactions,
        "{}: every interaction has its 3 logs",
        copy.display()
    );
    assert_eq!(
        related,
        2 * interactions,
        "{}: and its 2 related records",
        copy.display()
    );
}
