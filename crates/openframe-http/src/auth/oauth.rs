//! OAuth 2.0 as the platform serves it (`POST /oauth_token.do`): the password grant issues an access token
//! and a refresh token, the refresh-token grant a new access token; `Authorization: Bearer <access token>`
//! is then accepted wherever Basic is (see `Authenticator::verify`).
//!
//! Tokens and client secrets are 256-bit random values, stored as hex SHA-256 (`openframe_core::oauth`); a
//! token carries the stamp of its user, so removing the user or changing its password revokes it. Every
//! failure is a 401 `{"error":"access_denied",…}` as on the platform, counted against the client's address
//! by the same throttle as failed Basic sign-ins; malformed requests are 400s with the RFC 6749 error codes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openframe_core::oauth::{
    DEFAULT_ACCESS_LIFESPAN, DEFAULT_REFRESH_LIFESPAN, OAuthClient, OAuthToken, TokenKind,
    validate_client_name, validate_lifespan,
};
use openframe_core::{Repository, SysId, User};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::client_address;
use crate::state::AppState;
use crate::wire::error::ApiError;
use crate::wire::form::{self, FormError};

/// Where the token endpoint is, as on the platform.
pub const TOKEN_PATH: &str = "/oauth_token.do";
/// The largest token request body read.
const MAX_FORM_BYTES: usize = 16 * 1024;
/// How often at most expired tokens are removed (while tokens are being issued).
const PRUNE_EVERY_SECS: i64 = 60;

/// A client's credentials, as `openframe oauth-client add` prints them once.
#[derive(Clone, PartialEq, Eq)]
pub struct RegisteredClient {
    /// The public `client_id`.
    pub client_id: String,
    /// The `client_secret`; only its hash is stored.
    pub client_secret: String,
}

// Hand-written so that the secret never reaches a log line through `{:?}`.
impl std::fmt::Debug for RegisteredClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredClient")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Registers an OAuth client called `name` with a fresh id and secret; the lifespans of the tokens issued
/// through it default to the platform's (access 30 minutes, refresh 100 days).
///
/// # Errors
/// [`openframe_core::Error::Invalid`] for a bad name or lifespan; what the store says otherwise.
pub async fn register_oauth_client(
    repo: &dyn Repository,
    name: &str,
    access_lifespan: Option<u32>,
    refresh_lifespan: Option<u32>,
) -> openframe_core::Result<RegisteredClient> {
    validate_client_name(name)?;
    let access_lifespan = access_lifespan.unwrap_or(DEFAULT_ACCESS_LIFESPAN);
    let refresh_lifespan = refresh_lifespan.unwrap_or(DEFAULT_REFRESH_LIFESPAN);
    validate_lifespan("access_token_lifespan", access_lifespan)?;
    validate_lifespan("refresh_token_lifespan", refresh_lifespan)?;
    let secret = random_token();
    let client = OAuthClient {
        client_id: SysId::random().as_str().to_owned(),
        name: name.to_owned(),
        secret_hash: digest(&secret),
        access_lifespan,
        refresh_lifespan,
    };
    repo.add_oauth_client(&client).await?;
    Ok(RegisteredClient {
        client_id: client.client_id,
        client_secret: secret,
    })
}

/// The token of an `Authorization: Bearer …` header.
pub(crate) fn bearer_token(header: &HeaderValue) -> Option<&str> {
    let (scheme, token) = header.to_str().ok()?.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The stored `kind` token that `token` is, with its user, if it is unexpired and its user still has the
/// sys_id and password it was issued under; `None` otherwise.
pub(crate) async fn live_token(
    repo: &dyn Repository,
    token: &str,
    kind: TokenKind,
) -> Result<Option<(OAuthToken, User, u64)>, ApiError> {
    let Some(stored) = repo.find_oauth_token(&digest(token)).await? else {
        return Ok(None);
    };
    let left = stored.expires_at - now();
    if stored.kind != kind || left <= 0 {
        return Ok(None);
    }
    let Some(user) = repo.find_user(&stored.user_name).await? else {
        return Ok(None);
    };
    if !bool::from(
        user_stamp(&user)
            .as_bytes()
            .ct_eq(stored.user_stamp.as_bytes()),
    ) {
        return Ok(None);
    }
    Ok(Some((stored, user, left.unsigned_abs())))
}

/// The token endpoint's route, with its own state: it sits outside the API's renderer and auth.
pub(crate) fn routes(state: AppState) -> Router {
    Router::new()
        .route(TOKEN_PATH, post(token_endpoint))
        .with_state(state)
}

/// `POST /oauth_token.do`.
async fn token_endpoint(State(app): State<AppState>, request: Request) -> Response {
    let client = client_address(&request);
    let (parts, body) = request.into_parts();
    let result = async {
        let bytes = read_form(&parts.headers, body, app.body_read_timeout).await?;
        let form = parse_form(&bytes)?;
        Grant { app: &app, client }.run(&parts.headers, &form).await
    }
    .await;
    match result {
        Ok(body) => with_no_store(json_response(StatusCode::OK, &body)),
        Err(error) => error.into_response(),
    }
}

/// One token request being served.
struct Grant<'a> {
    app: &'a AppState,
    client: IpAddr,
}

