//! Table API queries on SQLite give exactly what the in-memory reference gives: the same records, order,
//! pages and totals, with values full of SQL wildcards, quotes, backslashes and non-ASCII text.

use std::sync::Arc;

use openframe_core::query::{Condition, Direction, Op, OrderBy, TableQuery};
use openframe_core::schema::{INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, field};
use openframe_core::{Context, InteractionAggregate, MemoryRepository, Record, Repository, SysId};
use openframe_store_sqlite::SqliteRepository;

/// Values where SQL `LIKE`, quoting, case folding or a character-vs-byte mix-up would give another answer.
const TEXTS: &[&str] = &[
    "",
    "a",
    "A",
    "ab",
    "abc",
    "ABC",
    "b",
    "100%",
    "100_",
    "1000",
    "a%b",
    "a_b",
    "axb",
    "back\\slash",
    "back\\\\slash",
    "it's",
    "say \"hi\"",
    "café",
    "CAFÉ",
    "Café",
    "cafe",
    "naïve",
    "日本語",
    "日本",
    "emoji 🎉",
    "[x]*?",
];

/// Operands tried with every operator.
const OPERANDS: &[&str] = &[
    "", "a", "A", "ab", "%", "_", "a%", "a_", "%b", "\\", "\\\\", "'", "\"", "é", "É", "caf",
    "Caf", "café", "日本", "本語", "🎉", "*", "?", "[x]", "\0", "100", "zzz",
];

fn record(table: &'static openframe_core::schema::Table, fields: &[(&str, &str)]) -> Record {
    let mut r = Record::new(table);
    r.set(field::SYS_ID, SysId::random().as_str());
    for (k, v) in fields {
        r.set(k, *v);
    }
    r
}

/// The same interactions (one per text, the texts in several fields) in both stores.
async fn stores() -> (
    tempfile::TempDir,
    SqliteRepository,
    MemoryRepository,
    Vec<String>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = SqliteRepository::open(&dir.path().join("q.db")).expect("open");
    let memory = MemoryRepository::new();
    let mut ids = Vec::new();
    for (i, text) in TEXTS.iter().enumerate() {
        // Two interactions share each `state`, so orders on it need the sys_id tie-breaker.
        let state = ["new", "queued", "work_in_progress"][i % 3];
        let other = TEXTS[(i * 7 + 3) % TEXTS.len()];
        let interaction = record(
            &INTERACTION,
            &[
                (field::SHORT_DESCRIPTION, text),
                (field::WORK_NOTES, other),
                (field::STATE, state),
                (field::CLIENT_SESSION_ID, if i % 4 == 0 { "" } else { text }),
            ],
        );
        let id = interaction.sys_id().to_owned();
        let agg = InteractionAggregate {
            context: Context::new(),
            phone_logs: vec![
                record(
                    &PHONE_LOG,
                    &[(field::INTERACTION, &id), (field::CALL_ID, text)],
                ),
                record(
                    &PHONE_LOG,
                    &[(field::INTERACTION, &id), (field::CALL_ID, other)],
                ),
            ],
            related_records: vec![record(
                &RELATED_RECORD,
                &[(field::INTERACTION, &id), (field::DOCUMENT_TABLE, text)],
            )],
            interaction,
        };
        let a = sqlite
            .create_interaction(agg.clone())
            .await
            .expect("sqlite create");
        let b = memory.create_interaction(agg).await.expect("memory create");
        assert_eq!(a, b, "both stores number alike");
        ids.push(id);
    }
    for text in ["one", "two's", "Zwei"] {
        let app = record(
            &PROVIDER_APPLICATION,
            &[(field::INBOUND_ID, text), (field::NAME, text)],
        );
        sqlite
            .add_provider_application(&app)
            .await
            .expect("sqlite app");
        memory
            .add_provider_application(&app)
            .await
            .expect("memory app");
    }
    (dir, sqlite, memory, ids)
}

async fn same(sqlite: &SqliteRepository, memory: &MemoryRepository, q: &TableQuery) {
    let got = sqlite.query_records(q).await.expect("sqlite query");
    let want = memory.query_records(q).await.expect("memory query");
    assert_eq!(got, want, "{q:?}");
}

fn condition(field: &'static str, op: Op, value: &str) -> Condition {
    Condition::new(field, op, value)
}

const OPS: [Op; 6] = [
    Op::Equals,
    Op::NotEquals,
    Op::StartsWith,
    Op::Contains,
    Op::IsEmpty,
    Op::IsNotEmpty,
];

#[tokio::test]
async fn every_operator_and_tricky_operand_matches_memory() {
    let (_dir, sqlite, memory, _) = stores().await;
    for op in OPS {
        for operand in OPERANDS {
            for name in [field::SHORT_DESCRIPTION, field::CLIENT_SESSION_ID] {
                let mut q = TableQuery::all(&INTERACTION);
                q.filter = vec![vec![condition(name, op, operand)]];
                same(&sqlite, &memory, &q).await;
            }
            let mut q = TableQuery::all(&PHONE_LOG);
            q.filter = vec![vec![condition(field::CALL_ID, op, operand)]];
            same(&sqlite, &memory, &q).await;
        }
    }
}

