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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_503_and_the_server_recovers_by_itself() {
    let Some(url) = postgres_url("an_outage_is_503_and_the_server_recovers_by_itself") else {
        return;
    };
    let db = TestDatabase::create(&url).await;
    let proxy = Proxy::start(&db.server_addr()).await;
    let server = Server::start(&db.url(Some(&proxy.addr)));
    let create = server.url("/api/now/openframe/voice-interaction");
    let body = r#"{"interaction":{"userPhoneNumber":"+14089965744"}}"#;
    let (status, _) = send(Method::POST, &create, ADMIN, Some(body)).await;
    assert_eq!(status, 200);

    proxy.cut();
    // While it is down: 503 with Retry-After, never a 500, never a hang past the pool's acquire timeout.
    for _ in 0..3 {
        let started = Instant::now();
        let resp = common::binary::client()
            .post(&create)
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the server answers during the outage");
        assert_eq!(resp.status().as_u16(), 503, "{:?}", resp.text().await);
        assert!(resp.headers().contains_key("retry-after"));
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "took {:?}",
            started.elapsed()
        );
    }
    let (status, _) = send(Method::GET, &server.url("/healthz"), ("", ""), None).await;
    assert_eq!(status, 503);

    proxy.restore().await;
    // Back: requests succeed again without restarting openframe.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, reply) = send(Method::POST, &create, ADMIN, Some(body)).await;
        if status == 200 {
            assert_eq!(
                reply["result"]["number"], "IMS0001002",
                "nothing was written during the outage"
            );
            break;
        }
        assert_eq!(status, 503, "{reply}");
        assert!(Instant::now() < deadline, "did not recover within 30 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(server.stop().0, 0);
    db.drop_now().await;
}
