//! Table API queries (CONTRACT §6): the encoded query (`sysparm_query`), paging and field lists, parsed into a
//! typed [`TableQuery`] that every store runs natively, plus the reference semantics the in-memory store uses
//! and every other store is held to.
//!
//! Comparisons are exact and byte-wise (case-sensitive; UTF-8 order), so every store agrees: SQLite's BINARY
//! collation, PostgreSQL's `"C"` collation and Rust's `str` ordering are the same order.

use std::cmp::Ordering;

use crate::error::{Error, Result};
use crate::record::Record;
use crate::schema::{Table, field};
use crate::sys_id::SysId;

/// `sysparm_limit` when none is given.
pub const DEFAULT_LIMIT: usize = 1000;
/// The largest `sysparm_limit`.
pub const MAX_LIMIT: usize = 10_000;
/// The platform's operand for "the signed-in user" (`assigned_to=javascript:gs.getUserID()`): the Table API
/// replaces it with the caller's sys_id ([`TableQuery::resolve_caller`]), so a client can ask for "my records"
/// without knowing its own sys_id. No other script is evaluated; any other `javascript:` text is a plain value.
pub const CALLER_SYS_ID_OPERAND: &str = "javascript:gs.getUserID()";

/// A condition's operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `field=value`
    Equals,
    /// `field!=value`
    NotEquals,
    /// `fieldSTARTSWITHvalue`
    StartsWith,
    /// `fieldLIKEvalue`: the value occurs anywhere in the field.
    Contains,
    /// `fieldISEMPTY`
    IsEmpty,
    /// `fieldISNOTEMPTY`
    IsNotEmpty,
}

/// One condition on one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// The field (checked against the table).
    pub field: &'static str,
    /// The operator.
    pub op: Op,
    /// The operand (empty for `ISEMPTY`/`ISNOTEMPTY`).
    pub value: String,
}

impl Condition {
    /// Whether `record` satisfies the condition.
    pub fn matches(&self, record: &Record) -> bool {
        let v = record.get(self.field);
        match self.op {
            Op::Equals => v == self.value,
            Op::NotEquals => v != self.value,
            Op::StartsWith => v.starts_with(self.value.as_str()),
            Op::Contains => v.contains(self.value.as_str()),
            Op::IsEmpty => v.is_empty(),
            Op::IsNotEmpty => !v.is_empty(),
        }
    }
}

/// Sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `ORDERBYfield`
    Ascending,
    /// `ORDERBYDESCfield`
    Descending,
}

/// One sort key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderBy {
    /// The field.
    pub field: &'static str,
    /// The direction.
    pub direction: Direction,
}

/// A query on one table: which records (`filter`, an AND of OR-groups, as `^` and `^OR` combine them), in
/// which order (then always by `sys_id`, so pages are stable), which page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableQuery {
    /// The table.
    pub table: &'static Table,
    /// Every group must hold; within a group, any condition. Empty: every record.
    pub filter: Vec<Vec<Condition>>,
    /// Sort keys before the `sys_id` tie-breaker.
    pub order: Vec<OrderBy>,
    /// Most records to return.
    pub limit: usize,
    /// Records to skip.
    pub offset: usize,
}

/// One page of results and how many records match in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordPage {
    /// The records of the page, in order.
    pub records: Vec<Record>,
    /// How many records match, over all pages (`X-Total-Count`).
    pub total: u64,
}

