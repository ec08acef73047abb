//! # openframe-store-sqlite
//!
//! The SQLite store of openframe: [`SqliteRepository`] implements [`openframe_core::Repository`] on one
//! database file (`sqlite://PATH`) or a private in-memory database (`sqlite::memory:`), through `rusqlite`
//! with a bundled SQLite.
//!
//! ## What is durable when
//!
//! Every write method is all-or-nothing, and returns only after the transaction holding it has committed.
//! The file is in WAL mode with `synchronous=FULL`, so a commit has been fsynced to the write-ahead log
//! before any write in it returns: **a successful return means the write survives a crash of the process,
//! of the operating system or a power cut** (as far as the disk honours flushes). An error means nothing of
//! that write was stored; in particular an update whose plan fails writes nothing and returns the plan's
//! error unchanged. A write whose caller stops waiting (a cancelled request) still commits or rolls back as
//! a whole. An in-memory database is never durable: it ends with the repository.
//!
//! ### Group commit
//!
//! Concurrent writes share transactions: the writer thread takes every write queued when it is free (up
//! to 256) and runs them in one `BEGIN IMMEDIATE` transaction, then commits once, with one fsync, and only
//! then answers them all. So:
//!
//! - each write is still atomic and isolated: one that fails (a plan's error, a conflict, a panic in a
//!   plan) gets its own error and leaves nothing behind, while the others of its batch commit. A write that
//!   fails before changing a row (most do: a taken sys_id, a missing interaction, a plan's refusal) needs no
//!   undoing; when one fails after writing, the batch is rolled back and run again with each write in a
//!   `SAVEPOINT` of its own, rolled back alone (the `writer` module says why savepoints are not the
//!   default);
//! - no write is acknowledged before the commit of its batch is durable; if that commit fails, every write
//!   of the batch that had succeeded gets the commit's error and none of them is stored (if SQLite itself
//!   rolls the transaction back mid-batch, after an I/O error, the writes before that point fail alike and
//!   the rest start a new transaction);
//! - a write never waits for company: with nothing else queued it is a batch of one, committed at once.
//!   Batches grow by themselves under load, as writes queue up while the previous commit is fsynced.
//!
//! Writes are applied in arrival order, so interaction numbers increase in the order creates arrived.
//!
//! Checkpoints (copying the WAL into the database file) do not hold up commits: a checkpointer thread runs
//! them on a connection of its own once the WAL passes 1000 pages, and the writer rewinds the WAL itself,
//! between batches, only if it passes 8000 pages (32 MiB) anyway; `checkpoint.rs` says why both. A commit
//! is durable once its WAL frames are fsynced, whether or not they were checkpointed.
//!
//! ## Concurrency
//!
//! - **Writes** go through one connection, owned by a dedicated writer thread and fed by a channel, in
//!   batches as above. No SQLite work runs on the async runtime's worker threads; a caller awaits a reply
//!   sent after the commit.
//! - **Reads** run on tokio's blocking pool, on a small pool of read-only connections (see
//!   [`READ_CONNECTIONS`]), each read in one read transaction, so that an aggregate is read from one
//!   snapshot; WAL lets them proceed while a write is in progress. An in-memory database has a single
//!   connection, which serves reads and writes in turn.
//! - **Other processes** may open the same file: a lock held longer than the busy timeout (5 s) fails the
//!   operation as [`Error::Unavailable`](openframe_core::Error::Unavailable). Interaction numbers come from
//!   a counter row updated inside the write transaction, so they stay unique and increasing across
//!   processes.
//!
//! The async methods need a tokio runtime; [`SqliteRepository::open`] and
//! [`SqliteRepository::open_in_memory`] do not (they run their SQLite work on the calling thread).
//! Dropping the repository waits for the writes already queued, then closes the database.
//!
//! ## Schema
//!
//! The schema is in the crate's `migrations/` directory, one SQL file per change, embedded in the binary
//! and applied in order by `open`; `PRAGMA user_version` records how many have been applied. Each record
//! table has one TEXT column per field of `openframe_core::schema`, in the same order, after an
//! `INTEGER PRIMARY KEY` `seq` that keeps creation order. The statements over those tables are generated
//! once from the same field lists (`queries.rs`).
//!
//! ## Table API queries
//!
//! `read_record` and `query_records` run on the read connections, the page and its total in one read
//! transaction so that they agree. A query becomes SQL built from the schema's names with every value a
//! bound parameter; equality on `sys_id`, `number`, `client_session_id` and `interaction` is answered from
//! their indexes; comparisons are byte-wise like the in-memory reference (`record_query.rs` says how).
//!
//! ## Errors
//!
//! Busy or locked past the timeout, I/O failures and a file that cannot be opened are
//! [`Error::Unavailable`](openframe_core::Error::Unavailable); a uniqueness violation is the
//! [`Conflict`](openframe_core::Conflict) naming the taken key (when a row has two unique keys, a lookup
//! of the row written says which); anything else is
//! [`Error::Internal`](openframe_core::Error::Internal). The driver's error is kept as the source, never in
//! text a client sees.
//!
//! ```
//! # fn main() -> openframe_core::Result<()> {
//! let dir = tempfile::tempdir().map_err(openframe_core::Error::internal)?;
//! let repo = openframe_store_sqlite::SqliteRepository::open(&dir.path().join("openframe.db"))?;
//! let rt = tokio::runtime::Builder::new_current_thread().build().map_err(openframe_core::Error::internal)?;
//! use openframe_core::Repository;
//! assert!(!rt.block_on(repo.has_users())?);
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod backup;
mod checkpoint;
mod connection;
mod error;
mod migrations;
mod oauth;
mod outbox;
mod portability;
mod queries;
mod readers;
mod record_query;
mod stats_query;
mod tables;
mod writer;

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use openframe_core::metric_names::{POOL_CONNECTIONS, POOL_MAX_CONNECTIONS};
use openframe_core::number::format_number;
use openframe_core::oauth::{OAuthClient, OAuthToken};
use openframe_core::portability::ImportBatch;
use openframe_core::query::{RecordPage, TableQuery};
use openframe_core::schema::{Table, field};
use openframe_core::stats::{AggregateGroup, AggregateQuery};
use openframe_core::{
    AggregateChange, Error, EventPage, InteractionAggregate, InteractionEvent, Record, Repository,
    Result, SysId, UpdatePlan, User,
};

