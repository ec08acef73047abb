//! The model-based test's Table API steps: queries on any of the four tables whose operands are either drawn
//! from a pool (values the generated requests store, fragments of them, wildcards alone) or taken, when the
//! step runs, from the values the field holds in the reference, whole or in part — so that conditions
//! mostly select some records but not all.

use std::collections::BTreeSet;
use std::fmt;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use crate::query::{self, Condition, DEFAULT_LIMIT, Direction, OrderBy, TableQuery};
use crate::record::Record;
use crate::schema::{TABLES, Table, field};
use crate::service::Environment as _;
use crate::stats::{Aggregate, AggregateQuery, numeric_fields};

use super::environment::TestEnvironment;
use super::fixture::AGENT;
use super::operations::{DOCS, OTHER};

/// Fields queries name, per table in [`TABLES`]'s order: those the generated requests set, and the keys.
/// The first [`FAVOURED`] of each are named more often: free text, numbers kept as text and references,
/// where exact comparison and byte order differ most from the alternatives.
const QUERY_FIELDS: [&[&str]; 4] = [
    &[
        field::SHORT_DESCRIPTION,
        field::CLIENT_SESSION_ID,
        field::DURATION,
        field::STATE,
        field::DIRECTION,
        field::WORK_NOTES,
        field::NUMBER,
        field::ASSIGNED_TO,
        field::INBOUND_ID,
        field::PROVIDER_APPLICATION,
        field::CLOSED_AT,
        field::SYS_MOD_COUNT,
        field::SYS_ID,
        field::CALLER_PHONE_NUMBER,
    ],
    &[
        field::CALL_ID,
        field::DURATION,
        field::INTERACTION,
        field::CALL_TYPE,
        field::AGENT,
        field::START_TIME,
        field::END_TIME,
        field::PHONE_NUMBER,
        field::SYS_ID,
        field::SYS_MOD_COUNT,
    ],
    &[
        field::DOCUMENT_TABLE,
        field::INTERACTION,
        field::DOCUMENT_ID,
        field::SYS_ID,
    ],
    &[
        field::INBOUND_ID,
        field::NAME,
        field::SHORT_DESCRIPTION,
        field::SYS_ID,
    ],
];

/// How many fields at the head of each [`QUERY_FIELDS`] list are favoured.
const FAVOURED: usize = 3;

/// An index into a [`QUERY_FIELDS`] list (taken modulo its length): half the time a favoured one.
fn field_index() -> impl Strategy<Value = usize> {
    prop_oneof![0..FAVOURED, 0..16usize]
}

/// The operators, plainest first.
const OPS: [query::Op; 19] = [
    query::Op::Equals,
    query::Op::NotEquals,
    query::Op::StartsWith,
    query::Op::Contains,
    query::Op::IsEmpty,
    query::Op::IsNotEmpty,
    query::Op::LessThan,
    query::Op::AtMost,
    query::Op::GreaterThan,
    query::Op::AtLeast,
    query::Op::In,
    query::Op::NotIn,
    query::Op::EndsWith,
    query::Op::NotContains,
    query::Op::Anything,
    query::Op::EmptyString,
    query::Op::Between,
    query::Op::SameAs,
    query::Op::NotSameAs,
];

/// Which part of a stored value an operand is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Part {
    /// All of it.
    Whole,
    /// Its first half (rounded up), in characters.
    Head,
    /// All but its first and last characters (all of it when it has two or fewer).
    Inside,
    /// Its second half (rounded up), in characters.
    Tail,
}

/// A condition's operand.
#[derive(Clone, Debug)]
pub(crate) enum Operand {
    /// A value from the pool.
    Pool(String),
    /// A part of the `n % count`-th of the `count` distinct non-empty values the field holds when the query
    /// runs, in byte order; `""` when it holds none.
    Stored {
        /// Which value.
        n: usize,
        /// Which part of it.
        part: Part,
    },
}

