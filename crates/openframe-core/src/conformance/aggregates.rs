//! The Aggregate API's reads: `aggregate_records` gives exactly what [`AggregateQuery::run_in_memory`] gives
//! over the records stored — counts, averages, sums, minima and maxima on every table, grouped by one or
//! several fields (numbers as numbers, the empty value a group of its own) or not at all, filtered with the
//! Table API's operators and `^NQ`, over nothing, over awkward text, and cut at the most groups asked for;
//! and random requests (the model-based test's generators) over a corpus of many records.

use std::sync::Arc;

use serde_json::json;

use crate::repository::Repository;
use crate::schema::{INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, Table};
use crate::stats::{Aggregate, AggregateGroup, AggregateQuery};

use super::accounts::provider_application;
use super::known::{Corpus, Known};
use super::queries::{AWKWARD, mixed_corpus};
use super::query_steps::aggregate_step;

/// A fixed case: the table, `sysparm_query`, `sysparm_group_by` and the aggregates' field lists.
type Case = (
    &'static Table,
    &'static str,
    &'static str,
    &'static [(Aggregate, &'static str)],
);

/// A request the suite builds from the Aggregate API's parameters, which must parse.
fn request(
    table: &'static Table,
    query: &str,
    group_by: &str,
    aggregates: &[(Aggregate, &str)],
) -> AggregateQuery {
    AggregateQuery::parse(table, Some(query), Some(group_by), aggregates).unwrap_or_else(|e| {
        panic!("suite aggregate {query:?} by {group_by:?}: {e}");
    })
}

/// The request as the Aggregate API would be asked it.
pub(crate) fn describe(q: &AggregateQuery) -> String {
    let aggregates: Vec<String> = q
        .aggregates
        .iter()
        .map(|(a, f)| format!("{}({f})", a.name()))
        .collect();
    format!(
        "{} by [{}] computing [{}] at most {} groups where {}",
        q.query.table.name,
        q.group_by.join(","),
        aggregates.join(", "),
        q.max_groups,
        super::known::describe(&q.query)
    )
}

/// How two answers differ, group by group.
pub(crate) fn groups_difference(got: &[AggregateGroup], want: &[AggregateGroup]) -> String {
    let mut out = String::new();
    if got.len() != want.len() {
        out.push_str(&format!("  {} groups, want {}\n", got.len(), want.len()));
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if g != w {
            out.push_str(&format!("  group {i}:\n    got  {g:?}\n    want {w:?}\n"));
        }
    }
    let (longer, label) = if got.len() > want.len() {
        (got, "extra")
    } else {
        (want, "missing")
    };
    for g in longer.iter().skip(got.len().min(want.len())) {
        out.push_str(&format!("  {label} {g:?}\n"));
    }
    out
}

/// Runs `q` on `repo` and panics unless it gives what the reference computation gives over `known`.
async fn assert_aggregate(known: &Known, repo: &Arc<dyn Repository>, q: &AggregateQuery) {
    let want = q.run_in_memory(known.of(q.query.table));
    let got = repo
        .aggregate_records(q)
        .await
        .unwrap_or_else(|e| panic!("aggregate {}: unexpected error `{e}` ({e:?})", describe(q)));
    if got != want {
        panic!(
            "aggregate {} (got = store, want = run_in_memory over the records stored):\n{}",
            describe(q),
            groups_difference(&got, &want)
        );
    }
}

