//! The shared repository conformance suite, run against PostgreSQL: every store (each test, and each case of
//! the model-based test) in a fresh schema of its own, dropped with the store.

mod support;

use std::sync::Arc;

use openframe_core::MemoryRepository;
use openframe_core::conformance::TestStore;

use support::{TestSchema, test_options};

async fn make_store() -> TestStore {
    // libtest names each test's thread after the test, and the factory runs on it.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("conformance");
    let Some(schema) = TestSchema::new(test).await else {
        // The suite's tests cannot return early, so a skipped one runs on the in-memory reference, which
        // proves nothing about PostgreSQL; `skip` has said so (and failed the test when CI=true).
        return TestStore::new(Arc::new(MemoryRepository::new()));
    };
    let store = schema.connect(test_options()).await;
    TestStore {
        repo: Arc::new(store),
        guard: Some(Box::new(schema)),
    }
}

openframe_core::conformance_tests!(make_store);