impl Grant<'_> {
    async fn run(
        &self,
        headers: &HeaderMap,
        form: &HashMap<String, String>,
    ) -> Result<serde_json::Value, OAuthError> {
        let grant_type = required(form, "grant_type")?;
        if !matches!(grant_type, "password" | "refresh_token") {
            return Err(OAuthError::bad(
                "unsupported_grant_type",
                format!(
                    "grant_type {grant_type:?} is not supported: use password or refresh_token"
                ),
            ));
        }
        let oauth_client = self.client(headers, form).await?;
        let auth = &self.app.auth;
        let repo = auth.repository().as_ref();
        if grant_type == "password" {
            let name = required(form, "username")?;
            let password = required(form, "password")?;
            let user = auth
                .check_password(name, password, self.client)
                .await
                .map_err(OAuthError::from_api)?;
            let refresh = self.issue(&oauth_client, &user, TokenKind::Refresh).await?;
            let access = self.issue(&oauth_client, &user, TokenKind::Access).await?;
            self.prune_now_and_then();
            Ok(token_body(&access, &refresh, oauth_client.access_lifespan))
        } else {
            let refresh = required(form, "refresh_token")?;
            if let Some(wait) = auth.blocked("", self.client) {
                return Err(OAuthError::throttled(wait));
            }
            let live = live_token(repo, refresh, TokenKind::Refresh)
                .await
                .map_err(OAuthError::from_api)?;
            let Some((_, user, _)) =
                live.filter(|(stored, _, _)| stored.client_id == oauth_client.client_id)
            else {
                auth.failed("", self.client);
                return Err(OAuthError::denied(
                    "the refresh token is invalid or expired",
                ));
            };
            let access = self.issue(&oauth_client, &user, TokenKind::Access).await?;
            Ok(token_body(&access, refresh, oauth_client.access_lifespan))
        }
    }

    /// The client the request authenticates as: `client_id` and `client_secret` in the form, or in a Basic
    /// header (RFC 6749 §2.3.1); both at once must agree.
    async fn client(
        &self,
        headers: &HeaderMap,
        form: &HashMap<String, String>,
    ) -> Result<OAuthClient, OAuthError> {
        let given = |name: &str| form.get(name).filter(|v| !v.is_empty());
        let (id, secret) = match headers
            .get(header::AUTHORIZATION)
            .and_then(super::parse_basic)
        {
            Some((id, secret)) => {
                // Clients that send a Basic header may repeat the id (or the secret) in the form.
                if given("client_id").is_some_and(|f| *f != id)
                    || given("client_secret").is_some_and(|f| *f != secret)
                {
                    return Err(OAuthError::denied("the client credentials disagree"));
                }
                (id, secret)
            }
            None => match (given("client_id"), given("client_secret")) {
                (Some(id), Some(secret)) => (id.clone(), secret.clone()),
                _ => {
                    return Err(OAuthError::bad(
                        "invalid_request",
                        "client_id and client_secret are required",
                    ));
                }
            },
        };
        let auth = &self.app.auth;
        if let Some(wait) = auth.blocked(&id, self.client) {
            return Err(OAuthError::throttled(wait));
        }
        let found = auth
            .repository()
            .find_oauth_client(&id)
            .await
            .map_err(|e| OAuthError::from_api(e.into()))?;
        // An unknown id costs the same comparison as a wrong secret.
        let expected = found
            .as_ref()
            .map_or_else(|| digest(""), |c| c.secret_hash.clone());
        let matches = bool::from(digest(&secret).as_bytes().ct_eq(expected.as_bytes()));
        match found {
            Some(found) if matches => Ok(found),
            _ => {
                auth.failed(&id, self.client);
                Err(OAuthError::denied("invalid client credentials"))
            }
        }
    }

    /// Stores a new token of `kind` for `user` through `client`, and returns it.
    async fn issue(
        &self,
        client: &OAuthClient,
        user: &User,
        kind: TokenKind,
    ) -> Result<String, OAuthError> {
        let lifespan = match kind {
            TokenKind::Access => client.access_lifespan,
            TokenKind::Refresh => client.refresh_lifespan,
        };
        let token = random_token();
        let stored = OAuthToken {
            token_hash: digest(&token),
            kind,
            client_id: client.client_id.clone(),
            user_name: user.user_name.clone(),
            user_stamp: user_stamp(user),
            expires_at: now() + i64::from(lifespan),
        };
        self.app
            .auth
            .repository()
            .add_oauth_token(&stored)
            .await
            .map_err(|e| OAuthError::from_api(e.into()))?;
        Ok(token)
    }

    /// Removes expired tokens in the background, at most once a minute per process.
    fn prune_now_and_then(&self) {
        static LAST: AtomicI64 = AtomicI64::new(0);
        let now = now();
        let last = LAST.load(Ordering::Relaxed);
        if now - last < PRUNE_EVERY_SECS
            || LAST
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let repo = std::sync::Arc::clone(self.app.auth.repository());
        tokio::spawn(async move {
            if let Err(e) = repo.prune_oauth_tokens(now).await {
                tracing::warn!(error = %e, "pruning expired OAuth tokens failed");
            }
        });
    }
}

