//! The Table API query ([`TableQuery`]) as one SQL statement.
//!
//! The statement's text holds only table and column names from the static schema (checked against the
//! query's table) and `$n` placeholders; every value a client sent is a bind. It counts the matching rows
//! and selects the page in one statement, so the page and the total come from one snapshot:
//!
//! ```sql
//! SELECT c.total, p.<columns>
//! FROM (SELECT count(*) AS total FROM <table> WHERE <filter>) AS c
//! LEFT JOIN (SELECT <columns> FROM <table> WHERE <filter> ORDER BY <keys>, sys_id LIMIT $l OFFSET $o) AS p
//!     ON true
//! ORDER BY <keys>, sys_id
//! ```
//!
//! The left join gives one row with a null page even when the page is empty, so the total is always read.
//! Both `WHERE`s use the same placeholders.
//!
//! Conditions as [`TableQuery::run_in_memory`] decides them: ASCII case folded, otherwise byte-wise (the
//! columns are in the `"C"` collation, see `migrations/0002_bytewise_collation.sql`, where `lower` folds
//! ASCII only):
//! - equality on a field whose values are stored in one case (sys_ids, references, numbers) is `col = $x`
//!   with the operand in that case, which the column's index serves; on other text `lower(col) = $x` with
//!   the operand folded, which the client-session index (on `lower(client_session_id)`) serves;
//! - a prefix is a range, `col >= $prefix AND col < $next` (on `lower(col)` unless the values have one case),
//!   where `$next` is the smallest string greater than every string starting with the prefix (see
//!   [`prefix_upper_bound`]). No `LIKE`, so `%`, `_` and `\` in a value are plain characters;
//! - a substring is `strpos(lower(col), $value) > 0`; whole numbers compare by length and bytes without
//!   leading zeros;
//! - empty is `col = ''` (unset values are stored as `''`).
//!
//! PostgreSQL text cannot hold NUL, so no stored value contains one: a condition whose operand does is
//! decided here (equal, prefix and substring are false, unequal is true) instead of being sent, which the
//! server would refuse.

use openframe_core::query::RecordPage;
use openframe_core::query::{
    Condition, Direction, Op, TableQuery, compares_as_number, fold, stored_case,
    without_leading_zeros,
};
use openframe_core::schema::{TABLES, Table, field};
use openframe_core::{Error, Record, Result};
use sqlx::postgres::{PgArguments, PgRow, Postgres};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Row};

/// A query's SQL and its binds, in placeholder order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PageSql {
    /// The statement.
    pub sql: String,
    /// The text binds, `$1` up.
    pub values: Vec<String>,
    /// `LIMIT`, bound after the text binds.
    pub limit: i64,
    /// `OFFSET`, bound last.
    pub offset: i64,
}

