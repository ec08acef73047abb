//! The Table API on the trees: which index a [`TableQuery`] can use (its [`Plan`]), and running it.
//!
//! A query whose filter has an AND-group made only of `Equals` conditions on indexed fields (`sys_id` of every
//! table, an interaction's `number` and `client_session_id`, a child's `interaction`, a provider
//! application's `inbound_id`) takes its candidates from point or prefix lookups on those indexes (the union
//! of the group's lookups; every record passing the filter passes that group, so it is among them), then
//! applies the whole filter to each candidate. Any other query streams the table's tree: each row is decoded
//! and filtered one at a time, and a match is kept only while it may still be on the requested page (a
//! buffer of at most twice `offset + limit` records), so memory follows the page, not the table.
//!
//! ## Consistency
//!
//! Queries use plain reads. Each read (a `get`, one step of an iterator) waits for a batch being applied and
//! so sees every write whole, and each record returned is one committed version of it. Index entries are
//! written in the same batch as their record, so a record committed before the query starts and not deleted
//! while it runs is considered exactly once. A delete may come between reading an index entry and reading
//! the record it leads to: the record is then gone (skipped), or for a child moved up by a sibling's delete
//! another record is found there (which the query's filter judges like any candidate; a read by sys_id
//! looks again). A page is not a snapshot
//! of one instant, though: a record written while the query runs may be seen in its old or its new version,
//! and `total` may count a record created meanwhile. The Table API reads records one by one; it has no use
//! for a cross-record snapshot.

use std::collections::BTreeMap;

use openframe_core::query::{Condition, Op, RecordPage, TableQuery, fold, stored_case};
use openframe_core::schema::{
    INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, Table, field,
};
use openframe_core::stats::{Accumulator, AggregateGroup, AggregateQuery};
use openframe_core::{Error, Record, Result};
use sled::{IVec, Tree};

use crate::codec;
use crate::directory::{self, Kind};
use crate::error::from_sled;
use crate::interactions;
use crate::layout::{
    ChildTable, INTERACTIONS_PREFIX, Trees, child_address, client_session_prefix, interaction_key,
    parse_child_address, trailing_id,
};

/// How many times a read by sys_id looks a record up again when its entry led to another (see
/// [`Trees::read_record`]): each retry follows a delete that committed in between.
const STALE_LOOKUP_TRIES: usize = 3;

/// How a query finds its candidates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Every record of the table, streamed from its tree.
    Scan,
    /// The records these index lookups find, each an `Equals` condition of one AND-group.
    Lookups(Vec<Lookup>),
}

/// One lookup on an index: the records whose `field` equals `value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Lookup {
    pub(crate) field: &'static str,
    pub(crate) value: String,
}

/// A query's answer, with how it was found: the tests check that indexed lookups examine only what the
/// index leads to.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) page: RecordPage,
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) plan: Plan,
    /// How many records were decoded and filtered.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) examined: u64,
}

/// A lookup's rough cost in records: a unique index finds at most one, a shared one any number.
const UNIQUE: u32 = 1;
const SHARED: u32 = 100;

/// The records a plan's lookups found, by their key in the table's own tree or, for a child, its address (so
/// each is considered once, in the table's order), with the record if the lookup read it already.
type Candidates = BTreeMap<IVec, Option<Record>>;

/// Where the records of a table are stored.
#[derive(Clone, Copy)]
enum Source {
    /// Interaction rows in `data`.
    Interactions,
    /// One kind of child, in the interaction rows of `data`.
    Children(ChildTable, &'static Table),
    /// The `provider_applications` tree.
    Providers,
}

impl Trees {
    fn source(&self, table: &'static Table) -> Option<Source> {
        if table == &INTERACTION {
            Some(Source::Interactions)
        } else if table == &PHONE_LOG {
            Some(Source::Children(ChildTable::PhoneLog, &PHONE_LOG))
        } else if table == &RELATED_RECORD {
            Some(Source::Children(ChildTable::RelatedRecord, &RELATED_RECORD))
        } else if table == &PROVIDER_APPLICATION {
            Some(Source::Providers)
        } else {
            None
        }
    }

