//! Table API queries (CONTRACT §6): the encoded query (`sysparm_query`), paging and field lists, parsed into a
//! typed [`TableQuery`] that every store runs natively, plus the reference semantics the in-memory store uses
//! and every other store is held to.
//!
//! Comparisons fold ASCII case, as on the platform, and are otherwise byte-wise (UTF-8 order), so every store
//! agrees: SQLite's `lower` and BINARY collation, PostgreSQL's `lower` and `"C"` collation and Rust's
//! `to_ascii_lowercase` and `str` ordering fold and order alike. Sorting (`ORDERBY`) stays byte-wise. Whole-number fields
//! (durations, `sys_mod_count`) compare as numbers. As on the platform, an empty value never satisfies a
//! negative or ordering condition (`!=`, `NOT IN`, `NOT LIKE`, `<`, `BETWEEN`, …): it is no value at all.

use crate::computed;
use std::cmp::Ordering;

use crate::datetime::DateTime;
use crate::error::{Error, Result};
use crate::record::Record;
use crate::schema::{FieldKind, Table, field};
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
#[non_exhaustive]
pub enum Op {
    /// `field=value`; `field=` is `ISEMPTY`.
    Equals,
    /// `field!=value`: a value other than this one (never an empty one).
    NotEquals,
    /// `field<value`
    LessThan,
    /// `field<=value`
    AtMost,
    /// `field>value`
    GreaterThan,
    /// `field>=value`
    AtLeast,
    /// `fieldINa,b,c`: one of the listed values ([`Condition::values`]).
    In,
    /// `fieldNOT INa,b,c`: a value none of the listed (never an empty one).
    NotIn,
    /// `fieldSTARTSWITHvalue`
    StartsWith,
    /// `fieldENDSWITHvalue`
    EndsWith,
    /// `fieldLIKEvalue`: the value occurs anywhere in the field.
    Contains,
    /// `fieldNOT LIKEvalue`: a value in which it does not occur (never an empty one).
    NotContains,
    /// `fieldISEMPTY`
    IsEmpty,
    /// `fieldISNOTEMPTY`
    IsNotEmpty,
    /// `fieldANYTHING`: every record.
    Anything,
    /// `fieldEMPTYSTRING`: an empty value (as `ISEMPTY`: no value is stored as null).
    EmptyString,
    /// `fieldBETWEENlow@high`: from `low` to `high`, both included ([`Condition::values`]).
    Between,
    /// `fieldSAMEASother`: the same value as field `other` ([`Condition::value`]).
    SameAs,
    /// `fieldNSAMEASother`: a value other than field `other`'s.
    NotSameAs,
}

/// One condition on one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// The field (checked against the table).
    pub field: &'static str,
    /// The operator.
    pub op: Op,
    /// The operand: empty for `ISEMPTY` and the like and for the list operators; for `SAMEAS`/`NSAMEAS`, the
    /// other field's name.
    pub value: String,
    /// The operands of `IN` and `NOT IN` (the list), and of `BETWEEN` (low, high); empty otherwise.
    pub values: Vec<String>,
}

impl Condition {
    /// A condition with one operand (or none).
    pub fn new(field: &'static str, op: Op, value: impl Into<String>) -> Self {
        Condition {
            field,
            op,
            value: value.into(),
            values: Vec::new(),
        }
    }

