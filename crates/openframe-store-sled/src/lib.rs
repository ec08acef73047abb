//! # openframe-store-sled
//!
//! The openframe [`Repository`](openframe_core::Repository) on [sled](https://docs.rs/sled/0.34), an embedded
//! key-value store: `sled://PATH` on the command line, [`SledRepository::open`] in code.
//!
//! ## Layout
//!
//! One sled database per store directory (the full table is in the `layout` module):
//!
//! - `data`: interactions and every index on them, each kind of key behind a prefix byte. An interaction
//!   is one value, its whole aggregate (record, context, phone logs, related records), keyed by its
//!   creation number (the counter its `number` comes from), so a create or an update writes it with one
//!   insert, a read is one lookup that never sees half an update, and writes append where sled's pages are
//!   already cached. The indexes (interaction sys_id, number, client_session_id; child sys_id) lead to
//!   those rows; a child's index entry holds its address, the interaction's id and its position in the
//!   row. A child whose `interaction` field is not the interaction it is stored under is listed too, so
//!   that a query by `interaction` still finds it (the service never writes one). The next number and the
//!   latest event id are not stored but found again at open from the last keys, so that no write rewrites
//!   a counter.
//! - `users` (user name → user), `provider_applications` (sys_id → record), `provider_inbound_ids`
//!   (inbound_id → provider-application sys_id).
//! - `meta`: the format version.
//!
//! Values are a format-version byte followed by a JSON array: a record's values in column order
//! ([`openframe_core::schema`]); an interaction row's JSON is LZ4-compressed (version 4). A store of
//! version 3 (plain rows) is opened as it is, its rows compressed as they are next written; one of version 2
//! (children under keys of their own) is converted when opened (the `migrate` module); one of another
//! version (including version 1, the first layout, which kept each kind of key in a tree of its own) is
//! refused rather than misread.
//!
//! ## Table API queries
//!
//! [`Repository::query_records`](openframe_core::Repository::query_records) runs on the trees (the `query`
//! module): an AND-group of `Equals` conditions on indexed fields (`sys_id`; an interaction's `number` and
//! `client_session_id`; a child's `interaction`; a provider application's `inbound_id`) becomes point or
//! prefix lookups on those indexes, and only the records they lead to are decoded and filtered. Any other
//! query streams the table's key range, filtering row by row and keeping only the matches that may still be
//! on the requested page. Queries use plain reads; each record returned is a committed version of it, but a
//! page is not a snapshot of one instant (see the module for what that means).
//!
//! ## Writes, and what is durable when
//!
//! Every write runs on the store's one writer thread (the `writer` module). A create or an update reads
//! what it needs, runs the service's [`UpdatePlan`](openframe_core::UpdatePlan) if any, and stages all its
//! writes to `data` together; being the only writer of `data`, it needs no sled transaction (a plan error
//! stages nothing and is returned unchanged). Users and provider applications are written in small sled
//! transactions on the same thread.
//!
//! The writer commits in groups: it runs every write waiting in its queue, applies the staged writes of the
//! whole group to `data` as one atomic batch (the `group` module: sled pays a fixed cost per batch that
//! dwarfs a create's own inserts), then runs one `Db::flush` (which fsyncs), and only then answers the
//! writes it committed. A success has therefore reached the disk; a failure or a crash before the flush
//! completes may or may not have kept the write, but never part of it: sled recovers a batch or a
//! transaction whole or not at all. Under load one batch and one fsync serve many writes; a write alone is
//! committed and flushed at once. Reads on other threads see a group's writes once it is applied, before
//! its flush; writes later in a group read the earlier ones through the group. sled's own flush does not
//! make its log safe from a power loss on Linux (it waits with `sync_file_range`), so the writer also syncs
//! the log and any new blob files before answering (the `durability` module).
//!
//! ## Reads
//!
//! Reads use plain sled reads on tokio's blocking pool (`spawn_blocking`), never on an async worker: a read
//! may wait for a write being applied or for a page from disk. Each read sees a batch whole, and an
//! interaction with its children is one value, so a read never sees half an update.
//! [`SledRepository::open`] and [`SledRepository::temporary`] are plain blocking functions. One process at
//! a time may open a directory.
//!
//! sled's own `flush_async` is deliberately not used: combined with concurrent transactions it can deadlock
//! every writer of the process (see the `writer` module).
//!
//! ## Memory
//!
//! sled caches pages up to [`CACHE_CAPACITY`] (4 MiB; sled's default is 1 GiB), and its own periodic flush
//! is off, since every write is flushed anyway. sled also keeps some memory per page of the store, so the
//! process grows slowly with the store's size whatever the cache.
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
mod directory;
mod durability;
mod error;
mod group;
mod interactions;
mod layout;
mod migrate;
mod oauth;
mod outbox;
mod portability;
mod query;
mod repository;
mod writer;

pub use repository::{CACHE_CAPACITY, SledRepository};

#[cfg(test)]
mod testing;