pub use crate::backup::{BackupReport, backup};
use crate::checkpoint::Checkpointer;
use crate::readers::Readers;
use crate::writer::Writer;

/// How many read-only connections a file database keeps for reads.
pub const READ_CONNECTIONS: usize = 3;

/// A [`Repository`] on a SQLite database. See the [crate docs](crate) for durability and concurrency.
pub struct SqliteRepository {
    /// Where the database lives, for `Debug` and error messages.
    location: String,
    // Declared before `readers` so that it is dropped first: queued writes finish before the readers close.
    writer: Writer,
    readers: Arc<Readers>,
}

impl SqliteRepository {
    /// Opens the database file at `path`, creating it if missing, and brings its schema up to date.
    ///
    /// A path in a missing directory, or one that cannot be opened as a database, is an
    /// [`Error::Unavailable`] or [`Error::Internal`] whose source says which file and why.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_file(connection::open_writer(path)?, path)
    }

    /// Opens the openframe database file at `path`, which must exist: a missing file, or one that holds no
    /// openframe schema, is an [`Error::Invalid`] (field `store`) and nothing is created or written. The
    /// schema is brought up to date as by [`SqliteRepository::open`]. For commands that read or upgrade a
    /// store (export, migrate), where a mistyped path must not leave an empty database behind.
    pub fn open_existing(path: &Path) -> Result<Self> {
        Self::open_file(connection::open_existing_writer(path)?, path)
    }

    fn open_file(mut conn: rusqlite::Connection, path: &Path) -> Result<Self> {
        migrations::migrate(&mut conn)?;
        // Readers open after the migrations, so they see the schema and the WAL mode.
        let readers = (0..READ_CONNECTIONS)
            .map(|_| connection::open_reader(path).map(|c| Arc::new(Mutex::new(c))))
            .collect::<Result<Vec<_>>>()?;
        let checkpointer = Checkpointer::spawn(connection::open_checkpointer(path)?)?;
        Ok(SqliteRepository {
            location: path.display().to_string(),
            writer: Writer::spawn(Arc::new(Mutex::new(conn)), Some(checkpointer))?,
            readers: Arc::new(Readers::new(readers)),
        })
    }

    /// Opens a new, empty in-memory database, private to this repository.
    pub fn open_in_memory() -> Result<Self> {
        let mut conn = connection::open_memory()?;
        migrations::migrate(&mut conn)?;
        // One connection for both: an in-memory database is private to the connection that made it.
        let conn = Arc::new(Mutex::new(conn));
        Ok(SqliteRepository {
            location: ":memory:".to_owned(),
            writer: Writer::spawn(Arc::clone(&conn), None)?,
            readers: Arc::new(Readers::new(vec![conn])),
        })
    }
}

