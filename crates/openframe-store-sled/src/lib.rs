//! # openframe-store-sled
//!
//! The openframe [`Repository`](openframe_core::Repository) on [sled](https://docs.rs/sled/0.34), an embedded
//! key-value store: `sled://PATH` on the command line, [`SledRepository::open`] in code.
//!
//! ## Layout
//!
//! One sled database per store directory, with one tree per kind of key (the full table is in the `layout`
//! module):
//!
//! - `interactions`: interaction sys_id → the interaction record, its context, and how many phone logs and
//!   related records it has.
//! - `phone_logs`, `related_records`: interaction sys_id ++ big-endian u64 sequence → record, so a prefix
//!   scan by interaction sys_id yields its children in creation order. Sequences count per interaction
//!   from 0; the counts in the interaction row are the next ones. An updated phone log keeps its key.
//! - Indexes, always written in the same transaction as what they index: `interaction_numbers` (number →
//!   sys_id), `client_sessions` (client_session_id → sys_ids), `phone_log_keys` and `related_record_keys`
//!   (child sys_id → its key), `provider_inbound_ids` (inbound_id → provider-application sys_id).
//! - `stray_children`: the rare child whose `interaction` field is not the interaction it is stored under,
//!   so that a query by `interaction` still finds it (the service never writes one).
//! - `users` (user name → user), `provider_applications` (sys_id → record).
//! - `meta`: the format version and the interaction-number counter (the first number is
//!   [`FIRST_NUMBER`](openframe_core::number::FIRST_NUMBER)).
//!
//! Values are a format-version byte followed by a JSON array: a record's values in column order
//! ([`openframe_core::schema`]); a store with an unknown version is refused rather than misread.
//!
//! ## Table API queries
//!
//! [`Repository::query_records`](openframe_core::Repository::query_records) runs on the trees (the `query`
//! module): an AND-group of `Equals` conditions on indexed fields (`sys_id`; an interaction's `number` and
//! `client_session_id`; a child's `interaction`; a provider application's `inbound_id`) becomes point or
//! prefix lookups on those indexes, and only the records they lead to are decoded and filtered. Any other
//! query streams the table's tree, filtering row by row and keeping only the matches that may still be on the
//! requested page. Queries use plain reads, not a transaction; each record returned is a committed version
//! of it, but a page is not a snapshot of one instant (see the module for what that means).
//!
//! ## What is durable when
//!
//! Every write method commits one sled transaction, then flushes sled's log to disk (`Db::flush`, which
//! fsyncs) and only then returns `Ok`. A success has therefore reached the disk; a failure or a crash before
//! the flush completes may or may not have kept the write, but never part of it: sled recovers a transaction
//! whole or not at all. Reads see every committed write, flushed or not.
//!
//! ## Concurrency
//!
//! Each request is one transaction over every tree it touches: a create takes the next number and inserts
//! the interaction, its children and their index entries; an update reads the aggregate, runs the service's
//! [`UpdatePlan`](openframe_core::UpdatePlan) on it and writes the change. A plan error aborts the
//! transaction and is returned unchanged, with nothing written. Reads of one interaction are a transaction
//! too, so they never see half an update.
//!
//! sled 0.34 serializes transactions (one at a time, process-wide, and plain reads wait while one runs), and
//! may re-run a transaction's closure; the closures here depend only on their inputs and what the
//! transaction reads. Because a transaction or a read can block, every sled call runs on tokio's blocking
//! pool (`spawn_blocking`), never on an async worker. [`SledRepository::open`] and
//! [`SledRepository::temporary`] are plain blocking functions. One process at a time may open a directory.
//!
//! sled's own `flush_async` is deliberately not used: combined with concurrent transactions it can deadlock
//! every writer of the process; see `SledRepository::flush` in the source.
//!
//! ```
//! use openframe_core::Repository;
//! use openframe_store_sled::SledRepository;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let repo = SledRepository::open(dir.path()).unwrap();
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! assert!(!rt.block_on(repo.has_users()).unwrap());
//! ```

#![warn(missing_docs)]

mod codec;
mod error;
mod interactions;
mod layout;
mod query;
mod repository;

pub use repository::SledRepository;
