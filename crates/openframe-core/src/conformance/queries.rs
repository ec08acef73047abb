//! The Table API's reads: `read_record` finds a record of the table asked for only, and `query_records`
//! gives exactly what [`TableQuery::run_in_memory`] gives over the records stored — every operator on every
//! field of every table, OR groups, ordering with the `sys_id` tie-breaker, paging and totals, values that
//! are wildcards, quotes or non-ASCII in SQL, and lookups by the indexed fields among many records.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::query::{
    Condition, DEFAULT_LIMIT, Direction, INDEXED_FIELDS, MAX_LIMIT, Op, OrderBy, TableQuery,
};
use crate::record::Record;
use crate::repository::Repository;
use crate::schema::{
    INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, STATES, TABLES, Table, field,
};
use crate::sys_id::SysId;

use super::accounts::provider_application;
use super::fixture::{AGENT, UNKNOWN, ok, records_difference, sys_id};
use super::known::{Corpus, describe};

/// A user sys_id other than the agent's.
const OTHER_USER: &str = "0123456789abcdef0123456789abcdef";

/// `documentId`s of related records.
const DOCS: [&str; 3] = [
    "59e788fbdb1b1200b6075200cf9619d2",
    AGENT,
    "00000000000000000000000000000001",
];

/// The operators of one operand (or none), in the order the suite tries them.
const OPS: [Op; 14] = [
    Op::Equals,
    Op::NotEquals,
    Op::StartsWith,
    Op::Contains,
    Op::IsEmpty,
    Op::IsNotEmpty,
    Op::EndsWith,
    Op::NotContains,
    Op::LessThan,
    Op::AtMost,
    Op::GreaterThan,
    Op::AtLeast,
    Op::Anything,
    Op::EmptyString,
];

/// Text that a LIKE without escaping, a padding comparison, case folding beyond ASCII, or an order other
/// than byte-wise UTF-8 gets wrong: wildcards alone and inside text, backslashes, quotes, case pairs, spaces
/// at either end, and non-ASCII (`"B" < "a" < "z" < "é" < "☺"` byte-wise; `É` is not `é` folded).
pub(super) const AWKWARD: &[&str] = &[
    "a",
    "A",
    "B",
    "b",
    "z",
    "é",
    "É",
    "☺",
    "e",
    "eé",
    "zé",
    "é☺",
    "☺a",
    "ab",
    "aB",
    "Ab",
    "a b",
    "a ",
    " a",
    "%",
    "_",
    "\\",
    "'",
    "\"",
    "a%",
    "a_",
    "a\\",
    "%a",
    "_a",
    "\\a",
    "a%b",
    "a_b",
    "a\\b",
    "axb",
    "a\\%b",
    "a\\_b",
    "100%",
    "100x",
    "O'Brien",
    "O''Brien",
    "say \"hi\"",
    "",
];

/// Operands tried on awkward text besides [`AWKWARD`] itself: escaped wildcards, doubled quotes, fragments.
const MORE_PROBES: &[&str] = &[
    "x", "%%", "\\%", "\\_", "\\\\", "''", "\"\"", "Brien", "hi\"", "0%", "a%b%", "é☺a", "%\\",
    "_b",
];

/// Table names of related records in the awkward corpus: `_` is the only wildcard a table name can hold.
const UNDERSCORE_TABLES: [&str; 6] = ["a_b", "axb", "a_", "a__b", "ab", "b_a"];

fn condition(field: &'static str, op: Op, value: &str) -> Condition {
    Condition::new(field, op, value)
}

/// `table`'s records passing `filter`, in `order`, first page.
fn query(table: &'static Table, filter: Vec<Vec<Condition>>, order: Vec<OrderBy>) -> TableQuery {
    TableQuery {
        filter,
        order,
        ..TableQuery::all(table)
    }
}

/// A query in the Table API's syntax, which the suite's own constants must parse in.
fn parsed(table: &'static Table, encoded: &str) -> TableQuery {
    TableQuery::parse(table, Some(encoded), None, None)
        .unwrap_or_else(|e| panic!("suite query {encoded:?}: {e}"))
}

fn key(field: &'static str, direction: Direction) -> OrderBy {
    OrderBy { field, direction }
}

/// Inserts `value` at `key` of `map`.
fn put(map: &mut Map<String, Value>, key: &str, value: impl Into<Value>) {
    map.insert(key.to_owned(), value.into());
}

/// Four provider applications, two of them differing only in case.
async fn add_providers(corpus: &mut Corpus) {
    for (inbound_id, name) in [
        ("gen-1", "Genesys"),
        ("gen_2", "Genesys 2"),
        ("gen%", "Avaya"),
        ("GEN-1", "genesys"),
    ] {
        let mut app = provider_application(inbound_id, name);
        if inbound_id.starts_with("gen") {
            app.set(field::SHORT_DESCRIPTION, format!("{name} queues"));
        }
        corpus.add_provider(app).await;
    }
}

