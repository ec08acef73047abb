//! Table API writes (CONTRACT §9) on `interaction`, `sn_openframe_phone_log` and
//! `interaction_related_record`: `POST` creates (201), `PUT`/`PATCH` update (200), both answering with the
//! record as a read of it with the same parameters shows it; `DELETE` (204) is for `admin` only. The field
//! rules are core's (`openframe_core::table_write`); the provider-application table stays read-only (405).

use axum::Extension;
use axum::extract::{Path, RawPathParams, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openframe_core::schema::{self, Table};
use openframe_core::table_write::{TableWrite, is_writable_table};
use openframe_core::{Caller, Mode, Record, SysId};

use super::{BaseUrl, Params, View, flag, readable_table};
use crate::state::AppState;
use crate::wire::body::read_body;
use crate::wire::error::ApiError;
use crate::wire::render::Reply;

/// The role a Table API delete needs.
const DELETE_ROLE: &str = "admin";

/// `POST /api/now/table/{table}`
pub async fn create(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(table): Path<String>,
    RawQuery(raw): RawQuery,
    BaseUrl(base): BaseUrl,
    request: Request,
) -> Result<Response, ApiError> {
    let table = match writable_table(&table) {
        Ok(table) => table,
        Err(refused) => return Ok(*refused),
    };
    let view = view_of(table, raw.as_deref(), &base)?;
    let write = read_write(&app, table, request, Mode::Create).await?;
    let record = app.service.table_create(&caller, write).await?;
    let shown = shown(&app, &view, &record).await?;
    Ok((StatusCode::CREATED, Reply(shown)).into_response())
}

/// `PUT` and `PATCH /api/now/table/{table}/{sys_id}`: both change only the fields the body names.
pub async fn update(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((table, sys_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    BaseUrl(base): BaseUrl,
    request: Request,
) -> Result<Response, ApiError> {
    let table = match writable_table(&table) {
        Ok(table) => table,
        Err(refused) => return Ok(*refused),
    };
    let view = view_of(table, raw.as_deref(), &base)?;
    let sys_id = record_id(&sys_id)?;
    let write = read_write(&app, table, request, Mode::Update).await?;
    let record: Record = app.service.table_update(&caller, &sys_id, write).await?;
    Ok(Reply(shown(&app, &view, &record).await?).into_response())
}

/// `DELETE /api/now/table/{table}/{sys_id}`: 204 with no body; `admin` only.
pub async fn delete(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((table, sys_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let table = match writable_table(&table) {
        Ok(table) => table,
        Err(refused) => return Ok(*refused),
    };
    // Roles are the store's: the caller's user is read again, so a role taken away counts at once.
    let is_admin = app
        .service
        .repository()
        .find_user(&caller.user_name)
        .await?
        .is_some_and(|user| user.roles.iter().any(|r| r == DELETE_ROLE));
    if !is_admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "User Not Authorized",
            format!("deleting a record needs the role {DELETE_ROLE}"),
        ));
    }
    let sys_id = record_id(&sys_id)?;
    app.service.table_delete(&caller, table, &sys_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The table a write names, or the answer refusing it: a 400 for an unknown table, as a read answers, and a
/// 405 for the read-only provider-application table, with the `Allow` header of its read routes.
fn writable_table(name: &str) -> Result<&'static Table, Box<Response>> {
    let table = readable_table(name).map_err(|e| Box::new(e.into_response()))?;
    if is_writable_table(table) {
        return Ok(table);
    }
    Err(Box::new(refusal(READ_ONLY_METHODS)))
}

/// What the read-only table allows: its `Allow` header and 405 detail.
const READ_ONLY_METHODS: &str = "GET,HEAD";

/// The answer of a Table API path to a method it does not have: a 405 whose `Allow` (and detail) lists
/// `methods`, the path's methods, or only the reads for the read-only table. The header is set here, so
/// axum keeps it rather than adding the route's own.
pub(crate) fn not_allowed(
    methods: &'static str,
) -> impl Fn(RawPathParams) -> std::future::Ready<Response> + Clone {
    move |params: RawPathParams| {
        let read_only = params
            .iter()
            .find(|(name, _)| *name == "table")
            .and_then(|(_, table)| schema::readable_table(table))
            .is_some_and(|table| !is_writable_table(table));
        let allowed = if read_only {
            READ_ONLY_METHODS
        } else {
            methods
        };
        std::future::ready(refusal(allowed))
    }
}

/// A 405 listing `allowed` in its detail and its `Allow` header.
fn refusal(allowed: &'static str) -> Response {
    let mut refused = ApiError::method_not_allowed(allowed).into_response();
    refused
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allowed));
    refused
}

/// How the answer shows the record: the read parameters of the request, checked before the body is read.
/// `sysparm_input_display_value` must be `true` or `false`; references are resolved by display value
/// either way (core's `Service::resolve_references`).
fn view_of(table: &'static Table, raw: Option<&str>, base: &str) -> Result<View, ApiError> {
    let params = Params::parse(raw)?;
    flag(&params, "sysparm_input_display_value")?;
    View::parse(table, &params, base)
}

/// The request's body, read and parsed as a write of `table`.
async fn read_write(
    app: &AppState,
    table: &'static Table,
    request: Request,
    mode: Mode,
) -> Result<TableWrite, ApiError> {
    let (parts, body) = request.into_parts();
    let body = read_body(&parts.headers, body, app.body_read_timeout).await?;
    Ok(TableWrite::parse(table, &body, mode)?)
}

/// `record` as a read with the request's parameters shows it, display values included.
async fn shown(
    app: &AppState,
    view: &View,
    record: &Record,
) -> Result<serde_json::Value, ApiError> {
    let repo = app.service.repository().as_ref();
    let names = view.referenced(repo, std::slice::from_ref(record)).await?;
    Ok(view.render(record, &names))
}

/// The sys_id in a write's path: a value that is no sys_id names no record, a 404 as reads answer.
fn record_id(raw: &str) -> Result<SysId, ApiError> {
    SysId::parse(raw).map_err(|_| openframe_core::Error::NotFound { what: "record" }.into())
}
