//! What the suite's tests act through: a [`Service`] with a deterministic environment and a fixed caller, so
//! that aggregates are built by the real rules from JSON bodies, and a [`Twin`] that sends every request to
//! the store under test and to the reference [`MemoryRepository`] and insists they agree.

use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::aggregate::{AggregateChange, InteractionAggregate};
use crate::error::{Conflict, Error, Result};
use crate::memory::MemoryRepository;
use crate::record::Record;
use crate::repository::Repository;
use crate::request::{Mode, VoiceInteractionRequest};
use crate::schema::Table;
use crate::service::{Caller, Created, Service};
use crate::sys_id::SysId;

use super::environment::TestEnvironment;

/// The sys_id of the suite's calling user (the reference example's agent).
pub(crate) const AGENT: &str = "a8f98bb0eb32010045e1a5115206fe3a";

/// A sys_id no test environment ever produces (its counter half would be `u64::MAX`).
pub(crate) const UNKNOWN: &str = "ffffffffffffffffffffffffffffffff";

/// A sys_id from a constant the suite knows to be well formed.
pub(crate) fn sys_id(s: &str) -> SysId {
    SysId::parse(s).unwrap_or_else(|rule| panic!("suite constant {s:?}: {rule}"))
}

/// The caller every suite request acts for.
pub(crate) fn agent() -> Caller {
    Caller {
        sys_id: sys_id(AGENT),
        user_name: "agent".into(),
    }
}

/// The value of a call that must succeed, or a panic naming the call and the error with its source.
#[track_caller]
pub(crate) fn ok<T>(what: &str, result: Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{what}: unexpected error `{e}` ({e:?})"))
}

/// The reference's POST example: an interaction with context, two phone logs and a related record.
pub(crate) fn reference_body() -> Value {
    json!({
        "interaction": {
            "userPhoneNumber": "+1303506536",
            "clientSessionId": "a545t65678",
            "callbackPhoneNumber": "+14089965744",
            "additionalParams": {
                "direction": "inbound",
                "short_description": "New outbound call",
                "assigned_to": AGENT
            }
        },
        "interactionContext": {"devicetype": "genesys", "requester_session_language": "en-US"},
        "phoneLogs": [
            {"call_id": "2323223", "agent": AGENT, "start_time": "2024-11-04 21:45:00"},
            {"call_id": "33535353", "agent": AGENT, "start_time": "2024-11-04 21:45:00"}
        ],
        "relatedRecords": [
            {"documentTable": "csm_consumer", "documentId": "59e788fbdb1b1200b6075200cf9619d2"}
        ]
    })
}

/// A service over one repository with a fresh [`TestEnvironment`] and the suite's caller.
#[derive(Clone, Debug)]
pub(crate) struct Fixture {
    service: Service,
    caller: Caller,
}

impl Fixture {
    /// A fixture over `repo`.
    pub(crate) fn new(repo: &Arc<dyn Repository>) -> Self {
        Fixture {
            service: Service::with_environment(Arc::clone(repo), Arc::new(TestEnvironment::new())),
            caller: agent(),
        }
    }

    /// A fixture over a fresh reference store.
    pub(crate) fn reference() -> Self {
        Fixture::new(&(Arc::new(MemoryRepository::new()) as Arc<dyn Repository>))
    }

    /// The repository behind the fixture.
    pub(crate) fn repo(&self) -> &Arc<dyn Repository> {
        self.service.repository()
    }

    /// POSTs `body`.
    pub(crate) async fn create(&self, body: &Value) -> Result<Created> {
        let req = VoiceInteractionRequest::parse(body, Mode::Create)?;
        self.service.create(&self.caller, req).await
    }

    /// PATCHes interaction `sys_id` with `body`.
    pub(crate) async fn update(&self, sys_id: &SysId, body: &Value) -> Result<AggregateChange> {
        let req = VoiceInteractionRequest::parse(body, Mode::Update)?;
        self.service.update(&self.caller, sys_id, req).await
    }

    /// Deletes record `sys_id` of `table` as the Table API's `DELETE` does.
    pub(crate) async fn delete(&self, table: &'static Table, sys_id: &SysId) -> Result<()> {
        self.service.table_delete(&self.caller, table, sys_id).await
    }

