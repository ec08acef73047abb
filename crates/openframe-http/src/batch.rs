//! The platform's Batch API (`POST /api/now/v1/batch`): many REST requests in one, each run as the caller
//! through the same routes, auth and rules as if it had been sent alone; each answer comes back with its
//! status, headers and base64 body. pysnc sends long queries and `update_multiple`/`delete_multiple` this way.
//!
//! The items run one after another, in order, on a copy of the API's routes that has no batch route (so a
//! batch cannot nest). Items left when the batch has taken [`TIME_BUDGET`] are listed as unserviced, which
//! clients send again, as on the platform.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use openframe_core::Caller;
use openframe_core::limits::MAX_BODY_BYTES;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use crate::auth::{ClientAddr, ServedOverTls};
use crate::wire::error::ApiError;

/// Where the Batch API is: the platform's versioned path, and the same without the version.
pub const BATCH_PATHS: [&str; 2] = ["/api/now/v1/batch", "/api/now/batch"];
/// Most requests in one batch.
pub const MAX_ITEMS: usize = 1_000;
/// The largest batch body: items carry their own bodies, each up to the 1 MiB of a request.
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// How long a batch runs items before it leaves the rest unserviced.
pub const TIME_BUDGET: Duration = Duration::from_secs(30);

/// One request of the batch, checked.
struct Item {
    id: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Vec<u8>,
    exclude_response_headers: bool,
}

/// `POST /api/now/v1/batch`, running the items on `items` (the API's routes without this one).
pub(crate) async fn handle(items: Router, request: Request) -> Response {
    match run(items, request).await {
        Ok(body) => (
            [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
            body.to_string(),
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

async fn run(items: Router, request: Request) -> Result<Value, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BATCH_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body too large",
                format!("body: a batch must be at most {MAX_BATCH_BYTES} bytes"),
            )
        })?;
    let body = openframe_core::json::parse(&bytes)
        .map_err(|e| ApiError::invalid("body", format!("must be a JSON batch: {e}")))?;
    let (batch_id, requests) = parse_batch(&body)?;

    let started = Instant::now();
    let mut serviced = Vec::with_capacity(requests.len());
    let mut unserviced = Vec::new();
    for item in requests {
        if started.elapsed() > TIME_BUDGET {
            unserviced.push(json!({"id": item.id}));
            continue;
        }
        let began = Instant::now();
        let id = item.id.clone();
        let exclude = item.exclude_response_headers;
        let response = items
            .clone()
            .oneshot(inner_request(item, &parts))
            .await
            .unwrap_or_else(|never| match never {});
        serviced.push(answer(id, response, exclude, began).await);
    }
    Ok(json!({
        "batch_request_id": batch_id,
        "serviced_requests": serviced,
        "unserviced_requests": unserviced,
    }))
}

/// The item as a request of its own, made by the batch's caller: its credentials, its address and, for a
/// host that authenticates upstream, its caller.
fn inner_request(item: Item, outer: &axum::http::request::Parts) -> Request {
    let mut request = Request::new(Body::from(item.body));
    *request.method_mut() = item.method;
    *request.uri_mut() = item.uri;
    *request.headers_mut() = item.headers;
    let headers = request.headers_mut();
    headers.remove(header::AUTHORIZATION);
    if let Some(auth) = outer.headers.get(header::AUTHORIZATION) {
        headers.insert(header::AUTHORIZATION, auth.clone());
    }
    for name in [header::HOST, HeaderName::from_static("x-forwarded-proto")] {
        if let Some(value) = outer.headers.get(&name) {
            headers.insert(name, value.clone());
        }
    }
    let extensions = request.extensions_mut();
    if let Some(caller) = outer.extensions.get::<Caller>() {
        extensions.insert(caller.clone());
    }
    if let Some(addr) = outer.extensions.get::<ClientAddr>() {
        extensions.insert(*addr);
    }
    if let Some(info) = outer.extensions.get::<ConnectInfo<std::net::SocketAddr>>() {
        extensions.insert(*info);
    }
    if let Some(tls) = outer.extensions.get::<ServedOverTls>() {
        extensions.insert(*tls);
    }
    request
}

/// One serviced request, as the platform writes it.
async fn answer(id: String, response: Response, exclude_headers: bool, began: Instant) -> Value {
    let status = response.status();
    let headers: Vec<Value> = if exclude_headers {
        Vec::new()
    } else {
        response
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some(json!({"name": name.as_str(), "value": value.to_str().ok()?}))
            })
            .collect()
    };
    // Bodies are bounded by the routes themselves (the largest, a page of 10,000 rows).
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    json!({
        "id": id,
        "status_code": status.as_u16(),
        "status_text": status.canonical_reason().unwrap_or(""),
        "headers": headers,
        "body": BASE64.encode(&body),
        "execution_time": began.elapsed().as_millis() as u64,
    })
}

