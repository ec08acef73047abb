//! Hostile clients against the real binary: slow headers, slow bodies, too many connections (half-sent or
//! busy), too many event streams, password guessing, and what the server writes to its log about any of it.

mod common;

use std::time::{Duration, Instant};

use common::binary::{ADMIN_PASSWORD, Server, client, send};
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ADMIN: (&str, &str) = ("admin", ADMIN_PASSWORD);
const CREATE: &str = "/api/now/openframe/voice-interaction";

fn sqlite_store(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("hostile.db").display())
}

/// Reads until the peer closes the connection (or `limit` passes): what it sent, and whether it closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&received).into(), true),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&received).into(), false),
        }
    }
}

fn basic_header() -> String {
    use base64::Engine;
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", ADMIN.0, ADMIN.1));
    format!("Authorization: Basic {token}\r\n")
}

const CREATE_BODY: &str = r#"{"interaction":{"userPhoneNumber":"+14089965744"}}"#;

/// A connection that has sent a create's head and the first 10 bytes of its body, and then waits.
async fn create_sent_in_part(server: &Server) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "POST {CREATE} HTTP/1.1\r\nHost: test\r\n{}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        basic_header(),
        CREATE_BODY.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
        .write_all(&CREATE_BODY.as_bytes()[..10])
        .await
        .unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(&sqlite_store(&dir), &["--header-read-timeout", "1"]);
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    let started = Instant::now();
    // Half a request line, then nothing: a slowloris.
    stream
        .write_all(b"POST /api/now/openframe/voice-")
        .await
        .unwrap();
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(20)).await;
    assert!(closed, "the connection is still open after 20 s");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900),
        "closed after {elapsed:?}"
    );

    // An idle keep-alive connection goes the same way.
    let mut idle = TcpStream::connect(server.addr()).await.unwrap();
    let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(20)).await;
    assert!(closed, "an idle connection is still open after 20 s");

    // The server is fine.
    let (status, _) = send(Method::GET, &server.url("/healthz"), ("", ""), None).await;
    assert_eq!(status, 200);
    assert_eq!(server.stop().0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_is_408_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(&sqlite_store(&dir), &["--body-read-timeout", "1"]);
    let mut stream = create_sent_in_part(&server).await;
    let (reply, _) = read_until_closed(&mut stream, Duration::from_secs(20)).await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("did not arrive within 1 seconds"), "{reply}");

    let (status, list) = send(
        Method::GET,
        &server.url("/api/now/table/interaction"),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["result"], serde_json::json!([]), "nothing was written");
    assert_eq!(server.stop().0, 0);
}

/// A create as admin through a fresh client: its status, within a second.
async fn create_within_a_second(server: &Server) -> u16 {
    let started = Instant::now();
    let (status, reply) = send(Method::POST, &server.url(CREATE), ADMIN, Some(CREATE_BODY)).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the create took {:?}: {reply}",
        started.elapsed()
    );
    status
}

