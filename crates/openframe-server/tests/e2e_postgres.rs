//! End to end on PostgreSQL: two `openframe serve` processes sharing one database, and a database outage under
//! a running server. Needs `OPENFRAME_TEST_POSTGRES_URL` (`scripts/test.sh` sets it); without it the tests
//! say loudly that they were skipped, except under `CI=true`, where that is a failure.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::binary::{ADMIN_PASSWORD, Server, send};
use common::postgres::{TestDatabase, postgres_url};
use reqwest::Method;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const ADMIN: (&str, &str) = ("admin", ADMIN_PASSWORD);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_one_database() {
    let Some(url) = postgres_url("two_servers_share_one_database") else {
        return;
    };
    let db = TestDatabase::create(&url).await;
    let a = Server::start(&db.url(None));
    let b = Server::start(&db.url(None));

    let body = r#"{"interaction":{"userPhoneNumber":"+14089965744","clientSessionId":"shared"}}"#;
    let tasks: Vec<JoinHandle<(usize, String, String)>> = (0..96)
        .map(|i| {
            let base = if i % 2 == 0 {
                a.base.clone()
            } else {
                b.base.clone()
            };
            tokio::spawn(async move {
                let url = format!("{base}/api/now/openframe/voice-interaction");
                let (status, reply) = send(Method::POST, &url, ADMIN, Some(body)).await;
                assert_eq!(status, 200, "{reply}");
                let r = &reply["result"];
                (
                    i % 2,
                    r["sysId"].as_str().unwrap().to_owned(),
                    r["number"].as_str().unwrap().to_owned(),
                )
            })
        })
        .collect();
    let mut created = Vec::new();
    for t in tasks {
        created.push(t.await.expect("create task"));
    }
    let numbers: HashSet<&str> = created.iter().map(|(_, _, n)| n.as_str()).collect();
    assert_eq!(
        numbers.len(),
        created.len(),
        "numbers are distinct across servers"
    );

    // Each server reads what the other created.
    for (from, sys_id, number) in &created {
        let other = if *from == 0 { &b } else { &a };
        let (status, read) = send(
            Method::GET,
            &other.url(&format!("/api/now/openframe/voice-interaction/{sys_id}")),
            ADMIN,
            None,
        )
        .await;
        assert_eq!(status, 200, "{read}");
        assert_eq!(read["result"]["number"], number.as_str());
    }
    let (_, list) = send(
        Method::GET,
        &a.url("/api/now/table/interaction?sysparm_query=client_session_id=shared&sysparm_limit=1"),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(list["result"].as_array().map(Vec::len), Some(1));

    assert_eq!(a.stop().0, 0);
    assert_eq!(b.stop().0, 0);
    db.drop_now().await;
}

/// The proxy's accept loop and the connections it forwards.
type Running = (JoinHandle<()>, Arc<Mutex<Vec<JoinHandle<()>>>>);

/// A TCP forwarder that can be cut and restored, standing in for the network path to PostgreSQL.
struct Proxy {
    addr: String,
    upstream: String,
    running: Mutex<Option<Running>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr").to_string();
        let proxy = Proxy {
            addr,
            upstream: upstream.to_owned(),
            running: Mutex::new(None),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let tracked = Arc::clone(&conns);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tracked.lock().unwrap().push(conn);
            }
        });
        *self.running.lock().unwrap() = Some((accept, conns));
    }

    /// Cuts every connection and stops accepting: the database is gone.
    fn cut(&self) {
        if let Some((accept, conns)) = self.running.lock().unwrap().take() {
            accept.abort();
            conns.lock().unwrap().drain(..).for_each(|c| c.abort());
        }
    }

    /// The database is back, on the same address.
    async fn restore(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match TcpListener::bind(&self.addr).await {
                Ok(listener) => return self.serve(listener),
                Err(e) if Instant::now() > deadline => panic!("rebind proxy: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

/// What the load saw, phase by phase.
#[derive(Debug, Default)]
struct Tally {
    ok: usize,
    unavailable: usize,
    slowest: Duration,
    /// Tags of the acknowledged creates.
    acked: Vec<String>,
}

/// Creates interactions until `stop`; panics on any answer but 200 and 503-with-Retry-After, and on any that
/// takes longer than `limit`.
async fn outage_load(
    url: String,
    worker: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
    limit: Duration,
) -> Tally {
    let http = common::binary::client();
    let mut tally = Tally::default();
    let mut n = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        n += 1;
        let tag = format!("outage-{worker}-{n}");
        let body = format!(
            r#"{{"interaction":{{"userPhoneNumber":"+14089965744","clientSessionId":"{tag}"}},"phoneLogs":[{{"call_id":"1"}}]}}"#
        );
        let started = Instant::now();
        let resp = http
            .post(&url)
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the server answers during the outage");
        let took = started.elapsed();
        assert!(took < limit, "a request took {took:?}");
        tally.slowest = tally.slowest.max(took);
        match resp.status().as_u16() {
            200 => {
                tally.ok += 1;
                tally.acked.push(tag);
            }
            503 => {
                assert!(resp.headers().contains_key("retry-after"));
                tally.unavailable += 1;
                // A client honouring Retry-After would wait 5 s; this one keeps the pressure on.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("status {other}: {:?}", resp.text().await),
        }
    }
    tally
}

/// Runs `workers` load clients until `stop` is set; returns their joined tallies.
fn start_load(
    url: &str,
    phase: &str,
    workers: usize,
    limit: Duration,
) -> (Arc<std::sync::atomic::AtomicBool>, Vec<JoinHandle<Tally>>) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tasks = (0..workers)
        .map(|w| {
            tokio::spawn(outage_load(
                url.to_owned(),
                format!("{phase}{w}"),
                Arc::clone(&stop),
                limit,
            ))
        })
        .collect();
    (stop, tasks)
}

async fn finish_load(
    (stop, tasks): (Arc<std::sync::atomic::AtomicBool>, Vec<JoinHandle<Tally>>),
) -> Tally {
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = Tally::default();
    for t in tasks {
        let t = t.await.expect("load task");
        total.ok += t.ok;
        total.unavailable += t.unavailable;
        total.slowest = total.slowest.max(t.slowest);
        total.acked.extend(t.acked);
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_under_load_is_503_and_the_server_recovers_by_itself() {
    let Some(url) = postgres_url("an_outage_under_load_is_503_and_the_server_recovers_by_itself")
    else {
        return;
    };
    let db = TestDatabase::create(&url).await;
    let proxy = Proxy::start(&db.server_addr()).await;
    let server = Server::start(&db.url(Some(&proxy.addr)));
    let create = server.url("/api/now/openframe/voice-interaction");
    // The pool's acquire timeout is 5 s: no request may take much longer, outage or not.
    let limit = Duration::from_secs(15);

    let load = start_load(&create, "during", 8, limit);
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.cut();
    // Down for a few seconds, longer than the acquire timeout, under load the whole time.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let (status, _) = send(Method::GET, &server.url("/healthz"), ("", ""), None).await;
    assert_eq!(status, 503);
    // A credential the server has not cached (the scheme's case differs, so the cache key does): eight
    // requests at once queue for one check, and each must still be answered within the limit.
    let uncached = {
        use base64::Engine;
        format!(
            "basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", ADMIN.0, ADMIN.1))
        )
    };
    let queued: Vec<JoinHandle<(u16, Duration)>> = (0..8)
        .map(|_| {
            let (create, uncached) = (create.clone(), uncached.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let resp = common::binary::client()
                    .post(&create)
                    .header("authorization", uncached)
                    .header("content-type", "application/json")
                    .body(r#"{"interaction":{"userPhoneNumber":"+14089965744"}}"#)
                    .send()
                    .await
                    .expect("answered");
                (resp.status().as_u16(), started.elapsed())
            })
        })
        .collect();
    for q in queued {
        let (status, took) = q.await.expect("queued request");
        assert_eq!(status, 503);
        assert!(took < limit, "a queued sign-in took {took:?}");
    }
    let during = finish_load(load).await;
    assert!(during.unavailable > 0, "the outage was seen: {during:?}");

    let load = start_load(&create, "after", 8, limit);
    proxy.restore().await;
    // Back: requests succeed again without restarting openframe.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, reply) = send(Method::GET, &server.url("/healthz"), ("", ""), None).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{reply}");
        assert!(Instant::now() < deadline, "did not recover within 30 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = finish_load(load).await;
    assert!(after.ok > 0, "creates succeed again: {after:?}");
    println!(
        "outage under load: before/during {} ok, {} 503; after {} ok, {} 503; slowest {:?}",
        during.ok,
        during.unavailable,
        after.ok,
        after.unavailable,
        during.slowest.max(after.slowest)
    );

    // Every acknowledged create is there, whole.
    for tag in during.acked.iter().chain(&after.acked) {
        let (status, list) = send(
            Method::GET,
            &server.url(&format!(
                "/api/now/table/interaction?sysparm_query=client_session_id={tag}&sysparm_fields=sys_id"
            )),
            ADMIN,
            None,
        )
        .await;
        assert_eq!(status, 200);
        let rows = list["result"].as_array().expect("rows");
        assert_eq!(rows.len(), 1, "acknowledged {tag}: {list}");
        let sys_id = rows[0]["sys_id"].as_str().expect("sys_id");
        let (_, read) = send(
            Method::GET,
            &server.url(&format!("/api/now/openframe/voice-interaction/{sys_id}")),
            ADMIN,
            None,
        )
        .await;
        assert_eq!(
            read["result"]["phoneLogs"].as_array().map(Vec::len),
            Some(1)
        );
    }
    assert_eq!(server.stop().0, 0);
    db.drop_now().await;
}
