//! What the model-based test generates: sequences of requests as JSON bodies, drawn from small pools so that
//! phone-log upserts, related-record dedupes, context removals, conflicts and every kind of rejection come
//! up often, and Table API reads: queries whose operands are values (and fragments of values) the generated
//! data holds, and `read_record` of the records stored so far. Pools list their plain values first, so
//! shrinking leads to the plainest failing request.

use std::fmt;

use proptest::collection::vec;
use proptest::option::weighted;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

use crate::request::Mode;
use crate::schema::TABLES;

use super::fixture::AGENT;
use super::query_steps::{AggregateStep, QueryStep, aggregate_step, query_step};

/// Most operations in one case.
pub(crate) const MAX_STEPS: usize = 12;

/// `inbound_id`s of provider applications: the first is registered before every case; the last differs
/// from it only in case.
pub(crate) const PROVIDERS: [&str; 4] = ["gen-1", "gen_2", "gen%", "GEN-1"];

/// User names the operations add and look up.
pub(crate) const USERS: [&str; 4] = ["agent", "Agent", "sup_1", "sup%1"];

pub(crate) const OTHER: &str = "0123456789abcdef0123456789abcdef";
pub(crate) const DOCS: [&str; 3] = [
    "59e788fbdb1b1200b6075200cf9619d2",
    AGENT,
    "00000000000000000000000000000001",
];

/// Which interaction an operation is about.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    /// The `n % created`-th interaction created so far (an unknown one while there are none).
    Created(usize),
    /// A well-formed sys_id no interaction has.
    Unknown,
}

/// One step of a case.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    /// POST the body.
    Create(Value),
    /// PATCH the target with the body.
    Update(Target, Value),
    /// GET the target.
    Read(Target),
    /// DELETE the target interaction (Table API).
    Delete(Target),
    /// DELETE (Table API) the `n % (count + 1)`-th of the `count` phone logs, or related records when
    /// `related`, stored so far; `count` itself stands for a sys_id nothing has.
    DeleteChild {
        /// Related records rather than phone logs.
        related: bool,
        /// Which record.
        n: usize,
    },
    /// Register provider application `PROVIDERS[i]`.
    AddProvider(usize),
    /// Look up `PROVIDERS[i]`.
    FindProvider(usize),
    /// Add user `USERS[i]`.
    AddUser(usize),
    /// Look up `USERS[i]`.
    FindUser(usize),
    /// Run a Table API query.
    Query(QueryStep),
    /// Run an Aggregate API request.
    Aggregate(AggregateStep),
    /// `read_record` in `TABLES[table]` of the `n % (count + 1)`-th of the `count` records stored so far
    /// (interactions, their phone logs and related records, provider applications); `count` itself stands for
    /// a sys_id nothing has.
    ReadRecord {
        /// Index into [`TABLES`].
        table: usize,
        /// Which record.
        n: usize,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Created(n) => write!(f, "created[{n} % count]"),
            Target::Unknown => f.write_str("unknown sys_id"),
        }
    }
}

/// Longest a request body is shown in a failure's steps; the seed replays the whole of it.
const SHOWN_BODY_CHARS: usize = 160;

/// A body as JSON, cut after [`SHOWN_BODY_CHARS`] characters, so that a failure stays a few lines.
struct Brief<'a>(&'a serde_json::Value);

impl fmt::Display for Brief<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.to_string();
        match text.char_indices().nth(SHOWN_BODY_CHARS) {
            Some((cut, _)) => write!(f, "{}… ({} bytes)", &text[..cut], text.len()),
            None => f.write_str(&text),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Create(body) => write!(f, "POST {}", Brief(body)),
            Op::Update(target, body) => write!(f, "PATCH {target} {}", Brief(body)),
            Op::Read(target) => write!(f, "GET {target}"),
            Op::Delete(target) => write!(f, "DELETE interaction {target}"),
            Op::DeleteChild { related, n } => write!(
                f,
                "DELETE {} stored record {n} % (count + 1)",
                if *related {
                    "related record"
                } else {
                    "phone log"
                }
            ),
            Op::AddProvider(i) => write!(f, "add provider {:?}", PROVIDERS[*i]),
            Op::FindProvider(i) => write!(f, "find provider {:?}", PROVIDERS[*i]),
            Op::AddUser(i) => write!(f, "add user {:?}", USERS[*i]),
            Op::FindUser(i) => write!(f, "find user {:?}", USERS[*i]),
            Op::Query(q) => write!(f, "query {q}"),
            Op::Aggregate(a) => write!(f, "aggregate {a}"),
            Op::ReadRecord { table, n } => write!(
                f,
                "read_record {} of stored record {n} % (count + 1)",
                TABLES[*table].name
            ),
        }
    }
}

