//! The Aggregate API (`GET /api/now/stats/{table}`) through the real router on SQLite: the platform's
//! response shapes, filters as the Table API reads them, groups, display values, and a 400 naming the
//! parameter for every bad input.

use axum::http::{Method, StatusCode};
use openframe_testkit::{API_USER, NO_ROLE_USER, TestApp, basic};
use serde_json::{Value, json};

/// Six interactions: states, durations (some with leading zeros, one empty), two assigned to the API user;
/// two phone logs on the first.
async fn seeded() -> TestApp {
    let app = TestApp::sqlite().await;
    let me = app
        .repo
        .find_user(API_USER.0)
        .await
        .unwrap()
        .unwrap()
        .sys_id;
    let rows = [
        ("new", "30", true),
        ("queued", "", false),
        ("on_hold", "045", false),
        ("queued", "15", true),
        ("closed_complete", "0090", false),
        ("queued", "20", false),
    ];
    for (i, (state, duration, mine)) in rows.into_iter().enumerate() {
        let mut params = json!({"state": state, "short_description": format!("Call {i}")});
        if !duration.is_empty() {
            params["duration"] = json!(duration);
        }
        if mine {
            params["assigned_to"] = json!(me.as_str());
        }
        let mut body = json!({
            "interaction": {"userPhoneNumber": "+14089965744", "additionalParams": params}
        });
        if i == 0 {
            body["phoneLogs"] = json!([
                {"call_id": "a", "call_type": "INBOUND", "duration": "10"},
                {"call_id": "b", "call_type": "OUTBOUND"}
            ]);
        }
        app.create(&body).await;
    }
    app
}

/// GET `uri` as the API user, with the characters of encoded queries a URI cannot carry raw encoded.
async fn get(app: &TestApp, uri: &str) -> openframe_testkit::Reply {
    let uri = uri
        .replace('^', "%5E")
        .replace(' ', "%20")
        .replace('>', "%3E");
    app.call(Method::GET, &uri, None).await
}

async fn result(app: &TestApp, uri: &str) -> Value {
    let reply = get(app, uri).await;
    assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text);
    reply.json()["result"].clone()
}

#[tokio::test]
async fn counts_and_aggregates_without_group_by() {
    let app = seeded().await;
    for prefix in ["/api/now/stats", "/api/now/v1/stats"] {
        assert_eq!(
            result(&app, &format!("{prefix}/interaction?sysparm_count=true")).await,
            json!({"stats": {"count": "6"}})
        );
    }
    // As pysnow 0.7.17's `count` sends it: `True`, and an encoded query.
    assert_eq!(
        result(
            &app,
            "/api/now/stats/interaction?sysparm_query=state%3Dqueued&sysparm_count=True"
        )
        .await,
        json!({"stats": {"count": "3"}})
    );
    assert_eq!(
        result(
            &app,
            "/api/now/stats/interaction?sysparm_count=true&sysparm_avg_fields=duration&sysparm_min_fields=duration,short_description&sysparm_max_fields=duration,opened_at&sysparm_sum_fields=duration,sys_mod_count"
        )
        .await["stats"],
        json!({
            "count": "6",
            "avg": {"duration": "40.0000"},
            "min": {"duration": "15", "short_description": "Call 0"},
            "max": {"duration": "90", "opened_at": result(&app, "/api/now/table/interaction?sysparm_query=ORDERBYDESCopened_at&sysparm_limit=1").await[0]["opened_at"]},
            "sum": {"duration": "200", "sys_mod_count": "0"}
        })
    );
    // Without sysparm_count there is no count; with nothing asked, empty stats.
    assert_eq!(
        result(
            &app,
            "/api/now/stats/interaction?sysparm_sum_fields=duration"
        )
        .await,
        json!({"stats": {"sum": {"duration": "200"}}})
    );
    assert_eq!(
        result(&app, "/api/now/stats/interaction").await,
        json!({"stats": {}})
    );
    // Other tables, the phone log under both its names.
    for table in ["sn_openframe_phone_log", "sn_open_frame_phone_log"] {
        assert_eq!(
            result(
                &app,
                &format!("/api/now/stats/{table}?sysparm_count=true&sysparm_avg_fields=duration")
            )
            .await,
            json!({"stats": {"count": "2", "avg": {"duration": "10.0000"}}})
        );
    }
    assert_eq!(
        result(
            &app,
            "/api/now/stats/sys_cs_provider_application?sysparm_count=true"
        )
        .await,
        json!({"stats": {"count": "1"}})
    );
    assert_eq!(
        result(
            &app,
            "/api/now/stats/interaction_related_record?sysparm_count=true"
        )
        .await,
        json!({"stats": {"count": "0"}})
    );
}

