//! The shared repository conformance suite, run against PostgreSQL: every store (each test, and each case of
//! the model-based test) in a fresh schema of its own, dropped with the store.

mod support;

use std::sync::Arc;

use openframe_core::conformance::TestStore;

use support::{TestSchema, test_options};

/// A store in a fresh schema; `None` (every test then says SKIPPED and runs nothing) when no test database
/// is configured or reachable — `skip` has said so, and failed the test when CI=true.
async fn make_store() -> Option<TestStore> {
    // libtest names each test's thread after the test, and the factory runs on it.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("conformance");
    let schema = TestSchema::new(test).await?;
    let store = schema.connect(test_options()).await;
    Some(TestStore {
        repo: Arc::new(store),
        guard: Some(Box::new(schema)),
    })
}

openframe_core::conformance_tests!(make_store);
