//! Graceful shutdown of the real binary under load: after SIGTERM new connections are refused, a request in
//! flight (its body still arriving) completes with a 200, the process exits 0 with the store closed, and every
//! acknowledged create is there after a restart.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::binary::{ADMIN_PASSWORD, Server, client};
use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ADMIN: (&str, &str) = ("admin", ADMIN_PASSWORD);
const CREATE: &str = "/api/now/openframe/voice-interaction";
const CLIENTS: usize = 8;

/// Creates interactions tagged `term-N` until the server stops answering; returns the acknowledged tags.
async fn load(
    base: String,
    next: Arc<Mutex<u64>>,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
) -> Vec<String> {
    let http = client();
    let mut acked = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let tag = {
            let mut n = next.lock().unwrap();
            *n += 1;
            format!("term-{n}")
        };
        let body = serde_json::json!({
            "interaction": {"userPhoneNumber": "+14089965744", "clientSessionId": tag},
            "phoneLogs": [{"call_id": "1"}, {"call_id": "2"}],
        });
        match http
            .post(format!("{base}{CREATE}"))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .json(&body)
            .send()
            .await
        {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                assert_eq!(
                    status, 200,
                    "a request the server took must succeed: {text}"
                );
                acked.push(tag);
                answered.fetch_add(1, Ordering::Relaxed);
            }
            // Refused, or a keep-alive connection closed by the drain before it took the request.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_acknowledged_request() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("term.db").display());
    let server = Server::start(&store);
    let addr = server.addr().to_owned();
    let next = Arc::new(Mutex::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            tokio::spawn(load(
                server.base.clone(),
                Arc::clone(&next),
                Arc::clone(&stop),
                Arc::clone(&answered),
            ))
        })
        .collect();

    // A request in flight: headers and half its body sent, the rest held back until after SIGTERM.
    let body =
        r#"{"interaction":{"userPhoneNumber":"+14089965744","clientSessionId":"in-flight"}}"#;
    let token = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", ADMIN.0, ADMIN.1))
    };
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST {CREATE} HTTP/1.1\r\nHost: test\r\nAuthorization: Basic {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let (first, rest) = body.as_bytes().split_at(20);
    slow.write_all(first).await.unwrap();

    // SIGTERM once the load is well under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while answered.load(Ordering::Relaxed) < 50 {
        assert!(Instant::now() < deadline, "the load did not get going");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.terminate();

    // New connections are refused once the signal is handled.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect(&addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            _ => {
                assert!(
                    Instant::now() < deadline,
                    "still accepting 10 s after SIGTERM"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);

    // The held request completes.
    slow.write_all(rest).await.unwrap();
    let mut reply = String::new();
    tokio::time::timeout(Duration::from_secs(20), slow.read_to_string(&mut reply))
        .await
        .expect("the in-flight request is answered")
        .unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

    let mut acked = vec!["in-flight".to_owned()];
    for c in clients {
        acked.extend(c.await.expect("client"));
    }
    let (code, log) = server.wait();
    assert_eq!(code, 0, "{log:?}");
    assert!(
        log.iter().any(|l| l.contains("shut down cleanly")),
        "{log:?}"
    );

    let server = Server::start(&store);
    let list: Value = client()
        .request(
            Method::GET,
            server.url(
                "/api/now/table/interaction?sysparm_fields=client_session_id&sysparm_limit=10000",
            ),
        )
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored: std::collections::HashSet<&str> = list["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["client_session_id"].as_str())
        .collect();
    for tag in &acked {
        assert!(
            stored.contains(tag.as_str()),
            "acknowledged {tag} is missing"
        );
    }
    println!(
        "{} creates acknowledged across SIGTERM, all present after restart",
        acked.len()
    );
    assert_eq!(server.stop().0, 0);
}

/// A stream client sees a create, and SIGTERM with the stream still open ends it and exits 0 with a complete
/// drain, not one that waited out its 30-second grace (a stream never finishes by itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_an_event_stream_open_is_clean() {
    const PATIENCE: Duration = Duration::from_secs(20);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = format!("sqlite://{}", dir.path().join("e2e.db").display());
    let server = Server::start(&store);
    let http = client();
    let mut stream = http
        .get(server.url("/api/now/openframe/events"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .header("Accept", "text/event-stream")
        .send()
        .await
        .expect("open the stream");
    assert_eq!(stream.status(), 200);
    let created: Value = http
        .post(server.url(CREATE))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .json(&serde_json::json!({"interaction": {"userPhoneNumber": "+14089965744"}}))
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    let sys_id = created["result"]["sysId"]
        .as_str()
        .expect("a sysId")
        .to_owned();
    let mut seen = String::new();
    let deadline = Instant::now() + PATIENCE;
    while !(seen.contains("event: interaction.created") && seen.contains(&sys_id)) {
        assert!(Instant::now() < deadline, "no created event: {seen:?}");
        let chunk = tokio::time::timeout(PATIENCE, stream.chunk())
            .await
            .expect("a chunk in time")
            .expect("reading the stream")
            .expect("the stream is open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }

    server.terminate();
    let ended = tokio::time::timeout(PATIENCE, async {
        loop {
            match stream.chunk().await {
                Ok(Some(_)) => continue,
                other => return other.map(|_| ()),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream ends on shutdown");
    let (code, stderr) = tokio::task::spawn_blocking(move || server.wait())
        .await
        .expect("join");
    assert_eq!(code, 0, "{stderr:?}");
    // A drain that had to wait out its grace for the stream says so.
    assert!(
        !stderr.iter().any(|line| line.contains("grace period over")),
        "{stderr:?}"
    );
    assert!(
        stderr.iter().any(|line| line.contains("shut down cleanly")),
        "{stderr:?}"
    );
}