/// A query as generated: resolved against the records of its table when it runs.
#[derive(Clone, Debug)]
pub(crate) struct QueryStep {
    table: &'static Table,
    /// Conditions: field, operator, operand, and a second operand (`IN`'s second item, `BETWEEN`'s other end;
    /// for `SAMEAS` it picks the other field among the table's query fields).
    filter: Vec<Vec<(&'static str, query::Op, Operand, Operand)>>,
    /// Whether the last group starts a new query (`^NQ`) instead of joining the others.
    new_query: bool,
    /// Whether the total is asked for (`sysparm_no_count` says not).
    count: bool,
    order: Vec<OrderBy>,
    limit: usize,
    offset: usize,
}

impl QueryStep {
    /// The table queried.
    pub(crate) fn table(&self) -> &'static Table {
        self.table
    }

    /// The query, with stored operands taken from `records`, every record of the table.
    pub(crate) fn resolve(&self, records: &[Record]) -> TableQuery {
        let mut filter: Vec<Vec<Condition>> = self
            .filter
            .iter()
            .map(|group| {
                group
                    .iter()
                    .map(|(name, op, operand, second)| {
                        let mut condition = Condition::new(name, *op, "");
                        let value = |o: &Operand| operand_value(o, records, name);
                        match op {
                            query::Op::IsEmpty
                            | query::Op::IsNotEmpty
                            | query::Op::Anything
                            | query::Op::EmptyString => {}
                            query::Op::In | query::Op::NotIn => {
                                condition.values = vec![value(operand), value(second)];
                            }
                            query::Op::Between => {
                                let (a, b) = (value(operand), value(second));
                                condition.values = if a <= b { vec![a, b] } else { vec![b, a] };
                            }
                            query::Op::SameAs | query::Op::NotSameAs => {
                                let fields = QUERY_FIELDS[table_index(self.table)];
                                let n = match second {
                                    Operand::Stored { n, .. } => *n,
                                    Operand::Pool(v) => v.len(),
                                };
                                fields[n % fields.len()].clone_into(&mut condition.value);
                            }
                            _ => condition.value = value(operand),
                        }
                        condition
                    })
                    .collect()
            })
            .collect();
        let mut or_filters = Vec::new();
        if self.new_query && filter.len() > 1 {
            or_filters.extend(filter.pop().map(|group| vec![group]));
        }
        TableQuery {
            table: self.table,
            filter,
            or_filters,
            order: self.order.clone(),
            limit: self.limit,
            offset: self.offset,
            count: self.count,
        }
    }
}

fn table_index(table: &Table) -> usize {
    TABLES.iter().position(|t| *t == table).unwrap_or(0)
}

fn operand_value(operand: &Operand, records: &[Record], name: &str) -> String {
    let (n, part) = match operand {
        Operand::Pool(value) => return value.clone(),
        Operand::Stored { n, part } => (*n, *part),
    };
    let values: Vec<&str> = records
        .iter()
        .map(|r| r.get(name))
        .filter(|v| !v.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let Some(value) = values.get(n % values.len().max(1)) else {
        return String::new();
    };
    let chars: Vec<char> = value.chars().collect();
    let len = chars.len();
    match part {
        Part::Whole => (*value).to_owned(),
        Part::Head => chars[..len.div_ceil(2)].iter().collect(),
        Part::Inside if len > 2 => chars[1..len - 1].iter().collect(),
        Part::Inside => (*value).to_owned(),
        Part::Tail => chars[len / 2..].iter().collect(),
    }
}

impl fmt::Display for QueryStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.table.name)?;
        let groups = self.filter.len();
        for (g, group) in self.filter.iter().enumerate() {
            for (i, (name, op, operand, second)) in group.iter().enumerate() {
                let joint = match (g, i) {
                    (0, 0) => " ",
                    (g, 0) if self.new_query && g + 1 == groups => " ^NQ",
                    (_, 0) => " ^",
                    _ => " ^OR",
                };
                write!(f, "{joint}{name}{}", op.symbol())?;
                let show = |f: &mut fmt::Formatter<'_>, o: &Operand| match o {
                    Operand::Pool(value) => write!(f, "{value:?}"),
                    Operand::Stored { n, part } => {
                        write!(f, "<{part:?} of stored value {n} % count>")
                    }
                };
                match op {
                    query::Op::IsEmpty
                    | query::Op::IsNotEmpty
                    | query::Op::Anything
                    | query::Op::EmptyString => {}
                    query::Op::In | query::Op::NotIn | query::Op::Between => {
                        show(f, operand)?;
                        f.write_str(if *op == query::Op::Between { "@" } else { "," })?;
                        show(f, second)?;
                    }
                    query::Op::SameAs | query::Op::NotSameAs => f.write_str("<a field>")?,
                    _ => show(f, operand)?,
                }
            }
        }
        for key in &self.order {
            let keyword = match key.direction {
                Direction::Ascending => "ORDERBY",
                Direction::Descending => "ORDERBYDESC",
            };
            write!(f, " ^{keyword}{}", key.field)?;
        }
        write!(f, " limit {} offset {}", self.limit, self.offset)?;
        if !self.count {
            f.write_str(" no count")?;
        }
        Ok(())
    }
}

