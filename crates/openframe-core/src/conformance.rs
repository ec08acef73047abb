//! The repository conformance suite (feature `conformance`): every store runs it against itself.
//!
//! A store crate's `tests/conformance.rs` is one line plus its factory. For a store in a file, kept in a
//! temporary directory that the [`TestStore`]'s guard removes after the test:
//!
//! ```no_run
//! use std::sync::Arc;
//! use openframe_core::conformance::TestStore;
//! # use openframe_core::MemoryRepository;
//! # mod tempfile {
//! #     pub struct TempDir(std::path::PathBuf);
//! #     impl TempDir { pub fn path(&self) -> &std::path::Path { &self.0 } }
//! #     pub fn tempdir() -> std::io::Result<TempDir> { Ok(TempDir(std::env::temp_dir())) }
//! # }
//! # struct FileStore;
//! # impl FileStore {
//! #     fn open(_: &std::path::Path) -> openframe_core::Result<MemoryRepository> {
//! #         Ok(MemoryRepository::new())
//! #     }
//! # }
//!
//! async fn make_store() -> TestStore {
//!     let dir = tempfile::tempdir().expect("temporary directory");
//!     let repo = FileStore::open(&dir.path().join("test.db")).expect("open");
//!     TestStore { repo: Arc::new(repo), guard: Some(Box::new(dir)) }
//! }
//! openframe_core::conformance_tests!(make_store);
//! # fn main() {}
//! ```
//!
//! `examples/custom_store.rs` is a whole store written this way, from scratch, that passes the suite.
//!
//! [`conformance_tests!`](crate::conformance_tests) makes one test per function below, each on a fresh
//! store, plus [`model_based`]. The functions can also be called one by one; each takes the store under
//! test, fresh and empty, and panics with a message saying what the store got wrong.
//!
//! A store that needs something the machine may lack (a database server) has a factory returning
//! `Option<TestStore>`: `None` skips every test, each saying so loudly on standard error (see
//! [`IntoTestStore`]). Whether a missing server is an error (in CI) is the factory's decision: it panics.
//!
//! They take `&Arc<dyn Repository>` rather than `&dyn Repository`: most act through a
//! [`Service`](crate::Service), which holds its repository in an `Arc`, and the concurrency tests share the
//! store with spawned tasks. Requests are JSON bodies parsed by
//! [`VoiceInteractionRequest::parse`](crate::VoiceInteractionRequest::parse) and served with a
//! [`TestEnvironment`], so the suite exercises the real rules and the store can be compared field by field
//! with the reference [`MemoryRepository`](crate::MemoryRepository) given the same requests.
//!
//! Every function runs inside a tokio runtime; the macro's tests build a multi-thread one so that the
//! concurrency tests race for real.

use std::any::Any;
use std::sync::Arc;

use crate::repository::Repository;

mod accounts;
mod aggregates;
mod concurrency;
mod deletes;
mod display;
mod dot_walk;
mod environment;
mod events;
mod fixture;
mod interactions;
mod known;
mod macros;
mod model;
mod oauth;
mod operations;
mod portability;
mod queries;
mod query_steps;

