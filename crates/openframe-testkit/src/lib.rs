//! What the tests of the router and of the server share: an app on a fresh SQLite file with known users and a
//! provider application, a one-call way to send it a request, the reference's example bodies, and the
//! PostgreSQL test server's URL. Not published.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine;
use openframe_core::user::new_provider_application;
use openframe_core::{DateTime, Repository, SysId};
use openframe_http::{AppState, router};
use openframe_store_sqlite::SqliteRepository;
use serde_json::Value;
use tower::ServiceExt;

pub const API_USER: (&str, &str) = ("agent", "agent-password");
pub const NO_ROLE_USER: (&str, &str) = ("visitor", "visitor-password");
pub const INBOUND_ID: &str = "genesys-cloud-1";

pub struct TestApp {
    pub router: Router,
    pub repo: Arc<dyn Repository>,
    pub dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// The error envelope's detail.
    pub fn detail(&self) -> String {
        self.json()["error"]["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

pub fn basic(user: (&str, &str)) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", user.0, user.1))
    )
}

impl TestApp {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("openframe.db");
        let repo: Arc<dyn Repository> =
            Arc::new(SqliteRepository::open(&path).expect("open sqlite"));
        Self::with_repo(repo, dir).await
    }

    pub async fn with_repo(repo: Arc<dyn Repository>, dir: tempfile::TempDir) -> Self {
        openframe_http::add_user(
            repo.as_ref(),
            API_USER.0,
            API_USER.1,
            vec!["sn_openframe_api_user".into()],
        )
        .await
        .expect("add api user");
        openframe_http::add_user(
            repo.as_ref(),
            NO_ROLE_USER.0,
            NO_ROLE_USER.1,
            vec!["itil".into()],
        )
        .await
        .expect("add user without role");
        let app = new_provider_application(
            SysId::random(),
            INBOUND_ID,
            "Genesys Cloud",
            "test",
            DateTime::now(),
        )
        .expect("provider app");
        repo.add_provider_application(&app)
            .await
            .expect("add provider");
        TestApp {
            router: router(AppState::new(Arc::clone(&repo))),
            repo,
            dir,
        }
    }

    /// Sends a request as the API user, JSON body, default headers.
    pub async fn call(&self, method: Method, uri: &str, body: Option<&Value>) -> Reply {
        let auth = basic(API_USER);
        let mut headers = vec![(header::AUTHORIZATION.as_str(), auth.as_str())];
        if body.is_some() {
            headers.push((header::CONTENT_TYPE.as_str(), "application/json"));
        }
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.raw(method, uri, &headers, bytes).await
    }

    /// Sends a request with exactly these headers and body bytes.
    pub async fn raw(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request.body(Body::from(body)).expect("request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        Reply {
            status,
            headers,
            text: String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
        }
    }

    /// Creates an interaction from `body`, asserting success; returns its sys_id.
    pub async fn create(&self, body: &Value) -> String {
        let reply = self
            .call(
                Method::POST,
                "/api/now/openframe/voice-interaction",
                Some(body),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json()["result"]["sysId"]
            .as_str()
            .expect("sysId")
            .to_owned()
    }

    /// Reads an interaction back, asserting success.
    pub async fn read(&self, sys_id: &str) -> Value {
        let reply = self
            .call(
                Method::GET,
                &format!("/api/now/openframe/voice-interaction/{sys_id}"),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json()["result"].clone()
    }
}

/// The reference's POST example, verbatim.
pub fn reference_post() -> Value {
    serde_json::from_str(include_str!("../../../docs/examples/create.json")).expect("example JSON")
}

/// The reference's PATCH example, verbatim.
pub fn reference_patch() -> Value {
    serde_json::from_str(include_str!("../../../docs/examples/update.json")).expect("example JSON")
}

/// The PostgreSQL test server's URL (`OPENFRAME_TEST_POSTGRES_URL`), or `None` after saying that `test` is
/// skipped. Under `CI=true` a missing URL is a failure: CI must run the PostgreSQL tests.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("OPENFRAME_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "{test}: OPENFRAME_TEST_POSTGRES_URL is not set, and CI needs the PostgreSQL tests"
            )
        }
        _ => {
            eprintln!(
                "SKIPPED {test}: set OPENFRAME_TEST_POSTGRES_URL (scripts/test.sh does) to run it"
            );
            None
        }
    }
}
