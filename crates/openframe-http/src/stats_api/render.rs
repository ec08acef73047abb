//! The Aggregate API's response, in the platform's shape: without group-by
//! `{"stats": {"count": "3", "avg": {"duration": "1.5000"}, …}}`, with it a list of
//! `{"stats": {…}, "groupby_fields": [{"field": "state", "value": "new"}, …]}`. Numbers are strings, as
//! on the platform.

use openframe_core::Record;
use openframe_core::display::{DisplayMode, ReferenceNames};
use openframe_core::stats::{Aggregate, AggregateGroup, AggregateQuery};
use serde_json::{Map, Value, json};

/// One `groupby_fields` entry; `shown` is the value's display value.
fn group_value(field: &str, value: &str, shown: &str, display: DisplayMode) -> Value {
    match display {
        DisplayMode::Value => json!({"field": field, "value": value}),
        DisplayMode::Display => json!({"field": field, "value": shown}),
        DisplayMode::All => json!({"field": field, "value": value, "display_value": shown}),
    }
}

/// Each group's key as a record of the table (the group-by fields set), so that display values are looked
/// up as for a page of records: one query per referenced table.
pub(crate) fn key_records(query: &AggregateQuery, groups: &[AggregateGroup]) -> Vec<Record> {
    groups
        .iter()
        .map(|g| {
            let mut record = Record::new(query.query.table);
            for (field, value) in query.group_by.iter().zip(&g.key) {
                record.set(field, value.as_str());
            }
            record
        })
        .collect()
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
    display: DisplayMode,
    names: &ReferenceNames,
) -> Value {
    if query.group_by.is_empty() {
        let stats = groups
            .first()
            .map_or_else(|| json!({}), |g| stats(query, g, count));
        return json!({ "stats": stats });
    }
    let keys = key_records(query, groups);
    let rows = groups
        .iter()
        .zip(&keys)
        .map(|(g, key)| {
            let fields: Vec<Value> = query
                .group_by
                .iter()
                .zip(&g.key)
                .map(|(field, value)| {
                    group_value(field, value, &names.display(key, field), display)
                })
                .collect();
            json!({"stats": stats(query, g, count), "groupby_fields": fields})
        })
        .collect();
    Value::Array(rows)
}
