//! The Aggregate API (`GET /api/now/stats/{table}`): counts, averages, sums, minima and maxima of the records
//! a [`TableQuery`] filter selects, whole or per group of equal values ([`AggregateQuery`]), and the reference
//! computation ([`Accumulator`]) every store is held to.
//!
//! The rules, the same on every store:
//! - the filter is the Table API's, with its semantics ([`TableQuery::matches`]);
//! - `avg` and `sum` take the whole-number fields ([`compares_as_number`]: durations, `sys_mod_count`);
//!   `min` and `max` any field. Empty values take no part: a field with none gives `""` (as SQL's `NULL`);
//! - numbers are shown without leading zeros (`"090"` → `"90"`), sums whole, averages with four decimals
//!   rounded half up (`"1.5000"`, as the platform writes them); other values as stored, ordered byte-wise
//!   (the order `ORDERBY` sorts text in), so a date-time's minimum is its earliest;
//! - groups are the distinct values of the group-by fields, exactly (byte-wise; numbers as numbers, so `"090"`
//!   and `"90"` are one group), the empty value a group of its own. They come in the order of the query's
//!   `ORDERBY` keys that are group-by fields, then of the other group-by fields ascending: numbers by value,
//!   text byte-wise, empty first ([`AggregateQuery::group_order`]).

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::query::{Direction, TableQuery, compares_as_number, without_leading_zeros};
use crate::record::Record;
use crate::schema::Table;

/// An aggregate function of the Aggregate API, besides the count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Aggregate {
    /// `sysparm_avg_fields`
    Avg,
    /// `sysparm_min_fields`
    Min,
    /// `sysparm_max_fields`
    Max,
    /// `sysparm_sum_fields`
    Sum,
}

impl Aggregate {
    /// Every function, in the order the response lists them.
    pub const ALL: [Aggregate; 4] = [
        Aggregate::Avg,
        Aggregate::Min,
        Aggregate::Max,
        Aggregate::Sum,
    ];

    /// Its name in the response (`"avg"`).
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Avg => "avg",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::Sum => "sum",
        }
    }

    /// The query parameter naming its fields (`"sysparm_avg_fields"`).
    pub fn param(self) -> &'static str {
        match self {
            Aggregate::Avg => "sysparm_avg_fields",
            Aggregate::Min => "sysparm_min_fields",
            Aggregate::Max => "sysparm_max_fields",
            Aggregate::Sum => "sysparm_sum_fields",
        }
    }

    /// Whether it only takes whole-number fields.
    pub fn numeric_only(self) -> bool {
        matches!(self, Aggregate::Avg | Aggregate::Sum)
    }
}

/// An Aggregate API request: which records (`query`'s filter), grouped how, what to compute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregateQuery {
    /// The table and the filter. Its `ORDERBY` keys on group-by fields order the groups; its other keys, its
    /// limit, offset and `count` flag are not used.
    pub query: TableQuery,
    /// The group-by fields, in the order given; empty: one group of every matching record.
    pub group_by: Vec<&'static str>,
    /// What to compute, in the order each group's [`AggregateGroup::values`] holds the results.
    pub aggregates: Vec<(Aggregate, &'static str)>,
    /// Most groups to return: the first ones in group order.
    pub max_groups: usize,
}

/// One group's results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregateGroup {
    /// The group-by fields' values, in [`AggregateQuery::group_by`]'s order (numbers without leading
    /// zeros); empty without group-by.
    pub key: Vec<String>,
    /// How many records the group holds.
    pub count: u64,
    /// One result per [`AggregateQuery::aggregates`] entry, in its order (see the module's rules).
    pub values: Vec<String>,
}

