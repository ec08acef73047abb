//! Content negotiation, in one place: which format a request body is in (Content-Type) and which format the
//! response must be in (Accept, with q-values).

use axum::http::HeaderValue;

/// A wire format of request and response bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// `application/json`
    Json,
    /// `application/xml`
    Xml,
}

impl Format {
    /// The Content-Type of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json;charset=UTF-8",
            Format::Xml => "application/xml;charset=UTF-8",
        }
    }
}

/// The format of a request body by its Content-Type: JSON when missing; `None` for a type that is neither
/// JSON (`application/json`, `*+json`) nor XML (`application/xml`, `text/xml`, `*+xml`). Parameters such as
/// `charset` are accepted.
pub fn request_format(content_type: Option<&HeaderValue>) -> Option<Format> {
    let Some(value) = content_type else {
        return Some(Format::Json);
    };
    let essence = value
        .to_str()
        .ok()?
        .split(';')
        .next()?
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "" => Some(Format::Json),
        "application/json" => Some(Format::Json),
        "application/xml" | "text/xml" => Some(Format::Xml),
        s if s.contains('/') && s.ends_with("+json") => Some(Format::Json),
        s if s.contains('/') && s.ends_with("+xml") => Some(Format::Xml),
        _ => None,
    }
}

/// The format the response must be in by the Accept header: JSON when missing or `*/*`; the higher q-value
/// wins, JSON on a tie; `None` when Accept allows neither (a 406).
pub fn response_format(accept: Option<&HeaderValue>) -> Option<Format> {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
        return Some(Format::Json);
    };
    if accept.trim().is_empty() {
        return Some(Format::Json);
    }
    let ranges: Vec<MediaRange> = accept.split(',').filter_map(MediaRange::parse).collect();
    let json = quality(&ranges, &["application/json"], "+json");
    let xml = quality(&ranges, &["application/xml", "text/xml"], "+xml");
    match (json, xml) {
        (j, x) if j <= 0.0 && x <= 0.0 => None,
        (j, x) if x > j => Some(Format::Xml),
        _ => Some(Format::Json),
    }
}

/// Whether the Accept header asks for `text/event-stream` (what `EventSource` sends): the event stream's
/// clients, whose errors are written in JSON.
pub fn accepts_event_stream(accept: Option<&HeaderValue>) -> bool {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let ranges: Vec<MediaRange> = accept.split(',').filter_map(MediaRange::parse).collect();
    quality(&ranges, &["text/event-stream"], "+event-stream") > 0.0
}

/// One element of an Accept header.
struct MediaRange {
    kind: String,
    subtype: String,
    q: f32,
}

impl MediaRange {
    fn parse(item: &str) -> Option<Self> {
        let mut parts = item.split(';');
        let (kind, subtype) = parts.next()?.trim().split_once('/')?;
        let mut q = 1.0;
        for param in parts {
            if let Some((name, value)) = param.split_once('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                q = value
                    .trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|q| (0.0..=1.0).contains(q))?;
            }
        }
        Some(MediaRange {
            kind: kind.trim().to_ascii_lowercase(),
            subtype: subtype.trim().to_ascii_lowercase(),
            q,
        })
    }

    /// How specifically the range matches `media` (higher is more specific), or `None` when it does not.
    fn specificity(&self, media: &str, suffix: &str) -> Option<u8> {
        let (kind, subtype) = media.split_once('/')?;
        if self.kind == kind && self.subtype == subtype {
            Some(3)
        } else if self.kind == kind && self.subtype.ends_with(suffix) {
            // `application/problem+json` asks for JSON as surely as `application/json` does.
            Some(3)
        } else if self.kind == kind && self.subtype == "*" {
            Some(2)
        } else if self.kind == "*" && self.subtype == "*" {
            Some(1)
        } else {
            None
        }
    }
}

/// The q-value Accept gives the best of `media` types: the q of the most specific matching range (RFC 9110).
fn quality(ranges: &[MediaRange], media: &[&str], suffix: &str) -> f32 {
    media
        .iter()
        .filter_map(|m| {
            ranges
                .iter()
                .filter_map(|r| r.specificity(m, suffix).map(|s| (s, r.q)))
                .max_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
                .map(|(_, q)| q)
        })
        .fold(0.0, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(s: &str) -> Option<Format> {
        response_format(Some(&HeaderValue::from_str(s).unwrap()))
    }

    fn content(s: &str) -> Option<Format> {
        request_format(Some(&HeaderValue::from_str(s).unwrap()))
    }

    #[test]
    fn event_stream_clients_are_recognised() {
        let asks = |s: &str| accepts_event_stream(Some(&HeaderValue::from_str(s).unwrap()));
        assert!(asks("text/event-stream"));
        assert!(asks("application/json, text/event-stream;q=0.5"));
        assert!(!asks("text/event-stream;q=0"));
        assert!(!asks("application/json"));
        assert!(!accepts_event_stream(None));
    }

    #[test]
    fn accept_cases() {
        assert_eq!(response_format(None), Some(Format::Json));
        assert_eq!(accept("*/*"), Some(Format::Json));
        assert_eq!(accept("application/json"), Some(Format::Json));
        assert_eq!(accept("application/xml"), Some(Format::Xml));
        assert_eq!(accept("text/xml"), Some(Format::Xml));
        assert_eq!(accept("text/*"), Some(Format::Xml));
        assert_eq!(accept("application/*"), Some(Format::Json));
        assert_eq!(
            accept("application/json;q=0.5, application/xml"),
            Some(Format::Xml)
        );
        assert_eq!(
            accept("application/json, application/xml"),
            Some(Format::Json)
        );
        assert_eq!(
            accept("application/xml;q=0.9, */*;q=0.1"),
            Some(Format::Xml)
        );
        assert_eq!(accept("*/*, application/json;q=0"), Some(Format::Xml));
        assert_eq!(accept("application/vnd.api+json"), Some(Format::Json));
        assert_eq!(accept("text/html"), None);
        assert_eq!(accept("application/json;q=0"), None);
        assert_eq!(accept("image/png, text/plain;q=0.5"), None);
    }

    #[test]
    fn content_type_cases() {
        assert_eq!(request_format(None), Some(Format::Json));
        assert_eq!(
            content("application/json; charset=utf-8"),
            Some(Format::Json)
        );
        assert_eq!(content("Application/JSON"), Some(Format::Json));
        assert_eq!(content("application/merge-patch+json"), Some(Format::Json));
        assert_eq!(content("application/xml"), Some(Format::Xml));
        assert_eq!(content("text/xml; charset=UTF-8"), Some(Format::Xml));
        assert_eq!(content("application/soap+xml"), Some(Format::Xml));
        assert_eq!(content("text/plain"), None);
        assert_eq!(content("application/x-www-form-urlencoded"), None);
        assert_eq!(content("json"), None);
    }
}