pub use accounts::{
    duplicate_inbound_id_is_conflict, duplicate_user_name_is_conflict, ping_answers,
    provider_applications_round_trip, users_by_sys_id, users_change_and_go, users_round_trip,
};
pub use aggregates::{
    aggregate_awkward_text, aggregate_counts_and_groups, aggregate_random_requests,
};
pub use concurrency::{
    concurrent_creates_get_distinct_numbers, concurrent_duplicates_conflict,
    concurrent_updates_all_land,
};
pub use deletes::{
    delete_takes_everything_under_the_interaction, deleting_a_child_leaves_its_siblings,
};
pub use display::{
    display_values_look_up_only_the_fields_shown, display_values_match_the_reference,
};
pub use dot_walk::{dot_walked_conditions_match_the_reference, walked_fields_match_the_reference};
pub use environment::{CLOCK_START, TestEnvironment};
pub use events::{
    events_are_in_commit_order_under_concurrency, events_follow_every_write,
    pruning_moves_the_horizon,
};
pub use interactions::{
    children_are_capped_per_interaction, create_then_load, create_with_taken_sys_id_is_conflict,
    load_of_unknown_is_none, numbers_increase_by_one, phone_logs_keep_creation_order,
    rejected_update_writes_nothing, taken_child_sys_ids_are_conflicts, update_applies_the_change,
    update_of_unknown_is_not_found, updates_match_the_reference, values_round_trip_exactly,
};
pub use model::{CASES_VAR, DEFAULT_CASES, default_cases, model_based};
pub use oauth::{oauth_clients_round_trip, oauth_tokens_round_trip_and_prune};
pub use portability::{
    conflicting_import_writes_nothing, export_reads_everything_in_order,
    import_then_export_gives_the_dump,
};
pub use queries::{
    query_awkward_values, query_indexed_fields_among_many, query_of_any_size_is_answered,
    query_operators_on_every_table, query_or_groups, query_order_and_ties, query_paging_and_totals,
    query_platform_operators, read_record_by_table,
};

/// A fresh, empty store for one test, with whatever must live as long as it (a temporary directory, a
/// PostgreSQL schema dropper) in `guard`.
pub struct TestStore {
    /// The store under test.
    pub repo: Arc<dyn Repository>,
    /// Dropped after the test: cleans up what the store lives in.
    pub guard: Option<Box<dyn Any + Send + Sync>>,
}

impl TestStore {
    /// A store that needs no cleanup.
    pub fn new(repo: Arc<dyn Repository>) -> Self {
        TestStore { repo, guard: None }
    }
}

/// What a store factory may return: a [`TestStore`], or `Option<TestStore>` where `None` means the store
/// is not available on this machine, so its tests are skipped (loudly) rather than run on something else.
///
/// ```no_run
/// use std::sync::Arc;
/// use openframe_core::conformance::TestStore;
/// # use openframe_core::MemoryRepository;
/// # struct MyStore;
/// # impl MyStore {
/// #     async fn connect(_: &str) -> openframe_core::Result<MemoryRepository> {
/// #         Ok(MemoryRepository::new())
/// #     }
/// # }
///
/// async fn make_store() -> Option<TestStore> {
///     let url = std::env::var("MY_TEST_DB").ok()?; // not set: every test says SKIPPED and passes
///     Some(TestStore::new(Arc::new(MyStore::connect(&url).await.expect("connect"))))
/// }
/// openframe_core::conformance_tests!(make_store);
/// # fn main() {}
/// ```
pub trait IntoTestStore {
    /// The store, or `None` when it is not available here.
    fn into_test_store(self) -> Option<TestStore>;
}

impl IntoTestStore for TestStore {
    fn into_test_store(self) -> Option<TestStore> {
        Some(self)
    }
}

impl IntoTestStore for Option<TestStore> {
    fn into_test_store(self) -> Option<TestStore> {
        self
    }
}

/// Says on the process's standard error — past the test harness's capture, so that it shows in a passing
/// run — that `test` did not run because its store is not available.
pub(crate) fn say_skipped(test: &str) {
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED {test}: the store under test is not available here (its factory returned None); \
         nothing was tested ***"
    );
}

/// What the expansion of [`conformance_tests!`](crate::conformance_tests) needs; not a public API.
#[doc(hidden)]
pub mod __private {
    use std::future::Future;

    use super::{IntoTestStore, TestStore};

    /// The factory's store, or `None` after saying that `test` is skipped.
    pub fn available(store: impl IntoTestStore, test: &str) -> Option<TestStore> {
        let store = store.into_test_store();
        if store.is_none() {
            super::say_skipped(test);
        }
        store
    }

    /// Runs `test` to completion on a new multi-thread runtime with two workers, as
    /// `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` would.
    ///
    /// # Panics
    /// When the runtime cannot be built, and when `test` panics.
    pub fn run<F: Future>(test: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot build the test's tokio runtime: {e}"))
            .block_on(test)
    }
}
