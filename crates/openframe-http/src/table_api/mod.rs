//! The Table API (CONTRACT §6, §9): one record by sys_id, or a filtered, ordered page of a table, with
//! reference links, `X-Total-Count` and a `Link` header; writes of the interaction tables in [`write`].

mod links;
mod params;
mod users;
mod view;
pub mod write;

use axum::Extension;
use axum::extract::{FromRequestParts, OriginalUri, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use openframe_core::dot_walk;
use openframe_core::query::TableQuery;
use openframe_core::schema::{self, Table};
use openframe_core::{Caller, SysId};

use crate::auth::ServedOverTls;
use crate::state::AppState;
use crate::wire::error::ApiError;
use crate::wire::render::Reply;
use crate::wire::rows::Rows;
use links::link_header;
pub(crate) use params::{Params, flag};
use view::{PageRows, View};

/// `GET /api/now/table/{table}`; `javascript:gs.getUserID()` as an operand means the caller.
pub async fn list(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(table): Path<String>,
    RawQuery(raw): RawQuery,
    BaseUrl(base): BaseUrl,
) -> Result<Response, ApiError> {
    let table = readable_table(&table)?;
    let params = Params::parse(raw.as_deref())?;
    let repo = app.service.repository().as_ref();
    let resolved = match params.get("sysparm_query") {
        Some(query) => Some(dot_walk::resolve(repo, table, query).await?),
        None => None,
    };
    let mut query = TableQuery::parse(
        table,
        resolved.as_ref().map(|r| r.query.as_ref()),
        params.get("sysparm_limit"),
        params.get("sysparm_offset"),
    )?;
    query.resolve_caller(&caller.sys_id);
    query.count = !flag(&params, "sysparm_no_count")?;
    let view = View::parse(table, &params, &base)?;
    // A large page waits for its turn among the few written at once, and keeps it while it is sent.
    let turn = if query.limit > LARGE_PAGE_ROWS {
        Some(app.large_page_turn().await?)
    } else {
        None
    };
    let walked_order = resolved.map(|r| r.order).unwrap_or_default();
    let page = if std::ptr::eq(table, &schema::SYS_USER) {
        query.run_in_memory(&openframe_core::user::all_user_records(repo).await?)
    } else if !walked_order.is_empty() {
        dot_walk::page_ordered(repo, &query, &walked_order).await?
    } else {
        repo.query_records(&query).await?
    };
    let names = view.referenced(repo, &page.records).await?;
    // Without a count, a full page may have a next one, and where the last starts is unknown.
    let total = query.count.then_some(page.total);
    let more = page.records.len() >= query.limit;
    let link = (!flag(&params, "sysparm_suppress_pagination_header")?)
        .then(|| link_header(&view.base, table, &params, &query, total, more))
        .flatten();
    // Every page is written row by row as it is sent (a large one keeping its turn until done).
    let mut response = Rows::new(
        page.records,
        PageRows {
            view,
            referenced: names,
        },
        turn,
    )
    .into_response();
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
    BaseUrl(base): BaseUrl,
) -> Result<Reply, ApiError> {
    let table = readable_table(&table)?;
    let params = Params::parse(raw.as_deref())?;
    let view = View::parse(table, &params, &base)?;
    let not_found = || openframe_core::Error::NotFound { what: "record" };
    // As on the platform, a value that is no sys_id names no record: a 404, not a 400 (the openframe
    // endpoints keep their 400 for a malformed sysId).
    let sys_id = SysId::parse(&sys_id).map_err(|_| not_found())?;
    let repo = app.service.repository().as_ref();
    let record = if std::ptr::eq(table, &schema::SYS_USER) {
        users::read_user(repo, &sys_id).await?
    } else {
        repo.read_record(table, &sys_id).await?
    }
    .ok_or_else(not_found)?;
    let names = view.referenced(repo, std::slice::from_ref(&record)).await?;
    Ok(Reply(view.render(&record, &names)))
}

/// The stored tables and `sys_user`.
fn readable_table(name: &str) -> Result<&'static Table, ApiError> {
    let tables = || schema::TABLES.iter().copied().chain([&schema::SYS_USER]);
    schema::readable_table(name).ok_or_else(|| invalid_table(name, tables()))
}

/// The four stored tables (what the Aggregate API counts).
pub(crate) fn stored_table(name: &str) -> Result<&'static Table, ApiError> {
    schema::table(name).ok_or_else(|| invalid_table(name, schema::TABLES.iter().copied()))
}

/// `Invalid table <name>`, listing the tables there are.
fn invalid_table<'a>(name: &str, tables: impl Iterator<Item = &'a Table>) -> ApiError {
    ApiError::with_message(
        axum::http::StatusCode::BAD_REQUEST,
        format!("Invalid table {name}"),
        format!(
            "table: readable tables are {}",
            tables.map(|t| t.name).collect::<Vec<_>>().join(", ")
        ),
    )
}

/// `scheme://host` of the request, and the prefix a host program nested the router under, as links must point
/// back at this router (or the proxy in front of it). The scheme is `https` on a connection the host marked
/// [`ServedOverTls`], for an HTTP/2 request that says so, or behind a proxy that sends
/// `X-Forwarded-Proto: https`; the host is the `Host` header, else HTTP/2's authority.
pub(crate) struct BaseUrl(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for BaseUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // `original` is the path the client sent, `parts.uri` what is left of it under the prefix.
        let original = parts
            .extensions
            .get::<OriginalUri>()
            .map_or(&parts.uri, |o| &o.0);
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| original.authority().map(|a| a.as_str()))
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or("localhost");
        let forwarded = parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok());
        let https = parts.extensions.get::<ServedOverTls>().is_some()
            || original.scheme_str() == Some("https")
            || forwarded == Some("https");
        let scheme = if https { "https" } else { "http" };
        let prefix = original
            .path()
            .strip_suffix(parts.uri.path())
            .unwrap_or_default();
        Ok(BaseUrl(format!("{scheme}://{host}{prefix}")))
    }
}
