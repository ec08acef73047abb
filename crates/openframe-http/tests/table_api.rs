//! CONTRACT §6: the read-only Table API through the real router on SQLite.

use axum::http::{Method, StatusCode, header};
use openframe_testkit::{API_USER, TestApp, basic};
use serde_json::json;

/// Five interactions with distinct session ids and states, two phone logs on the first, one related record.
async fn seeded() -> (TestApp, Vec<String>) {
    let app = TestApp::sqlite().await;
    let mut ids = Vec::new();
    for (i, state) in ["new", "queued", "on_hold", "queued", "closed_complete"]
        .iter()
        .enumerate()
    {
        let mut body = json!({
            "interaction": {
                "userPhoneNumber": format!("+1408996574{i}"),
                "clientSessionId": format!("session-{i}"),
                "additionalParams": {"state": state, "short_description": format!("Call number {i}")}
            }
        });
        if i == 0 {
            body["phoneLogs"] = json!([{"call_id": "a", "agent": "a8f98bb0eb32010045e1a5115206fe3a"}, {"call_id": "b"}]);
            body["relatedRecords"] = json!([{"documentTable": "csm_consumer", "documentId": "59e788fbdb1b1200b6075200cf9619d2"}]);
        }
        ids.push(app.create(&body).await);
    }
    (app, ids)
}

/// GET `uri`, with the characters of encoded queries that a URI cannot carry raw percent-encoded, as clients do.
async fn get(app: &TestApp, uri: &str) -> openframe_testkit::Reply {
    let uri = uri.replace('^', "%5E").replace(' ', "%20");
    app.call(Method::GET, &uri, None).await
}

