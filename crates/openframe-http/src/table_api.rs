//! The read-only Table API subset (CONTRACT §6): one record by sys_id, or a filtered, ordered page of a table,
//! with reference links, `X-Total-Count` and a `Link` header.

use axum::Extension;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use openframe_core::query::{TableQuery, parse_field_list};
use openframe_core::schema::{self, FieldKind, Table};
use openframe_core::{Caller, Record, SysId};
use serde_json::{Map, Value, json};

use crate::state::AppState;
use crate::wire::error::ApiError;
use crate::wire::form::{self, FormError};
use crate::wire::render::Reply;
use crate::wire::rows::Rows;

/// `GET /api/now/table/{table}`; `javascript:gs.getUserID()` as an operand means the caller.
pub async fn list(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(table): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    OriginalUri(original): OriginalUri,
    uri: Uri,
) -> Result<Response, ApiError> {
    let table = readable_table(&table)?;
    let params = Params::parse(raw.as_deref())?;
    let mut query = TableQuery::parse(
        table,
        params.get("sysparm_query"),
        params.get("sysparm_limit"),
        params.get("sysparm_offset"),
    )?;
    query.resolve_caller(&caller.sys_id);
    query.count = !flag(&params, "sysparm_no_count")?;
    let view = View::parse(table, &params, &base_url(&headers, &original, &uri))?;
    // A large page waits for its turn among the few written at once, and keeps it while it is sent.
    let turn = if query.limit > LARGE_PAGE_ROWS {
        Some(app.large_page_turn().await?)
    } else {
        None
    };
    let page = app.service.repository().query_records(&query).await?;
    // Without a count, a full page may have a next one, and where the last starts is unknown.
    let total = query.count.then_some(page.total);
    let more = page.records.len() >= query.limit;
    let link = (!flag(&params, "sysparm_suppress_pagination_header")?)
        .then(|| link_header(&view.base, table, &params, &query, total, more))
        .flatten();
    let mut response = if turn.is_some() {
        Rows::new(page.records, move |record| view.render(record), turn).into_response()
    } else {
        let rows = page.records.iter().map(|r| view.render(r)).collect();
        Reply(Value::Array(rows)).into_response()
    };
    let out = response.headers_mut();
    if let Some(total) = total {
        out.insert("x-total-count", HeaderValue::from(total));
    }
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        out.insert(header::LINK, link);
    }
    Ok(response)
}

/// A query for more rows than this is a large page: it waits for a turn (`AppState::large_page_turn`) and is
/// written as it is sent (`wire/rows.rs`).
pub(crate) const LARGE_PAGE_ROWS: usize = 500;

