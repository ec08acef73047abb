//! # openframe-store-postgres
//!
//! An [`openframe_core::Repository`] on PostgreSQL, through sqlx. Open it with
//! [`PostgresRepository::connect`] (`postgres://user:password@host:port/database`); it runs the embedded
//! migrations (`migrations/`) before it returns, so a new database is ready at once.
//! [`PostgresRepository::connect_in_schema`] keeps everything in one schema instead, which lets tests share a
//! database.
//!
//! ## Schema
//!
//! - `interaction`, `sn_openframe_phone_log`, `interaction_related_record` and `sys_cs_provider_application`
//!   have one `TEXT NOT NULL` column per field of the table in `openframe_core::schema`, in its column order,
//!   `''` where a field is unset. `sys_id` is the primary key of each. Every such column is in the `"C"`
//!   collation (`migrations/0002_bytewise_collation.sql`): comparisons, ordering and the indexes are
//!   byte-wise, as the Table API requires, whatever the database's default collation.
//! - The two child tables add `created_seq`, an identity column giving creation order; phone logs and related
//!   records are read back ordered by it, and rewriting a phone log leaves it alone, so the log keeps its
//!   place. Children are found by their `interaction` column, which must hold their interaction's sys_id
//!   (the store refuses, as `Internal`, to write one that does not).
//! - `interaction_context` (interaction, name, value), primary key (interaction, name).
//! - PostgreSQL text cannot hold a NUL character: a user or provider application with one is refused as
//!   [`openframe_core::Error::Invalid`], and looking one up by such a name finds nothing.
//! - `users` (sys_id, user_name unique, password_hash, roles `text[]`).
//! - Indexes: unique `interaction.number`, `interaction.client_session_id`, and (interaction, created_seq) on
//!   both child tables; `sys_cs_provider_application.inbound_id` is unique.
//!
//! ## Table API
//!
//! [`openframe_core::Repository::read_record`] is one select by primary key on the record's own table.
//! [`openframe_core::Repository::query_records`] is one statement built from the query: the filter as a
//! `WHERE` of `$n` binds (column names only ever from the static schema), `ORDER BY` each key `COLLATE "C"`
//! then `sys_id`, `LIMIT`/`OFFSET`, and the count of all matches joined on, so the page and the total come
//! from one snapshot. Prefixes are index ranges, substrings `strpos`: no `LIKE`, so `%`, `_` and `\` in
//! values are plain characters. Equality and prefixes on `sys_id`, `number`, `client_session_id` and a
//! child's `interaction` use their indexes (a unit test reads the plans).
//!
//! ## Numbers
//!
//! Interaction numbers come from the sequence `interaction_number`, which starts at
//! [`openframe_core::number::FIRST_NUMBER`]. Sequences hand out each value once whatever the transactions
//! around them do, so any number of servers on one database never share a number. The create statement
//! takes a number only when the sys_id is new, so a refused duplicate takes none; a create that fails later
//! (a duplicate racing it, the server going away, a batch the server refused and that was written again one
//! by one) leaves a gap, which is allowed: numbers are unique and increasing, not dense. The statement
//! formats the number itself, with the prefix and least digits of [`openframe_core::number::format_number`]
//! as binds (tested across the seventh digit).
//!
//! ## Statements, round trips and transactions
//!
//! Every query text is built once from the schema and is the same for every call, so sqlx prepares it once
//! per connection and then only binds and executes it: one round trip per statement. Children travel as one
//! `text[]` per column (`UNNEST`) on the way in and as one flat `text[]` per table on the way out, so their
//! number never changes the number of statements.
//!
//! - `create_interaction` is one statement, in its own implicit transaction, whose data-modifying CTEs take
//!   the number, insert the interaction, its context, phone logs and related records, and append its event
//!   (below). Concurrent creates share one such statement (`create_batch.rs`, group commit as in the SQLite
//!   store's writer): a create finding the store's one lane free is written at once, alone; the creates that
//!   arrive while it is busy are written together next, up to 64 in one statement, one commit, one WAL
//!   flush, each caller answered after it. A create whose sys_id is taken is left out of its batch with
//!   everything of its own, and a batch the server refuses as a whole (two creates of one sys_id in it, a
//!   child sys_id that exists) is written again one by one, so that every create gets the outcome it would
//!   have had alone.
//! - `load_interaction` is one statement — the interaction's columns and one array per child table — so
//!   everything comes from one snapshot without a transaction of its own.
//! - `update_interaction` reads the interaction with its children and its row version (`xmin`) in one
//!   statement, runs the service's `UpdatePlan` (a plan error is returned unchanged, nothing written), and
//!   writes the change and its event in one statement guarded by that version — the interaction row
//!   overwritten, removed context keys deleted, set keys upserted, logs the interaction has rewritten by
//!   sys_id, new logs and related records appended, as [`openframe_core::AggregateChange::apply_to`]
//!   describes: two round trips on one connection, no transaction of its own. When another write of the
//!   interaction came between the read and the write, the guarded write writes nothing and the update runs
//!   again in a transaction under the row lock (`SELECT … FOR UPDATE`), which always succeeds: five round
//!   trips.
//! - **Events** (`outbox.rs`, `sequencer.rs`, `migrations/0003_events.sql`, `0004_event_sequencer.sql`): the
//!   last statement of every create and update inserts its event, without an id, into a pending table
//!   (`seq` from a sequence): no shared row is locked, so concurrent writes commit side by side.
//!   [`openframe_core::Repository::events_after`] first runs a sequencing round, shared by the store's
//!   concurrent readers: a short transaction that takes the event counter row's lock, then moves every
//!   committed pending event into `interaction_event` with the next ids, in `seq` order, and advances the
//!   head. Ids are dense, never reused, visible only once their write has committed and the round's commit is
//!   durable, and a reader never sees a hole that a later commit fills; a write that began after another
//!   committed gets a higher id, so one interaction's events follow its commits (`outbox.rs` argues each).
//!   No `NOTIFY`: PostgreSQL serializes the commits of notifying transactions.
//! - A unique violation is the [`openframe_core::Conflict`] of the key the broken constraint keeps unique,
//!   taken from the write's own values (`error.rs`); one of a constraint the write has no key for is a
//!   fault.
//!
//! `examples/create_throughput.rs` measures creates through [`openframe_core::Service`] with 64 concurrent
//! tasks against the in-memory store.
//!
//! ## Pool and outages
//!
//! One sqlx pool of at most [`PostgresOptions::max_connections`]. An operation waits at most
//! [`PostgresOptions::acquire_timeout`] for a connection; when the server refuses connections or does not
//! answer, the operation fails with [`openframe_core::Error::Unavailable`] after that long, never later and
//! never with a panic. So do an I/O or TLS error, a closed pool, and server errors of SQLSTATE class 08
//! (connection exception), 57P01-57P03 (shutdown, cannot connect now) and 53300 (too many connections). An
//! interrupted transaction is rolled back by the server, so `Unavailable` means nothing was written —
//! except when the connection drops during `COMMIT` itself, where the outcome is unknown, as with any
//! client-server database.
//!
//! sqlx pings every connection it takes back into the pool, and the store pings one before use when it
//! has been idle for [`PostgresOptions::ping_after_idle`] (half a second by default), so connections the
//! server dropped while the pool held them (a restart, a failover, `pg_terminate_backend`) are replaced
//! instead of failing a request — except one dropped within that half second of its last use, which fails
//! the one operation that takes it next as `Unavailable`. Pinging before every use would cost each
//! operation a round trip (`Duration::ZERO` does that). When the server comes back the pool simply opens
//! new connections: no restart or reconnect is needed. Other errors are
//! [`openframe_core::Error::Internal`]; every error's source says what the store was doing.
//!
//! A server that stops answering on an open connection without closing it (a network partition) is not
//! detected by the pool; the operating system's TCP timeouts end such a call eventually.
//!
//! ## Tests
//!
//! The tests need `OPENFRAME_TEST_POSTGRES_URL` (`scripts/postgres-test-db.sh` creates a database and prints
//! it). Without it they print that they were SKIPPED, unless `CI=true`, where they fail. Each test works in a
//! fresh schema of its own, dropped when it ends.

mod connect;
mod create_batch;
mod error;
mod oauth;
mod outbox;
mod portability;
mod queries;
mod repository;
mod rows;
mod sequencer;
mod stats_query;
mod table_query;

// The unit tests that need a server share the integration tests' helpers, which name the crate by its name.
#[cfg(test)]
extern crate self as openframe_store_postgres;
#[cfg(test)]
#[path = "../tests/support/mod.rs"]
mod test_support;

pub use connect::{DEFAULT_PING_AFTER_IDLE, PostgresOptions, PostgresRepository};
