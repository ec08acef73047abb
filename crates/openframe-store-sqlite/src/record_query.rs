//! Table API queries as SQL: a [`TableQuery`] becomes one `SELECT` for its page and one `count(*)` for its
//! total, with the same `WHERE`.
//!
//! Only names ever enter the SQL text: the table's and its fields', taken from `openframe_core::schema` (a
//! query naming anything else is refused), and lengths computed here. Every value is a bound parameter. The
//! operators keep [`TableQuery::run_in_memory`]'s semantics: ASCII case folded, otherwise byte-wise.
//!
//! - text compares as `lower(col)` against the folded operand, in the BINARY collation (`memcmp`, the order
//!   of Rust's `str`); SQLite's `lower` folds ASCII only, as `openframe_core::query::fold` does;
//! - `STARTSWITH` is `substr(lower(col), 1, length(?)) = ?` and `LIKE` (contains) `instr(lower(col), ?) > 0`,
//!   never SQL `LIKE`, whose `%` and `_` are wildcards. `substr` and `length` count characters, and a prefix
//!   of whole characters is a prefix of bytes, so this is `str::starts_with`;
//! - whole numbers (durations, `sys_mod_count`) compare by length and bytes without leading zeros.
//!
//! Equality on an indexed column (`openframe_core::query::INDEXED_FIELDS`) uses its index: a plain
//! `col = ?` with the operand in the case the field's values are stored in (sys_ids, numbers), else
//! `col = ? COLLATE NOCASE`, which the client-session index (in that collation) serves. A unit test checks
//! the plans.

use std::fmt::Write as _;

use openframe_core::query::{
    Condition, Direction, Op, TableQuery, compares_as_number, fold, stored_case,
    without_leading_zeros,
};
use openframe_core::schema::{self, Table, field};
use openframe_core::{Error, Result};

use crate::queries::{columns, quote};

/// The SQL of one query and what it binds.
#[derive(Debug)]
pub(crate) struct QuerySql {
    /// The schema's table the statements read.
    pub table: &'static Table,
    /// The page: every field in column order, `?1`…`?k` the condition values, then `?k+1` the limit and
    /// `?k+2` the offset.
    pub page: String,
    /// How many rows match: binds `?1`…`?k` only.
    pub count: String,
    /// The condition values, `?1`…`?k`.
    pub values: Vec<String>,
}

/// The schema's own table equal to `table`, or `None` for a table the store does not keep (which, as in the
/// in-memory store, has no records).
pub(crate) fn known_table(table: &Table) -> Option<&'static Table> {
    schema::TABLES.iter().copied().find(|t| *t == table)
}

/// The `WHERE` of a query (empty when it has no filter) and the values it binds, `?1`…`?k`.
pub(crate) struct FilterSql {
    /// The schema's table the query reads.
    pub table: &'static Table,
    /// ` WHERE …`, or empty.
    pub clause: String,
    /// The condition values, `?1`…`?k`.
    pub values: Vec<String>,
}

/// The `WHERE` of `query`'s filter; `None` when its table is not one the store keeps. The Table API's page
/// and count and the Aggregate API's groups (`stats_query.rs`) share it.
pub(crate) fn filter(query: &TableQuery) -> Result<Option<FilterSql>> {
    let Some(table) = known_table(query.table) else {
        return Ok(None);
    };
    let mut values = Vec::new();
    let mut alternatives = Vec::with_capacity(1 + query.or_filters.len());
    for filter in std::iter::once(&query.filter).chain(&query.or_filters) {
        let mut groups = Vec::with_capacity(filter.len());
        for group in filter {
            let mut conditions = Vec::with_capacity(group.len());
            for condition in group {
                let mut sql = String::new();
                push_condition(&mut sql, table, condition, &mut values)?;
                conditions.push(sql);
            }
            // `any` of no condition is false: an empty group matches nothing.
            groups.push(balanced(&conditions, " OR ", "0"));
        }
        alternatives.push(balanced(&groups, " AND ", "1"));
    }
    let clause = if query.filter.is_empty() && query.or_filters.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", balanced(&alternatives, " OR ", "0"))
    };
    Ok(Some(FilterSql {
        table,
        clause,
        values,
    }))
}

