//! The model-based test: random sequences of operations applied through a [`Service`](crate::Service) over
//! the store under test and through one over the reference [`MemoryRepository`](crate::MemoryRepository),
//! with identical deterministic environments; after every step the results and every interaction must
//! agree. Steps include Table API queries and `read_record`, whose answers must agree too.

use std::fmt::Write as _;
use std::future::Future;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngSeed, TestRunner};

use std::sync::Arc;

use crate::aggregate::{AggregateChange, InteractionAggregate};
use crate::display::ReferenceNames;
use crate::query::{RecordPage, TableQuery};
use crate::record::Record;
use crate::repository::Repository;
use crate::schema::{INTERACTION, PHONE_LOG, RELATED_RECORD, TABLES, field};
use crate::service::Created;
use crate::stats::AggregateGroup;
use crate::sys_id::SysId;
use crate::user::User;

use super::accounts::provider_application;
use super::aggregates::{describe as describe_aggregate, groups_difference};
use super::fixture::{
    AGENT, Failure, Fixture, UNKNOWN, change_difference, difference, dump_difference,
    record_difference, shape, short_debug, sys_id,
};
use super::known::{describe, page_difference};
use super::operations::{Op, PROVIDERS, Target, USERS, sequence};
use super::{IntoTestStore, TestStore, say_skipped};

/// The environment variable that sets the number of model-based cases.
pub const CASES_VAR: &str = "OPENFRAME_CONFORMANCE_CASES";

/// Model-based cases when [`CASES_VAR`] is not set.
pub const DEFAULT_CASES: u32 = 256;

/// The number of model-based cases to run: [`CASES_VAR`] if set, else [`DEFAULT_CASES`].
///
/// # Panics
/// When the variable is set but not a whole number: a typo must not silently run the default.
pub fn default_cases() -> u32 {
    match std::env::var(CASES_VAR) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{CASES_VAR}={v:?} is not a whole number of cases")),
        Err(_) => DEFAULT_CASES,
    }
}

/// What one operation returned, as far as stores must agree on it.
#[derive(Debug, PartialEq)]
enum Outcome {
    Created(Created),
    Updated(AggregateChange),
    Read(InteractionAggregate),
    Provider(Option<Record>),
    User(Option<User>),
    Added,
    /// A page, and every field of it as a read with `sysparm_display_value=true` shows it.
    Page(RecordPage, Vec<String>),
    Record(Option<Record>),
    Groups(Vec<AggregateGroup>),
    Deleted,
}

/// Runs `cases` random operation sequences against a fresh store from `factory` each, comparing every step
/// with the reference; on a failure, shrinks the sequence and panics with the smallest failing one, step
/// by step, and where the store and the reference parted.
///
/// `factory` may return `Option<TestStore>` ([`IntoTestStore`]): when its first store is `None`, the test
/// says `SKIPPED` on standard error and returns; a `None` later is a failure.
///
/// Generation and shrinking are proptest's: a [`TestRunner`] with its config from the `PROPTEST_*`
/// variables but for `cases`, and no failure files written into the calling crate. The failure message
/// names the seed, which `PROPTEST_RNG_SEED` takes to replay the run. The cases are driven from this async
/// function rather than by `TestRunner::run`, which is synchronous; each runs in its own task, so a panic
/// in the store is caught, reported and shrunk like any other failure.
pub async fn model_based<F, Fut, S>(factory: F, cases: u32)
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: IntoTestStore,
{
    // Asked for before anything else, so that a store not available here skips the test; it runs case 1.
    let Some(first) = factory().await.into_test_store() else {
        say_skipped("model_based");
        return;
    };
    let mut spare = Some(first);
    let fresh = || async {
        factory().await.into_test_store().unwrap_or_else(|| {
            panic!("the store under test stopped being available during the model-based test")
        })
    };
    let mut config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    // A seed the failure message can name, so that a failing run can be replayed exactly.
    let seed = match config.rng_seed {
        RngSeed::Fixed(seed) => seed,
        RngSeed::Random => uuid::Uuid::new_v4().as_u64_pair().0,
    };
    config.rng_seed = RngSeed::Fixed(seed);
    let max_shrink_iters = config.max_shrink_iters();
    let mut runner = TestRunner::new(config);
    let strategy = sequence();
    for case in 1..=cases {
        let mut tree = strategy
            .new_tree(&mut runner)
            .unwrap_or_else(|reason| panic!("cannot generate a case: {reason}"));
        let store = match spare.take() {
            Some(store) => store,
            None => fresh().await,
        };
        let Err(failure) = run_case(store, tree.current()).await else {
            continue;
        };
        // proptest's own shrinking loop: simplify while the case fails, complicate when it passes.
        let mut smallest = (tree.current(), failure);
        let mut iterations = 0;
        if tree.simplify() {
            while iterations < max_shrink_iters {
                iterations += 1;
                match run_case(fresh().await, tree.current()).await {
                    Err(failure) => {
                        smallest = (tree.current(), failure);
                        if !tree.simplify() {
                            break;
                        }
                    }
                    Ok(()) => {
                        if !tree.complicate() {
                            break;
                        }
                    }
                }
            }
        }
        let (ops, failure) = smallest;
        let mut steps = String::new();
        for (i, op) in ops.iter().enumerate() {
            let _ = writeln!(steps, "  {}. {op}", i + 1);
        }
        panic!(
            "model-based conformance failed on case {case} of {cases}; smallest failing sequence \
             ({iterations} shrink runs), after registering provider {:?}:\n{steps}{failure}\
             replay with PROPTEST_RNG_SEED={seed} {CASES_VAR}={cases}",
            PROVIDERS[0]
        );
    }
}