impl AggregateQuery {
    /// Parses the Aggregate API's parameters for `table` (`None`: not given): the encoded query as the
    /// Table API parses it, comma lists of fields. An unknown field, or a field that holds no numbers given
    /// to `avg` or `sum`, is an [`Error::Invalid`] naming the parameter.
    ///
    /// ```
    /// use openframe_core::schema::INTERACTION;
    /// use openframe_core::stats::{Aggregate, AggregateQuery};
    /// let q = AggregateQuery::parse(&INTERACTION, Some("state!=new"), Some("direction"), &[(Aggregate::Avg, "duration")]).unwrap();
    /// assert_eq!(q.group_by, ["direction"]);
    /// assert_eq!(q.aggregates, [(Aggregate::Avg, "duration")]);
    /// assert!(AggregateQuery::parse(&INTERACTION, None, None, &[(Aggregate::Sum, "state")]).is_err());
    /// ```
    pub fn parse(
        table: &'static Table,
        query: Option<&str>,
        group_by: Option<&str>,
        aggregates: &[(Aggregate, &str)],
    ) -> Result<Self> {
        let query = TableQuery::parse(table, query, None, None)?;
        let mut group_fields = Vec::new();
        for name in field_names(group_by.unwrap_or("")) {
            let field = known_field(table, name, "sysparm_group_by")?;
            if !group_fields.contains(&field) {
                group_fields.push(field);
            }
        }
        let mut wanted = Vec::new();
        for &(aggregate, list) in aggregates {
            for name in field_names(list) {
                let field = known_field(table, name, aggregate.param())?;
                if aggregate.numeric_only() && !compares_as_number(table, field) {
                    return Err(Error::invalid(
                        aggregate.param(),
                        format!(
                            "{field} holds no numbers; {} takes {}",
                            aggregate.name(),
                            numeric_fields(table).join(", ")
                        ),
                    ));
                }
                if !wanted.contains(&(aggregate, field)) {
                    wanted.push((aggregate, field));
                }
            }
        }
        Ok(AggregateQuery {
            query,
            group_by: group_fields,
            aggregates: wanted,
            max_groups: crate::query::MAX_LIMIT,
        })
    }

    /// The order of the groups: (index into [`group_by`](Self::group_by), direction), the query's `ORDERBY`
    /// keys on group-by fields first, then every other group-by field ascending.
    pub fn group_order(&self) -> Vec<(usize, Direction)> {
        let mut order: Vec<(usize, Direction)> = self
            .query
            .order
            .iter()
            .filter_map(|key| {
                let at = self.group_by.iter().position(|f| *f == key.field)?;
                Some((at, key.direction))
            })
            .collect();
        for at in 0..self.group_by.len() {
            if !order.iter().any(|(i, _)| *i == at) {
                order.push((at, Direction::Ascending));
            }
        }
        order
    }

    /// Whether group-by field `at` holds numbers (its key is a number without leading zeros).
    pub fn numeric_key(&self, at: usize) -> bool {
        compares_as_number(self.query.table, self.group_by[at])
    }