impl TableQuery {
    /// Every record of `table`, first page.
    pub fn all(table: &'static Table) -> Self {
        TableQuery {
            table,
            filter: Vec::new(),
            order: Vec::new(),
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }

    /// Parses the Table API parameters for `table`; `None` means the parameter was not given.
    ///
    /// ```
    /// use openframe_core::query::{Op, TableQuery};
    /// use openframe_core::schema::INTERACTION;
    /// let q = TableQuery::parse(&INTERACTION, Some("state=new^ORstate=queued^numberSTARTSWITHIMS^ORDERBYDESCnumber"), Some("10"), None).unwrap();
    /// assert_eq!(q.filter.len(), 2);
    /// assert_eq!(q.filter[0].len(), 2);
    /// assert_eq!(q.filter[1][0].op, Op::StartsWith);
    /// assert_eq!(q.limit, 10);
    /// ```
    pub fn parse(
        table: &'static Table,
        query: Option<&str>,
        limit: Option<&str>,
        offset: Option<&str>,
    ) -> Result<Self> {
        let mut q = TableQuery::all(table);
        if let Some(query) = query {
            parse_encoded_query(table, query, &mut q)?;
        }
        if let Some(limit) = limit {
            q.limit = limit
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    Error::invalid(
                        "sysparm_limit",
                        format!("must be a whole number from 1 to {MAX_LIMIT}"),
                    )
                })?;
        }
        if let Some(offset) = offset {
            q.offset =
                offset.trim().parse::<u32>().map_err(|_| {
                    Error::invalid("sysparm_offset", "must be a whole number from 0")
                })? as usize;
        }
        Ok(q)
    }

    /// Replaces every operand that is exactly [`CALLER_SYS_ID_OPERAND`] with `caller`.
    ///
    /// ```
    /// use openframe_core::SysId;
    /// use openframe_core::query::TableQuery;
    /// use openframe_core::schema::INTERACTION;
    /// let me = SysId::random();
    /// let mut q = TableQuery::parse(&INTERACTION, Some("assigned_to=javascript:gs.getUserID()"), None, None).unwrap();
    /// q.resolve_caller(&me);
    /// assert_eq!(q.filter[0][0].value, me.as_str());
    /// ```
    pub fn resolve_caller(&mut self, caller: &SysId) {
        for condition in self.filter.iter_mut().flatten() {
            if condition.value == CALLER_SYS_ID_OPERAND {
                condition.value = caller.as_str().to_owned();
            }
        }
    }

    /// Whether `record` passes the filter.
    pub fn matches(&self, record: &Record) -> bool {
        self.filter
            .iter()
            .all(|group| group.iter().any(|c| c.matches(record)))
    }

    /// The query's order between two records: the sort keys, then `sys_id`.
    pub fn compare(&self, a: &Record, b: &Record) -> Ordering {
        for key in &self.order {
            let ord = a.get(key.field).cmp(b.get(key.field));
            let ord = match key.direction {
                Direction::Ascending => ord,
                Direction::Descending => ord.reverse(),
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.sys_id().cmp(b.sys_id())
    }

    /// Runs the query over `records` in memory: the reference semantics every store must reproduce.
    pub fn run_in_memory<'a>(&self, records: impl IntoIterator<Item = &'a Record>) -> RecordPage {
        let mut hits: Vec<&Record> = records.into_iter().filter(|r| self.matches(r)).collect();
        let total = hits.len() as u64;
        hits.sort_by(|a, b| self.compare(a, b));
        RecordPage {
            records: hits
                .into_iter()
                .skip(self.offset)
                .take(self.limit)
                .cloned()
                .collect(),
            total,
        }
    }
}

fn parse_encoded_query(table: &'static Table, query: &str, q: &mut TableQuery) -> Result<()> {
    for token in query.split('^').filter(|t| !t.is_empty()) {
        let order = if let Some(name) = token.strip_prefix("ORDERBYDESC") {
            Some((name, Direction::Descending))
        } else {
            token
                .strip_prefix("ORDERBY")
                .map(|name| (name, Direction::Ascending))
        };
        if let Some((name, direction)) = order {
            let field = known_field(table, name, "sysparm_query")?;
            // A field already sorted on, or any key after the unique sys_id, cannot change the order: only
            // the first key of each field is kept (so a query repeating keys stays as long as the table).
            let settled = q
                .order
                .iter()
                .any(|k| k.field == field || k.field == field::SYS_ID);
            if !settled {
                q.order.push(OrderBy { field, direction });
            }
        } else if token == "NQ" || token.starts_with("NQ") {
            return Err(Error::invalid(
                "sysparm_query",
                "^NQ (new query) is not supported",
            ));
        } else if let Some(condition) = token.strip_prefix("OR") {
            let condition = parse_condition(table, condition)?;
            match q.filter.last_mut() {
                Some(group) => group.push(condition),
                None => {
                    return Err(Error::invalid(
                        "sysparm_query",
                        "^OR must follow a condition",
                    ));
                }
            }
        } else {
            q.filter.push(vec![parse_condition(table, token)?]);
        }
    }
    Ok(())
}

/// Operators, longest first where one is a prefix of another.
const OPERATORS: &[(&str, Op)] = &[
    ("ISNOTEMPTY", Op::IsNotEmpty),
    ("ISEMPTY", Op::IsEmpty),
    ("STARTSWITH", Op::StartsWith),
    ("LIKE", Op::Contains),
    ("!=", Op::NotEquals),
    ("=", Op::Equals),
];

