//! The request id: the client's `X-Request-Id` when it is a sane token, else a fresh UUID. It names the
//! request in the log line and comes back on the response, so that a client's report and the server's log
//! meet.

use std::fmt;

use axum::http::{HeaderName, HeaderValue};

/// `X-Request-Id`.
pub static HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-given id that is honoured.
pub const MAX_LEN: usize = 128;

/// A request's id (a request extension, for handlers that want it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The client's id if it is 1-128 characters of `A-Z a-z 0-9 - _ . :` (enough for UUIDs and
    /// trace ids, and nothing that could forge a log line or carry data), else a new random UUID.
    ///
    /// ```
    /// use axum::http::HeaderValue;
    /// use openframe_http::RequestId;
    /// let given = HeaderValue::from_static("lb-7f3a.42");
    /// assert_eq!(RequestId::from_header(Some(&given)).as_str(), "lb-7f3a.42");
    /// let forged = HeaderValue::from_static("x\" status=200");
    /// assert_ne!(RequestId::from_header(Some(&forged)).as_str(), "x\" status=200");
    /// ```
    pub fn from_header(given: Option<&HeaderValue>) -> Self {
        given
            .and_then(|v| v.to_str().ok())
            .filter(|id| is_sane(id))
            .map_or_else(Self::generate, |id| RequestId(id.to_owned()))
    }

    /// A new random id.
    pub fn generate() -> Self {
        RequestId(uuid::Uuid::new_v4().to_string())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as a header value.
    pub fn header_value(&self) -> HeaderValue {
        // Only checked characters (or a UUID's) are in it, so this cannot fail; a blank value if it did.
        HeaderValue::from_str(&self.0).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_sane(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honours_only_sane_ids() {
        let uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
        for id in [uuid, "a", "trace:1.2_3", &"x".repeat(MAX_LEN)] {
            let given = HeaderValue::from_str(id).unwrap();
            assert_eq!(RequestId::from_header(Some(&given)).as_str(), id);
        }
        for id in [
            "",
            "has space",
            "semi;colon",
            "quote\"",
            "tab\there",
            &"x".repeat(MAX_LEN + 1),
        ] {
            let given = HeaderValue::from_str(id).unwrap();
            let got = RequestId::from_header(Some(&given));
            assert_ne!(got.as_str(), id);
            assert!(uuid::Uuid::parse_str(got.as_str()).is_ok(), "{got}");
        }
        let non_utf8 = HeaderValue::from_bytes(b"caf\xe9").unwrap();
        assert!(uuid::Uuid::parse_str(RequestId::from_header(Some(&non_utf8)).as_str()).is_ok());
        assert_ne!(RequestId::from_header(None), RequestId::from_header(None));
    }
}
