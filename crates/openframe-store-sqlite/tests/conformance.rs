//! The shared repository conformance suite, run against a fresh SQLite file per test.

use std::sync::Arc;

use openframe_core::conformance::TestStore;
use openframe_store_sqlite::SqliteRepository;

/// A new database file in its own temporary directory, removed when the test ends.
async fn make_store() -> TestStore {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let repo =
        SqliteRepository::open(&dir.path().join("openframe.db")).expect("a new SQLite store");
    TestStore {
        repo: Arc::new(repo),
        guard: Some(Box::new(dir)),
    }
}

openframe_core::conformance_tests!(make_store);
