//! Names of the metrics that stores record about themselves, held here so that every store and the exporter
//! (`openframe-http`, which serves them at `/metrics` and chooses their histogram buckets) agree on them.
//!
//! Stores record them through the `metrics` facade; with no recorder installed (a store embedded without
//! the HTTP crate) recording does nothing. Every one carries a `store` label (`sqlite`, `sled`, `postgres`).

/// Histogram: how many writes one group commit made durable together (one transaction and fsync for SQLite,
/// one flush for sled, one statement's commit for PostgreSQL's creates). Batches grow with concurrent load;
/// a lone write is a batch of one.
pub const COMMIT_BATCH_SIZE: &str = "openframe_store_commit_batch_size";

/// Gauge: connections of the store's pool, labelled `state` = `idle` or `in_use` (PostgreSQL's sqlx pool,
/// SQLite's read pool). Set when [`crate::Repository::record_gauges`] runs, just before an export.
pub const POOL_CONNECTIONS: &str = "openframe_store_pool_connections";

/// Gauge: the most connections the store's pool may open.
pub const POOL_MAX_CONNECTIONS: &str = "openframe_store_pool_max_connections";
