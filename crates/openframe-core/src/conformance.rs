//! The repository conformance suite (feature `conformance`): every store runs it against itself.
//!
//! A store crate's `tests/conformance.rs` is one line plus its factory:
//!
//! ```ignore
//! async fn make_store() -> openframe_core::conformance::TestStore { … }
//! openframe_core::conformance_tests!(make_store);
//! ```

use std::any::Any;
use std::sync::Arc;

use crate::repository::Repository;

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