impl PageSql {
    /// Builds the statement for `query`. An unknown table or a field the table lacks is a caller bug
    /// ([`Error::Internal`]): [`TableQuery::parse`] admits neither.
    pub(crate) fn new(query: &TableQuery) -> Result<PageSql> {
        let table = known_table(query.table)?;
        let mut values = Vec::new();
        let filter = filter_sql(table, query, &mut values)?;
        let order = |alias: &str| -> Result<String> {
            let mut keys = Vec::with_capacity(query.order.len() + 1);
            for key in &query.order {
                let direction = match key.direction {
                    Direction::Ascending => "ASC",
                    Direction::Descending => "DESC",
                };
                keys.push(format!(
                    "{alias}{} COLLATE \"C\" {direction}",
                    column(table, key.field)?
                ));
            }
            keys.push(format!("{alias}{} COLLATE \"C\" ASC", field::SYS_ID));
            Ok(keys.join(", "))
        };
        let columns = table.field_names().collect::<Vec<_>>();
        // Without a total wanted (`sysparm_no_count`), nothing is counted: the row that carries it says 0.
        let count = if query.count {
            format!(
                "SELECT count(*) AS total FROM {} WHERE {filter}",
                table.name
            )
        } else {
            "SELECT 0::bigint AS total".to_owned()
        };
        let sql = format!(
            "SELECT c.total, {page_columns} \
             FROM ({count}) AS c \
             LEFT JOIN (SELECT {columns} FROM {name} WHERE {filter} ORDER BY {inner_order} \
             LIMIT ${limit} OFFSET ${offset}) AS p ON true \
             ORDER BY {outer_order}",
            page_columns = columns
                .iter()
                .map(|c| format!("p.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            name = table.name,
            columns = columns.join(", "),
            inner_order = order("")?,
            limit = values.len() + 1,
            offset = values.len() + 2,
            outer_order = order("p.")?,
        );
        Ok(PageSql {
            sql,
            values,
            // The limit is at most MAX_LIMIT and the offset a u32 when parsed; a larger one only means "all".
            limit: i64::try_from(query.limit).unwrap_or(i64::MAX),
            offset: i64::try_from(query.offset).unwrap_or(i64::MAX),
        })
    }

    /// The statement with its binds. The text is built from static schema names only (see
    /// [`PageSql::new`]), which is what makes [`AssertSqlSafe`] true here.
    pub(crate) fn query(&self) -> Query<'_, Postgres, PgArguments> {
        let mut query = sqlx::query(AssertSqlSafe(self.sql.as_str()));
        for value in &self.values {
            query = query.bind(value.as_str());
        }
        query.bind(self.limit).bind(self.offset)
    }
}

/// The page in `rows` (the statement's result) of records of `table`.
pub(crate) fn page_from_rows(table: &'static Table, rows: &[PgRow]) -> Result<RecordPage> {
    let bad_row = |e: sqlx::Error| Error::internal(format!("a {} query row: {e}", table.name));
    let total: i64 = match rows.first() {
        Some(row) => row.try_get(0).map_err(bad_row)?,
        None => return Err(Error::internal("a table query returned no row")),
    };
    let mut records = Vec::with_capacity(rows.len());
    for row in rows {
        // The page's columns are null only in the one row the join gives an empty page.
        let values = (1..=table.fields.len())
            .map(|i| row.try_get::<Option<String>, _>(i))
            .collect::<Result<Option<Vec<String>>, _>>()
            .map_err(bad_row)?;
        if let Some(values) = values {
            records.push(Record::from_values(table, values)?);
        }
    }
    Ok(RecordPage {
        records,
        total: u64::try_from(total)
            .map_err(|_| Error::internal(format!("a table query counted {total}")))?,
    })
}

/// The schema's own `Table` equal to `table`: its names are the ones the migrations created.
pub(crate) fn known_table(table: &Table) -> Result<&'static Table> {
    TABLES
        .iter()
        .copied()
        .find(|t| *t == table)
        .ok_or_else(|| Error::internal(format!("no table {:?} in the schema", table.name)))
}

