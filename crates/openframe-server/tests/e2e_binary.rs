//! End to end: the real `openframe` binary on a temporary SQLite file, driven over HTTP.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::binary::{ADMIN_PASSWORD, BIN, Server, client, send};

fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/examples")
        .join(name);
    std::fs::read_to_string(path).expect("example")
}

#[tokio::test]
async fn reference_examples_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("e2e.db").display());
    let admin = ("admin", ADMIN_PASSWORD);

    let server = Server::start(&store);
    let (status, created) = send(
        reqwest::Method::POST,
        &server.url("/api/now/openframe/voice-interaction"),
        admin,
        Some(&example("create.json")),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["result"]["status"], "SUCCESS");
    assert_eq!(created["result"]["number"], "IMS0001001");
    let sys_id = created["result"]["sysId"].as_str().unwrap().to_owned();
    let item = server.url(&format!("/api/now/openframe/voice-interaction/{sys_id}"));

    let (status, updated) = send(
        reqwest::Method::PATCH,
        &item,
        admin,
        Some(&example("update.json")),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        updated,
        serde_json::json!({"result": {"status": "SUCCESS"}})
    );

    let (status, before) = send(reqwest::Method::GET, &item, admin, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        before["result"]["interaction"]["short_description"],
        "New Poonam outbound call"
    );
    assert_eq!(before["result"]["phoneLogs"].as_array().unwrap().len(), 3);

    let (code, _) = server.stop();
    assert_eq!(code, 0, "SIGTERM exits 0");

    let server = Server::start(&store);
    let item = server.url(&format!("/api/now/openframe/voice-interaction/{sys_id}"));
    let (status, after) = send(reqwest::Method::GET, &item, admin, None).await;
    assert_eq!(status, 200);
    assert_eq!(after, before, "the record is the same after a restart");
    let (status, health) = send(
        reqwest::Method::GET,
        &server.url("/healthz"),
        ("", ""),
        None,
    )
    .await;
    assert_eq!((status, health), (200, serde_json::json!({"status": "ok"})));
    let (code, _) = server.stop();
    assert_eq!(code, 0);
}