/// Builds the SQL of `query`; `None` when its table is not one the store keeps.
pub(crate) fn build(query: &TableQuery) -> Result<Option<QuerySql>> {
    let Some(FilterSql {
        table,
        clause: filter,
        values,
    }) = filter(query)?
    else {
        return Ok(None);
    };
    let mut order = String::from(" ORDER BY ");
    for key in &query.order {
        let direction = match key.direction {
            Direction::Ascending => "ASC",
            Direction::Descending => "DESC",
        };
        let _ = write!(order, "{} {direction}, ", column(table, key.field)?);
    }
    // The tie-breaker: equal keys come in sys_id order, so that pages neither repeat nor skip records.
    let _ = write!(order, "{} ASC", quote(field::SYS_ID));
    let k = values.len();
    let page = format!(
        "SELECT {} FROM {}{filter}{order} LIMIT ?{} OFFSET ?{}",
        columns(table),
        table.name,
        k + 1,
        k + 2
    );
    let count = format!("SELECT count(*) FROM {}{filter}", table.name);
    Ok(Some(QuerySql {
        table,
        page,
        count,
        values,
    }))
}

/// `parts` joined by `op` as a balanced tree of parentheses, `empty` when there are none. SQLite refuses an
/// expression nested more than 1,000 deep, which a chain of 1,000 ORs is; a balanced tree of them is 10 deep.
fn balanced(parts: &[String], op: &str, empty: &str) -> String {
    match parts {
        [] => empty.to_owned(),
        [one] => one.clone(),
        _ => {
            let (left, right) = parts.split_at(parts.len() / 2);
            format!(
                "({}{op}{})",
                balanced(left, op, empty),
                balanced(right, op, empty)
            )
        }
    }
}

/// Appends `condition` to `sql`, pushing its operands to `values`. Every operand is a bound parameter; only
/// column names (from the schema) and lengths (numbers computed here) are written into the text.
fn push_condition(
    sql: &mut String,
    table: &'static Table,
    condition: &Condition,
    values: &mut Vec<String>,
) -> Result<()> {
    let col = column(table, condition.field)?;
    let numeric = compares_as_number(table, condition.field);
    let case = stored_case(table, condition.field);
    let mut bind = |value: &str| {
        values.push(value.to_owned());
        values.len()
    };
    // The same value (see `openframe_core::query`): both empty, or both not and equal, as numbers when the
    // field holds numbers (leading zeros aside), else with ASCII case folded: exactly, in the one case a
    // field's values are stored in (so the column's index serves it), else in the NOCASE collation (whose
    // index the client-session lookup uses).
    let mut eq = |x: &str| {
        if x.is_empty() {
            format!("{col} = ''")
        } else if numeric {
            format!(
                "({col} <> '' AND ltrim({col}, '0') = ?{})",
                bind(without_leading_zeros(x))
            )
        } else if let Some(case) = case {
            format!("{col} = ?{}", bind(&case.apply(x)))
        } else {
            format!("{col} = ?{} COLLATE NOCASE", bind(x))
        }
    };
    let folded = fold(&condition.value);
    let text = match condition.op {
        Op::Equals => eq(&condition.value),
        Op::NotEquals => format!("({col} <> '' AND NOT {})", eq(&condition.value)),
        Op::In | Op::NotIn => {
            let any: Vec<String> = condition.values.iter().map(|x| eq(x)).collect();
            let any = balanced(&any, " OR ", "0");
            if condition.op == Op::In {
                any
            } else {
                format!("({col} <> '' AND NOT {any})")
            }
        }
        Op::LessThan | Op::AtMost | Op::GreaterThan | Op::AtLeast => {
            let cmp = ordering(&col, numeric, condition.op, &condition.value, &mut bind);
            format!("({col} <> '' AND {cmp})")
        }
        Op::Between => match condition.values.as_slice() {
            [low, high] => {
                let from = ordering(&col, numeric, Op::AtLeast, low, &mut bind);
                let to = ordering(&col, numeric, Op::AtMost, high, &mut bind);
                format!("({col} <> '' AND {from} AND {to})")
            }
            _ => "0".to_owned(),
        },
        Op::StartsWith => {
            let n = bind(&folded);
            format!("substr(lower({col}), 1, length(?{n})) = ?{n}")
        }
        Op::EndsWith if condition.value.is_empty() => "1".to_owned(),
        Op::EndsWith => {
            let n = bind(&folded);
            format!("substr(lower({col}), -length(?{n})) = ?{n}")
        }
        Op::Contains => format!("instr(lower({col}), ?{}) > 0", bind(&folded)),
        Op::NotContains => format!(
            "({col} <> '' AND instr(lower({col}), ?{}) = 0)",
            bind(&folded)
        ),
        // Unset values are stored as '', never NULL (the columns are NOT NULL).
        Op::IsEmpty | Op::EmptyString => format!("{col} = ''"),
        Op::IsNotEmpty => format!("{col} <> ''"),
        Op::Anything => "1".to_owned(),
        Op::SameAs | Op::NotSameAs => {
            let other = column(table, &condition.value)?;
            let same = if numeric {
                format!(
                    "(({col} = '' AND {other} = '') OR ({col} <> '' AND {other} <> '' \
                     AND ltrim({col}, '0') = ltrim({other}, '0')))"
                )
            } else {
                format!("lower({col}) = lower({other})")
            };
            if condition.op == Op::SameAs {
                same
            } else {
                format!("NOT {same}")
            }
        }
        other => {
            return Err(Error::internal(format!(
                "the SQLite store has no SQL for the operator {other:?}"
            )));
        }
    };
    sql.push_str(&text);
    Ok(())
}

