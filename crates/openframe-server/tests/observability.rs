//! Request ids, the request log line and `/metrics`, through the real router on a real SQLite store.
//!
//! The metrics recorder and the log subscriber are global to this test process, so assertions about counts
//! compare before and after, and log lines are picked by request ids only one test uses. The human log
//! format is checked on the real binary's standard error (`e2e_ops.rs`).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::{Method, StatusCode, header};
use common::{API_USER, TestApp, basic, reference_patch, reference_post};
use openframe_http::AppState;
use openframe_server::logging::{self, LogFormat};
use openframe_server::prometheus::Metrics;
use openframe_server::timed_repository::TimedRepository;
use serde_json::Value;

/// The reference POST's phone numbers and client session id: none may reach a log line.
const SECRETS_OF_THE_BODY: &[&str] = &["1303506536", "14089965744", "a545t65678"];
const WRONG_PASSWORD: &str = "not-the-agent-password";

/// A router over a fresh SQLite store whose operations are timed and which serves `/metrics`.
async fn observed_app() -> (TestApp, Metrics) {
    let mut app = TestApp::sqlite().await;
    let metrics = Metrics::install().expect("install the recorder");
    let repo = Arc::new(TimedRepository::new(Arc::clone(&app.repo)));
    app.router = openframe_server::server::app(AppState::new(repo), Some(metrics.clone()));
    (app, metrics)
}

fn is_uuid(id: &str) -> bool {
    id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

fn request_id(reply: &common::Reply) -> String {
    reply
        .headers
        .get("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id on a {}", reply.status))
        .to_str()
        .expect("ASCII id")
        .to_owned()
}

#[tokio::test]
async fn every_response_carries_the_request_id_given_or_generated() {
    let app = TestApp::sqlite().await;
    let auth = basic(API_USER);
    let post = reference_post().to_string().into_bytes();
    let json = ("content-type", "application/json");

    // Honoured on a success.
    let reply = app
        .raw(
            Method::POST,
            "/api/now/openframe/voice-interaction",
            &[
                ("authorization", &auth),
                json,
                ("x-request-id", "lb-42.a:b_c"),
            ],
            post.clone(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(request_id(&reply), "lb-42.a:b_c");

    // Generated when missing, fresh each time.
    let first = app
        .call(Method::GET, "/api/now/table/interaction", None)
        .await;
    let second = app
        .call(Method::GET, "/api/now/table/interaction", None)
        .await;
    assert!(is_uuid(&request_id(&first)), "{}", request_id(&first));
    assert_ne!(request_id(&first), request_id(&second));

    // Replaced when it could forge a log line or is too long.
    for bad in ["a b", "x\"y", "id;drop", &"7".repeat(129)] {
        let reply = app
            .raw(
                Method::GET,
                "/api/now/table/interaction",
                &[("authorization", &auth), ("x-request-id", bad)],
                Vec::new(),
            )
            .await;
        assert!(
            is_uuid(&request_id(&reply)),
            "{bad:?} → {}",
            request_id(&reply)
        );
    }

    // And on every kind of error: 401, 406, 400, 405, 404 outside any route.
    /// A request (method, path, headers, body) and the status it must get.
    type Case<'a> = (
        Method,
        &'a str,
        Vec<(&'a str, &'a str)>,
        Vec<u8>,
        StatusCode,
    );
    let cases: Vec<Case> = vec![
        (
            Method::GET,
            "/api/now/table/interaction",
            vec![],
            vec![],
            StatusCode::UNAUTHORIZED,
        ),
        (
            Method::GET,
            "/api/now/table/interaction",
            vec![("authorization", &auth), ("accept", "text/html")],
            vec![],
            StatusCode::NOT_ACCEPTABLE,
        ),
        (
            Method::POST,
            "/api/now/openframe/voice-interaction",
            vec![("authorization", &auth), json],
            b"{".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::DELETE,
            "/api/now/openframe/voice-interaction",
            vec![("authorization", &auth)],
            vec![],
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::GET,
            "/no/such/path",
            vec![],
            vec![],
            StatusCode::NOT_FOUND,
        ),
    ];
    for (method, uri, mut headers, body, status) in cases {
        headers.push(("x-request-id", "err-case"));
        let reply = app.raw(method.clone(), uri, &headers, body).await;
        assert_eq!(reply.status, status, "{method} {uri}: {}", reply.text);
        assert_eq!(request_id(&reply), "err-case", "{method} {uri}");
    }
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).expect("UTF-8 log")
    }
}

/// The log of this test process: JSON lines, from a global subscriber (scoped ones can miss events when
/// several tests register callsites at once).
fn captured_log() -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Captured::default();
        let sink = captured.clone();
        tracing::subscriber::set_global_default(logging::subscriber(
            LogFormat::Json,
            None,
            false,
            move || sink.clone(),
        ))
        .expect("the only global subscriber of this test process");
        captured
    })
}

