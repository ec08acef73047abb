//! The Table API (CONTRACT §6, §9): one record by sys_id, or a filtered, ordered page of a table, with
//! reference links, `X-Total-Count` and a `Link` header; writes of the interaction tables in [`write`].

mod links;
mod params;
mod view;
pub mod write;

use axum::Extension;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use openframe_core::query::TableQuery;
use openframe_core::schema::{self, Table};
use openframe_core::{Caller, SysId};
use serde_json::Value;

use crate::state::AppState;
use crate::wire::error::ApiError;
use crate::wire::render::Reply;
use crate::wire::rows::Rows;
use links::link_header;
pub(crate) use params::{Params, flag};
use view::View;

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
