//! CONTRACT §9: Table API writes (`POST`, `PUT`, `PATCH`, `DELETE`) on the three interaction tables, through
//! the real router on SQLite.

use axum::http::{Method, StatusCode, header};
use openframe_core::{EventKind, Repository, StoredEvent};
use openframe_testkit::{API_USER, TestApp, basic};
use serde_json::{Value, json};

const ADMIN: (&str, &str) = ("boss", "boss-password");
const CONSUMER: &str = "59e788fbdb1b1200b6075200cf9619d2";

async fn app() -> TestApp {
    let app = TestApp::sqlite().await;
    openframe_http::add_user(
        app.repo.as_ref(),
        ADMIN.0,
        ADMIN.1,
        vec!["admin".into(), "sn_openframe_api_user".into()],
    )
    .await
    .expect("add admin");
    app
}

/// Sends `body` as JSON with `method` to `uri` as `user`.
async fn send(
    app: &TestApp,
    user: (&str, &str),
    method: Method,
    uri: &str,
    body: Option<&Value>,
) -> openframe_testkit::Reply {
    let auth = basic(user);
    let mut headers = vec![("authorization", auth.as_str())];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    app.raw(method, uri, &headers, bytes).await
}

async fn events(app: &TestApp, after: u64) -> Vec<StoredEvent> {
    app.repo.events_after(after, 1000).await.unwrap().events
}

async fn head(app: &TestApp) -> u64 {
    app.repo.events_after(0, 0).await.unwrap().horizon.head
}