    /// Whether `record` satisfies the condition.
    pub fn matches(&self, record: &Record) -> bool {
        let numeric = compares_as_number(record.table(), self.field);
        let v = record.get(self.field);
        let eq = |x: &str| same(numeric, v, x);
        let ord = |x: &str| compare(numeric, v, x);
        let present = !v.is_empty();
        match self.op {
            Op::Equals => eq(&self.value),
            Op::NotEquals => present && !eq(&self.value),
            Op::LessThan => present && ord(&self.value).is_lt(),
            Op::AtMost => present && ord(&self.value).is_le(),
            Op::GreaterThan => present && ord(&self.value).is_gt(),
            Op::AtLeast => present && ord(&self.value).is_ge(),
            Op::In => self.values.iter().any(|x| eq(x)),
            Op::NotIn => present && !self.values.iter().any(|x| eq(x)),
            Op::StartsWith => folded_prefix(v, &self.value),
            Op::EndsWith => folded_suffix(v, &self.value),
            Op::Contains => folded_contains(v, &self.value),
            Op::NotContains => present && !folded_contains(v, &self.value),
            Op::IsEmpty | Op::EmptyString => !present,
            Op::IsNotEmpty => present,
            Op::Anything => true,
            Op::Between => match self.values.as_slice() {
                [low, high] => present && ord(low).is_ge() && ord(high).is_le(),
                _ => false,
            },
            Op::SameAs => eq(record.get(&self.value)),
            Op::NotSameAs => !eq(record.get(&self.value)),
        }
    }
}

impl Op {
    /// The operator as the encoded query spells it.
    pub fn symbol(self) -> &'static str {
        OPERATORS
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("", |(symbol, _)| symbol)
    }
}

/// The condition in the encoded-query syntax (`stateINnew,queued`, `durationBETWEEN10@20`).
impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.field, self.op.symbol())?;
        match self.op {
            Op::In | Op::NotIn => write!(f, "{}", self.values.join(",")),
            Op::Between => write!(f, "{}", self.values.join("@")),
            _ => write!(f, "{}", self.value),
        }
    }
}

/// Whether `field` of `table` holds whole numbers that compare as numbers (`duration` > `9` when it is
/// `10`): the durations, and `sys_mod_count`. (`number` is a counter too, but `IMS…` text.)
pub fn compares_as_number(table: &Table, field: &str) -> bool {
    field == field::SYS_MOD_COUNT
        || table
            .field(field)
            .is_some_and(|(_, def)| def.kind == FieldKind::Seconds)
}

/// A whole number without its leading zeros (`"007"` → `"7"`, `"0"` → `""`): equal numbers are equal
/// text, and a longer one is a larger one.
pub fn without_leading_zeros(digits: &str) -> &str {
    digits.trim_start_matches('0')
}

/// Text as comparisons see it: ASCII letters folded to lower case, as on the platform; other characters
/// stay as they are, so that every store folds alike (SQLite's `lower`, `NOCASE`, and PostgreSQL's `lower`
/// under the `"C"` collation fold ASCII only).
pub fn fold(text: &str) -> String {
    text.to_ascii_lowercase()
}

/// The case a field's stored values always have, when they have one: sys_ids and references are lowercase
/// hexadecimal, interaction numbers `IMS` and digits. Equality on such a field is exact equality with the
/// operand put in that case, which a plain index on the column serves.
pub fn stored_case(table: &Table, field: &str) -> Option<Case> {
    match table.field(field).map(|(_, def)| def.kind) {
        Some(FieldKind::SysId | FieldKind::Reference(_)) => Some(Case::Lower),
        _ if field == field::NUMBER && table.name == crate::schema::INTERACTION.name => {
            Some(Case::Upper)
        }
        _ => None,
    }
}

/// A letter case, for [`stored_case`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// Every ASCII letter is lower case.
    Lower,
    /// Every ASCII letter is upper case.
    Upper,
}

impl Case {
    /// `text` with its ASCII letters in this case.
    pub fn apply(self, text: &str) -> String {
        match self {
            Case::Lower => text.to_ascii_lowercase(),
            Case::Upper => text.to_ascii_uppercase(),
        }
    }
}

/// Whether `v` and `x` are the same value: both empty, or both not and equal (as numbers when `numeric`,
/// else with ASCII case folded).
fn same(numeric: bool, v: &str, x: &str) -> bool {
    if v.is_empty() || x.is_empty() {
        return v.is_empty() && x.is_empty();
    }
    if numeric {
        without_leading_zeros(v) == without_leading_zeros(x)
    } else {
        v.eq_ignore_ascii_case(x)
    }
}

