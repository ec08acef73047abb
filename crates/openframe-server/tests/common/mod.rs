//! What the server's tests share: the real binary (`binary.rs`), a PostgreSQL database per test
//! (`postgres.rs`), the Python client libraries over TLS (`python.rs`), and the router harness of
//! `openframe-testkit`.

#![allow(dead_code, unused_imports)]

pub mod binary;
pub mod postgres;
pub mod python;

pub use openframe_testkit::*;