/// One case in its own task, so that a panic in the store is a failure like the others.
async fn run_case(store: TestStore, ops: Vec<Op>) -> Result<(), String> {
    match tokio::spawn(check(store, ops)).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => {
            let payload = e.into_panic();
            let text = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(not a string)");
            Err(format!("panicked: {text}"))
        }
        Err(e) => Err(format!("the case's task did not finish: {e}")),
    }
}

/// Applies `ops` to the store and to a fresh reference; `Err` describes the first disagreement.
async fn check(store: TestStore, ops: Vec<Op>) -> Result<(), String> {
    let sut = Fixture::new(&store.repo);
    let reference = Fixture::reference();
    let setup = provider_application(PROVIDERS[0], "Genesys");
    // The user the generated references mostly name, with a full name for display values to show.
    let agent = User {
        sys_id: sys_id(AGENT),
        user_name: "model.agent".to_owned(),
        name: "Model Agent".to_owned(),
        password_hash: "$argon2id$model".to_owned(),
        roles: Vec::new(),
    };
    for side in [&sut, &reference] {
        side.repo()
            .add_provider_application(&setup)
            .await
            .map_err(|e| format!("setup: add_provider_application: {e} ({e:?})"))?;
        side.repo()
            .add_user(&agent)
            .await
            .map_err(|e| format!("setup: add_user: {e} ({e:?})"))?;
    }

    let mut created: Vec<SysId> = Vec::new();
    // Provider applications in the reference, by sys_id: `read_record` picks among them too.
    let mut providers: Vec<String> = vec![setup.sys_id().to_owned()];
    for (step, op) in ops.iter().enumerate() {
        let step = step + 1;
        // What a step resolved to when it ran, for the failure message.
        let mut note = String::new();
        let target = |t: &Target| match t {
            Target::Created(n) if !created.is_empty() => created[n % created.len()].clone(),
            _ => sys_id(UNKNOWN),
        };
        let (got, expected) = match op {
            Op::Create(body) => (
                shape(sut.create(body).await).map(Outcome::Created),
                shape(reference.create(body).await).map(Outcome::Created),
            ),
            Op::Update(t, body) => {
                let id = target(t);
                (
                    shape(sut.update(&id, body).await).map(Outcome::Updated),
                    shape(reference.update(&id, body).await).map(Outcome::Updated),
                )
            }
            Op::Read(t) => {
                let id = target(t);
                (
                    shape(sut.read(&id).await).map(Outcome::Read),
                    shape(reference.read(&id).await).map(Outcome::Read),
                )
            }
            Op::Delete(t) => {
                let id = target(t);
                (
                    shape(sut.delete(&INTERACTION, &id).await).map(|()| Outcome::Deleted),
                    shape(reference.delete(&INTERACTION, &id).await).map(|()| Outcome::Deleted),
                )
            }
            Op::DeleteChild { related, n } => {
                let mut ids = Vec::new();
                for id in &created {
                    if let Ok(a) = reference.read(id).await {
                        let children = if *related {
                            &a.related_records
                        } else {
                            &a.phone_logs
                        };
                        ids.extend(children.iter().map(|r| r.sys_id().to_owned()));
                    }
                }
                let id = ids
                    .get(n % (ids.len() + 1))
                    .map_or_else(|| sys_id(UNKNOWN), |id| sys_id(id));
                let table = if *related {
                    &RELATED_RECORD
                } else {
                    &PHONE_LOG
                };
                (
                    shape(sut.delete(table, &id).await).map(|()| Outcome::Deleted),
                    shape(reference.delete(table, &id).await).map(|()| Outcome::Deleted),
                )
            }
            Op::AddProvider(i) => {
                // A sys_id of its own, so that only the inbound_id can make a second add conflict.
                let mut app = provider_application(PROVIDERS[*i], &format!("Provider {step}"));
                app.set(field::SYS_ID, format!("{:016x}{step:016x}", 0xcc_u64));
                let expected = shape(reference.repo().add_provider_application(&app).await)
                    .map(|()| Outcome::Added);
                if expected.is_ok() {
                    providers.push(app.sys_id().to_owned());
                }
                (
                    shape(sut.repo().add_provider_application(&app).await).map(|()| Outcome::Added),
                    expected,
                )
            }
            Op::FindProvider(i) => (
                shape(sut.repo().find_provider_application(PROVIDERS[*i]).await)
                    .map(Outcome::Provider),
                shape(
                    reference
                        .repo()
                        .find_provider_application(PROVIDERS[*i])
                        .await,
                )
                .map(Outcome::Provider),
            ),
            Op::AddUser(i) => {
                let user = model_user(step, USERS[*i]);
                (
                    shape(sut.repo().add_user(&user).await).map(|()| Outcome::Added),
                    shape(reference.repo().add_user(&user).await).map(|()| Outcome::Added),
                )
            }
            Op::FindUser(i) => (
                shape(sut.repo().find_user(USERS[*i]).await).map(Outcome::User),
                shape(reference.repo().find_user(USERS[*i]).await).map(Outcome::User),
            ),
            Op::Query(step) => {
                let records = every_record(&reference, step.table(), step).await?;
                let query = step.resolve(&records);
                note = format!("  as run: {}\n", describe(&query));
                (
                    displayed_page(sut.repo(), &query).await,
                    displayed_page(reference.repo(), &query).await,
                )
            }
            Op::Aggregate(step) => {
                let records = every_record(&reference, step.table(), step).await?;
                let request = step.resolve(&records);
                note = format!("  as run: {}\n", describe_aggregate(&request));
                (
                    shape(sut.repo().aggregate_records(&request).await).map(Outcome::Groups),
                    shape(reference.repo().aggregate_records(&request).await).map(Outcome::Groups),
                )
            }
            Op::ReadRecord { table, n } => {
                let mut ids = Vec::new();
                for id in &created {
                    if let Ok(a) = reference.read(id).await {
                        ids.push(a.interaction.sys_id().to_owned());
                        ids.extend(a.phone_logs.iter().map(|r| r.sys_id().to_owned()));
                        ids.extend(a.related_records.iter().map(|r| r.sys_id().to_owned()));
                    }
                }
                ids.extend(providers.iter().cloned());
                let id = ids
                    .get(n % (ids.len() + 1))
                    .map_or_else(|| sys_id(UNKNOWN), |id| sys_id(id));
                let table = TABLES[*table];
                (
                    shape(sut.repo().read_record(table, &id).await).map(Outcome::Record),
                    shape(reference.repo().read_record(table, &id).await).map(Outcome::Record),
                )
            }
        };
        if got != expected {
            let detail = match (&got, &expected) {
                (Ok(Outcome::Read(g)), Ok(Outcome::Read(w))) => {
                    format!("  (got = store, want = reference)\n{}", difference(g, w))
                }
                (Ok(Outcome::Page(g, gd)), Ok(Outcome::Page(w, wd))) => {
                    let displays = gd
                        .iter()
                        .zip(wd)
                        .find(|(g, w)| g != w)
                        .map(|(g, w)| format!("  display value: store {g:?}, reference {w:?}\n"))
                        .unwrap_or_default();
                    format!(
                        "  (got = store, want = reference)\n{}{displays}",
                        page_difference(g, w)
                    )
                }
                (Ok(Outcome::Groups(g)), Ok(Outcome::Groups(w))) => {
                    format!(
                        "  (got = store, want = reference)\n{}",
                        groups_difference(g, w)
                    )
                }
                (Ok(Outcome::Updated(g)), Ok(Outcome::Updated(w))) => {
                    format!(
                        "  (got = store, want = reference)\n{}",
                        change_difference(g, w)
                    )
                }
                (Ok(Outcome::Record(Some(g))), Ok(Outcome::Record(Some(w))))
                | (Ok(Outcome::Provider(Some(g))), Ok(Outcome::Provider(Some(w)))) => {
                    let mut out = String::from("  (got = store, want = reference)\n");
                    record_difference(g.table().name, g, w, &mut out);
                    out
                }
                _ => format!(
                    "  store:     {}\n  reference: {}\n",
                    short_debug(&got),
                    short_debug(&expected)
                ),
            };
            return Err(format!("step {step} ({op}) returned\n{note}{detail}"));
        }
        if let Ok(Outcome::Created(c)) = &expected {
            created.push(c.sys_id.clone());
        }
        for id in &created {
            let got = shape(sut.read(id).await);
            let expected = shape(reference.read(id).await);
            if got != expected {
                let detail = match (&got, &expected) {
                    (Ok(g), Ok(w)) => difference(g, w),
                    _ => format!(
                        "  store:     {}\n  reference: {}\n",
                        short_debug(&got),
                        short_debug(&expected)
                    ),
                };
                return Err(format!(
                    "after step {step} ({op}), interaction {id} differs (got = store, want = reference):\n{detail}"
                ));
            }
        }
    }
    // The whole store, exported, matches the reference's export byte for byte; imported into a fresh
    // reference store, it exports the same again.
    let got = super::portability::dump(sut.repo().as_ref()).await;
    let expected = super::portability::dump(reference.repo().as_ref()).await;
    if got != expected {
        return Err(format!(
            "after every step, the exports differ (got = store, want = reference):\n{}",
            dump_difference(&got, &expected)
        ));
    }
    let copy = crate::memory::MemoryRepository::new();
    super::portability::load(&copy, &got, 3).await;
    let again = super::portability::dump(&copy).await;
    if again != got {
        return Err(format!(
            "the store's export imported into a fresh store exports differently (got = again, want = first):\n{}",
            dump_difference(&again, &got)
        ));
    }
    drop(store);
    Ok(())
}