/// POSTs `body` to `table`, asserting a 201; returns the record.
async fn post(app: &TestApp, table: &str, body: &Value) -> Value {
    let reply = app
        .call(Method::POST, &format!("/api/now/table/{table}"), Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.json()["result"].clone()
}

async fn get(app: &TestApp, path: &str) -> openframe_testkit::Reply {
    app.call(Method::GET, path, None).await
}

#[tokio::test]
async fn creates_answer_201_with_the_record_as_a_read_shows_it() {
    let app = app().await;
    let agent = app.repo.find_user(API_USER.0).await.unwrap().unwrap();
    let reply = app
        .call(
            Method::POST,
            "/api/now/table/interaction?sysparm_exclude_reference_link=true",
            Some(&json!({
                "short_description": "From pysnc",
                "direction": "inbound",
                "duration": 42,
                "user_phone_number": "+14089965744",
                "assigned_to": "agent",
                "sys_class_name": null,
            })),
        )
        .await;
    // `sys_class_name` is no field of the table: nothing was created.
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert!(
        reply
            .detail()
            .starts_with("sys_class_name: unknown field of interaction")
    );
    assert!(events(&app, 0).await.is_empty());

    let body = json!({
        "short_description": "From pysnc",
        "direction": "inbound",
        "duration": 42,
        "user_phone_number": "+14089965744",
        "assigned_to": "agent",
    });
    let reply = app
        .call(
            Method::POST,
            "/api/now/table/interaction?sysparm_exclude_reference_link=true",
            Some(&body),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let created = reply.json()["result"].clone();
    assert_eq!(
        created["number"], "IMS0001001",
        "a Table API create gets an IMS number"
    );
    assert_eq!(created["state"], "new");
    assert_eq!(created["type"], "phone");
    assert_eq!(created["duration"], "42", "numbers are stored as text");
    assert_eq!(created["sys_mod_count"], "0");
    assert_eq!(created["opened_by"], agent.sys_id.as_str());
    assert_eq!(
        created["assigned_to"],
        agent.sys_id.as_str(),
        "a sys_user reference given by user name is resolved"
    );
    assert_eq!(created["sys_created_by"], API_USER.0);
    let id = created["sys_id"].as_str().unwrap().to_owned();
    let read = get(
        &app,
        &format!("/api/now/table/interaction/{id}?sysparm_exclude_reference_link=true"),
    )
    .await;
    assert_eq!(
        read.json()["result"],
        created,
        "the 201 shows the record as a read does"
    );

    // sysparm_fields and reference links shape the answer as on a read.
    let reply = app
        .call(
            Method::POST,
            "/api/now/table/interaction?sysparm_fields=number,opened_by",
            Some(&json!({"short_description": "Second"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(
        reply.json()["result"],
        json!({"number": "IMS0001002", "opened_by": {
            "link": format!("http://localhost/api/now/table/sys_user/{}", agent.sys_id),
            "value": agent.sys_id.as_str()}})
    );

    // A phone log, under the other spelling of its table, its parent given by number; then a related record.
    let log = post(
        &app,
        "sn_open_frame_phone_log",
        &json!({"interaction": "IMS0001001", "call_id": "c-1", "call_type": "INBOUND",
                "start_time": "2024-11-04 21:45:00", "end_time": "2024-11-04 21:50:00"}),
    )
    .await;
    assert_eq!(log["interaction"]["value"], id);
    assert_eq!(
        log["duration"], "300",
        "duration follows start and end as on the openframe endpoint"
    );
    assert_eq!(
        log["agent"]["value"],
        agent.sys_id.as_str(),
        "agent defaults to the caller"
    );
    let related = post(
        &app,
        "interaction_related_record",
        &json!({"interaction": id, "document_table": "csm_consumer", "document_id": CONSUMER}),
    )
    .await;
    assert_eq!(related["document_id"], CONSUMER);
    let again = post(
        &app,
        "interaction_related_record",
        &json!({"interaction": id, "document_table": "csm_consumer", "document_id": CONSUMER}),
    )
    .await;
    assert_eq!(
        again["sys_id"], related["sys_id"],
        "a related record the interaction has is not added twice"
    );

    let parent = app.read(&id).await;
    assert_eq!(parent["phoneLogs"].as_array().unwrap().len(), 1);
    assert_eq!(parent["relatedRecords"].as_array().unwrap().len(), 1);
    assert_eq!(
        parent["interaction"]["sys_mod_count"], "3",
        "each child write is an update of its parent"
    );
    let written = events(&app, 0).await;
    let summary: Vec<(EventKind, Vec<String>)> = written
        .iter()
        .map(|e| (e.event.kind, e.event.data.children.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (EventKind::Created, vec![]),
            (EventKind::Created, vec![]),
            (EventKind::Updated, vec!["phone_logs".to_owned()]),
            (EventKind::Updated, vec!["related_records".to_owned()]),
            (EventKind::Updated, vec![]),
        ]
    );
}

#[tokio::test]
async fn put_and_patch_update_by_the_openframe_rules() {
    let app = app().await;
    let agent = app.repo.find_user(API_USER.0).await.unwrap().unwrap();
    let id = post(&app, "interaction", &json!({"short_description": "x"})).await["sys_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/now/table/interaction/{id}?sysparm_exclude_reference_link=true");
    let reply = app
        .call(
            Method::PUT,
            &path,
            Some(&json!({"state": "closed_complete"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let r = reply.json()["result"].clone();
    assert_eq!(r["state"], "closed_complete");
    assert_eq!(
        r["closed_by"],
        agent.sys_id.as_str(),
        "closing sets closed_by"
    );
    assert!(
        !r["closed_at"].as_str().unwrap().is_empty(),
        "closing sets closed_at"
    );
    assert_eq!(r["sys_mod_count"], "1");
    let reply = app
        .call(
            Method::PATCH,
            &path,
            Some(&json!({"work_notes": "done", "inbound_id": "genesys-cloud-1"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let r = reply.json()["result"].clone();
    assert_eq!(r["work_notes"], "done");
    assert_eq!(r["sys_mod_count"], "2");
    assert!(
        !r["provider_application"].as_str().unwrap().is_empty(),
        "inbound_id resolves the provider"
    );
    assert_eq!(get(&app, &path).await.json()["result"], r);

    // An empty body changes nothing and writes nothing.
    let before = head(&app).await;
    let reply = app.call(Method::PATCH, &path, Some(&json!({}))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["result"], r);
    assert_eq!(head(&app).await, before);

    // A phone log by its sys_id: its fields, the duration rule, and its parent's event.
    let log = post(
        &app,
        "sn_openframe_phone_log",
        &json!({"interaction": id, "call_id": "c-1", "start_time": "2024-11-04 21:45:00"}),
    )
    .await;
    post(
        &app,
        "sn_openframe_phone_log",
        &json!({"interaction": id, "call_id": "c-2"}),
    )
    .await;
    let log_path = format!(
        "/api/now/table/sn_openframe_phone_log/{}",
        log["sys_id"].as_str().unwrap()
    );
    let before = head(&app).await;
    let reply = app
        .call(
            Method::PATCH,
            &log_path,
            Some(&json!({"end_time": "2024-11-04 21:46:00", "phone_number": "+12"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let updated = reply.json()["result"].clone();
    assert_eq!(updated["duration"], "60");
    assert_eq!(updated["sys_mod_count"], "1");
    assert_eq!(updated["call_id"], "c-1");
    let written = events(&app, before).await;
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].event.kind, EventKind::Updated);
    assert_eq!(written[0].event.data.sys_id, id);
    assert_eq!(written[0].event.data.children, ["phone_logs"]);

    // A related record has no field an update may change: an empty body is the record as it is.
    let related = post(
        &app,
        "interaction_related_record",
        &json!({"interaction": id, "document_table": "csm_consumer", "document_id": CONSUMER}),
    )
    .await;
    let related_path = format!(
        "/api/now/table/interaction_related_record/{}",
        related["sys_id"].as_str().unwrap()
    );
    let reply = app.call(Method::PUT, &related_path, Some(&json!({}))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json()["result"], related);
}

#[tokio::test]
async fn bad_writes_are_400s_naming_the_field_and_change_nothing() {
    let app = app().await;
    let id = post(&app, "interaction", &json!({"short_description": "x"})).await["sys_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let log = post(
        &app,
        "sn_openframe_phone_log",
        &json!({"interaction": id, "call_id": "c-1",
        "start_time": "2024-11-04 21:45:00"}),
    )
    .await["sys_id"]
        .as_str()
        .unwrap()
        .to_owned();
    post(
        &app,
        "sn_openframe_phone_log",
        &json!({"interaction": id, "call_id": "c-2"}),
    )
    .await;
    let related = post(
        &app,
        "interaction_related_record",
        &json!({"interaction": id, "document_table": "csm_consumer", "document_id": CONSUMER}),
    )
    .await["sys_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let i = format!("/api/now/table/interaction/{id}");
    let l = format!("/api/now/table/sn_openframe_phone_log/{log}");
    let r = format!("/api/now/table/interaction_related_record/{related}");
    let cases: Vec<(Method, String, Value, &str)> = vec![
        (
            Method::POST,
            "/api/now/table/interaction".into(),
            json!([1]),
            "body: must be an object",
        ),
        (
            Method::POST,
            "/api/now/table/interaction".into(),
            json!({"colour": "red"}),
            "colour: unknown field of interaction",
        ),
        (
            Method::POST,
            "/api/now/table/interaction".into(),
            json!({"number": "IMS9"}),
            "number: cannot be written",
        ),
        (
            Method::POST,
            "/api/now/table/interaction".into(),
            json!({"sys_id": id}),
            "sys_id: is a system field",
        ),
        (
            Method::POST,
            "/api/now/table/interaction".into(),
            json!({"state": "open"}),
            "state: must be one of",
        ),
        (
            Method::POST,
            "/api/now/table/interaction".into(),
            json!({"assigned_to": "nobody"}),
            "assigned_to: must be a sys_id",
        ),
        (
            Method::POST,
            "/api/now/table/interaction".into(),
            json!({"account": "ACME"}),
            "account: must be a sys_id",
        ),
        (
            Method::POST,
            "/api/now/table/interaction".into(),
            json!({"inbound_id": "unknown"}),
            "inbound_id: must be the inbound_id",
        ),
        (
            Method::POST,
            "/api/now/table/interaction?sysparm_input_display_value=maybe".into(),
            json!({}),
            "sysparm_input_display_value: must be true or false",
        ),
        (
            Method::POST,
            "/api/now/table/interaction?sysparm_fields=colour".into(),
            json!({}),
            "sysparm_fields",
        ),
        (
            Method::PUT,
            i.clone(),
            json!({"sys_mod_count": 9}),
            "sys_mod_count: is a system field",
        ),
        (
            Method::PATCH,
            i.clone(),
            json!({"state": ""}),
            "state: cannot be cleared",
        ),
        (
            Method::PATCH,
            i.clone(),
            json!({"short_description": "x".repeat(161)}),
            "short_description: must be at most 160",
        ),
        (
            Method::PATCH,
            i.clone(),
            json!({"opened_by": id}),
            "opened_by: cannot be written",
        ),
        (
            Method::POST,
            "/api/now/table/sn_openframe_phone_log".into(),
            json!({"call_id": "c-3"}),
            "interaction: is required",
        ),
        (
            Method::POST,
            "/api/now/table/sn_openframe_phone_log".into(),
            json!({"interaction": "ffffffffffffffffffffffffffffffff"}),
            "interaction: no interaction has sys_id",
        ),
        (
            Method::POST,
            "/api/now/table/sn_openframe_phone_log".into(),
            json!({"interaction": "IMS0009999"}),
            "interaction: must be a sys_id",
        ),
        (
            Method::POST,
            "/api/now/table/sn_openframe_phone_log".into(),
            json!({"interaction": id, "call_type": "inbound"}),
            "call_type: must be one of",
        ),
        (
            Method::POST,
            "/api/now/table/sn_openframe_phone_log".into(),
            json!({"interaction": id, "start_time": "2024-11-04 21:45:00", "end_time": "2024-11-04 21:00:00"}),
            "end_time: must not be before start_time",
        ),
        (
            Method::PATCH,
            l.clone(),
            json!({"interaction": id}),
            "interaction: cannot be written",
        ),
        (
            Method::PATCH,
            l.clone(),
            json!({"end_time": "2024-11-04 21:00:00"}),
            "end_time: must not be before start_time",
        ),
        (
            Method::PATCH,
            l.clone(),
            json!({"call_id": "c-2"}),
            "call_id: another phone log of this interaction has this call_id",
        ),
        (
            Method::POST,
            "/api/now/table/interaction_related_record".into(),
            json!({"interaction": id, "document_table": "csm_consumer"}),
            "document_id: is required",
        ),
        (
            Method::POST,
            "/api/now/table/interaction_related_record".into(),
            json!({"interaction": id, "document_table": "csm_consumer", "document_id": "x"}),
            "document_id: must be a sys_id",
        ),
        (
            Method::PUT,
            r.clone(),
            json!({"document_id": CONSUMER}),
            "document_id: cannot be written",
        ),
    ];
    let before = app.read(&id).await;
    let head_before = head(&app).await;
    for (method, uri, body, want) in cases {
        let reply = app.call(method.clone(), &uri, Some(&body)).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{method} {uri} {body}: {}",
            reply.text
        );
        assert!(
            reply.detail().starts_with(want),
            "{method} {uri} {body}: {}",
            reply.detail()
        );
        assert_eq!(reply.json()["status"], "failure");
    }
    assert_eq!(
        app.read(&id).await,
        before,
        "no refused write changed anything"
    );
    assert_eq!(
        head(&app).await,
        head_before,
        "no refused write wrote an event"
    );
    let count = get(&app, "/api/now/table/interaction").await;
    assert_eq!(
        count.headers["x-total-count"], "1",
        "no refused create created anything"
    );

    // A sys_id no record has is a 404 on every method that names one.
    for method in [Method::PUT, Method::PATCH] {
        for table in [
            "interaction",
            "sn_openframe_phone_log",
            "interaction_related_record",
        ] {
            let reply = app
                .call(
                    method.clone(),
                    &format!("/api/now/table/{table}/ffffffffffffffffffffffffffffffff"),
                    Some(&json!({})),
                )
                .await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {table}");
            assert_eq!(reply.message(), "No Record found");
        }
    }
    let reply = app
        .call(
            Method::PATCH,
            "/api/now/table/interaction/IMS0001001",
            Some(&json!({})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = app
        .call(Method::POST, "/api/now/table/incident", Some(&json!({})))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.message(), "Invalid table incident");
}

#[tokio::test]
async fn deletes_are_for_admins_and_take_the_children_along() {
    let app = app().await;
    let id = post(
        &app,
        "interaction",
        &json!({"short_description": "x", "user_phone_number": "+12"}),
    )
    .await["sys_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let logs: Vec<String> = two_logs(&app, &id).await;
    let related = post(
        &app,
        "interaction_related_record",
        &json!({"interaction": id, "document_table": "csm_consumer", "document_id": CONSUMER}),
    )
    .await["sys_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let log_path = |log: &str| format!("/api/now/table/sn_openframe_phone_log/{log}");

    // Not an admin: 403 in the envelope, nothing deleted.
    let before = head(&app).await;
    let reply = send(&app, API_USER, Method::DELETE, &log_path(&logs[0]), None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    assert_eq!(reply.json()["status"], "failure");
    assert!(reply.detail().contains("admin"), "{}", reply.detail());
    assert_eq!(get(&app, &log_path(&logs[0])).await.status, StatusCode::OK);
    assert_eq!(head(&app).await, before);

    // One phone log: 204 with no body; its sibling stays; the parent's event names the collection.
    let reply = send(&app, ADMIN, Method::DELETE, &log_path(&logs[0]), None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    assert!(reply.text.is_empty());
    assert_eq!(
        get(&app, &log_path(&logs[0])).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&app, &log_path(&logs[1])).await.status, StatusCode::OK);
    let written = events(&app, before).await;
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].event.kind, EventKind::Updated);
    assert_eq!(written[0].event.data.children, ["phone_logs"]);
    let reply = send(&app, ADMIN, Method::DELETE, &log_path(&logs[0]), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "a second delete");

    // The interaction: its log, related record and itself are gone; one interaction.deleted event.
    let before = head(&app).await;
    let reply = send(
        &app,
        ADMIN,
        Method::DELETE,
        &format!("/api/now/table/interaction/{id}"),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    for path in [
        format!("/api/now/table/interaction/{id}"),
        log_path(&logs[1]),
        format!("/api/now/table/interaction_related_record/{related}"),
    ] {
        assert_eq!(
            get(&app, &path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let list = get(
        &app,
        &format!("/api/now/table/sn_openframe_phone_log?sysparm_query=interaction={id}"),
    )
    .await;
    assert_eq!(list.json()["result"], json!([]));
    let written = events(&app, before).await;
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].event.kind, EventKind::Deleted);
    assert_eq!(written[0].event.data.sys_id, id);
    let reply = send(
        &app,
        ADMIN,
        Method::DELETE,
        &format!("/api/now/table/interaction/{id}"),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let next = post(&app, "interaction", &json!({})).await;
    assert_eq!(
        next["number"], "IMS0001002",
        "a deleted interaction's number is not given again"
    );
}

/// Two phone logs on interaction `id`; their sys_ids.
async fn two_logs(app: &TestApp, id: &str) -> Vec<String> {
    let mut logs = Vec::new();
    for call in ["c-1", "c-2"] {
        let log = post(
            app,
            "sn_openframe_phone_log",
            &json!({"interaction": id, "call_id": call}),
        )
        .await;
        logs.push(log["sys_id"].as_str().unwrap().to_owned());
    }
    logs
}

#[tokio::test]
async fn provider_applications_stay_read_only() {
    let app = app().await;
    let some = "ffffffffffffffffffffffffffffffff";
    for (method, path) in [
        (
            Method::POST,
            "/api/now/table/sys_cs_provider_application".to_owned(),
        ),
        (
            Method::PUT,
            format!("/api/now/table/sys_cs_provider_application/{some}"),
        ),
        (
            Method::PATCH,
            format!("/api/now/table/sys_cs_provider_application/{some}"),
        ),
        (
            Method::DELETE,
            format!("/api/now/table/sys_cs_provider_application/{some}"),
        ),
    ] {
        let reply = send(
            &app,
            ADMIN,
            method.clone(),
            &path,
            Some(&json!({"name": "x"})),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(reply.headers[header::ALLOW], "GET,HEAD", "{method} {path}");
        assert_eq!(reply.detail(), "allowed methods: GET,HEAD");
    }
    // A method no Table API path has: the provider applications' paths still list only their reads.
    for path in [
        "/api/now/table/sys_cs_provider_application".to_owned(),
        format!("/api/now/table/sys_cs_provider_application/{some}"),
    ] {
        let reply = send(&app, ADMIN, Method::OPTIONS, &path, None).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(reply.headers[header::ALLOW], "GET,HEAD", "{path}");
        assert_eq!(reply.detail(), "allowed methods: GET,HEAD");
    }
    let reply = send(
        &app,
        ADMIN,
        Method::OPTIONS,
        &format!("/api/now/table/interaction/{some}"),
        None,
    )
    .await;
    assert_eq!(reply.headers[header::ALLOW], "GET,HEAD,PUT,PATCH,DELETE");
    assert_eq!(reply.detail(), "allowed methods: GET,HEAD,PUT,PATCH,DELETE");
    let list = get(&app, "/api/now/table/sys_cs_provider_application").await;
    assert_eq!(list.headers["x-total-count"], "1");
}

#[tokio::test]
async fn every_method_answers_on_every_writable_table_name() {
    let app = app().await;
    let parent = post(&app, "interaction", &json!({"short_description": "parent"})).await["sys_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unknown = "ffffffffffffffffffffffffffffffff";
    // Each table name, a create body, and an update body (a related record has no field to change).
    let tables = [
        (
            "interaction",
            json!({"short_description": "a"}),
            json!({"short_description": "b"}),
        ),
        (
            "sn_openframe_phone_log",
            json!({"interaction": parent, "call_id": "x-1"}),
            json!({"call_id": "x-2"}),
        ),
        (
            "sn_open_frame_phone_log",
            json!({"interaction": parent, "call_id": "y-1"}),
            json!({"call_id": "y-2"}),
        ),
        (
            "interaction_related_record",
            json!({"interaction": parent, "document_table": "csm_consumer", "document_id": CONSUMER}),
            json!({}),
        ),
    ];
    for (table, create, update) in tables {
        let created = post(&app, table, &create).await;
        let id = created["sys_id"].as_str().unwrap().to_owned();
        let path = format!("/api/now/table/{table}/{id}?sysparm_exclude_reference_link=true");
        let mut last = created.clone();
        for method in [Method::PUT, Method::PATCH] {
            let reply = app.call(method.clone(), &path, Some(&update)).await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{method} {table}: {}",
                reply.text
            );
            let result = reply.json()["result"].clone();
            assert_eq!(result["sys_id"], id.as_str());
            for (name, value) in update.as_object().unwrap() {
                assert_eq!(&result[name], value, "{method} {table} {name}");
            }
            assert_eq!(
                get(&app, &path).await.json()["result"],
                result,
                "{method} {table}"
            );
            last = result;
        }
        assert_eq!(last["sys_id"], id.as_str());
        let reply = send(&app, ADMIN, Method::DELETE, &path, None).await;
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "DELETE {table}: {}",
            reply.text
        );
        assert_eq!(
            get(&app, &path).await.status,
            StatusCode::NOT_FOUND,
            "{table}"
        );
        for method in [Method::PUT, Method::PATCH, Method::DELETE] {
            let reply = send(
                &app,
                ADMIN,
                method.clone(),
                &format!("/api/now/table/{table}/{unknown}"),
                Some(&json!({})),
            )
            .await;
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "{method} {table} unknown"
            );
        }
    }
    let parent_now = app.read(&parent).await;
    assert_eq!(parent_now["phoneLogs"], json!([]));
    assert_eq!(parent_now["relatedRecords"], json!([]));
}

#[tokio::test]
async fn writes_take_and_answer_xml_too() {
    let app = app().await;
    let auth = basic(API_USER);
    let reply = app
        .raw(
            Method::POST,
            "/api/now/table/interaction?sysparm_fields=number,short_description",
            &[
                ("authorization", &auth),
                ("content-type", "application/xml"),
                ("accept", "application/xml"),
            ],
            b"<request><short_description>From XML</short_description><duration>12</duration></request>"
                .to_vec(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    assert!(
        reply.text.contains("<number>IMS0001001</number>")
            && reply
                .text
                .contains("<short_description>From XML</short_description>"),
        "{}",
        reply.text
    );
    let list = get(&app, "/api/now/table/interaction?sysparm_fields=duration").await;
    assert_eq!(list.json()["result"], json!([{"duration": "12"}]));
}