    /// The record of `table` with this sys_id: one lookup on the table's sys_id index.
    pub(crate) fn read_record(
        &self,
        table: &'static Table,
        sys_id: &str,
    ) -> Result<Option<Record>> {
        let Some(source) = self.source(table) else {
            return Ok(None);
        };
        let lookup = Lookup {
            field: field::SYS_ID,
            value: sys_id.to_owned(),
        };
        // A child's entry read just before a sibling's delete moved it leads to another record (or none):
        // the lookup is made again, and then sees the batch that moved it whole.
        for _ in 0..STALE_LOOKUP_TRIES {
            let mut found = Candidates::new();
            self.candidates(source, &lookup, &mut found)?;
            if found.is_empty() {
                return Ok(None);
            }
            for (key, row) in found {
                if let Some(record) = self.fetch(source, &key, row)?
                    && record.sys_id() == sys_id
                {
                    return Ok(Some(record));
                }
            }
        }
        Ok(None)
    }

    /// Runs `query`: its filter, order and page, natively on the trees.
    pub(crate) fn query(&self, query: &TableQuery) -> Result<Run> {
        let plan = plan(query);
        let mut page = PageBuilder::new(query);
        if let Some(source) = self.source(query.table) {
            self.each_candidate(source, &plan, &mut |record| page.offer(record))?;
        }
        Ok(page.finish(plan))
    }

    /// Runs the Aggregate API request `query`: each candidate its filter's plan finds goes through core's
    /// [`Accumulator`], which keeps one total per group, never the records.
    pub(crate) fn aggregate(&self, query: &AggregateQuery) -> Result<Vec<AggregateGroup>> {
        let mut acc = Accumulator::new(query);
        if let Some(source) = self.source(query.query.table) {
            let plan = plan(&query.query);
            self.each_candidate(source, &plan, &mut |record| acc.offer(&record))?;
        }
        Ok(acc.finish())
    }

    /// Hands `offer` every record `plan` finds of `source`, each once, in the table's order.
    fn each_candidate(
        &self,
        source: Source,
        plan: &Plan,
        offer: &mut dyn FnMut(Record),
    ) -> Result<()> {
        match plan {
            Plan::Lookups(lookups) => {
                // By key: lookups of one group may find the same record twice (`sys_id=a^ORnumber=…`).
                let mut found = Candidates::new();
                for lookup in lookups {
                    self.candidates(source, lookup, &mut found)?;
                }
                for (key, row) in found {
                    if let Some(record) = self.fetch(source, &key, row)? {
                        offer(record);
                    }
                }
            }
            Plan::Scan => match source {
                Source::Interactions => {
                    for row in self.data.scan_prefix(INTERACTIONS_PREFIX).values() {
                        offer(codec::decode_interaction_record(&row.map_err(from_sled)?)?);
                    }
                }
                // Interactions in creation order, each one's children in theirs: the addresses' order.
                Source::Children(_, table) => {
                    for row in self.data.scan_prefix(INTERACTIONS_PREFIX).values() {
                        for child in codec::decode_children(table, &row.map_err(from_sled)?)? {
                            offer(child);
                        }
                    }
                }
                Source::Providers => {
                    for row in self.provider_applications.iter().values() {
                        offer(codec::decode_record(
                            &PROVIDER_APPLICATION,
                            &row.map_err(from_sled)?,
                        )?);
                    }
                }
            },
        }
        Ok(())
    }

