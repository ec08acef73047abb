//! Reading a request body: Content-Type (415), size (413), arrival within a deadline (408) and syntax (400),
//! into the JSON value tree that `openframe_core::VoiceInteractionRequest::parse` takes.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use openframe_core::json::JsonError;
use openframe_core::limits::MAX_BODY_BYTES;
use serde_json::Value;

use crate::wire::error::ApiError;
use crate::wire::negotiate::{Format, request_format};

/// Reads and parses the body of a request with these headers; the whole body must arrive within `deadline`,
/// so a client trickling bytes cannot hold a connection and a task for long.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    deadline: Duration,
) -> Result<Value, ApiError> {
    let format = request_format(headers.get(header::CONTENT_TYPE)).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            "Content-Type must be application/json or application/xml",
        )
    })?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = tokio::time::timeout(deadline, axum::body::to_bytes(body, MAX_BODY_BYTES))
        .await
        .map_err(|_| too_slow(deadline))?
        .map_err(|e| {
            if std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            {
                too_large()
            } else {
                ApiError::invalid("body", "could not be read")
            }
        })?;
    parse(format, &bytes)
}

/// Parses `bytes` in `format`. A key repeated in one JSON object is refused as a repeated XML element is:
/// a 400 naming its path.
pub fn parse(format: Format, bytes: &[u8]) -> Result<Value, ApiError> {
    match format {
        Format::Json => {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Err(ApiError::invalid("body", "is required"));
            }
            openframe_core::json::parse(bytes).map_err(|e| match e {
                JsonError::Duplicate { path } => ApiError::invalid(&path, "appears more than once"),
                JsonError::Syntax(e) => ApiError::invalid("body", format!("malformed JSON: {e}")),
            })
        }
        Format::Xml => crate::wire::xml_body::parse(bytes),
    }
}

fn too_slow(deadline: Duration) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "Request Timeout",
        format!("body: did not arrive within {} seconds", deadline.as_secs()),
    )
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request body too large",
        format!("body: must be at most {MAX_BODY_BYTES} bytes"),
    )
}
