//! `GET /api/now/openframe/events` through the real router, served on a real socket, on every store:
//! ordering, filters and the routing of each event to exactly its clients, resume with `Last-Event-ID`, reset
//! beyond the retention window or for an unknown id, clients too slow for their mailboxes, subscribe and
//! unsubscribe churn, auth, and two servers on one PostgreSQL database.
//! The PostgreSQL cases need `OPENFRAME_TEST_POSTGRES_URL` (skipped loudly without it, failing under
//! `CI=true`). The binary's own stream (and its shutdown with a stream open) is tested in openframe-server.

use std::sync::Arc;
use std::time::Duration;

use openframe_core::{MemoryRepository, Repository};
use openframe_http::events::{EventHub, EventSettings, IndexSize};
use openframe_http::{AppState, router};
use openframe_store_postgres::{PostgresOptions, PostgresRepository};
use openframe_store_sled::SledRepository;
use openframe_store_sqlite::SqliteRepository;
use openframe_testkit::{API_USER, INBOUND_ID, NO_ROLE_USER, TestApp, basic};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection};
use tokio::task::JoinHandle;

/// How long a test waits for an event that must come (generous: the machine is shared).
const PATIENCE: Duration = Duration::from_secs(20);

/// One parsed SSE event.
#[derive(Clone, Debug)]
struct SseEvent {
    id: u64,
    event: String,
    data: Value,
}

/// A stream client reading the response body chunk by chunk.
struct SseClient {
    response: reqwest::Response,
    buffer: String,
}

impl SseClient {
    /// The next event (comments skipped); panics after [`PATIENCE`].
    async fn next(&mut self) -> SseEvent {
        tokio::time::timeout(PATIENCE, self.next_inner())
            .await
            .unwrap_or_else(|_| panic!("no event within {PATIENCE:?} (buffer: {:?})", self.buffer))
    }

    /// The next event if one arrives within `wait`.
    async fn next_within(&mut self, wait: Duration) -> Option<SseEvent> {
        tokio::time::timeout(wait, self.next_inner()).await.ok()
    }

    async fn next_inner(&mut self) -> SseEvent {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse_block(&block) {
                    return event;
                }
                continue;
            }
            let chunk = self
                .response
                .chunk()
                .await
                .expect("reading the stream")
                .expect("the stream ended");
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8 stream"));
        }
    }

    async fn take(&mut self, n: usize) -> Vec<SseEvent> {
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            events.push(self.next().await);
        }
        events
    }
}

fn parse_block(block: &str) -> Option<SseEvent> {
    let (mut id, mut event, mut data) = (None, None, None);
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("id: ") {
            id = Some(v.parse().expect("a decimal id"));
        } else if let Some(v) = line.strip_prefix("event: ") {
            event = Some(v.to_owned());
        } else if let Some(v) = line.strip_prefix("data: ") {
            data = Some(serde_json::from_str(v).expect("JSON data"));
        }
    }
    Some(SseEvent {
        id: id?,
        event: event?,
        data: data?,
    })
}

/// The router over a store, served on a loopback port.
struct Served {
    app: TestApp,
    /// The router's event hub, to look at its subscriber index.
    hub: Arc<EventHub>,
    base: String,
    server: JoinHandle<()>,
    http: reqwest::Client,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Served {
    async fn start(repo: Arc<dyn Repository>, settings: EventSettings) -> Served {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut app = TestApp::with_repo(repo, dir).await;
        let state = AppState::new(Arc::clone(&app.repo)).with_event_settings(settings);
        let hub = Arc::clone(state.events());
        app.router = router(state);
        Served::serve(app, hub).await
    }

    async fn serve(app: TestApp, hub: Arc<EventHub>) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let router = app.router.clone();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Served {
            app,
            hub,
            base,
            server,
            http: reqwest::Client::new(),
        }
    }

    /// Opens the stream with `query` and extra headers as `user`; returns the response as it is.
    async fn open_as(
        &self,
        user: (&str, &str),
        query: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self
            .http
            .get(format!("{}/api/now/openframe/events{query}", self.base))
            .header("Authorization", basic(user))
            .header("Accept", "text/event-stream");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send().await.expect("request")
    }

    /// Opens the stream, which must answer 200 with `text/event-stream`. The handler has subscribed by
    /// the time the headers arrive, so every event committed from now on reaches it.
    async fn stream(&self, query: &str, headers: &[(&str, &str)]) -> SseClient {
        let response = self.open_as(API_USER, query, headers).await;
        assert_eq!(response.status(), 200);
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        SseClient {
            response,
            buffer: String::new(),
        }
    }