/// Pool operands: values the generated requests store and fragments of them (prefixes, insides, wildcards
/// alone), the sys_ids the first records of a case get and their prefixes, and the prefixes of the provider
/// applications' sys_ids.
fn pool_operands() -> Vec<String> {
    let mut operands: Vec<String> = [
        "",
        "new",
        "work_in_progress",
        "closed_",
        "inbound",
        "in",
        "O'Brien \"q\" 100% _x_ \\",
        "O'",
        "%",
        "_",
        "\\",
        "100%",
        "_x_",
        "Ünï",
        "🙂",
        "  padded  ",
        " ",
        "42",
        "90",
        "1",
        "a545t65678",
        "a5",
        "c0",
        "c",
        "3",
        "INBOUND",
        "IN",
        "+1",
        "+14089965744",
        "IMS0001001",
        "IMS000100",
        "2024-11-04 21:4",
        "2024-11-04 21:47:30",
        "csm_consumer",
        "s",
        AGENT,
        "a8f98bb0",
        OTHER,
        DOCS[0],
        "gen-1",
        "gen_2",
        "gen%",
        "gen",
        "Genesys",
        "Provider",
        "00000000000000aa",
        "00000000000000cc",
    ]
    .map(str::to_owned)
    .to_vec();
    // The sys_ids a case's first records get: both sides' environments start alike.
    let env = TestEnvironment::new();
    for _ in 0..6 {
        let id = env.new_sys_id();
        operands.push(id.as_str()[..8].to_owned());
        operands.push(id.as_str().to_owned());
    }
    operands
}

/// A query on one of the four tables: up to three OR-groups of one or two conditions, up to two sort keys,
/// mostly the first page of the default size, now and then a small page further on.
pub(crate) fn query_step() -> impl Strategy<Value = QueryStep> {
    let parts = vec![Part::Whole, Part::Head, Part::Inside, Part::Tail];
    let operand = prop_oneof![
        3 => (0..64usize, select(parts)).prop_map(|(n, part)| Operand::Stored { n, part }),
        2 => select(pool_operands()).prop_map(Operand::Pool),
    ];
    let condition = (field_index(), 0..OPS.len(), operand.clone(), operand);
    (
        0..TABLES.len(),
        vec(vec(condition, 1..3), 0..4),
        any::<bool>(),
        vec((field_index(), any::<bool>()), 0..3),
        prop_oneof![3 => Just(DEFAULT_LIMIT), 2 => 1..5usize],
        prop_oneof![3 => Just(0usize), 1 => 1..6usize],
        prop_oneof![4 => Just(true), 1 => Just(false)],
    )
        .prop_map(|(t, groups, new_query, order, limit, offset, count)| {
            let fields = QUERY_FIELDS[t];
            let filter = groups
                .into_iter()
                .map(|group| {
                    group
                        .into_iter()
                        .map(|(f, op, operand, second)| {
                            (fields[f % fields.len()], OPS[op], operand, second)
                        })
                        .collect()
                })
                .collect();
            let order = order
                .into_iter()
                .map(|(f, descending)| OrderBy {
                    field: fields[f % fields.len()],
                    direction: if descending {
                        Direction::Descending
                    } else {
                        Direction::Ascending
                    },
                })
                .collect();
            QueryStep {
                table: TABLES[t],
                filter,
                new_query,
                order,
                limit,
                offset,
                count,
            }
        })
}

