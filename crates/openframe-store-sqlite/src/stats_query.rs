//! The Aggregate API ([`AggregateQuery`]) as one SQL statement: the Table API's `WHERE`
//! (`record_query::filter`) in a subquery that names the group keys, grouped, ordered and limited outside:
//!
//! ```sql
//! SELECT g0, …, count(*), <aggregates> FROM (SELECT <key 0> AS g0, …, <columns> FROM <table> WHERE <filter>)
//! GROUP BY g0, … ORDER BY <group order> LIMIT ?
//! ```
//!
//! As `openframe_core::stats` rules: keys and text extremes in the BINARY collation (byte-wise); a number
//! key without leading zeros, ordered by length then bytes; a number's extreme from its value padded to a
//! fixed width; sums split into millions and the rest, so that no sum of stored values (at most 12 digits)
//! overflows SQLite's 64 bits before trillions of records; empty values are `NULL` to the aggregates.

use std::fmt::Write as _;

use openframe_core::query::{Direction, compares_as_number};
use openframe_core::stats::{
    Aggregate, AggregateGroup, AggregateQuery, avg_text, number_text, sum_text,
};
use openframe_core::{Error, Result};
use rusqlite::{Connection, Row};

use crate::error::sqlite;
use crate::queries::quote;
use crate::record_query;

/// Wider than any stored whole number (12 digits at most), so that padded numbers compare as numbers.
const NUMBER_WIDTH: usize = 24;

/// The statement for `query` and the values it binds (the filter's, then the limit); `None` when its table
/// is not one the store keeps.
fn build(query: &AggregateQuery) -> Result<Option<(String, Vec<String>)>> {
    let Some(filter) = record_query::filter(&query.query)? else {
        return Ok(None);
    };
    let table = filter.table;
    let mut inner = Vec::new();
    for (at, name) in query.group_by.iter().enumerate() {
        let col = quote(name);
        let key = if query.numeric_key(at) {
            format!(
                "CASE WHEN {col} = '' THEN '' WHEN ltrim({col}, '0') = '' THEN '0' \
                 ELSE ltrim({col}, '0') END"
            )
        } else {
            format!("{col} COLLATE BINARY")
        };
        inner.push(format!("{key} AS g{at}"));
    }
    let mut columns: Vec<&str> = query.aggregates.iter().map(|(_, f)| *f).collect();
    columns.sort_unstable();
    columns.dedup();
    inner.extend(columns.iter().map(|c| quote(c)));
    if inner.is_empty() {
        inner.push("1".to_owned());
    }
    let mut outer: Vec<String> = (0..query.group_by.len())
        .map(|at| format!("g{at}"))
        .collect();
    outer.push("count(*)".to_owned());
    for &(aggregate, name) in &query.aggregates {
        let col = quote(name);
        let value = format!("NULLIF({col}, '')");
        match aggregate {
            Aggregate::Avg | Aggregate::Sum => {
                let n = format!("CAST({value} AS INTEGER)");
                outer.push(format!("sum({n} / 1000000)"));
                outer.push(format!("sum({n} % 1000000)"));
                outer.push(format!("count({value})"));
            }
            Aggregate::Min | Aggregate::Max => {
                let f = aggregate.name();
                if compares_as_number(table, name) {
                    let zeros = "0".repeat(NUMBER_WIDTH);
                    outer.push(format!(
                        "{f}(substr('{zeros}' || {value}, -{NUMBER_WIDTH}))"
                    ));
                } else {
                    outer.push(format!("{f}({value} COLLATE BINARY)"));
                }
            }
        }
    }
    let mut sql = format!(
        "SELECT {} FROM (SELECT {} FROM {}{})",
        outer.join(", "),
        inner.join(", "),
        table.name,
        filter.clause
    );
    if !query.group_by.is_empty() {
        let keys: Vec<String> = (0..query.group_by.len())
            .map(|at| format!("g{at}"))
            .collect();
        let _ = write!(sql, " GROUP BY {} ORDER BY ", keys.join(", "));
        let mut order = Vec::new();
        for (at, direction) in query.group_order() {
            let direction = match direction {
                Direction::Ascending => "ASC",
                Direction::Descending => "DESC",
            };
            if query.numeric_key(at) {
                order.push(format!("length(g{at}) {direction}"));
            }
            order.push(format!("g{at} {direction}"));
        }
        let _ = write!(
            sql,
            "{} LIMIT ?{}",
            order.join(", "),
            filter.values.len() + 1
        );
    }
    Ok(Some((sql, filter.values)))
}

