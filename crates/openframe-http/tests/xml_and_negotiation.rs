//! CONTRACT §3's formats through the real router on SQLite: XML requests and responses, content negotiation,
//! and the promise that the XML form of a request stores exactly what its JSON form does.

use axum::http::{Method, StatusCode, header};
use openframe_testkit::{API_USER, TestApp, basic};
use proptest::prelude::*;
use serde_json::{Value, json};

const CREATE: &str = "/api/now/openframe/voice-interaction";

const XML_CREATE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<request>
  <interaction>
    <userPhoneNumber>+1303506536</userPhoneNumber>
    <clientSessionId>a545t65678</clientSessionId>
    <callbackPhoneNumber>+14089965744</callbackPhoneNumber>
    <additionalParams>
      <direction>inbound</direction>
      <short_description>New outbound call &amp; more</short_description>
      <assigned_to>a8f98bb0eb32010045e1a5115206fe3a</assigned_to>
    </additionalParams>
  </interaction>
  <interactionContext>
    <devicetype>genesys</devicetype>
    <requester_session_language>en-US</requester_session_language>
  </interactionContext>
  <phoneLogs>
    <call_id>2323223</call_id>
    <agent>a8f98bb0eb32010045e1a5115206fe3a</agent>
    <start_time>2024-11-04 21:45:00</start_time>
  </phoneLogs>
  <relatedRecords>
    <documentTable>csm_consumer</documentTable>
    <documentId>59e788fbdb1b1200b6075200cf9619d2</documentId>
  </relatedRecords>
</request>"#;

fn headers<'a>(auth: &'a str, content_type: &'a str, accept: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("authorization", auth),
        ("content-type", content_type),
        ("accept", accept),
    ]
}

/// The text of the first `<name>` element in an XML document.
fn xml_text<'a>(doc: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = doc.find(&open)? + open.len();
    let end = doc[start..].find(&format!("</{name}>"))? + start;
    Some(&doc[start..end])
}