impl fmt::Debug for SqliteRepository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteRepository")
            .field("location", &self.location)
            .field("read_connections", &self.readers.len())
            .field("write_batches", &self.writer.stats().batches)
            .field("writes", &self.writer.stats().jobs)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Repository for SqliteRepository {
    async fn create_interaction(&self, mut new: InteractionAggregate) -> Result<String> {
        SysId::parse_field(new.interaction.sys_id(), field::SYS_ID)?;
        self.writer
            .write(move |conn| {
                // The number is taken after the insert: a create refused for a taken sys_id has then
                // changed nothing, and its batch goes on without it (see the writer).
                let number = format_number(tables::next_number(conn)?);
                new.interaction.set(field::NUMBER, number.as_str());
                tables::insert_aggregate(conn, &new)?;
                tables::take_number(conn)?;
                outbox::append(conn, &InteractionEvent::created(&new))?;
                Ok(number)
            })
            .await
    }

    async fn update_interaction(
        &self,
        sys_id: &SysId,
        plan: Box<UpdatePlan>,
    ) -> Result<AggregateChange> {
        let sys_id = sys_id.clone();
        self.writer
            .write(move |conn| {
                let current =
                    tables::load_aggregate(conn, sys_id.as_str())?.ok_or(Error::NotFound {
                        what: "interaction",
                    })?;
                let change = plan(&current)?;
                tables::write_change(conn, &current, &change)?;
                outbox::append(conn, &InteractionEvent::updated(&current, &change))?;
                Ok(change)
            })
            .await
    }

    async fn delete_interaction(&self, sys_id: &SysId) -> Result<InteractionAggregate> {
        let sys_id = sys_id.clone();
        self.writer
            .write(move |conn| {
                let deleted =
                    tables::delete_aggregate(conn, sys_id.as_str())?.ok_or(Error::NotFound {
                        what: "interaction",
                    })?;
                outbox::append(conn, &InteractionEvent::deleted(&deleted))?;
                Ok(deleted)
            })
            .await
    }

    async fn load_interaction(&self, sys_id: &SysId) -> Result<Option<InteractionAggregate>> {
        let sys_id = sys_id.clone();
        self.readers
            .read(move |conn| tables::load_aggregate(conn, sys_id.as_str()))
            .await
    }

    async fn add_user(&self, user: &User) -> Result<()> {
        let user = user.clone();
        self.writer
            .write(move |conn| tables::insert_user(conn, &user))
            .await
    }

    async fn find_user(&self, user_name: &str) -> Result<Option<User>> {
        let user_name = user_name.to_owned();
        self.readers
            .read(move |conn| tables::find_user(conn, &user_name))
            .await
    }

    async fn find_users_by_sys_id(&self, sys_ids: &[SysId]) -> Result<Vec<User>> {
        let sys_ids = sys_ids.to_vec();
        self.readers
            .read(move |conn| tables::find_users_by_sys_id(conn, &sys_ids))
            .await
    }

    async fn has_users(&self) -> Result<bool> {
        self.readers.read(tables::has_users).await
    }

    async fn set_user_password(&self, user_name: &str, password_hash: &str) -> Result<()> {
        let (name, hash) = (user_name.to_owned(), password_hash.to_owned());
        self.writer
            .write(move |conn| tables::set_user_password(conn, &name, &hash))
            .await
    }

    async fn remove_user(&self, user_name: &str) -> Result<()> {
        let name = user_name.to_owned();
        self.writer
            .write(move |conn| tables::remove_user(conn, &name))
            .await
    }

    async fn add_oauth_client(&self, client: &OAuthClient) -> Result<()> {
        let client = client.clone();
        self.writer
            .write(move |conn| oauth::insert_client(conn, &client))
            .await
    }

    async fn find_oauth_client(&self, client_id: &str) -> Result<Option<OAuthClient>> {
        let id = client_id.to_owned();
        self.readers
            .read(move |conn| oauth::find_client(conn, &id))
            .await
    }

    async fn add_oauth_token(&self, token: &OAuthToken) -> Result<()> {
        let token = token.clone();
        self.writer
            .write(move |conn| oauth::insert_token(conn, &token))
            .await
    }

    async fn find_oauth_token(&self, token_hash: &str) -> Result<Option<OAuthToken>> {
        let hash = token_hash.to_owned();
        self.readers
            .read(move |conn| oauth::find_token(conn, &hash))
            .await
    }

    async fn prune_oauth_tokens(&self, now: i64) -> Result<u64> {
        self.writer
            .write(move |conn| oauth::prune_tokens(conn, now))
            .await
    }

    async fn add_provider_application(&self, app: &Record) -> Result<()> {
        let app = app.clone();
        self.writer
            .write(move |conn| tables::insert_provider_application(conn, &app))
            .await
    }

    async fn find_provider_application(&self, inbound_id: &str) -> Result<Option<Record>> {
        let inbound_id = inbound_id.to_owned();
        self.readers
            .read(move |conn| tables::find_provider_application(conn, &inbound_id))
            .await
    }

    async fn read_record(&self, table: &'static Table, sys_id: &SysId) -> Result<Option<Record>> {
        let sys_id = sys_id.clone();
        self.readers
            .read(move |conn| tables::read_record(conn, table, sys_id.as_str()))
            .await
    }

    async fn query_records(&self, query: &TableQuery) -> Result<RecordPage> {
        let query = query.clone();
        self.readers
            .read(move |conn| tables::query_records(conn, &query))
            .await
    }

    async fn aggregate_records(&self, query: &AggregateQuery) -> Result<Vec<AggregateGroup>> {
        let query = query.clone();
        self.readers
            .read(move |conn| stats_query::aggregate_records(conn, &query))
            .await
    }

    async fn ping(&self) -> Result<()> {
        if !self.writer.is_running() {
            return Err(Error::internal("the SQLite writer thread has stopped"));
        }
        self.readers.read(tables::ping).await
    }

    async fn export_interactions(
        &self,
        after: Option<&SysId>,
        limit: usize,
    ) -> Result<Vec<InteractionAggregate>> {
        // Every sys_id sorts above "": no bound is the same statement from the start.
        let after = after.map(|a| a.as_str().to_owned()).unwrap_or_default();
        self.readers
            .read(move |conn| portability::interactions(conn, &after, limit))
            .await
    }

    async fn export_provider_applications(
        &self,
        after: Option<&SysId>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        let after = after.map(|a| a.as_str().to_owned()).unwrap_or_default();
        self.readers
            .read(move |conn| portability::provider_applications(conn, &after, limit))
            .await
    }

    async fn export_users(&self, after: Option<&str>, limit: usize) -> Result<Vec<User>> {
        // User names are never empty (user::validate_user_name), so every one sorts above "".
        let after = after.unwrap_or_default().to_owned();
        self.readers
            .read(move |conn| portability::users(conn, &after, limit))
            .await
    }

    async fn import(&self, batch: &ImportBatch) -> Result<()> {
        let batch = batch.clone();
        self.writer
            .write(move |conn| portability::import(conn, &batch))
            .await
    }

    async fn events_after(&self, after: u64, limit: usize) -> Result<EventPage> {
        // A reader sees only committed transactions, and a batch commits with its fsync: every event read
        // here is durable.
        self.readers
            .read(move |conn| outbox::after(conn, after, limit))
            .await
    }

    async fn prune_events(&self, keep: u64) -> Result<()> {
        self.writer
            .write(move |conn| outbox::prune(conn, keep))
            .await
    }

    fn record_gauges(&self) {
        let (idle, total) = (self.readers.idle(), self.readers.len());
        metrics::gauge!(POOL_CONNECTIONS, "store" => "sqlite", "state" => "idle").set(idle as f64);
        metrics::gauge!(POOL_CONNECTIONS, "store" => "sqlite", "state" => "in_use")
            .set(total.saturating_sub(idle) as f64);
        metrics::gauge!(POOL_MAX_CONNECTIONS, "store" => "sqlite").set(total as f64);
    }
}
