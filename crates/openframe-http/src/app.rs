//! The router: CONTRACT §1's paths, auth on everything under `/api/now/`, and the renderer around it all.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use openframe_core::{Repository, Service};
use serde_json::json;

use crate::auth::{Authenticator, require_user};
use crate::error::ApiError;
use crate::events::{EventHub, EventSettings};
use crate::prometheus::{self, Metrics, MetricsState};
use crate::render::render;
use crate::request_log::request_log;
use crate::{event_stream, table_api, voice_interaction, workspace};

/// How long the health check waits for the store.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The voice-interaction service over the store.
    pub service: Service,
    /// The credential checker.
    pub auth: Arc<Authenticator>,
    /// Longest a handler waits for a request body to arrive whole (a slower client gets a 408).
    pub body_read_timeout: Duration,
    /// The event stream's fan-out.
    pub events: Arc<EventHub>,
    /// When set, this router also serves `GET /metrics` (without credentials) from this recorder.
    pub metrics: Option<Metrics>,
}

/// [`AppState::body_read_timeout`] unless set otherwise.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

impl AppState {
    /// State for a router over `repo`.
    pub fn new(repo: Arc<dyn Repository>) -> Self {
        AppState::with_service(Service::new(repo))
    }

    /// The same state with another body-read deadline.
    pub fn with_body_read_timeout(self, body_read_timeout: Duration) -> Self {
        AppState {
            body_read_timeout,
            ..self
        }
    }

    /// State over an existing service (to share its environment, say).
    pub fn with_service(service: Service) -> Self {
        let repo = service.repository();
        AppState {
            auth: Arc::new(Authenticator::new(Arc::clone(repo))),
            events: Arc::new(EventHub::new(Arc::clone(repo), EventSettings::default())),
            service,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            metrics: None,
        }
    }

    /// The same state, its router serving `GET /metrics` from `metrics` too.
    pub fn serve_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The same state with other event-stream settings (a short retention window in tests, say).
    #[must_use]
    pub fn with_event_settings(mut self, settings: EventSettings) -> Self {
        self.events = Arc::new(EventHub::new(
            Arc::clone(self.service.repository()),
            settings,
        ));
        self
    }
}

/// The openframe API over any store, ready to serve or to mount in another service's router.
///
/// ```no_run
/// # async fn run() {
/// use std::sync::Arc;
/// let repo = Arc::new(openframe_core::MemoryRepository::new());
/// let app = openframe_http::router(openframe_http::AppState::new(repo));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
/// axum::serve(listener, app).await.unwrap();
/// # }
/// ```
pub fn router(state: AppState) -> Router {
    let mut app = Router::new();
    for prefix in OPENFRAME_PREFIXES {
        app = app
            .route(
                &format!("{prefix}/voice-interaction"),
                post(voice_interaction::create),
            )
            .route(
                &format!("{prefix}/voice-interaction/{{sys_id}}"),
                get(voice_interaction::read).patch(voice_interaction::update),
            )
            .route(&format!("{prefix}/events"), get(event_stream::stream));
    }
    let metrics = state.metrics.clone().map(|metrics| MetricsState {
        metrics,
        repo: Arc::clone(state.service.repository()),
    });
    let api = app
        .route("/api/now/table/{table}", get(table_api::list))
        .route("/api/now/table/{table}/{sys_id}", get(table_api::read))
        .route("/healthz", get(health))
        .route("/api/openapi.json", get(crate::openapi::serve))
        .fallback(unknown_path)
        .layer(from_fn_with_state(Arc::clone(&state.auth), require_user))
        .with_state(state)
        .layer(from_fn(render))
        // The workspace page is no API resource: it skips the renderer (and so its Accept check).
        .merge(workspace::routes());
    // `/metrics` is Prometheus text, not an API resource: outside the renderer (and so outside its Accept
    // negotiation) and outside auth.
    let app = match metrics {
        Some(metrics) => api.merge(prometheus::routes(metrics)),
        None => api,
    };
    app.layer(from_fn(request_log))
}

/// Where the openframe endpoints are mounted: the default path and its versioned form. Any other version
/// falls through to the 400 of an unknown path. The OpenAPI document lists each.
pub const OPENFRAME_PREFIXES: [&str; 2] = ["/api/now/openframe", "/api/now/openframe/v1"];

/// Whether `path` is under `/api/now/`, where every request needs credentials.
pub fn is_api_path(path: &str) -> bool {
    path == API_ROOT
        || path
            .strip_prefix(API_ROOT)
            .is_some_and(|rest| rest.starts_with('/'))
}

const API_ROOT: &str = "/api/now";

async fn unknown_path(uri: Uri) -> ApiError {
    if is_api_path(uri.path()) {
        ApiError::unknown_resource()
    } else {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "Not Found",
            "no resource at this path",
        )
    }
}

/// `GET /healthz`: 200 `{"status":"ok"}` when the store answers in time, else 503. No auth, no data.
async fn health(State(app): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::time::timeout(HEALTH_TIMEOUT, app.service.repository().ping()).await {
        Ok(Ok(())) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            json!({"status": "ok"}).to_string(),
        )
            .into_response(),
        _ => ApiError::unavailable().into_response(),
    }
}
