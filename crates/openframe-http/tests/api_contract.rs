//! CONTRACT §1, §2 and §5 through the real router on a real SQLite store.

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::{Method, StatusCode, header};
use openframe_core::oauth::{OAuthClient, OAuthToken};
use openframe_core::query::{RecordPage, TableQuery};
use openframe_core::schema::Table;
use openframe_core::stats::{AggregateGroup, AggregateQuery};
use openframe_core::{
    AggregateChange, Error, EventPage, InteractionAggregate, Record, Repository, SysId, UpdatePlan,
    User,
};
use openframe_testkit::{
    API_USER, INBOUND_ID, NO_ROLE_USER, TestApp, basic, reference_patch, reference_post,
};
use serde_json::json;

const CREATE: &str = "/api/now/openframe/voice-interaction";

fn item(sys_id: &str) -> String {
    format!("{CREATE}/{sys_id}")
}

#[tokio::test]
async fn reference_post_then_patch_then_read() {
    let app = TestApp::sqlite().await;
    let reply = app
        .call(Method::POST, CREATE, Some(&reference_post()))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(
        reply.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let result = &reply.json()["result"];
    assert_eq!(result["status"], "SUCCESS");
    assert_eq!(result["number"], "IMS0001001");
    let sys_id = result["sysId"].as_str().unwrap();
    assert!(SysId::parse(sys_id).is_ok());
    assert_eq!(reply.json().as_object().unwrap().len(), 1);

    let read = app.read(sys_id).await;
    assert_eq!(read["sysId"], sys_id);
    assert_eq!(read["number"], "IMS0001001");
    let i = &read["interaction"];
    assert_eq!(i["user_phone_number"], "+1303506536");
    assert_eq!(i["caller_phone_number"], "+14089965744");
    assert_eq!(i["client_session_id"], "a545t65678");
    assert_eq!(i["direction"], "inbound");
    assert_eq!(i["short_description"], "New outbound call");
    assert_eq!(i["assigned_to"], "a8f98bb0eb32010045e1a5115206fe3a");
    assert_eq!(i["type"], "phone");
    assert_eq!(i["state"], "new");
    assert_eq!(i["channel_metadata_table"], "sn_openframe_phone_log");
    assert_eq!(i["sys_created_by"], API_USER.0);
    assert_eq!(i["sys_mod_count"], "0");
    assert_eq!(i["closed_at"], "", "unset fields are present and empty");
    let agent = app.repo.find_user(API_USER.0).await.unwrap().unwrap();
    assert_eq!(i["opened_by"], agent.sys_id.as_str());
    for f in openframe_core::schema::INTERACTION.field_names() {
        assert!(i.get(f).is_some_and(|v| v.is_string()), "field {f} missing");
    }
    assert_eq!(
        read["interactionContext"],
        json!({"devicetype": "genesys", "requester_session_language": "en-US"})
    );
    let logs = read["phoneLogs"].as_array().unwrap();
    let ids: Vec<_> = logs
        .iter()
        .map(|l| l["call_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["2323223", "33535353", "1997654"], "creation order");
    assert_eq!(logs[0]["interaction"], sys_id);
    assert_eq!(logs[0]["start_time"], "2024-11-04 21:45:00");
    assert_eq!(read["relatedRecords"].as_array().unwrap().len(), 2);

    let reply = app
        .call(Method::PATCH, &item(sys_id), Some(&reference_patch()))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json(), json!({"result": {"status": "SUCCESS"}}));

    let read = app.read(sys_id).await;
    assert_eq!(
        read["interaction"]["short_description"],
        "New Poonam outbound call"
    );
    assert_eq!(read["interaction"]["sys_mod_count"], "1");
    assert_eq!(
        read["phoneLogs"].as_array().unwrap().len(),
        3,
        "same call_ids update, not add"
    );
    assert_eq!(read["phoneLogs"][0]["sys_mod_count"], "1");
    assert_eq!(
        read["relatedRecords"].as_array().unwrap().len(),
        2,
        "same pairs are not added twice"
    );
}

#[tokio::test]
async fn versioned_paths_answer_and_others_are_400() {
    let app = TestApp::sqlite().await;
    let reply = app
        .call(
            Method::POST,
            "/api/now/openframe/v1/voice-interaction",
            Some(&reference_post()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let sys_id = reply.json()["result"]["sysId"].as_str().unwrap().to_owned();
    let reply = app
        .call(
            Method::GET,
            &format!("/api/now/openframe/v1/voice-interaction/{sys_id}"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    for uri in [
        "/api/now/openframe/v2/voice-interaction",
        "/api/now/openframe/x/voice-interaction",
        "/api/now/openframe/voice-interactions",
        "/api/now/whatever",
        "/api/now/",
    ] {
        let reply = app.call(Method::POST, uri, Some(&reference_post())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(
            reply.message(),
            "Requested URI does not represent any resource",
            "{uri}"
        );
        assert_eq!(reply.json()["status"], "failure");
    }
}

#[tokio::test]
async fn authentication_and_roles() {
    let app = TestApp::sqlite().await;
    let cases: Vec<Vec<(&str, String)>> = vec![
        vec![],
        vec![("authorization", basic((API_USER.0, "wrong")))],
        vec![("authorization", basic(("nobody", API_USER.1)))],
        vec![("authorization", "Bearer abc".to_owned())],
        vec![("authorization", "Basic %%%".to_owned())],
    ];
    for headers in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = app
            .raw(Method::GET, &item(&"a".repeat(32)), &headers, vec![])
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(reply.message(), "User Not Authenticated");
        assert_eq!(
            reply.headers[header::WWW_AUTHENTICATE],
            "Basic realm=\"openframe\""
        );
    }
    // Unknown paths are not revealed to anonymous clients either.
    let reply = app.raw(Method::GET, "/api/now/nothing", &[], vec![]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    let auth = basic(NO_ROLE_USER);
    let body = reference_post().to_string().into_bytes();
    let reply = app
        .raw(Method::POST, CREATE, &[("authorization", &auth)], body)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.message(), "User Not Authorized");

    // A correct password still works after failures, and again from the cache.
    for _ in 0..2 {
        let reply = app
            .call(Method::POST, CREATE, Some(&reference_post()))
            .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn not_found_and_malformed_sys_ids() {
    let app = TestApp::sqlite().await;
    let missing = "0123456789abcdef0123456789abcdef";
    let reply = app.call(Method::GET, &item(missing), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.message(), "No Record found");
    let reply = app
        .call(
            Method::PATCH,
            &item(missing),
            Some(&json!({"interactionContext": {"a": "b"}})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    for bad in [
        "abc",
        "0123456789ABCDEF0123456789ABCDEF",
        "0123456789abcdef0123456789abcdeg",
    ] {
        let reply = app.call(Method::GET, &item(bad), None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            reply.detail().starts_with("sysId: must be a sys_id"),
            "{}",
            reply.text
        );
        let reply = app
            .call(
                Method::PATCH,
                &item(bad),
                Some(&json!({"interactionContext": {"a": "b"}})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn body_size_content_type_accept_and_method() {
    let app = TestApp::sqlite().await;
    let auth = basic(API_USER);

    let big = format!(
        r#"{{"interaction":{{"userPhoneNumber":"+12","clientSessionId":"{}"}}}}"#,
        "x".repeat(1 << 20)
    );
    let reply = app
        .raw(
            Method::POST,
            CREATE,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            big.into_bytes(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.json()["status"], "failure");

    let body = reference_post().to_string().into_bytes();
    let reply = app
        .raw(
            Method::POST,
            CREATE,
            &[("authorization", &auth), ("content-type", "text/plain")],
            body.clone(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // A missing Content-Type is JSON; a charset parameter is fine.
    let reply = app
        .raw(
            Method::POST,
            CREATE,
            &[("authorization", &auth)],
            body.clone(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let reply = app
        .raw(
            Method::POST,
            CREATE,
            &[
                ("authorization", &auth),
                ("content-type", "application/json; charset=UTF-8"),
            ],
            body.clone(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    let reply = app
        .raw(
            Method::POST,
            CREATE,
            &[("authorization", &auth), ("accept", "text/html")],
            body.clone(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_ACCEPTABLE);
    assert!(
        reply.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(reply.message(), "Not Acceptable");

    let reply = app
        .raw(Method::GET, CREATE, &[("authorization", &auth)], vec![])
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.headers[header::ALLOW], "POST");
    assert_eq!(reply.json()["status"], "failure");
    assert_eq!(reply.detail(), "allowed methods: POST");
    let reply = app
        .raw(
            Method::DELETE,
            &item(&"a".repeat(32)),
            &[("authorization", &auth)],
            vec![],
        )
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    let allow = reply.headers[header::ALLOW].to_str().unwrap();
    assert!(allow.contains("GET") && allow.contains("PATCH"), "{allow}");
    assert_eq!(reply.detail(), format!("allowed methods: {allow}"));

    let reply = app
        .raw(
            Method::POST,
            CREATE,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            b"{\"interaction\":".to_vec(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.detail().starts_with("body: malformed JSON"),
        "{}",
        reply.text
    );
    let reply = app
        .raw(Method::POST, CREATE, &[("authorization", &auth)], vec![])
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.detail(), "body: is required");
}

#[tokio::test]
async fn health_needs_no_auth() {
    let app = TestApp::sqlite().await;
    let reply = app.raw(Method::GET, "/healthz", &[], vec![]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"status": "ok"}));
}

#[tokio::test]
async fn business_rules_on_update() {
    let app = TestApp::sqlite().await;
    let sys_id = app
        .create(
            &json!({"interaction": {"userPhoneNumber": "+14089965744", "inboundId": INBOUND_ID},
                        "phoneLogs": [{"call_id": "c1", "start_time": "2024-11-04 21:45:00"}]}),
        )
        .await;
    let read = app.read(&sys_id).await;
    assert_eq!(read["interaction"]["inbound_id"], INBOUND_ID);
    assert!(
        SysId::parse(
            read["interaction"]["provider_application"]
                .as_str()
                .unwrap()
        )
        .is_ok()
    );
    let caller = app.repo.find_user(API_USER.0).await.unwrap().unwrap();
    assert_eq!(
        read["phoneLogs"][0]["agent"],
        caller.sys_id.as_str(),
        "agent defaults to the caller"
    );

    let patch = json!({
        "interaction": {"additionalParams": {"state": "closed_complete", "work_notes": 42}},
        "interactionContext": {"a": "1", "b": "2"},
        "phoneLogs": [{"call_id": "c1", "end_time": "2024-11-04 21:50:30"}, {"call_id": "c2"}]
    });
    let reply = app.call(Method::PATCH, &item(&sys_id), Some(&patch)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let read = app.read(&sys_id).await;
    let i = &read["interaction"];
    assert_eq!(i["state"], "closed_complete");
    assert_eq!(i["work_notes"], "42");
    assert_eq!(i["closed_by"], caller.sys_id.as_str());
    assert!(openframe_core::DateTime::parse(i["closed_at"].as_str().unwrap()).is_some());
    assert_eq!(
        read["phoneLogs"][0]["duration"], "330",
        "computed from start and end"
    );
    assert_eq!(read["phoneLogs"].as_array().unwrap().len(), 2);

    let patch =
        json!({"interactionContext": {"a": null, "c": "3"}, "interaction": {"inboundId": null}});
    let reply = app.call(Method::PATCH, &item(&sys_id), Some(&patch)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let read = app.read(&sys_id).await;
    assert_eq!(read["interactionContext"], json!({"b": "2", "c": "3"}));
    assert_eq!(read["interaction"]["provider_application"], "");
    assert_eq!(read["interaction"]["sys_mod_count"], "2");

    let reply = app
        .call(
            Method::PATCH,
            &item(&sys_id),
            Some(&json!({"interaction": {"inboundId": "nope"}})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.detail().starts_with("interaction.inboundId:"),
        "{}",
        reply.text
    );
}

/// A store that fails every call with one kind of error.
#[derive(Debug)]
struct BrokenStore(fn() -> Error);

#[async_trait]
impl Repository for BrokenStore {
    async fn create_interaction(&self, _: InteractionAggregate) -> openframe_core::Result<String> {
        Err((self.0)())
    }
    async fn update_interaction(
        &self,
        _: &SysId,
        _: Box<UpdatePlan>,
    ) -> openframe_core::Result<AggregateChange> {
        Err((self.0)())
    }
    async fn delete_interaction(&self, _: &SysId) -> openframe_core::Result<InteractionAggregate> {
        Err((self.0)())
    }
    async fn load_interaction(
        &self,
        _: &SysId,
    ) -> openframe_core::Result<Option<InteractionAggregate>> {
        Err((self.0)())
    }
    async fn add_user(&self, _: &User) -> openframe_core::Result<()> {
        Err((self.0)())
    }
    async fn find_user(&self, name: &str) -> openframe_core::Result<Option<User>> {
        // Sign-in works, so the failure shows on the data path.
        Ok(Some(User {
            sys_id: SysId::parse("6816f79cc0a8016401c5a33be04be441").unwrap(),
            user_name: name.to_owned(),
            name: String::new(),
            password_hash: test_hash().to_owned(),
            roles: vec!["admin".into()],
        }))
    }
    async fn find_users_by_sys_id(&self, _: &[SysId]) -> openframe_core::Result<Vec<User>> {
        Err((self.0)())
    }
    async fn has_users(&self) -> openframe_core::Result<bool> {
        Err((self.0)())
    }
    async fn set_user_password(&self, _: &str, _: &str) -> openframe_core::Result<()> {
        Err((self.0)())
    }
    async fn remove_user(&self, _: &str) -> openframe_core::Result<()> {
        Err((self.0)())
    }
    async fn add_oauth_client(&self, _: &OAuthClient) -> openframe_core::Result<()> {
        Err((self.0)())
    }
    async fn find_oauth_client(&self, _: &str) -> openframe_core::Result<Option<OAuthClient>> {
        Err((self.0)())
    }
    async fn add_oauth_token(&self, _: &OAuthToken) -> openframe_core::Result<()> {
        Err((self.0)())
    }
    async fn find_oauth_token(&self, _: &str) -> openframe_core::Result<Option<OAuthToken>> {
        Err((self.0)())
    }
    async fn prune_oauth_tokens(&self, _: i64) -> openframe_core::Result<u64> {
        Err((self.0)())
    }
    async fn events_after(&self, _: u64, _: usize) -> openframe_core::Result<EventPage> {
        Err((self.0)())
    }
    async fn prune_events(&self, _: u64) -> openframe_core::Result<()> {
        Err((self.0)())
    }
    async fn add_provider_application(&self, _: &Record) -> openframe_core::Result<()> {
        Err((self.0)())
    }
    async fn find_provider_application(&self, _: &str) -> openframe_core::Result<Option<Record>> {
        Err((self.0)())
    }
    async fn read_record(
        &self,
        _: &'static Table,
        _: &SysId,
    ) -> openframe_core::Result<Option<Record>> {
        Err((self.0)())
    }
    async fn query_records(&self, _: &TableQuery) -> openframe_core::Result<RecordPage> {
        Err((self.0)())
    }
    async fn aggregate_records(
        &self,
        _: &AggregateQuery,
    ) -> openframe_core::Result<Vec<AggregateGroup>> {
        Err((self.0)())
    }
    async fn ping(&self) -> openframe_core::Result<()> {
        Err((self.0)())
    }
    async fn export_interactions(
        &self,
        _: Option<&SysId>,
        _: usize,
    ) -> openframe_core::Result<Vec<InteractionAggregate>> {
        Err((self.0)())
    }
    async fn export_provider_applications(
        &self,
        _: Option<&SysId>,
        _: usize,
    ) -> openframe_core::Result<Vec<Record>> {
        Err((self.0)())
    }
    async fn export_users(&self, _: Option<&str>, _: usize) -> openframe_core::Result<Vec<User>> {
        Err((self.0)())
    }
    async fn import(
        &self,
        _: &openframe_core::portability::ImportBatch,
    ) -> openframe_core::Result<()> {
        Err((self.0)())
    }
}

fn test_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| openframe_http::hash_password(API_USER.1).unwrap())
}

fn broken_router(fail: fn() -> Error) -> openframe_testkit::TestApp {
    let repo: Arc<dyn Repository> = Arc::new(BrokenStore(fail));
    openframe_testkit::TestApp {
        router: openframe_http::router(openframe_http::AppState::new(Arc::clone(&repo))),
        repo,
        dir: tempfile::tempdir().unwrap(),
    }
}

#[tokio::test]
async fn an_unreachable_store_is_503_with_retry_after() {
    let app = broken_router(|| Error::unavailable("connection refused (os error 111)"));
    for (method, uri, body) in [
        (Method::POST, CREATE.to_owned(), Some(reference_post())),
        (
            Method::PATCH,
            item(&"a".repeat(32)),
            Some(reference_patch()),
        ),
        (Method::GET, item(&"a".repeat(32)), None),
    ] {
        let reply = app.call(method.clone(), &uri, body.as_ref()).await;
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{method} {}",
            reply.text
        );
        assert!(reply.headers.contains_key(header::RETRY_AFTER));
        assert!(
            !reply.text.contains("111"),
            "driver text leaked: {}",
            reply.text
        );
    }
    let reply = app.raw(Method::GET, "/healthz", &[], vec![]).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn other_faults_are_500_without_internals() {
    let app = broken_router(|| {
        Error::internal("SELECT * FROM interaction WHERE /var/lib/openframe.db corrupt")
    });
    let reply = app
        .call(Method::POST, CREATE, Some(&reference_post()))
        .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.json()["status"], "failure");
    for leak in ["SELECT", "/var/lib", "corrupt"] {
        assert!(!reply.text.contains(leak), "{leak} leaked: {}", reply.text);
    }
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_slowed_without_locking_out_a_signed_in_user() {
    let app = TestApp::sqlite().await;
    // The real user signs in first: their credentials are now cached.
    let reply = app.call(Method::GET, &item(&"a".repeat(32)), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    let wrong = basic((API_USER.0, "guess"));
    for _ in 0..openframe_http::auth::USER_FAILURES {
        let reply = app
            .raw(
                Method::GET,
                &item(&"a".repeat(32)),
                &[("authorization", &wrong)],
                vec![],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let reply = app
        .raw(
            Method::GET,
            &item(&"a".repeat(32)),
            &[("authorization", &wrong)],
            vec![],
        )
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.message(), "Too Many Requests");
    let wait: u64 = reply.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");

    // The signed-in user is not locked out; another user is not affected.
    let reply = app.call(Method::GET, &item(&"a".repeat(32)), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let other = basic(NO_ROLE_USER);
    let reply = app
        .raw(
            Method::GET,
            &item(&"a".repeat(32)),
            &[("authorization", &other)],
            vec![],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

/// 100 wrong passwords for a user from one address never lock that user out at another: its real client
/// keeps getting 200 throughout, even when every one of its requests is checked against the store anew (as
/// after its cached credential expires).
#[tokio::test]
async fn guessing_from_one_address_never_locks_the_account_out_elsewhere() {
    use openframe_http::ClientAddr;
    use tower::ServiceExt;
    let app = TestApp::sqlite().await;
    let state = openframe_http::AppState::new(Arc::clone(&app.repo));
    let router = openframe_http::router(state.clone());
    let send = |password: &str, from: [u8; 4]| {
        let mut request =
            axum::http::Request::get(format!("/api/now/table/interaction/{}", "a".repeat(32)))
                .header("authorization", basic((API_USER.0, password)))
                .body(axum::body::Body::empty())
                .expect("request");
        request
            .extensions_mut()
            .insert(ClientAddr(std::net::IpAddr::from(from)));
        let router = router.clone();
        async move { router.oneshot(request).await.expect("infallible").status() }
    };
    let guesser = [198, 51, 100, 7];
    let integration = [203, 0, 113, 9];
    let mut refused = 0;
    for i in 0..100 {
        match send("guess", guesser).await {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("guess {i}: {other}"),
        }
        if i % 10 == 0 {
            state.clear_credential_cache();
            assert_eq!(
                send(API_USER.1, integration).await,
                StatusCode::NOT_FOUND,
                "the integration, after guess {i}"
            );
        }
    }
    assert!(
        refused >= 60,
        "the guesser is throttled: {refused} of 100 refused"
    );
    state.clear_credential_cache();
    assert_eq!(send(API_USER.1, integration).await, StatusCode::NOT_FOUND);
}
