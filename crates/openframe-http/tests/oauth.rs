//! OAuth 2.0 at `/oauth_token.do` through the real router on a SQLite store: the password and refresh-token
//! grants, Bearer tokens wherever Basic works, revocation by password change and removal, and the
//! platform's `{"error":"access_denied",…}` for every refused credential.

use axum::http::{Method, StatusCode, header};
use openframe_core::Repository;
use openframe_http::{Auth, RouterBuilder};
use openframe_testkit::{API_USER, NO_ROLE_USER, Reply, TestApp, basic, reference_post};
use serde_json::Value;

const FORM: &str = "application/x-www-form-urlencoded";

struct Client {
    id: String,
    secret: String,
}

async fn app_with_client() -> (TestApp, Client) {
    let app = TestApp::sqlite().await;
    let registered =
        openframe_http::register_oauth_client(app.repo.as_ref(), "Genesys", None, None)
            .await
            .unwrap();
    let client = Client {
        id: registered.client_id,
        secret: registered.client_secret,
    };
    (app, client)
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

async fn token_request(app: &TestApp, pairs: &[(&str, &str)]) -> Reply {
    app.raw(
        Method::POST,
        "/oauth_token.do",
        &[(header::CONTENT_TYPE.as_str(), FORM)],
        form(pairs),
    )
    .await
}

async fn password_grant(app: &TestApp, client: &Client, user: (&str, &str)) -> Reply {
    token_request(
        app,
        &[
            ("grant_type", "password"),
            ("client_id", &client.id),
            ("client_secret", &client.secret),
            ("username", user.0),
            ("password", user.1),
        ],
    )
    .await
}

async fn refresh_grant(app: &TestApp, client: &Client, refresh: &str) -> Reply {
    token_request(
        app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &client.id),
            ("client_secret", &client.secret),
            ("refresh_token", refresh),
        ],
    )
    .await
}

async fn with_bearer(app: &TestApp, method: Method, uri: &str, token: &str) -> Reply {
    let auth = format!("Bearer {token}");
    let body = (method == Method::POST).then(|| reference_post().to_string().into_bytes());
    let mut headers = vec![(header::AUTHORIZATION.as_str(), auth.as_str())];
    if body.is_some() {
        headers.push((header::CONTENT_TYPE.as_str(), "application/json"));
    }
    app.raw(method, uri, &headers, body.unwrap_or_default())
        .await
}

fn tokens(reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

fn assert_denied(reply: &Reply, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{what}: {}",
        reply.text
    );
    assert_eq!(
        reply.json()["error"],
        "access_denied",
        "{what}: {}",
        reply.text
    );
    assert!(
        reply.json()["error_description"].is_string(),
        "{what}: {}",
        reply.text
    );
}

fn assert_bad(reply: &Reply, error: &str, description: &str) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(
        reply.json(),
        serde_json::json!({"error": error, "error_description": description})
    );
}

#[tokio::test]
async fn password_grant_gives_tokens_that_work_wherever_basic_does() {
    let (app, client) = app_with_client().await;
    let reply = password_grant(&app, &client, API_USER).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    let body = reply.json();
    assert_eq!(body["scope"], "useraccount");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 1799);
    let (access, refresh) = tokens(&reply);
    assert_ne!(access, refresh);
    assert_eq!(access.len(), 43);

    let created = with_bearer(
        &app,
        Method::POST,
        "/api/now/openframe/voice-interaction",
        &access,
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let sys_id = created.json()["result"]["sysId"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = with_bearer(
        &app,
        Method::GET,
        &format!("/api/now/table/interaction/{sys_id}"),
        &access,
    )
    .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.json()["result"]["sys_created_by"], API_USER.0);
    let events = with_bearer(
        &app,
        Method::GET,
        "/api/now/table/sn_openframe_phone_log?sysparm_limit=1",
        &access,
    )
    .await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.text);

    // Only hashes are stored.
    let stored_by_value = app.repo.find_oauth_token(&access).await.unwrap().is_some();
    assert!(!stored_by_value, "a token must not be stored as itself");
}