#[tokio::test]
async fn groups_orders_and_pages_match_memory() {
    let (_dir, sqlite, memory, ids) = stores().await;
    let filters = vec![
        vec![],
        vec![vec![]],
        vec![vec![
            condition(field::SHORT_DESCRIPTION, Op::StartsWith, "a"),
            condition(field::WORK_NOTES, Op::Contains, "é"),
        ]],
        vec![
            vec![condition(field::STATE, Op::NotEquals, "queued")],
            vec![
                condition(field::SHORT_DESCRIPTION, Op::Contains, "_"),
                condition(field::SHORT_DESCRIPTION, Op::Contains, "%"),
                condition(field::CLIENT_SESSION_ID, Op::IsEmpty, ""),
            ],
        ],
        vec![vec![condition(field::SYS_ID, Op::Equals, &ids[3])]],
    ];
    let orders = vec![
        vec![],
        vec![(field::SHORT_DESCRIPTION, Direction::Ascending)],
        vec![(field::SHORT_DESCRIPTION, Direction::Descending)],
        vec![(field::STATE, Direction::Descending)],
        vec![
            (field::STATE, Direction::Ascending),
            (field::WORK_NOTES, Direction::Descending),
        ],
        vec![(field::SYS_ID, Direction::Descending)],
    ];
    for filter in &filters {
        for order in &orders {
            for (limit, offset) in [(1000, 0), (1, 0), (5, 0), (5, 5), (7, 24), (3, 100), (0, 0)] {
                let q = TableQuery {
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
                same(&sqlite, &memory, &q).await;
            }
        }
    }
}

#[tokio::test]
async fn every_table_is_queried_on_its_own() {
    let (_dir, sqlite, memory, ids) = stores().await;
    for table in openframe_core::schema::TABLES {
        same(&sqlite, &memory, &TableQuery::all(table)).await;
    }
    let mut q = TableQuery::all(&PHONE_LOG);
    q.filter = vec![vec![condition(field::INTERACTION, Op::Equals, &ids[5])]];
    q.order = vec![OrderBy {
        field: field::CALL_ID,
        direction: Direction::Descending,
    }];
    same(&sqlite, &memory, &q).await;
    assert_eq!(sqlite.query_records(&q).await.expect("query").total, 2);
    let mut q = TableQuery::all(&RELATED_RECORD);
    q.filter = vec![vec![condition(field::INTERACTION, Op::Equals, &ids[5])]];
    same(&sqlite, &memory, &q).await;
}

#[tokio::test]
async fn read_record_finds_a_record_of_its_own_table_only() {
    let (_dir, sqlite, memory, ids) = stores().await;
    let id = SysId::parse(&ids[2]).expect("sys_id");
    let interaction = sqlite
        .read_record(&INTERACTION, &id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(
        Some(interaction),
        memory.read_record(&INTERACTION, &id).await.expect("read")
    );
    assert_eq!(
        sqlite.read_record(&PHONE_LOG, &id).await.expect("read"),
        None
    );
    let agg = sqlite
        .load_interaction(&id)
        .await
        .expect("load")
        .expect("found");
    for log in &agg.phone_logs {
        let log_id = SysId::parse(log.sys_id()).expect("sys_id");
        let read = sqlite.read_record(&PHONE_LOG, &log_id).await.expect("read");
        assert_eq!(read.as_ref(), Some(log));
        assert_eq!(
            sqlite
                .read_record(&INTERACTION, &log_id)
                .await
                .expect("read"),
            None
        );
        assert_eq!(
            sqlite
                .read_record(&RELATED_RECORD, &log_id)
                .await
                .expect("read"),
            None
        );
    }
    let related_id = SysId::parse(agg.related_records[0].sys_id()).expect("sys_id");
    assert_eq!(
        sqlite
            .read_record(&RELATED_RECORD, &related_id)
            .await
            .expect("read")
            .as_ref(),
        agg.related_records.first()
    );
    let missing = SysId::random();
    assert_eq!(
        sqlite
            .read_record(&INTERACTION, &missing)
            .await
            .expect("read"),
        None
    );
}

#[tokio::test]
async fn a_page_and_its_total_agree_while_writes_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = Arc::new(SqliteRepository::open(&dir.path().join("q.db")).expect("open"));
    let writer = {
        let repo = Arc::clone(&repo);
        tokio::spawn(async move {
            for _ in 0..200 {
                let interaction = record(&INTERACTION, &[(field::STATE, "new")]);
                let agg = InteractionAggregate {
                    interaction,
                    context: Context::new(),
                    phone_logs: Vec::new(),
                    related_records: Vec::new(),
                };
                repo.create_interaction(agg).await.expect("create");
            }
        })
    };
    let mut q = TableQuery::all(&INTERACTION);
    q.limit = 5;
    q.offset = 3;
    loop {
        let done = writer.is_finished();
        let page = repo.query_records(&q).await.expect("query");
        // The page is as long as the total says it can be: both were read from one snapshot.
        let expected = page.total.saturating_sub(3).min(5);
        assert_eq!(page.records.len() as u64, expected, "total {}", page.total);
        if done {
            assert_eq!(page.total, 200);
            break;
        }
        tokio::task::yield_now().await;
    }
}
