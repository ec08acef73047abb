//! The Table API's query string: its parameters, percent-decoded, and the `true`/`false` flags among them.

use crate::wire::error::ApiError;
use crate::wire::form::{self, FormError};

/// The query string's parameters, decoded; the first of a repeated name wins.
pub(crate) struct Params(pub(super) Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = query_pairs(raw.unwrap_or(""))?;
        Ok(Params(pairs))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn query_pairs(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

/// Percent-decoding of one query component (`+` is a space, as forms send it).
fn decode(s: &str) -> Result<String, ApiError> {
    form::decode(s).map_err(|e| match e {
        FormError::Malformed => ApiError::invalid("query", "malformed percent-encoding"),
        FormError::NotUtf8 => ApiError::invalid("query", "must be UTF-8 once decoded"),
    })
}

/// Percent-encoding for the links we write.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `true`/`false` parameter (default false; empty is false, as the platform reads it).
pub(crate) fn flag(params: &Params, name: &str) -> Result<bool, ApiError> {
    match params.get(name).map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::invalid(name, "must be true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_encodes_query_components() {
        assert_eq!(
            decode("state%3Dnew%5EORstate%3Dqueued").unwrap(),
            "state=new^ORstate=queued"
        );
        assert_eq!(decode("a+b").unwrap(), "a b");
        assert!(decode("%zz").is_err());
        assert!(decode("%ff").is_err());
        assert_eq!(encode("state=new^x y"), "state%3Dnew%5Ex%20y");
    }
}