/// `/healthz` through a fresh client: its status, within a second.
async fn healthz_within_a_second(server: &Server) -> u16 {
    let started = Instant::now();
    let (status, _) = send(Method::GET, &server.url("/healthz"), ("", ""), None).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "/healthz took {:?}",
        started.elapsed()
    );
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_the_longest_idle_connection_makes_room() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &sqlite_store(&dir),
        &["--max-connections", "3", "--header-read-timeout", "60"],
    );
    // Three half-sent requests (a slowloris each) fill every slot.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(server.addr()).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHo")
            .await
            .unwrap();
        held.push(stream);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A fresh client gets in all the same, each time in the place of the longest-waiting half-sent one.
    assert_eq!(healthz_within_a_second(&server).await, 200);
    assert_eq!(create_within_a_second(&server).await, 200);
    let (_, closed) = read_until_closed(&mut held[0], Duration::from_secs(5)).await;
    assert!(closed, "the oldest half-sent connection made room");
    drop(held);
    assert_eq!(server.stop().0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_connection_is_busy_healthz_is_still_answered() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        &sqlite_store(&dir),
        &["--max-connections", "3", "--body-read-timeout", "60"],
    );
    // Three creates whose bodies are still arriving: every connection is busy, none may be cut off.
    let mut busy = Vec::new();
    for _ in 0..3 {
        busy.push(create_sent_in_part(&server).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(healthz_within_a_second(&server).await, 200);
    // Anything else is told to come back, in the platform's envelope.
    let (status, reply) = send(
        Method::GET,
        &server.url("/api/now/table/interaction"),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(status, 503, "{reply}");
    assert_eq!(reply["error"]["message"], "Service Unavailable");
    // The busy requests finish unharmed.
    for stream in &mut busy {
        stream
            .write_all(&CREATE_BODY.as_bytes()[10..])
            .await
            .unwrap();
        let (reply, _) = read_until_closed(stream, Duration::from_secs(2)).await;
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    }
    drop(busy);
    assert_eq!(server.stop().0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_are_capped_and_never_starve_ordinary_requests() {
    let dir = tempfile::tempdir().unwrap();
    // 40 connections: streams may hold 30 of them, one user 20.
    let server = Server::start_with(&sqlite_store(&dir), &["--max-connections", "40"]);
    let http = client();
    let open = || async {
        http.get(server.url("/api/now/openframe/events"))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .header("Accept", "text/event-stream")
            .send()
            .await
            .expect("a response")
    };
    let mut streams = Vec::new();
    for _ in 0..20 {
        let response = open().await;
        assert_eq!(response.status().as_u16(), 200);
        streams.push(response);
    }
    for _ in 0..30 {
        let refused = open().await;
        assert_eq!(refused.status().as_u16(), 429);
        assert!(refused.headers().contains_key("retry-after"));
        let reply: serde_json::Value = refused.json().await.expect("the envelope");
        let detail = reply["error"]["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("admin holds 20 event streams"), "{detail}");
    }
    assert_eq!(healthz_within_a_second(&server).await, 200);
    assert_eq!(create_within_a_second(&server).await, 200);
    // A stream given up gives its place back.
    streams.pop();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = open().await;
        if response.status().as_u16() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed stream's place never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(streams);
    assert_eq!(server.stop().0, 0);
}

/// The attack of the report, at full scale and with the default limits (1,024 connections): one user asks
/// for 2,000 event streams on 2,000 connections it keeps open, then 1,100 more connections send half a
/// request each and wait. A fresh client's `/healthz` and create still answer 200 within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_streams_and_eleven_hundred_half_sent_connections_leave_room() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&sqlite_store(&dir));
    let request = format!(
        "GET /api/now/openframe/events HTTP/1.1\r\nHost: test\r\n{}Accept: text/event-stream\r\n\r\n",
        basic_header()
    );
    let mut held = Vec::with_capacity(3_100);
    for _ in 0..2_000 {
        let Ok(mut stream) = TcpStream::connect(server.addr()).await else {
            continue; // a connection the server has already let go of
        };
        // A write may fail on a connection the server closed to make room: the attacker does not care.
        let _ = stream.write_all(request.as_bytes()).await;
        held.push(stream);
    }
    for _ in 0..1_100 {
        let Ok(mut stream) = TcpStream::connect(server.addr()).await else {
            continue;
        };
        let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHo").await;
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(healthz_within_a_second(&server).await, 200);
    assert_eq!(create_within_a_second(&server).await, 200);
    // The attack did what it meant to: 20 of the stream requests hold open streams (the cap per user).
    let answers =
        futures_util::future::join_all(held.drain(..2_000).map(|mut stream| async move {
            let mut head = [0_u8; 12];
            match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut head)).await {
                Ok(Ok(n)) => head[..n].to_vec(),
                _ => Vec::new(),
            }
        }))
        .await;
    let open = answers
        .iter()
        .filter(|a| a.starts_with(b"HTTP/1.1 200"))
        .count();
    assert_eq!(open, 20, "streams held open");
    drop(held);
    assert_eq!(server.stop().0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_and_wrong_passwords_look_alike_and_guessing_is_slowed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&sqlite_store(&dir));
    let url = server.url(CREATE);
    let body = r#"{"interaction":{"userPhoneNumber":"+14089965744"}}"#;
    let attempt = |user: (&'static str, &'static str)| {
        let url = url.clone();
        async move {
            let resp = client()
                .post(&url)
                .basic_auth(user.0, Some(user.1))
                .header("content-type", "application/json")
                // The same request id for both, so that the echoed id does not tell them apart either.
                .header("x-request-id", "look-alike")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let mut headers: Vec<(String, String)> = resp
                .headers()
                .iter()
                .filter(|(k, _)| *k != "date")
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_owned()))
                .collect();
            headers.sort();
            (status, headers, resp.text().await.unwrap())
        }
    };
    let wrong_password = attempt(("admin", "not-the-password")).await;
    let unknown_user = attempt(("nobody", "not-the-password")).await;
    assert_eq!(wrong_password.0, 401);
    assert_eq!(
        wrong_password, unknown_user,
        "the same answer, byte for byte"
    );

    // Guessing one user's password: after 10 failures within a minute, 429 with Retry-After.
    for _ in 0..9 {
        assert_eq!(attempt(("admin", "guess")).await.0, 401);
    }
    let (status, headers, _) = attempt(("admin", "guess")).await;
    assert_eq!(status, 429);
    let retry: u64 = headers
        .iter()
        .find(|(k, _)| k == "retry-after")
        .map(|(_, v)| v.parse().unwrap())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(server.stop().0, 0);
}

/// Secrets and personal data sent to the server, none of which may appear in its log.
const SECRET_PASSWORD: &str = "Sup3r-Secret-Pa55word";
const PHONE_DIGITS: &str = "4089965744";
const BODY_MARKER: &str = "body-marker-7f3a9c";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_holds_no_password_phone_number_or_body() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&sqlite_store(&dir));
    let create = server.url(CREATE);
    let good = format!(
        r#"{{"interaction":{{"userPhoneNumber":"+1{PHONE_DIGITS}","additionalParams":{{"short_description":"{BODY_MARKER}"}}}},"phoneLogs":[{{"call_id":"{BODY_MARKER}"}}]}}"#
    );
    let (status, created) = send(Method::POST, &create, ADMIN, Some(&good)).await;
    assert_eq!(status, 200, "{created}");
    let sys_id = created["result"]["sysId"].as_str().unwrap().to_owned();
    // Refused input of every kind, carrying the same data.
    let bad_bodies = [
        format!(r#"{{"interaction":{{"userPhoneNumber":"{PHONE_DIGITS}","x":"{BODY_MARKER}"}}}}"#),
        format!(r#"{{"interaction":{{"userPhoneNumber":"+1{PHONE_DIGITS}" "{BODY_MARKER}"#),
        format!("<r><interaction><userPhoneNumber>+1{PHONE_DIGITS}</userPhoneNumber>{BODY_MARKER}"),
    ];
    for body in &bad_bodies {
        let (status, _) = send(Method::POST, &create, ADMIN, Some(body)).await;
        assert_eq!(status, 400);
        let (status, _) = send(
            Method::PATCH,
            &format!("{create}/{sys_id}"),
            ADMIN,
            Some(body),
        )
        .await;
        assert_eq!(status, 400);
    }
    // Wrong passwords, and the right one under an unknown name.
    for user in [
        ("admin", SECRET_PASSWORD),
        (SECRET_PASSWORD, ADMIN_PASSWORD),
    ] {
        let (status, _) = send(Method::POST, &create, user, Some(&good)).await;
        assert_eq!(status, 401);
    }
    let (status, _) = send(
        Method::GET,
        &server.url(&format!(
            "/api/now/table/interaction?sysparm_query=user_phone_number=%2B1{PHONE_DIGITS}^{BODY_MARKER}=x"
        )),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(status, 400);

    let (code, log) = server.stop();
    assert_eq!(code, 0);
    assert!(
        log.iter().any(|l| l.contains("shut down cleanly")),
        "the log was captured: {log:?}"
    );
    for line in &log {
        for secret in [SECRET_PASSWORD, ADMIN_PASSWORD, PHONE_DIGITS, BODY_MARKER] {
            assert!(!line.contains(secret), "{secret:?} in the log: {line}");
        }
    }
}

/// What hyper refuses before the router sees it — a URI over 64 KiB, too many header fields, bytes that are
/// not HTTP — is answered in the platform's envelope, so that clients can say what went wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_hyper_cannot_parse_get_the_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&sqlite_store(&dir));
    let long_uri = format!(
        "GET /api/now/table/interaction?sysparm_query={} HTTP/1.1\r\nHost: test\r\n\r\n",
        "a".repeat(70_000)
    );
    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nHost: test\r\n{}\r\n",
        (0..150)
            .map(|i| format!("X-H{i}: v\r\n"))
            .collect::<String>()
    );
    for (request, status, message) in [
        (long_uri.as_str(), "414", "URI Too Long"),
        (
            many_headers.as_str(),
            "431",
            "Request Header Fields Too Large",
        ),
        (
            "GET /healthz HTTP/1.1\r\nHost: test\r\nBad Header\r\n\r\n",
            "400",
            "Bad Request",
        ),
    ] {
        let mut stream = TcpStream::connect(server.addr()).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let (reply, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
        assert!(closed, "{reply}");
        assert!(reply.starts_with(&format!("HTTP/1.1 {status} ")), "{reply}");
        let (head, body) = reply.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.contains("content-type: application/json"), "{head}");
        let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(body["error"]["message"], message, "{body}");
        assert_eq!(body["status"], "failure");
    }
    assert_eq!(healthz_within_a_second(&server).await, 200);
    assert_eq!(server.stop().0, 0);
}
