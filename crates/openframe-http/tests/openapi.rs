//! The OpenAPI document: served without auth, the committed copy in docs/ current, and every operation it
//! lists answered by the router with a status it documents.

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use openframe_core::SysId;
use openframe_testkit::{TestApp, reference_patch, reference_post};
use serde_json::Value;
use tower::ServiceExt;

const REGENERATE: &str = "UPDATE_OPENAPI=1 cargo test -p openframe-http --test openapi \
                          (or: cargo run -p openframe-http --bin openframe -- openapi > docs/openapi.json)";

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn committed_document_is_current() {
    let generated = openframe_http::openapi::document_text();
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write docs/openapi.json");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json differs from the document the code generates; regenerate it with\n    {REGENERATE}"
    );
}

#[tokio::test]
async fn document_is_served_without_auth() {
    let app = TestApp::sqlite().await;
    let reply = app
        .raw(Method::GET, "/api/openapi.json", &[], Vec::new())
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc = reply.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc, openframe_http::openapi::document_json());
}

/// Each documented (path, method), with its path parameters filled in.
fn operations(doc: &Value) -> Vec<(String, Method, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            // A path item also holds `parameters`, `summary`…, which are not methods.
            let method = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "patch" => Method::PATCH,
                "put" => Method::PUT,
                "delete" => Method::DELETE,
                _ => continue,
            };
            let uri = path
                .replace("{sysId}", SysId::random().as_str())
                .replace("{sys_id}", SysId::random().as_str());
            out.push((uri, method, operation.clone()));
        }
    }
    out
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_answers_a_documented_status() {
    let app = TestApp::sqlite().await;
    let doc = openframe_http::openapi::document_json();
    let ops = operations(&doc);
    // Every endpoint of CONTRACT §1 and the event stream under both prefixes, 4 writable table names × 6
    // (list, create, read, put, patch, delete), the provider applications' and sys_user's 2 each, the
    // Aggregate API for 5 table names under 2 prefixes, the Batch
    // API under both paths, the OAuth token endpoint, /healthz, the document, /metrics (404 here: this router is mounted without metrics); and
    // the files of the workspace page (each checked by workspace_page.rs).
    let (workspace, api): (Vec<_>, Vec<_>) =
        ops.iter().partition(|o| o.0.starts_with("/workspace"));
    assert_eq!(
        api.len(),
        4 * 2 + 4 * 6 + 2 + 2 + 5 * 2 + 2 + 4,
        "{:?}",
        api.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
    assert!(workspace.len() >= 4, "{workspace:?}");
    for (uri, method, operation) in ops {
        let body = match method {
            Method::POST => Some(reference_post()),
            Method::PATCH => Some(reference_patch()),
            _ => None,
        };
        if operation["responses"]["200"]["content"]
            .get("text/event-stream")
            .is_some()
        {
            // A stream never ends: check how it starts, without reading it.
            let request = Request::builder()
                .method(method.clone())
                .uri(&uri)
                .header(
                    "authorization",
                    openframe_testkit::basic(openframe_testkit::API_USER),
                )
                .body(Body::empty())
                .expect("request");
            let response = app
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("infallible");
            assert_eq!(response.status(), StatusCode::OK, "{method} {uri}");
            assert_eq!(
                response.headers()["content-type"],
                "text/event-stream",
                "{method} {uri}"
            );
            continue;
        }
        let reply = app.call(method.clone(), &uri, body.as_ref()).await;
        let status = reply.status.as_str().to_owned();
        assert!(
            operation["responses"].get(&status).is_some(),
            "{method} {uri} answered {status}, which the document does not list: {}",
            reply.text
        );
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}"
        );
        if reply.status == StatusCode::BAD_REQUEST {
            assert_ne!(
                reply.message(),
                "Requested URI does not represent any resource",
                "{method} {uri}"
            );
        }
    }
}

#[tokio::test]
async fn required_headers_are_marked_and_sent() {
    let doc = openframe_http::openapi::document_json();
    let create = &doc["paths"]["/api/now/openframe/voice-interaction"]["post"]["responses"];
    assert_eq!(
        create["401"]["headers"]["WWW-Authenticate"]["required"],
        true
    );
    assert_eq!(create["503"]["headers"]["Retry-After"]["required"], true);
    let list = &doc["paths"]["/api/now/table/interaction"]["get"]["responses"]["200"];
    // X-Total-Count may be left out (sysparm_no_count=true).
    assert!(list["headers"]["X-Total-Count"].get("required").is_none());
    // Link may be left out (sysparm_suppress_pagination_header, or a query too long for 8 KiB of links).
    assert!(list["headers"]["Link"].get("required").is_none());

    let app = TestApp::sqlite().await;
    let reply = app
        .raw(Method::GET, "/api/now/table/interaction", &[], Vec::new())
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.headers.contains_key("www-authenticate"));
    let reply = app
        .call(
            Method::GET,
            "/api/now/table/interaction?sysparm_limit=1",
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers.contains_key("x-total-count"));
    assert!(reply.headers.contains_key("link"));
}

