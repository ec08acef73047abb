//! What query answers are checked against: a [`Corpus`] stores the same interactions (through the service)
//! and provider applications in the store under test and in the reference, and [`Known`] holds every record
//! that left in each table, read back from the reference. A store's page for a query must equal
//! [`TableQuery::run_in_memory`] over those records, field for field.

use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::Value;

use crate::query::{Direction, RecordPage, TableQuery};
use crate::record::Record;
use crate::repository::Repository;
use crate::schema::{PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, Table};
use crate::sys_id::SysId;

use super::fixture::{Twin, ok, record_difference};

/// Interactions and provider applications stored alike in the store under test and the reference.
#[derive(Debug)]
pub(crate) struct Corpus {
    twin: Twin,
    interactions: Vec<SysId>,
    providers: Vec<Record>,
}

impl Corpus {
    /// An empty corpus over the store under test `repo` (fresh and empty) and a fresh reference.
    pub(crate) fn new(repo: &Arc<dyn Repository>) -> Self {
        Corpus {
            twin: Twin::new(repo),
            interactions: Vec::new(),
            providers: Vec::new(),
        }
    }

    /// POSTs `body` to both sides, which must agree; the new interaction's sys_id.
    pub(crate) async fn create(&mut self, body: &Value) -> SysId {
        let id = self.twin.create(body).await.sys_id;
        self.interactions.push(id.clone());
        id
    }

    /// PATCHes `sys_id` with `body` on both sides, which must agree and succeed.
    pub(crate) async fn update(&self, sys_id: &SysId, body: &Value) {
        if let Err(failure) = self.twin.update(sys_id, body).await {
            panic!("suite PATCH {body} failed: {failure:?}");
        }
    }

    /// Adds a provider application to both sides.
    pub(crate) async fn add_provider(&mut self, app: Record) {
        for side in [&self.twin.store, &self.twin.reference] {
            ok(
                "add_provider_application",
                side.repo().add_provider_application(&app).await,
            );
        }
        self.providers.push(app);
    }

    /// Every record stored so far, by table, as the reference holds it.
    pub(crate) async fn known(&self) -> Known {
        let mut known = Known::default();
        for id in &self.interactions {
            let aggregate = self.twin.reference.load(id).await;
            known.interactions.push(aggregate.interaction);
            known.phone_logs.extend(aggregate.phone_logs);
            known.related_records.extend(aggregate.related_records);
        }
        known.providers = self.providers.clone();
        known
    }
}

/// Every record a corpus stored, by table.
#[derive(Debug, Default)]
pub(crate) struct Known {
    interactions: Vec<Record>,
    phone_logs: Vec<Record>,
    related_records: Vec<Record>,
    providers: Vec<Record>,
}

impl Known {
    /// The records of `table`.
    pub(crate) fn of(&self, table: &'static Table) -> &[Record] {
        if table == &PHONE_LOG {
            &self.phone_logs
        } else if table == &RELATED_RECORD {
            &self.related_records
        } else if table == &PROVIDER_APPLICATION {
            &self.providers
        } else {
            &self.interactions
        }
    }

    /// What `query` must give: [`TableQuery::run_in_memory`] over the known records of its table.
    pub(crate) fn expected(&self, query: &TableQuery) -> RecordPage {
        query.run_in_memory(self.of(query.table))
    }

    /// Runs `query` on `repo` and panics unless the page is exactly [`Known::expected`]; returns it.
    pub(crate) async fn assert_query(
        &self,
        repo: &Arc<dyn Repository>,
        query: &TableQuery,
    ) -> RecordPage {
        let want = self.expected(query);
        let got = repo.query_records(query).await.unwrap_or_else(|e| {
            panic!("query {}: unexpected error `{e}` ({e:?})", describe(query))
        });
        if got != want {
            panic!(
                "query {} (got = store, want = run_in_memory over the records stored):\n{}",
                describe(query),
                page_difference(&got, &want)
            );
        }
        got
    }
}

/// A query as the Table API would be asked it: the table, `sysparm_query` (quoted, so that quotes,
/// backslashes and spaces show), limit and offset.
pub(crate) fn describe(query: &TableQuery) -> String {
    let mut parts = Vec::new();
    let filters = std::iter::once(&query.filter).chain(&query.or_filters);
    for (f, filter) in filters.enumerate() {
        for (g, group) in filter.iter().enumerate() {
            for (i, condition) in group.iter().enumerate() {
                let joint = match (f, g, i) {
                    (0, _, 0) | (_, 1.., 0) => "",
                    (_, 0, 0) => "NQ",
                    _ => "OR",
                };
                parts.push(format!("{joint}{condition}"));
            }
        }
    }
    for key in &query.order {
        let keyword = match key.direction {
            Direction::Ascending => "ORDERBY",
            Direction::Descending => "ORDERBYDESC",
        };
        parts.push(format!("{keyword}{}", key.field));
    }
    format!(
        "{} sysparm_query={:?} limit {} offset {}",
        query.table.name,
        super::fixture::short(&parts.join("^")),
        query.limit,
        query.offset
    )
}

/// How `got` differs from `want`: the totals, the records by sys_id, or the fields of the records.
pub(crate) fn page_difference(got: &RecordPage, want: &RecordPage) -> String {
    let mut out = String::new();
    if got.total != want.total {
        let _ = writeln!(out, "  total: got {}, want {}", got.total, want.total);
    }
    let ids = |page: &RecordPage| -> Vec<String> {
        page.records.iter().map(|r| r.sys_id().to_owned()).collect()
    };
    let (got_ids, want_ids) = (ids(got), ids(want));
    if got_ids != want_ids {
        let _ = writeln!(
            out,
            "  records (by sys_id, in order):\n    got  {got_ids:?}\n    want {want_ids:?}"
        );
        let missing: Vec<&String> = want_ids.iter().filter(|i| !got_ids.contains(i)).collect();
        let extra: Vec<&String> = got_ids.iter().filter(|i| !want_ids.contains(i)).collect();
        let _ = writeln!(out, "  missing {missing:?}\n  extra {extra:?}");
        for (label, page, ids) in [("extra", got, &extra), ("missing", want, &missing)] {
            for r in &page.records {
                if ids.iter().any(|id| id.as_str() == r.sys_id()) {
                    let _ = writeln!(out, "  {label} record: {r:?}");
                }
            }
        }
    } else {
        for (i, (g, w)) in got.records.iter().zip(&want.records).enumerate() {
            record_difference(&format!("records[{i}]"), g, w, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::INTERACTION;

    #[test]
    fn a_description_parses_back_to_the_query() {
        let text = "state=new^ORshort_descriptionLIKE%_\\'\"é☺^numberSTARTSWITHIMS^queueISEMPTY^\
                    ORassigned_toISNOTEMPTY^direction!=inbound^ORDERBYDESCnumber^ORDERBYstate";
        let query = TableQuery::parse(&INTERACTION, Some(text), Some("7"), Some("3"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            describe(&query),
            format!("interaction sysparm_query={text:?} limit 7 offset 3")
        );
    }
}
