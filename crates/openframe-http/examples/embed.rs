//! openframe inside a host program: the host has its own routes, its own `/healthz` and fallback, its own
//! tracing and a tower layer, and authenticates its callers itself; openframe's API is nested under
//! `/openframe` on a SQLite store opened from a URL.
//!
//! ```text
//! cargo run -p openframe-http --example embed -- serve     # serves on 127.0.0.1:3000
//! cargo run -p openframe-http --example embed              # builds the app, checks it with a few requests
//! OPENFRAME_STORE=sqlite://embedded.db cargo run …         # any store URL its features allow
//! ```
//!
//! Then, with the server running:
//!
//! ```text
//! curl -s -H 'X-Host-User: alice' -H 'Content-Type: application/json' \
//!      --data '{"interaction":{"userPhoneNumber":"+14089965744"}}' \
//!      http://127.0.0.1:3000/openframe/api/now/openframe/voice-interaction
//! ```

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use openframe_core::{Caller, SysId};
use openframe_http::{AppState, Auth, RouterBuilder};
use tower::ServiceBuilder;
use tower::util::MapResponseLayer;

/// The host's own sign-in: here, a trusted header naming the user. A real host checks a session or a token.
/// Whoever it lets through reaches openframe as a [`Caller`]; anyone else never gets that far.
async fn host_auth(mut request: Request, next: Next) -> Response {
    let user = request
        .headers()
        .get("x-host-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(user_name) = user {
        // The host's own user id, as a sys_id (32 hex digits) openframe records as `opened_by`.
        let sys_id = SysId::parse(&format!("{:0>32x}", fxhash(&user_name)))
            .unwrap_or_else(|_| SysId::random());
        request
            .extensions_mut()
            .insert(Caller { sys_id, user_name });
    }
    next.run(request).await
}

/// A stable id from a name (the example's stand-in for the host's user table).
fn fxhash(name: &str) -> u128 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325_u128, |h, b| {
        (h ^ u128::from(b)).wrapping_mul(0x1000_0000_01b3)
    })
}

/// The host program's router, openframe nested in it.
async fn app(store_url: &str) -> Result<Router, Box<dyn std::error::Error>> {
    let repo = openframe_stores::StoreUrl::parse(store_url)?.open().await?;
    let openframe = RouterBuilder::api_only(AppState::new(repo))
        .auth(Auth::Upstream)
        .build();
    Ok(Router::new()
        .route("/", get(|| async { "the host's home page" }))
        .route("/healthz", get(|| async { "host ok" }))
        .nest("/openframe", openframe)
        .fallback(|| async { (StatusCode::NOT_FOUND, "the host's own 404") })
        .layer(
            ServiceBuilder::new()
                .layer(MapResponseLayer::new(|mut response: Response| {
                    response
                        .headers_mut()
                        .insert("x-served-by", HeaderValue::from_static("host"));
                    response
                }))
                .layer(middleware::from_fn(host_auth)),
        ))
}

/// A few requests through the whole app: the host's routes, openframe's, and a caller the host did not sign
/// in. Returns what went wrong, if anything.
async fn check(app: Router) -> Result<(), String> {
    use tower::ServiceExt;
    let send = |method: &str, uri: &str, user: Option<&str>, body: &str| {
        let mut request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        if let Some(user) = user {
            request = request.header("x-host-user", user);
        }
        let request = request
            .body(Body::from(body.to_owned()))
            .expect("a request");
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.expect("infallible");
            let status = response.status();
            let served_by = response.headers().get("x-served-by").cloned();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            (
                status,
                served_by,
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        }
    };
    let expect =
        |what: &str, got: (StatusCode, Option<HeaderValue>, String), status: u16, text: &str| {
            if got.0.as_u16() != status || !got.2.contains(text) || got.1.is_none() {
                return Err(format!("{what}: got {} {:?} {:?}", got.0, got.1, got.2));
            }
            Ok(got.2)
        };
    expect(
        "host /healthz",
        send("GET", "/healthz", None, "").await,
        200,
        "host ok",
    )?;
    expect(
        "host fallback",
        send("GET", "/nowhere", None, "").await,
        404,
        "the host's own 404",
    )?;
    let call = r#"{"interaction":{"userPhoneNumber":"+14089965744"}}"#;
    let path = "/openframe/api/now/openframe/voice-interaction";
    expect(
        "not signed in",
        send("POST", path, None, call).await,
        401,
        "User Not Authenticated",
    )?;
    let created = expect(
        "create",
        send("POST", path, Some("alice"), call).await,
        200,
        "IMS0001001",
    )?;
    let sys_id = serde_json::from_str::<serde_json::Value>(&created)
        .ok()
        .and_then(|v| v["result"]["sysId"].as_str().map(str::to_owned))
        .ok_or_else(|| format!("no sysId in {created}"))?;
    let read = format!(
        "/openframe/api/now/table/interaction/{sys_id}?sysparm_fields=number,sys_created_by"
    );
    expect(
        "read back",
        send("GET", &read, Some("alice"), "").await,
        200,
        r#""sys_created_by":"alice""#,
    )?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The host's tracing: openframe's request lines (target `openframe::request`) are not logged here, as the
    // host nested the API without openframe's request log; store and auth warnings still arrive.
    tracing_subscriber::fmt().with_env_filter("info").init();
    let store_url =
        std::env::var("OPENFRAME_STORE").unwrap_or_else(|_| "sqlite::memory:".to_owned());
    let app = app(&store_url).await?;
    if std::env::args().nth(1).as_deref() == Some("serve") {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
        tracing::info!("serving on http://127.0.0.1:3000 (openframe under /openframe)");
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await?;
    } else {
        check(app).await?;
        println!("embed: the host's routes and openframe's answer as expected");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_embedded_app_answers() {
        let app = super::app("sqlite::memory:").await.expect("the app");
        super::check(app).await.expect("every check passes");
    }
}
