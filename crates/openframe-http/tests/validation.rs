//! Every rule of CONTRACT §3-§4 rejected through the router on SQLite: a 400 naming the field, and nothing
//! changed in the store.

use axum::http::{Method, StatusCode};
use openframe_testkit::{TestApp, reference_post};
use serde_json::{Map, Value, json};

const CREATE: &str = "/api/now/openframe/voice-interaction";
const SYS_ID: &str = "59e788fbdb1b1200b6075200cf9619d2";

/// Bodies that break a rule on both POST and PATCH, with the start of the detail they must produce.
fn bad_bodies() -> Vec<(Value, &'static str)> {
    let ok_phone = json!("+14089965744");
    let with = |extra: Value| {
        let mut body = json!({"interaction": {"userPhoneNumber": ok_phone}});
        for (k, v) in extra.as_object().unwrap() {
            if k == "interaction" {
                for (ik, iv) in v.as_object().unwrap() {
                    body["interaction"][ik] = iv.clone();
                }
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let many_logs: Vec<Value> = (0..501)
        .map(|i| json!({"call_id": i.to_string()}))
        .collect();
    let many_related: Vec<Value> = (0..501)
        .map(|_| json!({"documentTable": "t", "documentId": SYS_ID}))
        .collect();
    let many_keys: Map<String, Value> = (0..257).map(|i| (format!("k{i}"), json!("v"))).collect();
    vec![
        (json!("just a string"), "body: must be an object"),
        (
            with(json!({"interactoin": {}})),
            "interactoin: unknown field",
        ),
        (
            with(json!({"interaction": {"userPhoneNumber": "303-506-536"}})),
            "interaction.userPhoneNumber: must be E.164",
        ),
        (
            with(json!({"interaction": {"userPhoneNumber": "+0303506536"}})),
            "interaction.userPhoneNumber: must be E.164",
        ),
        (
            with(json!({"interaction": {"callbackPhoneNumber": "+1234567890123456"}})),
            "interaction.callbackPhoneNumber: must be E.164",
        ),
        (
            with(json!({"interaction": {"clientSessionId": ["a"]}})),
            "interaction.clientSessionId: must be a string",
        ),
        (
            with(json!({"interaction": {"inboundId": "unregistered"}})),
            "interaction.inboundId: must be the inbound_id of a registered",
        ),
        (
            with(json!({"interaction": {"sessionId": "x"}})),
            "interaction.sessionId: unknown field",
        ),
        (
            with(json!({"interaction": {"additionalParams": "state=new"}})),
            "interaction.additionalParams: must be an object",
        ),
        (
            with(json!({"interaction": {"additionalParams": {"state": "open"}}})),
            "interaction.additionalParams.state: must be one of",
        ),
        (
            with(json!({"interaction": {"additionalParams": {"state": ""}}})),
            "interaction.additionalParams.state: cannot be cleared",
        ),
        (
            with(json!({"interaction": {"additionalParams": {"direction": "in"}}})),
            "interaction.additionalParams.direction: must be one of inbound, outbound",
        ),
        (
            with(
                json!({"interaction": {"additionalParams": {"short_description": "d".repeat(161)}}}),
            ),
            "interaction.additionalParams.short_description: must be at most 160",
        ),
        (
            with(json!({"interaction": {"additionalParams": {"assigned_to": "Fred"}}})),
            "interaction.additionalParams.assigned_to: must be a sys_id",
        ),
        (
            with(json!({"interaction": {"additionalParams": {"parent": SYS_ID.to_uppercase()}}})),
            "interaction.additionalParams.parent: must be a sys_id",
        ),
        (
            with(
                json!({"interaction": {"additionalParams": {"closed_at": "2024-11-04T21:45:00Z"}}}),
            ),
            "interaction.additionalParams.closed_at: must be a UTC date-time",
        ),
        (
            with(json!({"interaction": {"additionalParams": {"duration": 1.5}}})),
            "interaction.additionalParams.duration: must be a whole number",
        ),
        (
            with(json!({"interaction": {"additionalParams": {"work_notes": {"a": 1}}}})),
            "interaction.additionalParams.work_notes: must be a string",
        ),
        (
            with(json!({"interaction": {"additionalParams": {"work_notes": "w".repeat(4001)}}})),
            "interaction.additionalParams.work_notes: must be at most 4000",
        ),
        (
            with(
                json!({"interaction": {"additionalParams": {"sys_created_on": "2024-11-04 21:45:00"}}}),
            ),
            "interaction.additionalParams.sys_created_on: is a system field",
        ),
        (
            with(json!({"interaction": {"additionalParams": {"number": "IMS0000001"}}})),
            "interaction.additionalParams.number: cannot be written",
        ),
        (
            with(
                json!({"interaction": {"additionalParams": {"opened_at": "2024-11-04 21:45:00"}}}),
            ),
            "interaction.additionalParams.opened_at: cannot be written",
        ),
        (
            with(json!({"interaction": {"additionalParams": {"caller_phone_number": "+12"}}})),
            "interaction.additionalParams.caller_phone_number: cannot be written",
        ),
        (
            with(json!({"interaction": {"additionalParams": {"priority": "1"}}})),
            "interaction.additionalParams.priority: unknown field",
        ),
        (
            with(json!({"interactionContext": ["a"]})),
            "interactionContext: must be an object",
        ),
        (
            with(json!({"interactionContext": {"bad key": "v"}})),
            "interactionContext.bad key: name must match",
        ),
        (
            with(json!({"interactionContext": {"k": [1]}})),
            "interactionContext.k: must be a string",
        ),
        (
            with(json!({"interactionContext": {"k": "v".repeat(4001)}})),
            "interactionContext.k: must be at most 4000",
        ),
        (
            with(json!({"interactionContext": many_keys})),
            "interactionContext: must have at most 256 keys",
        ),
        (
            with(json!({"phoneLogs": {"call_id": "1"}})),
            "phoneLogs: must be an array",
        ),
        (
            with(json!({"phoneLogs": many_logs})),
            "phoneLogs: must have at most 500 entries",
        ),
        (
            with(json!({"phoneLogs": [{"call_id": "1"}, 7]})),
            "phoneLogs[1]: must be an object",
        ),
        (
            with(json!({"phoneLogs": [{}]})),
            "phoneLogs[0]: must carry at least one field",
        ),
        (
            with(json!({"phoneLogs": [{"call_type": "Inbound"}]})),
            "phoneLogs[0].call_type: must be one of INBOUND, OUTBOUND",
        ),
        (
            with(json!({"phoneLogs": [{"start_time": "2024-02-30 10:00:00"}]})),
            "phoneLogs[0].start_time: must be a UTC date-time",
        ),
        (
            with(json!({"phoneLogs": [{"end_time": "yesterday"}]})),
            "phoneLogs[0].end_time: must be a UTC date-time",
        ),
        (
            with(
                json!({"phoneLogs": [{"start_time": "2024-11-04 21:45:00", "end_time": "2024-11-04 21:44:59"}]}),
            ),
            "phoneLogs[0].end_time: must not be before start_time",
        ),
        (
            with(json!({"phoneLogs": [{"duration": "ten"}]})),
            "phoneLogs[0].duration: must be a whole number",
        ),
        (
            with(json!({"phoneLogs": [{"phone_number": "5551234"}]})),
            "phoneLogs[0].phone_number: must be E.164",
        ),
        (
            with(json!({"phoneLogs": [{"agent": "a8f98bb0"}]})),
            "phoneLogs[0].agent: must be a sys_id",
        ),
        (
            with(json!({"phoneLogs": [{"contact": "bob"}]})),
            "phoneLogs[0].contact: must be a sys_id",
        ),
        (
            with(json!({"phoneLogs": [{"interaction": SYS_ID}]})),
            "phoneLogs[0].interaction: cannot be written",
        ),
        (
            with(json!({"phoneLogs": [{"sys_id": SYS_ID}]})),
            "phoneLogs[0].sys_id: is a system field",
        ),
        (
            with(json!({"phoneLogs": [{"callId": "1"}]})),
            "phoneLogs[0].callId: unknown field",
        ),
        (
            with(json!({"relatedRecords": {"documentTable": "t"}})),
            "relatedRecords: must be an array",
        ),
        (
            with(json!({"relatedRecords": many_related})),
            "relatedRecords: must have at most 500 entries",
        ),
        (
            with(json!({"relatedRecords": [{"documentId": SYS_ID}]})),
            "relatedRecords[0].documentTable: is required",
        ),
        (
            with(json!({"relatedRecords": [{"documentTable": "sys_user"}]})),
            "relatedRecords[0].documentId: is required",
        ),
        (
            with(json!({"relatedRecords": [{"documentTable": "sys user", "documentId": SYS_ID}]})),
            "relatedRecords[0].documentTable: must match",
        ),
        (
            with(
                json!({"relatedRecords": [{"documentTable": "t".repeat(81), "documentId": SYS_ID}]}),
            ),
            "relatedRecords[0].documentTable: must match",
        ),
        (
            with(json!({"relatedRecords": [{"documentTable": "sys_user", "documentId": "x"}]})),
            "relatedRecords[0].documentId: must be a sys_id",
        ),
        (
            with(
                json!({"relatedRecords": [{"documentTable": "sys_user", "documentId": SYS_ID, "extra": 1}]}),
            ),
            "relatedRecords[0].extra: unknown field",
        ),
    ]
}

#[tokio::test]
async fn every_rule_is_a_400_naming_the_field_and_changes_nothing() {
    let app = TestApp::sqlite().await;
    let sys_id = app.create(&reference_post()).await;
    let before = app.read(&sys_id).await;
    let item = format!("{CREATE}/{sys_id}");

    let mut cases = bad_bodies();
    // Only for POST: what a create needs.
    let post_only = [
        (json!({}), "interaction: is required"),
        (
            json!({"interaction": {}}),
            "interaction.userPhoneNumber: is required",
        ),
        (
            json!({"interaction": {"userPhoneNumber": ""}}),
            "interaction.userPhoneNumber: must not be empty",
        ),
        (
            json!({"interactionContext": {"a": "b"}}),
            "interaction: is required",
        ),
    ];
    for (body, want) in post_only.iter().chain(cases.iter()) {
        let reply = app.call(Method::POST, CREATE, Some(body)).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "POST {body}: {}",
            reply.text
        );
        assert_eq!(reply.message(), "Invalid request");
        assert!(
            reply.detail().starts_with(want),
            "POST: got {:?}, want {want:?}",
            reply.detail()
        );
    }

    // Only for PATCH: an update must carry something.
    cases.push((json!({}), "body: must carry at least one of"));
    cases.push((
        json!({"interaction": {}}),
        "interaction: must carry at least one field",
    ));
    cases.push((
        json!({"phoneLogs": [], "relatedRecords": []}),
        "body: must carry at least one of",
    ));
    // Rules that need the stored record: the log created with start_time 21:45:00 cannot end before it.
    cases.push((
        json!({"interactionContext": {"fine": "yes"},
               "phoneLogs": [{"call_id": "new"}, {"call_id": "2323223", "end_time": "2024-11-04 21:00:00"}]}),
        "phoneLogs[1].end_time: must not be before start_time",
    ));
    let keys: Map<String, Value> = (0..255)
        .map(|i| (format!("extra{i}"), json!("v")))
        .collect();
    cases.push((
        json!({"interactionContext": keys}),
        "interactionContext: an interaction may have at most 256 keys",
    ));
    for (body, want) in &cases {
        let reply = app.call(Method::PATCH, &item, Some(body)).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "PATCH {body}: {}",
            reply.text
        );
        assert!(
            reply.detail().starts_with(want),
            "PATCH: got {:?}, want {want:?}",
            reply.detail()
        );
    }

    assert_eq!(
        app.read(&sys_id).await,
        before,
        "a rejected PATCH changed the record"
    );
    // No rejected POST created anything: the next number is the second one.
    let reply = app
        .call(Method::POST, CREATE, Some(&reference_post()))
        .await;
    assert_eq!(reply.json()["result"]["number"], "IMS0001002");
}

#[tokio::test]
async fn reference_example_number_is_accepted() {
    // CONTRACT §3: no numbering-plan checks, the reference's own short number passes.
    let app = TestApp::sqlite().await;
    let sys_id = app
        .create(&json!({"interaction": {"userPhoneNumber": "+1303506536"}}))
        .await;
    assert_eq!(
        app.read(&sys_id).await["interaction"]["user_phone_number"],
        "+1303506536"
    );
}

#[tokio::test]
async fn a_duplicate_json_key_is_a_400_naming_it_and_changes_nothing() {
    let app = TestApp::sqlite().await;
    let sys_id = app.create(&reference_post()).await;
    let before = app.read(&sys_id).await;
    let item = format!("{CREATE}/{sys_id}");
    let phone = r#""userPhoneNumber":"+14089965744""#;
    let cases = [
        (
            format!(
                r#"{{"interaction":{{{phone}}},"phoneLogs":[{{"call_id":"1"}}],"phoneLogs":[{{"call_id":"2"}}]}}"#
            ),
            "phoneLogs: appears more than once",
        ),
        (
            format!(r#"{{"interaction":{{{phone}}},"interaction":{{{phone}}}}}"#),
            "interaction: appears more than once",
        ),
        (
            format!(r#"{{"interaction":{{{phone},"userPhoneNumber":"+14089965745"}}}}"#),
            "interaction.userPhoneNumber: appears more than once",
        ),
        (
            format!(
                r#"{{"interaction":{{{phone},"additionalParams":{{"state":"new","state":"closed_complete"}}}}}}"#
            ),
            "interaction.additionalParams.state: appears more than once",
        ),
        (
            format!(r#"{{"interaction":{{{phone}}},"interactionContext":{{"k":"a","k":"b"}}}}"#),
            "interactionContext.k: appears more than once",
        ),
        (
            format!(
                r#"{{"interaction":{{{phone}}},"phoneLogs":[{{"call_id":"1"}},{{"call_id":"2","call_id":"3"}}]}}"#
            ),
            "phoneLogs[1].call_id: appears more than once",
        ),
    ];
    let auth = openframe_testkit::basic(openframe_testkit::API_USER);
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    for (body, want) in &cases {
        for (method, uri) in [(Method::POST, CREATE), (Method::PATCH, item.as_str())] {
            let reply = app
                .raw(method.clone(), uri, &headers, body.clone().into_bytes())
                .await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{method} {body}: {}",
                reply.text
            );
            assert_eq!(reply.detail(), *want, "{method} {body}");
        }
    }
    assert_eq!(
        app.read(&sys_id).await,
        before,
        "a refused PATCH changed it"
    );
    let reply = app
        .call(Method::POST, CREATE, Some(&reference_post()))
        .await;
    assert_eq!(reply.json()["result"]["number"], "IMS0001002");
}