// ASCII-folded text tests without allocating: the memory store and sled's scans run them on every record.
// ASCII folding maps bytes to bytes, so byte-wise tests on UTF-8 are the `str` tests on folded text.

/// Whether `v` starts with `x`, ASCII case folded.
fn folded_prefix(v: &str, x: &str) -> bool {
    v.len() >= x.len() && v.as_bytes()[..x.len()].eq_ignore_ascii_case(x.as_bytes())
}

/// Whether `v` ends with `x`, ASCII case folded.
fn folded_suffix(v: &str, x: &str) -> bool {
    v.len() >= x.len() && v.as_bytes()[v.len() - x.len()..].eq_ignore_ascii_case(x.as_bytes())
}

/// Whether `x` occurs in `v`, ASCII case folded.
fn folded_contains(v: &str, x: &str) -> bool {
    x.is_empty()
        || v.as_bytes()
            .windows(x.len())
            .any(|w| w.eq_ignore_ascii_case(x.as_bytes()))
}

/// The order of two non-empty values: as numbers when `numeric` (shorter without leading zeros is smaller),
/// else byte-wise with ASCII case folded.
fn compare(numeric: bool, v: &str, x: &str) -> Ordering {
    if numeric {
        let (v, x) = (without_leading_zeros(v), without_leading_zeros(x));
        v.len().cmp(&x.len()).then_with(|| v.cmp(x))
    } else {
        let v = v.bytes().map(|b| b.to_ascii_lowercase());
        v.cmp(x.bytes().map(|b| b.to_ascii_lowercase()))
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
    /// Further filters of the same shape, any of which may hold instead of `filter` (`^NQ` starts one).
    /// Empty for a query without `^NQ`.
    pub or_filters: Vec<Vec<Vec<Condition>>>,
    /// Sort keys before the `sys_id` tie-breaker.
    pub order: Vec<OrderBy>,
    /// Most records to return.
    pub limit: usize,
    /// Records to skip.
    pub offset: usize,
    /// Whether the total is wanted (`sysparm_no_count=true` says not). When it is not, stores need not
    /// count, and [`RecordPage::total`] is 0.
    pub count: bool,
}

/// One page of results and how many records match in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordPage {
    /// The records of the page, in order.
    pub records: Vec<Record>,
    /// How many records match, over all pages (`X-Total-Count`); 0 when the query did not ask
    /// ([`TableQuery::count`]).
    pub total: u64,
}