#[tokio::test]
async fn filters_are_the_table_apis() {
    let app = seeded().await;
    let count = |q: &'static str| {
        let app = &app;
        async move {
            result(
                app,
                &format!("/api/now/stats/interaction?sysparm_count=true&sysparm_query={q}"),
            )
            .await["stats"]["count"]
                .clone()
        }
    };
    assert_eq!(count("assigned_to=javascript:gs.getUserID()").await, "2");
    assert_eq!(count("state=new^NQduration>20").await, "3");
    assert_eq!(count("duration>20^ORstate=queued").await, "6");
    assert_eq!(count("durationISEMPTY").await, "1");
}

#[tokio::test]
async fn nothing_matching() {
    let app = seeded().await;
    assert_eq!(
        result(
            &app,
            "/api/now/stats/interaction?sysparm_count=true&sysparm_query=state=nope&sysparm_avg_fields=duration&sysparm_max_fields=opened_at&sysparm_sum_fields=duration"
        )
        .await,
        json!({"stats": {"count": "0", "avg": {"duration": ""}, "max": {"opened_at": ""}, "sum": {"duration": ""}}})
    );
    assert_eq!(
        result(
            &app,
            "/api/now/stats/interaction?sysparm_count=true&sysparm_query=state=nope&sysparm_group_by=state"
        )
        .await,
        json!([])
    );
}

#[tokio::test]
async fn groups_in_order_with_their_values() {
    let app = seeded().await;
    let stats = |count: &str, avg: &str, min: &str, max: &str, sum: &str| json!({"count": count, "avg": {"duration": avg}, "min": {"duration": min}, "max": {"duration": max}, "sum": {"duration": sum}});
    let group = |state: &str, stats: Value| json!({"stats": stats, "groupby_fields": [{"field": "state", "value": state}]});
    let aggregates = "sysparm_count=true&sysparm_avg_fields=duration&sysparm_min_fields=duration&sysparm_max_fields=duration&sysparm_sum_fields=duration";
    assert_eq!(
        result(
            &app,
            &format!("/api/now/stats/interaction?sysparm_group_by=state&{aggregates}")
        )
        .await,
        json!([
            group("closed_complete", stats("1", "90.0000", "90", "90", "90")),
            group("new", stats("1", "30.0000", "30", "30", "30")),
            group("on_hold", stats("1", "45.0000", "45", "45", "45")),
            group("queued", stats("3", "17.5000", "15", "20", "35")),
        ])
    );
    // ORDERBYDESC on a group-by field orders the groups; on another field it is ignored.
    let states = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|g| g["groupby_fields"][0]["value"].as_str().unwrap().to_owned())
            .collect()
    };
    let desc = result(
        &app,
        "/api/now/stats/interaction?sysparm_group_by=state&sysparm_query=ORDERBYDESCstate^ORDERBYnumber",
    )
    .await;
    assert_eq!(
        states(desc),
        ["queued", "on_hold", "new", "closed_complete"]
    );
    // Numbers group and order as numbers; the empty value is a group of its own, first.
    let by_duration = result(
        &app,
        "/api/now/stats/interaction?sysparm_group_by=duration&sysparm_count=true",
    )
    .await;
    assert_eq!(
        states(by_duration.clone()),
        ["", "15", "20", "30", "45", "90"]
    );
    assert_eq!(by_duration[0]["stats"], json!({"count": "1"}));
    // Several fields: one entry each, in the order given.
    let two = result(
        &app,
        "/api/now/stats/interaction?sysparm_group_by=state,assigned_to&sysparm_query=state=queued&sysparm_count=true",
    )
    .await;
    let me = app
        .repo
        .find_user(API_USER.0)
        .await
        .unwrap()
        .unwrap()
        .sys_id;
    assert_eq!(
        two,
        json!([
            {"stats": {"count": "2"}, "groupby_fields": [{"field": "state", "value": "queued"}, {"field": "assigned_to", "value": ""}]},
            {"stats": {"count": "1"}, "groupby_fields": [{"field": "state", "value": "queued"}, {"field": "assigned_to", "value": me.as_str()}]},
        ])
    );
}

