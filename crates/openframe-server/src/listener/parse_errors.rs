//! The platform's error envelope on the answers hyper writes itself. A request hyper cannot parse never
//! reaches the router: hyper answers it with an empty body — 414 for a URI over 65,534 bytes, 431 for more
//! than 100 header fields or more than its buffer holds, 400 for anything else malformed — and closes the
//! connection. Clients then have nothing to show (pysnc raises `RequestException('')`).
//!
//! This writer, between hyper and the socket, recognises those answers — an HTTP/1.1 status line of one of
//! those codes with `content-length: 0`, which no answer of the router has (its errors always carry the
//! envelope) — and writes the same status with the envelope in JSON instead.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `inner`, with hyper's own error answers given a body.
#[derive(Debug)]
pub struct ParseErrorEnvelope<T> {
    inner: T,
    /// A replacement answer still being written, and how much of it is.
    pending: Option<(Vec<u8>, usize)>,
}

impl<T> ParseErrorEnvelope<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        ParseErrorEnvelope {
            inner,
            pending: None,
        }
    }
}

/// The answer to write instead of `head`, if `head` is one of hyper's bodiless error answers.
fn replacement(head: &[u8]) -> Option<Vec<u8>> {
    let (status, message, detail) = [
        (
            &b"HTTP/1.1 414 "[..],
            "URI Too Long",
            "the request URI must be at most 65534 bytes",
        ),
        (
            b"HTTP/1.1 431 ",
            "Request Header Fields Too Large",
            "a request may have at most 100 header fields and about 400 KiB of headers",
        ),
        (
            b"HTTP/1.1 400 ",
            "Bad Request",
            "the request is not well-formed HTTP",
        ),
    ]
    .into_iter()
    .find(|(status, _, _)| head.starts_with(status))?;
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let headers = std::str::from_utf8(&head[..end]).ok()?;
    let bodiless = headers
        .split("\r\n")
        .any(|h| h.eq_ignore_ascii_case("content-length: 0"));
    if !bodiless || head.len() != end + 4 {
        return None;
    }
    let line_end = headers.find("\r\n")?;
    let status_line = &headers[..line_end];
    let body = serde_json::json!({
        "error": {"message": message, "detail": detail},
        "status": "failure",
    })
    .to_string();
    debug_assert!(status_line.as_bytes().starts_with(status));
    Some(
        format!(
            "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<T: AsyncWrite + Unpin> ParseErrorEnvelope<T> {
    /// Writes what is left of a replacement answer; ready once it is all written.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            match Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ParseErrorEnvelope<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ParseErrorEnvelope<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        if let Some(bytes) = replacement(buf) {
            // hyper's answer counts as written; the replacement goes out in its place.
            self.pending = Some((bytes, 0));
            let _ = self.drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bodiless_error_answers_are_replaced() {
        let hyper = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 22:31:09 GMT\r\n\r\n";
        let out = String::from_utf8(replacement(hyper).expect("replaced")).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"]["message"], "URI Too Long");
        assert_eq!(body["status"], "failure");

        for kept in [
            &b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 12\r\n\r\n{\"error\":{}}"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 80\r\n\r\n",
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n",
        ] {
            assert_eq!(replacement(kept), None, "{}", String::from_utf8_lossy(kept));
        }
    }
}
