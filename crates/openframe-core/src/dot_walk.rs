//! Dot-walking one level through a reference (`opened_by.user_name`, `interaction.number` on a phone log).
//!
//! In `sysparm_query` each such condition is answered first on the referenced table, then becomes
//! `reference IN (the sys_ids found)` on the queried one, so every store answers it with the rules it
//! already has; a record whose reference is empty, or names no stored record, matches no dot-walked
//! condition. In `sysparm_fields` a walked field ([`WalkedField`]) shows the referenced record's field, the
//! records reached looked up once per referenced table for a page ([`Reached`]). A query ordered through a
//! reference (`ORDERBYassigned_to.name`) is ordered here: the store answers its filter, at most
//! [`MAX_ORDERED_BY_WALK`] records ([`page_ordered`]). References to `sys_user`, `interaction` and
//! `sys_cs_provider_application` walk; through references to tables openframe does not keep, a dot is a 400.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use crate::error::{Error, Result};
use crate::query::{Condition, Direction, Op, RecordPage, TableQuery};
use crate::record::Record;
use crate::repository::Repository;
use crate::schema::{self, FieldKind, Table};
use crate::sys_id::SysId;
use crate::user;

/// The most records one dot-walked condition may match on the referenced table.
pub const MAX_WALKED: usize = 10_000;

/// The most records a query ordering through a reference may match: such a query is ordered in memory.
pub const MAX_ORDERED_BY_WALK: usize = 10_000;

/// A query's dot-walks resolved: the encoded query for the store, and, when it orders by a field of a
/// referenced record, every sort key of it in order (the encoded query then has no `ORDERBY`).
#[derive(Clone, Debug)]
pub struct Resolved<'q> {
    /// The encoded query, each walked condition replaced by a condition on the reference.
    pub query: Cow<'q, str>,
    /// All the query's sort keys when one of them walks; empty otherwise (the store orders).
    pub order: Vec<OrderKey>,
}

/// A sort key of a query that orders through a reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderKey {
    /// A field of the queried table.
    Own(&'static str, Direction),
    /// A field of the referenced record.
    Walked(WalkedField, Direction),
}

/// `query` with each dot-walked condition replaced by a condition on the reference, and the sort keys
/// when it orders through a reference.
pub async fn resolve<'q>(
    repo: &dyn Repository,
    table: &'static Table,
    query: &'q str,
) -> Result<Resolved<'q>> {
    if !query.contains('.') {
        return Ok(Resolved {
            query: Cow::Borrowed(query),
            order: Vec::new(),
        });
    }
    let orders_by_walk = query
        .split('^')
        .any(|t| order_field(t).is_some_and(|(name, _)| name.contains('.')));
    let mut tokens = Vec::new();
    let mut order = Vec::new();
    let mut rewritten = false;
    for token in query.split('^') {
        if let (true, Some((name, direction))) = (orders_by_walk, order_field(token)) {
            order.push(order_key(table, name, direction)?);
            rewritten = true;
            continue;
        }
        match walk(table, token)? {
            Some(step) => {
                tokens.push(step.resolve(repo).await?);
                rewritten = true;
            }
            None => tokens.push(token.to_owned()),
        }
    }
    Ok(Resolved {
        query: if rewritten {
            Cow::Owned(tokens.join("^"))
        } else {
            Cow::Borrowed(query)
        },
        order,
    })
}

/// The field and direction of an `ORDERBY`/`ORDERBYDESC` token.
fn order_field(token: &str) -> Option<(&str, Direction)> {
    token
        .strip_prefix("ORDERBYDESC")
        .map(|name| (name, Direction::Descending))
        .or_else(|| {
            token
                .strip_prefix("ORDERBY")
                .map(|name| (name, Direction::Ascending))
        })
}

fn order_key(table: &'static Table, name: &str, direction: Direction) -> Result<OrderKey> {
    if name.contains('.') {
        return Ok(OrderKey::Walked(
            WalkedField::parse_as(table, name, "sysparm_query")?,
            direction,
        ));
    }
    let (_, def) = table.field(name).ok_or_else(|| {
        Error::invalid(
            "sysparm_query",
            format!("unknown field {name:?} of table {}", table.name),
        )
    })?;
    Ok(OrderKey::Own(def.name, direction))
}