/// The groups `query` asks for, read in the caller's (read) transaction.
pub(crate) fn aggregate_records(
    conn: &Connection,
    query: &AggregateQuery,
) -> Result<Vec<AggregateGroup>> {
    let Some((sql, values)) = build(query)? else {
        return Ok(query.run_in_memory(std::iter::empty()));
    };
    let limit = i64::try_from(query.max_groups).unwrap_or(i64::MAX);
    let mut params: Vec<&dyn rusqlite::ToSql> =
        values.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
    if !query.group_by.is_empty() {
        params.push(&limit);
    }
    let rows = conn
        .prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_map(params.as_slice(), |row| group(query, row))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(sqlite("aggregating records"))?;
    rows.into_iter().collect()
}

/// One row of the statement as a group.
fn group(query: &AggregateQuery, row: &Row<'_>) -> rusqlite::Result<Result<AggregateGroup>> {
    let keys = query.group_by.len();
    let key = (0..keys)
        .map(|i| row.get::<_, String>(i))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let count: i64 = row.get(keys)?;
    let mut at = keys + 1;
    let mut values = Vec::with_capacity(query.aggregates.len());
    for &(aggregate, _) in &query.aggregates {
        match aggregate {
            Aggregate::Avg | Aggregate::Sum => {
                let millions: Option<i64> = row.get(at)?;
                let rest: Option<i64> = row.get(at + 1)?;
                let n: i64 = row.get(at + 2)?;
                at += 3;
                let sum =
                    i128::from(millions.unwrap_or(0)) * 1_000_000 + i128::from(rest.unwrap_or(0));
                let n = u64::try_from(n).unwrap_or(0);
                values.push(if aggregate == Aggregate::Avg {
                    avg_text(sum, n)
                } else {
                    sum_text(sum, n)
                });
            }
            Aggregate::Min | Aggregate::Max => {
                let best: Option<String> = row.get(at)?;
                at += 1;
                let table = query.query.table;
                let name = query.aggregates[values.len()].1;
                values.push(match best {
                    Some(padded) if compares_as_number(table, name) => number_text(&padded),
                    other => other.unwrap_or_default(),
                });
            }
        }
    }
    Ok(u64::try_from(count)
        .map_err(|_| Error::internal(format!("a negative count ({count})")))
        .map(|count| AggregateGroup { key, count, values }))
}

#[cfg(test)]
mod tests {
    use openframe_core::schema::INTERACTION;

    use super::*;

    #[test]
    fn values_are_bound_and_names_come_from_the_schema() {
        let q = AggregateQuery::parse(
            &INTERACTION,
            Some("state=x'--^ORDERBYDESCduration"),
            Some("duration,state"),
            &[(Aggregate::Avg, "duration"), (Aggregate::Max, "state")],
        )
        .unwrap();
        let (sql, values) = build(&q).unwrap().unwrap();
        assert_eq!(values, ["x'--"]);
        assert!(
            sql.contains("WHERE \"state\" = ?1 COLLATE NOCASE)"),
            "{sql}"
        );
        assert!(
            sql.ends_with("GROUP BY g0, g1 ORDER BY length(g0) DESC, g0 DESC, g1 ASC LIMIT ?2"),
            "{sql}"
        );
    }
}