#[tokio::test]
async fn cli_adds_users_and_providers() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("cli.db").display());

    let out = Command::new(BIN)
        .args([
            "user",
            "add",
            "bob",
            "--role",
            "sn_openframe_user",
            "--store",
            &store,
        ])
        .env("OPENFRAME_PASSWORD", "bob-password")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut child = Command::new(BIN)
        .args([
            "user",
            "add",
            "carol",
            "--role",
            "itil",
            "--password-stdin",
            "--store",
            &store,
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"carol-password\n")
        .unwrap();
    assert!(child.wait().unwrap().success());

    let out = Command::new(BIN)
        .args([
            "provider",
            "add",
            "--inbound-id",
            "five9-1",
            "--name",
            "Five9",
            "--store",
            &store,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The same name twice is refused in one line.
    let out = Command::new(BIN)
        .args(["user", "add", "bob", "--role", "admin", "--store", &store])
        .env("OPENFRAME_PASSWORD", "x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim().lines().count(),
        1
    );

    let server = Server::start(&store);
    let body = r#"{"interaction":{"userPhoneNumber":"+14089965744","inboundId":"five9-1"}}"#;
    let url = server.url("/api/now/openframe/voice-interaction");
    let (status, reply) = send(
        reqwest::Method::POST,
        &url,
        ("bob", "bob-password"),
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let (status, _) = send(
        reqwest::Method::POST,
        &url,
        ("carol", "carol-password"),
        Some(body),
    )
    .await;
    assert_eq!(status, 403, "carol has no openframe role");
    let (status, _) = send(
        reqwest::Method::POST,
        &url,
        ("admin", ADMIN_PASSWORD),
        Some(body),
    )
    .await;
    assert_eq!(status, 401, "no admin is bootstrapped when users exist");
    let (code, _) = server.stop();
    assert_eq!(code, 0);
}

/// Runs the binary and expects a one-line error and a non-zero exit.
fn fails_in_one_line(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("OPENFRAME_STORE")
        .env_remove("OPENFRAME_PASSWORD")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn bad_environments_end_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let err = fails_in_one_line(&["migrate", "--store", "mysql://root:hunter2@localhost/x"]);
    assert!(
        err.contains("unsupported store URL") && !err.contains("hunter2"),
        "{err}"
    );
    let missing = format!("sqlite://{}/no/such/dir/x.db", dir.path().display());
    fails_in_one_line(&["migrate", "--store", &missing]);
    fails_in_one_line(&[
        "migrate",
        "--store",
        "postgres://openframe@127.0.0.1:1/none",
    ]);
    let store = format!("sqlite://{}", dir.path().join("u.db").display());
    let err = fails_in_one_line(&["user", "add", "dave", "--role", "admin", "--store", &store]);
    assert!(err.contains("OPENFRAME_PASSWORD"), "{err}");

    // A taken port.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let store = format!("sqlite://{}", dir.path().join("p.db").display());
    let err = fails_in_one_line(&["serve", "--listen", &addr, "--store", &store]);
    assert!(err.contains("cannot listen"), "{err}");
}

/// Runs the binary with `OPENFRAME_PASSWORD` set to `password` and expects success; its standard output.
fn succeeds(args: &[&str], password: &str) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env("OPENFRAME_PASSWORD", password)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn user_password_and_remove_take_effect_and_oauth_clients_print_their_secret_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("users.db").display());
    succeeds(
        &[
            "user",
            "add",
            "erin",
            "--role",
            "sn_openframe_user",
            "--store",
            &store,
        ],
        "first-password",
    );
    succeeds(
        &["user", "password", "erin", "--store", &store],
        "second-password",
    );
    let printed = succeeds(
        &[
            "oauth-client",
            "add",
            "--name",
            "Genesys",
            "--access-token-lifespan",
            "600",
            "--store",
            &store,
        ],
        "",
    );
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 2, "{printed}");
    let id = lines[0].strip_prefix("client_id: ").expect("client_id");
    let secret = lines[1]
        .strip_prefix("client_secret: ")
        .expect("client_secret");

    let server = Server::start(&store);
    let url = server.url("/api/now/table/interaction");
    let (status, _) = send(reqwest::Method::GET, &url, ("erin", "first-password"), None).await;
    assert_eq!(status, 401, "the old password");
    let (status, reply) = send(
        reqwest::Method::GET,
        &url,
        ("erin", "second-password"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let token: serde_json::Value = client()
        .post(server.url("/oauth_token.do"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", id),
            ("client_secret", secret),
            ("username", "erin"),
            ("password", "second-password"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(token["expires_in"], 599, "{token}");
    let access = token["access_token"].as_str().expect("access_token");

    succeeds(&["user", "remove", "erin", "--store", &store], "");
    // The running server may trust a credential it checked in the last 30 s; a token it never saw is
    // checked now.
    let fresh = client()
        .get(&url)
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(fresh, 401, "a removed user's token");
    let (code, _) = server.stop();
    assert_eq!(code, 0);

    let err = fails_in_one_line(&["user", "remove", "erin", "--store", &store]);
    assert_eq!(err, "openframe: error: no user erin");
    let err = fails_in_one_line(&["user", "password", "nobody", "--store", &store]);
    assert!(err.contains("OPENFRAME_PASSWORD"), "{err}");
    let err = fails_in_one_line(&["oauth-client", "add", "--name", " ", "--store", &store]);
    assert!(err.contains("name:"), "{err}");
    let err = fails_in_one_line(&[
        "oauth-client",
        "add",
        "--name",
        "x",
        "--access-token-lifespan",
        "5",
        "--store",
        &store,
    ]);
    assert!(err.contains("access_token_lifespan"), "{err}");
    let missing = format!("sqlite://{}", dir.path().join("none.db").display());
    let err = fails_in_one_line(&["user", "remove", "erin", "--store", &missing]);
    assert!(err.contains("does not exist"), "{err}");
    assert!(!dir.path().join("none.db").exists());
}
