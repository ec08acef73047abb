//! The Table API on PostgreSQL against the in-memory reference: the same records in both stores, then every
//! operator, ordering and page compared, with the values that trip SQL up (LIKE wildcards, backslashes,
//! quotes, non-ASCII, the last code point, NUL in an operand).

mod support;

use openframe_core::query::{Condition, Direction, Op, OrderBy, TableQuery};
use openframe_core::schema::{INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, field};
use openframe_core::user::new_provider_application;
use openframe_core::{DateTime, InteractionAggregate, MemoryRepository, Repository, SysId};

use support::{TestSchema, new_interaction, phone_log, test_options};

/// Stored values: wildcards and escapes of LIKE, quotes, case, accents composed and not, CJK, an emoji, the
/// last code point, and blanks.
const VALUES: &[&str] = &[
    "",
    "a",
    "A",
    "ab",
    "abc",
    "a%b",
    "a_b",
    "axb",
    "a\\b",
    "a\\\\b",
    "100%",
    "%",
    "_",
    "\\",
    "it's",
    "\"quoted\"",
    "é",
    "e\u{301}",
    "éa",
    "日本語",
    "😀 call",
    "\u{10FFFF}",
    "a\u{10FFFF}",
    "a\u{10FFFF}b",
    "Z",
    "z",
    "a b",
    " a",
];

/// Operands: the values themselves plus what a LIKE-based store would get wrong.
const OPERANDS: &[&str] = &[
    "a%",
    "%b",
    "_b",
    "a_",
    "\\b",
    "a\\",
    "'",
    "%%",
    "\u{10FFFF}",
    "a\u{10FFFF}",
    "e",
    "é",
    "\u{301}",
    "a\0",
    "\0",
    "😀",
];

/// The same interactions, built once, for both stores: `short_description`, `work_notes` and the phone
/// logs' `call_id` run through [`VALUES`] at different strides, so every pair of fields varies.
fn aggregates() -> Vec<InteractionAggregate> {
    (0..VALUES.len() + 6)
        .map(|i| {
            let mut a = new_interaction(i % 3);
            a.interaction
                .set(field::SHORT_DESCRIPTION, VALUES[i % VALUES.len()]);
            a.interaction
                .set(field::WORK_NOTES, VALUES[(i * 7 + 3) % VALUES.len()]);
            a.interaction
                .set(field::STATE, ["new", "queued", "wrap_up"][i % 3]);
            for (j, log) in a.phone_logs.iter_mut().enumerate() {
                log.set(field::CALL_ID, VALUES[(i * 5 + j) % VALUES.len()]);
            }
            a
        })
        .collect()
}

fn condition(field: &'static str, op: Op, value: &str) -> Condition {
    Condition::new(field, op, value)
}

/// Both stores with the same records; `None` when PostgreSQL is not configured (the test says so).
async fn stores(test: &str) -> Option<(TestSchema, impl Repository, MemoryRepository)> {
    let schema = TestSchema::new(test).await?;
    let postgres = schema.connect(test_options()).await;
    let memory = MemoryRepository::new();
    for a in aggregates() {
        let n = postgres.create_interaction(a.clone()).await.unwrap();
        assert_eq!(memory.create_interaction(a).await.unwrap(), n);
    }
    for (i, name) in ["a%b", "a_b", "axb"].into_iter().enumerate() {
        let app = new_provider_application(
            SysId::random(),
            &format!("inbound-{i}"),
            name,
            "admin",
            DateTime::from_unix(0),
        )
        .expect("provider application");
        postgres.add_provider_application(&app).await.unwrap();
        memory.add_provider_application(&app).await.unwrap();
    }
    Some((schema, postgres, memory))
}

async fn same_page(postgres: &impl Repository, memory: &MemoryRepository, query: &TableQuery) {
    let want = memory.query_records(query).await.unwrap();
    let got = postgres
        .query_records(query)
        .await
        .unwrap_or_else(|e| panic!("{query:?}: {e:?}"));
    assert_eq!(got.total, want.total, "total of {query:?}");
    let ids = |page: &openframe_core::query::RecordPage| {
        page.records
            .iter()
            .map(|r| r.sys_id().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&got), ids(&want), "order of {query:?}");
    assert_eq!(got.records, want.records, "records of {query:?}");
}

