//! The timing decorator must be invisible: the shared conformance suite, run against the in-memory store
//! wrapped in it, catches an operation it fails to forward (or forwards wrongly).

use std::sync::Arc;

use openframe_core::MemoryRepository;
use openframe_core::conformance::TestStore;
use openframe_server::timed_repository::TimedRepository;

async fn make_store() -> TestStore {
    TestStore {
        repo: Arc::new(TimedRepository::new(Arc::new(MemoryRepository::new()))),
        guard: None,
    }
}

openframe_core::conformance_tests!(make_store);