impl TableQuery {
    /// Every record of `table`, first page.
    pub fn all(table: &'static Table) -> Self {
        TableQuery {
            table,
            filter: Vec::new(),
            or_filters: Vec::new(),
            order: Vec::new(),
            limit: DEFAULT_LIMIT,
            offset: 0,
            count: true,
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
        let filters = std::iter::once(&mut self.filter).chain(self.or_filters.iter_mut());
        for condition in filters.flatten().flatten() {
            for operand in std::iter::once(&mut condition.value).chain(condition.values.iter_mut())
            {
                if operand == CALLER_SYS_ID_OPERAND {
                    caller.as_str().clone_into(operand);
                }
            }
        }
    }

    /// Whether `record` passes the filter (or one of the `^NQ` filters).
    pub fn matches(&self, record: &Record) -> bool {
        let passes = |filter: &Vec<Vec<Condition>>| {
            filter
                .iter()
                .all(|group| group.iter().any(|c| c.matches(record)))
        };
        passes(&self.filter) || self.or_filters.iter().any(passes)
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
        let total = if self.count { hits.len() as u64 } else { 0 };
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
        } else if let Some(rest) = token.strip_prefix("NQ") {
            // A new query, OR-ed with those before: its groups start afresh.
            let finished = std::mem::take(&mut q.filter);
            if !finished.is_empty() {
                q.or_filters.push(finished);
            }
            if !rest.is_empty() {
                q.filter.push(vec![parse_condition(table, rest)?]);
            }
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
    // `filter` holds the last query; the one written first goes first.
    if !q.or_filters.is_empty() {
        let last = std::mem::take(&mut q.filter);
        if !last.is_empty() {
            q.or_filters.push(last);
        }
        q.filter = q.or_filters.remove(0);
    }
    Ok(())
}

/// Operators, longest first where one is a prefix of another.
const OPERATORS: &[(&str, Op)] = &[
    ("ISNOTEMPTY", Op::IsNotEmpty),
    ("ISEMPTY", Op::IsEmpty),
    ("EMPTYSTRING", Op::EmptyString),
    ("ANYTHING", Op::Anything),
    ("STARTSWITH", Op::StartsWith),
    ("ENDSWITH", Op::EndsWith),
    ("NOT LIKE", Op::NotContains),
    ("NOT IN", Op::NotIn),
    ("NSAMEAS", Op::NotSameAs),
    ("SAMEAS", Op::SameAs),
    ("BETWEEN", Op::Between),
    ("LIKE", Op::Contains),
    ("IN", Op::In),
    ("!=", Op::NotEquals),
    ("<=", Op::AtMost),
    (">=", Op::AtLeast),
    ("<", Op::LessThan),
    (">", Op::GreaterThan),
    ("=", Op::Equals),
];

/// The operators as a query's error lists them.
const OPERATOR_LIST: &str = "=, !=, <, <=, >, >=, IN, NOT IN, STARTSWITH, ENDSWITH, LIKE, NOT LIKE, ISEMPTY, \
     ISNOTEMPTY, ANYTHING, EMPTYSTRING, BETWEEN, SAMEAS, NSAMEAS";

fn parse_condition(table: &'static Table, token: &str) -> Result<Condition> {
    // Field names are lowercase; operators are symbols or capitals, so the first other character ends the name.
    let end = token
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        .unwrap_or(token.len());
    let (name, rest) = token.split_at(end);
    let unsupported = || {
        Error::invalid(
            "sysparm_query",
            format!("unsupported condition {token:?}; operators are {OPERATOR_LIST}"),
        )
    };
    let operator = || {
        OPERATORS
            .iter()
            .find_map(|(symbol, op)| rest.strip_prefix(symbol).map(|operand| (*op, operand)))
            .ok_or_else(unsupported)
    };
    if computed::is_computed(table, name) {
        let (op, operand) = operator()?;
        return computed::active_condition(op, operand);
    }
    let field = known_field(table, name, "sysparm_query")?;
    let (op, operand) = operator()?;
    let mut condition = Condition::new(field, op, "");
    match op {
        Op::IsEmpty | Op::IsNotEmpty | Op::Anything | Op::EmptyString => {
            if !operand.is_empty() {
                return Err(unsupported());
            }
        }
        Op::In | Op::NotIn => {
            condition.values = operand
                .split(',')
                .map(|item| operand_value(table, field, item, false))
                .collect::<Result<_>>()?;
        }
        Op::Between => {
            let (low, high) = operand.split_once('@').ok_or_else(|| {
                Error::invalid(
                    "sysparm_query",
                    format!("{name}BETWEEN needs two values joined by @ (low@high)"),
                )
            })?;
            condition.values = vec![
                operand_value(table, field, low, true)?,
                operand_value(table, field, high, true)?,
            ];
        }
        Op::SameAs | Op::NotSameAs => {
            condition.value = known_field(table, operand, "sysparm_query")?.to_owned();
        }
        Op::LessThan | Op::AtMost | Op::GreaterThan | Op::AtLeast => {
            condition.value = operand_value(table, field, operand, true)?;
        }
        _ => condition.value = operand_value(table, field, operand, false)?,
    }
    Ok(condition)
}

/// An operand as the stores compare it: `javascript:gs.dateGenerate('yyyy-MM-dd','HH:mm:ss')` becomes the
/// date-time it names (any other text, a malformed call included, is a plain value). An operand that orders
/// (`<`, `BETWEEN`) must be a whole number on a number field, a date-time on a date-time field, and not
/// empty on any other.
fn operand_value(
    table: &'static Table,
    field: &str,
    operand: &str,
    orders: bool,
) -> Result<String> {
    let value = date_generate(operand).unwrap_or_else(|| operand.to_owned());
    if orders {
        let kind = table.field(field).map(|(_, def)| def.kind);
        let problem = if compares_as_number(table, field) {
            (value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()))
                .then_some("a whole number")
        } else if kind == Some(FieldKind::DateTime) {
            DateTime::parse(&value)
                .is_none()
                .then_some("a date-time yyyy-MM-dd HH:mm:ss (or javascript:gs.dateGenerate('yyyy-MM-dd','HH:mm:ss'))")
        } else {
            value.is_empty().then_some("a value")
        };
        if let Some(wanted) = problem {
            return Err(Error::invalid(
                "sysparm_query",
                format!("{field}: the value {value:?} to compare with must be {wanted}"),
            ));
        }
    }
    Ok(value)
}

/// The date-time `javascript:gs.dateGenerate('2024-01-31','13:45:00')` names (`'start'` is 00:00:00,
/// `'end'` 23:59:59), when `operand` is exactly such a call naming a real date-time; also the one-argument
/// form `javascript:gs.dateGenerate("2024-01-31 13:45:00")` that pysnow writes for BETWEEN, in either quote.
fn date_generate(operand: &str) -> Option<String> {
    let inner = operand
        .strip_prefix("javascript:gs.dateGenerate(")?
        .strip_suffix(')')?;
    let value = if let Some(pair) = inner.strip_prefix('\'').and_then(|i| i.strip_suffix('\'')) {
        match pair.split_once("','") {
            Some((date, time)) => {
                let time = match time {
                    "start" => "00:00:00",
                    "end" => "23:59:59",
                    other => other,
                };
                format!("{date} {time}")
            }
            None => pair.to_owned(),
        }
    } else {
        inner.strip_prefix('"')?.strip_suffix('"')?.to_owned()
    };
    DateTime::parse(&value).map(|_| value)
}

fn known_field(table: &'static Table, name: &str, param: &str) -> Result<&'static str> {
    table.field(name).map(|(_, f)| f.name).ok_or_else(|| {
        Error::invalid(
            param,
            format!("unknown field {name:?} of table {}", table.name),
        )
    })
}

/// Parses `sysparm_fields`: a comma list of the table's fields (stored or [computed](crate::computed)), in
/// the order given; empty means all.
pub fn parse_field_list(table: &'static Table, list: &str) -> Result<Vec<&'static str>> {
    // Spaces and tabs only: other (Unicode) whitespace is no separator, so it names an unknown field.
    list.split(',')
        .map(|name| name.trim_matches([' ', '\t']))
        .filter(|s| !s.is_empty())
        .map(|name| {
            match computed::computed_fields(table)
                .iter()
                .find(|computed| **computed == name)
            {
                Some(computed) => Ok(*computed),
                None => known_field(table, name, "sysparm_fields"),
            }
        })
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
            ("direction", "inbound"),
            ("number", "IMS0001001"),
            ("short_description", "a call"),
            ("assigned_to", "x"),
            ("sys_id", "a"),
        ]);
        assert!(q.matches(&hit));
        let shouted = record(&[
            ("state", "NEW"),
            ("direction", "Inbound"),
            ("number", "IMS0001001"),
            ("short_description", "A CALL"),
            ("assigned_to", "x"),
        ]);
        assert!(q.matches(&shouted), "comparisons fold ASCII case");
        let no_direction = record(&[
            ("state", "new"),
            ("number", "IMS0001001"),
            ("short_description", "a call"),
            ("assigned_to", "x"),
        ]);
        assert!(
            !q.matches(&no_direction),
            "an empty value is never different"
        );
        let unicode = record(&[("state", "ÑEW")]);
        assert!(
            !parse("state=ñew").unwrap().matches(&unicode),
            "only ASCII letters fold"
        );
    }