#[tokio::test]
async fn every_operator_matches_the_reference_on_awkward_values() {
    let Some((_schema, postgres, memory)) = stores("every_operator_matches_the_reference").await
    else {
        return;
    };
    let ops = [
        Op::Equals,
        Op::NotEquals,
        Op::StartsWith,
        Op::Contains,
        Op::IsEmpty,
        Op::IsNotEmpty,
    ];
    for operand in VALUES.iter().chain(OPERANDS) {
        for op in ops {
            for (table, field) in [
                (&INTERACTION, field::SHORT_DESCRIPTION),
                (&PHONE_LOG, field::CALL_ID),
            ] {
                let query = TableQuery {
                    filter: vec![vec![condition(field, op, operand)]],
                    ..TableQuery::all(table)
                };
                same_page(&postgres, &memory, &query).await;
            }
        }
    }
    for operand in ["a%b", "a_", "a%", "_", "x"] {
        for op in [Op::Equals, Op::StartsWith, Op::Contains] {
            let query = TableQuery {
                filter: vec![vec![condition(field::NAME, op, operand)]],
                ..TableQuery::all(&PROVIDER_APPLICATION)
            };
            same_page(&postgres, &memory, &query).await;
        }
    }
}

#[tokio::test]
async fn order_groups_and_pages_match_the_reference() {
    let Some((_schema, postgres, memory)) =
        stores("order_groups_and_pages_match_the_reference").await
    else {
        return;
    };
    let orders = [
        vec![],
        vec![(field::SHORT_DESCRIPTION, Direction::Ascending)],
        vec![(field::SHORT_DESCRIPTION, Direction::Descending)],
        vec![
            (field::STATE, Direction::Descending),
            (field::WORK_NOTES, Direction::Ascending),
        ],
        vec![(field::NUMBER, Direction::Descending)],
    ];
    let filters = [
        vec![],
        vec![vec![
            condition(field::SHORT_DESCRIPTION, Op::StartsWith, "a"),
            condition(field::WORK_NOTES, Op::Contains, "%"),
        ]],
        vec![
            vec![condition(field::STATE, Op::NotEquals, "queued")],
            vec![
                condition(field::SHORT_DESCRIPTION, Op::IsNotEmpty, ""),
                condition(field::WORK_NOTES, Op::IsEmpty, ""),
            ],
        ],
        vec![vec![condition(
            field::SHORT_DESCRIPTION,
            Op::Equals,
            "nothing",
        )]],
    ];
    for order in &orders {
        for filter in &filters {
            for (limit, offset) in [(1000, 0), (1, 0), (3, 2), (5, 30), (2, 1000)] {
                let query = TableQuery {
                    table: &INTERACTION,
                    or_filters: Vec::new(),
                    count: true,
                    filter: filter.clone(),
                    order: order
                        .iter()
                        .map(|&(field, direction)| OrderBy { field, direction })
                        .collect(),
                    limit,
                    offset,
                };
                same_page(&postgres, &memory, &query).await;
            }
        }
    }
    for table in [&PHONE_LOG, &RELATED_RECORD, &PROVIDER_APPLICATION] {
        for (limit, offset) in [(1000, 0), (4, 3)] {
            let query = TableQuery {
                order: vec![OrderBy {
                    field: field::SYS_CREATED_ON,
                    direction: Direction::Descending,
                }],
                limit,
                offset,
                ..TableQuery::all(table)
            };
            same_page(&postgres, &memory, &query).await;
        }
    }
}

#[tokio::test]
async fn read_record_finds_a_record_of_its_own_table_only() {
    let Some(schema) = TestSchema::new("read_record_finds_a_record_of_its_own_table_only").await
    else {
        return;
    };
    let store = schema.connect(test_options()).await;
    let mut new = new_interaction(1);
    let sys_id = SysId::parse(new.interaction.sys_id()).unwrap();
    new.phone_logs.push(phone_log(&sys_id, "it's 100%"));
    store.create_interaction(new.clone()).await.unwrap();
    let stored = store.load_interaction(&sys_id).await.unwrap().unwrap();

    assert_eq!(
        store.read_record(&INTERACTION, &sys_id).await.unwrap(),
        Some(stored.interaction.clone())
    );
    let log_id = SysId::parse(new.phone_logs[1].sys_id()).unwrap();
    assert_eq!(
        store.read_record(&PHONE_LOG, &log_id).await.unwrap(),
        Some(new.phone_logs[1].clone())
    );
    assert_eq!(
        store.read_record(&INTERACTION, &log_id).await.unwrap(),
        None
    );
    assert_eq!(store.read_record(&PHONE_LOG, &sys_id).await.unwrap(), None);
    let related_id = SysId::parse(new.related_records[0].sys_id()).unwrap();
    assert_eq!(
        store
            .read_record(&RELATED_RECORD, &related_id)
            .await
            .unwrap(),
        Some(new.related_records[0].clone())
    );
    assert_eq!(
        store
            .read_record(&PROVIDER_APPLICATION, &SysId::random())
            .await
            .unwrap(),
        None
    );
}