/// 24 interactions whose fields take a few values each — repeated, unset now and then, numbers that sort
/// differently as text — with 0 to 3 phone logs and 0 to 2 related records each, some updated afterwards,
/// and four provider applications.
pub(super) async fn mixed_corpus(repo: &Arc<dyn Repository>) -> Corpus {
    const DESCRIPTIONS: [&str; 9] = [
        "Billing call",
        "billing call",
        "Billing",
        "",
        "Call back",
        "B",
        "a",
        "é",
        "z",
    ];
    const DOCUMENT_TABLES: [&str; 5] =
        ["csm_consumer", "sys_user", "customer_account", "a_b", "axb"];
    let mut corpus = Corpus::new(repo);
    add_providers(&mut corpus).await;
    let mut ids = Vec::new();
    for i in 0..24_usize {
        let mut params = Map::new();
        put(&mut params, "state", STATES[i % STATES.len()]);
        match i % 3 {
            0 => put(&mut params, "direction", "inbound"),
            1 => put(&mut params, "direction", "outbound"),
            _ => {}
        }
        put(&mut params, "short_description", DESCRIPTIONS[i % 9]);
        if i % 2 == 1 {
            put(&mut params, "assigned_to", AGENT);
        }
        if i % 5 == 0 {
            put(&mut params, "opened_for", OTHER_USER);
        }
        if i % 4 != 0 {
            // 37, 74, 111, …: as text "111" < "37", which a store comparing numbers gets wrong.
            put(&mut params, "duration", (i * 37 % 200).to_string());
        }
        if i % 6 == 2 {
            put(&mut params, "work_notes", "line one\nline two");
        }
        let mut interaction = Map::new();
        put(
            &mut interaction,
            "userPhoneNumber",
            format!("+1408996574{}", i % 10),
        );
        if i % 6 != 5 {
            put(
                &mut interaction,
                "clientSessionId",
                format!("session-{}", i % 10),
            );
        }
        if i % 3 == 1 {
            put(&mut interaction, "callbackPhoneNumber", "+1303506536");
        }
        if i % 4 == 1 {
            let inbound = if i % 8 == 1 { "gen-1" } else { "gen%" };
            put(&mut interaction, "inboundId", inbound);
        }
        put(&mut interaction, "additionalParams", params);

        let logs: Vec<Value> = (0..i % 4)
            .map(|k| {
                let mut log = Map::new();
                if (i + k) % 6 != 5 {
                    put(&mut log, "call_id", format!("c{}", (i + k) % 5));
                }
                let call_type = if (i + k) % 2 == 0 {
                    "INBOUND"
                } else {
                    "OUTBOUND"
                };
                put(&mut log, "call_type", call_type);
                let start = if k == 0 {
                    "2024-11-04 21:45:00"
                } else {
                    "2024-11-04 21:50:00"
                };
                put(&mut log, "start_time", start);
                if (i + k) % 3 == 0 {
                    put(&mut log, "end_time", format!("2024-11-04 21:5{k}:30"));
                }
                if i % 2 == 0 {
                    put(&mut log, "agent", AGENT);
                }
                if k == 1 {
                    put(&mut log, "phone_number", "+14089965744");
                }
                Value::Object(log)
            })
            .collect();
        let related: Vec<Value> = (0..i % 3)
            .map(|k| {
                json!({
                    "documentTable": DOCUMENT_TABLES[(i + k) % DOCUMENT_TABLES.len()],
                    "documentId": DOCS[(i + k) % DOCS.len()],
                })
            })
            .collect();
        let body = json!({
            "interaction": interaction,
            "interactionContext": {"queue_name": format!("q{}", i % 3)},
            "phoneLogs": logs,
            "relatedRecords": related,
        });
        ids.push(corpus.create(&body).await);
    }
    for (i, id) in ids.iter().enumerate() {
        if i % 5 == 3 {
            let body = json!({
                "interaction": {"additionalParams": {"state": "closed_complete", "short_description": "Closed"}},
                "phoneLogs": [{"call_id": "c9", "call_type": "INBOUND"}, {"call_id": "c1", "end_time": "2024-11-04 22:00:00"}],
                "relatedRecords": [{"documentTable": "sys_user", "documentId": AGENT}],
            });
            corpus.update(id, &body).await;
        }
        if i % 7 == 4 {
            corpus
                .update(id, &json!({"interactionContext": {"queue_name": null}}))
                .await;
        }
    }
    corpus
}