/// Counts, aggregates and groups on every table over a corpus of mixed values, durations with leading
/// zeros among them; filters with `^NQ`; nothing matching; the groups cut short.
pub async fn aggregate_counts_and_groups(repo: &Arc<dyn Repository>) {
    let mut corpus = mixed_corpus(repo).await;
    // Durations whose text and number orders differ, and equal numbers spelled differently.
    for duration in ["007", "7", "0", "00", "0100", "99"] {
        corpus
            .create(&json!({
                "interaction": {
                    "userPhoneNumber": "+14089965744",
                    "additionalParams": {"duration": duration, "short_description": duration}
                },
                "phoneLogs": [{"call_id": duration, "duration": duration}]
            }))
            .await;
    }
    let known = corpus.known().await;
    const NUMBERS: &[(Aggregate, &str)] = &[
        (Aggregate::Avg, "duration,sys_mod_count"),
        (Aggregate::Sum, "duration,sys_mod_count"),
        (Aggregate::Min, "duration,sys_mod_count"),
        (Aggregate::Max, "duration,sys_mod_count"),
    ];
    const TEXT: &[(Aggregate, &str)] = &[
        (
            Aggregate::Min,
            "short_description,opened_at,closed_at,number,assigned_to",
        ),
        (
            Aggregate::Max,
            "short_description,opened_at,closed_at,number,work_notes",
        ),
    ];
    let cases: &[Case] = &[
        (&INTERACTION, "", "", &[]),
        (&INTERACTION, "", "", NUMBERS),
        (&INTERACTION, "", "", TEXT),
        (&INTERACTION, "state=nope", "", NUMBERS),
        (&INTERACTION, "state=nope", "state", NUMBERS),
        (&INTERACTION, "", "state", NUMBERS),
        (&INTERACTION, "", "direction", TEXT),
        (&INTERACTION, "", "duration", NUMBERS),
        (&INTERACTION, "ORDERBYDESCduration", "duration", &[]),
        (&INTERACTION, "", "short_description", TEXT),
        (
            &INTERACTION,
            "ORDERBYDESCshort_description",
            "short_description",
            &[],
        ),
        (&INTERACTION, "", "direction,state", NUMBERS),
        (
            &INTERACTION,
            "ORDERBYDESCstate^ORDERBYnumber",
            "direction,state",
            &[],
        ),
        (
            &INTERACTION,
            "ORDERBYDESCdirection",
            "state,direction,assigned_to",
            NUMBERS,
        ),
        (&INTERACTION, "duration>37^ORstate=new", "state", NUMBERS),
        (
            &INTERACTION,
            "state=new^NQduration>100^ORqueueISNOTEMPTY^NQnumber=IMS0001003",
            "direction",
            NUMBERS,
        ),
        (
            &INTERACTION,
            "short_descriptionLIKEbill^NQdurationISEMPTY",
            "",
            TEXT,
        ),
        (&INTERACTION, "", "inbound_id,provider_application", NUMBERS),
        (
            &PHONE_LOG,
            "",
            "",
            &[
                (Aggregate::Avg, "duration"),
                (Aggregate::Min, "start_time,end_time,call_id"),
                (Aggregate::Max, "start_time,end_time,call_id"),
            ],
        ),
        (
            &PHONE_LOG,
            "",
            "call_type",
            &[
                (Aggregate::Sum, "duration,sys_mod_count"),
                (Aggregate::Max, "end_time"),
            ],
        ),
        (
            &PHONE_LOG,
            "",
            "interaction,agent",
            &[(Aggregate::Max, "call_id")],
        ),
        (
            &PHONE_LOG,
            "ORDERBYDESCduration",
            "duration",
            &[(Aggregate::Min, "call_id")],
        ),
        (
            &PHONE_LOG,
            "call_id=nope",
            "",
            &[(Aggregate::Avg, "duration"), (Aggregate::Max, "call_id")],
        ),
        (
            &RELATED_RECORD,
            "",
            "document_table",
            &[
                (Aggregate::Min, "document_id"),
                (Aggregate::Sum, "sys_mod_count"),
            ],
        ),
        (
            &RELATED_RECORD,
            "document_tableSTARTSWITHa",
            "document_id",
            &[(Aggregate::Max, "document_table")],
        ),
        (
            &PROVIDER_APPLICATION,
            "",
            "",
            &[
                (Aggregate::Min, "name,inbound_id"),
                (Aggregate::Max, "name,inbound_id"),
            ],
        ),
        (
            &PROVIDER_APPLICATION,
            "",
            "name",
            &[(Aggregate::Avg, "sys_mod_count")],
        ),
    ];
    for &(table, query, group_by, aggregates) in cases {
        let q = request(table, query, group_by, aggregates);
        assert_aggregate(&known, repo, &q).await;
        // The first groups only, in the same order.
        for max_groups in [1, 2] {
            let cut = AggregateQuery {
                max_groups,
                ..q.clone()
            };
            assert_aggregate(&known, repo, &cut).await;
        }
    }
}