/// The page `query` selects, ordered by `keys` (from [`Resolved::order`]) then `sys_id`: the store answers
/// the filter, and the records are ordered here with the fields their references reach. A 400 when the
/// query matches more than [`MAX_ORDERED_BY_WALK`] records.
pub async fn page_ordered(
    repo: &dyn Repository,
    query: &TableQuery,
    keys: &[OrderKey],
) -> Result<RecordPage> {
    let mut all = query.clone();
    all.order.clear();
    all.offset = 0;
    all.limit = MAX_ORDERED_BY_WALK + 1;
    all.count = false;
    let mut records = repo.query_records(&all).await?.records;
    if records.len() > MAX_ORDERED_BY_WALK {
        return Err(Error::invalid(
            "sysparm_query",
            format!(
                "ordering by a field of a referenced record needs a query matching at most \
                 {MAX_ORDERED_BY_WALK} records: narrow it"
            ),
        ));
    }
    let walks: Vec<WalkedField> = keys
        .iter()
        .filter_map(|k| match k {
            OrderKey::Walked(walk, _) => Some(walk.clone()),
            OrderKey::Own(..) => None,
        })
        .collect();
    let reached = Reached::look_up(repo, &records, &walks).await?;
    let value = |record: &'_ Record, key: &OrderKey| -> String {
        match key {
            OrderKey::Own(name, _) => record.get(name).to_owned(),
            OrderKey::Walked(walk, _) => reached
                .record(record, walk)
                .map_or_else(String::new, |r| r.get(walk.field).to_owned()),
        }
    };
    // Byte-wise, as the stores order (`TableQuery::compare`), then by sys_id.
    let mut keyed: Vec<(Vec<String>, Record)> = records
        .drain(..)
        .map(|r| (keys.iter().map(|k| value(&r, k)).collect(), r))
        .collect();
    keyed.sort_by(|(ka, a), (kb, b)| {
        for (i, key) in keys.iter().enumerate() {
            let direction = match key {
                OrderKey::Own(_, d) | OrderKey::Walked(_, d) => *d,
            };
            let ord = ka[i].cmp(&kb[i]);
            let ord = match direction {
                Direction::Ascending => ord,
                Direction::Descending => ord.reverse(),
            };
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        a.sys_id().cmp(b.sys_id())
    });
    let total = if query.count { keyed.len() as u64 } else { 0 };
    Ok(RecordPage {
        records: keyed
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .map(|(_, r)| r)
            .collect(),
        total,
    })
}

/// One dot-walked condition: `<prefix><reference>.<condition on the referenced table>`.
struct Step<'t> {
    /// `NQ`, `OR` or nothing.
    prefix: &'t str,
    reference: &'static str,
    target: &'static Table,
    condition: &'t str,
}

/// The token's dot-walk, if it is one. `ORDERBY` through a dot, or a dot after a field that is no
/// reference to a table openframe keeps, is a 400.
fn walk<'t>(table: &'static Table, token: &'t str) -> Result<Option<Step<'t>>> {
    if order_field(token).is_some() {
        return Ok(None);
    }
    let (prefix, rest) = ["NQ", "OR"]
        .iter()
        .find_map(|p| token.strip_prefix(p).map(|rest| (*p, rest)))
        .unwrap_or(("", token));
    let name_end = rest
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        .unwrap_or(rest.len());
    let (name, after) = rest.split_at(name_end);
    let Some(condition) = after.strip_prefix('.') else {
        return Ok(None);
    };
    let target = match table.field(name).map(|(_, def)| def.kind) {
        Some(FieldKind::Reference(target)) => schema::readable_table(target),
        _ => None,
    };
    let Some(target) = target else {
        return Err(Error::invalid(
            "sysparm_query",
            format!(
                "{name}.…: only references to sys_user, interaction and sys_cs_provider_application can be \
                 dot-walked, one level"
            ),
        ));
    };
    let reference = table
        .field(name)
        .map(|(_, def)| def.name)
        .unwrap_or_default();
    Ok(Some(Step {
        prefix,
        reference,
        target,
        condition,
    }))
}

impl Step<'_> {
    /// `<prefix><reference>IN<sys_ids>`, or a condition nothing matches when no record does.
    async fn resolve(&self, repo: &dyn Repository) -> Result<String> {
        let mut inner = TableQuery::parse(self.target, Some(self.condition), None, None).map_err(
            |e| match e {
                Error::Invalid { rule, .. } => {
                    Error::invalid("sysparm_query", format!("{}.…: {rule}", self.reference))
                }
                other => other,
            },
        )?;
        inner.order.clear();
        inner.limit = MAX_WALKED + 1;
        inner.count = false;
        let found: Vec<String> = if std::ptr::eq(self.target, &schema::SYS_USER) {
            let users = user::all_user_records(repo).await?;
            inner.run_in_memory(&users)
        } else {
            repo.query_records(&inner).await?
        }
        .records
        .iter()
        .map(|r| r.sys_id().to_owned())
        .collect();
        if found.len() > MAX_WALKED {
            return Err(Error::invalid(
                "sysparm_query",
                format!(
                    "{}.{} matches more than {MAX_WALKED} {} records: narrow it",
                    self.reference, self.condition, self.target.name
                ),
            ));
        }
        Ok(if found.is_empty() {
            // No sys_id is empty: nothing matches.
            format!("{}sys_idISEMPTY", self.prefix)
        } else {
            format!("{}{}IN{}", self.prefix, self.reference, found.join(","))
        })
    }
}

