//! The router: the openframe endpoints, the Table API and the event stream under `/api/now/`, auth on every
//! path there, the renderer around it all, and the optional extras (`/healthz`, `/workspace`,
//! `/api/openapi.json`, a fallback) that a host program may leave out.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use serde_json::json;

use crate::auth::{Auth, AuthLayer, require_user};
use crate::observe::request_log::request_log;
use crate::state::AppState;
use crate::stats_api::STATS_PREFIXES;
use crate::wire::error::ApiError;
use crate::wire::render::render;
use crate::{batch, events, openframe_api, stats_api, table_api, workspace};

/// How long the health check waits for the store.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the openframe endpoints are mounted: the default path and its versioned form. Any other version
/// falls through to the 400 of an unknown path. The OpenAPI document lists each.
pub const OPENFRAME_PREFIXES: [&str; 2] = ["/api/now/openframe", "/api/now/openframe/v1"];

const API_ROOT: &str = "/api/now";

/// The whole openframe server's routes over `state`: the API, `/healthz`, `/workspace`,
/// `/api/openapi.json`, the request log and a fallback — what `openframe serve` mounts. A host program that
/// has its own `/healthz`, fallback or request log wants [`RouterBuilder`].
///
/// A router with Basic auth throttles failed sign-ins by client address: serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` (or set [`crate::ClientAddr`] upstream), or every
/// client shares one address's budget.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::{net::SocketAddr, sync::Arc};
/// let repo = Arc::new(openframe_core::MemoryRepository::new());
/// let app = openframe_http::router(openframe_http::AppState::new(repo));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
/// # Ok(()) }
/// ```
pub fn router(state: AppState) -> Router {
    RouterBuilder::new(state).build()
}

/// Chooses what the router mounts and how it authenticates, for a host program that nests or merges it
/// into its own router.
///
/// [`RouterBuilder::new`] starts from everything [`router`] mounts; [`RouterBuilder::api_only`] from the
/// API alone (the openframe endpoints, the Table API, the event stream and the OAuth token endpoint), which merges into any router
/// and nests under any prefix without clashing with the host's own `/healthz` or fallback.
///
/// ```
/// use std::sync::Arc;
/// use openframe_http::{AppState, Auth, RouterBuilder};
/// let state = AppState::new(Arc::new(openframe_core::MemoryRepository::new()));
/// let api = RouterBuilder::api_only(state).auth(Auth::Upstream).build();
/// let host: axum::Router = axum::Router::new()
///     .route("/healthz", axum::routing::get(|| async { "host ok" }))
///     .nest("/openframe", api)
///     .fallback(|| async { "host's own 404" });
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct RouterBuilder {
    state: AppState,
    auth: Auth,
    events: bool,
    healthz: bool,
    workspace: bool,
    openapi: bool,
    fallback: bool,
    request_log: bool,
    oauth: bool,
}

impl RouterBuilder {
    /// Everything [`router`] mounts, with Basic auth.
    pub fn new(state: AppState) -> Self {
        RouterBuilder {
            state,
            auth: Auth::Basic,
            events: true,
            healthz: true,
            workspace: true,
            openapi: true,
            fallback: true,
            request_log: true,
            oauth: true,
        }
    }

    /// The API alone: the openframe endpoints, the Table API, the event stream and the OAuth token endpoint,
    /// with Basic auth; no
    /// `/healthz`, `/workspace`, `/api/openapi.json`, fallback or request log.
    pub fn api_only(state: AppState) -> Self {
        RouterBuilder {
            healthz: false,
            workspace: false,
            openapi: false,
            fallback: false,
            request_log: false,
            ..RouterBuilder::new(state)
        }
    }

    /// How callers are authenticated under `/api/now/` (default [`Auth::Basic`]).
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Whether `GET /api/now/openframe/events` (the event stream) is mounted.
    pub fn events(mut self, on: bool) -> Self {
        self.events = on;
        self
    }

    /// Whether `GET /healthz` is mounted (200 when the store answers, else 503; no credentials).
    pub fn healthz(mut self, on: bool) -> Self {
        self.healthz = on;
        self
    }

    /// Whether the agent workspace page (`/workspace` and its assets) is mounted.
    pub fn workspace(mut self, on: bool) -> Self {
        self.workspace = on;
        self
    }

    /// Whether `GET /api/openapi.json` is mounted.
    pub fn openapi(mut self, on: bool) -> Self {
        self.openapi = on;
        self
    }

    /// Whether the router has a fallback: the platform's 400 for an unknown path under `/api/now/`, a JSON
    /// 404 elsewhere. Without it an unknown path is the host's to answer (a router with a fallback cannot be
    /// merged into another that has one).
    pub fn fallback(mut self, on: bool) -> Self {
        self.fallback = on;
        self
    }

