//! The Aggregate API (`GET /api/now/stats/{table}`, also under `/api/now/v1/`): a count and averages, sums,
//! minima and maxima of the records a Table API query selects, whole or per group, computed by the store
//! (`Repository::aggregate_records`). The rules are core's (`openframe_core::stats`); this module reads the
//! parameters and writes the platform's response shape (`render.rs`).

mod render;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use openframe_core::Caller;
use openframe_core::display::{DisplayMode, ReferenceNames};
use openframe_core::query::MAX_LIMIT;
use openframe_core::stats::{Aggregate, AggregateQuery};

use crate::state::AppState;
use crate::table_api::{Params, flag, stored_table};
use crate::wire::error::ApiError;
use crate::wire::render::Reply;
use render::{key_records, render};

/// The prefixes the Aggregate API is mounted under.
pub const STATS_PREFIXES: [&str; 2] = ["/api/now/stats", "/api/now/v1/stats"];

/// Most groups one answer holds: the Table API's largest page. A request that makes more is refused (400
/// naming `sysparm_group_by`) rather than cut short, so an answer is never silently partial.
pub const MAX_GROUPS: usize = MAX_LIMIT;

/// Parameters of the platform's Aggregate API this one refuses (400) rather than ignores, as ignoring them
/// would answer a different question than the one asked.
const REFUSED: [(&str, &str); 2] = [
    (
        "sysparm_having",
        "is not supported; filter records with sysparm_query",
    ),
    (
        "sysparm_order_by",
        "is not supported; order groups with ORDERBY or ORDERBYDESC on a group-by field in sysparm_query",
    ),
];

/// `GET /api/now/stats/{table}`; `javascript:gs.getUserID()` as an operand means the caller.
pub async fn stats(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(table): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Reply, ApiError> {
    let table = stored_table(&table)?;
    let params = Params::parse(raw.as_deref())?;
    for (name, rule) in REFUSED {
        if params.get(name).is_some_and(|v| !v.is_empty()) {
            return Err(ApiError::invalid(name, rule));
        }
    }
    let count = flag(&params, "sysparm_count")?;
    let display = DisplayMode::parse(params.get("sysparm_display_value"))?;
    let lists: Vec<(Aggregate, &str)> = Aggregate::ALL
        .iter()
        .filter_map(|&a| params.get(a.param()).map(|list| (a, list)))
        .collect();
    let mut query = AggregateQuery::parse(
        table,
        params.get("sysparm_query"),
        params.get("sysparm_group_by"),
        &lists,
    )?;
    query.query.resolve_caller(&caller.sys_id);
    // One more than allowed, to tell "exactly the most" from "too many".
    query.max_groups = MAX_GROUPS + 1;
    let repo = app.service.repository().as_ref();
    let groups = repo.aggregate_records(&query).await?;
    within_bound(groups.len())?;
    let names = if display == DisplayMode::Value {
        ReferenceNames::default()
    } else {
        ReferenceNames::look_up(repo, &key_records(&query, &groups), &query.group_by).await?
    };
    Ok(Reply(render(&query, &groups, count, display, &names)))
}

/// A 400 naming `sysparm_group_by` when a request made more than [`MAX_GROUPS`] groups.
fn within_bound(groups: usize) -> Result<(), ApiError> {
    if groups > MAX_GROUPS {
        return Err(ApiError::invalid(
            "sysparm_group_by",
            format!(
                "makes more than {MAX_GROUPS} groups; narrow sysparm_query or group by fewer fields"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    #[test]
    fn more_groups_than_the_bound_are_refused() {
        assert!(within_bound(MAX_GROUPS).is_ok());
        let refused = within_bound(MAX_GROUPS + 1).unwrap_err().into_response();
        assert_eq!(refused.status(), axum::http::StatusCode::BAD_REQUEST);
    }
}
