//! A Table API page of 1,000 interactions through the real router, shown as stored values
//! (`sysparm_display_value=false`), as display values (`true`) and as both (`all`): what looking up the
//! referenced users, parents and provider application and writing the larger rows cost over the raw page.
//! Each interaction is assigned to one of 50 named users and opened by the caller; every other one has a
//! parent.
//!
//! `cargo bench -p openframe-benches --bench display` runs it on SQLite, and on PostgreSQL when
//! `OPENFRAME_TEST_POSTGRES_URL` is set (`OPENFRAME_BENCH_STORES` picks, as for the store bench). Under
//! `cargo test` the page is 20 rows and each bench runs once.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use openframe_benches::bodies::{create_request, create_request_in_session, session_id};
use openframe_benches::stores::StoreKind;
use openframe_core::schema::field;
use openframe_core::{Caller, Service, SysId, User};
use openframe_http::{AppState, Auth, RouterBuilder};
use tokio::runtime::Runtime;
use tower::ServiceExt;

/// Named users the page's interactions are assigned to.
const USERS: usize = 50;

fn page_size() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        1_000
    } else {
        20
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Fills the store: the caller and `USERS` named users, then `rows` interactions as described above.
async fn seed(service: &Service, caller: &Caller, rows: usize) {
    let repo = service.repository();
    let user = |sys_id: SysId, user_name: String, name: String| User {
        sys_id,
        user_name,
        name,
        password_hash: "$argon2id$bench".into(),
        roles: vec!["itil".into()],
    };
    repo.add_user(&user(
        caller.sys_id.clone(),
        caller.user_name.clone(),
        String::new(),
    ))
    .await
    .expect("add the caller");
    let mut agents = Vec::new();
    for i in 0..USERS {
        let id = SysId::random();
        repo.add_user(&user(
            id.clone(),
            format!("agent.{i}"),
            format!("Agent Number {i}"),
        ))
        .await
        .expect("add a user");
        agents.push(id);
    }
    let template = create_request();
    let mut previous: Option<SysId> = None;
    for i in 0..rows {
        let mut req = create_request_in_session(&template, &session_id(i));
        req.interaction
            .push((field::ASSIGNED_TO, agents[i % USERS].as_str().to_owned()));
        if let (Some(parent), true) = (&previous, i % 2 == 1) {
            req.interaction
                .push((field::PARENT, parent.as_str().to_owned()));
        }
        let created = service.create(caller, req).await.expect("create");
        previous = Some(created.sys_id);
    }
}

async fn get(router: &Router, caller: &Caller, uri: &str) -> usize {
    let mut request = Request::get(uri).body(Body::empty()).expect("a request");
    request.extensions_mut().insert(caller.clone());
    let response = router.clone().oneshot(request).await.expect("a response");
    assert_eq!(response.status(), StatusCode::OK, "{uri}");
    let body = response.into_body().collect().await.expect("the body");
    body.to_bytes().len()
}

fn display(c: &mut Criterion) {
    let rows = page_size();
    let wanted = std::env::var("OPENFRAME_BENCH_STORES").ok();
    for kind in StoreKind::available() {
        if !matches!(kind, StoreKind::Sqlite | StoreKind::Postgres)
            || wanted
                .as_deref()
                .is_some_and(|w| !w.split(',').any(|n| n.trim() == kind.name()))
        {
            continue;
        }
        let rt = runtime();
        let store = rt.block_on(kind.open());
        let service = Service::new(Arc::clone(&store.repo));
        let caller = Caller {
            sys_id: SysId::random(),
            user_name: "bench".into(),
        };
        rt.block_on(seed(&service, &caller, rows));
        let router = RouterBuilder::api_only(AppState::with_service(service))
            .auth(Auth::Upstream)
            .build();
        let mut group = c.benchmark_group(format!("display/{kind}"));
        for mode in ["false", "true", "all"] {
            let uri = format!(
                "/api/now/table/interaction?sysparm_limit={rows}&sysparm_display_value={mode}"
            );
            let bytes = rt.block_on(get(&router, &caller, &uri));
            eprintln!("bench: display/{kind}: {rows} rows, display_value={mode}: {bytes} bytes");
            group.bench_function(format!("page_{rows}/{mode}"), |b| {
                b.to_async(&rt)
                    .iter(|| async { black_box(get(&router, &caller, &uri).await) })
            });
        }
        group.finish();
        rt.block_on(async move { drop(store) });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    targets = display
}
criterion_main!(benches);