#[tokio::test]
async fn request_lines_have_every_field_and_no_secret() {
    let log = captured_log();
    let app = TestApp::sqlite().await;
    let id = |n: u32| format!("log-test-{n}");
    let auth = basic(API_USER);
    let send = |n: u32, method: Method, uri: String, auth: String, body: Option<Value>| {
        let app = &app;
        async move {
            let id = id(n);
            let mut headers = vec![
                ("authorization", auth.as_str()),
                ("x-request-id", id.as_str()),
            ];
            if body.is_some() {
                headers.push(("content-type", "application/json"));
            }
            let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
            app.raw(method, &uri, &headers, bytes).await
        }
    };
    let create = "/api/now/openframe/voice-interaction".to_owned();
    let created = send(
        1,
        Method::POST,
        create.clone(),
        auth.clone(),
        Some(reference_post()),
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let sys_id = created.json()["result"]["sysId"]
        .as_str()
        .unwrap()
        .to_owned();
    let patched = send(
        2,
        Method::PATCH,
        format!("{create}/{sys_id}"),
        auth.clone(),
        Some(reference_patch()),
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    // A phone number in the query string.
    let query =
        "/api/now/table/interaction?sysparm_query=user_phone_number=%2B1303506536".to_owned();
    assert_eq!(
        send(3, Method::GET, query, auth.clone(), None).await.status,
        StatusCode::OK
    );
    let wrong = basic((API_USER.0, WRONG_PASSWORD));
    let table = "/api/now/table/interaction".to_owned();
    assert_eq!(
        send(4, Method::GET, table, wrong, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A body that fails validation, with a phone number in it.
    let mut bad = reference_post();
    bad["interaction"]["userPhoneNumber"] = Value::from("+1303506536x");
    assert_eq!(
        send(5, Method::POST, create, auth, Some(bad)).await.status,
        StatusCode::BAD_REQUEST
    );

    let text = log.text();
    let ours: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("\"log-test-"))
        .collect();
    for secret in SECRETS_OF_THE_BODY
        .iter()
        .chain(&[API_USER.1, WRONG_PASSWORD, "Basic "])
    {
        assert!(!text.contains(secret), "{secret:?} in the log:\n{text}");
    }
    let lines: Vec<Value> = ours
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .filter(|line: &Value| line["target"] == "openframe::request")
        .collect();
    assert_eq!(lines.len(), 5, "one line per request:\n{text}");
    let expect = [
        ("POST", "/api/now/openframe/voice-interaction", 200, "agent"),
        (
            "PATCH",
            "/api/now/openframe/voice-interaction/{sys_id}",
            200,
            "agent",
        ),
        ("GET", "/api/now/table/{table}", 200, "agent"),
        ("GET", "/api/now/table/{table}", 401, "-"),
        ("POST", "/api/now/openframe/voice-interaction", 400, "agent"),
    ];
    for (n, (line, (method, route, status, user))) in lines.iter().zip(expect).enumerate() {
        assert_eq!(line["request_id"], id(n as u32 + 1).as_str(), "{line}");
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(line["message"], "request", "{line}");
        assert_eq!(line["method"], method, "{line}");
        assert_eq!(line["route"], route, "{line}");
        assert_eq!(line["status"], status, "{line}");
        assert_eq!(line["user"], user, "{line}");
        assert!(
            line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
            "{line}"
        );
    }
}

/// The values of the samples of `name` whose labels include every one of `labels`.
fn samples(text: &str, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    text.lines()
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse().ok())?
        })
        .collect()
}

fn total(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(text, name, labels).iter().sum()
}

