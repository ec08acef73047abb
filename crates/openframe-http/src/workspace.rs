//! The agent workspace page at `/workspace`: static HTML, CSS and ES modules compiled into the binary.
//!
//! The page holds no data, so it needs no credentials; the user signs in inside it and every read goes through
//! the API (`/api/now/…`) with Basic auth from script. Its responses carry a strict Content-Security-Policy
//! (scripts, styles and connections from this origin only; no inline script, no framing) and are mounted
//! outside the API's renderer, which would refuse a browser's `Accept` for HTML with a 406.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;

/// The page's policy: everything from this origin only, nothing inline, no plugins, no framing, no form posts.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// One embedded file and where it is served.
#[derive(Debug)]
pub struct Asset {
    /// The URL path.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// The file's bytes.
    pub body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! asset {
    ($path:literal, $file:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!("../assets/workspace/", $file)),
        }
    };
}

/// Every file of the page. Modules import each other by these absolute paths.
pub static ASSETS: &[Asset] = &[
    asset!("/workspace", "index.html", HTML),
    asset!("/workspace/", "index.html", HTML),
    asset!("/workspace/workspace.css", "workspace.css", CSS),
    asset!("/workspace/icon.svg", "icon.svg", SVG),
    asset!("/workspace/app.js", "app.js", JS),
    asset!("/workspace/api.js", "api.js", JS),
    asset!("/workspace/sse.js", "sse.js", JS),
    asset!("/workspace/view.js", "view.js", JS),
    asset!("/workspace/timeline.js", "timeline.js", JS),
];

/// The page's routes, to merge into the application router outside its API layers.
pub fn routes() -> Router {
    ASSETS.iter().fold(Router::new(), |router, asset| {
        router.route(asset.path, get(move || serve(asset)))
    })
}

async fn serve(asset: &'static Asset) -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            // Small files: always revalidate, so a new binary's page is never mixed with an old module.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ],
        asset.body,
    )
}