    /// Adds to `found` every record `lookup` may find: its key in the table's own tree (a child's address),
    /// and the record when the lookup read it already.
    fn candidates(&self, source: Source, lookup: &Lookup, found: &mut Candidates) -> Result<()> {
        let value = lookup.value.as_str();
        let data = &self.data;
        let get = |tree: &Tree, key: &[u8]| tree.get(key).map_err(from_sled);
        let mut by_key = |key: Option<IVec>| {
            if let Some(key) = key {
                found.entry(key).or_insert(None);
            }
        };
        match (source, lookup.field) {
            (Source::Interactions, field::SYS_ID) => {
                if let Some(at) = directory::find(data, Kind::Interaction, value)? {
                    by_key(Some(IVec::from(interaction_key(at.id))));
                }
            }
            (Source::Interactions, field::NUMBER) => {
                for id in interactions::ids_by_number(data, value)? {
                    by_key(Some(IVec::from(interaction_key(id))));
                }
            }
            (Source::Interactions, field::CLIENT_SESSION_ID) => {
                let prefix = client_session_prefix(value);
                for key in data.scan_prefix(&prefix).keys() {
                    let key = key.map_err(from_sled)?;
                    // Exactly the prefix and an id: a longer session id has a different length prefix.
                    let id = (key.len() == prefix.len() + 8)
                        .then(|| trailing_id(&key))
                        .flatten()
                        .ok_or_else(|| Error::internal("corrupt client-session index entry"))?;
                    by_key(Some(IVec::from(interaction_key(id))));
                }
            }
            (Source::Children(kind, _), field::SYS_ID) => {
                if let Some(at) = directory::find(data, Kind::Child(kind), value)? {
                    by_key(Some(IVec::from(child_address(kind, at.id, at.position))));
                }
            }
            (Source::Children(kind, table), field::INTERACTION) => {
                // Any stray child, whose `interaction` field may name it (see `layout`)…
                for key in data.scan_prefix(kind.strays_prefix()).values() {
                    by_key(Some(key.map_err(from_sled)?));
                }
                // …and the children stored in that interaction's row.
                if let Some((id, row)) = interactions::find(data, value)? {
                    for (position, child) in
                        codec::decode_children(table, &row)?.into_iter().enumerate()
                    {
                        let address = child_address(kind, id, position as u64);
                        found.insert(IVec::from(address), Some(child));
                    }
                }
            }
            (Source::Providers, field::SYS_ID) => {
                if let Some(row) = get(&self.provider_applications, value.as_bytes())? {
                    let record = codec::decode_record(&PROVIDER_APPLICATION, &row)?;
                    found.insert(IVec::from(value.as_bytes()), Some(record));
                }
            }
            (_, other) => {
                return Err(Error::internal(format!(
                    "no index on {other} in the sled store"
                )));
            }
        }
        Ok(())
    }

    /// The record at `key` of the table's own tree (a child's address): `found` if the lookup read it, else
    /// read now. An index entry is written in the same batch as its record, so the record must be there.
    /// The record at `key`, or `None` when a delete removed (or moved) it after its index entry was read.
    fn fetch(&self, source: Source, key: &[u8], found: Option<Record>) -> Result<Option<Record>> {
        if let Some(record) = found {
            return Ok(Some(record));
        }
        let corrupt = || {
            Error::internal(format!(
                "a corrupt index entry in the sled store: {}",
                String::from_utf8_lossy(key)
            ))
        };
        let get = |tree: &Tree, key: &[u8]| tree.get(key).map_err(from_sled);
        match source {
            Source::Interactions => get(&self.data, key)?
                .map(|row| codec::decode_interaction_record(&row))
                .transpose(),
            Source::Children(kind, table) => {
                let (id, position) = parse_child_address(kind, key).ok_or_else(corrupt)?;
                let Some(row) = get(&self.data, &interaction_key(id))? else {
                    return Ok(None);
                };
                Ok(codec::decode_children(table, &row)?
                    .into_iter()
                    .nth(position))
            }
            Source::Providers => get(&self.provider_applications, key)?
                .map(|row| codec::decode_record(&PROVIDER_APPLICATION, &row))
                .transpose(),
        }
    }
}

/// How `query` finds its candidates: the cheapest AND-group that is all index lookups, else a scan. A
/// query with `^NQ` alternatives scans: a record may pass any of them.
pub(crate) fn plan(query: &TableQuery) -> Plan {
    if !query.or_filters.is_empty() {
        return Plan::Scan;
    }
    query
        .filter
        .iter()
        .filter_map(|group| {
            let mut cost = 0;
            let mut lookups = Vec::with_capacity(group.len());
            for condition in group {
                cost += lookup_cost(query.table, condition)?;
                // Equality folds ASCII case: the operand in the case the field's values are stored in
                // (sys_ids, numbers), else folded as the client-session index keys are.
                let value = match stored_case(query.table, condition.field) {
                    Some(case) => case.apply(&condition.value),
                    None => fold(&condition.value),
                };
                lookups.push(Lookup {
                    field: condition.field,
                    value,
                });
            }
            // An empty group matches nothing: no lookups, no candidates, the cheapest plan of all.
            Some((cost, lookups))
        })
        .min_by_key(|(cost, _)| *cost)
        .map_or(Plan::Scan, |(_, lookups)| Plan::Lookups(lookups))
}

/// The cost of finding the records that satisfy `condition` by an index, if one can.
///
/// Only `Equals` with a value: no index lists the records whose field is empty (unset numbers and sessions
/// are not indexed), so `field=` scans like any other condition.
fn lookup_cost(table: &'static Table, condition: &Condition) -> Option<u32> {
    if condition.op != Op::Equals || condition.value.is_empty() {
        return None;
    }
    let child = table == &PHONE_LOG || table == &RELATED_RECORD;
    match condition.field {
        field::SYS_ID => Some(UNIQUE),
        field::NUMBER if table == &INTERACTION => Some(UNIQUE),
        field::CLIENT_SESSION_ID if table == &INTERACTION => Some(SHARED),
        field::INTERACTION if child => Some(SHARED),
        // No `inbound_id`: its index is by the id as registered, and equality folds case (a scan of the
        // few provider applications finds every match).
        _ => None,
    }
}

/// Collects the matches of a query, keeping only those that may still be on its page.
struct PageBuilder<'q> {
    query: &'q TableQuery,
    /// How many of the first matches in query order the page needs: `offset + limit`.
    keep: usize,
    hits: Vec<Record>,
    total: u64,
    examined: u64,
}