/// `col op x` for a non-empty `col`: numbers as numbers (fewer digits without leading zeros is smaller,
/// then byte order), anything else byte-wise with ASCII case folded (`lower`, the BINARY collation).
fn ordering(
    col: &str,
    numeric: bool,
    op: Op,
    x: &str,
    bind: &mut impl FnMut(&str) -> usize,
) -> String {
    let symbol = match op {
        Op::LessThan => "<",
        Op::AtMost => "<=",
        Op::GreaterThan => ">",
        _ => ">=",
    };
    if numeric {
        let digits = without_leading_zeros(x);
        let strict = &symbol[..1];
        let length = format!("length(CAST(ltrim({col}, '0') AS BLOB))");
        format!(
            "({length} {strict} {len} OR ({length} = {len} AND ltrim({col}, '0') {symbol} ?{n}))",
            len = digits.len(),
            n = bind(digits)
        )
    } else {
        format!("lower({col}) {symbol} ?{}", bind(&fold(x)))
    }
}

/// The quoted column of field `name`, spelled from the schema, never from the query.
fn column(table: &'static Table, name: &str) -> Result<String> {
    table
        .field(name)
        .map(|(_, f)| quote(f.name))
        .ok_or_else(|| {
            Error::invalid(
                "sysparm_query",
                format!("unknown field {name:?} of table {}", table.name),
            )
        })
}

#[cfg(test)]
mod tests {
    use openframe_core::query::{INDEXED_FIELDS, OrderBy};
    use openframe_core::schema::{INTERACTION, PHONE_LOG, TABLES};
    use rusqlite::Connection;

    use super::*;

    fn condition(field: &'static str, op: Op, value: &str) -> Condition {
        Condition::new(field, op, value)
    }

    #[test]
    fn values_are_bound_and_names_come_from_the_schema() {
        let mut q = TableQuery::all(&INTERACTION);
        q.filter = vec![
            vec![
                condition(field::STATE, Op::Equals, "new'; DROP TABLE interaction; --"),
                condition(field::NUMBER, Op::StartsWith, "IMS"),
            ],
            vec![condition(field::SHORT_DESCRIPTION, Op::Contains, "%_")],
            vec![condition(field::QUEUE, Op::IsEmpty, "")],
        ];
        q.order = vec![OrderBy {
            field: field::NUMBER,
            direction: Direction::Descending,
        }];
        let sql = build(&q).expect("builds").expect("a known table");
        assert!(sql.page.ends_with(
            " FROM interaction WHERE ((\"state\" = ?1 COLLATE NOCASE OR substr(lower(\"number\"), 1, length(?2)) = ?2) \
             AND (instr(lower(\"short_description\"), ?3) > 0 AND \"queue\" = '')) \
             ORDER BY \"number\" DESC, \"sys_id\" ASC LIMIT ?4 OFFSET ?5"
        ));
        assert_eq!(
            sql.count,
            "SELECT count(*) FROM interaction WHERE ((\"state\" = ?1 COLLATE NOCASE OR substr(lower(\"number\"), 1, length(?2)) = ?2) \
             AND (instr(lower(\"short_description\"), ?3) > 0 AND \"queue\" = ''))"
        );
        assert_eq!(
            sql.values,
            ["new'; DROP TABLE interaction; --", "ims", "%_"]
        );
    }