    #[test]
    fn platform_operators_and_empty_values() {
        let r = record(&[
            ("sys_id", "a"),
            ("state", "queued"),
            ("duration", "0090"),
            ("sys_mod_count", "10"),
            ("opened_at", "2024-11-04 21:47:30"),
            ("short_description", "Billing call"),
            ("work_notes", "Billing call"),
        ]);
        let holds = |q: &str| parse(q).unwrap().matches(&r);
        for q in [
            "stateINnew,queued",
            "stateNOT INnew,closed_complete",
            "short_descriptionENDSWITHcall",
            "short_descriptionNOT LIKEphone",
            "duration>9",
            "duration>=90",
            "duration<100",
            "duration<=090",
            "duration=90",
            "sys_mod_count>9",
            "durationBETWEEN89@91",
            "opened_at>javascript:gs.dateGenerate('2024-11-04','start')",
            "opened_atBETWEENjavascript:gs.dateGenerate('2024-11-04','21:47:30')@javascript:gs.dateGenerate('2024-11-04','end')",
            // pysnow's BETWEEN of two datetimes: one argument, double quotes.
            "opened_atBETWEENjavascript:gs.dateGenerate(\"2024-11-04 21:47:30\")@javascript:gs.dateGenerate('2024-11-04 21:47:30')",
            "short_descriptionSAMEASwork_notes",
            "stateNSAMEASshort_description",
            "queueANYTHING",
            "queueEMPTYSTRING",
            "state=nope^NQduration=90",
            // ASCII case is folded, as on the platform.
            "state=QUEUED",
            "stateINNEW,Queued",
            "short_descriptionLIKEBILLING",
            "short_descriptionENDSWITHCALL",
            "short_descriptionSTARTSWITHbill",
            "short_description<c",
            "short_description>BILLING",
        ] {
            assert!(holds(q), "{q}");
        }
        for q in [
            "stateINnew,closed_complete",
            "duration<9",
            "sys_mod_count<9",
            "durationBETWEEN91@100",
            "short_descriptionENDSWITHCalls",
            // An empty value is no value: never different, never outside a list, never in a range.
            "queue!=x",
            "queueNOT INx,y",
            "queueNOT LIKEx",
            "queue<z",
            "closed_at<2099-01-01 00:00:00",
            "state=nope^NQduration=91",
        ] {
            assert!(!holds(q), "{q}");
        }
        let q = parse("stateINnew,,queued^NQduration=1^ORduration=2^state=x").unwrap();
        assert_eq!(q.filter[0][0].values, ["new", "", "queued"]);
        assert_eq!(q.or_filters.len(), 1);
        assert_eq!(q.or_filters[0].len(), 2);
        assert_eq!(
            q.or_filters[0][0]
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["duration=1", "duration=2"]
        );
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
            ("durationn>4", "sysparm_query: unknown field \"durationn\""),
            (
                "duration>x4",
                "sysparm_query: duration: the value \"x4\" to compare with must be a whole number",
            ),
            (
                "opened_at<2024",
                "sysparm_query: opened_at: the value \"2024\" to compare with must be a date-time",
            ),
            (
                "durationBETWEEN4",
                "sysparm_query: durationBETWEEN needs two values",
            ),
            ("stateSAMEASnope", "sysparm_query: unknown field \"nope\""),
            ("stateANYTHINGx", "sysparm_query: unsupported condition"),
            (
                "opened_at>javascript:gs.dateGenerate('2024-13-01','00:00:00')",
                "sysparm_query: opened_at: the value \"javascript:gs.dateGenerate('2024-13-01','00:00:00')\" to compare with must be a date-time",
            ),
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
