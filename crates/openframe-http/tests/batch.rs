//! The Batch API (`POST /api/now/v1/batch`) through the real router on SQLite: items run in order as the
//! caller, through the same routes, and come back with status, headers and base64 bodies; a bad batch is a
//! 400 naming the item, and nothing of it runs.

use axum::http::{Method, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use openframe_testkit::{API_USER, NO_ROLE_USER, Reply, TestApp, basic, reference_post};
use serde_json::{Value, json};

const BATCH: &str = "/api/now/v1/batch";

async fn batch_as(app: &TestApp, user: (&str, &str), body: &Value) -> Reply {
    let auth = basic(user);
    app.raw(
        Method::POST,
        BATCH,
        &[
            (header::AUTHORIZATION.as_str(), auth.as_str()),
            (header::CONTENT_TYPE.as_str(), "application/json"),
        ],
        body.to_string().into_bytes(),
    )
    .await
}

fn item(id: &str, method: &str, url: &str, body: Option<&Value>) -> Value {
    let mut item = json!({
        "id": id,
        "method": method,
        "url": url,
        "headers": [
            {"name": "Content-Type", "value": "application/json"},
            {"name": "Accept", "value": "application/json"}
        ],
    });
    if let Some(body) = body {
        item["body"] = Value::String(BASE64.encode(body.to_string()));
    }
    item
}

fn decoded(serviced: &Value) -> Value {
    let bytes = BASE64
        .decode(serviced["body"].as_str().expect("a body"))
        .expect("base64");
    serde_json::from_slice(&bytes).expect("a JSON body")
}

#[tokio::test]
async fn items_run_in_order_as_the_caller_and_answer_as_if_sent_alone() {
    let app = TestApp::sqlite().await;
    let create = reference_post();
    let body = json!({
        "batch_request_id": 7,
        "rest_requests": [
            item("c", "POST", "/api/now/openframe/voice-interaction", Some(&create)),
            item("l", "GET", "/api/now/table/interaction?sysparm_fields=number,sys_created_by", None),
            item("u", "GET", "/api/now/table/nope", None),
            item("m", "DELETE", "/api/now/openframe/voice-interaction", None),
        ],
    });
    let reply = batch_as(&app, API_USER, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let out = reply.json();
    assert_eq!(out["batch_request_id"], "7");
    assert_eq!(out["unserviced_requests"], json!([]));
    let serviced = out["serviced_requests"].as_array().unwrap();
    let ids: Vec<&str> = serviced.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["c", "l", "u", "m"]);

    assert_eq!(serviced[0]["status_code"], 200);
    assert_eq!(serviced[0]["status_text"], "OK");
    assert!(serviced[0]["execution_time"].is_u64());
    let number = decoded(&serviced[0])["result"]["number"].clone();
    assert_eq!(number, "IMS0001001");
    // The second item sees the first's write, made as the batch's caller.
    assert_eq!(
        decoded(&serviced[1])["result"],
        json!([{"number": "IMS0001001", "sys_created_by": API_USER.0}])
    );
    let headers = serviced[1]["headers"].as_array().unwrap();
    assert!(
        headers
            .iter()
            .any(|h| h["name"] == "x-total-count" && h["value"] == "1"),
        "{headers:?}"
    );
    assert_eq!(serviced[2]["status_code"], 400);
    assert_eq!(
        decoded(&serviced[2])["error"]["message"],
        "Invalid table nope"
    );
    assert_eq!(serviced[3]["status_code"], 405);
    assert_eq!(
        decoded(&serviced[3])["error"]["detail"],
        "allowed methods: POST"
    );
}

#[tokio::test]
async fn an_items_own_credentials_are_ignored_and_the_caller_must_be_allowed() {
    let app = TestApp::sqlite().await;
    let mut create = item(
        "c",
        "POST",
        "/api/now/openframe/voice-interaction",
        Some(&reference_post()),
    );
    create["headers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "Authorization", "value": basic(("admin", "guess"))}));
    let body = json!({"batch_request_id": "b", "rest_requests": [create]});
    let reply = batch_as(&app, API_USER, &body).await;
    let serviced = &reply.json()["serviced_requests"][0];
    assert_eq!(
        serviced["status_code"],
        200,
        "{reply:?}",
        reply = reply.text
    );

    let reply = batch_as(&app, NO_ROLE_USER, &body).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = app
        .raw(
            Method::POST,
            BATCH,
            &[(header::CONTENT_TYPE.as_str(), "application/json")],
            body.to_string().into_bytes(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = app.call(Method::GET, BATCH, None).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.detail(), "allowed methods: POST");
}

#[tokio::test]
async fn response_headers_can_be_left_out() {
    let app = TestApp::sqlite().await;
    let mut list = item("l", "GET", "/api/now/table/interaction", None);
    list["exclude_response_headers"] = json!(true);
    let reply = batch_as(&app, API_USER, &json!({"rest_requests": [list]})).await;
    let out = reply.json();
    assert_eq!(out["batch_request_id"], "");
    assert_eq!(out["serviced_requests"][0]["headers"], json!([]));
    assert_eq!(out["serviced_requests"][0]["status_code"], 200);
}

#[tokio::test]
async fn a_bad_batch_is_a_400_naming_the_item_and_runs_nothing() {
    let app = TestApp::sqlite().await;
    let create = item(
        "c",
        "POST",
        "/api/now/openframe/voice-interaction",
        Some(&reference_post()),
    );
    let get = |id: &str, url: &str| item(id, "GET", url, None);
    let mut bad_body = get("x", "/api/now/table/interaction");
    bad_body["body"] = json!("not base64!");
    let mut bad_method = get("x", "/api/now/table/interaction");
    bad_method["method"] = json!("TRACE");
    let mut bad_header = get("x", "/api/now/table/interaction");
    bad_header["headers"] = json!([{"name": "bad name", "value": "v"}]);
    for (second, detail) in [
        (
            get("x", "http://elsewhere.example/api/now/table/interaction"),
            "rest_requests[1].url: must be a path under /api/now/",
        ),
        (
            get("x", "/healthz"),
            "rest_requests[1].url: must be a path under /api/now/",
        ),
        (
            get("x", BATCH),
            "rest_requests[1].url: a batch cannot contain a batch",
        ),
        (
            get("x", "/api/now/openframe/events"),
            "rest_requests[1].url: an event stream never ends",
        ),
        (
            get("c", "/api/now/table/interaction"),
            "rest_requests[1].id: \"c\" is the id of an earlier request",
        ),
        (bad_body, "rest_requests[1].body: must be base64"),
        (bad_method, "rest_requests[1].method: must be one of"),
        (
            bad_header,
            "rest_requests[1].headers[0].name: is no header name",
        ),
        (
            json!({"id": "x", "method": "GET"}),
            "rest_requests[1].url: is required",
        ),
        (
            json!({"id": "x", "method": "GET", "url": "/api/now/table/interaction", "extra": 1}),
            "rest_requests[1].extra: unknown field",
        ),
    ] {
        let body = json!({"batch_request_id": "1", "rest_requests": [create, second]});
        let reply = batch_as(&app, API_USER, &body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{detail}: {}",
            reply.text
        );
        assert!(
            reply.detail().starts_with(detail),
            "{detail}: {}",
            reply.detail()
        );
    }
    let too_many: Vec<Value> = (0..1_001)
        .map(|i| get(&i.to_string(), "/api/now/table/interaction"))
        .collect();
    let reply = batch_as(&app, API_USER, &json!({"rest_requests": too_many})).await;
    assert_eq!(
        reply.detail(),
        "rest_requests: must have at most 1000 requests"
    );
    let reply = batch_as(&app, API_USER, &json!({"batch_request_id": "1"})).await;
    assert!(reply.detail().starts_with("rest_requests: is required"));
    let list = app
        .call(Method::GET, "/api/now/table/interaction", None)
        .await;
    assert_eq!(
        list.json()["result"],
        json!([]),
        "nothing of a refused batch ran"
    );
}