/// Conditions on `name` that the `records` make interesting: `ISEMPTY`, `ISNOTEMPTY`, and for the smallest,
/// middle and largest value it takes, `=` and `!=` it, `STARTSWITH` its first half and `LIKE` its inside;
/// plus operands nothing has.
fn probes(records: &[Record], name: &'static str) -> Vec<Condition> {
    let values: Vec<&str> = records
        .iter()
        .map(|r| r.get(name))
        .filter(|v| !v.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out = vec![
        condition(name, Op::IsEmpty, ""),
        condition(name, Op::IsNotEmpty, ""),
        condition(name, Op::Equals, "no such value"),
        condition(name, Op::StartsWith, "~"),
        condition(name, Op::Contains, "~"),
    ];
    let mut chosen: Vec<&str> = Vec::new();
    if let (Some(first), Some(last)) = (values.first(), values.last()) {
        chosen = vec![first, values[values.len() / 2], last];
        chosen.dedup();
    }
    for v in chosen {
        let chars: Vec<char> = v.chars().collect();
        let head: String = chars[..chars.len().div_ceil(2)].iter().collect();
        let inside: String = if chars.len() > 2 {
            chars[1..chars.len() - 1].iter().collect()
        } else {
            v.to_owned()
        };
        let tail: String = chars[chars.len() / 2..].iter().collect();
        out.push(condition(name, Op::Equals, v));
        out.push(condition(name, Op::NotEquals, v));
        out.push(condition(name, Op::StartsWith, &head));
        out.push(condition(name, Op::Contains, &inside));
        out.push(condition(name, Op::EndsWith, &tail));
        out.push(condition(name, Op::NotContains, &inside));
        for op in [Op::LessThan, Op::AtMost, Op::GreaterThan, Op::AtLeast] {
            out.push(condition(name, op, v));
        }
        // The value in the other case: the same records, as ASCII case folds.
        out.push(condition(name, Op::Equals, &v.to_ascii_uppercase()));
        out.push(condition(name, Op::Contains, &inside.to_ascii_uppercase()));
    }
    out.push(condition(name, Op::Anything, ""));
    out.push(condition(name, Op::EmptyString, ""));
    out
}

/// A small deterministic generator (a linear congruential one), so that the suite's mixed queries are the
/// same on every run and a failure reproduces.
struct Mixer(u64);

impl Mixer {
    /// A number below `n` (which must not be 0).
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// `read_record` returns a record of the table asked for exactly as stored (updated ones as they are now),
/// on each of the four tables; `None` for a sys_id nothing has and for the sys_id of another table's record.
pub async fn read_record_by_table(repo: &Arc<dyn Repository>) {
    let unknown = sys_id(UNKNOWN);
    for table in TABLES {
        let found = ok("read_record", repo.read_record(table, &unknown).await);
        assert!(
            found.is_none(),
            "read_record({}, unknown sys_id) on an empty store returned {found:?}",
            table.name
        );
    }
    let corpus = mixed_corpus(repo).await;
    let known = corpus.known().await;
    for table in TABLES {
        let records = known.of(table);
        assert!(!records.is_empty(), "the suite stored no {}", table.name);
        for record in records {
            let id = sys_id(record.sys_id());
            let found = ok("read_record", repo.read_record(table, &id).await);
            assert_eq!(
                found.as_ref(),
                Some(record),
                "read_record({}, {id}) must return the record as stored",
                table.name
            );
            for other in TABLES.iter().copied().filter(|t| *t != table) {
                let found = ok("read_record", repo.read_record(other, &id).await);
                assert!(
                    found.is_none(),
                    "read_record({}, {id}) must be None: {id} is a record of {}, not of {}; got {found:?}",
                    other.name,
                    table.name,
                    other.name
                );
            }
        }
        let found = ok("read_record", repo.read_record(table, &unknown).await);
        assert!(
            found.is_none(),
            "read_record({}, unknown sys_id) returned {found:?}",
            table.name
        );
    }
}

/// Each operator (`=`, `!=`, `STARTSWITH`, `LIKE`, `ISEMPTY`, `ISNOTEMPTY`) on every field of each of the
/// four tables selects exactly the records the reference selects, with the right total; `!=` and `LIKE`
/// include or exclude unset (`""`) values exactly as the reference does.
pub async fn query_operators_on_every_table(repo: &Arc<dyn Repository>) {
    let corpus = mixed_corpus(repo).await;
    let known = corpus.known().await;
    let mut selective = BTreeSet::new();
    for table in TABLES {
        let count = known.of(table).len() as u64;
        for def in table.fields {
            for c in probes(known.of(table), def.name) {
                let op = c.op;
                let page = known
                    .assert_query(repo, &query(table, vec![vec![c]], Vec::new()))
                    .await;
                if page.total > 0 && page.total < count {
                    selective.insert((table.name, format!("{op:?}")));
                }
            }
        }
    }
    // The suite's own check that its data exercises every operator on every table (but emptiness where no
    // field is ever empty: the service sets every field of a related record).
    for table in TABLES {
        let has_empty = known
            .of(table)
            .iter()
            .any(|r| r.values().iter().any(String::is_empty));
        for op in OPS {
            if !has_empty && matches!(op, Op::IsEmpty | Op::IsNotEmpty | Op::EmptyString) {
                continue;
            }
            if op == Op::Anything {
                continue; // selects every record by definition
            }
            assert!(
                selective.contains(&(table.name, format!("{op:?}"))),
                "suite data: no {op:?} query on {} selected some records but not all",
                table.name
            );
        }
    }
}

/// `^OR` groups combined with `^` (AND): written queries and a few hundred mixed ones, with two or three
/// groups of one to three conditions each, all match the reference.
pub async fn query_or_groups(repo: &Arc<dyn Repository>) {
    let corpus = mixed_corpus(repo).await;
    let known = corpus.known().await;
    let written = [
        (&INTERACTION, "state=new^ORstate=on_hold^direction=inbound".to_owned()),
        (
            &INTERACTION,
            "direction=inbound^ORdirection=outbound^assigned_toISNOTEMPTY^ORopened_forISNOTEMPTY"
                .to_owned(),
        ),
        (
            &INTERACTION,
            "short_descriptionLIKEill^ORshort_descriptionISEMPTY^ORshort_descriptionSTARTSWITHC^duration!=111"
                .to_owned(),
        ),
        (&INTERACTION, "state=nope^ORdirection=nope".to_owned()),
        (&INTERACTION, "state=new^ORstate=nope^ORDERBYDESCnumber".to_owned()),
        (
            &INTERACTION,
            "client_session_idSTARTSWITHsession-1^ORclient_session_idISEMPTY^ORnumber=IMS0001003^stateISNOTEMPTY"
                .to_owned(),
        ),
        (&PHONE_LOG, format!("call_type=INBOUND^ORcall_idISEMPTY^agent={AGENT}")),
        (
            &PHONE_LOG,
            "call_id=c1^ORcall_id=c2^ORcall_id=c9^end_timeISNOTEMPTY^ORagentISEMPTY".to_owned(),
        ),
        (
            &RELATED_RECORD,
            format!("document_tableSTARTSWITHa_^ORdocument_table=sys_user^document_id!={}", DOCS[0]),
        ),
        (
            &PROVIDER_APPLICATION,
            "inbound_idSTARTSWITHgen^ORname=genesys^short_descriptionISNOTEMPTY".to_owned(),
        ),
    ];
    for (table, encoded) in &written {
        known.assert_query(repo, &parsed(table, encoded)).await;
    }

    let mut mixer = Mixer(0x5eed);
    let mut selective = 0;
    for table in TABLES {
        let count = known.of(table).len() as u64;
        let conditions: Vec<Condition> = table
            .fields
            .iter()
            .flat_map(|def| probes(known.of(table), def.name))
            .collect();
        for _ in 0..60 {
            let groups = 2 + mixer.below(2);
            let filter: Vec<Vec<Condition>> = (0..groups)
                .map(|_| {
                    (0..1 + mixer.below(3))
                        .map(|_| conditions[mixer.below(conditions.len())].clone())
                        .collect()
                })
                .collect();
            let page = known
                .assert_query(repo, &query(table, filter, Vec::new()))
                .await;
            if page.total > 0 && page.total < count {
                selective += 1;
            }
        }
    }
    assert!(
        selective >= 40,
        "suite data: only {selective} mixed OR queries selected some records but not all"
    );
}

/// Ordering by any field of any table, ascending or descending, by one key or two, is byte-wise on the
/// text (`"111"` before `"37"`), and ties are always broken by `sys_id` ascending — also under
/// `ORDERBYDESC`.
pub async fn query_order_and_ties(repo: &Arc<dyn Repository>) {
    let corpus = mixed_corpus(repo).await;
    let known = corpus.known().await;
    let directions = [Direction::Ascending, Direction::Descending];
    for table in TABLES {
        for def in table.fields {
            for direction in directions {
                let q = query(table, Vec::new(), vec![key(def.name, direction)]);
                known.assert_query(repo, &q).await;
            }
        }
    }
    let pairs: [(&'static Table, &'static str, &'static str); 8] = [
        (&INTERACTION, field::STATE, field::DURATION),
        (&INTERACTION, field::DIRECTION, field::SHORT_DESCRIPTION),
        (&INTERACTION, field::ASSIGNED_TO, field::STATE),
        (
            &INTERACTION,
            field::SHORT_DESCRIPTION,
            field::CLIENT_SESSION_ID,
        ),
        (&PHONE_LOG, field::CALL_TYPE, field::CALL_ID),
        (&PHONE_LOG, field::INTERACTION, field::START_TIME),
        (&RELATED_RECORD, field::DOCUMENT_TABLE, field::DOCUMENT_ID),
        (&PROVIDER_APPLICATION, field::SHORT_DESCRIPTION, field::NAME),
    ];
    for (table, first, second) in pairs {
        for d1 in directions {
            for d2 in directions {
                let q = query(table, Vec::new(), vec![key(first, d1), key(second, d2)]);
                known.assert_query(repo, &q).await;
            }
        }
    }

    // Every interaction has type `phone`: all tie, so the order is sys_id ascending whatever the direction.
    for direction in directions {
        let q = query(&INTERACTION, Vec::new(), vec![key(field::TYPE, direction)]);
        let page = known.assert_query(repo, &q).await;
        let ids: Vec<&str> = page.records.iter().map(Record::sys_id).collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "query {}: records tied on every key must come in sys_id order, ascending: {ids:?}",
            describe(&q)
        );
    }

    let q = query(
        &INTERACTION,
        Vec::new(),
        vec![key(field::DURATION, Direction::Ascending)],
    );
    let page = known.assert_query(repo, &q).await;
    let durations: Vec<&str> = page
        .records
        .iter()
        .map(|r| r.get(field::DURATION))
        .collect();
    let position = |v: &str| durations.iter().position(|d| *d == v);
    assert!(
        matches!((position("111"), position("37")), (Some(a), Some(b)) if a < b),
        "values are text: \"111\" sorts before \"37\"; got {durations:?}"
    );

    let q = TableQuery {
        limit: 5,
        offset: 2,
        ..parsed(
            &INTERACTION,
            "state!=new^ORDERBYDESCduration^ORDERBYshort_description",
        )
    };
    known.assert_query(repo, &q).await;
}

/// `limit` and `offset` cut the ordered result into pages (offset past the end: no records, the same
/// total), `total` counts every match whatever the page, and the pages put together are the whole result.
pub async fn query_paging_and_totals(repo: &Arc<dyn Repository>) {
    let corpus = mixed_corpus(repo).await;
    let known = corpus.known().await;
    let bases = [
        parsed(&INTERACTION, "ORDERBYstate"),
        parsed(&INTERACTION, "direction!=outbound^ORDERBYDESCduration"),
        parsed(&INTERACTION, "state=nope"),
        parsed(&PHONE_LOG, "call_idISNOTEMPTY^ORDERBYDESCcall_id"),
        TableQuery::all(&RELATED_RECORD),
        parsed(&PROVIDER_APPLICATION, "ORDERBYname"),
    ];
    for base in &bases {
        let whole = known.expected(base);
        let n = whole.records.len();
        assert_eq!(n as u64, whole.total, "suite: the base query is one page");
        let mut offsets: Vec<usize> = (0..=n + 1).collect();
        offsets.push(u32::MAX as usize);
        for limit in [1, 2, 5, 7, DEFAULT_LIMIT, MAX_LIMIT] {
            let mut joined = Vec::new();
            for &offset in &offsets {
                let q = TableQuery {
                    limit,
                    offset,
                    ..base.clone()
                };
                let page = known.assert_query(repo, &q).await;
                assert_eq!(
                    page.total,
                    whole.total,
                    "query {}: total counts every match, whatever the page",
                    describe(&q)
                );
                if offset >= n {
                    assert!(
                        page.records.is_empty(),
                        "query {}: an offset at or past the end gives no records",
                        describe(&q)
                    );
                }
                if offset % limit == 0 {
                    joined.extend(page.records);
                }
            }
            if joined != whole.records {
                let mut out = String::new();
                records_difference("records", &joined, &whole.records, &mut out);
                panic!(
                    "query {}: pages of {limit} put together (got) must be the whole result (want):\n{out}",
                    describe(base)
                );
            }
        }
    }
}

/// Awkward values — `%`, `_` and `\` (LIKE's wildcards and escape), quotes, case pairs, leading and trailing
/// spaces, non-ASCII — are compared exactly by `=`, `!=`, `STARTSWITH` and `LIKE`, and ordered byte-wise:
/// `"B"` before `"a"`, `"é"` after `"z"`. On interaction text, an indexed field (`client_session_id`), phone
/// logs' `call_id`, provider applications' `name` and `inbound_id`, and related records' table names.
pub async fn query_awkward_values(repo: &Arc<dyn Repository>) {
    let mut corpus = Corpus::new(repo);
    let len = AWKWARD.len();
    for (i, v) in AWKWARD
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.trim().is_empty())
    {
        let name = AWKWARD[(i + 5) % len];
        let name = if name.trim().is_empty() { "-" } else { name };
        let mut app = provider_application(v, name);
        app.set(field::SHORT_DESCRIPTION, AWKWARD[(i + 11) % len]);
        corpus.add_provider(app).await;
    }
    // The first eight values twice, so that ties show.
    for i in 0..len + 8 {
        let v = AWKWARD[i % len];
        let body = json!({
            "interaction": {
                "userPhoneNumber": "+14089965744",
                "clientSessionId": AWKWARD[(i * 7 + 3) % len],
                "additionalParams": {"short_description": v, "work_notes": format!("{v}|{v}")}
            },
            "phoneLogs": [{"call_id": v, "call_type": "INBOUND"}],
            "relatedRecords": [{"documentTable": UNDERSCORE_TABLES[i % UNDERSCORE_TABLES.len()], "documentId": DOCS[0]}]
        });
        corpus.create(&body).await;
    }
    let known = corpus.known().await;

    let operands: BTreeSet<&str> = AWKWARD.iter().chain(MORE_PROBES).copied().collect();
    let targets: [(&'static Table, &'static str); 7] = [
        (&INTERACTION, field::SHORT_DESCRIPTION),
        (&INTERACTION, field::CLIENT_SESSION_ID),
        (&INTERACTION, field::WORK_NOTES),
        (&PHONE_LOG, field::CALL_ID),
        (&PROVIDER_APPLICATION, field::NAME),
        (&PROVIDER_APPLICATION, field::INBOUND_ID),
        (&RELATED_RECORD, field::DOCUMENT_TABLE),
    ];
    for (table, name) in targets {
        for op in OPS {
            if matches!(op, Op::IsEmpty | Op::IsNotEmpty) {
                known
                    .assert_query(
                        repo,
                        &query(table, vec![vec![condition(name, op, "")]], Vec::new()),
                    )
                    .await;
                continue;
            }
            for operand in &operands {
                let q = query(table, vec![vec![condition(name, op, operand)]], Vec::new());
                known.assert_query(repo, &q).await;
            }
        }
        for direction in [Direction::Ascending, Direction::Descending] {
            known
                .assert_query(repo, &query(table, Vec::new(), vec![key(name, direction)]))
                .await;
        }
    }

    // Said outright, as the first thing to look at when a store collates differently.
    let q = query(
        &INTERACTION,
        Vec::new(),
        vec![key(field::SHORT_DESCRIPTION, Direction::Ascending)],
    );
    let page = known.assert_query(repo, &q).await;
    let order: Vec<&str> = page
        .records
        .iter()
        .map(|r| r.get(field::SHORT_DESCRIPTION))
        .collect();
    let position = |v: &str| order.iter().position(|x| *x == v);
    let ranks: Vec<Option<usize>> = ["", "B", "a", "z", "é", "☺"].map(position).to_vec();
    assert!(
        ranks.iter().all(Option::is_some) && ranks.windows(2).all(|w| w[0] < w[1]),
        "byte-wise order puts \"\" < \"B\" < \"a\" < \"z\" < \"é\" < \"☺\"; the store ordered {order:?}"
    );
    for (encoded, total) in [
        ("short_descriptionSTARTSWITHa_", 2),
        ("short_descriptionLIKE%", 6),
        ("short_description=a", 4),
        ("short_description=A", 4),
        ("short_description=a ", 1),
    ] {
        let page = known
            .assert_query(repo, &parsed(&INTERACTION, encoded))
            .await;
        assert_eq!(page.total, total, "suite data: {encoded}");
    }
}

/// Lookups by the indexed fields ([`INDEXED_FIELDS`]: `sys_id`, `number`, `client_session_id`,
/// `interaction`) on every table that has them find exactly the right records among 300 interactions with
/// 600 phone logs and 300 related records — one record, not a neighbour with a longer key (`s-1` is not
/// `s-10`), nothing for a key of another table or no record at all.
pub async fn query_indexed_fields_among_many(repo: &Arc<dyn Repository>) {
    const COUNT: usize = 300;
    let mut corpus = Corpus::new(repo);
    add_providers(&mut corpus).await;
    for i in 0..COUNT {
        let body = json!({
            "interaction": {"userPhoneNumber": "+14089965744", "clientSessionId": format!("s-{i}")},
            "phoneLogs": [
                {"call_id": format!("c{i}-0"), "call_type": "INBOUND"},
                {"call_id": format!("c{i}-1"), "call_type": "OUTBOUND"}
            ],
            "relatedRecords": [{"documentTable": "csm_consumer", "documentId": DOCS[i % DOCS.len()]}]
        });
        corpus.create(&body).await;
    }
    let known = corpus.known().await;
    assert_eq!(known.of(&INTERACTION).len(), COUNT);

    for table in TABLES {
        let records = known.of(table);
        let n = records.len();
        let sample: BTreeSet<usize> = [0, 1, 9, 10, 99, 100, n / 2, n - 2, n - 1]
            .into_iter()
            .filter(|&i| i < n)
            .collect();
        for &name in INDEXED_FIELDS {
            if table.field(name).is_none() {
                continue;
            }
            for &i in &sample {
                let value = records[i].get(name);
                let q = query(
                    table,
                    vec![vec![condition(name, Op::Equals, value)]],
                    Vec::new(),
                );
                let page = known.assert_query(repo, &q).await;
                // Two phone logs per interaction; every other key is unique.
                let expected = if table == &PHONE_LOG && name == field::INTERACTION {
                    2
                } else {
                    1
                };
                assert_eq!(page.total, expected, "suite data: query {}", describe(&q));
                // Equality folds ASCII case: the key in the other case finds the same records.
                let shouted = if value.bytes().any(|b| b.is_ascii_lowercase()) {
                    value.to_ascii_uppercase()
                } else {
                    value.to_ascii_lowercase()
                };
                let q = query(
                    table,
                    vec![vec![condition(name, Op::Equals, &shouted)]],
                    Vec::new(),
                );
                let page = known.assert_query(repo, &q).await;
                assert_eq!(page.total, expected, "suite data: query {}", describe(&q));
            }
            for value in [UNKNOWN, "", "IMS0009999", "s-300"] {
                let q = query(
                    table,
                    vec![vec![condition(name, Op::Equals, value)]],
                    Vec::new(),
                );
                known.assert_query(repo, &q).await;
            }
        }
    }

    let interactions = known.of(&INTERACTION);
    let first = interactions[1].sys_id();
    let last = interactions[COUNT - 1].sys_id();
    let log = known.of(&PHONE_LOG)[7].sys_id().to_owned();
    let queries = [
        parsed(&INTERACTION, "client_session_id=s-1"),
        parsed(&INTERACTION, "client_session_id=S-1^ORnumber=ims0001003"),
        parsed(&INTERACTION, "client_session_idINS-1,s-2,S-3"),
        parsed(&INTERACTION, "numberSTARTSWITHims000110"),
        parsed(&INTERACTION, "client_session_idSTARTSWITHs-1"),
        parsed(
            &INTERACTION,
            "client_session_idSTARTSWITHs-29^ORDERBYDESCclient_session_id",
        ),
        parsed(&INTERACTION, "numberSTARTSWITHIMS000110^ORDERBYDESCnumber"),
        parsed(
            &INTERACTION,
            "number=IMS0001001^ORnumber=IMS0001300^ORnumber=IMS0001301",
        ),
        parsed(&INTERACTION, &format!("sys_id={first}^ORsys_id={last}")),
        parsed(&INTERACTION, &format!("sys_id={log}")),
        parsed(&INTERACTION, &format!("number=IMS0001002^sys_id!={first}")),
        parsed(&PHONE_LOG, &format!("interaction={first}^call_idLIKE-1")),
        parsed(
            &PHONE_LOG,
            &format!("interaction={last}^ORDERBYDESCcall_id"),
        ),
        parsed(
            &PHONE_LOG,
            &format!("interaction={first}^ORinteraction={last}^ORDERBYcall_type"),
        ),
        parsed(&PHONE_LOG, &format!("interaction={log}")),
        parsed(&RELATED_RECORD, &format!("interaction={last}")),
        parsed(&PHONE_LOG, &format!("sys_id={log}")),
        TableQuery {
            limit: 10,
            offset: 150,
            ..parsed(&INTERACTION, "ORDERBYDESCnumber")
        },
    ];
    for q in &queries {
        known.assert_query(repo, q).await;
    }

    // Indexes follow their records: a changed or cleared client_session_id is found by its new value only
    // (two interactions may share one), and phone logs an update adds are found by their interaction.
    let ids: Vec<SysId> = interactions.iter().map(|r| sys_id(r.sys_id())).collect();
    let changes = [
        (5, json!("s-5-moved")),
        (7, json!("s-8")),
        (9, Value::Null),
        (11, json!("s-1")),
    ];
    for (i, session) in &changes {
        let body = json!({
            "interaction": {"clientSessionId": session},
            "phoneLogs": [{"call_id": format!("late-{i}")}]
        });
        corpus.update(&ids[*i], &body).await;
    }
    let known = corpus.known().await;
    for (encoded, total) in [
        ("client_session_id=s-5", 0),
        ("client_session_id=s-5-moved", 1),
        ("client_session_idSTARTSWITHs-5", 11),
        ("client_session_id=s-7", 0),
        ("client_session_id=s-8", 2),
        ("client_session_id=s-9", 0),
        ("client_session_idISEMPTY", 1),
        ("client_session_id=s-1", 2),
        ("client_session_id=s-11", 0),
    ] {
        let page = known
            .assert_query(repo, &parsed(&INTERACTION, encoded))
            .await;
        assert_eq!(page.total, total, "suite data: {encoded}");
    }
    for (i, _) in &changes {
        let q = parsed(&PHONE_LOG, &format!("interaction={}", ids[*i]));
        let page = known.assert_query(repo, &q).await;
        assert_eq!(page.total, 3, "suite data: query {}", describe(&q));
    }
}

/// Queries as long as a URL allows answer as the reference does, never with a store error: 1,500 conditions
/// OR-ed in one group, 1,500 groups AND-ed, 2,001 sort keys, operands of 60,000 characters.
pub async fn query_of_any_size_is_answered(repo: &Arc<dyn Repository>) {
    let corpus = mixed_corpus(repo).await;
    let known = corpus.known().await;
    let ids: Vec<String> = known
        .of(&INTERACTION)
        .iter()
        .map(|r| r.sys_id().to_owned())
        .collect();
    let ored: Vec<String> = (0..1_500)
        .map(|i| format!("sys_id={}", ids.get(i % 7).map_or("none", String::as_str)))
        .collect();
    let anded: Vec<String> = (0..1_500).map(|_| "stateISNOTEMPTY".to_owned()).collect();
    let ordered: Vec<String> = (0..2_001)
        .map(|i| {
            let field = ["number", "state", "sys_id"][i % 3];
            if i % 2 == 0 {
                format!("ORDERBY{field}")
            } else {
                format!("ORDERBYDESC{field}")
            }
        })
        .collect();
    let huge = "x".repeat(60_000);
    for encoded in [
        ored.join("^OR"),
        anded.join("^"),
        ordered.join("^"),
        format!("short_descriptionLIKE{huge}"),
        format!("short_descriptionSTARTSWITH{huge}^ORnumber={huge}"),
        format!("{}^ORDERBYnumber", ored.join("^OR")),
    ] {
        known
            .assert_query(repo, &parsed(&INTERACTION, &encoded))
            .await;
    }
}

/// The platform's operators, each on every table's awkward values: `<`/`>`/`BETWEEN` (whole numbers as
/// numbers, date-times from `gs.dateGenerate`), `IN`/`NOT IN`, `ENDSWITH`, `NOT LIKE`, `ANYTHING`,
/// `EMPTYSTRING`, `SAMEAS`/`NSAMEAS`, `^NQ`, and empty values, which no negative or ordering condition
/// matches.
pub async fn query_platform_operators(repo: &Arc<dyn Repository>) {
    let corpus = mixed_corpus(repo).await;
    let known = corpus.known().await;
    let interaction = [
        "duration>37",
        "duration>=037",
        "duration<74",
        "duration<=0",
        "durationBETWEEN37@111",
        "duration=074",
        "duration!=37",
        "durationIN37,74,,111",
        "durationNOT IN37,0074",
        "sys_mod_count>1",
        "sys_mod_countBETWEEN1@2",
        "stateINnew,on_hold^ORDERBYnumber",
        "stateNOT INnew,queued",
        "short_descriptionENDSWITHill",
        "short_descriptionENDSWITH",
        "short_descriptionNOT LIKEill",
        "short_descriptionNOT LIKE",
        "short_description<C",
        "short_description>=Call",
        "short_descriptionBETWEENA@Cz",
        "queueANYTHING",
        "queueEMPTYSTRING",
        "assigned_to!=x",
        "assigned_toNOT INx",
        "opened_at>javascript:gs.dateGenerate('2024-01-01','start')",
        "opened_atBETWEENjavascript:gs.dateGenerate('2000-01-01','00:00:00')@javascript:gs.dateGenerate('2099-12-31','end')",
        "closed_at<2099-01-01 00:00:00",
        "short_descriptionSAMEASwork_notes",
        "short_descriptionNSAMEASwork_notes",
        "durationSAMEASsys_mod_count",
        "durationNSAMEASsys_mod_count",
        "state=new^NQduration>100^ORqueueISNOTEMPTY^NQnumber=IMS0001003",
        "state=nope^NQstate=nope",
    ];
    for encoded in interaction {
        known
            .assert_query(repo, &parsed(&INTERACTION, encoded))
            .await;
    }
    for (table, encoded) in [
        (&PHONE_LOG, "call_typeINinbound,INBOUND^ORcall_idENDSWITH1"),
        (
            &PHONE_LOG,
            "duration>=10^end_timeISNOTEMPTY^NQcall_idNOT LIKEc",
        ),
        (
            &PHONE_LOG,
            "start_time<=javascript:gs.dateGenerate('2099-01-01','end')",
        ),
        (
            &PHONE_LOG,
            "interactionNOT IN0000000000000000000000000000ffff",
        ),
        (
            &RELATED_RECORD,
            "document_tableENDSWITH_b^ORdocument_tableIN a_b,ab",
        ),
        (&RELATED_RECORD, "document_tableNSAMEASdocument_id"),
        (
            &PROVIDER_APPLICATION,
            "inbound_idNOT INgen-1^nameENDSWITHys",
        ),
        (
            &PROVIDER_APPLICATION,
            "short_description>=A^NQnameANYTHING^ORDERBYDESCname",
        ),
    ] {
        known.assert_query(repo, &parsed(table, encoded)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_cover_every_operator() {
        let mut r = Record::new(&INTERACTION);
        r.set(field::STATE, "on_hold");
        let ops: BTreeSet<String> = probes(&[r], field::STATE)
            .iter()
            .map(|c| format!("{:?}", c.op))
            .collect();
        assert_eq!(ops.len(), OPS.len());
    }

    #[test]
    fn mixer_stays_below_its_bound() {
        let mut m = Mixer(1);
        assert!((0..1000).all(|_| m.below(7) < 7));
    }
}