/// One case: a POST (most failures need an interaction), then up to [`MAX_STEPS`]` - 1` more operations.
pub(crate) fn sequence() -> impl Strategy<Value = Vec<Op>> {
    (body(Mode::Create), vec(op(), 0..MAX_STEPS)).prop_map(|(first, mut rest)| {
        rest.insert(0, Op::Create(first));
        rest
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => body(Mode::Create).prop_map(Op::Create),
        8 => (target(), body(Mode::Update)).prop_map(|(t, b)| Op::Update(t, b)),
        1 => target().prop_map(Op::Read),
        1 => target().prop_map(Op::Delete),
        1 => (any::<bool>(), 0..64usize).prop_map(|(related, n)| Op::DeleteChild { related, n }),
        1 => (0..PROVIDERS.len()).prop_map(Op::AddProvider),
        1 => (0..PROVIDERS.len()).prop_map(Op::FindProvider),
        1 => (0..USERS.len()).prop_map(Op::AddUser),
        1 => (0..USERS.len()).prop_map(Op::FindUser),
        3 => query_step().prop_map(Op::Query),
        2 => aggregate_step().prop_map(Op::Aggregate),
        1 => (0..TABLES.len(), 0..64usize).prop_map(|(table, n)| Op::ReadRecord { table, n }),
    ]
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        14 => (0..4usize).prop_map(Target::Created),
        1 => Just(Target::Unknown),
    ]
}

/// Mostly one of `valid`, now and then (one in 25) one of `invalid`; shrinks towards `valid[0]`.
fn pool<T: Clone + fmt::Debug + 'static>(valid: &[T], invalid: &[T]) -> BoxedStrategy<T> {
    if invalid.is_empty() {
        select(valid.to_vec()).boxed()
    } else {
        prop_oneof![24 => select(valid.to_vec()), 1 => select(invalid.to_vec())].boxed()
    }
}

/// Free text: plain, with quotes and LIKE's wildcards and escape, non-ASCII, padded; and near misses of
/// those — another case, a trailing space, what the wildcard text matches as a LIKE pattern without
/// being it — so that queries tell exact comparison from folding, padding and pattern matching.
fn texts() -> BoxedStrategy<Value> {
    pool(
        &[
            json!("a545t65678"),
            json!("O'Brien \"q\" 100% _x_ \\"),
            json!("Ünïcödé ✓ 日本語 🙂"),
            json!("  padded  "),
            json!(42),
            Value::Null,
            json!("A545T65678"),
            json!("a545t65678 "),
            json!("O'Brien \"q\" 100a bx_ \\"),
        ],
        &[],
    )
}

/// Sets `key` in `map` when the option holds a value.
fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v);
    }
}

fn additional_params() -> impl Strategy<Value = Value> {
    let state = pool(
        &[
            json!("work_in_progress"),
            json!("closed_complete"),
            json!("on_hold"),
            json!("closed_abandoned"),
            json!("new"),
        ],
        &[json!("open"), Value::Null],
    );
    let direction = pool(&[json!("inbound"), json!("outbound")], &[json!("sideways")]);
    let reference = pool(&[json!(AGENT), json!(OTHER), Value::Null], &[json!("bob")]);
    // "120" sorts before "42" as text, after it as a number; "090" is the number 90 spelled otherwise.
    let duration = pool(
        &[
            json!(42),
            json!("90"),
            json!("120"),
            json!("090"),
            Value::Null,
        ],
        &[json!("5m")],
    );
    let closed_at = pool(
        &[json!("2024-11-04 22:00:00"), Value::Null],
        &[json!("yesterday")],
    );
    // Fields a client may not write, or that do not exist.
    let forbidden = select(vec![
        ("colour", json!("x")),
        ("sys_id", json!(OTHER)),
        ("opened_by", json!(AGENT)),
    ]);
    (
        weighted(0.5, state),
        weighted(0.2, direction),
        weighted(0.3, texts()),
        weighted(0.2, texts()),
        weighted(0.2, reference),
        weighted(0.15, duration),
        weighted(0.15, closed_at),
        weighted(0.02, forbidden),
    )
        .prop_map(
            |(state, direction, short, notes, assigned, duration, closed_at, forbidden)| {
                let mut m = Map::new();
                put(&mut m, "state", state);
                put(&mut m, "direction", direction);
                put(&mut m, "short_description", short);
                put(&mut m, "work_notes", notes);
                put(&mut m, "assigned_to", assigned);
                put(&mut m, "duration", duration);
                put(&mut m, "closed_at", closed_at);
                if let Some((k, v)) = forbidden {
                    m.insert(k.to_owned(), v);
                }
                Value::Object(m)
            },
        )
}

fn interaction(mode: Mode) -> impl Strategy<Value = Value> {
    let user_weight = if mode == Mode::Create { 0.97 } else { 0.2 };
    let phones = || {
        pool(
            &[json!("+14089965744"), json!("+1303506536")],
            &[json!("555-1234"), json!("")],
        )
    };
    let inbound = pool(
        &[json!("gen-1"), json!("gen_2"), json!(""), Value::Null],
        &[json!("unregistered")],
    );
    (
        weighted(user_weight, phones()),
        weighted(0.2, phones()),
        weighted(0.2, texts()),
        weighted(0.2, inbound),
        weighted(0.7, additional_params()),
        weighted(0.01, Just(json!("+14089965744"))),
        weighted(0.9, Just(json!({"state": "work_in_progress"}))),
    )
        .prop_map(
            move |(user, callback, session, inbound, params, unknown, fallback)| {
                let mut m = Map::new();
                put(&mut m, "userPhoneNumber", user);
                put(&mut m, "callbackPhoneNumber", callback);
                put(&mut m, "clientSessionId", session);
                put(&mut m, "inboundId", inbound);
                put(&mut m, "additionalParams", params);
                put(&mut m, "phone", unknown);
                // An update's `interaction` carrying nothing is refused before the store is asked:
                // mostly give it something, so that the request reaches the store.
                let empty = m.values().all(|v| v.as_object().is_some_and(Map::is_empty));
                if empty && mode == Mode::Update {
                    put(&mut m, "additionalParams", fallback);
                }
                Value::Object(m)
            },
        )
}

