//! Who is calling: HTTP Basic against the store's users and their roles, or an OAuth access token
//! (`Authorization: Bearer`, see `oauth.rs`) ([`Auth::Basic`]); or a caller the host program authenticated
//! upstream ([`Auth::Upstream`]).
//!
//! argon2 is deliberately slow (tens of milliseconds and 19 MiB per check), so a verified credential is cached
//! for a short time, keyed by a SHA-256 of the whole Authorization header: the password itself is never kept.
//! Verifications run on the blocking pool, a few at a time, so a burst of logins cannot exhaust memory.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use openframe_core::{Caller, Repository, SysId, TokenKind, User};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::wire::error::ApiError;

pub mod oauth;
mod password;
mod throttle;

pub use oauth::{RegisteredClient, register_oauth_client};
pub use password::hash as hash_password;
use throttle::Throttle;
pub use throttle::{ADDRESS_FAILURES, USER_FAILURES, WINDOW as THROTTLE_WINDOW};

/// How a router authenticates the requests under `/api/now/`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// HTTP Basic against the store's users: a user with the role `sn_openframe_api_user`,
    /// `sn_openframe_user` or `admin` may call the API. Failed sign-ins are throttled by client address
    /// (see [`ClientAddr`]), never for an account everywhere.
    #[default]
    Basic,
    /// The host program authenticates: a middleware of its own, in front of the router, inserts the
    /// [`Caller`] into the request's extensions (`request.extensions_mut().insert(caller)`). A request
    /// without one is a 401; whether a caller may use the API is the host's decision.
    Upstream,
}

/// The client's address for throttling failed sign-ins, when the host knows it better than the socket
/// does (behind a trusted proxy, from its `X-Forwarded-For`): insert it into the request's extensions.
/// Otherwise the router reads `ConnectInfo<SocketAddr>`; when neither is there, every such client shares
/// one address's budget of failures, so the throttle still applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// Marks a request that came over TLS terminated by the host program itself (the `openframe` server inserts
/// it on its HTTPS connections): links the router writes then say `https`. Behind a proxy that terminates
/// TLS, `X-Forwarded-Proto: https` says the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServedOverTls;

/// Adds a user with a freshly hashed password (argon2, on the blocking pool) and the given roles.
///
/// # Errors
/// [`openframe_core::Error::Conflict`] when the name is taken; what the store says otherwise.
pub async fn add_user(
    repo: &dyn Repository,
    name: &str,
    password: &str,
    roles: Vec<String>,
) -> openframe_core::Result<()> {
    add_named_user(repo, name, "", password, roles).await
}

/// [`add_user`] with a full name (`sys_user.name`, what references to the user show).
///
/// # Errors
/// As [`add_user`]; [`openframe_core::Error::Invalid`] for a full name that breaks
/// [`openframe_core::user::FULL_NAME_RULE`].
pub async fn add_named_user(
    repo: &dyn Repository,
    name: &str,
    full_name: &str,
    password: &str,
    roles: Vec<String>,
) -> openframe_core::Result<()> {
    if !openframe_core::user::is_full_name(full_name) {
        return Err(openframe_core::Error::invalid(
            "name",
            openframe_core::user::FULL_NAME_RULE,
        ));
    }
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(openframe_core::Error::internal)??;
    let user = openframe_core::User {
        sys_id: SysId::random(),
        user_name: name.to_owned(),
        name: full_name.to_owned(),
        password_hash: hash,
        roles,
    };
    repo.add_user(&user).await
}

/// Gives the user `name` a freshly hashed password. Its OAuth tokens stop being accepted; a running server
/// may accept the old password, and tokens already checked, for up to 30 seconds more (its credential cache).
///
/// # Errors
/// [`openframe_core::Error::NotFound`] when there is no such user; what the store says otherwise.
pub async fn set_password(
    repo: &dyn Repository,
    name: &str,
    password: &str,
) -> openframe_core::Result<()> {
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(openframe_core::Error::internal)??;
    repo.set_user_password(name, &hash).await
}

/// How long a verified credential is trusted without checking the store again.
pub(crate) const CACHE_TTL: Duration = Duration::from_secs(30);
/// Most credentials cached at once; the cache is emptied when full (a flood of distinct headers).
const CACHE_CAPACITY: usize = 10_000;

/// Checks credentials and remembers recent successes.
#[derive(Debug)]
pub(crate) struct Authenticator {
    repo: Arc<dyn Repository>,
    cache: Mutex<HashMap<[u8; 32], Cached>>,
    verify_slots: Semaphore,
    throttle: Throttle,
    gates: Mutex<HashMap<[u8; 32], Arc<Gate>>>,
    verifications: AtomicU64,
}

/// The turn to check one credential. It remembers when a check last found the store unavailable, so that the
/// requests queued behind that check answer 503 at once instead of each waiting out the store's timeout in
/// turn (during an outage, eight queued requests would otherwise take eight timeouts).
type Gate = tokio::sync::Mutex<Option<Instant>>;

