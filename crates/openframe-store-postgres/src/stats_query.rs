//! The Aggregate API ([`AggregateQuery`]) as one SQL statement: the Table API's filter
//! (`table_query::filter_sql`) in a subquery that names the group keys, grouped, ordered and limited outside:
//!
//! ```sql
//! SELECT g0, …, count(*), <aggregates>
//! FROM (SELECT <key 0> AS g0, …, <columns> FROM <table> WHERE <filter>) AS t
//! GROUP BY g0, … ORDER BY <group order> LIMIT $n
//! ```
//!
//! As `openframe_core::stats` rules: keys and text extremes in the `"C"` collation (byte-wise); a number key
//! without leading zeros, ordered by length then bytes; a number's extreme from its value padded to a fixed
//! width; sums of `bigint`s, which PostgreSQL adds as exact `numeric`s; empty values are `NULL` to the
//! aggregates. Only schema names and `$n` placeholders enter the text.

use openframe_core::query::{Direction, compares_as_number};
use openframe_core::stats::{
    Aggregate, AggregateGroup, AggregateQuery, avg_text, number_text, sum_text,
};
use openframe_core::{Error, Result};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgPool, Row};

use crate::error::db_error;
use crate::table_query::{filter_sql, known_table};

/// Wider than any stored whole number (12 digits at most), so that padded numbers compare as numbers.
const NUMBER_WIDTH: usize = 24;

/// The statement for `query` and its text binds (the limit, when grouped, is bound after them).
fn build(query: &AggregateQuery) -> Result<(String, Vec<String>)> {
    let table = known_table(query.query.table)?;
    let mut values = Vec::new();
    let filter = filter_sql(table, &query.query, &mut values)?;
    let column = |name: &str| -> Result<&'static str> {
        table
            .field(name)
            .map(|(_, def)| def.name)
            .ok_or_else(|| Error::internal(format!("table {} has no field {name:?}", table.name)))
    };
    let mut inner = Vec::new();
    for (at, name) in query.group_by.iter().enumerate() {
        let col = column(name)?;
        let key = if query.numeric_key(at) {
            format!(
                "CASE WHEN {col} = '' THEN '' WHEN ltrim({col}, '0') = '' THEN '0' \
                 ELSE ltrim({col}, '0') END"
            )
        } else {
            format!("{col} COLLATE \"C\"")
        };
        inner.push(format!("{key} AS g{at}"));
    }
    let mut columns = Vec::new();
    for (_, name) in &query.aggregates {
        let col = column(name)?;
        if !columns.contains(&col) {
            columns.push(col);
        }
    }
    inner.extend(columns.iter().map(|c| (*c).to_owned()));
    if inner.is_empty() {
        inner.push("1 AS one".to_owned());
    }
    let mut outer: Vec<String> = (0..query.group_by.len())
        .map(|at| format!("g{at}"))
        .collect();
    outer.push("count(*)".to_owned());
    for &(aggregate, name) in &query.aggregates {
        let col = column(name)?;
        let value = format!("NULLIF({col}, '')");
        match aggregate {
            Aggregate::Avg | Aggregate::Sum => {
                outer.push(format!("sum(CAST({value} AS bigint))::text"));
                outer.push(format!("count({value})"));
            }
            Aggregate::Min | Aggregate::Max => {
                let f = aggregate.name();
                if compares_as_number(table, name) {
                    outer.push(format!(
                        "{f}(lpad({value}, {NUMBER_WIDTH}, '0') COLLATE \"C\")"
                    ));
                } else {
                    outer.push(format!("{f}({value} COLLATE \"C\")"));
                }
            }
        }
    }
    let mut sql = format!(
        "SELECT {} FROM (SELECT {} FROM {} WHERE {filter}) AS t",
        outer.join(", "),
        inner.join(", "),
        table.name,
    );
    if !query.group_by.is_empty() {
        let keys: Vec<String> = (0..query.group_by.len())
            .map(|at| format!("g{at}"))
            .collect();
        let mut order = Vec::new();
        for (at, direction) in query.group_order() {
            let direction = match direction {
                Direction::Ascending => "ASC",
                Direction::Descending => "DESC",
            };
            if query.numeric_key(at) {
                order.push(format!("length(g{at}) {direction}"));
            }
            order.push(format!("g{at} COLLATE \"C\" {direction}"));
        }
        sql.push_str(&format!(
            " GROUP BY {} ORDER BY {} LIMIT ${}",
            keys.join(", "),
            order.join(", "),
            values.len() + 1
        ));
    }
    Ok((sql, values))
}

/// The groups `query` asks for, from one statement (one snapshot).
pub(crate) async fn aggregate_records(
    pool: &PgPool,
    query: &AggregateQuery,
) -> Result<Vec<AggregateGroup>> {
    let (sql, values) = build(query)?;
    let mut statement = sqlx::query(AssertSqlSafe(sql.as_str()));
    for value in &values {
        statement = statement.bind(value.as_str());
    }
    if !query.group_by.is_empty() {
        statement = statement.bind(i64::try_from(query.max_groups).unwrap_or(i64::MAX));
    }
    let rows = statement
        .fetch_all(pool)
        .await
        .map_err(db_error(format!("aggregating {}", query.query.table.name)))?;
    rows.iter().map(|row| group(query, row)).collect()
}

/// One row of the statement as a group.
fn group(query: &AggregateQuery, row: &PgRow) -> Result<AggregateGroup> {
    let bad_row = |e: sqlx::Error| Error::internal(format!("an aggregate row: {e}"));
    let keys = query.group_by.len();
    let key = (0..keys)
        .map(|i| row.try_get::<String, _>(i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad_row)?;
    let count: i64 = row.try_get(keys).map_err(bad_row)?;
    let mut at = keys + 1;
    let mut values = Vec::with_capacity(query.aggregates.len());
    for &(aggregate, name) in &query.aggregates {
        match aggregate {
            Aggregate::Avg | Aggregate::Sum => {
                let sum: Option<String> = row.try_get(at).map_err(bad_row)?;
                let n: i64 = row.try_get(at + 1).map_err(bad_row)?;
                at += 2;
                let sum = match sum {
                    Some(text) => text
                        .parse::<i128>()
                        .map_err(|e| Error::internal(format!("a sum {text:?}: {e}")))?,
                    None => 0,
                };
                let n = u64::try_from(n).unwrap_or(0);
                values.push(if aggregate == Aggregate::Avg {
                    avg_text(sum, n)
                } else {
                    sum_text(sum, n)
                });
            }
            Aggregate::Min | Aggregate::Max => {
                let best: Option<String> = row.try_get(at).map_err(bad_row)?;
                at += 1;
                values.push(match best {
                    Some(padded) if compares_as_number(query.query.table, name) => {
                        number_text(&padded)
                    }
                    other => other.unwrap_or_default(),
                });
            }
        }
    }
    let count =
        u64::try_from(count).map_err(|_| Error::internal(format!("a negative count ({count})")))?;
    Ok(AggregateGroup { key, count, values })
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
            &[(Aggregate::Sum, "duration"), (Aggregate::Min, "opened_at")],
        )
        .unwrap();
        let (sql, values) = build(&q).unwrap();
        assert_eq!(values, ["x'--"]);
        assert!(!sql.contains("x'"), "{sql}");
        assert!(
            sql.ends_with(
                "GROUP BY g0, g1 ORDER BY length(g0) DESC, g0 COLLATE \"C\" DESC, \
                 g1 COLLATE \"C\" ASC LIMIT $2"
            ),
            "{sql}"
        );
    }
}