    /// Reads interaction `sys_id`.
    pub(crate) async fn read(&self, sys_id: &SysId) -> Result<InteractionAggregate> {
        self.service.read(sys_id).await
    }

    /// Reads interaction `sys_id`, which must exist.
    pub(crate) async fn load(&self, sys_id: &SysId) -> InteractionAggregate {
        ok(
            "load_interaction",
            self.repo().load_interaction(sys_id).await,
        )
        .unwrap_or_else(|| {
            panic!("load_interaction({sys_id}) returned None for a created interaction")
        })
    }
}

/// An error reduced to what every store must agree on: the kind, for `Invalid` the field and rule, for
/// `Conflict` which key is taken. `Unavailable`/`Internal` never happen on the reference, so they keep their
/// whole text to show what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    Invalid { field: String, rule: String },
    NotFound(&'static str),
    Conflict(Conflict),
    Other(String),
}

impl Failure {
    pub(crate) fn of(e: &Error) -> Self {
        match e {
            Error::Invalid { field, rule } => Failure::Invalid {
                field: field.clone(),
                rule: rule.clone(),
            },
            Error::NotFound { what } => Failure::NotFound(what),
            Error::Conflict(conflict) => Failure::Conflict(conflict.clone()),
            Error::Unavailable { .. } | Error::Internal { .. } => {
                Failure::Other(format!("{e} ({e:?})"))
            }
        }
    }
}

/// Asserts that `result`, of doing `what`, is the conflict `expected`: that kind, naming that key.
pub(crate) fn assert_conflict<T: std::fmt::Debug>(
    what: &str,
    result: Result<T>,
    expected: Conflict,
) {
    match result {
        Err(Error::Conflict(got)) if got == expected => {}
        Err(Error::Conflict(got)) => {
            panic!(
                "{what}: expected the conflict {expected:?} (`{expected}`), got {got:?} (`{got}`)"
            )
        }
        other => panic!("{what}: expected the conflict {expected:?} (`{expected}`), got {other:?}"),
    }
}

/// A result reduced to what stores must agree on.
pub(crate) fn shape<T>(result: Result<T>) -> std::result::Result<T, Failure> {
    result.map_err(|e| Failure::of(&e))
}

/// The same requests sent to the store under test and to the reference, each with its own identical
/// environment.
#[derive(Debug)]
pub(crate) struct Twin {
    pub(crate) store: Fixture,
    pub(crate) reference: Fixture,
}

impl Twin {
    pub(crate) fn new(repo: &Arc<dyn Repository>) -> Self {
        Twin {
            store: Fixture::new(repo),
            reference: Fixture::reference(),
        }
    }

    /// POSTs `body` to both; both must succeed alike.
    pub(crate) async fn create(&self, body: &Value) -> Created {
        let shown = short(&body.to_string());
        let expected = ok("reference create", self.reference.create(body).await);
        let got = ok(&format!("create {shown}"), self.store.create(body).await);
        assert_eq!(
            got, expected,
            "create {shown}: store and reference disagree"
        );
        self.assert_same(&got.sys_id).await;
        got
    }

    /// PATCHes `sys_id` with `body` on both; the results (change or error) must agree, as must the
    /// interactions after, and the store must have applied the change exactly like
    /// [`AggregateChange::apply_to`].
    pub(crate) async fn update(
        &self,
        sys_id: &SysId,
        body: &Value,
    ) -> std::result::Result<AggregateChange, Failure> {
        let shown = short(&body.to_string());
        let before = self.store.load(sys_id).await;
        let expected = shape(self.reference.update(sys_id, body).await);
        let got = shape(self.store.update(sys_id, body).await);
        if got != expected {
            panic!(
                "update {shown}: the store (got) and the reference (want) returned different changes:\n{}",
                result_difference(&got, &expected)
            );
        }
        let after = self.assert_same(sys_id).await;
        match &got {
            Ok(change) => {
                let mut applied = before;
                change.apply_to(&mut applied);
                assert_aggregate(
                    &after,
                    &applied,
                    &format!(
                        "update {shown}: the stored interaction is not the change applied to the one before"
                    ),
                );
            }
            Err(_) => assert_aggregate(
                &after,
                &before,
                &format!("update {shown} failed but wrote something"),
            ),
        }
        got
    }

