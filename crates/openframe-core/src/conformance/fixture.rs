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
        let expected = ok("reference create", self.reference.create(body).await);
        let got = ok(&format!("create {body}"), self.store.create(body).await);
        assert_eq!(got, expected, "create {body}: store and reference disagree");
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
        let before = self.store.load(sys_id).await;
        let expected = shape(self.reference.update(sys_id, body).await);
        let got = shape(self.store.update(sys_id, body).await);
        assert_eq!(got, expected, "update {body}: store and reference disagree");
        let after = self.assert_same(sys_id).await;
        match &got {
            Ok(change) => {
                let mut applied = before;
                change.apply_to(&mut applied);
                assert_aggregate(
                    &after,
                    &applied,
                    &format!(
                        "update {body}: the stored interaction is not the change applied to the one before"
                    ),
                );
            }
            Err(_) => assert_aggregate(
                &after,
                &before,
                &format!("update {body} failed but wrote something"),
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

fn records_difference(label: &str, got: &[Record], want: &[Record], out: &mut String) {
    let ids = |records: &[Record]| -> Vec<String> {
        records.iter().map(|r| r.sys_id().to_owned()).collect()
    };
    if ids(got) != ids(want) {
        let _ = writeln!(
            out,
            "  {label} (by sys_id): got {:?}, want {:?}",
            ids(got),
            ids(want)
        );
        return;
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        record_difference(&format!("{label}[{i}]"), g, w, out);
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

/// A value for a failure message: quoted, cut after 80 characters.
fn show(value: Option<&str>) -> String {
    match value {
        None => "(absent)".to_owned(),
        Some(v) if v.chars().count() > 80 => {
            let head: String = v.chars().take(80).collect();
            format!("{head:?}… ({} characters)", v.chars().count())
        }
        Some(v) => format!("{v:?}"),
    }
}