/// How recent a store failure must be for a queued check to share it rather than try the store itself.
const SHARED_FAILURE: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
struct Cached {
    caller: Caller,
    may_use_api: bool,
    until: Instant,
}

impl Authenticator {
    /// An authenticator over the users of `repo`.
    pub fn new(repo: Arc<dyn Repository>) -> Self {
        let slots = std::thread::available_parallelism().map_or(2, |n| n.get());
        Authenticator {
            repo,
            cache: Mutex::new(HashMap::new()),
            verify_slots: Semaphore::new(slots),
            throttle: Throttle::default(),
            gates: Mutex::new(HashMap::new()),
            verifications: AtomicU64::new(0),
        }
    }

    /// How many argon2 checks this authenticator has run.
    #[cfg(test)]
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Forgets every cached credential (after users change in this process).
    pub fn clear_cache(&self) {
        self.lock_cache().clear();
    }

    /// The caller an Authorization header proves, or the 401/403/429 to answer. Failed sign-ins are
    /// throttled by `client`, the caller's address.
    pub async fn authenticate(
        &self,
        authorization: Option<&HeaderValue>,
        client: IpAddr,
    ) -> Result<Caller, ApiError> {
        let header = authorization.ok_or_else(ApiError::unauthenticated)?;
        let key: [u8; 32] = Sha256::digest(header.as_bytes()).into();
        let entry = match self.cached(&key) {
            Some(entry) => entry,
            None => {
                // One argon2 check per credential at a time: when an entry expires under load, the other
                // requests carrying the same header wait for that check instead of each running their own.
                let gate = Arc::clone(self.lock_gates().entry(key).or_default());
                let mut turn = gate.lock().await;
                let verified = match self.cached(&key) {
                    Some(entry) => Ok(entry),
                    None if turn.is_some_and(|failed| failed.elapsed() < SHARED_FAILURE) => {
                        Err(ApiError::unavailable())
                    }
                    None => {
                        let verified = self.verify(header, client).await;
                        if verified
                            .as_ref()
                            .is_err_and(|e| e.status == StatusCode::SERVICE_UNAVAILABLE)
                        {
                            *turn = Some(Instant::now());
                        }
                        verified
                    }
                };
                drop(turn);
                {
                    let mut gates = self.lock_gates();
                    // The map's handle and ours: nobody else is waiting, so the gate can go.
                    if Arc::strong_count(&gate) <= 2 {
                        gates.remove(&key);
                    }
                }
                let entry = verified?;
                let mut cache = self.lock_cache();
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
                cache.insert(key, entry.clone());
                entry
            }
        };
        if entry.may_use_api {
            Ok(entry.caller)
        } else {
            Err(ApiError::unauthorized())
        }
    }

    async fn verify(&self, header: &HeaderValue, client: IpAddr) -> Result<Cached, ApiError> {
        if let Some(token) = oauth::bearer_token(header) {
            return self.verify_bearer(token, client).await;
        }
        let (name, password) = parse_basic(header).ok_or_else(ApiError::unauthenticated)?;
        let user = self.check_password(&name, &password, client).await?;
        Ok(Cached {
            may_use_api: user.may_use_api(),
            caller: Caller {
                sys_id: user.sys_id,
                user_name: user.user_name,
            },
            until: Instant::now() + CACHE_TTL,
        })
    }

    /// The user `name` if `password` is theirs: one argon2 check, throttled by `client`'s address. An
    /// unknown user costs the same check as a wrong password, so timing does not tell them apart.
    pub(crate) async fn check_password(
        &self,
        name: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<User, ApiError> {
        if let Some(wait) = self.throttle.blocked(name, client, Instant::now()) {
            return Err(ApiError::too_many_attempts(wait));
        }
        let user = self.repo.find_user(name).await.map_err(ApiError::from)?;
        let hash = user
            .as_ref()
            .map_or_else(|| dummy_hash().to_owned(), |u| u.password_hash.clone());
        let _slot = self
            .verify_slots
            .acquire()
            .await
            .map_err(|_| ApiError::unavailable())?;
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || password::verify(&password, &hash))
            .await
            .unwrap_or(false);
        match user {
            Some(user) if matches => {
                self.throttle.succeeded(&user.user_name, client);
                Ok(user)
            }
            _ => {
                self.throttle.failed(name, client, Instant::now());
                Err(ApiError::unauthenticated())
            }
        }
    }

    /// An access token's caller: the token is stored, unexpired, and its user still has the password it was
    /// issued under. A token that fails counts as a failed sign-in of `client`.
    async fn verify_bearer(&self, token: &str, client: IpAddr) -> Result<Cached, ApiError> {
        if let Some(wait) = self.throttle.blocked("", client, Instant::now()) {
            return Err(ApiError::too_many_attempts(wait));
        }
        match oauth::live_token(self.repo.as_ref(), token, TokenKind::Access).await? {
            Some((_, user, seconds_left)) => Ok(Cached {
                may_use_api: user.may_use_api(),
                caller: Caller {
                    sys_id: user.sys_id,
                    user_name: user.user_name,
                },
                until: Instant::now() + CACHE_TTL.min(Duration::from_secs(seconds_left)),
            }),
            None => {
                self.throttle.failed("", client, Instant::now());
                Err(ApiError::unauthenticated())
            }
        }
    }