    /// Reads `sys_id` from both and insists they are equal; returns the store's.
    pub(crate) async fn assert_same(&self, sys_id: &SysId) -> InteractionAggregate {
        let expected = self.reference.load(sys_id).await;
        let got = self.store.load(sys_id).await;
        assert_aggregate(
            &got,
            &expected,
            &format!("interaction {sys_id}: the store (got) and the reference (want) differ"),
        );
        got
    }
}

/// Panics with `what` and the fields in which `got` differs from `want`, unless they are equal.
#[track_caller]
pub(crate) fn assert_aggregate(
    got: &InteractionAggregate,
    want: &InteractionAggregate,
    what: &str,
) {
    if got != want {
        panic!("{what}; differences:\n{}", difference(got, want));
    }
}

/// The fields in which `got` differs from `want`, one per line: short enough to read when an aggregate
/// has dozens of fields and values of thousands of characters.
pub(crate) fn difference(got: &InteractionAggregate, want: &InteractionAggregate) -> String {
    let mut out = String::new();
    record_difference("interaction", &got.interaction, &want.interaction, &mut out);
    for key in got.context.keys().chain(want.context.keys()) {
        let (g, w) = (got.context.get(key), want.context.get(key));
        if g != w && !out.contains(&format!("context.{key}:")) {
            let _ = writeln!(
                out,
                "  context.{key}: got {}, want {}",
                show(g.map(String::as_str)),
                show(w.map(String::as_str))
            );
        }
    }
    records_difference("phone_logs", &got.phone_logs, &want.phone_logs, &mut out);
    records_difference(
        "related_records",
        &got.related_records,
        &want.related_records,
        &mut out,
    );
    out
}

/// Appends to `out` how the records `got` differ from `want`: which are missing or extra (by sys_id), or
/// in another order, or else the differing fields of each.
pub(crate) fn records_difference(label: &str, got: &[Record], want: &[Record], out: &mut String) {
    let ids = |records: &[Record]| -> Vec<String> {
        records.iter().map(|r| r.sys_id().to_owned()).collect()
    };
    let (got_ids, want_ids) = (ids(got), ids(want));
    if got_ids != want_ids {
        let missing: Vec<&String> = want_ids.iter().filter(|i| !got_ids.contains(i)).collect();
        let extra: Vec<&String> = got_ids.iter().filter(|i| !want_ids.contains(i)).collect();
        let _ = write!(
            out,
            "  {label}: got {} records, want {}",
            got.len(),
            want.len()
        );
        if missing.is_empty() && extra.is_empty() {
            let _ = writeln!(
                out,
                "; another order (by sys_id): got {}, want {}",
                few(&got_ids),
                few(&want_ids)
            );
        } else {
            let _ = writeln!(out, "; missing {}, extra {}", few(&missing), few(&extra));
        }
        return;
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        record_difference(&format!("{label}[{i}]"), g, w, out);
    }
}

/// At most five items of a list for a failure message, and how many more there are.
fn few<T: std::fmt::Debug>(items: &[T]) -> String {
    const SHOWN: usize = 5;
    if items.len() <= SHOWN {
        format!("{items:?}")
    } else {
        format!("{:?} and {} more", &items[..SHOWN], items.len() - SHOWN)
    }
}

/// The ways in which the change `got` differs from `want`, one per line.
pub(crate) fn change_difference(got: &AggregateChange, want: &AggregateChange) -> String {
    let mut out = String::new();
    record_difference(
        "change.interaction",
        &got.interaction,
        &want.interaction,
        &mut out,
    );
    if got.context_set != want.context_set {
        for key in got.context_set.keys().chain(want.context_set.keys()) {
            let (g, w) = (got.context_set.get(key), want.context_set.get(key));
            if g != w && !out.contains(&format!("change.context_set.{key}:")) {
                let _ = writeln!(
                    out,
                    "  change.context_set.{key}: got {}, want {}",
                    show(g.map(String::as_str)),
                    show(w.map(String::as_str))
                );
            }
        }
    }
    if got.context_removed != want.context_removed {
        let g: Vec<&String> = got.context_removed.iter().collect();
        let w: Vec<&String> = want.context_removed.iter().collect();
        let _ = writeln!(
            out,
            "  change.context_removed: got {}, want {}",
            few(&g),
            few(&w)
        );
    }
    records_difference(
        "change.phone_logs",
        &got.phone_logs,
        &want.phone_logs,
        &mut out,
    );
    records_difference(
        "change.related_records",
        &got.related_records,
        &want.related_records,
        &mut out,
    );
    out
}

