//! The PostgreSQL store against a real server (`OPENFRAME_TEST_POSTGRES_URL`): what the shared conformance
//! suite cannot show — several connections and stores on one database, the schema itself, and outages.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openframe_core::schema::{INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, field};
use openframe_core::user::new_provider_application;
use openframe_core::{Conflict, DateTime, Error, InteractionAggregate, Repository, SysId, User};
use openframe_store_postgres::{PostgresOptions, PostgresRepository};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use support::{TestSchema, bump, new_interaction, phone_log, test_options};

fn user(name: &str) -> User {
    User {
        sys_id: SysId::random(),
        user_name: name.to_owned(),
        name: String::new(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        roles: vec!["admin".to_owned(), "sn_openframe_api_user".to_owned()],
    }
}

fn sys_id_of(aggregate: &InteractionAggregate) -> SysId {
    SysId::parse(aggregate.interaction.sys_id()).expect("test sys_id")
}

#[tokio::test]
async fn data_survives_a_new_connect() {
    let Some(schema) = TestSchema::new("data_survives_a_new_connect").await else {
        return;
    };
    let mut new = new_interaction(3);
    let sys_id = sys_id_of(&new);
    let app = new_provider_application(
        SysId::random(),
        "genesys-1",
        "Genesys",
        "admin",
        DateTime::from_unix(0),
    )
    .expect("provider application");
    {
        let first = schema.connect(test_options()).await;
        assert_eq!(
            first.create_interaction(new.clone()).await.unwrap(),
            "IMS0001001"
        );
        first.add_user(&user("agent")).await.unwrap();
        first.add_provider_application(&app).await.unwrap();
        first
            .update_interaction(&sys_id, Box::new(bump))
            .await
            .unwrap();
    }

    // A second connect finds the migrations applied and everything as the first store left it.
    let second = schema.connect(test_options()).await;
    new.interaction.set(field::NUMBER, "IMS0001001");
    new.interaction.set(field::SYS_MOD_COUNT, "1");
    assert_eq!(second.load_interaction(&sys_id).await.unwrap(), Some(new));
    assert!(second.has_users().await.unwrap());
    let found = second.find_user("agent").await.unwrap().expect("user");
    assert_eq!(found.roles, ["admin", "sn_openframe_api_user"]);
    assert_eq!(
        second.find_provider_application("genesys-1").await.unwrap(),
        Some(app)
    );
    // The number sequence carries on where it was.
    assert_eq!(
        second.create_interaction(new_interaction(0)).await.unwrap(),
        "IMS0001002"
    );
}

#[tokio::test]
async fn numbers_are_formatted_like_format_number_past_seven_digits() {
    let Some(schema) = TestSchema::new("numbers_are_formatted_like_format_number").await else {
        return;
    };
    let store = schema.connect(test_options()).await;
    let mut admin = PgConnection::connect(&schema.store_url()).await.unwrap();
    // The sequence lives in the test's schema; the next value it hands out is 9_999_998.
    sqlx::query("SELECT setval(format('%I.interaction_number', $1::text), 9999997)")
        .bind(&schema.name)
        .execute(&mut admin)
        .await
        .unwrap();
    let _ = admin.close().await;
    for n in [9_999_998, 9_999_999, 10_000_000, 10_000_001] {
        let new = new_interaction(1);
        let sys_id = sys_id_of(&new);
        let number = store.create_interaction(new).await.unwrap();
        assert_eq!(number, openframe_core::number::format_number(n));
        let stored = store.load_interaction(&sys_id).await.unwrap().unwrap();
        assert_eq!(stored.interaction.get(field::NUMBER), number);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_on_two_stores_get_distinct_numbers() {
    let Some(schema) =
        TestSchema::new("concurrent_creates_on_two_stores_get_distinct_numbers").await
    else {
        return;
    };
    // Two stores on one schema stand for two servers sharing a database.
    let options = test_options().with_max_connections(4);
    let stores: [Arc<dyn Repository>; 2] = [
        Arc::new(schema.connect(options).await),
        Arc::new(schema.connect(options).await),
    ];
    let mut creates = JoinSet::new();
    for i in 0..40 {
        let store = Arc::clone(&stores[i % 2]);
        creates.spawn(async move { store.create_interaction(new_interaction(2)).await });
    }
    let mut numbers = BTreeSet::new();
    while let Some(created) = creates.join_next().await {
        let number = created.expect("task").expect("create");
        assert!(numbers.insert(number.clone()), "{number} handed out twice");
    }
    let expected: BTreeSet<String> = (1001..1041)
        .map(openframe_core::number::format_number)
        .collect();
    assert_eq!(numbers, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_of_one_interaction_are_serialized() {
    let Some(schema) =
        TestSchema::new("concurrent_updates_of_one_interaction_are_serialized").await
    else {
        return;
    };
    let store = Arc::new(schema.connect(test_options().with_max_connections(4)).await);
    let new = new_interaction(1);
    let sys_id = sys_id_of(&new);
    store.create_interaction(new).await.unwrap();
    let mut updates = JoinSet::new();
    for _ in 0..20 {
        let (store, sys_id) = (Arc::clone(&store), sys_id.clone());
        updates.spawn(async move { store.update_interaction(&sys_id, Box::new(bump)).await });
    }
    while let Some(updated) = updates.join_next().await {
        updated.expect("task").expect("update");
    }
    // Each update read what the one before wrote: none was lost.
    let after = store.load_interaction(&sys_id).await.unwrap().unwrap();
    assert_eq!(after.interaction.get(field::SYS_MOD_COUNT), "20");
}

/// An update first writes without a lock, guarded by the row version it read. Here another store's update
/// lands between its read and its write, every time the plan runs first: the guarded write must write
/// nothing, and the update must plan again from what the other one committed, under the row lock.
#[tokio::test]
async fn an_update_raced_between_its_read_and_its_write_plans_again_from_the_new_version() {
    let Some(schema) = TestSchema::new("an_update_raced_between_read_and_write").await else {
        return;
    };
    let store = schema.connect(test_options()).await;
    let (url, name) = (schema.store_url(), schema.name.clone());
    let new = new_interaction(0);
    let sys_id = sys_id_of(&new);
    store.create_interaction(new).await.unwrap();
    let head_before = store.events_after(0, 100).await.unwrap().horizon.head;

    let plans = Arc::new(Mutex::new(Vec::new()));
    let plan = {
        let (plans, sys_id) = (Arc::clone(&plans), sys_id.clone());
        move |current: &InteractionAggregate| {
            let seen = current.interaction.get(field::SYS_MOD_COUNT).to_owned();
            let first = {
                let mut plans = plans.lock().unwrap();
                plans.push(seen.clone());
                plans.len() == 1
            };
            if first {
                // The plan runs between the update's read and its write: the other store's update commits
                // there, from a thread and runtime of its own (the plan cannot await, and blocks the test's).
                let (url, name, sys_id) = (url.clone(), name.clone(), sys_id.clone());
                std::thread::spawn(move || {
                    tokio::runtime::Runtime::new().unwrap().block_on(async {
                        let other =
                            PostgresRepository::connect_in_schema(&url, &name, test_options())
                                .await
                                .unwrap();
                        other.update_interaction(&sys_id, Box::new(bump)).await
                    })
                })
                .join()
                .unwrap()
                .unwrap();
            }
            let mut change = bump(current)?;
            change
                .interaction
                .set(field::SHORT_DESCRIPTION, format!("planned from {seen}"));
            Ok(change)
        }
    };
    let change = store
        .update_interaction(&sys_id, Box::new(plan))
        .await
        .unwrap();

    assert_eq!(
        *plans.lock().unwrap(),
        ["0", "1"],
        "planned again from the new version"
    );
    assert_eq!(change.interaction.get(field::SYS_MOD_COUNT), "2");
    let after = store.load_interaction(&sys_id).await.unwrap().unwrap();
    assert_eq!(after.interaction.get(field::SYS_MOD_COUNT), "2");
    assert_eq!(
        after.interaction.get(field::SHORT_DESCRIPTION),
        "planned from 1"
    );
    // Two updates, two events: the guarded write that wrote nothing left none.
    let page = store.events_after(head_before, 100).await.unwrap();
    let counts: Vec<u64> = page
        .events
        .iter()
        .map(|e| e.event.data.sys_mod_count)
        .collect();
    assert_eq!(counts, [1, 2]);
}

#[tokio::test]
async fn a_failing_plan_writes_nothing_and_its_error_comes_back_unchanged() {
    let Some(schema) = TestSchema::new("a_failing_plan_writes_nothing").await else {
        return;
    };
    let store = schema.connect(test_options()).await;
    let new = new_interaction(2);
    let sys_id = sys_id_of(&new);
    store.create_interaction(new).await.unwrap();
    let before = store.load_interaction(&sys_id).await.unwrap();

    let err = store
        .update_interaction(
            &sys_id,
            Box::new(|_| {
                Err(Error::invalid(
                    "phoneLogs[1].call_type",
                    "must be one of INBOUND, OUTBOUND",
                ))
            }),
        )
        .await
        .unwrap_err();
    match err {
        Error::Invalid { field, rule } => {
            assert_eq!(field, "phoneLogs[1].call_type");
            assert_eq!(rule, "must be one of INBOUND, OUTBOUND");
        }
        other => panic!("expected the plan's Invalid, got {other:?}"),
    }
    assert_eq!(store.load_interaction(&sys_id).await.unwrap(), before);

    // A change the store refuses half-way (a log of another interaction) is rolled back whole: the
    // interaction row it would have overwritten first is as it was.
    let other = SysId::random();
    let err = store
        .update_interaction(
            &sys_id,
            Box::new(move |current| {
                let mut change = bump(current)?;
                change.interaction.set(field::STATE, "wrap_up");
                change.phone_logs.push(phone_log(&other, "stray"));
                Ok(change)
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Internal { .. }), "{err:?}");
    assert_eq!(store.load_interaction(&sys_id).await.unwrap(), before);

    // The connection the failed updates used is fine for the next one.
    store
        .update_interaction(&sys_id, Box::new(bump))
        .await
        .unwrap();
}

#[tokio::test]
async fn updates_keep_phone_log_order_and_context_semantics() {
    let Some(schema) = TestSchema::new("updates_keep_phone_log_order_and_context_semantics").await
    else {
        return;
    };
    let store = schema.connect(test_options()).await;
    let new = new_interaction(3);
    let sys_id = sys_id_of(&new);
    store.create_interaction(new.clone()).await.unwrap();
    let mut expected = store.load_interaction(&sys_id).await.unwrap().unwrap();

    let (plan_sys_id, second_log) = (sys_id.clone(), new.phone_logs[1].clone());
    let change = store
        .update_interaction(
            &sys_id,
            Box::new(move |current| {
                let mut change = bump(current)?;
                change.context_removed.insert("language".into());
                change.context_set.insert("queue".into(), "sales".into());
                change.context_set.insert("topic".into(), "billing".into());
                let mut rewritten = second_log.clone();
                rewritten.set(field::DURATION, "42");
                change.phone_logs.push(phone_log(&plan_sys_id, "call-3"));
                change.phone_logs.push(rewritten);
                let mut related = current.related_records[0].clone();
                related.set(field::SYS_ID, SysId::random().as_str());
                change.related_records.push(related);
                Ok(change)
            }),
        )
        .await
        .unwrap();
    change.apply_to(&mut expected);
    let stored = store.load_interaction(&sys_id).await.unwrap().unwrap();
    assert_eq!(stored, expected);
    // The rewritten log kept its place; the new one came last.
    let call_ids: Vec<&str> = stored
        .phone_logs
        .iter()
        .map(|l| l.get(field::CALL_ID))
        .collect();
    assert_eq!(call_ids, ["call-0", "call-1", "call-2", "call-3"]);
    assert_eq!(stored.phone_logs[1].get(field::DURATION), "42");
}

#[tokio::test]
async fn uniqueness_rules_are_conflicts() {
    let Some(schema) = TestSchema::new("uniqueness_rules_are_conflicts").await else {
        return;
    };
    let store = schema.connect(test_options()).await;
    assert!(!store.has_users().await.unwrap());
    store.add_user(&user("agent")).await.unwrap();
    assert!(matches!(
        store.add_user(&user("agent")).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(store.find_user("nobody").await.unwrap(), None);

    let app = |sys_id: SysId| {
        new_provider_application(
            sys_id,
            "inbound-1",
            "Genesys",
            "admin",
            DateTime::from_unix(0),
        )
        .expect("provider application")
    };
    store
        .add_provider_application(&app(SysId::random()))
        .await
        .unwrap();
    let err = store
        .add_provider_application(&app(SysId::random()))
        .await
        .unwrap_err();
    match err {
        Error::Conflict(Conflict::InboundId { inbound_id }) => assert_eq!(inbound_id, "inbound-1"),
        other => panic!("expected Conflict, got {other:?}"),
    }

    // A second create with the same sys_id is refused and takes no number.
    let new = new_interaction(1);
    assert_eq!(
        store.create_interaction(new.clone()).await.unwrap(),
        "IMS0001001"
    );
    assert!(matches!(
        store.create_interaction(new).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(
        store.create_interaction(new_interaction(1)).await.unwrap(),
        "IMS0001002"
    );
    assert!(matches!(
        store
            .update_interaction(&SysId::random(), Box::new(bump))
            .await,
        Err(Error::NotFound {
            what: "interaction"
        })
    ));
}

#[tokio::test]
async fn nul_characters_are_refused_or_not_found_never_internal() {
    let Some(schema) = TestSchema::new("nul_characters_are_refused_or_not_found").await else {
        return;
    };
    let store = schema.connect(test_options()).await;
    // A Basic-auth user name is whatever the client sent: looking it up must say "no such user".
    assert_eq!(store.find_user("agent\0").await.unwrap(), None);
    assert_eq!(store.find_provider_application("in\0").await.unwrap(), None);
    assert!(matches!(
        store.add_user(&user("agent\0")).await,
        Err(Error::Invalid { .. })
    ));
    let mut app = new_provider_application(
        SysId::random(),
        "inbound-1",
        "Genesys",
        "admin",
        DateTime::from_unix(0),
    )
    .expect("provider application");
    app.set(field::SHORT_DESCRIPTION, "a\0b");
    assert!(matches!(
        store.add_provider_application(&app).await,
        Err(Error::Invalid { .. })
    ));
    assert!(!store.has_users().await.unwrap());
}

#[tokio::test]
async fn tables_have_one_text_column_per_field_in_schema_order() {
    let Some(schema) = TestSchema::new("tables_have_one_text_column_per_field").await else {
        return;
    };
    let store = schema.connect(test_options()).await;
    let mut admin = PgConnection::connect(&schema.url).await.unwrap();
    for table in [
        &INTERACTION,
        &PHONE_LOG,
        &RELATED_RECORD,
        &PROVIDER_APPLICATION,
    ] {
        let columns: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text, collation_name::text \
             FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
        )
        .bind(&schema.name)
        .bind(table.name)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        let fields: Vec<&str> = columns
            .iter()
            .map(|(name, _, _)| name.as_str())
            .filter(|name| *name != "created_seq")
            .collect();
        assert_eq!(
            fields,
            table.field_names().collect::<Vec<_>>(),
            "{}",
            table.name
        );
        for (name, data_type, collation) in &columns {
            if name != "created_seq" {
                assert_eq!(data_type, "text", "{}.{name}", table.name);
                // Byte-wise comparisons and order, whatever the database's default collation.
                assert_eq!(collation.as_deref(), Some("C"), "{}.{name}", table.name);
            }
        }
    }
    // Reads by sys_id, number, client_session_id and interaction have an index.
    let indexed: Vec<String> = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexdef",
    )
    .bind(&schema.name)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    for wanted in [
        "interaction USING btree (sys_id)",
        "interaction USING btree (number)",
        // Compared with ASCII case folded (the Table API): the index is on the folded column.
        "interaction USING btree (lower(client_session_id))",
        "sn_openframe_phone_log USING btree (interaction, created_seq)",
        "interaction_related_record USING btree (interaction, created_seq)",
        "users USING btree (user_name)",
        "sys_cs_provider_application USING btree (inbound_id)",
    ] {
        assert!(
            indexed.iter().any(|def| def.contains(wanted)),
            "no index {wanted} in {indexed:#?}"
        );
    }
    let _ = admin.close().await;
    drop(store);
}

#[tokio::test]
async fn debug_and_errors_never_show_the_password() {
    let Some(schema) = TestSchema::new("debug_and_errors_never_show_the_password").await else {
        return;
    };
    let store = schema.connect(test_options()).await;
    let password = schema
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password.to_owned());
    let debug = format!("{store:?}");
    assert!(debug.contains(&schema.name), "{debug}");
    assert!(!debug.to_lowercase().contains("password"), "{debug}");
    if let Some(password) = password.filter(|p| !p.is_empty()) {
        // The test role's password may equal its name or the database's: take out what Debug rightly shows.
        let target = PgConnectOptions::from_str(&schema.url).expect("test URL");
        let mut rest = debug.clone();
        for shown in [
            target.get_username(),
            target.get_database().unwrap_or_default(),
        ] {
            rest = rest.replace(&format!("\"{shown}\""), "");
        }
        assert!(!rest.contains(&password), "{debug}");
    }
    assert!(matches!(
        PostgresRepository::connect_in_schema(&schema.url, "Robert'); DROP", test_options()).await,
        Err(Error::Invalid { .. })
    ));
}

/// A TCP proxy in front of the test server: the test's own way to make the database unreachable for one
/// store, without touching the server that other tests share.
struct Proxy {
    port: u16,
    upstream: SocketAddr,
    accept: Option<JoinHandle<()>>,
    connections: Arc<Mutex<JoinSet<()>>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let mut proxy = Proxy {
            port: 0,
            upstream,
            accept: None,
            connections: Arc::default(),
        };
        proxy.up().await;
        proxy
    }

    /// Listens again (on the same port once it has one).
    async fn up(&mut self) {
        let socket = TcpSocket::new_v4().expect("socket");
        // The port's old connections linger in TIME_WAIT; without this the listener could not come back.
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], self.port)))
            .expect("bind the proxy");
        let listener: TcpListener = socket.listen(64).expect("listen");
        self.port = listener.local_addr().expect("local address").port();
        let (upstream, connections) = (self.upstream, Arc::clone(&self.connections));
        self.accept = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut set = connections.lock().expect("proxy connections");
                while set.try_join_next().is_some() {}
                set.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Stops listening and cuts every connection through it: from the store's side, the server is gone.
    async fn down(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
            let _ = accept.await;
        }
        let mut connections =
            std::mem::take(&mut *self.connections.lock().expect("proxy connections"));
        connections.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_unavailable_within_the_acquire_timeout_and_the_store_recovers() {
    let Some(schema) = TestSchema::new("an_outage_is_unavailable").await else {
        return;
    };
    let target = PgConnectOptions::from_str(&schema.url).expect("test URL");
    let upstream: SocketAddr = tokio::net::lookup_host((target.get_host(), target.get_port()))
        .await
        .expect("resolve the test server")
        .next()
        .expect("an address for the test server");
    let mut proxy = Proxy::start(upstream).await;
    let port = proxy.port.to_string();
    let url = support::with_params(
        &schema.url,
        &[
            ("host", "127.0.0.1"),
            ("port", &port),
            ("application_name", &schema.name),
        ],
    );
    let acquire_timeout = Duration::from_secs(1);
    // Every connection is pinged before use, so that the store recovers from the terminations below without
    // failing a call (the default window is the next test's).
    let options = PostgresOptions::default()
        .with_max_connections(2)
        .with_acquire_timeout(acquire_timeout)
        .with_ping_after_idle(Duration::ZERO);
    let store = PostgresRepository::connect_in_schema(&url, &schema.name, options)
        .await
        .expect("connect through the proxy");
    let new = new_interaction(2);
    let sys_id = sys_id_of(&new);
    assert_eq!(store.create_interaction(new).await.unwrap(), "IMS0001001");
    let stored = store.load_interaction(&sys_id).await.unwrap();

    // The server ends the store's connections (a restart, a failover): the pool notices and opens new ones.
    assert!(schema.terminate_connections().await > 0);
    store
        .ping()
        .await
        .expect("ping after the backends were terminated");
    assert_eq!(store.load_interaction(&sys_id).await.unwrap(), stored);

    // The server cannot be reached at all: every kind of call says Unavailable, within the acquire timeout.
    proxy.down().await;
    let deadline = acquire_timeout + Duration::from_secs(4);
    let started = Instant::now();
    let created = tokio::time::timeout(deadline, store.create_interaction(new_interaction(1)))
        .await
        .expect("a create during an outage must not hang");
    assert!(
        matches!(created, Err(Error::Unavailable { .. })),
        "{created:?}"
    );
    assert!(started.elapsed() < deadline);
    let loaded = tokio::time::timeout(deadline, store.load_interaction(&sys_id))
        .await
        .expect("a load during an outage must not hang");
    assert!(
        matches!(loaded, Err(Error::Unavailable { .. })),
        "{loaded:?}"
    );
    let updated = tokio::time::timeout(deadline, store.update_interaction(&sys_id, Box::new(bump)))
        .await
        .expect("an update during an outage must not hang");
    assert!(
        matches!(updated, Err(Error::Unavailable { .. })),
        "{updated:?}"
    );
    let pinged = tokio::time::timeout(deadline, store.ping())
        .await
        .expect("a ping during an outage must not hang");
    assert!(
        matches!(pinged, Err(Error::Unavailable { .. })),
        "{pinged:?}"
    );

    // The server is back: the same store works again, and the failed calls wrote nothing.
    proxy.up().await;
    store.ping().await.expect("ping after the outage");
    assert_eq!(store.load_interaction(&sys_id).await.unwrap(), stored);
    assert_eq!(
        store.create_interaction(new_interaction(1)).await.unwrap(),
        "IMS0001002"
    );
    proxy.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_right_after_use_fails_one_call_and_is_replaced() {
    let Some(schema) = TestSchema::new("a_connection_dropped_right_after_use").await else {
        return;
    };
    // The default window: connections used within the last half second are not pinged before use.
    let store = schema.connect(test_options()).await;
    let new = new_interaction(1);
    let sys_id = sys_id_of(&new);
    store.create_interaction(new).await.unwrap();
    let stored = store.load_interaction(&sys_id).await.unwrap();
    assert!(schema.terminate_connections().await > 0);

    // Each dead connection the pool still holds may fail the one call that takes it, as Unavailable; sqlx
    // then drops it, and the call after gets a new one. The pool holds at most two.
    let mut failures = 0;
    let loaded = loop {
        match store.load_interaction(&sys_id).await {
            Ok(loaded) => break loaded,
            Err(Error::Unavailable { .. }) if failures < 2 => failures += 1,
            Err(other) => panic!("after {failures} Unavailable: {other:?}"),
        }
    };
    assert_eq!(loaded, stored);
    store
        .ping()
        .await
        .expect("ping once the pool has replaced its connections");
}