/// The schema's name for field `name` of `table`, fit to be a column name in SQL text.
fn column(table: &'static Table, name: &str) -> Result<&'static str> {
    table
        .field(name)
        .map(|(_, def)| def.name)
        .ok_or_else(|| Error::internal(format!("table {} has no field {name:?}", table.name)))
}

/// `WHERE` text for an AND of OR-groups, pushing its operands onto `values`.
pub(crate) fn filter_sql(
    table: &'static Table,
    query: &TableQuery,
    values: &mut Vec<String>,
) -> Result<String> {
    if query.filter.is_empty() && query.or_filters.is_empty() {
        return Ok("true".to_owned());
    }
    let mut alternatives = Vec::with_capacity(1 + query.or_filters.len());
    for filter in std::iter::once(&query.filter).chain(&query.or_filters) {
        let mut groups = Vec::with_capacity(filter.len());
        for group in filter {
            let mut conditions = Vec::with_capacity(group.len());
            for condition in group {
                conditions.push(condition_sql(table, condition, values)?);
            }
            if conditions.is_empty() {
                conditions.push("false".to_owned());
            }
            groups.push(format!("({})", conditions.join(" OR ")));
        }
        if groups.is_empty() {
            groups.push("true".to_owned());
        }
        alternatives.push(format!("({})", groups.join(" AND ")));
    }
    Ok(alternatives.join(" OR "))
}

fn condition_sql(
    table: &'static Table,
    condition: &Condition,
    values: &mut Vec<String>,
) -> Result<String> {
    let col = column(table, condition.field)?;
    let numeric = compares_as_number(table, condition.field);
    let case = stored_case(table, condition.field);
    let value = condition.value.as_str();
    let folded = fold(value);
    let mut bind = |v: &str| {
        values.push(v.to_owned());
        format!("${}", values.len())
    };
    // The same value (see `openframe_core::query`): both empty, or both not and equal, as numbers when the
    // field holds numbers. No stored value holds a NUL, so an operand with one equals nothing.
    let mut eq = |x: &str| {
        if x.is_empty() {
            format!("{col} = ''")
        } else if x.contains('\0') {
            "false".to_owned()
        } else if numeric {
            format!(
                "({col} <> '' AND ltrim({col}, '0') = {})",
                bind(without_leading_zeros(x))
            )
        } else if let Some(case) = case {
            // Stored in one case: exact equality in it, which the column's index serves.
            format!("{col} = {}", bind(&case.apply(x)))
        } else {
            format!("lower({col}) = {}", bind(&fold(x)))
        }
    };
    let has_nul = value.contains('\0');
    Ok(match condition.op {
        Op::IsEmpty | Op::EmptyString => format!("{col} = ''"),
        Op::IsNotEmpty => format!("{col} <> ''"),
        Op::Anything => "true".to_owned(),
        Op::Equals => eq(value),
        Op::NotEquals => format!("({col} <> '' AND NOT {})", eq(value)),
        Op::In | Op::NotIn => {
            let any: Vec<String> = condition.values.iter().map(|x| eq(x)).collect();
            let any = if any.is_empty() {
                "false".to_owned()
            } else {
                format!("({})", any.join(" OR "))
            };
            if condition.op == Op::In {
                any
            } else {
                format!("({col} <> '' AND NOT {any})")
            }
        }
        Op::LessThan | Op::AtMost | Op::GreaterThan | Op::AtLeast => {
            let cmp = ordering(col, numeric, condition.op, value, &mut bind);
            format!("({col} <> '' AND {cmp})")
        }
        Op::Between => match condition.values.as_slice() {
            [low, high] => {
                let from = ordering(col, numeric, Op::AtLeast, low, &mut bind);
                let to = ordering(col, numeric, Op::AtMost, high, &mut bind);
                format!("({col} <> '' AND {from} AND {to})")
            }
            _ => "false".to_owned(),
        },
        Op::StartsWith | Op::Contains if has_nul => "false".to_owned(),
        Op::EndsWith if has_nul => "false".to_owned(),
        Op::NotContains if has_nul => format!("{col} <> ''"),
        Op::StartsWith if value.is_empty() => "true".to_owned(),
        Op::StartsWith => {
            // A prefix is a range: on the column itself when its values have one case (an index range),
            // else on the folded column.
            let (target, prefix) = match case {
                Some(case) => (col.to_owned(), case.apply(value)),
                None => (format!("lower({col})"), folded.clone()),
            };
            let from = format!("{target} COLLATE \"C\" >= {}", bind(&prefix));
            match prefix_upper_bound(&prefix) {
                Some(next) => format!("({from} AND {target} COLLATE \"C\" < {})", bind(&next)),
                None => from,
            }
        }
        Op::EndsWith if value.is_empty() => "true".to_owned(),
        Op::EndsWith => {
            let n = bind(&folded);
            format!("right(lower({col}), char_length({n})) = {n}")
        }
        Op::Contains => format!("strpos(lower({col}), {}) > 0", bind(&folded)),
        Op::NotContains => format!(
            "({col} <> '' AND strpos(lower({col}), {}) = 0)",
            bind(&folded)
        ),
        Op::SameAs | Op::NotSameAs => {
            let other = column(table, value)?;
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
                "the PostgreSQL store has no SQL for the operator {other:?}"
            )));
        }
    })
}