    /// The order of two groups' keys ([`group_order`](Self::group_order)).
    pub fn compare_keys(&self, a: &[String], b: &[String]) -> Ordering {
        for (at, direction) in self.group_order() {
            let ord = if self.numeric_key(at) {
                compare_numbers(&a[at], &b[at])
            } else {
                a[at].as_bytes().cmp(b[at].as_bytes())
            };
            let ord = match direction {
                Direction::Ascending => ord,
                Direction::Descending => ord.reverse(),
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }

    /// Runs the request over `records` in memory: the reference every store must reproduce.
    pub fn run_in_memory<'a>(
        &self,
        records: impl IntoIterator<Item = &'a Record>,
    ) -> Vec<AggregateGroup> {
        let mut acc = Accumulator::new(self);
        for record in records {
            acc.offer(record);
        }
        acc.finish()
    }
}

fn field_names(list: &str) -> impl Iterator<Item = &str> {
    list.split(',')
        .map(|name| name.trim_matches([' ', '\t']))
        .filter(|name| !name.is_empty())
}

fn known_field(table: &'static Table, name: &str, param: &str) -> Result<&'static str> {
    table.field(name).map(|(_, f)| f.name).ok_or_else(|| {
        Error::invalid(
            param,
            format!("unknown field {name:?} of table {}", table.name),
        )
    })
}

/// The fields of `table` that `avg` and `sum` take.
pub fn numeric_fields(table: &Table) -> Vec<&'static str> {
    table
        .field_names()
        .filter(|f| compares_as_number(table, f))
        .collect()
}

/// A stored whole number as results show it: without leading zeros (`"0"` for zero), `""` for no value.
pub fn number_text(digits: &str) -> String {
    if digits.is_empty() {
        return String::new();
    }
    match without_leading_zeros(digits) {
        "" => "0".to_owned(),
        n => n.to_owned(),
    }
}

/// The order of two whole numbers without leading zeros (`""` first): fewer digits is smaller.
fn compare_numbers(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// A sum of `values` whole numbers as results show it; `""` when there were none.
pub fn sum_text(sum: i128, values: u64) -> String {
    if values == 0 {
        String::new()
    } else {
        sum.to_string()
    }
}

/// The average of `values` whole numbers summing to `sum` (not negative), with four decimals rounded half
/// up, as the platform shows averages; `""` when there were none.
///
/// ```
/// use openframe_core::stats::avg_text;
/// assert_eq!(avg_text(3, 2), "1.5000");
/// assert_eq!(avg_text(2, 3), "0.6667");
/// assert_eq!(avg_text(0, 0), "");
/// ```
pub fn avg_text(sum: i128, values: u64) -> String {
    if values == 0 {
        return String::new();
    }
    let n = i128::from(values);
    let scaled = (sum * 20_000 + n) / (2 * n);
    format!("{}.{:04}", scaled / 10_000, scaled % 10_000)
}

/// What one group has gathered for one aggregate.
#[derive(Clone, Debug)]
enum Slot {
    /// `avg`, `sum`: the total and how many values made it.
    Numbers { sum: i128, values: u64 },
    /// `min`, `max` of a number field: the extreme so far, without leading zeros.
    Number(Option<String>),
    /// `min`, `max` of any other field: the extreme so far, byte-wise.
    Text(Option<String>),
}

/// One group being gathered.
#[derive(Clone, Debug)]
struct Gathering {
    count: u64,
    slots: Vec<Slot>,
}

/// The reference computation, one record at a time: stores that scan (memory, sled) feed it every
/// candidate record; it keeps one [`Gathering`] per group, never the records.
#[derive(Debug)]
pub struct Accumulator<'q> {
    query: &'q AggregateQuery,
    groups: HashMap<Vec<String>, Gathering>,
}

impl<'q> Accumulator<'q> {
    /// Nothing gathered yet.
    pub fn new(query: &'q AggregateQuery) -> Self {
        Accumulator {
            query,
            groups: HashMap::new(),
        }
    }