#[tokio::test]
async fn operations_that_require_basic_auth_refuse_missing_and_wrong_credentials() {
    let mut app = TestApp::sqlite().await;
    let doc = openframe_http::openapi::document_json();
    let (mut secured, mut wrong_attempts) = (0, 0);
    for (uri, method, operation) in operations(&doc) {
        let needs_auth = operation["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("basicAuth").is_some()));
        let anonymous = app.raw(method.clone(), &uri, &[], Vec::new()).await;
        if !needs_auth {
            // This router is mounted without metrics: /metrics answers its documented 404, never a 401; the
            // token endpoint checks the credentials in its form, and an empty one is a 400.
            let expected = match uri.as_str() {
                "/metrics" => StatusCode::NOT_FOUND,
                "/oauth_token.do" => StatusCode::BAD_REQUEST,
                _ => StatusCode::OK,
            };
            assert_eq!(
                anonymous.status, expected,
                "{method} {uri}: {}",
                anonymous.text
            );
            continue;
        }
        secured += 1;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(anonymous.message(), "User Not Authenticated");
        // Wrong credentials on GETs and POSTs (every path has one): one attempt per user name, on a fresh server
        // every 25 (fewer than the sign-in throttle allows an address in a minute).
        if method != Method::GET && method != Method::POST {
            continue;
        }
        wrong_attempts += 1;
        // A fresh server before this address's failures reach the sign-in throttle's bound.
        if wrong_attempts % 25 == 0 {
            app = TestApp::sqlite().await;
        }
        let wrong =
            openframe_testkit::basic((&format!("intruder{wrong_attempts}"), "not-the-password"));
        let wrong = app
            .raw(
                method.clone(),
                &uri,
                &[("authorization", wrong.as_str())],
                Vec::new(),
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
    }
    assert_eq!((secured, wrong_attempts), (48, 34));
}

/// What schemathesis found the document too strict about: the server takes these, so the document allows them.
#[tokio::test]
async fn values_schemathesis_found_the_document_too_strict_about_are_accepted() {
    let app = TestApp::sqlite().await;
    let doc = openframe_http::openapi::document_json();
    let related = &doc["components"]["schemas"]["RelatedRecordRef"]["properties"]["documentTable"];
    assert_eq!(related["type"], serde_json::json!(["string", "boolean"]));
    let sys_id = app
        .create(&serde_json::json!({
            "interaction": {"userPhoneNumber": "+14155550100"},
            "relatedRecords": [{"documentTable": false, "documentId": SysId::random().as_str()}],
        }))
        .await;
    let read = app.read(&sys_id).await;
    assert_eq!(read["relatedRecords"][0]["documentTable"], "false");

    let reply = app
        .call(
            Method::GET,
            &format!("/api/now/table/interaction/{sys_id}?sysparm_fields=&sysparm_exclude_reference_link="),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let parameters = doc["paths"]["/api/now/table/interaction"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    for name in ["sysparm_fields", "sysparm_exclude_reference_link"] {
        let pattern = parameters
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["schema"]["pattern"].as_str())
            .expect("a pattern");
        assert!(
            regex::Regex::new(pattern).expect("pattern").is_match(""),
            "{name} must allow the empty value the server takes"
        );
    }
}

#[tokio::test]
async fn every_api_path_names_its_methods_in_a_405() {
    let app = TestApp::sqlite().await;
    let doc = openframe_http::openapi::document_json();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/now/") {
            continue;
        }
        let documented: Vec<String> = item
            .as_object()
            .expect("path item")
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        let method = [Method::PUT, Method::DELETE, Method::TRACE, Method::POST]
            .into_iter()
            .find(|m| !documented.contains(&m.to_string()))
            .expect("an undocumented method");
        let uri = path
            .replace("{sysId}", SysId::random().as_str())
            .replace("{sys_id}", SysId::random().as_str());
        let reply = app.call(method.clone(), &uri, None).await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}"
        );
        let allow = reply.headers[axum::http::header::ALLOW].to_str().unwrap();
        assert_eq!(
            reply.detail(),
            format!("allowed methods: {allow}"),
            "{method} {uri}"
        );
        checked += 1;
    }
    assert!(checked >= 14, "{checked}");
}