    async fn post(&self, body: &Value) -> String {
        let reply: Value = self
            .http
            .post(format!("{}/api/now/openframe/voice-interaction", self.base))
            .header("Authorization", basic(API_USER))
            .json(body)
            .send()
            .await
            .expect("POST")
            .json()
            .await
            .expect("JSON");
        reply["result"]["sysId"]
            .as_str()
            .unwrap_or_else(|| panic!("create failed: {reply}"))
            .to_owned()
    }

    async fn patch(&self, sys_id: &str, body: &Value) {
        let response = self
            .http
            .patch(format!(
                "{}/api/now/openframe/voice-interaction/{sys_id}",
                self.base
            ))
            .header("Authorization", basic(API_USER))
            .json(body)
            .send()
            .await
            .expect("PATCH");
        assert_eq!(response.status(), 200);
    }

    async fn agent_sys_id(&self) -> String {
        self.app
            .repo
            .find_user(API_USER.0)
            .await
            .expect("find user")
            .expect("the API user")
            .sys_id
            .as_str()
            .to_owned()
    }
}

fn call(session: &str) -> Value {
    json!({"interaction": {"userPhoneNumber": "+14089965744", "clientSessionId": session}})
}

fn ids(events: &[SseEvent]) -> Vec<u64> {
    events.iter().map(|e| e.id).collect()
}