    /// Whether `POST /oauth_token.do` (OAuth 2.0 password and refresh-token grants) is mounted, so that
    /// `Authorization: Bearer` tokens can be had. Only with [`Auth::Basic`]: a host that authenticates
    /// upstream issues its own credentials.
    pub fn oauth(mut self, on: bool) -> Self {
        self.oauth = on;
        self
    }

    /// Whether each request is logged (target `openframe::request`) and counted in the `metrics` facade.
    pub fn request_log(mut self, on: bool) -> Self {
        self.request_log = on;
        self
    }

    /// The router.
    pub fn build(self) -> Router {
        let auth = AuthLayer {
            mode: self.auth,
            authenticator: Arc::clone(&self.state.auth),
        };
        // The Batch API runs its items on a copy of the API's routes without the batch route, so that a
        // batch cannot nest and the router holds no reference to itself.
        let items = self
            .api_routes()
            .fallback(unknown_path)
            .layer(from_fn_with_state(auth.clone(), require_user))
            .with_state(self.state.clone())
            .layer(from_fn(render));
        let mut app = self.api_routes();
        for path in batch::BATCH_PATHS {
            let items = items.clone();
            app = app.route(
                path,
                post(move |request: axum::extract::Request| batch::handle(items.clone(), request))
                    .fallback(not_allowed("POST")),
            );
        }
        if self.healthz {
            app = app.route("/healthz", get(health));
        }
        if self.openapi {
            app = app.route("/api/openapi.json", get(crate::openapi::serve));
        }
        if self.fallback {
            app = app.fallback(unknown_path);
        }
        let oauth = (self.oauth && self.auth == Auth::Basic)
            .then(|| crate::auth::oauth::routes(self.state.clone()));
        let mut app = app
            .layer(from_fn_with_state(auth, require_user))
            .with_state(self.state)
            .layer(from_fn(render));
        if let Some(oauth) = oauth {
            // The token endpoint answers in OAuth's own JSON, outside the API's renderer and auth.
            app = app.merge(oauth);
        }
        if self.workspace {
            // The workspace page is no API resource: it skips the renderer (and so its Accept check).
            app = app.merge(workspace::routes());
        }
        if self.request_log {
            app = app.layer(from_fn(request_log));
        }
        app
    }
}

/// A route's answer to a method it does not have: the 405 whose detail lists `methods`, which must be what axum
/// writes in the `Allow` header it adds to the same response (a test compares the two on every route). The
/// header is added after the route's layers have run, so the renderer cannot read it there.
fn not_allowed(methods: &'static str) -> impl Fn() -> std::future::Ready<ApiError> + Clone {
    move || std::future::ready(ApiError::method_not_allowed(methods))
}

impl RouterBuilder {
    /// The openframe endpoints, the Table API and (when on) the event stream, without layers or state.
    fn api_routes(&self) -> Router<AppState> {
        let mut app = Router::new();
        for prefix in OPENFRAME_PREFIXES {
            app = app
                .route(
                    &format!("{prefix}/voice-interaction"),
                    post(openframe_api::create).fallback(not_allowed("POST")),
                )
                .route(
                    &format!("{prefix}/voice-interaction/{{sys_id}}"),
                    get(openframe_api::read)
                        .patch(openframe_api::update)
                        .fallback(not_allowed("GET,HEAD,PATCH")),
                );
            if self.events {
                app = app.route(
                    &format!("{prefix}/events"),
                    get(events::stream::stream).fallback(not_allowed("GET,HEAD")),
                );
            }
        }
        app.route(
            "/api/now/table/{table}",
            get(table_api::list)
                .post(table_api::write::create)
                .fallback(table_api::write::not_allowed("GET,HEAD,POST")),
        )
        .route(
            "/api/now/table/{table}/{sys_id}",
            get(table_api::read)
                .put(table_api::write::update)
                .patch(table_api::write::update)
                .delete(table_api::write::delete)
                .fallback(table_api::write::not_allowed("GET,HEAD,PUT,PATCH,DELETE")),
        )
        .route(
            &format!("{}/{{table}}", STATS_PREFIXES[0]),
            get(stats_api::stats).fallback(not_allowed("GET,HEAD")),
        )
        .route(
            &format!("{}/{{table}}", STATS_PREFIXES[1]),
            get(stats_api::stats).fallback(not_allowed("GET,HEAD")),
        )
    }
}

/// Whether `path` is under `/api/now/`, where every request needs credentials.
pub(crate) fn is_api_path(path: &str) -> bool {
    path == API_ROOT
        || path
            .strip_prefix(API_ROOT)
            .is_some_and(|rest| rest.starts_with('/'))
}

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