/// A field of a referenced record named in `sysparm_fields`: `<reference>.<field>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkedField {
    /// The name as given, which is also the name the field is shown under.
    pub name: String,
    /// The reference field of the queried table.
    pub reference: &'static str,
    /// The table it references.
    pub target: &'static Table,
    /// The field of that table.
    pub field: &'static str,
}

impl WalkedField {
    /// Parses `item` (`opened_by.user_name`) against `table`; a 400 naming `sysparm_fields` otherwise.
    pub fn parse(table: &'static Table, item: &str) -> Result<Self> {
        Self::parse_as(table, item, "sysparm_fields")
    }

    /// [`WalkedField::parse`], a 400 naming `param`.
    fn parse_as(table: &'static Table, item: &str, param: &str) -> Result<Self> {
        let invalid = |rule: String| Error::invalid(param, rule);
        let (reference, field) = item
            .split_once('.')
            .ok_or_else(|| invalid(format!("{item:?} is no dot-walked field")))?;
        let target = match table.field(reference).map(|(_, def)| def.kind) {
            Some(FieldKind::Reference(target)) => schema::readable_table(target),
            _ => None,
        }
        .ok_or_else(|| {
            invalid(format!(
                "{item}: only references to sys_user, interaction and sys_cs_provider_application can be \
                 dot-walked, one level"
            ))
        })?;
        let (_, reference) = table.field(reference).expect("checked above");
        let (_, field) = target.field(field).ok_or_else(|| {
            invalid(format!(
                "{item}: unknown field {field:?} of table {}",
                target.name
            ))
        })?;
        Ok(WalkedField {
            name: item.to_owned(),
            reference: reference.name,
            target,
            field: field.name,
        })
    }
}

/// The records that the walked fields of a page reach, by table and sys_id.
#[derive(Debug, Default)]
pub struct Reached {
    records: HashMap<&'static str, HashMap<String, Record>>,
}

impl Reached {
    /// Looks up the records `walks` reach from `records`: one query per referenced table.
    pub async fn look_up(
        repo: &dyn Repository,
        records: &[Record],
        walks: &[WalkedField],
    ) -> Result<Self> {
        let mut wanted: HashMap<&'static str, (&'static Table, BTreeSet<&str>)> = HashMap::new();
        for walk in walks {
            let ids = &mut wanted
                .entry(walk.target.name)
                .or_insert((walk.target, BTreeSet::new()))
                .1;
            ids.extend(
                records
                    .iter()
                    .map(|r| r.get(walk.reference))
                    .filter(|v| !v.is_empty()),
            );
        }
        let mut reached = Reached::default();
        for (name, (target, ids)) in wanted {
            let ids: Vec<SysId> = ids
                .into_iter()
                .filter_map(|id| SysId::parse(id).ok())
                .collect();
            let found = records_by_sys_id(repo, target, &ids).await?;
            reached.records.insert(
                name,
                found
                    .into_iter()
                    .map(|r| (r.sys_id().to_owned(), r))
                    .collect(),
            );
        }
        Ok(reached)
    }

    /// The record `walk` reaches from `record`, when it is stored.
    pub fn record(&self, record: &Record, walk: &WalkedField) -> Option<&Record> {
        self.records
            .get(walk.target.name)
            .and_then(|by_id| by_id.get(record.get(walk.reference)))
    }
}

/// The records of `table` among `ids`, in one query (`sys_user`: the users, as records).
pub async fn records_by_sys_id(
    repo: &dyn Repository,
    table: &'static Table,
    ids: &[SysId],
) -> Result<Vec<Record>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    if std::ptr::eq(table, &schema::SYS_USER) {
        let users = repo.find_users_by_sys_id(ids).await?;
        return Ok(users.iter().map(crate::User::to_record).collect());
    }
    let mut query = TableQuery::all(table);
    let mut condition = Condition::new(crate::schema::field::SYS_ID, Op::In, "");
    condition.values = ids.iter().map(|id| id.as_str().to_owned()).collect();
    query.filter = vec![vec![condition]];
    query.limit = ids.len();
    query.count = false;
    Ok(repo.query_records(&query).await?.records)
}
