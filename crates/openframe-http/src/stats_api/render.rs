//! The Aggregate API's response, in the platform's shape: without group-by
//! `{"stats": {"count": "3", "avg": {"duration": "1.5000"}, …}}`, with it a list of
//! `{"stats": {…}, "groupby_fields": [{"field": "state", "value": "new"}, …]}`. Numbers are strings, as
//! on the platform.

use openframe_core::schema::Table;
use openframe_core::stats::{Aggregate, AggregateGroup, AggregateQuery};
use serde_json::{Map, Value, json};

use crate::wire::error::ApiError;

/// `sysparm_display_value`: how a group-by value is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DisplayValue {
    /// `false` (the default): the stored value, as `value`.
    Stored,
    /// `true`: the display value, as `value`.
    Display,
    /// `all`: both, as `value` and `display_value`.
    Both,
}

impl DisplayValue {
    pub(crate) fn parse(param: Option<&str>) -> Result<Self, ApiError> {
        match param.map(str::to_ascii_lowercase).as_deref() {
            None | Some("" | "false") => Ok(DisplayValue::Stored),
            Some("true") => Ok(DisplayValue::Display),
            Some("all") => Ok(DisplayValue::Both),
            Some(_) => Err(ApiError::invalid(
                "sysparm_display_value",
                "must be true, false or all",
            )),
        }
    }
}

/// The display value of `value` of `field`: for now the value itself.
fn display_value(_table: &Table, _field: &str, value: &str) -> String {
    value.to_owned()
}

/// One `groupby_fields` entry.
fn group_value(table: &Table, field: &str, value: &str, display: DisplayValue) -> Value {
    match display {
        DisplayValue::Stored => json!({"field": field, "value": value}),
        DisplayValue::Display => {
            json!({"field": field, "value": display_value(table, field, value)})
        }
        DisplayValue::Both => json!({
            "field": field,
            "value": value,
            "display_value": display_value(table, field, value),
        }),
    }
}

/// One group's `stats` object: the count when asked for, then each function's fields.
fn stats(query: &AggregateQuery, group: &AggregateGroup, count: bool) -> Value {
    let mut out = Map::new();
    if count {
        out.insert("count".to_owned(), Value::String(group.count.to_string()));
    }
    for function in Aggregate::ALL {
        let mut fields = Map::new();
        for ((aggregate, field), value) in query.aggregates.iter().zip(&group.values) {
            if *aggregate == function {
                fields.insert((*field).to_owned(), Value::String(value.clone()));
            }
        }
        if !fields.is_empty() {
            out.insert(function.name().to_owned(), Value::Object(fields));
        }
    }
    Value::Object(out)
}

/// The `result` of the response.
pub(crate) fn render(
    query: &AggregateQuery,
    groups: &[AggregateGroup],
    count: bool,
    display: DisplayValue,
) -> Value {
    if query.group_by.is_empty() {
        let stats = groups
            .first()
            .map_or_else(|| json!({}), |g| stats(query, g, count));
        return json!({ "stats": stats });
    }
    let table = query.query.table;
    let rows = groups
        .iter()
        .map(|g| {
            let fields: Vec<Value> = query
                .group_by
                .iter()
                .zip(&g.key)
                .map(|(field, value)| group_value(table, field, value, display))
                .collect();
            json!({"stats": stats(query, g, count), "groupby_fields": fields})
        })
        .collect();
    Value::Array(rows)
}