async fn scrape(app: &TestApp) -> String {
    let reply = app
        .raw(
            Method::GET,
            "/metrics",
            &[("accept", "text/plain")],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(
        reply.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "{:?}",
        reply.headers
    );
    reply.text
}

#[tokio::test]
async fn metrics_count_requests_store_operations_and_group_commits() {
    let (app, _metrics) = observed_app().await;
    let before = scrape(&app).await;
    let created = [
        ("method", "POST"),
        ("route", "/api/now/openframe/voice-interaction"),
        ("status", "200"),
    ];
    let read_route = "/api/now/openframe/voice-interaction/{sys_id}";
    let commits = [("store", "sqlite")];

    let sys_id = app.create(&reference_post()).await;
    app.create(&reference_post()).await;
    app.read(&sys_id).await;
    let missing = app
        .call(
            Method::PATCH,
            &format!("/api/now/openframe/voice-interaction/{}", "0".repeat(32)),
            Some(&reference_patch()),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
    let anonymous = app
        .raw(Method::GET, "/api/now/table/interaction", &[], Vec::new())
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    let after = scrape(&app).await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        total(&after, name, labels) - total(&before, name, labels)
    };
    assert_eq!(
        grew("openframe_http_requests_total", &created),
        2.0,
        "{after}"
    );
    assert_eq!(
        grew("openframe_http_request_duration_seconds_count", &created),
        2.0
    );
    assert_eq!(
        grew(
            "openframe_http_requests_total",
            &[("method", "GET"), ("route", read_route), ("status", "200")]
        ),
        1.0
    );
    assert_eq!(
        grew(
            "openframe_http_requests_total",
            &[
                ("method", "PATCH"),
                ("route", read_route),
                ("status", "404")
            ]
        ),
        1.0
    );
    assert!(
        grew(
            "openframe_http_requests_total",
            &[("route", "/api/now/table/{table}"), ("status", "401")]
        ) >= 1.0
    );
    // Buckets, cumulative up to +Inf.
    let buckets = samples(
        &after,
        "openframe_http_request_duration_seconds_bucket",
        &created,
    );
    assert!(buckets.len() > 5, "{after}");
    assert_eq!(
        samples(
            &after,
            "openframe_http_request_duration_seconds_bucket",
            &[created[0], created[1], created[2], ("le", "+Inf")]
        ),
        samples(
            &after,
            "openframe_http_request_duration_seconds_count",
            &created
        )
    );

    // Store operations through the timing decorator, by outcome.
    for (operation, outcome, at_least) in [
        ("create_interaction", "ok", 2.0),
        ("load_interaction", "ok", 1.0),
        ("update_interaction", "not_found", 1.0),
    ] {
        let labels = [("operation", operation), ("outcome", outcome)];
        let n = grew("openframe_store_operation_duration_seconds_count", &labels);
        assert!(n >= at_least, "{operation}/{outcome}: {n}\n{after}");
    }

    // The SQLite writer's group commits: two creates, each at least one batch.
    let batches = grew("openframe_store_commit_batch_size_count", &commits);
    assert!(batches >= 1.0, "{after}");
    assert!(grew("openframe_store_commit_batch_size_sum", &commits) >= 2.0);
    assert!(!samples(&after, "openframe_store_commit_batch_size_bucket", &commits).is_empty());

    // Pool gauges, refreshed by the scrape.
    let idle = total(
        &after,
        "openframe_store_pool_connections",
        &[("store", "sqlite"), ("state", "idle")],
    );
    let max = total(
        &after,
        "openframe_store_pool_max_connections",
        &[("store", "sqlite")],
    );
    assert!(max >= 1.0 && idle >= 1.0 && idle <= max, "{after}");

    // No user names, ids or phone numbers in labels.
    for private in [API_USER.0, sys_id.as_str(), "1303506536"] {
        assert!(!after.contains(private), "{private} in /metrics");
    }
}

#[tokio::test]
async fn metrics_are_served_only_when_asked_for() {
    let app = TestApp::sqlite().await;
    let reply = app.raw(Method::GET, "/metrics", &[], Vec::new()).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

/// A router like [`observed_app`]'s over `repo`.
async fn observed(repo: Arc<dyn openframe_core::Repository>, dir: tempfile::TempDir) -> TestApp {
    let mut app = TestApp::with_repo(repo, dir).await;
    let metrics = Metrics::install().expect("install the recorder");
    let repo = Arc::new(TimedRepository::new(Arc::clone(&app.repo)));
    app.router = openframe_server::server::app(AppState::new(repo), Some(metrics));
    app
}

#[tokio::test]
async fn sled_group_commits_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let repo = openframe_store_sled::SledRepository::open(&dir.path().join("sled")).expect("sled");
    let app = observed(Arc::new(repo), dir).await;
    let commits = [("store", "sled")];
    let before = scrape(&app).await;
    app.create(&reference_post()).await;
    let after = scrape(&app).await;
    let grew = |name: &str| total(&after, name, &commits) - total(&before, name, &commits);
    assert!(
        grew("openframe_store_commit_batch_size_count") >= 1.0,
        "{after}"
    );
    assert!(
        grew("openframe_store_commit_batch_size_sum") >= 1.0,
        "{after}"
    );
}

#[tokio::test]
async fn postgres_pool_sizes_are_gauged() {
    let Ok(url) = std::env::var("OPENFRAME_TEST_POSTGRES_URL") else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI needs OPENFRAME_TEST_POSTGRES_URL"
        );
        eprintln!("SKIPPED postgres_pool_sizes_are_gauged: set OPENFRAME_TEST_POSTGRES_URL");
        return;
    };
    use openframe_store_postgres::{PostgresOptions, PostgresRepository};
    use sqlx::Connection;
    let schema = format!(
        "metrics_{}",
        &openframe_core::SysId::random().as_str()[..12]
    );
    let options = PostgresOptions::default().with_max_connections(7);
    let repo = PostgresRepository::connect_in_schema(&url, &schema, options)
        .await
        .expect("connect");
    let app = observed(Arc::new(repo), tempfile::tempdir().unwrap()).await;
    app.create(&reference_post()).await;
    let text = scrape(&app).await;
    let gauge = |state: &str| {
        total(
            &text,
            "openframe_store_pool_connections",
            &[("store", "postgres"), ("state", state)],
        )
    };
    assert_eq!(
        total(
            &text,
            "openframe_store_pool_max_connections",
            &[("store", "postgres")]
        ),
        7.0,
        "{text}"
    );
    // At least the connection the create used is open; sqlx may still be checking it back in (it pings
    // on release), so it may count as idle or as in use.
    let open = gauge("idle") + gauge("in_use");
    assert!((1.0..=7.0).contains(&open), "{text}");

    drop(app);
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(&mut conn)
    .await
    .expect("drop the test schema");
}