/// How two results differ, in a few lines: the differing fields when both are changes, else each side's
/// `Debug` cut short.
pub(crate) fn result_difference(
    got: &std::result::Result<AggregateChange, Failure>,
    want: &std::result::Result<AggregateChange, Failure>,
) -> String {
    match (got, want) {
        (Ok(g), Ok(w)) => change_difference(g, w),
        _ => format!(
            "  got  {}\n  want {}\n",
            short_debug(got),
            short_debug(want)
        ),
    }
}

/// `value`'s `Debug`, cut after 300 characters.
pub(crate) fn short_debug(value: &impl std::fmt::Debug) -> String {
    const SHOWN: usize = 300;
    let text = format!("{value:?}");
    let n = text.chars().count();
    if n <= SHOWN {
        text
    } else {
        let head: String = text.chars().take(SHOWN).collect();
        format!("{head}… ({n} characters)")
    }
}

/// How the export `got` differs from `want` (both in the dump format, one record a line): the line counts
/// and the first lines found in one but not the other, cut short.
pub(crate) fn dump_difference(got: &str, want: &str) -> String {
    use std::collections::HashSet;
    let (got_lines, want_lines): (Vec<&str>, Vec<&str>) =
        (got.lines().collect(), want.lines().collect());
    let (in_got, in_want): (HashSet<&str>, HashSet<&str>) = (
        got_lines.iter().copied().collect(),
        want_lines.iter().copied().collect(),
    );
    let mut out = format!(
        "  got {} lines, want {}\n",
        got_lines.len(),
        want_lines.len()
    );
    for (label, lines, other) in [
        ("only in got ", &got_lines, &in_want),
        ("only in want", &want_lines, &in_got),
    ] {
        let only: Vec<&&str> = lines.iter().filter(|l| !other.contains(**l)).collect();
        for line in only.iter().take(3) {
            let _ = writeln!(out, "  {label}: {}", show(Some(line)));
        }
        if only.len() > 3 {
            let _ = writeln!(out, "  {label}: … {} more lines", only.len() - 3);
        }
    }
    if in_got == in_want {
        out.push_str("  the same lines in another order\n");
    }
    out
}

/// Panics with `what` and how the export `got` differs from `want`, unless they are equal.
#[track_caller]
pub(crate) fn assert_same_dump(got: &str, want: &str, what: &str) {
    if got != want {
        panic!("{what}; differences:\n{}", dump_difference(got, want));
    }
}

/// Appends to `out` one line per field in which `got` differs from `want`.
pub(crate) fn record_difference(label: &str, got: &Record, want: &Record, out: &mut String) {
    for ((name, g), (_, w)) in got.iter().zip(want.iter()) {
        if g != w {
            let _ = writeln!(
                out,
                "  {label}.{name}: got {}, want {}",
                show(Some(g)),
                show(Some(w))
            );
        }
    }
}

/// Text for a failure message, cut after 200 characters.
pub(crate) fn short(text: &str) -> String {
    let n = text.chars().count();
    if n <= 200 {
        text.to_owned()
    } else {
        let head: String = text.chars().take(200).collect();
        format!("{head}… ({n} characters)")
    }
}

/// A value for a failure message: quoted, cut after 80 characters.
pub(crate) fn show(value: Option<&str>) -> String {
    match value {
        None => "(absent)".to_owned(),
        Some(v) if v.chars().count() > 80 => {
            let head: String = v.chars().take(80).collect();
            format!("{head:?}… ({} characters)", v.chars().count())
        }
        Some(v) => format!("{v:?}"),
    }
}
