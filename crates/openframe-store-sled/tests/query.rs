//! The Table API on the sled store gives exactly what the reference gives: the same writes go to a sled store
//! and to the [`MemoryRepository`], then many queries (every operator, on indexed and other fields, with
//! values that look like SQL wildcards, quotes and non-ASCII text) must answer the same on both.

use std::sync::Arc;

use openframe_core::query::{Condition, Direction, Op, OrderBy, TableQuery};
use openframe_core::schema::{
    INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, Table, field,
};
use openframe_core::{
    AggregateChange, Context, InteractionAggregate, MemoryRepository, Record, Repository, SysId,
};
use openframe_store_sled::SledRepository;

/// Values chosen to trip a store that splices, escapes or compares loosely.
const AWKWARD: &[&str] = &[
    "100%",
    "1_0",
    "a\\b",
    "it's",
    "\"quoted\"",
    "ünïcödé",
    "日本語",
    "🙂 call",
    "%",
    "_",
    "\\",
    "'",
    "a%b_c",
    "A%B",
    "ü",
    "Ü",
];

fn record(table: &'static Table, sys_id: &str, pairs: &[(&str, &str)]) -> Record {
    let mut r = Record::new(table);
    r.set(field::SYS_ID, sys_id);
    for (k, v) in pairs {
        r.set(k, *v);
    }
    r
}

