//! Hostile input through the real router on a real SQLite store: random bytes, truncated and prefixed
//! documents, random Content-Types and Accept headers, POSTed and PATCHed. Every one is refused with 400, 413
//! or 415 (406 only when Accept asks for neither JSON nor XML), nothing panics, and the store is unchanged.

use axum::http::{Method, StatusCode};
use openframe_core::limits::MAX_BODY_BYTES;
use openframe_http::wire::response_format;
use openframe_testkit::{API_USER, TestApp, basic, reference_post};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

const CREATE: &str = "/api/now/openframe/voice-interaction";

/// A valid XML create, to cut and prefix.
const XML_CREATE: &str = "<request><interaction><userPhoneNumber>+14089965744</userPhoneNumber>\
    </interaction><phoneLogs><call_id>1</call_id></phoneLogs></request>";

/// One hostile request.
#[derive(Clone, Debug)]
struct Case {
    patch: bool,
    /// For a PATCH: the created interaction's sys_id, or this path segment instead.
    path_segment: Option<String>,
    content_type: Option<String>,
    accept: Option<String>,
    body: Vec<u8>,
}

/// Bodies that can never be a valid request: random bytes, a valid document cut before its end, or garbage
/// followed by a valid document.
fn bodies() -> impl Strategy<Value = Vec<u8>> {
    let json = reference_post().to_string().into_bytes();
    let xml = XML_CREATE.as_bytes().to_vec();
    let documents = prop_oneof![Just(json), Just(xml)];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2048),
        (documents.clone(), any::<prop::sample::Index>()).prop_map(|(doc, cut)| {
            // Up to, never including, the last byte: the closing `}` or `>` is always missing.
            doc[..cut.index(doc.len() - 1)].to_vec()
        }),
        (
            proptest::collection::vec(
                any::<u8>().prop_filter("not whitespace", |b| !b.is_ascii_whitespace()),
                1..64
            ),
            documents
        )
            .prop_map(|(mut garbage, doc)| {
                garbage.extend_from_slice(&doc);
                garbage
            }),
    ]
}

fn content_types() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_owned())),
        Just(Some("application/json; charset=utf-8".to_owned())),
        Just(Some("application/xml".to_owned())),
        Just(Some("text/xml".to_owned())),
        Just(Some("application/soap+xml".to_owned())),
        Just(Some("text/plain".to_owned())),
        Just(Some("multipart/form-data; boundary=x".to_owned())),
        "[ -~]{0,40}".prop_map(Some),
    ]
}

fn accepts() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_owned())),
        Just(Some("application/xml".to_owned())),
        "[ -~]{0,40}".prop_map(Some),
    ]
}

fn cases() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        prop_oneof![
            3 => Just(None),
            1 => "[0-9a-f]{32}".prop_map(Some),
            1 => "[A-Za-z0-9._~-]{1,40}".prop_map(Some),
        ],
        content_types(),
        accepts(),
        bodies(),
    )
        .prop_map(|(patch, path_segment, content_type, accept, body)| Case {
            patch,
            path_segment,
            content_type,
            accept,
            body,
        })
}

async fn send(app: &TestApp, sys_id: &str, case: &Case) -> openframe_testkit::Reply {
    let auth = basic(API_USER);
    let mut headers = vec![("authorization", auth.as_str())];
    if let Some(ct) = &case.content_type {
        headers.push(("content-type", ct));
    }
    if let Some(accept) = &case.accept {
        headers.push(("accept", accept));
    }
    let (method, uri) = if case.patch {
        let segment = case.path_segment.as_deref().unwrap_or(sys_id);
        (Method::PATCH, format!("{CREATE}/{segment}"))
    } else {
        (Method::POST, CREATE.to_owned())
    };
    app.raw(method, &uri, &headers, case.body.clone()).await
}

/// What the store holds that a request could have changed: the interaction, and how many records each table
/// has.
async fn snapshot(app: &TestApp, sys_id: &str) -> (Value, Vec<String>) {
    let mut counts = Vec::new();
    for table in [
        "interaction",
        "sn_openframe_phone_log",
        "interaction_related_record",
    ] {
        let reply = app
            .call(
                Method::GET,
                &format!("/api/now/table/{table}?sysparm_limit=1"),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let total = reply.headers["x-total-count"].to_str().expect("count");
        counts.push(format!("{table}={total}"));
    }
    (app.read(sys_id).await, counts)
}

#[test]
fn garbage_is_refused_and_changes_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let app = rt.block_on(TestApp::sqlite());
    let sys_id = rt.block_on(app.create(&reference_post()));
    let before = rt.block_on(snapshot(&app, &sys_id));

    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    let seen = std::sync::Mutex::new(std::collections::BTreeMap::new());
    runner
        .run(&cases(), |case| {
            let reply = rt.block_on(send(&app, &sys_id, &case));
            let accept_ok = response_format(
                case.accept
                    .as_deref()
                    .and_then(|a| axum::http::HeaderValue::from_str(a).ok())
                    .as_ref(),
            )
            .is_some();
            let allowed: &[u16] = if accept_ok {
                &[400, 413, 415]
            } else {
                &[400, 406, 413, 415]
            };
            prop_assert!(
                allowed.contains(&reply.status.as_u16()),
                "status {} for {case:?}: {}",
                reply.status,
                reply.text
            );
            *seen
                .lock()
                .unwrap()
                .entry(reply.status.as_u16())
                .or_insert(0) += 1;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let seen = seen.into_inner().unwrap();
    println!("statuses seen: {seen:?}");
    assert!(
        seen.contains_key(&400) && seen.contains_key(&415),
        "the cases reach both the parser and the Content-Type check: {seen:?}"
    );
    assert_eq!(
        rt.block_on(snapshot(&app, &sys_id)),
        before,
        "the store is unchanged"
    );
}

#[test]
fn an_oversized_body_is_413_and_changes_nothing() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let app = TestApp::sqlite().await;
        let sys_id = app.create(&reference_post()).await;
        let before = snapshot(&app, &sys_id).await;
        let auth = basic(API_USER);
        // A valid document padded past the limit with whitespace: only its size is wrong.
        let mut body = reference_post().to_string().into_bytes();
        body.resize(MAX_BODY_BYTES + 1, b' ');
        for (method, uri) in [
            (Method::POST, CREATE.to_owned()),
            (Method::PATCH, format!("{CREATE}/{sys_id}")),
        ] {
            let reply = app
                .raw(
                    method,
                    &uri,
                    &[
                        ("authorization", &auth),
                        ("content-type", "application/json"),
                    ],
                    body.clone(),
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::PAYLOAD_TOO_LARGE,
                "{}",
                reply.text
            );
        }
        assert_eq!(snapshot(&app, &sys_id).await, before);
    });
}