/// Every store, each test: one module per store with the shared cases.
macro_rules! every_store {
    ($($store:ident => $make:expr;)+) => {$(
        mod $store {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn order_and_filters() {
                let Some((repo, _guard)) = $make(stringify!($store::order_and_filters)).await else { return };
                super::order_and_filters(repo).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn resume_and_reset() {
                let Some((repo, _guard)) = $make(stringify!($store::resume_and_reset)).await else { return };
                super::resume_and_reset(repo).await;
            }

            // A current-thread runtime: the pump routes a whole page before any client runs, so a small
            // mailbox overflows for certain.
            #[tokio::test(flavor = "current_thread")]
            async fn slow_clients_catch_up_from_the_outbox() {
                let Some((repo, _guard)) = $make(stringify!($store::slow_clients_catch_up_from_the_outbox)).await else { return };
                super::slow_clients_catch_up_from_the_outbox(repo).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn each_event_reaches_exactly_its_clients() {
                let Some((repo, _guard)) = $make(stringify!($store::each_event_reaches_exactly_its_clients)).await else { return };
                super::each_event_reaches_exactly_its_clients(repo).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_resumed_client_gets_nothing_twice() {
                let Some((repo, _guard)) = $make(stringify!($store::a_resumed_client_gets_nothing_twice)).await else { return };
                super::a_resumed_client_gets_nothing_twice(repo).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn churn_leaves_nothing_in_the_index() {
                let Some((repo, _guard)) = $make(stringify!($store::churn_leaves_nothing_in_the_index)).await else { return };
                super::churn_leaves_nothing_in_the_index(repo).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn deletes_reach_the_clients_of_the_interaction() {
                let Some((repo, _guard)) = $make(stringify!($store::deletes_reach_the_clients_of_the_interaction)).await else { return };
                super::deletes_reach_the_clients_of_the_interaction(repo).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_client_starts_at_the_head_after_writes_nobody_heard() {
                let Some((repo, _guard)) = $make(stringify!($store::a_client_starts_at_the_head_after_writes_nobody_heard)).await else { return };
                super::a_client_starts_at_the_head_after_writes_nobody_heard(repo).await;
            }
        }
    )+};
}

type Guard = Box<dyn std::any::Any + Send>;

async fn memory(_: &str) -> Option<(Arc<dyn Repository>, Guard)> {
    Some((Arc::new(MemoryRepository::new()), Box::new(())))
}

async fn sqlite(_: &str) -> Option<(Arc<dyn Repository>, Guard)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = SqliteRepository::open(&dir.path().join("events.db")).expect("open sqlite");
    Some((Arc::new(repo), Box::new(dir)))
}

async fn sled(_: &str) -> Option<(Arc<dyn Repository>, Guard)> {
    Some((
        Arc::new(SledRepository::temporary().expect("open sled")),
        Box::new(()),
    ))
}

async fn postgres(test: &str) -> Option<(Arc<dyn Repository>, Guard)> {
    let schema = PgSchema::create(test).await?;
    let repo = schema.connect().await;
    Some((Arc::new(repo), Box::new(schema)))
}

every_store! {
    memory_store => memory;
    sqlite_store => sqlite;
    sled_store => sled;
    postgres_store => postgres;
}

/// A Table API delete reaches the streams its interaction's events reach, as `interaction.deleted` with the
/// interaction's `assigned_to` and the collections deleted with it; a child's delete is its parent's
/// `interaction.updated` naming the collection.
async fn deletes_reach_the_clients_of_the_interaction(repo: Arc<dyn Repository>) {
    const ADMIN: (&str, &str) = ("boss", "boss-password");
    let served = Served::start(repo, EventSettings::default()).await;
    openframe_http::add_user(
        served.app.repo.as_ref(),
        ADMIN.0,
        ADMIN.1,
        vec!["admin".into()],
    )
    .await
    .expect("add admin");
    let me = served.agent_sys_id().await;
    let mut all = served.stream("", &[]).await;
    let mut mine = served.stream("?assigned_to=me", &[]).await;
    let mut body = call("deleted-1");
    body["interaction"]["additionalParams"] = json!({"assigned_to": me});
    body["phoneLogs"] = json!([{"call_id": "a"}, {"call_id": "b"}]);
    let assigned = served.post(&body).await;
    let other = served.post(&call("kept-1")).await;
    let delete = |path: String| {
        served
            .http
            .delete(format!("{}{path}", served.base))
            .header("Authorization", basic(ADMIN))
            .send()
    };
    let log = served
        .app
        .repo
        .load_interaction(&openframe_core::SysId::parse(&assigned).unwrap())
        .await
        .unwrap()
        .unwrap()
        .phone_logs[0]
        .sys_id()
        .to_owned();
    let response = delete(format!("/api/now/table/sn_openframe_phone_log/{log}"))
        .await
        .expect("DELETE");
    assert_eq!(response.status(), 204);
    let response = delete(format!("/api/now/table/interaction/{assigned}"))
        .await
        .expect("DELETE");
    assert_eq!(response.status(), 204);

    let seen = all.take(4).await;
    let kinds: Vec<(&str, &str)> = seen
        .iter()
        .map(|e| (e.event.as_str(), e.data["sysId"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("interaction.created", assigned.as_str()),
            ("interaction.created", other.as_str()),
            ("interaction.updated", assigned.as_str()),
            ("interaction.deleted", assigned.as_str()),
        ]
    );
    assert_eq!(seen[2].data["children"], json!(["phone_logs"]));
    assert_eq!(
        seen[3].data["children"],
        json!(["phone_logs"]),
        "the delete names the collections that went with the interaction"
    );
    assert_eq!(seen[3].data["assignedTo"], me);
    let mine_seen: Vec<String> = mine.take(3).await.into_iter().map(|e| e.event).collect();
    assert_eq!(
        mine_seen,
        [
            "interaction.created",
            "interaction.updated",
            "interaction.deleted"
        ],
        "the assignee's stream gets the delete"
    );
}

/// Creates and updates of two interactions reach an unfiltered stream in commit order with what changed,
/// and each filtered stream gets exactly its interaction's events.
async fn order_and_filters(repo: Arc<dyn Repository>) {
    let served = Served::start(repo, EventSettings::default()).await;
    let me = served.agent_sys_id().await;
    let mut all = served.stream("", &[]).await;
    let mut mine = served.stream("?assigned_to=me", &[]).await;
    let mut mine_by_id = served.stream(&format!("?assigned_to={me}"), &[]).await;
    let mut inbound = served
        .stream(&format!("?inbound_id={INBOUND_ID}"), &[])
        .await;
    let mut both = served
        .stream(&format!("?assigned_to=me&inbound_id={INBOUND_ID}"), &[])
        .await;

    let a = served
        .post(&json!({"interaction": {"userPhoneNumber": "+14089965744",
                                       "additionalParams": {"assigned_to": me}}}))
        .await;
    let b = served
        .post(&json!({"interaction": {"userPhoneNumber": "+14089965744", "inboundId": INBOUND_ID}}))
        .await;
    served
        .patch(
            &a,
            &json!({"interaction": {"additionalParams": {"state": "work_in_progress"}}}),
        )
        .await;
    served
        .patch(&a, &json!({"interactionContext": {"queue": "sales"}}))
        .await;
    served
        .patch(&b, &json!({"phoneLogs": [{"call_id": "c-1", "agent": me}]}))
        .await;

    let events = all.take(5).await;
    let seen: Vec<(&str, &str, u64)> = events
        .iter()
        .map(|e| {
            (
                e.event.as_str(),
                e.data["sysId"].as_str().unwrap_or_default(),
                e.data["sysModCount"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("interaction.created", a.as_str(), 0),
            ("interaction.created", b.as_str(), 0),
            ("interaction.updated", a.as_str(), 1),
            ("interaction.updated", a.as_str(), 2),
            ("interaction.updated", b.as_str(), 1),
        ]
    );
    for pair in events.windows(2) {
        assert!(
            pair[0].id < pair[1].id,
            "ids increase along the stream: {:?}",
            ids(&events)
        );
    }
    let created = &events[0].data;
    assert!(
        created["number"]
            .as_str()
            .is_some_and(|n| n.starts_with("IMS")),
        "{created}"
    );
    assert_eq!(created["assignedTo"], me.as_str());
    assert_eq!(created["changes"]["assigned_to"], me.as_str());
    assert_eq!(created["changes"]["user_phone_number"], "+14089965744");
    assert_eq!(created["children"], json!([]));
    assert_eq!(events[1].data["inboundId"], INBOUND_ID);
    assert_eq!(events[2].data["changes"]["state"], "work_in_progress");
    assert_eq!(events[2].data["number"], created["number"]);
    assert_eq!(events[3].data["children"], json!(["context"]));
    assert_eq!(events[4].data["children"], json!(["phone_logs"]));

    let expect = |client: &str, got: &[SseEvent], want: &[usize]| {
        let want: Vec<u64> = want.iter().map(|&i| events[i].id).collect();
        assert_eq!(ids(got), want, "{client}");
    };
    expect("assigned_to=me", &mine.take(3).await, &[0, 2, 3]);
    expect(
        "assigned_to=<sys_id>",
        &mine_by_id.take(3).await,
        &[0, 2, 3],
    );
    expect("inbound_id", &inbound.take(2).await, &[1, 4]);
    // Nothing matches both until an interaction assigned to me has that inbound id.
    served
        .patch(
            &b,
            &json!({"interaction": {"additionalParams": {"assigned_to": me}}}),
        )
        .await;
    let last = all.next().await;
    let got = both.next().await;
    assert_eq!(got.id, last.id, "the AND of both filters");
    for client in [&mut mine, &mut inbound] {
        assert_eq!(client.next().await.id, last.id);
    }
}

/// `Last-Event-ID` (and `?last_event_id=`) replays exactly the events after it, then the live ones; an id
/// beyond the retention window or ahead of the store gets one `reset` whose id is the head.
async fn resume_and_reset(repo: Arc<dyn Repository>) {
    let served = Served::start(Arc::clone(&repo), EventSettings::default()).await;
    let mut all = served.stream("", &[]).await;
    for i in 0..6 {
        served.post(&call(&format!("r-{i}"))).await;
    }
    let events = all.take(6).await;

    let mut resumed = served
        .stream("", &[("Last-Event-ID", &events[2].id.to_string())])
        .await;
    assert_eq!(
        ids(&resumed.take(3).await),
        ids(&events[3..]),
        "no loss, no repeat"
    );
    let mut by_param = served
        .stream(&format!("?last_event_id={}", events[4].id), &[])
        .await;
    assert_eq!(by_param.next().await.id, events[5].id);
    let live = served.post(&call("r-live")).await;
    let next = resumed.next().await;
    assert_eq!(
        next.data["sysId"],
        live.as_str(),
        "live events follow the replay"
    );
    assert_eq!(next.id, all.next().await.id);
    assert_eq!(by_param.next().await.id, next.id);
    let head = next.id;

    let mut ahead = served
        .stream("", &[("Last-Event-ID", &(head + 100).to_string())])
        .await;
    let reset = ahead.next().await;
    assert_eq!(reset.event, "reset");
    assert_eq!(reset.id, head, "a reset says where the stream goes on from");
    assert!(reset.data["reason"].is_string(), "{}", reset.data);

    repo.prune_events(2).await.expect("prune");
    let mut behind = served
        .stream("", &[("Last-Event-ID", &events[0].id.to_string())])
        .await;
    let reset = behind.next().await;
    assert_eq!(reset.event, "reset");
    assert_eq!(reset.id, head);
    // Within the window, resuming still works after the prune.
    let mut inside = served
        .stream("", &[("Last-Event-ID", &events[5].id.to_string())])
        .await;
    assert_eq!(inside.next().await.id, head);

    let after = served.post(&call("r-after")).await;
    for client in [&mut ahead, &mut behind, &mut inside] {
        let event = client.next().await;
        assert_eq!(event.data["sysId"], after.as_str());
        assert_eq!(event.id, head + 1);
    }
}

/// An agent's sys_id (`i` in 32 hex digits): a call can be assigned to it without a user of that id.
fn agent(i: usize) -> String {
    format!("{i:032x}")
}

/// A second provider application's inbound id, next to [`INBOUND_ID`].
const SECOND_LINE: &str = "second-line-1";

/// A create body assigned to `assigned_to` on `inbound_id` (each when given).
fn call_for(session: &str, assigned_to: Option<&str>, inbound_id: Option<&str>) -> Value {
    let mut interaction = json!({"userPhoneNumber": "+14089965744", "clientSessionId": session});
    if let Some(agent) = assigned_to {
        interaction["additionalParams"] = json!({ "assigned_to": agent });
    }
    if let Some(line) = inbound_id {
        interaction["inboundId"] = json!(line);
    }
    json!({ "interaction": interaction })
}

/// Waits until `check` holds; panics after [`PATIENCE`].
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {PATIENCE:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Many clients with different filters (two on one agent) each get exactly the events their filter
/// matches, in commit order, and nothing else; an unfiltered client gets everything. A reassigned call's
/// event goes to the agent it is assigned to after the write.
async fn each_event_reaches_exactly_its_clients(repo: Arc<dyn Repository>) {
    let served = Served::start(Arc::clone(&repo), EventSettings::default()).await;
    let line = openframe_core::user::new_provider_application(
        openframe_core::SysId::random(),
        SECOND_LINE,
        "Second line",
        "test",
        openframe_core::DateTime::now(),
    )
    .expect("provider app");
    repo.add_provider_application(&line)
        .await
        .expect("add provider");
    let agents: Vec<String> = (1..=3).map(agent).collect();
    let lines = [INBOUND_ID, SECOND_LINE];
    let mut filters: Vec<(Option<String>, Option<String>)> = agents
        .iter()
        .map(|a| (Some(a.clone()), None))
        .chain([(Some(agents[1].clone()), None)])
        .chain(lines.iter().map(|l| (None, Some((*l).to_owned()))))
        .collect();
    filters.push((Some(agents[0].clone()), Some(SECOND_LINE.to_owned())));
    filters.push((None, None));
    let mut clients = Vec::new();
    for (assigned_to, inbound_id) in &filters {
        let mut query: Vec<String> = Vec::new();
        query.extend(assigned_to.iter().map(|a| format!("assigned_to={a}")));
        query.extend(inbound_id.iter().map(|i| format!("inbound_id={i}")));
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        clients.push(served.stream(&query, &[]).await);
    }
    assert_eq!(
        served.hub.index_size(),
        IndexSize {
            subscribers: filters.len(),
            assigned_to_keys: 3,
            inbound_id_keys: 2,
            unfiltered: 1,
        }
    );

    // Each write's interaction as it is after the write, in commit order: (sys_id, assigned_to, inbound_id).
    let mut written: Vec<(String, String, String)> = Vec::new();
    for i in 0..24 {
        let assigned_to = (i % 4 != 3).then(|| agents[i % 3].as_str());
        let inbound_id = (i % 5 != 0).then(|| lines[(i / 2) % 2]);
        let sys_id = served
            .post(&call_for(&format!("route-{i}"), assigned_to, inbound_id))
            .await;
        written.push((
            sys_id,
            assigned_to.unwrap_or_default().to_owned(),
            inbound_id.unwrap_or_default().to_owned(),
        ));
    }
    // The first call (the first agent's, no inbound id) goes to the third agent.
    let moved = written[0].0.clone();
    served
        .patch(
            &moved,
            &json!({"interaction": {"additionalParams": {"assigned_to": agents[2]}}}),
        )
        .await;
    written.push((moved, agents[2].clone(), String::new()));

    let everything = clients
        .last_mut()
        .expect("the unfiltered client")
        .take(written.len())
        .await;
    for ((assigned_to, inbound_id), client) in filters.iter().zip(&mut clients) {
        let want: Vec<(u64, &str)> = written
            .iter()
            .zip(&everything)
            .filter(|((_, a, i), _)| {
                assigned_to.as_ref().is_none_or(|f| f == a)
                    && inbound_id.as_ref().is_none_or(|f| f == i)
            })
            .map(|((sys_id, _, _), event)| (event.id, sys_id.as_str()))
            .collect();
        assert!(
            !want.is_empty(),
            "{assigned_to:?} {inbound_id:?} gets something"
        );
        let got = if assigned_to.is_none() && inbound_id.is_none() {
            everything.clone()
        } else {
            client.take(want.len()).await
        };
        let got: Vec<(u64, &str)> = got
            .iter()
            .map(|e| (e.id, e.data["sysId"].as_str().unwrap_or_default()))
            .collect();
        assert_eq!(
            got, want,
            "assigned_to {assigned_to:?}, inbound_id {inbound_id:?}"
        );
    }
    // Nothing else: the unfiltered client got the last event, so every event had been routed, and one
    // routed to a client it is not for would be on its way already.
    for ((assigned_to, inbound_id), client) in filters.iter().zip(&mut clients) {
        let extra = client.next_within(Duration::from_millis(200)).await;
        assert!(
            extra.is_none(),
            "assigned_to {assigned_to:?}, inbound_id {inbound_id:?} got {extra:?}"
        );
    }
}

/// Writes the pump finds all at once overflow two-event mailboxes, an unfiltered client's and a filtered
/// one's; both read the rest from the outbox and get every event of theirs once, in order, then live ones.
async fn slow_clients_catch_up_from_the_outbox(repo: Arc<dyn Repository>) {
    let mut settings = EventSettings::default();
    settings.buffer = 2;
    settings.page = 4;
    // The pump reads only when the last write below wakes it, and then finds every event at once.
    settings.poll_every = Duration::from_secs(600);
    let served = Served::start(Arc::clone(&repo), settings).await;
    let (mine, theirs) = (agent(0xa), agent(0xb));
    let mut all = served.stream("", &[]).await;
    let mut filtered = served.stream(&format!("?assigned_to={mine}"), &[]).await;
    // Through a service of its own, not the router's: no commit wakes this router's pump.
    let service = openframe_core::Service::new(Arc::clone(&repo));
    let caller = openframe_core::Caller {
        sys_id: openframe_core::SysId::random(),
        user_name: "batch".into(),
    };
    let mut created = Vec::new();
    for i in 0..30 {
        // Two of every three are mine, so a page of four holds at least three of them.
        let assigned_to = if i % 3 == 2 { &theirs } else { &mine };
        let req = openframe_core::VoiceInteractionRequest::parse(
            &call_for(&format!("slow-{i}"), Some(assigned_to), None),
            openframe_core::Mode::Create,
        )
        .expect("request");
        let sys_id = service.create(&caller, req).await.expect("create").sys_id;
        created.push((sys_id.as_str().to_owned(), assigned_to == &mine));
    }
    // The HTTP create wakes the pump.
    let woken = served.post(&call_for("slow-wake", Some(&mine), None)).await;
    created.push((woken, true));

    let events = all.take(created.len()).await;
    let sys_ids: Vec<&str> = events
        .iter()
        .map(|e| e.data["sysId"].as_str().unwrap_or_default())
        .collect();
    let want: Vec<&str> = created.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(sys_ids, want, "every event once, in commit order");
    for pair in events.windows(2) {
        assert_eq!(pair[0].id + 1, pair[1].id);
    }
    let want_mine: Vec<(u64, &str)> = created
        .iter()
        .zip(&events)
        .filter(|((_, is_mine), _)| *is_mine)
        .map(|((sys_id, _), event)| (event.id, sys_id.as_str()))
        .collect();
    let got = filtered.take(want_mine.len()).await;
    let got: Vec<(u64, &str)> = got
        .iter()
        .map(|e| (e.id, e.data["sysId"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(
        got, want_mine,
        "the filtered client: its events once, in order"
    );
    assert!(
        served.hub.overflows() >= 2,
        "both mailboxes overflowed (else this tests nothing): {}",
        served.hub.overflows()
    );

    // Caught up, both go on with their mailboxes.
    let live = served.post(&call_for("slow-live", Some(&mine), None)).await;
    for client in [&mut all, &mut filtered] {
        let event = client.next().await;
        assert_eq!(event.data["sysId"], live.as_str());
        assert_eq!(event.id, events[events.len() - 1].id + 1);
    }
}

/// A client that resumes reads from the outbox events that its mailbox then gets too (the pump had not
/// routed them when it subscribed): it sends each once.
async fn a_resumed_client_gets_nothing_twice(repo: Arc<dyn Repository>) {
    let mut settings = EventSettings::default();
    // The pump reads only when an HTTP write wakes it.
    settings.poll_every = Duration::from_secs(600);
    let served = Served::start(Arc::clone(&repo), settings).await;
    let mut all = served.stream("", &[]).await;
    served.post(&call("twice-0")).await;
    let first = all.next().await;
    // In the outbox, but not routed yet: no commit through this server wakes the pump.
    let service = openframe_core::Service::new(Arc::clone(&repo));
    let caller = openframe_core::Caller {
        sys_id: openframe_core::SysId::random(),
        user_name: "batch".into(),
    };
    for i in 1..=10 {
        let req = openframe_core::VoiceInteractionRequest::parse(
            &call(&format!("twice-{i}")),
            openframe_core::Mode::Create,
        )
        .expect("request");
        service.create(&caller, req).await.expect("create");
    }
    // Subscribed at the first event; reads the ten from the outbox, and its mailbox gets them as well once
    // the next write wakes the pump.
    let mut resumed = served
        .stream("", &[("Last-Event-ID", &first.id.to_string())])
        .await;
    served.post(&call("twice-11")).await;
    let want: Vec<u64> = (first.id + 1..=first.id + 11).collect();
    assert_eq!(ids(&all.take(11).await), want);
    assert_eq!(ids(&resumed.take(11).await), want, "each once, in order");
    let live = served.post(&call("twice-12")).await;
    let next = resumed.next().await;
    assert_eq!(
        next.data["sysId"],
        live.as_str(),
        "no repeat before the next event"
    );
    assert_eq!(next.id, first.id + 12);
}

/// Streams opened and closed in rounds, with each kind of filter, leave nothing behind in the hub's index,
/// and a client that stays gets every event meanwhile.
async fn churn_leaves_nothing_in_the_index(repo: Arc<dyn Repository>) {
    let mut settings = EventSettings::default();
    // The server notices a closed stream when it next writes to it.
    settings.keep_alive = Duration::from_millis(50);
    let served = Served::start(repo, settings).await;
    let mut steady = served.stream("", &[]).await;
    for round in 0..4 {
        let mut open = Vec::new();
        for i in 0..12 {
            let query = match i % 4 {
                0 => format!("?assigned_to={}", agent(i)),
                1 => format!("?inbound_id={INBOUND_ID}"),
                2 => format!("?assigned_to={}&inbound_id={INBOUND_ID}", agent(i % 3)),
                _ => String::new(),
            };
            open.push(served.stream(&query, &[]).await);
        }
        let sys_id = served
            .post(&call_for(
                &format!("churn-{round}"),
                Some(&agent(0)),
                Some(INBOUND_ID),
            ))
            .await;
        assert_eq!(steady.next().await.data["sysId"], sys_id.as_str());
        drop(open);
    }
    let only_steady = IndexSize {
        subscribers: 1,
        unfiltered: 1,
        ..IndexSize::default()
    };
    eventually("only the steady client is left", || {
        served.hub.index_size() == only_steady
    })
    .await;
    drop(steady);
    eventually("the index is empty", || {
        served.hub.index_size() == IndexSize::default()
    })
    .await;
    assert_eq!(served.hub.clients(), 0);

    // An empty hub still serves the next client.
    let mut late = served.stream("", &[]).await;
    let sys_id = served.post(&call("churn-late")).await;
    assert_eq!(late.next().await.data["sysId"], sys_id.as_str());
}

/// While nobody listens the pump reads nothing; the next client starts at the store's head all the same
/// (no event from before it connected), and what nobody heard is still in the outbox for a resume.
async fn a_client_starts_at_the_head_after_writes_nobody_heard(repo: Arc<dyn Repository>) {
    let mut settings = EventSettings::default();
    settings.keep_alive = Duration::from_millis(50);
    let served = Served::start(repo, settings).await;
    for i in 0..3 {
        served.post(&call(&format!("unheard-{i}"))).await;
    }
    let mut first = served.stream("", &[]).await;
    let heard = served.post(&call("heard-1")).await;
    let seen = first.next().await;
    assert_eq!(
        seen.data["sysId"],
        heard.as_str(),
        "nothing from before it connected"
    );
    drop(first);
    eventually("the client is gone", || served.hub.clients() == 0).await;

    for i in 3..6 {
        served.post(&call(&format!("unheard-{i}"))).await;
    }
    let mut second = served.stream("", &[]).await;
    let heard = served.post(&call("heard-2")).await;
    let next = second.next().await;
    assert_eq!(
        next.data["sysId"],
        heard.as_str(),
        "nothing from before it connected"
    );
    assert_eq!(
        next.id,
        seen.id + 4,
        "ids are gap-free: three unheard, then this one"
    );

    let mut resumed = served
        .stream("", &[("Last-Event-ID", &seen.id.to_string())])
        .await;
    let replayed = resumed.take(4).await;
    assert_eq!(
        ids(&replayed),
        (seen.id + 1..=next.id).collect::<Vec<_>>(),
        "the unheard events are in the outbox"
    );
}

#[tokio::test]
async fn the_stream_needs_credentials_and_a_role_and_good_parameters() {
    let served = Served::start(Arc::new(MemoryRepository::new()), EventSettings::default()).await;
    let anonymous = served
        .http
        .get(format!("{}/api/now/openframe/events", served.base))
        .header("Accept", "text/event-stream")
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), 401);
    assert_eq!(served.open_as(NO_ROLE_USER, "", &[]).await.status(), 403);
    for (query, headers, field) in [
        ("?assigned_to=bob", vec![], "assigned_to"),
        ("?inbound_id=", vec![], "inbound_id"),
        ("", vec![("Last-Event-ID", "x1")], "Last-Event-ID"),
        ("?last_event_id=-1", vec![], "last_event_id"),
    ] {
        let response = served.open_as(API_USER, query, &headers).await;
        assert_eq!(response.status(), 400, "{query} {headers:?}");
        let body: Value = response.json().await.expect("JSON error");
        let detail = body["error"]["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with(&format!("{field}:")), "{detail}");
    }
    // The versioned path answers too.
    let versioned = served
        .http
        .get(format!("{}/api/now/openframe/v1/events", served.base))
        .header("Authorization", basic(API_USER))
        .send()
        .await
        .expect("request");
    assert_eq!(versioned.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_on_one_server_sees_a_call_created_through_another() {
    let test = "an_agent_on_one_server_sees_a_call_created_through_another";
    let Some(schema) = PgSchema::create(test).await else {
        return;
    };
    let a = Served::start(Arc::new(schema.connect().await), EventSettings::default()).await;
    // Server B: its own store handle and hub on the same database (its users are A's).
    let b_repo: Arc<dyn Repository> = Arc::new(schema.connect().await);
    let b_state = AppState::new(Arc::clone(&b_repo));
    let b_hub = Arc::clone(b_state.events());
    let b_app = TestApp {
        router: router(b_state),
        repo: b_repo,
        dir: tempfile::tempdir().expect("temp dir"),
    };
    let b = Served::serve(b_app, b_hub).await;
    let mut on_b = b.stream("", &[]).await;
    let mut on_a = a.stream("", &[]).await;
    let created = a.post(&call("cross-server")).await;
    let seen = on_b.next().await;
    assert_eq!(seen.event, "interaction.created");
    assert_eq!(seen.data["sysId"], created.as_str());
    b.patch(
        &created,
        &json!({"interaction": {"additionalParams": {"state": "work_in_progress"}}}),
    )
    .await;
    let on_a_events = on_a.take(2).await;
    assert_eq!(on_a_events[0].id, seen.id);
    assert_eq!(on_a_events[1].event, "interaction.updated");
    assert_eq!(on_b.next().await.id, on_a_events[1].id);
    assert!(on_b.next_within(Duration::from_millis(300)).await.is_none());
}

/// A PostgreSQL schema of its own for one test, dropped at the end.
struct PgSchema {
    url: String,
    name: String,
}

impl PgSchema {
    async fn create(test: &str) -> Option<PgSchema> {
        let url = openframe_testkit::postgres_url(test)?;
        let name = format!("events_{}", &openframe_core::SysId::random().as_str()[..16]);
        Some(PgSchema { url, name })
    }

    async fn connect(&self) -> PostgresRepository {
        PostgresRepository::connect_in_schema(&self.url, &self.name, PostgresOptions::default())
            .await
            .expect("connect to PostgreSQL")
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Dropped inside the test's runtime: clean up on a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    // The name is ours: a fixed prefix and hex digits.
                    let _ = sqlx::query(AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {name} CASCADE"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}