/// The n-th sys_id: fixed, so both stores hold the same records, and not in creation order.
fn id(n: u64) -> String {
    format!("{:016x}{n:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// Writes the same interactions, updates and provider applications to both stores.
async fn fill(stores: &[Arc<dyn Repository>]) {
    let mut next = 0;
    let mut new_id = || {
        next += 1;
        id(next)
    };
    let mut created = Vec::new();
    for (n, text) in AWKWARD.iter().enumerate() {
        let sys_id = new_id();
        let session = match n % 4 {
            0 => "",
            1 => "s-1",
            2 => *text,
            _ => "s-%",
        };
        let interaction = record(
            &INTERACTION,
            &sys_id,
            &[
                ("client_session_id", session),
                ("short_description", text),
                ("state", if n % 3 == 0 { "new" } else { "closed_complete" }),
                ("work_notes", &format!("{text} / {n}")),
            ],
        );
        let phone_logs = (0..n % 3)
            .map(|k| {
                let call = if k == 0 {
                    text.to_string()
                } else {
                    format!("c-{k}")
                };
                // Two logs whose `interaction` is not the one they are stored under.
                let interaction = match (n, k) {
                    (5, 1) => "",
                    (8, 1) => created
                        .first()
                        .map_or("", |a: &InteractionAggregate| a.interaction.sys_id()),
                    _ => sys_id.as_str(),
                };
                record(
                    &PHONE_LOG,
                    &new_id(),
                    &[("interaction", interaction), ("call_id", &call)],
                )
            })
            .collect();
        let related_records = (0..n % 2)
            .map(|_| {
                record(
                    &RELATED_RECORD,
                    &new_id(),
                    &[("interaction", &sys_id), ("document_table", "incident")],
                )
            })
            .collect();
        let aggregate = InteractionAggregate {
            interaction,
            context: Context::from([("k".to_owned(), text.to_string())]),
            phone_logs,
            related_records,
        };
        for store in stores {
            store.create_interaction(aggregate.clone()).await.unwrap();
        }
        created.push(aggregate);
    }

    // Updates move sessions and numbers' neighbours, replace logs and add some.
    for (n, aggregate) in created.iter().enumerate().filter(|(n, _)| n % 2 == 1) {
        let sys_id = SysId::parse(aggregate.interaction.sys_id()).unwrap();
        let mut interaction = aggregate.interaction.clone();
        interaction.set(
            field::CLIENT_SESSION_ID,
            if n % 4 == 1 { "s-2" } else { "" },
        );
        interaction.set(field::STATE, "on_hold");
        let mut phone_logs: Vec<Record> = aggregate
            .phone_logs
            .iter()
            .map(|log| {
                let mut log = log.clone();
                log.set(field::CALL_ID, format!("{}'", log.get(field::CALL_ID)));
                log
            })
            .collect();
        phone_logs.push(record(
            &PHONE_LOG,
            &new_id(),
            &[("interaction", sys_id.as_str()), ("call_id", AWKWARD[n])],
        ));
        let change = AggregateChange {
            interaction,
            context_set: Context::new(),
            context_removed: Default::default(),
            phone_logs,
            related_records: Vec::new(),
            removed: Default::default(),
        };
        for store in stores {
            let change = change.clone();
            store
                .update_interaction(&sys_id, Box::new(move |_| Ok(change.clone())))
                .await
                .unwrap();
        }
    }

    for (n, text) in AWKWARD.iter().enumerate().take(8) {
        let app = record(
            &PROVIDER_APPLICATION,
            &new_id(),
            &[
                ("inbound_id", text),
                ("name", &format!("app {n}")),
                ("short_description", text),
            ],
        );
        for store in stores {
            store.add_provider_application(&app).await.unwrap();
        }
    }
}

/// Every record of `table` in `store`, as the reference sees them.
async fn every(store: &dyn Repository, table: &'static Table) -> Vec<Record> {
    let mut q = TableQuery::all(table);
    q.limit = usize::MAX;
    store.query_records(&q).await.unwrap().records
}

/// Conditions worth asking of `table`: every operator on its fields, with values found in the data.
fn conditions(table: &'static Table, records: &[Record]) -> Vec<Condition> {
    let fields: &[&'static str] = if table == &INTERACTION {
        &[
            "sys_id",
            "number",
            "client_session_id",
            "short_description",
            "state",
        ]
    } else if table == &PROVIDER_APPLICATION {
        &["sys_id", "inbound_id", "short_description"]
    } else if table == &PHONE_LOG {
        &["sys_id", "interaction", "call_id"]
    } else {
        &["sys_id", "interaction", "document_table"]
    };
    let mut out = Vec::new();
    for &field in fields {
        let mut values: Vec<String> = AWKWARD.iter().map(|s| s.to_string()).collect();
        values.extend(records.iter().map(|r| r.get(field).to_owned()));
        values.extend(
            records
                .iter()
                .map(|r| r.get(field).chars().take(3).collect::<String>()),
        );
        values.push(String::new());
        values.sort();
        values.dedup();
        for value in values {
            for op in [Op::Equals, Op::NotEquals, Op::StartsWith, Op::Contains] {
                out.push(Condition::new(field, op, value.clone()));
            }
        }
        for op in [Op::IsEmpty, Op::IsNotEmpty] {
            out.push(Condition::new(field, op, ""));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_match_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let sled: Arc<dyn Repository> = Arc::new(SledRepository::open(dir.path()).unwrap());
    let memory: Arc<dyn Repository> = Arc::new(MemoryRepository::new());
    fill(&[Arc::clone(&sled), Arc::clone(&memory)]).await;

    for table in [
        &INTERACTION,
        &PHONE_LOG,
        &RELATED_RECORD,
        &PROVIDER_APPLICATION,
    ] {
        let mut everything = every(memory.as_ref(), table).await;
        let mut in_sled = every(sled.as_ref(), table).await;
        assert!(!everything.is_empty(), "{}", table.name);
        everything.sort_by(|a, b| a.sys_id().cmp(b.sys_id()));
        in_sled.sort_by(|a, b| a.sys_id().cmp(b.sys_id()));
        assert_eq!(in_sled, everything, "{}", table.name);

        let conditions = conditions(table, &everything);
        let order_field = if table == &INTERACTION {
            "short_description"
        } else {
            "sys_id"
        };
        let mut asked = 0;
        for (i, c) in conditions.iter().enumerate() {
            // Alone, and combined: OR-ed with another condition, AND-ed with a third, sorted and paged.
            let other = &conditions[(i * 7 + 3) % conditions.len()];
            let third = &conditions[(i * 13 + 5) % conditions.len()];
            let queries = [
                TableQuery {
                    filter: vec![vec![c.clone()]],
                    ..TableQuery::all(table)
                },
                TableQuery {
                    filter: vec![vec![c.clone(), other.clone()], vec![third.clone()]],
                    order: vec![OrderBy {
                        field: order_field,
                        direction: Direction::Descending,
                    }],
                    limit: 3,
                    offset: i % 4,
                    ..TableQuery::all(table)
                },
                TableQuery {
                    filter: vec![vec![third.clone()], vec![c.clone()]],
                    order: vec![OrderBy {
                        field: "sys_updated_on",
                        direction: Direction::Ascending,
                    }],
                    limit: 2,
                    offset: 1,
                    ..TableQuery::all(table)
                },
            ];
            for q in queries {
                let want = memory.query_records(&q).await.unwrap();
                let got = sled.query_records(&q).await.unwrap();
                assert_eq!(got, want, "{q:?}");
                asked += 1;
            }
        }
        assert!(asked > 100, "{}: only {asked} queries", table.name);

        // And every record reads back by its sys_id, from its own table only.
        for r in &everything {
            let sys_id = SysId::parse(r.sys_id()).unwrap();
            assert_eq!(
                sled.read_record(table, &sys_id).await.unwrap().as_ref(),
                Some(r)
            );
            let other = if table == &PHONE_LOG {
                &RELATED_RECORD
            } else {
                &PHONE_LOG
            };
            assert_eq!(sled.read_record(other, &sys_id).await.unwrap(), None);
        }
    }
}

#[tokio::test]
async fn a_new_store_answers_empty() {
    let sled = SledRepository::temporary().unwrap();
    for table in [
        &INTERACTION,
        &PHONE_LOG,
        &RELATED_RECORD,
        &PROVIDER_APPLICATION,
    ] {
        let page = sled.query_records(&TableQuery::all(table)).await.unwrap();
        assert_eq!((page.records.len(), page.total), (0, 0));
        let q = TableQuery::parse(
            table,
            Some("sys_id=0123456789abcdef0123456789abcdef"),
            None,
            None,
        )
        .unwrap();
        assert_eq!(sled.query_records(&q).await.unwrap().total, 0);
        assert_eq!(
            sled.read_record(table, &SysId::random()).await.unwrap(),
            None
        );
    }
}