/// An Aggregate API request as generated: a query step for its filter (half the time dropped, so that groups
/// are many) and `ORDERBY` keys, group-by and aggregated fields picked among the table's query fields (`avg`
/// and `sum` among its number fields), and now and then a cut at a few groups.
#[derive(Clone, Debug)]
pub(crate) struct AggregateStep {
    query: QueryStep,
    filtered: bool,
    group_by: Vec<usize>,
    aggregates: Vec<(Aggregate, usize)>,
    max_groups: Option<usize>,
}

impl AggregateStep {
    /// The table aggregated.
    pub(crate) fn table(&self) -> &'static Table {
        self.query.table
    }

    /// The request, with stored operands taken from `records`, every record of the table.
    pub(crate) fn resolve(&self, records: &[Record]) -> AggregateQuery {
        let table = self.query.table;
        let fields = QUERY_FIELDS[table_index(table)];
        let numbers = numeric_fields(table);
        let mut group_by: Vec<&'static str> = Vec::new();
        for &i in &self.group_by {
            let f = fields[i % fields.len()];
            if !group_by.contains(&f) {
                group_by.push(f);
            }
        }
        let mut aggregates = Vec::new();
        for &(aggregate, i) in &self.aggregates {
            let f = if aggregate.numeric_only() {
                numbers[i % numbers.len()]
            } else {
                fields[i % fields.len()]
            };
            if !aggregates.contains(&(aggregate, f)) {
                aggregates.push((aggregate, f));
            }
        }
        let mut query = self.query.resolve(records);
        if !self.filtered {
            query.filter.clear();
            query.or_filters.clear();
        }
        AggregateQuery {
            query,
            group_by,
            aggregates,
            max_groups: self.max_groups.unwrap_or(query::MAX_LIMIT),
        }
    }
}

impl fmt::Display for AggregateStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "group by fields {:?} computing {:?} at most {:?} groups over {}{}",
            self.group_by,
            self.aggregates,
            self.max_groups,
            self.query,
            if self.filtered {
                ""
            } else {
                " without its filter"
            }
        )
    }
}

/// An Aggregate API request on one of the four tables: up to three group-by fields, up to four aggregates.
pub(crate) fn aggregate_step() -> impl Strategy<Value = AggregateStep> {
    (
        query_step(),
        any::<bool>(),
        vec(field_index(), 0..4),
        vec((select(Aggregate::ALL.to_vec()), field_index()), 0..5),
        prop_oneof![4 => Just(None), 1 => (1..4usize).prop_map(Some)],
    )
        .prop_map(
            |(query, filtered, group_by, aggregates, max_groups)| AggregateStep {
                query,
                filtered,
                group_by,
                aggregates,
                max_groups,
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_fields_belong_to_their_tables() {
        for (table, fields) in TABLES.iter().zip(QUERY_FIELDS) {
            for name in fields {
                assert!(table.field(name).is_some(), "{} has no {name}", table.name);
            }
        }
    }

    #[test]
    fn stored_operands_are_parts_of_stored_values() {
        let mut records = Vec::new();
        for v in ["b☺cd", "", "a"] {
            let mut r = Record::new(&crate::schema::INTERACTION);
            r.set(field::STATE, v);
            records.push(r);
        }
        let value = |n, part| operand_value(&Operand::Stored { n, part }, &records, field::STATE);
        assert_eq!(value(0, Part::Whole), "a");
        assert_eq!(value(1, Part::Head), "b☺");
        assert_eq!(value(3, Part::Inside), "☺c");
        assert_eq!(value(1, Part::Tail), "cd");
        assert_eq!(
            operand_value(
                &Operand::Stored {
                    n: 5,
                    part: Part::Whole
                },
                &[],
                field::STATE
            ),
            ""
        );
    }
}