/// The batch id and its items, every one checked before any runs: a bad item is a 400 naming it.
fn parse_batch(body: &Value) -> Result<(String, Vec<Item>), ApiError> {
    let batch = body
        .as_object()
        .ok_or_else(|| ApiError::invalid("body", "must be an object"))?;
    for key in batch.keys() {
        if key != "batch_request_id" && key != "rest_requests" {
            return Err(ApiError::invalid(
                key,
                "unknown field; expected batch_request_id, rest_requests",
            ));
        }
    }
    let batch_id = match batch.get("batch_request_id") {
        None => String::new(),
        Some(v) => id_text(v, "batch_request_id")?,
    };
    let requests = batch
        .get("rest_requests")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::invalid("rest_requests", "is required: an array of requests"))?;
    if requests.len() > MAX_ITEMS {
        return Err(ApiError::invalid(
            "rest_requests",
            format!("must have at most {MAX_ITEMS} requests"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let mut items = Vec::with_capacity(requests.len());
    for (i, request) in requests.iter().enumerate() {
        let item = parse_item(request, &format!("rest_requests[{i}]"))?;
        if !seen.insert(item.id.clone()) {
            return Err(ApiError::invalid(
                &format!("rest_requests[{i}].id"),
                format!("{:?} is the id of an earlier request", item.id),
            ));
        }
        items.push(item);
    }
    Ok((batch_id, items))
}

fn parse_item(value: &Value, path: &str) -> Result<Item, ApiError> {
    let item = value
        .as_object()
        .ok_or_else(|| ApiError::invalid(path, "must be an object"))?;
    const KEYS: [&str; 6] = [
        "id",
        "method",
        "url",
        "headers",
        "body",
        "exclude_response_headers",
    ];
    for key in item.keys() {
        if !KEYS.contains(&key.as_str()) {
            return Err(ApiError::invalid(
                &format!("{path}.{key}"),
                format!("unknown field; expected one of {}", KEYS.join(", ")),
            ));
        }
    }
    let field = |key: &str| format!("{path}.{key}");
    let id = match item.get("id") {
        Some(v) => id_text(v, &field("id"))?,
        None => return Err(ApiError::invalid(&field("id"), "is required")),
    };
    let method = text(item, "method", path)?
        .ok_or_else(|| ApiError::invalid(&field("method"), "is required"))?;
    let method = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
        .contains(&method.as_str())
        .then(|| Method::from_bytes(method.as_bytes()).ok())
        .flatten()
        .ok_or_else(|| {
            ApiError::invalid(
                &field("method"),
                "must be one of GET, POST, PUT, PATCH, DELETE, HEAD",
            )
        })?;
    let url =
        text(item, "url", path)?.ok_or_else(|| ApiError::invalid(&field("url"), "is required"))?;
    let uri = url
        .parse::<Uri>()
        .ok()
        .filter(|u| u.scheme().is_none() && u.authority().is_none())
        .filter(|u| crate::router::is_api_path(u.path()))
        .ok_or_else(|| {
            ApiError::invalid(
                &field("url"),
                "must be a path under /api/now/ with its query, such as /api/now/table/interaction?sysparm_limit=1",
            )
        })?;
    if BATCH_PATHS.contains(&uri.path()) {
        return Err(ApiError::invalid(
            &field("url"),
            "a batch cannot contain a batch",
        ));
    }
    if uri.path().ends_with("/events") {
        return Err(ApiError::invalid(
            &field("url"),
            "an event stream never ends, so it cannot be batched",
        ));
    }
    let mut headers = HeaderMap::new();
    match item.get("headers") {
        None => {}
        Some(Value::Array(list)) => {
            for (j, h) in list.iter().enumerate() {
                let hpath = format!("{path}.headers[{j}]");
                let pair = h.as_object().ok_or_else(|| {
                    ApiError::invalid(&hpath, "must be an object with name and value")
                })?;
                let required = |key: &str| {
                    text(pair, key, &hpath)?
                        .ok_or_else(|| ApiError::invalid(&format!("{hpath}.{key}"), "is required"))
                };
                let (name, value) = (required("name")?, required("value")?);
                let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    ApiError::invalid(&format!("{hpath}.name"), "is no header name")
                })?;
                let value = HeaderValue::from_str(&value).map_err(|_| {
                    ApiError::invalid(&format!("{hpath}.value"), "is no header value")
                })?;
                headers.append(name, value);
            }
        }
        Some(_) => {
            return Err(ApiError::invalid(
                &field("headers"),
                "must be an array of {name, value}",
            ));
        }
    }
    let body = match text(item, "body", path)? {
        None => Vec::new(),
        Some(encoded) => BASE64
            .decode(encoded.trim())
            .map_err(|_| ApiError::invalid(&field("body"), "must be base64"))?,
    };
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::invalid(
            &field("body"),
            format!("must be at most {MAX_BODY_BYTES} bytes once decoded"),
        ));
    }
    let exclude_response_headers = match item.get("exclude_response_headers") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::invalid(
                &field("exclude_response_headers"),
                "must be true or false",
            ));
        }
    };
    Ok(Item {
        id,
        method,
        uri,
        headers,
        body,
        exclude_response_headers,
    })
}

/// An id as the platform echoes it: a string, or a whole number written as text.
fn id_text(value: &Value, path: &str) -> Result<String, ApiError> {
    match value {
        Value::String(s) if s.chars().count() <= 100 => Ok(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        _ => Err(ApiError::invalid(
            path,
            "must be a string of at most 100 characters or a whole number",
        )),
    }
}

/// A string member of `object`, if present.
fn text(object: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>, ApiError> {
    match object.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(
            &format!("{path}.{key}"),
            "must be a string",
        )),
    }
}