fn token_body(access: &str, refresh: &str, access_lifespan: u32) -> serde_json::Value {
    json!({
        "access_token": access,
        "refresh_token": refresh,
        "scope": "useraccount",
        "token_type": "Bearer",
        // The platform answers 1799 for its 1800 s default: the token is a second old when it arrives.
        "expires_in": access_lifespan.saturating_sub(1),
    })
}

fn required<'f>(form: &'f HashMap<String, String>, name: &str) -> Result<&'f str, OAuthError> {
    form.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::bad("invalid_request", format!("{name} is required")))
}

/// Reads the body of a token request: `application/x-www-form-urlencoded`, at most [`MAX_FORM_BYTES`],
/// arriving within `deadline`.
async fn read_form(
    headers: &HeaderMap,
    body: axum::body::Body,
    deadline: std::time::Duration,
) -> Result<axum::body::Bytes, OAuthError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(OAuthError::bad(
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, MAX_FORM_BYTES)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(OAuthError::bad(
            "invalid_request",
            format!("the body must be at most {MAX_FORM_BYTES} bytes"),
        )),
        Err(_) => Err(OAuthError::bad(
            "invalid_request",
            format!(
                "the body did not arrive within {} seconds",
                deadline.as_secs()
            ),
        )),
    }
}

/// Parses an `application/x-www-form-urlencoded` body. A parameter given twice is refused (RFC 6749 §3.2).
///
/// # Errors
/// A 400 `invalid_request` naming the parameter, or saying the encoding is malformed.
pub fn parse_form(bytes: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| OAuthError::bad("invalid_request", "the body must be UTF-8"))?;
    let mut form = HashMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(name)?;
        let value = percent_decode(value)?;
        if form.contains_key(&name) {
            return Err(OAuthError::bad(
                "invalid_request",
                format!("{name} appears more than once"),
            ));
        }
        form.insert(name, value);
    }
    Ok(form)
}

/// Percent-decoding of one form component (`+` is a space).
fn percent_decode(s: &str) -> Result<String, OAuthError> {
    form::decode(s).map_err(|e| match e {
        FormError::Malformed => OAuthError::bad("invalid_request", "malformed percent-encoding"),
        FormError::NotUtf8 => OAuthError::bad("invalid_request", "must be UTF-8 once decoded"),
    })
}

/// A failed token request, written as the platform writes it: `{"error":…,"error_description":…}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// The status code.
    pub status: StatusCode,
    /// The RFC 6749 error code (`access_denied`, `invalid_request`, `unsupported_grant_type`, …).
    pub error: &'static str,
    /// What was wrong.
    pub description: String,
    retry_after: Option<u64>,
}

