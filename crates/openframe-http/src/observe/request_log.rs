//! One structured log line and two metrics per request, and the request id on every response.
//!
//! The outermost layer of the router, so it sees every answer as the client gets it: rendered errors, 401s,
//! 406s, `/metrics`. The line holds the request id, method, route (axum's matched path template such as
//! `/api/now/table/{table}`, or `unmatched`; never the path a client sent, which can carry ids, nor the
//! query string, which can carry phone numbers), status, latency in milliseconds, and the signed-in user's
//! name (`-` when there is none). Never a body, a header's value or a password.
//!
//! The user comes back from the auth layer as a [`Caller`] extension on the response: the request's
//! extensions are gone by the time the response exists.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use openframe_core::Caller;
use tracing::Instrument;

use super::request_id::{self, RequestId};

/// Counter: requests answered, by `method`, `route` (the matched path template, or `unmatched`) and
/// `status`.
pub const REQUESTS_TOTAL: &str = "openframe_http_requests_total";
/// Histogram: seconds from a request's arrival to its response's head, labelled like [`REQUESTS_TOTAL`].
pub const REQUEST_DURATION: &str = "openframe_http_request_duration_seconds";

/// The target of the request lines, for filtering (`RUST_LOG=openframe::request=off`).
pub const TARGET: &str = "openframe::request";

/// The route label and log field of a request that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// Middleware: one log line (target `openframe::request`) and two metrics ([`REQUESTS_TOTAL`],
/// [`REQUEST_DURATION`], through the `metrics` facade) per request, and the request id (`X-Request-Id`: the
/// client's when it is a sane token, else a new one) on every response. Never a body, a query string, a
/// header's value or a password.
pub async fn request_log(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = RequestId::from_header(request.headers().get(&request_id::HEADER));
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED.to_owned(), |p| p.as_str().to_owned());
    request.extensions_mut().insert(id.clone());
    // Whatever is logged while the request runs (a store error, say) carries its id.
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = next.run(request).instrument(span).await;
    let latency = started.elapsed();
    response
        .headers_mut()
        .insert(request_id::HEADER.clone(), id.header_value());

    let status = response.status();
    let labels = [
        ("method", method.to_owned()),
        ("route", route.clone()),
        ("status", status.as_str().to_owned()),
    ];
    metrics::counter!(REQUESTS_TOTAL, &labels).increment(1);
    metrics::histogram!(REQUEST_DURATION, &labels).record(latency.as_secs_f64());

    let user = response
        .extensions()
        .get::<Caller>()
        .map_or("-", |caller| caller.user_name.as_str());
    // Rounded to microseconds: finer is noise, and it keeps the line short.
    let latency_ms = (latency.as_secs_f64() * 1e6).round() / 1e3;
    macro_rules! line {
        ($level:expr) => {
            tracing::event!(
                target: TARGET,
                $level,
                request_id = %id,
                method,
                route,
                status = status.as_u16(),
                latency_ms,
                user,
                "request"
            )
        };
    }
    if status.is_server_error() {
        line!(tracing::Level::ERROR);
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        line!(tracing::Level::WARN);
    } else {
        line!(tracing::Level::INFO);
    }
    response
}

/// The method as a label: the standard ones by name, anything else as `other` (a client must not be able to
/// mint label values).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