fn numbers(reply: &openframe_testkit::Reply) -> Vec<String> {
    reply.json()["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["number"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn single_records_by_sys_id() {
    let (app, ids) = seeded().await;
    let reply = get(&app, &format!("/api/now/table/interaction/{}", ids[0])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let r = &reply.json()["result"];
    assert_eq!(r["sys_id"], ids[0]);
    assert_eq!(r["number"], "IMS0001001");
    let agent = app.repo.find_user(API_USER.0).await.unwrap().unwrap();
    assert_eq!(
        r["opened_by"],
        json!({"link": format!("http://localhost/api/now/table/sys_user/{}", agent.sys_id), "value": agent.sys_id.as_str()})
    );
    assert_eq!(
        r["assigned_to"], "",
        "an empty reference is an empty string"
    );

    let reply = get(
        &app,
        &format!(
            "/api/now/table/interaction/{}?sysparm_exclude_reference_link=true",
            ids[0]
        ),
    )
    .await;
    assert_eq!(reply.json()["result"]["opened_by"], agent.sys_id.as_str());

    // Phone logs answer under both spellings of their table.
    let list = get(
        &app,
        &format!(
            "/api/now/table/sn_openframe_phone_log?sysparm_query=interaction={}",
            ids[0]
        ),
    )
    .await;
    let log_id = list.json()["result"][0]["sys_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for table in ["sn_openframe_phone_log", "sn_open_frame_phone_log"] {
        let reply = get(&app, &format!("/api/now/table/{table}/{log_id}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{table}");
        assert_eq!(reply.json()["result"]["interaction"]["value"], ids[0]);
    }

    let reply = get(
        &app,
        &format!("/api/now/table/interaction/{}", "0".repeat(32)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.message(), "No Record found");
    // As on the platform, a value that is no sys_id (a number, say, as pysnc's `gr.get('IMS0001005')` sends)
    // names no record: 404, so that `if gr.get(x):` reads as false instead of raising.
    for not_a_sys_id in ["xyz", "IMS0001001", &"A".repeat(32), "%20"] {
        let reply = get(&app, &format!("/api/now/table/interaction/{not_a_sys_id}")).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{not_a_sys_id}");
        assert_eq!(reply.message(), "No Record found");
    }
    // A log's sys_id is not an interaction.
    let reply = get(&app, &format!("/api/now/table/interaction/{log_id}")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn queries_order_and_page() {
    let (app, ids) = seeded().await;
    let reply = get(&app, "/api/now/table/interaction").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["x-total-count"], "5");
    assert_eq!(reply.json()["result"].as_array().unwrap().len(), 5);

    let q = |s: &str| format!("/api/now/table/interaction?sysparm_query={s}");
    let reply = get(&app, &q("state=queued^ORDERBYnumber")).await;
    assert_eq!(numbers(&reply), ["IMS0001002", "IMS0001004"]);
    let reply = get(&app, &q("state!=queued^ORDERBYDESCnumber")).await;
    assert_eq!(numbers(&reply), ["IMS0001005", "IMS0001003", "IMS0001001"]);
    let reply = get(&app, &q("state=new^ORstate=on_hold^ORDERBYnumber")).await;
    assert_eq!(numbers(&reply), ["IMS0001001", "IMS0001003"]);
    let reply = get(&app, &q("client_session_id=session-3")).await;
    assert_eq!(numbers(&reply), ["IMS0001004"]);
    let reply = get(
        &app,
        &q("numberSTARTSWITHIMS000100^short_descriptionLIKEnumber 2"),
    )
    .await;
    assert_eq!(numbers(&reply), ["IMS0001003"]);
    let reply = get(&app, &q("assigned_toISEMPTY^closed_atISNOTEMPTY")).await;
    assert_eq!(numbers(&reply), ["IMS0001005"]);
    // Percent-encoded, as clients send it.
    let reply = get(
        &app,
        "/api/now/table/interaction?sysparm_query=state%3Dqueued%5EORDERBYDESCnumber",
    )
    .await;
    assert_eq!(numbers(&reply), ["IMS0001004", "IMS0001002"]);

    // Paging: limit, offset, total and links.
    let reply = get(
        &app,
        &format!("{}&sysparm_limit=2&sysparm_offset=2", q("ORDERBYnumber")),
    )
    .await;
    assert_eq!(numbers(&reply), ["IMS0001003", "IMS0001004"]);
    assert_eq!(reply.headers["x-total-count"], "5");
    let link = reply.headers[header::LINK].to_str().unwrap();
    for (rel, offset) in [("first", 0), ("prev", 0), ("next", 4), ("last", 4)] {
        let want = format!("sysparm_limit=2&sysparm_offset={offset}>;rel=\"{rel}\"");
        assert!(link.contains(&want), "{want} not in {link}");
    }
    assert!(
        link.contains("<http://localhost/api/now/table/interaction?sysparm_query=ORDERBYnumber&"),
        "{link}"
    );

    // Field lists, in the order asked.
    let reply = get(
        &app,
        &format!("{}&sysparm_fields=number,state", q("ORDERBYnumber")),
    )
    .await;
    assert_eq!(
        reply.json()["result"][0],
        json!({"number": "IMS0001001", "state": "new"})
    );

    // Other tables.
    let reply = get(
        &app,
        &format!(
            "/api/now/table/sn_openframe_phone_log?sysparm_query=interaction={}^ORDERBYcall_id",
            ids[0]
        ),
    )
    .await;
    let result = reply.json()["result"].clone();
    let calls: Vec<&str> = result
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["call_id"].as_str().unwrap())
        .collect();
    assert_eq!(calls, ["a", "b"]);
    let reply = get(
        &app,
        "/api/now/table/interaction_related_record?sysparm_exclude_reference_link=true",
    )
    .await;
    assert_eq!(reply.json()["result"][0]["document_table"], "csm_consumer");
    assert_eq!(reply.json()["result"][0]["interaction"], ids[0]);
    let reply = get(&app, "/api/now/table/sys_cs_provider_application").await;
    assert_eq!(
        reply.json()["result"][0]["inbound_id"],
        openframe_testkit::INBOUND_ID
    );
}

#[tokio::test]
async fn bad_parameters_are_400s() {
    let (app, _) = seeded().await;
    let reply = get(&app, "/api/now/table/incident").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.message(), "Invalid table incident");
    let cases = [
        (
            "sysparm_query=colour=red",
            "sysparm_query: unknown field \"colour\"",
        ),
        (
            "sysparm_query=ORDERBYcolour",
            "sysparm_query: unknown field \"colour\"",
        ),
        (
            "sysparm_query=state~new",
            "sysparm_query: unsupported condition",
        ),
        (
            "sysparm_fields=number,colour",
            "sysparm_fields: unknown field \"colour\"",
        ),
        ("sysparm_limit=0", "sysparm_limit: must be"),
        ("sysparm_limit=10001", "sysparm_limit: must be"),
        ("sysparm_limit=ten", "sysparm_limit: must be"),
        ("sysparm_offset=-1", "sysparm_offset: must be"),
        (
            "sysparm_exclude_reference_link=maybe",
            "sysparm_exclude_reference_link: must be true or false",
        ),
        ("sysparm_query=%zz", "query: malformed percent-encoding"),
    ];
    for (params, want) in cases {
        let reply = get(&app, &format!("/api/now/table/interaction?{params}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{params}");
        assert!(
            reply.detail().starts_with(want),
            "{params}: {}",
            reply.detail()
        );
    }
    // A method the Table API does not have is a 405 with Allow (writes: tests/table_api_writes.rs).
    let reply = app
        .call(Method::PUT, "/api/now/table/interaction", Some(&json!({})))
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.headers[header::ALLOW], "GET,HEAD,POST");
    // Credentials are needed here too.
    let reply = app
        .raw(Method::GET, "/api/now/table/interaction", &[], vec![])
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn lists_in_xml() {
    let (app, _) = seeded().await;
    let auth = basic(API_USER);
    let reply = app
        .raw(
            Method::GET,
            "/api/now/table/interaction?sysparm_fields=number&sysparm_query=ORDERBYnumber&sysparm_limit=2",
            &[("authorization", &auth), ("accept", "application/xml")],
            vec![],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.text,
        r#"<?xml version="1.0" encoding="UTF-8"?><response><result><number>IMS0001001</number></result><result><number>IMS0001002</number></result></response>"#
    );
}

#[tokio::test]
async fn the_platforms_caller_operand_means_the_signed_in_user() {
    let (app, ids) = seeded().await;
    let agent = app.repo.find_user(API_USER.0).await.unwrap().unwrap();
    let admin_like = "a8f98bb0eb32010045e1a5115206fe3a";
    for (id, assignee) in [(&ids[1], agent.sys_id.as_str()), (&ids[3], admin_like)] {
        let reply = app
            .call(
                Method::PATCH,
                &format!("/api/now/openframe/voice-interaction/{id}"),
                Some(&json!({"interaction": {"additionalParams": {"assigned_to": assignee}}})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    let mine = get(
        &app,
        "/api/now/table/interaction?sysparm_query=assigned_to%3Djavascript%3Ags.getUserID()^ORDERBYnumber",
    )
    .await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    assert_eq!(numbers(&mine), ["IMS0001002"]);
    // Combined with other conditions, and resolved for whoever signs in: nobody else's records.
    let not_mine = get(
        &app,
        "/api/now/table/interaction?sysparm_query=assigned_to!=javascript:gs.getUserID()^assigned_toISNOTEMPTY",
    )
    .await;
    assert_eq!(numbers(&not_mine), ["IMS0001004"]);
}

/// A page of more rows than are rendered on the request's own worker (the blocking pool writes it) reads the
/// same as any other, in JSON and in XML.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_page_reads_like_a_small_one() {
    let app = TestApp::with_repo(
        std::sync::Arc::new(openframe_core::MemoryRepository::new()),
        tempfile::tempdir().expect("temp dir"),
    )
    .await;
    let body = json!({"interaction": {"userPhoneNumber": "+14089965744"}});
    for _ in 0..600 {
        app.create(&body).await;
    }
    let reply = get(
        &app,
        "/api/now/table/interaction?sysparm_limit=600&sysparm_fields=number,sys_id&sysparm_query=ORDERBYnumber",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let numbers = numbers(&reply);
    assert_eq!(numbers.len(), 600);
    assert_eq!(numbers[0], "IMS0001001");
    assert_eq!(numbers[599], "IMS0001600");
    let xml = app
        .raw(
            Method::GET,
            "/api/now/table/interaction?sysparm_limit=600&sysparm_fields=number",
            &[
                (header::AUTHORIZATION.as_str(), &basic(API_USER)),
                (header::ACCEPT.as_str(), "application/xml"),
            ],
            vec![],
        )
        .await;
    assert_eq!(xml.status, StatusCode::OK);
    assert!(xml.text.starts_with("<?xml"), "{}", &xml.text[..80]);
    assert_eq!(xml.text.matches("<number>").count(), 600);
}

/// A long query (pysnow chains, a thousand OR-ed sys_ids) keeps the `Link` header under 8 KiB, which proxies
/// and Python's http.client can read; `sysparm_suppress_pagination_header=true` leaves it out, as pysnc asks.
#[tokio::test]
async fn link_headers_stay_readable_and_can_be_suppressed() {
    let (app, ids) = seeded().await;
    let long: Vec<String> = (0..400)
        .map(|i| format!("client_session_id=session-{i}"))
        .collect();
    let query = long.join("^OR");
    assert!(query.len() > 10_000);
    let reply = get(
        &app,
        &format!(
            "/api/now/table/interaction?sysparm_limit=2&sysparm_offset=2&sysparm_query={query}"
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.headers["x-total-count"], "5");
    assert!(
        reply.headers.get(header::LINK).is_none(),
        "one link alone is over 8 KiB"
    );
    let short: Vec<String> = (0..40)
        .map(|i| format!("client_session_id=session-{i}"))
        .collect();
    let reply = get(
        &app,
        &format!(
            "/api/now/table/interaction?sysparm_limit=2&sysparm_offset=2&sysparm_query={}",
            short.join("^OR")
        ),
    )
    .await;
    let link = reply.headers[header::LINK].to_str().unwrap();
    assert!(link.len() <= 8 * 1024, "{}", link.len());
    assert!(link.contains("rel=\"next\""), "{link}");

    for (value, present) in [
        ("true", false),
        ("TRUE", false),
        ("false", true),
        ("", true),
    ] {
        let reply = get(
            &app,
            &format!("/api/now/table/interaction?sysparm_limit=2&sysparm_suppress_pagination_header={value}"),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(
            reply.headers.contains_key(header::LINK),
            present,
            "{value:?}"
        );
        assert_eq!(
            reply.headers["x-total-count"],
            ids.len().to_string().as_str()
        );
    }
    let reply = get(
        &app,
        "/api/now/table/interaction?sysparm_suppress_pagination_header=maybe",
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.detail(),
        "sysparm_suppress_pagination_header: must be true or false"
    );
}

/// `sysparm_no_count=true`: nothing is counted, so no `X-Total-Count`; a full page links a next one, and
/// no last.
#[tokio::test]
async fn without_a_count_there_is_no_total_and_a_full_page_has_a_next() {
    let (app, _) = seeded().await;
    let reply = get(
        &app,
        "/api/now/table/interaction?sysparm_limit=2&sysparm_no_count=true&sysparm_fields=number",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.headers.get("x-total-count").is_none());
    assert_eq!(numbers(&reply), ["IMS0001001", "IMS0001002"]);
    let link = reply.headers[header::LINK].to_str().unwrap();
    assert!(link.contains("sysparm_offset=2>;rel=\"next\""), "{link}");
    assert!(!link.contains("rel=\"last\""), "{link}");
    let reply = get(
        &app,
        "/api/now/table/interaction?sysparm_limit=10&sysparm_no_count=TRUE",
    )
    .await;
    assert!(reply.headers.get("x-total-count").is_none());
    let link = reply.headers[header::LINK].to_str().unwrap();
    assert!(!link.contains("rel=\"next\""), "{link}");
    let reply = get(&app, "/api/now/table/interaction?sysparm_no_count=false").await;
    assert_eq!(reply.headers["x-total-count"], "5");
    let reply = get(&app, "/api/now/table/interaction?sysparm_no_count=yes").await;
    assert_eq!(reply.detail(), "sysparm_no_count: must be true or false");
}