#[tokio::test]
async fn client_credentials_may_come_in_a_basic_header() {
    let (app, client) = app_with_client().await;
    let auth = basic((&client.id, &client.secret));
    let body = form(&[
        ("grant_type", "password"),
        ("username", API_USER.0),
        ("password", API_USER.1),
        ("client_id", &client.id),
    ]);
    let reply = app
        .raw(
            Method::POST,
            "/oauth_token.do",
            &[
                (header::CONTENT_TYPE.as_str(), FORM),
                (header::AUTHORIZATION.as_str(), &auth),
            ],
            body,
        )
        .await;
    tokens(&reply);

    let other = basic((&client.id, "not-the-secret"));
    let reply = app
        .raw(
            Method::POST,
            "/oauth_token.do",
            &[
                (header::CONTENT_TYPE.as_str(), FORM),
                (header::AUTHORIZATION.as_str(), &other),
            ],
            form(&[
                ("grant_type", "password"),
                ("username", API_USER.0),
                ("password", API_USER.1),
                ("client_secret", &client.secret),
            ]),
        )
        .await;
    assert_denied(&reply, "a header and a form that disagree");
}

#[tokio::test]
async fn refresh_grant_gives_a_new_access_token_and_keeps_the_refresh_token() {
    let (app, client) = app_with_client().await;
    let (access, refresh) = tokens(&password_grant(&app, &client, API_USER).await);
    let reply = refresh_grant(&app, &client, &refresh).await;
    let (new_access, same_refresh) = tokens(&reply);
    assert_ne!(new_access, access);
    assert_eq!(same_refresh, refresh);
    let read = with_bearer(&app, Method::GET, "/api/now/table/interaction", &new_access).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);

    // Each kind only where it belongs.
    let as_bearer = with_bearer(&app, Method::GET, "/api/now/table/interaction", &refresh).await;
    assert_eq!(
        as_bearer.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        as_bearer.text
    );
    assert_denied(
        &refresh_grant(&app, &client, &access).await,
        "an access token used as a refresh token",
    );
    // A refresh token is bound to its client.
    let other = openframe_http::register_oauth_client(app.repo.as_ref(), "Five9", None, None)
        .await
        .unwrap();
    let other = Client {
        id: other.client_id,
        secret: other.client_secret,
    };
    assert_denied(
        &refresh_grant(&app, &other, &refresh).await,
        "another client's refresh token",
    );
}

#[tokio::test]
async fn wrong_credentials_are_access_denied_and_issue_nothing() {
    let (app, client) = app_with_client().await;
    let wrong_secret = Client {
        id: client.id.clone(),
        secret: "nope".into(),
    };
    let unknown_client = Client {
        id: "0123456789abcdef0123456789abcdef".into(),
        secret: client.secret.clone(),
    };
    for (reply, what) in [
        (
            password_grant(&app, &wrong_secret, API_USER).await,
            "a wrong client secret",
        ),
        (
            password_grant(&app, &unknown_client, API_USER).await,
            "an unknown client",
        ),
        (
            password_grant(&app, &client, (API_USER.0, "wrong")).await,
            "a wrong password",
        ),
        (
            password_grant(&app, &client, ("nobody", "x")).await,
            "an unknown user",
        ),
        (
            refresh_grant(&app, &client, "made-up").await,
            "an unknown refresh token",
        ),
    ] {
        assert_denied(&reply, what);
        assert!(reply.json().get("access_token").is_none(), "{what}");
    }
    for bad in ["Bearer made-up", "Bearer ", "Bearer"] {
        let reply = app
            .raw(
                Method::GET,
                "/api/now/table/interaction",
                &[(header::AUTHORIZATION.as_str(), bad)],
                Vec::new(),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{bad}: {}",
            reply.text
        );
    }
    // A user without an API role gets tokens, as on the platform, but the API still says 403.
    let (access, _) = tokens(&password_grant(&app, &client, NO_ROLE_USER).await);
    let reply = with_bearer(&app, Method::GET, "/api/now/table/interaction", &access).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
}

