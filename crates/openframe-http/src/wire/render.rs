//! The one place where response bodies are written: a middleware that negotiates the format from Accept and
//! renders what handlers returned — a [`Reply`] or an [`ApiError`] — in it. Handlers never choose a format.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::wire::error::ApiError;
use crate::wire::negotiate::{Format, accepts_event_stream, response_format};
use crate::wire::rows::{self, Rows};
use crate::wire::xml;

/// A successful result: rendered as `{"result": …}` or `<response><result>…</result></response>`.
#[derive(Clone, Debug)]
pub struct Reply(pub Value);

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = StatusCode::OK.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// Renders every response of the router: a 406 before anything else runs when Accept allows neither format,
/// then the handler's [`Reply`] or [`ApiError`]; an error response from elsewhere (axum's 405, a rejected
/// extractor) gets the envelope too, keeping its headers (`Allow`).
pub async fn render(request: Request, next: Next) -> Response {
    let accept = request.headers().get(header::ACCEPT);
    // An event-stream client's errors come in JSON (the stream itself is not rendered here).
    let format = response_format(accept).or(accepts_event_stream(accept).then_some(Format::Json));
    let Some(format) = format else {
        let error = ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "Not Acceptable",
            "Accept must allow application/json or application/xml",
        );
        return finish(
            error.clone().into_response(),
            error_body(&error),
            Format::Json,
        );
    };
    let mut response = next.run(request).await;
    if let Some(Reply(result)) = response.extensions_mut().remove::<Reply>() {
        let body = json!({ "result": result });
        return finish(response, body, format);
    }
    if let Some(page) = response
        .extensions_mut()
        .remove::<Rows>()
        .and_then(|rows| rows.take())
    {
        let (mut parts, _) = response.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        );
        return Response::from_parts(parts, rows::body(page, format));
    }
    if let Some(error) = response.extensions_mut().remove::<ApiError>() {
        return finish(response, error_body(&error), format);
    }
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let error = fallback_error(&response);
        return finish(response, error_body(&error), format);
    }
    response
}

fn fallback_error(response: &Response) -> ApiError {
    let status = response.status();
    match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed(
            response
                .headers()
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        ),
        _ => ApiError::new(
            status,
            status.canonical_reason().unwrap_or("Error"),
            status.canonical_reason().unwrap_or("Error"),
        ),
    }
}

fn error_body(error: &ApiError) -> Value {
    json!({
        "error": {"message": error.message, "detail": error.detail},
        "status": "failure",
    })
}

/// Replaces the body of `response` with `body` written in `format`.
fn finish(response: Response, body: Value, format: Format) -> Response {
    let (mut parts, _) = response.into_parts();
    let bytes = match format {
        Format::Json => body.to_string(),
        Format::Xml => {
            let mut out = String::from(xml::DECLARATION);
            out.push_str("<response>");
            if let Value::Object(members) = &body {
                for (key, value) in members {
                    xml::write_element(&mut out, key, value);
                }
            }
            out.push_str("</response>");
            out
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    Response::from_parts(parts, Body::from(bytes))
}