impl<'q> PageBuilder<'q> {
    fn new(query: &'q TableQuery) -> Self {
        PageBuilder {
            query,
            keep: query.offset.saturating_add(query.limit),
            hits: Vec::new(),
            total: 0,
            examined: 0,
        }
    }

    /// Counts `record` if it passes the filter, and keeps it while it may be on the page.
    fn offer(&mut self, record: Record) {
        self.examined += 1;
        if !self.query.matches(&record) {
            return;
        }
        self.total += 1;
        if self.keep == 0 {
            return;
        }
        self.hits.push(record);
        // Pruning at twice the page keeps the cost of a scan at O(n log keep) and its memory at 2 * keep.
        if self.hits.len() >= self.keep.saturating_mul(2) {
            self.prune();
        }
    }

    /// Drops every hit after the first `keep` in query order.
    fn prune(&mut self) {
        if self.hits.len() > self.keep {
            let query = self.query;
            self.hits
                .select_nth_unstable_by(self.keep, |a, b| query.compare(a, b));
            self.hits.truncate(self.keep);
        }
    }

    fn finish(mut self, plan: Plan) -> Run {
        let query = self.query;
        self.hits.sort_by(|a, b| query.compare(a, b));
        let records = self
            .hits
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .collect();
        Run {
            page: RecordPage {
                records,
                total: if query.count { self.total } else { 0 },
            },
            plan,
            examined: self.examined,
        }
    }
}

#[cfg(test)]
mod tests {
    use openframe_core::schema::{INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD};
    use openframe_core::{AggregateChange, Context, InteractionAggregate, Repository, SysId};

    use super::*;
    use crate::SledRepository;

    fn query(table: &'static Table, q: &str) -> TableQuery {
        TableQuery::parse(table, Some(q), None, None).unwrap()
    }

