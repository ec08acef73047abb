//! CONTRACT §9: display values (`sysparm_display_value`), `sys_user` through the Table API, the computed
//! `interaction.active` and dot-walking in queries, through the real router on SQLite.

use axum::http::{Method, StatusCode};
use openframe_core::User;
use openframe_testkit::{API_USER, INBOUND_ID, TestApp};
use serde_json::{Value, json};

/// A store with a named user (the one assigned), two interactions (the second's parent is the first,
/// and it is closed), a phone log and a reference to a user that is not stored.
struct Seeded {
    app: TestApp,
    named: User,
    agent: User,
    first: String,
    second: String,
}

const MISSING_USER: &str = "0123456789abcdef0123456789abcdef";

async fn seeded() -> Seeded {
    let app = TestApp::sqlite().await;
    openframe_http::add_named_user(
        app.repo.as_ref(),
        "abel.tuter",
        "Abel Tuter",
        "pw",
        vec!["itil".into()],
    )
    .await
    .unwrap();
    let named = app.repo.find_user("abel.tuter").await.unwrap().unwrap();
    let agent = app.repo.find_user(API_USER.0).await.unwrap().unwrap();
    let first = app
        .create(&json!({
            "interaction": {
                "userPhoneNumber": "+14089965740",
                "inboundId": INBOUND_ID,
                "additionalParams": {"state": "work_in_progress", "direction": "inbound",
                                     "assigned_to": named.sys_id.as_str(), "opened_for": MISSING_USER}
            },
            "phoneLogs": [{"call_id": "c1", "agent": agent.sys_id.as_str(), "call_type": "INBOUND"}]
        }))
        .await;
    let second = app
        .create(&json!({
            "interaction": {
                "userPhoneNumber": "+14089965741",
                "additionalParams": {"state": "closed_complete", "parent": first}
            }
        }))
        .await;
    Seeded {
        app,
        named,
        agent,
        first,
        second,
    }
}

async fn get(app: &TestApp, uri: &str) -> Value {
    let uri = uri.replace('^', "%5E").replace(' ', "%20");
    let reply = app.call(Method::GET, &uri, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text);
    reply.json()["result"].clone()
}

fn user_link(user: &User) -> String {
    format!("http://localhost/api/now/table/sys_user/{}", user.sys_id)
}

#[tokio::test]
async fn true_shows_display_values_with_links_on_references() {
    let s = seeded().await;
    let r = get(
        &s.app,
        &format!(
            "/api/now/table/interaction/{}?sysparm_display_value=true",
            s.first
        ),
    )
    .await;
    assert_eq!(r["state"], "Work in Progress");
    assert_eq!(r["direction"], "Inbound");
    assert_eq!(r["number"], "IMS0001001");
    assert_eq!(
        r["assigned_to"],
        json!({"display_value": "Abel Tuter", "link": user_link(&s.named)})
    );
    // The agent has no full name: its user name shows.
    assert_eq!(r["opened_by"]["display_value"], API_USER.0);
    // A reference to a user that is not stored shows its value.
    assert_eq!(r["opened_for"]["display_value"], MISSING_USER);
    assert_eq!(r["provider_application"]["display_value"], "Genesys Cloud");
    assert_eq!(r["active"], "true");
    assert_eq!(r["opened_at"].as_str().unwrap().len(), 19);
    // Without links, a reference is its display value alone.
    let r = get(
        &s.app,
        &format!(
            "/api/now/table/interaction/{}?sysparm_display_value=true&sysparm_exclude_reference_link=true",
            s.second
        ),
    )
    .await;
    assert_eq!(r["parent"], "IMS0001001");
    assert_eq!(r["state"], "Closed Complete");
    assert_eq!(r["active"], "false");
    assert_eq!(r["assigned_to"], "");
}

#[tokio::test]
async fn all_shows_both_on_every_field_of_a_page() {
    let s = seeded().await;
    let page = get(
        &s.app,
        "/api/now/table/interaction?sysparm_display_value=all&sysparm_query=ORDERBYnumber",
    )
    .await;
    let first = &page[0];
    assert_eq!(
        first["assigned_to"],
        json!({"display_value": "Abel Tuter", "value": s.named.sys_id.as_str(), "link": user_link(&s.named)})
    );
    assert_eq!(
        first["state"],
        json!({"display_value": "Work in Progress", "value": "work_in_progress"})
    );
    assert_eq!(
        first["assigned_to"]["value"],
        s.named.sys_id.as_str(),
        "all keeps the stored value"
    );
    assert_eq!(
        page[1]["parent"],
        json!({"display_value": "IMS0001001", "value": s.first,
               "link": format!("http://localhost/api/now/table/interaction/{}", s.first)})
    );
    assert_eq!(
        page[1]["assigned_to"],
        json!({"display_value": "", "value": ""})
    );
    // Phone logs show their interaction by number and their agent by name.
    let logs = get(
        &s.app,
        "/api/now/table/sn_openframe_phone_log?sysparm_display_value=all&sysparm_exclude_reference_link=true&sysparm_fields=interaction,agent,call_type",
    )
    .await;
    assert_eq!(
        logs[0],
        json!({
            "interaction": {"display_value": "IMS0001001", "value": s.first},
            "agent": {"display_value": API_USER.0, "value": s.agent.sys_id.as_str()},
            "call_type": {"display_value": "Inbound", "value": "INBOUND"},
        })
    );
}