    /// The store this authenticator reads users from.
    pub(crate) fn repository(&self) -> &Arc<dyn Repository> {
        &self.repo
    }

    /// Whether failed sign-ins from `client` (as `name`) must wait, and how many seconds.
    pub(crate) fn blocked(&self, name: &str, client: IpAddr) -> Option<u64> {
        self.throttle.blocked(name, client, Instant::now())
    }

    /// Counts a failed sign-in (a wrong client secret, say) against `client`.
    pub(crate) fn failed(&self, name: &str, client: IpAddr) {
        self.throttle.failed(name, client, Instant::now());
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Cached> {
        self.lock_cache()
            .get(key)
            .filter(|c| c.until > Instant::now())
            .cloned()
    }

    fn lock_gates(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Arc<Gate>>> {
        // Only gates: a poisoned lock leaves nothing inconsistent.
        self.gates.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Cached>> {
        // The cache holds only copies of store data: a poisoned lock leaves nothing inconsistent.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `Basic base64(name:password)` → `(name, password)`.
fn parse_basic(header: &HeaderValue) -> Option<(String, String)> {
    let value = header.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(BASE64.decode(encoded.trim()).ok()?).ok()?;
    let (name, password) = decoded.split_once(':')?;
    Some((name.to_owned(), password.to_owned()))
}

/// A valid hash of a random password, computed once.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| password::hash(SysId::random().as_str()).unwrap_or_default())
}

/// What the auth middleware needs: the mode, and the checker Basic uses.
#[derive(Clone, Debug)]
pub(crate) struct AuthLayer {
    pub(crate) mode: Auth,
    pub(crate) authenticator: Arc<Authenticator>,
}

/// The address failed sign-ins are counted against: [`ClientAddr`], else the peer's, else one shared
/// "unknown" address.
pub(crate) fn client_address(request: &Request) -> IpAddr {
    let extensions = request.extensions();
    extensions
        .get::<ClientAddr>()
        .map(|ClientAddr(ip)| *ip)
        .or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip())
        })
        .unwrap_or(UNKNOWN_ADDRESS)
}

/// Where failed sign-ins of clients of unknown address are counted: all in one place.
const UNKNOWN_ADDRESS: IpAddr = IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);

/// Middleware: authenticates every request under `/api/now/` (known path or not) and hands the [`Caller`] to
/// handlers as a request extension (and to the request log as a response extension). Other paths
/// (`/healthz`) pass untouched.
pub(crate) async fn require_user(
    State(auth): State<AuthLayer>,
    mut request: Request,
    next: Next,
) -> Response {
    if !crate::router::is_api_path(request.uri().path()) {
        return next.run(request).await;
    }
    let authenticated = match auth.mode {
        Auth::Basic => {
            let client = client_address(&request);
            auth.authenticator
                .authenticate(request.headers().get(header::AUTHORIZATION), client)
                .await
        }
        Auth::Upstream => request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(ApiError::unauthenticated),
    };
    match authenticated {
        Ok(caller) => {
            request.extensions_mut().insert(caller.clone());
            let mut response = next.run(request).await;
            // For the request log, which sees only the response.
            response.extensions_mut().insert(caller);
            response
        }
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_one_check() {
        let repo: Arc<dyn Repository> = Arc::new(openframe_core::MemoryRepository::new());
        add_user(
            repo.as_ref(),
            "agent",
            "pw",
            vec!["sn_openframe_user".into()],
        )
        .await
        .unwrap();
        let auth = Arc::new(Authenticator::new(repo));
        let header =
            HeaderValue::from_str(&format!("Basic {}", BASE64.encode("agent:pw"))).unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (auth, header) = (Arc::clone(&auth), header.clone());
                tokio::spawn(async move { auth.authenticate(Some(&header), UNKNOWN_ADDRESS).await })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap().user_name, "agent");
        }
        assert_eq!(auth.verifications(), 1);
        assert!(
            auth.lock_gates().is_empty(),
            "gates are removed once nobody waits"
        );
    }

    #[test]
    fn parses_basic_credentials() {
        let h = HeaderValue::from_str(&format!("Basic {}", BASE64.encode("admin:pa:ss"))).unwrap();
        assert_eq!(parse_basic(&h), Some(("admin".into(), "pa:ss".into())));
        let h = HeaderValue::from_str(&format!("basic  {}", BASE64.encode("a:"))).unwrap();
        assert_eq!(parse_basic(&h), Some(("a".into(), String::new())));
        for bad in [
            "Bearer abc",
            "Basic !!!",
            "Basic",
            &format!("Basic {}", BASE64.encode("nocolon")),
        ] {
            assert_eq!(
                parse_basic(&HeaderValue::from_str(bad).unwrap()),
                None,
                "{bad}"
            );
        }
    }
}
