//! A Batch API body (`POST /api/now/v1/batch`) through the whole router on the in-memory store, signed in
//! upstream so that no password check slows it: the batch parser first, then whatever items it lets through,
//! each a request of its own. Any input may be refused (400, 413), none may panic or make an item panic,
//! and every answer that is not refused lists each item once.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use openframe_core::{Caller, MemoryRepository, SysId};
use openframe_http::{AppState, Auth, RouterBuilder};
use tower::ServiceExt;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

fn router() -> &'static axum::Router {
    static ROUTER: OnceLock<axum::Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let state = AppState::new(Arc::new(MemoryRepository::new()));
        RouterBuilder::api_only(state).auth(Auth::Upstream).build()
    })
}

fuzz_target!(|data: &[u8]| {
    let mut request = Request::post("/api/now/v1/batch")
        .header("content-type", "application/json")
        .body(Body::from(data.to_vec()))
        .expect("a request");
    request.extensions_mut().insert(Caller {
        sys_id: SysId::random(),
        user_name: "fuzz".into(),
    });
    runtime().block_on(async {
        let response = router().clone().oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        assert!(matches!(status, 200 | 400 | 413), "status {status}");
        if status == 200 {
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("a body");
            let answer: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
            let serviced = answer["serviced_requests"].as_array().map_or(0, Vec::len);
            let unserviced = answer["unserviced_requests"].as_array().map_or(0, Vec::len);
            let asked = serde_json::from_slice::<serde_json::Value>(data)
                .ok()
                .and_then(|v| v["rest_requests"].as_array().map(Vec::len))
                .unwrap_or(0);
            assert_eq!(serviced + unserviced, asked);
        }
    });
});
