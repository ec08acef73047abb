//! # openframe-server
//!
//! The `openframe` program: the command line and its config file, the listener and its limits, logging,
//! the Prometheus exporter and the store decorator that times every operation, and the `export`, `import`
//! and `backup` commands. It puts together what the library crates offer: stores opened from a URL
//! (`openframe-stores`) and the router (`openframe-http`).
//!
//! These modules are public for the binary and its tests; embedders want `openframe-http` and
//! `openframe-stores` instead.

pub mod cli;
pub mod config_file;
pub mod listener;
pub mod logging;
pub mod portability;
pub mod prometheus;
pub mod server;
pub mod settings;
pub mod timed_repository;
