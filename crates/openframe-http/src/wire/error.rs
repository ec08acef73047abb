//! `ApiError`: every failure an HTTP client can see, with its status, stable message and field-naming detail.
//! Handlers return it; [`crate::wire::render`] writes it as the platform's error envelope in the negotiated format.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openframe_core::Error;

/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECS: u64 = 5;
/// The `Retry-After` of a 429 for an event stream past its cap.
pub const STREAM_RETRY_AFTER_SECS: u64 = 10;

/// The platform's error: `{"error":{"message":…,"detail":…},"status":"failure"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The status code.
    pub status: StatusCode,
    /// Short, stable text clients may match on.
    pub message: Cow<'static, str>,
    /// What exactly was wrong, naming the field where there is one.
    pub detail: String,
    /// Seconds for a `Retry-After` header (503, 429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with this status, message and detail.
    pub fn new(status: StatusCode, message: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            message: Cow::Borrowed(message),
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// An error whose message is built at run time (`Invalid table <name>`).
    pub fn with_message(status: StatusCode, message: String, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            message: Cow::Owned(message),
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// A 400 for input that broke a rule: `field: rule`.
    pub fn invalid(field: &str, rule: impl std::fmt::Display) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            format!("{field}: {rule}"),
        )
    }

    /// 401, with the challenge header added when rendered.
    pub fn unauthenticated() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "User Not Authenticated",
            "Required to provide Auth information",
        )
    }

    /// 403 for an authenticated user without an openframe role.
    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "User Not Authorized",
            "the user has none of the roles sn_openframe_api_user, sn_openframe_user, admin",
        )
    }

    /// 405 for a method the path does not have; `methods` is what the `Allow` header says.
    pub fn method_not_allowed(methods: &str) -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            format!("allowed methods: {methods}"),
        )
    }

    /// 400 for a path under `/api/now/` that names nothing.
    pub fn unknown_resource() -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Requested URI does not represent any resource",
            "no openframe or Table API resource at this path",
        )
    }

    /// 503 for a store that did not answer.
    pub fn unavailable() -> Self {
        ApiError {
            retry_after: Some(RETRY_AFTER_SECS),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
                "the store is unavailable; nothing was written, retry later",
            )
        }
    }

    /// A 503 for a request the server cannot take on now (it has nothing to do with the store).
    pub fn busy(detail: &str) -> Self {
        ApiError {
            retry_after: Some(RETRY_AFTER_SECS),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
                detail,
            )
        }
    }

    /// A 429 for an event stream past a cap (the caller's own, or the server's).
    pub fn too_many_streams(detail: String) -> Self {
        ApiError {
            retry_after: Some(STREAM_RETRY_AFTER_SECS),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests", detail)
        }
    }

    /// A 429 for a sign-in from an address that failed too often.
    pub fn too_many_attempts(retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Too Many Requests",
                format!("too many failed sign-ins; retry after {retry_after} seconds"),
            )
        }
    }
}

/// The message of every 400 that a rule of the request produced.
pub const INVALID_REQUEST: &str = "Invalid request";

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid { field, rule } => ApiError::invalid(&field, rule),
            Error::NotFound { .. } => ApiError::new(
                StatusCode::NOT_FOUND,
                "No Record found",
                "Record doesn't exist or ACL restricts the record retrieval",
            ),
            Error::Conflict(conflict) => {
                ApiError::new(StatusCode::CONFLICT, "Conflict", conflict.to_string())
            }
            Error::Unavailable { source } => {
                tracing::warn!(error = %source, "store unavailable");
                ApiError::unavailable()
            }
            Error::Internal { source } => {
                // The source goes to the log only: a body never shows SQL, paths or driver text.
                tracing::error!(error = %source, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    "an unexpected error occurred; see the server log",
                )
            }
            // `Error` is non-exhaustive: a kind this build does not know is an internal error.
            other => ApiError::from(Error::internal(other.to_string())),
        }
    }
}

/// An `ApiError` travels to the renderer as a response extension; the renderer writes the body and the
/// headers that go with the status (`WWW-Authenticate`, `Retry-After`).
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"openframe\""),
            );
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(self);
        response
    }
}