    #[test]
    fn a_field_of_another_table_is_refused() {
        let mut q = TableQuery::all(&PHONE_LOG);
        q.filter = vec![vec![condition(field::NUMBER, Op::Equals, "x")]];
        assert!(matches!(build(&q), Err(Error::Invalid { .. })));
    }

    #[test]
    fn a_table_the_store_does_not_keep_has_no_sql() {
        static OTHER: Table = Table {
            name: "other; DROP TABLE interaction",
            aliases: &[],
            fields: &[],
        };
        assert!(build(&TableQuery::all(&OTHER)).expect("builds").is_none());
    }

    /// The plan of `sql` (every row's detail, joined).
    fn plan(conn: &Connection, sql: &str, values: usize) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("prepare");
        let params: Vec<String> = (0..values).map(|_| "x".to_owned()).collect();
        let mut params: Vec<&dyn rusqlite::ToSql> =
            params.iter().map(|p| p as &dyn rusqlite::ToSql).collect();
        let (limit, offset) = (10_i64, 0_i64);
        if stmt.parameter_count() > values {
            params.push(&limit);
            params.push(&offset);
        }
        let rows: Vec<String> = stmt
            .query_map(params.as_slice(), |row| row.get(3))
            .expect("plan")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        rows.join(" | ")
    }

    #[test]
    fn equality_on_an_indexed_field_uses_its_index() {
        let mut conn = Connection::open_in_memory().expect("database");
        crate::migrations::migrate(&mut conn).expect("migrations");
        let mut checked = 0;
        for table in TABLES {
            for &name in INDEXED_FIELDS {
                if table.field(name).is_none() {
                    continue;
                }
                let index = format!("{}_{name}", table.name);
                // Alone, with an order on another field, and ANDed with a condition that needs a scan.
                let mut queries = Vec::new();
                let mut q = TableQuery::all(table);
                q.filter = vec![vec![condition(name, Op::Equals, "x")]];
                queries.push(q.clone());
                q.order = vec![OrderBy {
                    field: field::SYS_CREATED_ON,
                    direction: Direction::Descending,
                }];
                queries.push(q.clone());
                q.filter
                    .push(vec![condition(field::SYS_UPDATED_BY, Op::Contains, "x")]);
                queries.push(q);
                for q in queries {
                    let sql = build(&q).expect("builds").expect("known table");
                    for (what, sql) in [("page", &sql.page), ("count", &sql.count)] {
                        let plan = plan(&conn, sql, sql_values(&q));
                        assert!(
                            plan.contains(&format!("INDEX {index} ("))
                                && !plan.contains(&format!("SCAN {}", table.name)),
                            "{} {name} ({what}): {plan}",
                            table.name
                        );
                    }
                }
                checked += 1;
            }
        }
        // sys_id on four tables, number and client_session_id on interactions, interaction on two.
        assert_eq!(checked, 8);
    }

    #[test]
    fn a_cached_query_is_not_prepared_again_for_new_values() {
        let mut conn = crate::connection::open_memory().expect("database");
        crate::migrations::migrate(&mut conn).expect("migrations");
        let mut q = TableQuery::all(&INTERACTION);
        q.filter = vec![vec![
            condition(field::CLIENT_SESSION_ID, Op::Equals, "a"),
            condition(field::NUMBER, Op::StartsWith, "IMS"),
        ]];
        let sql = build(&q).expect("builds").expect("known table");
        let mut stmt = conn.prepare_cached(&sql.page).expect("prepare");
        for (value, limit, offset) in [("a", 10_i64, 0_i64), ("b", 20, 5), ("c", 1, 1)] {
            let rows = stmt
                .query_map(rusqlite::params![value, "IMS", limit, offset], |_| Ok(()))
                .expect("query")
                .count();
            assert_eq!(rows, 0);
        }
        assert_eq!(
            stmt.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "binding new values re-prepared the statement"
        );
    }

    fn sql_values(q: &TableQuery) -> usize {
        q.filter
            .iter()
            .flatten()
            .filter(|c| !matches!(c.op, Op::IsEmpty | Op::IsNotEmpty))
            .count()
    }
}