#[tokio::test]
async fn false_is_the_stored_values_and_other_modes_are_400() {
    let s = seeded().await;
    for mode in [
        "",
        "&sysparm_display_value=false",
        "&sysparm_display_value=FALSE",
    ] {
        let r = get(
            &s.app,
            &format!(
                "/api/now/table/interaction/{}?sysparm_fields=state,assigned_to{mode}",
                s.first
            ),
        )
        .await;
        assert_eq!(
            r,
            json!({"state": "work_in_progress",
                   "assigned_to": {"link": user_link(&s.named), "value": s.named.sys_id.as_str()}})
        );
    }
    let reply = s
        .app
        .call(
            Method::GET,
            "/api/now/table/interaction?sysparm_display_value=yes",
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.detail().starts_with("sysparm_display_value:"),
        "{}",
        reply.detail()
    );
}

#[tokio::test]
async fn active_is_computed_and_queryable() {
    let s = seeded().await;
    let numbers = |page: &Value| -> Vec<String> {
        page.as_array()
            .unwrap()
            .iter()
            .map(|r| r["number"].as_str().unwrap().to_owned())
            .collect()
    };
    let fields = "&sysparm_fields=number,active&sysparm_query=ORDERBYnumber";
    let active = get(
        &s.app,
        &format!("/api/now/table/interaction?sysparm_query=active=true{fields}"),
    )
    .await;
    assert_eq!(numbers(&active), ["IMS0001001"]);
    assert_eq!(active[0]["active"], "true");
    let closed = get(
        &s.app,
        &format!("/api/now/table/interaction?sysparm_query=active!=true{fields}"),
    )
    .await;
    assert_eq!(numbers(&closed), ["IMS0001002"]);
    let reply = s
        .app
        .call(
            Method::GET,
            "/api/now/table/interaction?sysparm_query=active=maybe",
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.detail().contains("active"), "{}", reply.detail());
}

