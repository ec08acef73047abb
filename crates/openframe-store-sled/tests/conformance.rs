//! The shared repository conformance suite, run against the sled store.

use std::sync::Arc;

use openframe_core::conformance::TestStore;
use openframe_store_sled::SledRepository;

/// A fresh store in its own temporary directory (a real directory rather than sled's temporary mode, so
/// the suite exercises the same files and flushes as `sled://PATH`), removed after the test.
async fn make_store() -> TestStore {
    let dir = tempfile::tempdir().expect("temporary directory");
    let repo = SledRepository::open(dir.path()).expect("open a sled store");
    TestStore {
        repo: Arc::new(repo),
        guard: Some(Box::new(dir)),
    }
}

openframe_core::conformance_tests!(make_store);
