//! Pages written as they are sent: the rows of a Table API page rendered a chunk at a time while the
//! client takes them, so a page is never held whole as text, a client that stops reading stops the
//! rendering (and loses its connection at the server's write deadline), and no worker is busy with one page
//! for long. A large page's turn among the few written at once travels with its body and is given back when
//! the body is done or dropped. JSON rows are written straight to text ([`RowWriter::write_json`]), not
//! built as values first.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use openframe_core::Record;
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;

use crate::wire::negotiate::Format;
use crate::wire::xml;

/// Rows rendered per chunk of the body.
const CHUNK_ROWS: usize = 100;

/// A handler's page of rows for the renderer to stream as `{"result":[…]}` or `<response><result>…`.
/// (Cloneable, as response extensions must be; the renderer takes the one page out.)
#[derive(Clone)]
pub(crate) struct Rows(Arc<Mutex<Option<Page>>>);

/// The rows, how each is shown, and the page's turn.
pub(crate) struct Page {
    records: Vec<Record>,
    writer: Box<dyn RowWriter>,
    _turn: Option<OwnedSemaphorePermit>,
}

/// How each row of a page is shown.
pub(crate) trait RowWriter: Send + 'static {
    /// The row as a value (what XML is written from).
    fn value(&self, record: &Record) -> Value;

    /// The row as JSON text, appended to `out`: the same as [`RowWriter::value`] serialized.
    fn write_json(&self, record: &Record, out: &mut Vec<u8>);
}

impl Rows {
    /// `records`, each shown as `writer` writes it; `turn` is held until the body is done.
    pub(crate) fn new(
        records: Vec<Record>,
        writer: impl RowWriter,
        turn: Option<OwnedSemaphorePermit>,
    ) -> Self {
        Rows(Arc::new(Mutex::new(Some(Page {
            records,
            writer: Box::new(writer),
            _turn: turn,
        }))))
    }

    /// The page, once.
    pub(crate) fn take(&self) -> Option<Page> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl IntoResponse for Rows {
    fn into_response(self) -> Response {
        let mut response = StatusCode::OK.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// The body of `page` in `format`: the envelope's head, the rows a chunk at a time, its tail.
pub(crate) fn body(page: Page, format: Format) -> Body {
    let chunks = futures_util::stream::unfold((page, 0usize), move |(page, next)| async move {
        let total = page.records.len();
        if next > total {
            return None;
        }
        let end = (next + CHUNK_ROWS).min(total);
        let rows = &page.records[next..end];
        let chunk = match format {
            Format::Json => {
                let mut out = Vec::new();
                if next == 0 {
                    out.extend_from_slice(br#"{"result":["#);
                }
                for (i, record) in rows.iter().enumerate() {
                    if next + i > 0 {
                        out.push(b',');
                    }
                    page.writer.write_json(record, &mut out);
                }
                if end == total {
                    out.extend_from_slice(b"]}");
                }
                Bytes::from(out)
            }
            _ => {
                let mut out = String::new();
                if next == 0 {
                    out.push_str(xml::DECLARATION);
                    out.push_str("<response>");
                }
                for record in rows {
                    xml::write_element(&mut out, "result", &page.writer.value(record));
                }
                if end == total {
                    out.push_str("</response>");
                }
                Bytes::from(out)
            }
        };
        Some((
            Ok::<_, Infallible>(chunk),
            (page, end.max(next) + usize::from(end == total)),
        ))
    });
    Body::from_stream(chunks)
}