    /// Counts `record` in its group if it passes the filter.
    pub fn offer(&mut self, record: &Record) {
        let query = self.query;
        if !query.query.matches(record) {
            return;
        }
        let table = query.query.table;
        let key: Vec<String> = query
            .group_by
            .iter()
            .map(|f| {
                let v = record.get(f);
                if compares_as_number(table, f) {
                    number_text(v)
                } else {
                    v.to_owned()
                }
            })
            .collect();
        let group = self.groups.entry(key).or_insert_with(|| Gathering {
            count: 0,
            slots: query
                .aggregates
                .iter()
                .map(|&(aggregate, field)| match aggregate {
                    Aggregate::Avg | Aggregate::Sum => Slot::Numbers { sum: 0, values: 0 },
                    _ if compares_as_number(table, field) => Slot::Number(None),
                    _ => Slot::Text(None),
                })
                .collect(),
        });
        group.count += 1;
        for (slot, &(aggregate, field)) in group.slots.iter_mut().zip(&query.aggregates) {
            let v = record.get(field);
            if v.is_empty() {
                continue;
            }
            let keep_new = |ord: Ordering| match aggregate {
                Aggregate::Min => ord.is_lt(),
                _ => ord.is_gt(),
            };
            match slot {
                Slot::Numbers { sum, values } => {
                    // Stored whole numbers are at most 12 digits (schema.rs), so they parse; a sum of
                    // them fits an i128 for any number of records.
                    *sum += v.parse::<i128>().unwrap_or(0);
                    *values += 1;
                }
                Slot::Number(best) => {
                    let n = number_text(v);
                    if best
                        .as_deref()
                        .is_none_or(|b| keep_new(compare_numbers(&n, b)))
                    {
                        *best = Some(n);
                    }
                }
                Slot::Text(best) => {
                    if best
                        .as_deref()
                        .is_none_or(|b| keep_new(v.as_bytes().cmp(b.as_bytes())))
                    {
                        *best = Some(v.to_owned());
                    }
                }
            }
        }
    }