#[tokio::test]
async fn malformed_token_requests_are_400s_naming_what_is_wrong() {
    let (app, client) = app_with_client().await;
    assert_bad(
        &token_request(&app, &[("client_id", &client.id)]).await,
        "invalid_request",
        "grant_type is required",
    );
    assert_bad(
        &token_request(
            &app,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client.id),
                ("client_secret", &client.secret),
            ],
        )
        .await,
        "unsupported_grant_type",
        "grant_type \"client_credentials\" is not supported: use password or refresh_token",
    );
    assert_bad(
        &token_request(&app, &[("grant_type", "password")]).await,
        "invalid_request",
        "client_id and client_secret are required",
    );
    assert_bad(
        &token_request(
            &app,
            &[
                ("grant_type", "password"),
                ("client_id", &client.id),
                ("client_secret", &client.secret),
                ("username", API_USER.0),
            ],
        )
        .await,
        "invalid_request",
        "password is required",
    );
    let twice = format!(
        "grant_type=password&username=a&username=b&client_id={}&client_secret={}&password=p",
        client.id, client.secret
    );
    let reply = app
        .raw(
            Method::POST,
            "/oauth_token.do",
            &[(header::CONTENT_TYPE.as_str(), FORM)],
            twice.into_bytes(),
        )
        .await;
    assert_bad(&reply, "invalid_request", "username appears more than once");
    let reply = app
        .raw(
            Method::POST,
            "/oauth_token.do",
            &[(header::CONTENT_TYPE.as_str(), "application/json")],
            br#"{"grant_type":"password"}"#.to_vec(),
        )
        .await;
    assert_bad(
        &reply,
        "invalid_request",
        "Content-Type must be application/x-www-form-urlencoded",
    );
    let reply = app
        .raw(
            Method::POST,
            "/oauth_token.do",
            &[(header::CONTENT_TYPE.as_str(), FORM)],
            vec![b'a'; 20_000],
        )
        .await;
    assert_bad(
        &reply,
        "invalid_request",
        "the body must be at most 16384 bytes",
    );
    let reply = app
        .raw(Method::GET, "/oauth_token.do", &[], Vec::new())
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.headers[header::ALLOW], "POST");
}

#[tokio::test]
async fn a_password_change_or_removal_revokes_the_users_tokens() {
    let (app, client) = app_with_client().await;
    let (access, refresh) = tokens(&password_grant(&app, &client, API_USER).await);
    openframe_http::set_password(app.repo.as_ref(), API_USER.0, "a-new-password")
        .await
        .unwrap();
    let reply = with_bearer(&app, Method::GET, "/api/now/table/interaction", &access).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    assert_denied(
        &refresh_grant(&app, &client, &refresh).await,
        "a refresh token issued before the password changed",
    );
    assert_denied(
        &password_grant(&app, &client, API_USER).await,
        "the old password",
    );

    let (access, refresh) =
        tokens(&password_grant(&app, &client, (API_USER.0, "a-new-password")).await);
    app.repo.remove_user(API_USER.0).await.unwrap();
    let reply = with_bearer(&app, Method::GET, "/api/now/table/interaction", &access).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    assert_denied(
        &refresh_grant(&app, &client, &refresh).await,
        "a refresh token of a removed user",
    );
    // A new user of the same name and password is another user: the old tokens stay dead.
    openframe_http::add_user(
        app.repo.as_ref(),
        API_USER.0,
        "a-new-password",
        vec!["sn_openframe_api_user".into()],
    )
    .await
    .unwrap();
    assert_denied(
        &refresh_grant(&app, &client, &refresh).await,
        "a refresh token of a removed user whose name was taken again",
    );
}

#[tokio::test]
async fn failed_token_requests_are_throttled_by_address() {
    let (app, client) = app_with_client().await;
    let wrong = Client {
        id: client.id.clone(),
        secret: "wrong".into(),
    };
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(password_grant(&app, &wrong, API_USER).await.status);
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    let last = password_grant(&app, &client, API_USER).await;
    assert_eq!(last.status, StatusCode::TOO_MANY_REQUESTS, "{}", last.text);
    assert_eq!(last.json()["error"], "access_denied");
    assert!(last.headers.contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn a_router_that_authenticates_upstream_has_no_token_endpoint() {
    let app = TestApp::sqlite().await;
    let state = openframe_http::AppState::new(std::sync::Arc::clone(&app.repo));
    let upstream = TestApp {
        router: RouterBuilder::new(state).auth(Auth::Upstream).build(),
        repo: app.repo,
        dir: app.dir,
    };
    let reply = upstream
        .raw(
            Method::POST,
            "/oauth_token.do",
            &[(header::CONTENT_TYPE.as_str(), FORM)],
            b"grant_type=password".to_vec(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
    let _: Value = reply.json();
}