/// `GET /api/now/table/{table}/{sys_id}`
pub async fn read(
    State(app): State<AppState>,
    Path((table, sys_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    OriginalUri(original): OriginalUri,
    uri: Uri,
) -> Result<Reply, ApiError> {
    let table = readable_table(&table)?;
    let params = Params::parse(raw.as_deref())?;
    let view = View::parse(table, &params, &base_url(&headers, &original, &uri))?;
    let not_found = || openframe_core::Error::NotFound { what: "record" };
    // As on the platform, a value that is no sys_id names no record: a 404, not a 400 (the openframe
    // endpoints keep their 400 for a malformed sysId).
    let sys_id = SysId::parse(&sys_id).map_err(|_| not_found())?;
    let record = app
        .service
        .repository()
        .read_record(table, &sys_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Reply(view.render(&record)))
}

fn readable_table(name: &str) -> Result<&'static Table, ApiError> {
    schema::table(name).ok_or_else(|| {
        ApiError::with_message(
            axum::http::StatusCode::BAD_REQUEST,
            format!("Invalid table {name}"),
            format!(
                "table: readable tables are {}",
                schema::TABLES
                    .iter()
                    .map(|t| t.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

/// The query string's parameters, decoded; the first of a repeated name wins.
pub(crate) struct Params(Vec<(String, String)>);

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
fn encode(s: &str) -> String {
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

/// How records are shown: which fields, whether references are links, and the base URL of links.
struct View {
    fields: Vec<&'static str>,
    links: bool,
    base: String,
}

impl View {
    fn parse(table: &'static Table, params: &Params, base: &str) -> Result<Self, ApiError> {
        let fields = match params.get("sysparm_fields") {
            Some(list) => parse_field_list(table, list)?,
            None => Vec::new(),
        };
        let links = match params
            .get("sysparm_exclude_reference_link")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("false") | Some("") => true,
            Some("true") => false,
            Some(_) => {
                return Err(ApiError::invalid(
                    "sysparm_exclude_reference_link",
                    "must be true or false",
                ));
            }
        };
        Ok(View {
            fields,
            links,
            base: base.to_owned(),
        })
    }

    fn render(&self, record: &Record) -> Value {
        let table = record.table();
        let mut out = Map::new();
        let mut put = |name: &'static str, value: &str| {
            let kind = table.field(name).map(|(_, f)| f.kind);
            let v = match kind {
                Some(FieldKind::Reference(target)) if self.links && !value.is_empty() => json!({
                    "link": format!("{}/api/now/table/{target}/{value}", self.base),
                    "value": value,
                }),
                _ => Value::String(value.to_owned()),
            };
            out.insert(name.to_owned(), v);
        };
        if self.fields.is_empty() {
            for (name, value) in record.iter() {
                put(name, value);
            }
        } else {
            for name in &self.fields {
                put(name, record.get(name));
            }
        }
        Value::Object(out)
    }
}

/// `scheme://host` of the request, and the prefix a host program nested the router under, as links must point
/// back at this router (or the proxy in front of it): `original` is the path the client sent, `uri` what is
/// left of it under the prefix.
fn base_url(headers: &HeaderMap, original: &Uri, uri: &Uri) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    let prefix = original.path().strip_suffix(uri.path()).unwrap_or_default();
    format!("{scheme}://{host}{prefix}")
}

/// The longest `Link` header written: proxies and HTTP clients refuse longer header lines (nginx's default
/// buffers are 4-8 KiB; Python's http.client stops at 64 KiB).
pub(crate) const MAX_LINK_BYTES: usize = 8 * 1024;

/// A `true`/`false` parameter (default false; empty is false, as the platform reads it).
fn flag(params: &Params, name: &str) -> Result<bool, ApiError> {
    match params.get(name).map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::invalid(name, "must be true or false")),
    }
}

/// The `Link` header: first, prev (when there is one), next (when there is one), last (when the total is
/// known; without it, a full page is taken to have a next); each repeats the query. Kept under [`MAX_LINK_BYTES`] by leaving out prev, then first, then last, and at worst next too
/// (`None`: no header).
fn link_header(
    base: &str,
    table: &Table,
    params: &Params,
    query: &TableQuery,
    total: Option<u64>,
    page_is_full: bool,
) -> Option<String> {
    let limit = query.limit;
    let url = |offset: usize| {
        let mut q: Vec<String> = params
            .0
            .iter()
            .filter(|(k, _)| k != "sysparm_offset" && k != "sysparm_limit")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        q.push(format!("sysparm_limit={limit}"));
        q.push(format!("sysparm_offset={offset}"));
        format!("<{base}/api/now/table/{}?{}>", table.name, q.join("&"))
    };
    let total = total.map(|t| usize::try_from(t).unwrap_or(usize::MAX));
    // The last page's offset, when the total is known.
    let last = total.map(|total| {
        if total == 0 {
            0
        } else {
            (total - 1) / limit * limit
        }
    });
    let prev = (query.offset > 0).then(|| query.offset.saturating_sub(limit));
    let has_next = match total {
        Some(total) => query.offset + limit < total,
        None => page_is_full,
    };
    let next = has_next.then_some(query.offset + limit);
    // In header order, each with its rank to stay: prev goes first, then first, then last; next last of all.
    let mut kept: Vec<(String, u8)> = [
        ("first", Some(0), 1),
        ("prev", prev, 0),
        ("next", next, 3),
        ("last", last, 2),
    ]
    .into_iter()
    .filter_map(|(rel, offset, rank)| offset.map(|o| (format!("{};rel=\"{rel}\"", url(o)), rank)))
    .collect();
    let length = |kept: &[(String, u8)]| kept.iter().map(|(l, _)| l.len() + 1).sum::<usize>();
    while length(&kept) > MAX_LINK_BYTES + 1 {
        let drop = kept
            .iter()
            .enumerate()
            .min_by_key(|(_, (_, rank))| *rank)
            .map(|(i, _)| i)?;
        kept.remove(drop);
    }
    if kept.is_empty() {
        return None;
    }
    Some(
        kept.into_iter()
            .map(|(link, _)| link)
            .collect::<Vec<_>>()
            .join(","),
    )
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

    #[test]
    fn links_page_through_the_total() {
        let params = Params(vec![("sysparm_query".into(), "state=new".into())]);
        let mut q = TableQuery::all(&schema::INTERACTION);
        q.limit = 10;
        q.offset = 10;
        let link = link_header(
            "http://h",
            &schema::INTERACTION,
            &params,
            &q,
            Some(25),
            true,
        )
        .unwrap();
        assert!(link.contains("sysparm_offset=0>;rel=\"first\""), "{link}");
        assert!(link.contains("sysparm_offset=0>;rel=\"prev\""), "{link}");
        assert!(link.contains("sysparm_offset=20>;rel=\"next\""), "{link}");
        assert!(link.contains("sysparm_offset=20>;rel=\"last\""), "{link}");
        assert!(link.contains("sysparm_query=state%3Dnew"), "{link}");
        q.offset = 20;
        let link = link_header(
            "http://h",
            &schema::INTERACTION,
            &params,
            &q,
            Some(25),
            true,
        )
        .unwrap();
        assert!(!link.contains("rel=\"next\""), "{link}");
    }

    #[test]
    fn links_stay_under_the_bound_dropping_the_least_needed_first() {
        let mut q = TableQuery::all(&schema::INTERACTION);
        q.limit = 10;
        q.offset = 10;
        let rels = |query_len: usize| {
            let params = Params(vec![("sysparm_query".into(), "a".repeat(query_len))]);
            link_header(
                "http://h",
                &schema::INTERACTION,
                &params,
                &q,
                Some(25),
                true,
            )
            .map(|link| {
                assert!(link.len() <= MAX_LINK_BYTES, "{}", link.len());
                link.split(',')
                    .map(|l| {
                        l.rsplit_once("rel=")
                            .unwrap()
                            .1
                            .trim_matches('"')
                            .to_owned()
                    })
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(rels(100).unwrap(), ["first", "prev", "next", "last"]);
        assert_eq!(rels(2_500).unwrap(), ["first", "next", "last"]);
        assert_eq!(rels(3_000).unwrap(), ["next", "last"]);
        assert_eq!(rels(5_000).unwrap(), ["next"]);
        assert_eq!(rels(9_000), None);
    }
}