#[tokio::test]
async fn xml_create_update_read_and_errors() {
    let app = TestApp::sqlite().await;
    let auth = basic(API_USER);
    let reply = app
        .raw(
            Method::POST,
            CREATE,
            &headers(&auth, "application/xml", "application/xml"),
            XML_CREATE.into(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(
        reply.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    assert!(reply.text.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><response><result><status>SUCCESS</status><sysId>"#), "{}", reply.text);
    assert_eq!(xml_text(&reply.text, "number"), Some("IMS0001001"));
    let sys_id = xml_text(&reply.text, "sysId").unwrap().to_owned();

    // PATCH in XML (text/xml, charset), answer in JSON.
    let patch = "<x><interaction><additionalParams><state>on_hold</state></additionalParams></interaction>\
                 <phoneLogs><call_id>2323223</call_id><end_time>2024-11-04 21:46:40</end_time></phoneLogs>\
                 <phoneLogs><call_id>99</call_id></phoneLogs></x>";
    let reply = app
        .raw(
            Method::PATCH,
            &format!("{CREATE}/{sys_id}"),
            &headers(&auth, "text/xml; charset=utf-8", "application/json"),
            patch.into(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json(), json!({"result": {"status": "SUCCESS"}}));

    let read = app.read(&sys_id).await;
    assert_eq!(
        read["interaction"]["short_description"],
        "New outbound call & more"
    );
    assert_eq!(read["interaction"]["state"], "on_hold");
    assert_eq!(read["phoneLogs"][0]["duration"], "100");
    assert_eq!(read["phoneLogs"].as_array().unwrap().len(), 2);
    assert_eq!(read["relatedRecords"][0]["documentTable"], "csm_consumer");

    // Read back as XML: lists repeat their element.
    let reply = app
        .raw(
            Method::GET,
            &format!("{CREATE}/{sys_id}"),
            &[("authorization", &auth), ("accept", "application/xml")],
            vec![],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.text.matches("<phoneLogs>").count(),
        2,
        "{}",
        reply.text
    );

    // Errors in XML name the field the same way.
    let bad = "<r><interaction><userPhoneNumber>555</userPhoneNumber></interaction></r>";
    let reply = app
        .raw(
            Method::POST,
            CREATE,
            &headers(&auth, "application/xml", "application/xml"),
            bad.into(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.text.contains("<response><error><message>Invalid request</message><detail>interaction.userPhoneNumber: must be E.164"), "{}", reply.text);
    assert!(
        reply
            .text
            .ends_with("</error><status>failure</status></response>"),
        "{}",
        reply.text
    );

    // 404 and 401 follow Accept too.
    let reply = app
        .raw(
            Method::GET,
            &format!("{CREATE}/{}", "0".repeat(32)),
            &[("authorization", &auth), ("accept", "text/xml")],
            vec![],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(xml_text(&reply.text, "message"), Some("No Record found"));
    let reply = app
        .raw(
            Method::GET,
            &format!("{CREATE}/{sys_id}"),
            &[("accept", "application/xml")],
            vec![],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        xml_text(&reply.text, "message"),
        Some("User Not Authenticated")
    );
}

#[tokio::test]
async fn dtds_entities_and_malformed_xml_are_refused() {
    let app = TestApp::sqlite().await;
    let auth = basic(API_USER);
    let bodies = [
        (
            r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "+14089965744">]><r><interaction><userPhoneNumber>&x;</userPhoneNumber></interaction></r>"#,
            "DTD",
        ),
        (r#"<!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>"#, "DTD"),
        (
            "<r><interaction><userPhoneNumber>&x;</userPhoneNumber></interaction></r>",
            "undeclared entity",
        ),
        ("<r><interaction>", "malformed XML"),
        ("<r><interaction></r>", "malformed XML"),
    ];
    for (body, want) in bodies {
        let reply = app
            .raw(
                Method::POST,
                CREATE,
                &headers(&auth, "application/xml", "application/json"),
                body.into(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(reply.detail().contains(want), "{body}: {}", reply.detail());
    }
    let deep = format!("<r>{}{}</r>", "<a>".repeat(100_000), "</a>".repeat(100_000));
    let reply = app
        .raw(
            Method::POST,
            CREATE,
            &headers(&auth, "application/xml", "application/json"),
            deep.into(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    // Nothing was created by any of them.
    let reply = app
        .call(
            Method::POST,
            CREATE,
            Some(&json!({"interaction": {"userPhoneNumber": "+12"}})),
        )
        .await;
    assert_eq!(reply.json()["result"]["number"], "IMS0001001");
}

#[tokio::test]
async fn accept_decides_the_response_format() {
    let app = TestApp::sqlite().await;
    let auth = basic(API_USER);
    let body = json!({"interaction": {"userPhoneNumber": "+12"}}).to_string();
    let cases = [
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("application/xml", "application/xml"),
        ("text/xml", "application/xml"),
        (
            "application/json;q=0.4, application/xml;q=0.8",
            "application/xml",
        ),
        (
            "application/xml;q=0.4, application/json;q=0.8",
            "application/json",
        ),
        ("text/html, */*;q=0.1", "application/json"),
    ];
    for (accept, want) in cases {
        let mut h = vec![
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        if !accept.is_empty() {
            h.push(("accept", accept));
        }
        let reply = app
            .raw(Method::POST, CREATE, &h, body.clone().into_bytes())
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{accept}: {}", reply.text);
        let got = reply.headers[header::CONTENT_TYPE].to_str().unwrap();
        assert!(got.starts_with(want), "{accept}: got {got}");
    }
    for accept in [
        "text/html",
        "image/png",
        "application/json;q=0, application/xml;q=0",
    ] {
        let h = [
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
            ("accept", accept),
        ];
        let reply = app
            .raw(Method::POST, CREATE, &h, body.clone().into_bytes())
            .await;
        assert_eq!(reply.status, StatusCode::NOT_ACCEPTABLE, "{accept}");
        assert_eq!(reply.message(), "Not Acceptable");
    }
    for content_type in [
        "application/vnd.openframe+json",
        "application/json;charset=UTF-8",
    ] {
        let h = [
            ("authorization", auth.as_str()),
            ("content-type", content_type),
        ];
        let reply = app
            .raw(Method::POST, CREATE, &h, body.clone().into_bytes())
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{content_type}");
    }
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        let h = [
            ("authorization", auth.as_str()),
            ("content-type", content_type),
        ];
        let reply = app
            .raw(Method::POST, CREATE, &h, body.clone().into_bytes())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
        assert_eq!(reply.json()["status"], "failure");
    }
}

/// Writes a JSON request body as the XML a client would send for it.
fn to_xml(body: &Value) -> String {
    fn element(out: &mut String, name: &str, v: &Value) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| element(out, name, i)),
            Value::Object(m) => {
                out.push_str(&format!("<{name}>"));
                m.iter().for_each(|(k, v)| element(out, k, v));
                out.push_str(&format!("</{name}>"));
            }
            Value::String(s) => {
                let escaped = s
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;");
                out.push_str(&format!("<{name}>{escaped}</{name}>"));
            }
            other => out.push_str(&format!("<{name}>{other}</{name}>")),
        }
    }
    let mut out = String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    element(&mut out, "request", body);
    out
}

fn text() -> impl Strategy<Value = String> {
    // Printable text including XML's special characters and non-ASCII; no leading/trailing whitespace only
    // strings, which an XML element cannot tell from formatting.
    "[a-zA-Z0-9 <>&'\"é☺_.-]{1,20}".prop_filter("not blank", |s| !s.trim().is_empty())
}

fn request_body() -> impl Strategy<Value = Value> {
    let phone = "\\+[1-9][0-9]{1,14}";
    let sys_id = "[0-9a-f]{32}";
    (
        phone,
        proptest::option::of(phone),
        proptest::option::of(text()),
        proptest::option::of(prop::sample::select(vec![
            "new",
            "queued",
            "on_hold",
            "closed_complete",
        ])),
        proptest::option::of(sys_id),
        proptest::collection::btree_map("[a-z_][a-z0-9_.-]{0,10}", text(), 0..4),
        proptest::collection::vec(
            (
                "[0-9]{1,4}",
                proptest::option::of(text()),
                proptest::option::of(sys_id),
            ),
            0..4,
        ),
        proptest::collection::vec(("[a-z][a-z0-9_]{0,10}", sys_id), 0..3),
    )
        .prop_map(
            |(user, callback, description, state, assigned, context, logs, related)| {
                let mut interaction = json!({"userPhoneNumber": user});
                if let Some(c) = callback {
                    interaction["callbackPhoneNumber"] = json!(c);
                }
                let mut params = serde_json::Map::new();
                if let Some(d) = description {
                    params.insert("short_description".into(), json!(d));
                }
                if let Some(s) = state {
                    params.insert("state".into(), json!(s));
                }
                if let Some(a) = assigned {
                    params.insert("assigned_to".into(), json!(a));
                }
                if !params.is_empty() {
                    interaction["additionalParams"] = Value::Object(params);
                }
                let mut body = json!({"interaction": interaction});
                if !context.is_empty() {
                    body["interactionContext"] = json!(context);
                }
                if !logs.is_empty() {
                    let logs: Vec<Value> = logs
                        .into_iter()
                        .map(|(call_id, notes, agent)| {
                            let mut log =
                                json!({"call_id": call_id, "start_time": "2024-11-04 21:45:00"});
                            if let Some(n) = notes {
                                log["call_type"] = json!(if n.len() % 2 == 0 {
                                    "INBOUND"
                                } else {
                                    "OUTBOUND"
                                });
                            }
                            if let Some(a) = agent {
                                log["agent"] = json!(a);
                            }
                            log
                        })
                        .collect();
                    body["phoneLogs"] = Value::Array(logs);
                }
                if !related.is_empty() {
                    let related: Vec<Value> = related
                        .into_iter()
                        .map(|(t, id)| json!({"documentTable": t, "documentId": id}))
                        .collect();
                    body["relatedRecords"] = Value::Array(related);
                }
                body
            },
        )
}

/// Everything of a read-back that does not depend on when or as what it was created.
fn comparable(mut read: Value) -> Value {
    for key in ["sysId", "number"] {
        read.as_object_mut().unwrap().remove(key);
    }
    let scrub = |record: &mut Value| {
        for f in [
            "sys_id",
            "interaction",
            "number",
            "sys_created_on",
            "sys_updated_on",
            "opened_at",
            "closed_at",
        ] {
            if let Some(v) = record.get_mut(f) {
                *v = json!("");
            }
        }
    };
    scrub(&mut read["interaction"]);
    if let Some(logs) = read["phoneLogs"].as_array_mut() {
        logs.iter_mut().for_each(scrub);
    }
    read
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn json_and_xml_store_the_same_record(body in request_body()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let app = TestApp::sqlite().await;
            let auth = basic(API_USER);
            let post = |content_type: &'static str, bytes: Vec<u8>| {
                let app = &app;
                let auth = auth.clone();
                async move {
                    let h = [("authorization", auth.as_str()), ("content-type", content_type)];
                    app.raw(Method::POST, CREATE, &h, bytes).await
                }
            };
            let from_json = post("application/json", body.to_string().into_bytes()).await;
            let from_xml = post("application/xml", to_xml(&body).into_bytes()).await;
            prop_assert_eq!(from_json.status, from_xml.status, "{} / {}", from_json.text, from_xml.text);
            if from_json.status != StatusCode::OK {
                prop_assert_eq!(from_json.detail(), from_xml.detail());
                return Ok(());
            }
            let a = app.read(from_json.json()["result"]["sysId"].as_str().unwrap()).await;
            let b = app.read(from_xml.json()["result"]["sysId"].as_str().unwrap()).await;
            prop_assert_eq!(comparable(a), comparable(b));
            Ok(())
        })?;
    }
}