#[tokio::test]
async fn users_are_readable_without_secrets() {
    let s = seeded().await;
    let user = get(
        &s.app,
        &format!("/api/now/table/sys_user/{}", s.named.sys_id),
    )
    .await;
    assert_eq!(
        user,
        json!({"sys_id": s.named.sys_id.as_str(), "user_name": "abel.tuter", "name": "Abel Tuter",
               "active": "true", "roles": "itil"})
    );
    let found = get(
        &s.app,
        "/api/now/table/sys_user?sysparm_query=nameLIKEtuter^ORuser_name=agent^ORDERBYuser_name",
    )
    .await;
    let names: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["abel.tuter", "agent"]);
    assert!(
        found
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u.get("password_hash").is_none()),
        "{found}"
    );
    // The reference links of an interaction resolve.
    let link = get(
        &s.app,
        &format!(
            "/api/now/table/interaction/{}?sysparm_fields=assigned_to",
            s.first
        ),
    )
    .await["assigned_to"]["link"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://localhost")
        .to_owned();
    assert_eq!(get(&s.app, &link).await["name"], "Abel Tuter");
    let reply = s
        .app
        .call(
            Method::GET,
            &format!("/api/now/table/sys_user/{MISSING_USER}"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = s
        .app
        .call(
            Method::GET,
            "/api/now/table/sys_user?sysparm_query=password_hashISNOTEMPTY",
            None,
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "no field password_hash"
    );
}

#[tokio::test]
async fn queries_walk_one_level_through_references() {
    let s = seeded().await;
    let numbers = |page: Value| -> Vec<String> {
        page.as_array()
            .unwrap()
            .iter()
            .map(|r| r["number"].as_str().unwrap().to_owned())
            .collect()
    };
    let q = |query: &str| {
        format!(
            "/api/now/table/interaction?sysparm_fields=number&sysparm_query={query}^ORDERBYnumber"
        )
    };
    assert_eq!(
        numbers(get(&s.app, &q("assigned_to.name=abel tuter")).await),
        ["IMS0001001"]
    );
    assert_eq!(
        numbers(get(&s.app, &q("opened_by.user_name=agent")).await),
        ["IMS0001001", "IMS0001002"]
    );
    assert_eq!(
        numbers(get(&s.app, &q("parent.number=IMS0001001")).await),
        ["IMS0001002"]
    );
    assert_eq!(
        numbers(get(&s.app, &q("provider_application.name=Genesys Cloud")).await),
        ["IMS0001001"]
    );
    assert!(numbers(get(&s.app, &q("assigned_to.user_name=nobody")).await).is_empty());
    // Ordered through a reference: an empty reference sorts first, as an empty value does.
    let ordered = |query: &str| {
        format!("/api/now/table/interaction?sysparm_fields=number&sysparm_query={query}")
    };
    assert_eq!(
        numbers(get(&s.app, &ordered("ORDERBYassigned_to.name")).await),
        ["IMS0001002", "IMS0001001"]
    );
    assert_eq!(
        numbers(get(&s.app, &ordered("ORDERBYDESCassigned_to.name")).await),
        ["IMS0001001", "IMS0001002"]
    );
    let paged = s
        .app
        .call(
            Method::GET,
            "/api/now/table/interaction?sysparm_fields=number&sysparm_limit=1&sysparm_offset=1&sysparm_query=ORDERBYparent.number%5EORDERBYnumber",
            None,
        )
        .await;
    assert_eq!(paged.headers["x-total-count"], "2");
    assert_eq!(paged.json()["result"], json!([{"number": "IMS0001002"}]));
    let logs = get(
        &s.app,
        "/api/now/table/sn_openframe_phone_log?sysparm_query=interaction.number=IMS0001001&sysparm_fields=call_id",
    )
    .await;
    assert_eq!(logs, json!([{"call_id": "c1"}]));
    for (query, says) in [
        ("ORDERBYaccount.name", "only references to sys_user"),
        ("account.name=x", "only references to sys_user"),
        (
            "assigned_to.password_hash=x",
            "assigned_to.…: unknown field \"password_hash\"",
        ),
        ("state.x=y", "only references to sys_user"),
    ] {
        let uri = format!("/api/now/table/interaction?sysparm_query={query}").replace('^', "%5E");
        let reply = s.app.call(Method::GET, &uri, None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            reply.detail().starts_with("sysparm_query:") && reply.detail().contains(says),
            "{query}: {}",
            reply.detail()
        );
    }
}

#[tokio::test]
async fn writes_answer_with_display_values_and_users_stay_read_only() {
    let s = seeded().await;
    let reply = s
        .app
        .call(
            Method::POST,
            "/api/now/table/interaction?sysparm_display_value=all&sysparm_fields=state,parent,assigned_to",
            // A choice by its label, a reference by its display value.
            Some(&json!({"parent": "IMS0001001", "assigned_to": s.named.sys_id.as_str(), "state": "On Hold"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let r = &reply.json()["result"];
    assert_eq!(
        r["state"],
        json!({"display_value": "On Hold", "value": "on_hold"})
    );
    assert_eq!(r["parent"]["display_value"], "IMS0001001");
    assert_eq!(r["assigned_to"]["display_value"], "Abel Tuter");
    for (method, uri) in [
        (Method::POST, "/api/now/table/sys_user".to_owned()),
        (
            Method::PATCH,
            format!("/api/now/table/sys_user/{}", s.named.sys_id),
        ),
        (
            Method::DELETE,
            format!("/api/now/table/sys_user/{}", s.named.sys_id),
        ),
    ] {
        let reply = s
            .app
            .call(method.clone(), &uri, Some(&json!({"name": "x"})))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}"
        );
        assert_eq!(reply.headers["allow"], "GET,HEAD", "{method} {uri}");
    }
    let user = get(
        &s.app,
        &format!("/api/now/table/sys_user/{}", s.named.sys_id),
    )
    .await;
    assert_eq!(user["name"], "Abel Tuter", "unchanged");
}

#[tokio::test]
async fn fields_walk_one_level_through_references() {
    let s = seeded().await;
    let page = get(
        &s.app,
        "/api/now/table/interaction?sysparm_query=ORDERBYnumber&sysparm_fields=number,assigned_to.name,parent.state,opened_by.user_name",
    )
    .await;
    assert_eq!(
        page,
        json!([
            {"number": "IMS0001001", "assigned_to.name": "Abel Tuter", "parent.state": "",
             "opened_by.user_name": "agent"},
            {"number": "IMS0001002", "assigned_to.name": "", "parent.state": "work_in_progress",
             "opened_by.user_name": "agent"},
        ])
    );
    let all = get(
        &s.app,
        "/api/now/table/sn_openframe_phone_log?sysparm_display_value=all&sysparm_fields=interaction.state",
    )
    .await;
    assert_eq!(
        all,
        json!([{"interaction.state": {"display_value": "Work in Progress", "value": "work_in_progress"}}])
    );
    for (fields, says) in [
        ("account.name", "only references to sys_user"),
        (
            "assigned_to.password_hash",
            "unknown field \"password_hash\"",
        ),
        ("number.x", "only references to sys_user"),
    ] {
        let uri = format!("/api/now/table/interaction?sysparm_fields={fields}");
        let reply = s.app.call(Method::GET, &uri, None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{fields}");
        assert!(
            reply.detail().starts_with("sysparm_fields:") && reply.detail().contains(says),
            "{fields}: {}",
            reply.detail()
        );
    }
}
