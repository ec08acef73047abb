//! The router as a host program mounts it: merged or nested beside the host's own `/healthz` and fallback,
//! with the host authenticating callers, with the sign-in throttle and without `ConnectInfo`, and with
//! writes from the host reaching the event stream at once.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt;
use openframe_core::{Caller, Mode, SysId, VoiceInteractionRequest};
use openframe_http::{AppState, Auth, EventSettings, RouterBuilder};
use openframe_testkit::{API_USER, TestApp, basic};
use serde_json::Value;
use tower::ServiceExt;

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn get_as(uri: &str, authorization: Option<&str>) -> Request<Body> {
    let mut request = Request::get(uri);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.body(Body::empty()).expect("request")
}

fn host() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "host ok" }))
        .fallback(|| async { (StatusCode::IM_A_TEAPOT, "host fallback") })
}

#[tokio::test]
async fn the_api_alone_merges_beside_the_hosts_healthz_and_fallback() {
    let app = TestApp::sqlite().await;
    let api = RouterBuilder::api_only(AppState::new(Arc::clone(&app.repo))).build();
    let merged = host().merge(api);
    assert_eq!(
        send(&merged, get_as("/healthz", None)).await,
        (StatusCode::OK, "host ok".into())
    );
    assert_eq!(
        send(&merged, get_as("/nowhere", None)).await,
        (StatusCode::IM_A_TEAPOT, "host fallback".into())
    );
    let auth = basic(API_USER);
    let (status, body) = send(
        &merged,
        get_as("/api/now/table/interaction?sysparm_limit=1", Some(&auth)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Nothing the host did not ask for.
    for path in ["/workspace", "/api/openapi.json"] {
        assert_eq!(
            send(&merged, get_as(path, None)).await.0,
            StatusCode::IM_A_TEAPOT,
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_whole_router_nests_under_a_prefix() {
    let app = TestApp::sqlite().await;
    let whole = RouterBuilder::new(AppState::new(Arc::clone(&app.repo))).build();
    let nested = host().nest("/openframe", whole);
    assert_eq!(
        send(&nested, get_as("/openframe/healthz", None)).await,
        (StatusCode::OK, r#"{"status":"ok"}"#.into())
    );
    assert_eq!(send(&nested, get_as("/healthz", None)).await.1, "host ok");
    // Under the prefix, openframe's own answers: auth first, then the platform's 400 for an unknown path.
    assert_eq!(
        send(&nested, get_as("/openframe/api/now/nothing", None))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let auth = basic(API_USER);
    let (status, body) = send(&nested, get_as("/openframe/api/now/nothing", Some(&auth))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("Requested URI does not represent any resource"),
        "{body}"
    );
}

#[tokio::test]
async fn upstream_auth_takes_the_hosts_caller_and_refuses_requests_without_one() {
    let app = TestApp::sqlite().await;
    let api = RouterBuilder::api_only(AppState::new(Arc::clone(&app.repo)))
        .auth(Auth::Upstream)
        .build();
    let body = r#"{"interaction":{"userPhoneNumber":"+14089965744"}}"#;
    let post = |caller: Option<Caller>, authorization: Option<String>| {
        let mut request = Request::post("/api/now/openframe/voice-interaction")
            .header("content-type", "application/json");
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let mut request = request.body(Body::from(body)).expect("request");
        if let Some(caller) = caller {
            request.extensions_mut().insert(caller);
        }
        request
    };
    // Basic credentials mean nothing here: the host decides who calls.
    let (status, text) = send(&api, post(None, Some(basic(API_USER)))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
    assert!(text.contains("User Not Authenticated"), "{text}");
    let caller = Caller {
        sys_id: SysId::random(),
        user_name: "host-user".into(),
    };
    let (status, text) = send(&api, post(Some(caller.clone()), None)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let created: Value = serde_json::from_str(&text).expect("JSON");
    let sys_id = created["result"]["sysId"].as_str().expect("sysId");
    let stored = app
        .repo
        .load_interaction(&SysId::parse(sys_id).expect("a sys_id"))
        .await
        .expect("load")
        .expect("stored");
    assert_eq!(stored.interaction.get("sys_created_by"), "host-user");
    assert_eq!(stored.interaction.get("opened_by"), caller.sys_id.as_str());
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_without_connect_info() {
    let app = TestApp::sqlite().await;
    // No ConnectInfo on these requests: every client shares the unknown address's budget.
    for i in 0..openframe_http::auth::ADDRESS_FAILURES {
        let wrong = basic((&format!("guesser{i}"), "wrong"));
        assert_eq!(
            send(
                &app.router,
                get_as("/api/now/table/interaction", Some(&wrong))
            )
            .await
            .0,
            StatusCode::UNAUTHORIZED
        );
    }
    let next = basic(("yet-another-name", "wrong"));
    let (status, body) = send(
        &app.router,
        get_as("/api/now/table/interaction", Some(&next)),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_the_hosts_service_reach_the_stream_at_once() {
    let app = TestApp::sqlite().await;
    let mut settings = EventSettings::default();
    // No poll would find the write in time: only the service's commit can wake the pump.
    settings.poll_every = Duration::from_secs(3600);
    let state = AppState::new(Arc::clone(&app.repo)).with_event_settings(settings);
    let router = openframe_http::router(state.clone());
    let auth = basic(API_USER);
    let mut request = get_as("/api/now/openframe/events", Some(&auth));
    request
        .headers_mut()
        .insert("accept", "text/event-stream".parse().expect("header"));
    let response = router.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();

    let service = state.service().clone();
    let caller = Caller {
        sys_id: SysId::random(),
        user_name: "host".into(),
    };
    let req = VoiceInteractionRequest::parse(
        &serde_json::json!({"interaction": {"userPhoneNumber": "+14089965744"}}),
        Mode::Create,
    )
    .expect("request");
    let created = service.create(&caller, req).await.expect("create");

    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while !seen.contains(created.sys_id.as_str()) {
            let frame = body
                .frame()
                .await
                .expect("the stream is open")
                .expect("a frame");
            if let Ok(data) = frame.into_data() {
                seen.push_str(&String::from_utf8_lossy(&data));
            }
        }
    })
    .await;
    assert!(found.is_ok(), "the event did not arrive: {seen:?}");
    assert!(seen.contains("event: interaction.created"), "{seen}");
}