    fn lookups(pairs: &[(&'static str, &str)]) -> Plan {
        Plan::Lookups(
            pairs
                .iter()
                .map(|(field, value)| Lookup {
                    field,
                    value: (*value).to_owned(),
                })
                .collect(),
        )
    }

    #[test]
    fn equality_on_an_indexed_field_is_a_lookup() {
        let id = "0123456789abcdef0123456789abcdef";
        let upper = id.to_ascii_uppercase();
        // Equality folds ASCII case: the lookup is by the stored case (sys_ids, numbers) or folded (sessions).
        let cases = [
            (&INTERACTION, "sys_id", id, id),
            (&INTERACTION, "sys_id", upper.as_str(), id),
            (&INTERACTION, "number", "IMS0001001", "IMS0001001"),
            (&INTERACTION, "number", "ims0001001", "IMS0001001"),
            (&INTERACTION, "client_session_id", "S-1", "s-1"),
            (&PHONE_LOG, "sys_id", id, id),
            (&PHONE_LOG, "interaction", upper.as_str(), id),
            (&RELATED_RECORD, "sys_id", id, id),
            (&RELATED_RECORD, "interaction", id, id),
            (&PROVIDER_APPLICATION, "sys_id", id, id),
        ];
        for (table, field, value, looked_up) in cases {
            let field = table.field(field).unwrap().1.name;
            let q = query(table, &format!("sys_created_by!=x^{field}={value}"));
            assert_eq!(
                plan(&q),
                lookups(&[(field, looked_up)]),
                "{}.{field}",
                table.name
            );
        }
    }

    #[test]
    fn anything_else_scans() {
        for q in [
            "",
            "state=new",
            "numberSTARTSWITHIMS",
            "number!=IMS0001001",
            "numberLIKE1001",
            "numberISEMPTY",
            "number=",
            "sys_id=a^ORstate=new",
        ] {
            assert_eq!(plan(&query(&INTERACTION, q)), Plan::Scan, "{q}");
        }
        // Fields indexed in one table are not in another.
        assert_eq!(plan(&query(&PHONE_LOG, "call_id=c")), Plan::Scan);
        assert_eq!(plan(&query(&PROVIDER_APPLICATION, "name=n")), Plan::Scan);
    }

    #[test]
    fn the_cheapest_group_of_lookups_wins() {
        let q = query(
            &INTERACTION,
            "client_session_id=s^number=IMS0001001^ORsys_id=x^state=new",
        );
        assert_eq!(
            plan(&q),
            lookups(&[("number", "IMS0001001"), ("sys_id", "x")])
        );
        let q = query(&INTERACTION, "state=new^client_session_id=s");
        assert_eq!(plan(&q), lookups(&[("client_session_id", "s")]));
        // A group that matches nothing needs no lookup at all.
        let mut q = query(&INTERACTION, "state=new");
        q.filter.push(Vec::new());
        assert_eq!(plan(&q), Plan::Lookups(Vec::new()));
    }

    fn record(table: &'static Table, pairs: &[(&str, &str)]) -> Record {
        let mut r = Record::new(table);
        r.set(field::SYS_ID, SysId::random().as_str());
        for (k, v) in pairs {
            r.set(k, *v);
        }
        r
    }

    /// An interaction in session `session` with `logs` phone logs and one related record.
    fn aggregate(session: &str, logs: usize) -> InteractionAggregate {
        let interaction = record(&INTERACTION, &[("client_session_id", session)]);
        let id = interaction.sys_id().to_owned();
        InteractionAggregate {
            phone_logs: (0..logs)
                .map(|n| {
                    record(
                        &PHONE_LOG,
                        &[("interaction", &id), ("call_id", &format!("c-{n}"))],
                    )
                })
                .collect(),
            related_records: vec![record(&RELATED_RECORD, &[("interaction", &id)])],
            interaction,
            context: Context::new(),
        }
    }

    /// Runs `q` on `repo` and checks it against the reference on `all`, and that it examined `examined`.
    fn check(repo: &SledRepository, all: &[Record], q: &TableQuery, examined: u64) -> Run {
        let run = repo.trees.query(q).unwrap();
        let table: Vec<&Record> = all.iter().filter(|r| r.table() == q.table).collect();
        assert_eq!(run.page, q.run_in_memory(table), "{q:?}");
        assert_eq!(run.examined, examined, "{q:?} took {:?}", run.plan);
        run
    }

    #[tokio::test]
    async fn lookups_examine_only_what_the_index_finds() {
        let repo = SledRepository::temporary().unwrap();
        let mut all = Vec::new();
        let mut ids = Vec::new();
        for n in 0..20 {
            let new = aggregate(if n % 5 == 0 { "shared" } else { "" }, 3);
            ids.push(new.interaction.sys_id().to_owned());
            let number = repo.create_interaction(new.clone()).await.unwrap();
            let mut interaction = new.interaction;
            interaction.set(field::NUMBER, number.as_str());
            all.push(interaction);
            all.extend(new.phone_logs);
            all.extend(new.related_records);
        }
        for n in 0..10 {
            let app = record(
                &PROVIDER_APPLICATION,
                &[("inbound_id", &format!("gen-{n}")), ("name", "Genesys")],
            );
            repo.add_provider_application(&app).await.unwrap();
            all.push(app);
        }

        let (id, log) = (&ids[7], all[7 * 5 + 1].clone());
        let cases = [
            (query(&INTERACTION, &format!("sys_id={id}")), 1, 1),
            (query(&INTERACTION, "number=IMS0001008"), 1, 1),
            (query(&INTERACTION, "number=IMS0009999"), 0, 0),
            (query(&INTERACTION, "client_session_id=shared"), 4, 4),
            (
                query(&INTERACTION, "client_session_id=shared^number=IMS0001006"),
                1,
                1,
            ),
            (
                query(
                    &INTERACTION,
                    "sys_id=nope^ORnumber=IMS0001001^ORnumber=IMS0001002",
                ),
                2,
                2,
            ),
            (query(&PHONE_LOG, &format!("sys_id={}", log.sys_id())), 1, 1),
            (
                query(&PHONE_LOG, &format!("interaction={id}^call_id!=c-1")),
                3,
                2,
            ),
            (
                query(
                    &PHONE_LOG,
                    &format!("interaction={id}^ORinteraction={}", ids[8]),
                ),
                6,
                6,
            ),
            (query(&RELATED_RECORD, &format!("interaction={id}")), 1, 1),
            (
                query(
                    &PROVIDER_APPLICATION,
                    &format!("sys_id={}", all.last().unwrap().sys_id()),
                ),
                1,
                1,
            ),
        ];
        for (q, examined, hits) in cases {
            let run = check(&repo, &all, &q, examined);
            assert!(matches!(run.plan, Plan::Lookups(_)), "{q:?}");
            assert_eq!(run.page.total, hits, "{q:?}");
        }
        // Inbound ids are registered in any case, and equality folds it: the few applications are scanned.
        let run = check(
            &repo,
            &all,
            &query(&PROVIDER_APPLICATION, "inbound_id=GEN-3"),
            10,
        );
        assert_eq!((run.plan, run.page.total), (Plan::Scan, 1));
        // A scan examines the whole table, and still keeps only the page.
        let mut q = query(&PHONE_LOG, "ORDERBYDESCcall_id");
        q.limit = 2;
        q.offset = 3;
        let run = check(&repo, &all, &q, 60);
        assert_eq!((run.plan, run.page.records.len()), (Plan::Scan, 2));

        // read_record finds a record of its own table only.
        let trees = &repo.trees;
        assert_eq!(
            trees.read_record(&PHONE_LOG, log.sys_id()).unwrap(),
            Some(log.clone())
        );
        assert_eq!(
            trees.read_record(&RELATED_RECORD, log.sys_id()).unwrap(),
            None
        );
        assert_eq!(trees.read_record(&INTERACTION, log.sys_id()).unwrap(), None);
        assert_eq!(
            trees
                .read_record(&INTERACTION, id)
                .unwrap()
                .unwrap()
                .sys_id(),
            id
        );
    }

    #[tokio::test]
    async fn children_whose_interaction_field_names_another_are_found_by_it() {
        let repo = SledRepository::temporary().unwrap();
        let (a, b) = (aggregate("", 2), aggregate("", 0));
        let (a_id, b_id) = (
            a.interaction.sys_id().to_owned(),
            b.interaction.sys_id().to_owned(),
        );
        // A log stored under `a` that claims to be `b`'s, and one that names no interaction.
        let mut stray = a.clone();
        stray.phone_logs[0].set(field::INTERACTION, b_id.as_str());
        stray.phone_logs[1].set(field::INTERACTION, "");
        repo.create_interaction(stray.clone()).await.unwrap();
        repo.create_interaction(b).await.unwrap();
        let by = |id: &str| query(&PHONE_LOG, &format!("interaction={id}"));
        let ids = |q: &TableQuery| -> Vec<String> {
            let run = repo.trees.query(q).unwrap();
            run.page
                .records
                .iter()
                .map(|r| r.sys_id().to_owned())
                .collect()
        };
        assert_eq!(ids(&by(&b_id)), [stray.phone_logs[0].sys_id()]);
        assert!(ids(&by(&a_id)).is_empty());

        // Replacing the log with one that names `a` takes it off the stray list.
        let mut fixed = stray.phone_logs[0].clone();
        fixed.set(field::INTERACTION, a_id.as_str());
        let change = AggregateChange {
            interaction: stray.interaction.clone(),
            context_set: Context::new(),
            context_removed: Default::default(),
            phone_logs: vec![fixed.clone()],
            related_records: Vec::new(),
            removed: Default::default(),
        };
        let id = SysId::parse(&a_id).unwrap();
        repo.update_interaction(&id, Box::new(move |_| Ok(change.clone())))
            .await
            .unwrap();
        assert!(ids(&by(&b_id)).is_empty());
        assert_eq!(ids(&by(&a_id)), [fixed.sys_id()]);
        let strays = repo
            .trees
            .data
            .scan_prefix(ChildTable::PhoneLog.strays_prefix());
        assert_eq!(strays.count(), 1);
    }
}