/// Groups and extremes of awkward text — case pairs, wildcards, quotes, non-ASCII, spaces at either end —
/// are byte-wise on every store.
pub async fn aggregate_awkward_text(repo: &Arc<dyn Repository>) {
    let mut corpus = Corpus::new(repo);
    for (i, v) in AWKWARD.iter().enumerate() {
        corpus
            .create(&json!({
                "interaction": {
                    "userPhoneNumber": "+14089965744",
                    "clientSessionId": AWKWARD[(i * 7 + 3) % AWKWARD.len()],
                    "additionalParams": {"short_description": v, "work_notes": format!("{v}|{v}")}
                },
                "phoneLogs": [{"call_id": v, "call_type": "INBOUND"}]
            }))
            .await;
        if !v.trim().is_empty() {
            corpus.add_provider(provider_application(v, v)).await;
        }
    }
    let known = corpus.known().await;
    const EXTREMES: &[(Aggregate, &str)] = &[
        (
            Aggregate::Min,
            "short_description,client_session_id,work_notes",
        ),
        (
            Aggregate::Max,
            "short_description,client_session_id,work_notes",
        ),
    ];
    let cases: &[Case] = &[
        (&INTERACTION, "", "", EXTREMES),
        (&INTERACTION, "", "short_description", EXTREMES),
        (
            &INTERACTION,
            "ORDERBYDESCclient_session_id",
            "client_session_id",
            EXTREMES,
        ),
        (
            &INTERACTION,
            "short_descriptionLIKEa",
            "work_notes",
            EXTREMES,
        ),
        (&PHONE_LOG, "", "call_id", &[(Aggregate::Max, "call_id")]),
        (
            &PROVIDER_APPLICATION,
            "",
            "inbound_id",
            &[(Aggregate::Min, "name")],
        ),
    ];
    for &(table, query, group_by, aggregates) in cases {
        assert_aggregate(&known, repo, &request(table, query, group_by, aggregates)).await;
    }
}

/// Random Aggregate API requests — filters, group-by and aggregated fields, cuts — from the model-based
/// test's generators, on every table of the mixed corpus (dozens of records each, so that groups are many):
/// each must give what the reference computation gives. [`default_cases`](super::default_cases) of them.
pub async fn aggregate_random_requests(repo: &Arc<dyn Repository>) {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, RngSeed, TestRunner};

    let mut corpus = mixed_corpus(repo).await;
    for duration in ["007", "0", "0100", "99", "1000"] {
        corpus
            .create(&json!({
                "interaction": {"userPhoneNumber": "+14089965744", "additionalParams": {"duration": duration}},
                "phoneLogs": [{"call_id": duration, "duration": duration}]
            }))
            .await;
    }
    let known = corpus.known().await;
    let seed = uuid::Uuid::new_v4().as_u64_pair().0;
    let mut runner = TestRunner::new(Config {
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = aggregate_step();
    for case in 1..=super::default_cases() {
        let step = strategy
            .new_tree(&mut runner)
            .unwrap_or_else(|reason| panic!("cannot generate a request: {reason}"))
            .current();
        let q = step.resolve(known.of(step.table()));
        let want = q.run_in_memory(known.of(q.query.table));
        let got = repo.aggregate_records(&q).await.unwrap_or_else(|e| {
            panic!(
                "random aggregate {case} {}: unexpected error `{e}` ({e:?})",
                describe(&q)
            )
        });
        if got != want {
            panic!(
                "random aggregate {case} (seed {seed}) {} (got = store, want = run_in_memory over the \
                 records stored):\n{}",
                describe(&q),
                groups_difference(&got, &want)
            );
        }
    }
}