#[tokio::test]
async fn display_values_of_groups() {
    let app = seeded().await;
    let first = |display: &'static str| {
        let app = &app;
        async move {
            result(
                app,
                &format!("/api/now/stats/interaction?sysparm_group_by=state&sysparm_display_value={display}"),
            )
            .await[0]["groupby_fields"][0]
                .clone()
        }
    };
    let stored = json!({"field": "state", "value": "closed_complete"});
    assert_eq!(first("false").await, stored);
    assert_eq!(first("").await, stored);
    assert_eq!(
        first("true").await,
        json!({"field": "state", "value": "Closed Complete"})
    );
    assert_eq!(
        first("ALL").await,
        json!({"field": "state", "value": "closed_complete", "display_value": "Closed Complete"})
    );
    // A reference shows the referenced record's display value: opened_by is the API user.
    let opened_by = result(
        &app,
        "/api/now/stats/interaction?sysparm_group_by=opened_by&sysparm_display_value=all",
    )
    .await[0]["groupby_fields"][0]
        .clone();
    assert_eq!(
        opened_by["display_value"],
        openframe_testkit::API_USER.0,
        "{opened_by}"
    );
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_parameter() {
    let app = seeded().await;
    let cases = [
        ("nope?sysparm_count=true", "table: readable tables are"),
        (
            "interaction?sysparm_group_by=state,nope",
            "sysparm_group_by: unknown field \"nope\"",
        ),
        (
            "interaction?sysparm_avg_fields=short_description",
            "sysparm_avg_fields: short_description holds no numbers",
        ),
        (
            "interaction?sysparm_sum_fields=number",
            "sysparm_sum_fields: number holds no numbers",
        ),
        (
            "interaction?sysparm_min_fields=nope",
            "sysparm_min_fields: unknown field \"nope\"",
        ),
        (
            "interaction?sysparm_max_fields=duration,x",
            "sysparm_max_fields: unknown field \"x\"",
        ),
        (
            "interaction?sysparm_count=yes",
            "sysparm_count: must be true or false",
        ),
        (
            "interaction?sysparm_display_value=maybe",
            "sysparm_display_value: must be true, false or all",
        ),
        (
            "interaction?sysparm_query=nope=1",
            "sysparm_query: unknown field \"nope\"",
        ),
        (
            "interaction?sysparm_query=ORDERBYnope",
            "sysparm_query: unknown field \"nope\"",
        ),
        (
            "interaction?sysparm_having=count^state^>^1",
            "sysparm_having: is not supported",
        ),
        (
            "interaction?sysparm_order_by=COUNT",
            "sysparm_order_by: is not supported",
        ),
    ];
    for (uri, want) in cases {
        let reply = get(&app, &format!("/api/now/stats/{uri}")).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            reply.text
        );
        assert!(
            reply.detail().starts_with(want),
            "{uri}: {}",
            reply.detail()
        );
    }
    // Other parameters are ignored, as the Table API ignores them.
    assert_eq!(
        result(
            &app,
            "/api/now/stats/interaction?sysparm_count=true&sysparm_limit=x&sysparm_fields=nope"
        )
        .await,
        json!({"stats": {"count": "6"}})
    );
}

#[tokio::test]
async fn auth_methods_and_xml() {
    let app = seeded().await;
    let uri = "/api/now/stats/interaction?sysparm_count=true";
    let reply = app.raw(Method::GET, uri, &[], Vec::new()).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let visitor = basic(NO_ROLE_USER);
    let reply = app
        .raw(Method::GET, uri, &[("authorization", &visitor)], Vec::new())
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = app.call(Method::POST, uri, Some(&json!({}))).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    let auth = basic(API_USER);
    let reply = app
        .raw(
            Method::GET,
            uri,
            &[("authorization", &auth), ("accept", "application/xml")],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.text,
        r#"<?xml version="1.0" encoding="UTF-8"?><response><result><stats><count>6</count></stats></result></response>"#
    );
}

#[tokio::test]
async fn groups_in_xml() {
    let app = seeded().await;
    let auth = basic(API_USER);
    let reply = app
        .raw(
            Method::GET,
            "/api/now/stats/interaction?sysparm_count=true&sysparm_group_by=state&sysparm_query=state=new%5EORstate=on_hold",
            &[("authorization", &auth), ("accept", "application/xml")],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    // The platform's XML: one <result> per group, <groupby_fields> repeated per field.
    assert_eq!(
        reply.text,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><response>\
         <result><stats><count>1</count></stats><groupby_fields><field>state</field><value>new</value></groupby_fields></result>\
         <result><stats><count>1</count></stats><groupby_fields><field>state</field><value>on_hold</value></groupby_fields></result>\
         </response>"
    );
}
