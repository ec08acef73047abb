//! The conformance suite on the in-memory reference store: the suite's own check that it passes on the
//! model every store is compared with.
//!
//! Needs the `conformance` feature; `cargo test -p openframe-core --features conformance`, or
//! `cargo test --workspace`, where the store crates' dev-dependencies turn it on.

use std::sync::Arc;

use openframe_core::MemoryRepository;
use openframe_core::conformance::TestStore;

async fn make_store() -> TestStore {
    TestStore::new(Arc::new(MemoryRepository::new()))
}

openframe_core::conformance_tests!(make_store);