/// `col op x` for a non-empty `col`: numbers as numbers (fewer digits without leading zeros is smaller, then
/// byte order), anything else byte-wise with ASCII case folded (`lower` in the `"C"` collation). No stored
/// value holds a NUL, so an operand
/// with one compares as the text before its first NUL, which lies just below it.
fn ordering(
    col: &str,
    numeric: bool,
    op: Op,
    x: &str,
    bind: &mut impl FnMut(&str) -> String,
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
        let length = format!("octet_length(ltrim({col}, '0'))");
        return format!(
            "({length} {strict} {len} OR ({length} = {len} AND ltrim({col}, '0') COLLATE \"C\" {symbol} {n}))",
            len = digits.len(),
            n = bind(&digits.replace('\0', ""))
        );
    }
    let x = fold(x);
    match x.split_once('\0') {
        // v < x and v <= x: v <= head; v > x and v >= x: v > head (no v equals x).
        Some((head, _)) => {
            let symbol = if symbol.starts_with('<') { "<=" } else { ">" };
            format!("lower({col}) COLLATE \"C\" {symbol} {}", bind(head))
        }
        None => format!("lower({col}) COLLATE \"C\" {symbol} {}", bind(&x)),
    }
}

/// The smallest string greater, in code point (= UTF-8 byte) order, than every string that starts with
/// `prefix`: the prefix with its last character that has a successor replaced by that successor, and what
/// followed it dropped. `None` when every character is U+10FFFF (or there is none): then every string not
/// less than the prefix starts with it, and the range needs no upper end.
///
/// Exact: a string `s` starts with `prefix` if and only if `prefix <= s < prefix_upper_bound(prefix)`.
pub(crate) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = next_char(last) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The next Unicode scalar value after `c`, skipping the surrogates.
fn next_char(c: char) -> Option<char> {
    match c {
        '\u{D7FF}' => Some('\u{E000}'),
        _ => char::from_u32(u32::from(c) + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openframe_core::query::OrderBy;
    use openframe_core::schema::{INTERACTION, PHONE_LOG, RELATED_RECORD};

    fn condition(field: &'static str, op: Op, value: &str) -> Condition {
        Condition::new(field, op, value)
    }

    #[test]
    fn upper_bounds_of_prefixes() {
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("IMS00").as_deref(), Some("IMS01"));
        assert_eq!(
            prefix_upper_bound("a\u{D7FF}").as_deref(),
            Some("a\u{E000}")
        );
        assert_eq!(prefix_upper_bound("ab\u{10FFFF}").as_deref(), Some("ac"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}\u{10FFFF}"), None);
        assert_eq!(prefix_upper_bound("%_").as_deref(), Some("%`"));
    }

    #[test]
    fn the_bound_is_exact_on_awkward_strings() {
        let strings = [
            "",
            "a",
            "ab",
            "abc",
            "ac",
            "a\u{10FFFF}",
            "a\u{10FFFF}b",
            "b",
            "\u{10FFFF}",
            "\u{10FFFF}\u{10FFFF}",
            "\u{10FFFF}\u{10FFFF}x",
            "é",
            "éa",
            "\u{D7FF}",
            "\u{D7FF}z",
            "\u{E000}",
            "%",
            "%_",
            "%`",
            "_",
            "\\",
        ];
        for prefix in strings {
            for s in strings {
                let in_range = s >= prefix
                    && prefix_upper_bound(prefix).is_none_or(|upper| s < upper.as_str());
                assert_eq!(in_range, s.starts_with(prefix), "{prefix:?} {s:?}");
            }
        }
    }

    #[test]
    fn values_are_binds_and_names_come_from_the_schema() {
        let query = TableQuery {
            table: &PHONE_LOG,
            or_filters: Vec::new(),
            count: true,
            filter: vec![
                vec![
                    condition(
                        field::CALL_ID,
                        Op::StartsWith,
                        "x'; DROP TABLE interaction; --",
                    ),
                    condition(field::AGENT, Op::IsEmpty, ""),
                ],
                vec![condition(field::INTERACTION, Op::Equals, "abc")],
                vec![condition(field::CONTACT, Op::Contains, "a%_\\")],
            ],
            order: vec![OrderBy {
                field: field::START_TIME,
                direction: Direction::Descending,
            }],
            limit: 10,
            offset: 20,
        };
        let sql = PageSql::new(&query).unwrap();
        let filter = "(((lower(call_id) COLLATE \"C\" >= $1 AND lower(call_id) COLLATE \"C\" < $2) \
                      OR agent = '') AND (interaction = $3) AND (strpos(lower(contact), $4) > 0))";
        assert!(
            sql.sql
                .contains(&format!("FROM sn_openframe_phone_log WHERE {filter}) AS c")),
            "{}",
            sql.sql
        );
        assert!(
            sql.sql.contains(&format!(
                "WHERE {filter} ORDER BY start_time COLLATE \"C\" DESC, sys_id COLLATE \"C\" ASC LIMIT $5 OFFSET $6"
            )),
            "{}",
            sql.sql
        );
        assert!(
            sql.sql
                .ends_with("ORDER BY p.start_time COLLATE \"C\" DESC, p.sys_id COLLATE \"C\" ASC"),
            "{}",
            sql.sql
        );
        assert!(!sql.sql.contains("DROP"), "{}", sql.sql);
        assert_eq!(
            sql.values,
            [
                "x'; drop table interaction; --",
                "x'; drop table interaction; -.",
                "abc",
                "a%_\\"
            ]
        );
        assert_eq!((sql.limit, sql.offset), (10, 20));
    }

    #[test]
    fn nul_operands_are_decided_without_the_server() {
        let query = TableQuery {
            filter: vec![
                vec![condition(field::STATE, Op::Equals, "a\0")],
                vec![condition(field::STATE, Op::NotEquals, "\0")],
                vec![
                    condition(field::STATE, Op::StartsWith, "\0"),
                    condition(field::STATE, Op::Contains, "x\0"),
                ],
            ],
            ..TableQuery::all(&INTERACTION)
        };
        let sql = PageSql::new(&query).unwrap();
        assert!(
            sql.sql
                .contains("WHERE ((false) AND ((state <> '' AND NOT false)) AND (false OR false))"),
            "{}",
            sql.sql
        );
        assert!(sql.values.is_empty());
    }

    #[test]
    fn unknown_fields_and_tables_are_internal_errors() {
        let query = TableQuery {
            filter: vec![vec![condition("call_id", Op::Equals, "x")]],
            ..TableQuery::all(&INTERACTION)
        };
        assert!(matches!(PageSql::new(&query), Err(Error::Internal { .. })));
        static OTHER: Table = Table {
            name: "pg_authid",
            aliases: &[],
            fields: &[],
        };
        assert!(matches!(
            PageSql::new(&TableQuery::all(&OTHER)),
            Err(Error::Internal { .. })
        ));
    }

    /// Reads by an indexed field (`openframe_core::query::INDEXED_FIELDS`), and by a prefix of the number,
    /// on tables big enough that the planner would rather scan than use a useless index: the plan of the
    /// store's own statement uses the index, both for the page and for the count.
    #[tokio::test]
    async fn indexed_fields_are_read_through_their_index() {
        use crate::test_support::{TestSchema, test_options};
        let Some(schema) = TestSchema::new("indexed_fields_are_read_through_their_index").await
        else {
            return;
        };
        let store = schema.connect(test_options()).await;
        for fill in [
            "INSERT INTO interaction (sys_id, number, client_session_id, short_description) \
             SELECT md5(i::text), 'IMS' || lpad(i::text, 7, '0'), 'session-' || i, 'd' || (i % 10) \
             FROM generate_series(1, 20000) AS i",
            "INSERT INTO sn_openframe_phone_log (sys_id, interaction, call_id) \
             SELECT md5('log' || i), md5((i % 10000)::text), 'call-' || i FROM generate_series(1, 20000) AS i",
            "INSERT INTO interaction_related_record (sys_id, interaction, document_table) \
             SELECT md5('rel' || i), md5((i % 10000)::text), 'incident' FROM generate_series(1, 20000) AS i",
            // Only this schema's tables: a database-wide ANALYZE fails when another test drops its schema
            // at the same moment ("relation with OID … does not exist").
            "ANALYZE interaction, sn_openframe_phone_log, interaction_related_record",
        ] {
            sqlx::query(fill).execute(&store.pool).await.unwrap();
        }
        let md5_42 = "a1d0c6e83f027327d8461063f4ac58a6";
        let upper_42 = md5_42.to_ascii_uppercase();
        let cases = [
            (&INTERACTION, field::SYS_ID, Op::Equals, md5_42),
            (&INTERACTION, field::NUMBER, Op::Equals, "IMS0000042"),
            (&INTERACTION, field::NUMBER, Op::StartsWith, "IMS000004"),
            (
                &INTERACTION,
                field::CLIENT_SESSION_ID,
                Op::Equals,
                "session-42",
            ),
            // Equality folds ASCII case and stays indexed.
            (
                &INTERACTION,
                field::CLIENT_SESSION_ID,
                Op::Equals,
                "SESSION-42",
            ),
            (&INTERACTION, field::NUMBER, Op::Equals, "ims0000042"),
            (&INTERACTION, field::NUMBER, Op::StartsWith, "ims000004"),
            (&INTERACTION, field::SYS_ID, Op::Equals, &upper_42),
            (&PHONE_LOG, field::INTERACTION, Op::Equals, md5_42),
            (&PHONE_LOG, field::SYS_ID, Op::Equals, md5_42),
            (&RELATED_RECORD, field::INTERACTION, Op::Equals, md5_42),
        ];
        for (table, name, op, value) in cases {
            let query = TableQuery {
                filter: vec![vec![condition(name, op, value)]],
                ..TableQuery::all(table)
            };
            let sql = PageSql::new(&query).unwrap();
            let explain = format!("EXPLAIN {}", sql.sql);
            let mut explained = sqlx::query(AssertSqlSafe(explain.as_str()));
            for value in &sql.values {
                explained = explained.bind(value.as_str());
            }
            let plan: Vec<String> = explained
                .bind(sql.limit)
                .bind(sql.offset)
                .fetch_all(&store.pool)
                .await
                .unwrap()
                .iter()
                .map(|row| row.get::<String, _>(0))
                .collect();
            let plan = plan.join("\n");
            assert!(
                !plan.contains("Seq Scan"),
                "{} {name} {op:?}:\n{plan}",
                table.name
            );
            assert!(
                plan.matches("Index Scan").count() + plan.matches("Index Only Scan").count() >= 2,
                "{} {name} {op:?}: the count and the page each use an index:\n{plan}",
                table.name
            );
        }
        // And the same store finds them (the md5 above is that of "42").
        let page = PageSql::new(&TableQuery {
            filter: vec![vec![condition(field::INTERACTION, Op::Equals, md5_42)]],
            ..TableQuery::all(&PHONE_LOG)
        })
        .unwrap();
        let rows = page.query().fetch_all(&store.pool).await.unwrap();
        assert_eq!(page_from_rows(&PHONE_LOG, &rows).unwrap().total, 2);
    }
}