/// Every record of `table` in the reference store: what a query or aggregate step is resolved against.
async fn every_record(
    reference: &Fixture,
    table: &'static crate::schema::Table,
    step: impl std::fmt::Display,
) -> Result<Vec<Record>, String> {
    let all = TableQuery {
        limit: usize::MAX,
        ..TableQuery::all(table)
    };
    reference
        .repo()
        .query_records(&all)
        .await
        .map(|page| page.records)
        .map_err(|e| format!("step {step}: reference query: {e} ({e:?})"))
}

/// The page `query` selects, with the display values of every field of it (references looked up as a read
/// with `sysparm_display_value=true` looks them up).
async fn displayed_page(
    repo: &Arc<dyn Repository>,
    query: &TableQuery,
) -> std::result::Result<Outcome, Failure> {
    let page = shape(repo.query_records(query).await)?;
    let names = shape(ReferenceNames::look_up(repo.as_ref(), &page.records, &[]).await)?;
    let displays = page
        .records
        .iter()
        .flat_map(|record| {
            let table = record.table();
            table
                .field_names()
                .chain(crate::computed::computed_fields(table).iter().copied())
                .map(|name| format!("{name}={}", names.display(record, name)))
                .collect::<Vec<_>>()
        })
        .collect();
    Ok(Outcome::Page(page, displays))
}

/// The user an `AddUser` step adds: the same on both sides, distinct per step.
fn model_user(step: usize, name: &str) -> User {
    User {
        sys_id: sys_id(&format!("{:016x}{step:016x}", 0xbb_u64)),
        user_name: name.to_owned(),
        name: String::new(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${step}"),
        roles: vec!["sn_openframe_api_user".to_owned()],
    }
}