impl OAuthError {
    fn bad(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
            retry_after: None,
        }
    }

    fn denied(description: &str) -> Self {
        OAuthError {
            status: StatusCode::UNAUTHORIZED,
            error: "access_denied",
            description: description.to_owned(),
            retry_after: None,
        }
    }

    fn throttled(wait: u64) -> Self {
        OAuthError {
            status: StatusCode::TOO_MANY_REQUESTS,
            error: "access_denied",
            description: format!("too many failed sign-ins; retry after {wait} seconds"),
            retry_after: Some(wait),
        }
    }

    /// The sign-in or store failure `error` in the token endpoint's words.
    fn from_api(error: ApiError) -> Self {
        match error.status {
            StatusCode::UNAUTHORIZED => OAuthError::denied("invalid user credentials"),
            StatusCode::TOO_MANY_REQUESTS => OAuthError::throttled(error.retry_after.unwrap_or(1)),
            status => OAuthError {
                status,
                error: if status == StatusCode::SERVICE_UNAVAILABLE {
                    "temporarily_unavailable"
                } else {
                    "server_error"
                },
                description: error.detail,
                retry_after: error.retry_after,
            },
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut response = with_no_store(json_response(self.status, &body));
        if let Some(wait) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        }
        response
    }
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

/// Token responses must not be cached (RFC 6749 §5.1).
fn with_no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// 256 random bits from the operating system, URL-safe base64 (43 characters).
fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Hex SHA-256: how secrets and tokens are stored.
fn digest(value: &str) -> String {
    hex(&Sha256::digest(value.as_bytes()))
}

/// The user's stamp: a digest of what must not change for a token to stay valid (module docs).
fn user_stamp(user: &User) -> String {
    let mut hasher = Sha256::new();
    hasher.update(user.sys_id.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(user.password_hash.as_bytes());
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Seconds since the Unix epoch.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        let form = parse_form(b"grant_type=password&username=a+b&password=p%26%3D%25&x=").unwrap();
        assert_eq!(form["username"], "a b");
        assert_eq!(form["password"], "p&=%");
        assert_eq!(form["x"], "");
        for (bad, says) in [
            (&b"a=1&a=2"[..], "a appears more than once"),
            (b"a=%zz", "malformed percent-encoding"),
            (b"a=%2", "malformed percent-encoding"),
            (b"a=%ff", "must be UTF-8 once decoded"),
            (b"a=\xff", "the body must be UTF-8"),
        ] {
            let error = parse_form(bad).unwrap_err();
            assert_eq!(
                (error.status, error.error, error.description.as_str()),
                (StatusCode::BAD_REQUEST, "invalid_request", says)
            );
        }
    }

    #[test]
    fn reads_bearer_headers() {
        let h = |v: &str| HeaderValue::from_str(v).unwrap();
        assert_eq!(bearer_token(&h("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&h("bearer   abc ")), Some("abc"));
        assert_eq!(bearer_token(&h("Basic abc")), None);
        assert_eq!(bearer_token(&h("Bearer ")), None);
        assert_eq!(bearer_token(&h("Bearer")), None);
    }

    #[tokio::test]
    async fn a_token_lives_until_it_expires_and_only_as_its_kind() {
        let repo = openframe_core::MemoryRepository::new();
        crate::add_user(&repo, "agent", "pw", vec!["admin".into()])
            .await
            .unwrap();
        let user = repo.find_user("agent").await.unwrap().unwrap();
        for (token, kind, expires_at) in [
            ("expired", TokenKind::Access, now() - 1),
            ("ending", TokenKind::Access, now()),
            ("live", TokenKind::Access, now() + 100),
            ("refresh", TokenKind::Refresh, now() + 100),
        ] {
            let stored = OAuthToken {
                token_hash: digest(token),
                kind,
                client_id: "c".into(),
                user_name: "agent".into(),
                user_stamp: user_stamp(&user),
                expires_at,
            };
            repo.add_oauth_token(&stored).await.unwrap();
        }
        let repo = &repo;
        let live = |token: &'static str, kind| async move {
            live_token(repo, token, kind)
                .await
                .unwrap()
                .map(|(_, user, left)| (user.user_name, left))
        };
        assert_eq!(live("expired", TokenKind::Access).await, None);
        assert_eq!(live("ending", TokenKind::Access).await, None);
        let (name, left) = live("live", TokenKind::Access).await.unwrap();
        assert_eq!(name, "agent");
        assert!((99..=100).contains(&left), "{left}");
        assert_eq!(live("refresh", TokenKind::Access).await, None);
        assert!(live("refresh", TokenKind::Refresh).await.is_some());
    }

    #[test]
    fn tokens_are_random_and_url_safe() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_eq!(digest("abc").len(), 64);
    }
}