/// Context keys from a small pool (with two differing only in case), often `null` so that removals happen,
/// and now and then a bulk of 140 keys from one of three ranges: a bulk from another range on top of one
/// already stored passes 256 keys, which only the stored interaction can tell.
fn context() -> impl Strategy<Value = Value> {
    let key = pool(&["k0", "k1", "K0", "a.b-c"], &["1bad"]);
    let value = prop_oneof![
        3 => pool(&[json!("v1"), json!("v2"), json!(7), json!("Ünï 100%_\\")], &[]),
        2 => Just(Value::Null),
    ];
    (vec((key, value), 1..4), weighted(0.3, 0..3usize)).prop_map(|(pairs, bulk)| {
        let mut m = Map::new();
        for (k, v) in pairs {
            m.insert(k.to_owned(), v);
        }
        if let Some(range) = bulk {
            for i in 0..140 {
                m.insert(format!("bulk{}", range * 130 + i), json!("b"));
            }
        }
        Value::Object(m)
    })
}

fn phone_log() -> impl Strategy<Value = Value> {
    let call_id = pool(
        &[json!("c0"), json!("c1"), json!("c2"), json!(""), json!(3)],
        &[],
    );
    let call_type = pool(&[json!("INBOUND"), json!("OUTBOUND")], &[json!("inbound")]);
    let start = pool(
        &[json!("2024-11-04 21:45:00"), json!("2024-11-04 21:50:00")],
        &[],
    );
    // 21:40 is before either start: a rule only the stored log can decide.
    let end = pool(
        &[
            json!("2024-11-04 21:47:30"),
            json!("2024-11-04 21:40:00"),
            Value::Null,
        ],
        &[json!("2024-11-04T21:47:30Z")],
    );
    let duration = pool(
        &[json!(30), json!("120"), json!("007"), Value::Null],
        &[json!(-5)],
    );
    let agent = pool(&[json!(AGENT), json!(OTHER)], &[json!("Alice")]);
    let phone = pool(&[json!("+14089965744")], &[json!("12345")]);
    (
        weighted(0.85, call_id),
        weighted(0.3, call_type),
        weighted(0.35, start),
        weighted(0.35, end),
        weighted(0.15, duration),
        weighted(0.2, agent),
        weighted(0.1, phone),
        weighted(0.01, Just(json!(AGENT))),
    )
        .prop_map(
            |(call_id, call_type, start, end, duration, agent, phone, interaction)| {
                let mut m = Map::new();
                put(&mut m, "call_id", call_id);
                put(&mut m, "call_type", call_type);
                put(&mut m, "start_time", start);
                put(&mut m, "end_time", end);
                put(&mut m, "duration", duration);
                put(&mut m, "agent", agent);
                put(&mut m, "phone_number", phone);
                put(&mut m, "interaction", interaction);
                Value::Object(m)
            },
        )
}

fn related_record() -> impl Strategy<Value = Value> {
    let table = pool(&["csm_consumer", "sys_user"], &["Bad Table"]);
    let id = pool(
        &[json!(DOCS[0]), json!(DOCS[1]), json!(DOCS[2])],
        &[json!("x")],
    );
    (table, id).prop_map(|(t, id)| json!({"documentTable": t, "documentId": id}))
}

/// A request body: mostly well-formed, with every part optional and now and then a misspelt top-level key.
fn body(mode: Mode) -> impl Strategy<Value = Value> {
    let interaction_weight = if mode == Mode::Create { 0.98 } else { 0.4 };
    (
        weighted(interaction_weight, interaction(mode)),
        weighted(0.45, context()),
        weighted(0.55, vec(phone_log(), 1..4)),
        weighted(0.35, vec(related_record(), 1..4)),
        weighted(0.01, Just(json!({}))),
        weighted(0.9, Just(json!({"k1": "v2"}))),
    )
        .prop_map(
            move |(interaction, context, logs, related, typo, fallback)| {
                let mut m = Map::new();
                put(&mut m, "interaction", interaction);
                put(&mut m, "interactionContext", context);
                put(&mut m, "phoneLogs", logs.map(Value::from));
                put(&mut m, "relatedRecords", related.map(Value::from));
                // An empty update is refused before the store is asked: mostly give it something.
                if m.is_empty() && mode == Mode::Update {
                    put(&mut m, "interactionContext", fallback);
                }
                put(&mut m, "interactoin", typo);
                Value::Object(m)
            },
        )
}