    /// The groups in group order, at most [`AggregateQuery::max_groups`] of them. Without group-by there
    /// is always exactly one, with a count of 0 when nothing matched.
    pub fn finish(self) -> Vec<AggregateGroup> {
        let query = self.query;
        let mut groups: Vec<AggregateGroup> = self
            .groups
            .into_iter()
            .map(|(key, g)| AggregateGroup {
                key,
                count: g.count,
                values: g
                    .slots
                    .into_iter()
                    .zip(&query.aggregates)
                    .map(|(slot, (aggregate, _))| match slot {
                        Slot::Numbers { sum, values } if *aggregate == Aggregate::Avg => {
                            avg_text(sum, values)
                        }
                        Slot::Numbers { sum, values } => sum_text(sum, values),
                        Slot::Number(best) | Slot::Text(best) => best.unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect();
        if query.group_by.is_empty() && groups.is_empty() {
            groups.push(AggregateGroup {
                key: Vec::new(),
                count: 0,
                values: vec![String::new(); query.aggregates.len()],
            });
        }
        groups.sort_by(|a, b| query.compare_keys(&a.key, &b.key));
        groups.truncate(query.max_groups);
        groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{INTERACTION, PHONE_LOG};

    fn record(pairs: &[(&str, &str)]) -> Record {
        let mut r = Record::new(&INTERACTION);
        for (k, v) in pairs {
            r.set(k, *v);
        }
        r
    }

    fn parse(q: &str, group_by: &str, aggregates: &[(Aggregate, &str)]) -> AggregateQuery {
        AggregateQuery::parse(&INTERACTION, Some(q), Some(group_by), aggregates).unwrap()
    }

    #[test]
    fn numbers_are_shown_as_the_platform_shows_them() {
        assert_eq!(avg_text(10, 4), "2.5000");
        assert_eq!(avg_text(1, 3), "0.3333");
        assert_eq!(avg_text(5, 3), "1.6667");
        assert_eq!(avg_text(1, 20_000), "0.0001", "half up");
        assert_eq!(avg_text(1, 20_001), "0.0000");
        assert_eq!(sum_text(0, 2), "0");
        assert_eq!(sum_text(0, 0), "");
        assert_eq!(number_text("0090"), "90");
        assert_eq!(number_text("000"), "0");
        assert_eq!(number_text(""), "");
    }

    #[test]
    fn groups_aggregates_and_order() {
        let rs = [
            record(&[
                ("state", "new"),
                ("duration", "090"),
                ("short_description", "b"),
            ]),
            record(&[
                ("state", "new"),
                ("duration", "10"),
                ("short_description", "B"),
            ]),
            record(&[
                ("state", "queued"),
                ("duration", ""),
                ("short_description", ""),
            ]),
            record(&[("state", ""), ("duration", "7")]),
        ];
        let q = parse(
            "ORDERBYDESCstate",
            "state",
            &[
                (Aggregate::Avg, "duration"),
                (Aggregate::Min, "duration,short_description"),
                (Aggregate::Max, "short_description"),
                (Aggregate::Sum, "duration"),
            ],
        );
        let got = q.run_in_memory(&rs);
        let rows: Vec<(Vec<String>, u64, Vec<String>)> = got
            .into_iter()
            .map(|g| (g.key, g.count, g.values))
            .collect();
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            rows,
            [
                (s(&["queued"]), 1, s(&["", "", "", "", ""])),
                (s(&["new"]), 2, s(&["50.0000", "10", "B", "b", "100"])),
                (s(&[""]), 1, s(&["7.0000", "7", "", "", "7"])),
            ]
        );
    }

    #[test]
    fn no_group_by_is_one_group_even_of_nothing() {
        let q = parse("state=nope", "", &[(Aggregate::Max, "opened_at")]);
        let got = q.run_in_memory(&[record(&[("state", "new")])]);
        assert_eq!(
            got,
            [AggregateGroup {
                key: vec![],
                count: 0,
                values: vec![String::new()]
            }]
        );
        let grouped = parse("state=nope", "state", &[]);
        assert!(
            grouped
                .run_in_memory(&[record(&[("state", "new")])])
                .is_empty()
        );
    }

    #[test]
    fn numeric_groups_are_numbers_in_numeric_order() {
        let rs = [
            record(&[("duration", "090")]),
            record(&[("duration", "90")]),
            record(&[("duration", "100")]),
            record(&[("duration", "")]),
            record(&[("duration", "0")]),
        ];
        let keys: Vec<(String, u64)> = parse("", "duration", &[])
            .run_in_memory(&rs)
            .into_iter()
            .map(|g| (g.key[0].clone(), g.count))
            .collect();
        let want = [("", 1), ("0", 1), ("90", 2), ("100", 1)].map(|(k, n)| (k.to_owned(), n));
        assert_eq!(keys, want);
    }

    #[test]
    fn bad_fields_name_their_parameter() {
        let err = |group_by: Option<&str>, aggregates: &[(Aggregate, &str)]| {
            AggregateQuery::parse(&PHONE_LOG, None, group_by, aggregates)
                .unwrap_err()
                .to_string()
        };
        assert!(
            err(Some("call_id,nope"), &[]).starts_with("sysparm_group_by: unknown field \"nope\"")
        );
        assert!(
            err(None, &[(Aggregate::Min, "x")])
                .starts_with("sysparm_min_fields: unknown field \"x\"")
        );
        assert!(
            err(None, &[(Aggregate::Avg, "start_time")])
                .starts_with("sysparm_avg_fields: start_time holds no numbers")
        );
        assert!(
            AggregateQuery::parse(&INTERACTION, None, None, &[(Aggregate::Sum, "number")]).is_err(),
            "an interaction number is text"
        );
        let q = AggregateQuery::parse(
            &PHONE_LOG,
            None,
            Some(" agent ,\tagent,"),
            &[(Aggregate::Sum, "duration,sys_mod_count,duration")],
        )
        .unwrap();
        assert_eq!(q.group_by, ["agent"]);
        assert_eq!(
            q.aggregates,
            [
                (Aggregate::Sum, "duration"),
                (Aggregate::Sum, "sys_mod_count")
            ]
        );
    }

    #[test]
    fn groups_are_capped() {
        let rs: Vec<Record> = (0..5)
            .map(|i| record(&[("duration", &i.to_string())]))
            .collect();
        let mut q = parse("ORDERBYDESCduration", "duration", &[]);
        q.max_groups = 2;
        let keys: Vec<String> = q
            .run_in_memory(&rs)
            .into_iter()
            .map(|g| g.key[0].clone())
            .collect();
        assert_eq!(keys, ["4", "3"]);
    }
}