fn parse_condition(table: &'static Table, token: &str) -> Result<Condition> {
    // Field names are lowercase; operators are symbols or capitals, so the first other character ends the name.
    let end = token
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        .unwrap_or(token.len());
    let (name, rest) = token.split_at(end);
    let field = known_field(table, name, "sysparm_query")?;
    for (symbol, op) in OPERATORS {
        if let Some(value) = rest.strip_prefix(symbol) {
            let no_operand = matches!(op, Op::IsEmpty | Op::IsNotEmpty);
            if no_operand && !value.is_empty() {
                break;
            }
            return Ok(Condition {
                field,
                op: *op,
                value: value.to_owned(),
            });
        }
    }
    Err(Error::invalid(
        "sysparm_query",
        format!(
            "unsupported condition {token:?}; operators are =, !=, STARTSWITH, LIKE, ISEMPTY, ISNOTEMPTY"
        ),
    ))
}

fn known_field(table: &'static Table, name: &str, param: &str) -> Result<&'static str> {
    table.field(name).map(|(_, f)| f.name).ok_or_else(|| {
        Error::invalid(
            param,
            format!("unknown field {name:?} of table {}", table.name),
        )
    })
}

/// Parses `sysparm_fields`: a comma list of the table's fields, in the order given; empty means all.
pub fn parse_field_list(table: &'static Table, list: &str) -> Result<Vec<&'static str>> {
    // Spaces and tabs only: other (Unicode) whitespace is no separator, so it names an unknown field.
    list.split(',')
        .map(|name| name.trim_matches([' ', '\t']))
        .filter(|s| !s.is_empty())
        .map(|name| known_field(table, name, "sysparm_fields"))
        .collect()
}

/// The fields a store must index so that these lookups never scan: CONTRACT §6.
pub const INDEXED_FIELDS: &[&str] = &[
    field::SYS_ID,
    field::NUMBER,
    field::CLIENT_SESSION_ID,
    field::INTERACTION,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{INTERACTION, PHONE_LOG};

    #[test]
    fn field_lists_trim_spaces_and_tabs_only() {
        assert_eq!(
            parse_field_list(&INTERACTION, " number ,\tstate").unwrap(),
            vec!["number", "state"]
        );
        for odd in ["\u{85}", "number,\u{a0}", "\u{2003}state"] {
            let err = parse_field_list(&INTERACTION, odd).unwrap_err();
            assert!(
                err.to_string().starts_with("sysparm_fields:"),
                "{odd:?}: {err}"
            );
        }
    }

    fn parse(q: &str) -> Result<TableQuery> {
        TableQuery::parse(&INTERACTION, Some(q), None, None)
    }

    fn record(pairs: &[(&str, &str)]) -> Record {
        let mut r = Record::new(&INTERACTION);
        for (k, v) in pairs {
            r.set(k, *v);
        }
        r
    }

    #[test]
    fn every_operator() {
        let q = parse("state=new^direction!=outbound^numberSTARTSWITHIMS00^short_descriptionLIKEcall^queueISEMPTY^assigned_toISNOTEMPTY").unwrap();
        let ops: Vec<Op> = q.filter.iter().map(|g| g[0].op).collect();
        assert_eq!(
            ops,
            [
                Op::Equals,
                Op::NotEquals,
                Op::StartsWith,
                Op::Contains,
                Op::IsEmpty,
                Op::IsNotEmpty
            ]
        );
        let hit = record(&[
            ("state", "new"),
            ("number", "IMS0001001"),
            ("short_description", "a call"),
            ("assigned_to", "x"),
            ("sys_id", "a"),
        ]);
        assert!(q.matches(&hit));
        let miss = record(&[
            ("state", "new"),
            ("number", "IMS0001001"),
            ("short_description", "a Call"),
            ("assigned_to", "x"),
        ]);
        assert!(!q.matches(&miss), "LIKE is case-sensitive");
    }

    #[test]
    fn or_binds_tighter_than_and() {
        let q = parse("state=new^ORstate=queued^direction=inbound").unwrap();
        assert!(q.matches(&record(&[("state", "queued"), ("direction", "inbound")])));
        assert!(!q.matches(&record(&[("state", "queued"), ("direction", "outbound")])));
        assert!(!q.matches(&record(&[("state", "on_hold"), ("direction", "inbound")])));
    }

    #[test]
    fn values_may_hold_operator_text() {
        let q = parse("short_description=a=b!=cLIKEd").unwrap();
        assert_eq!(q.filter[0][0].value, "a=b!=cLIKEd");
        assert_eq!(q.filter[0][0].op, Op::Equals);
        let q = parse("short_description!=").unwrap();
        assert_eq!(
            (q.filter[0][0].op, q.filter[0][0].value.as_str()),
            (Op::NotEquals, "")
        );
    }

    #[test]
    fn repeated_sort_keys_and_keys_after_sys_id_are_dropped() {
        let q = parse("ORDERBYstate^ORDERBYDESCstate^ORDERBYnumber^ORDERBYsys_id^ORDERBYqueue")
            .unwrap();
        let keys: Vec<_> = q.order.iter().map(|k| (k.field, k.direction)).collect();
        assert_eq!(
            keys,
            [
                ("state", Direction::Ascending),
                ("number", Direction::Ascending),
                ("sys_id", Direction::Ascending)
            ]
        );
    }

    #[test]
    fn ordering_and_paging() {
        let q = TableQuery::parse(
            &INTERACTION,
            Some("ORDERBYstate^ORDERBYDESCnumber"),
            Some("2"),
            Some("1"),
        )
        .unwrap();
        let rs = [
            record(&[("sys_id", "1"), ("state", "b"), ("number", "1")]),
            record(&[("sys_id", "2"), ("state", "a"), ("number", "1")]),
            record(&[("sys_id", "3"), ("state", "a"), ("number", "2")]),
            record(&[("sys_id", "4"), ("state", "a"), ("number", "2")]),
        ];
        let page = q.run_in_memory(&rs);
        assert_eq!(page.total, 4);
        let ids: Vec<&str> = page.records.iter().map(|r| r.sys_id()).collect();
        assert_eq!(ids, ["4", "2"]);
    }

    #[test]
    fn errors_name_the_parameter() {
        let cases = [
            ("nofield=1", "sysparm_query: unknown field \"nofield\""),
            ("state~1", "sysparm_query: unsupported condition"),
            ("stateISEMPTYx", "sysparm_query: unsupported condition"),
            ("state", "sysparm_query: unsupported condition"),
            ("ORstate=new", "sysparm_query: ^OR must follow"),
            ("ORDERBYnope", "sysparm_query: unknown field \"nope\""),
            ("state=new^NQstate=queued", "sysparm_query: ^NQ"),
            (
                "caller_id.name=x",
                "sysparm_query: unknown field \"caller_id\"",
            ),
            ("opened_by.name=x", "sysparm_query: unsupported condition"),
        ];
        for (q, want) in cases {
            let got = parse(q).unwrap_err().to_string();
            assert!(got.starts_with(want), "{q}: {got}");
        }
        for (limit, ok) in [
            ("1", true),
            ("10000", true),
            ("0", false),
            ("10001", false),
            ("x", false),
            ("-1", false),
        ] {
            assert_eq!(
                TableQuery::parse(&INTERACTION, None, Some(limit), None).is_ok(),
                ok,
                "{limit}"
            );
        }
        assert!(TableQuery::parse(&INTERACTION, None, None, Some("-3")).is_err());
        assert!(parse_field_list(&PHONE_LOG, "call_id, agent").is_ok());
        assert!(
            parse_field_list(&PHONE_LOG, "call_id,nope")
                .unwrap_err()
                .to_string()
                .starts_with("sysparm_fields: unknown field")
        );
    }

    #[test]
    fn the_caller_operand_becomes_the_callers_sys_id() {
        let me = SysId::random();
        let mut q = parse(
            "assigned_to=javascript:gs.getUserID()^ORopened_by=javascript:gs.getUserID()^short_description=javascript:gs.getUserID() x",
        )
        .unwrap();
        q.resolve_caller(&me);
        assert_eq!(q.filter[0][0].value, me.as_str());
        assert_eq!(q.filter[0][1].value, me.as_str());
        assert_eq!(
            q.filter[1][0].value, "javascript:gs.getUserID() x",
            "only the exact operand is resolved"
        );
        assert!(q.matches(&record(&[
            ("assigned_to", me.as_str()),
            ("short_description", "javascript:gs.getUserID() x"),
        ])));
    }

    #[test]
    fn empty_queries_match_everything() {
        assert!(parse("").unwrap().filter.is_empty());
        assert!(parse("^^").unwrap().filter.is_empty());
    }
}
