//! The `Repository` trait: what a store keeps and the atomic operations the service needs of it.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::aggregate::{AggregateChange, InteractionAggregate};
use crate::error::Result;
use crate::event::EventPage;
use crate::portability::ImportBatch;
use crate::query::{RecordPage, TableQuery};
use crate::record::Record;
use crate::schema::Table;
use crate::sys_id::SysId;
use crate::user::User;

/// The business rules of one update, run by the store inside its transaction on the aggregate it just read.
///
/// It may run more than once if a store retries a transaction, so it must not have side effects beyond the
/// change it returns. An `Err` aborts the update: the store writes nothing and returns the error.
pub type UpdatePlan = dyn Fn(&InteractionAggregate) -> Result<AggregateChange> + Send + Sync;

/// A store of interactions, users and provider applications.
///
/// Every method is atomic: either all of its writes happen or none do. Used as `Arc<dyn Repository>`.
/// `openframe_core::conformance` holds the suite every implementation must pass.
#[async_trait]
pub trait Repository: Debug + Send + Sync + 'static {
    /// Stores a new aggregate, assigning the interaction the store's next number (see [`crate::number`]),
    /// which it returns. Numbers are unique and increasing for the life of the store, across processes
    /// sharing it. [`Conflict::SysId`](crate::Conflict::SysId) when the interaction's sys_id is taken:
    /// nothing is written and no number used up.
    async fn create_interaction(&self, new: InteractionAggregate) -> Result<String>;

    /// Reads the interaction `sys_id`, runs `plan` on it and writes the change, all in one transaction.
    /// [`crate::Error::NotFound`] when there is no such interaction.
    async fn update_interaction(
        &self,
        sys_id: &SysId,
        plan: Box<UpdatePlan>,
    ) -> Result<AggregateChange>;

    /// Reads an interaction and everything that hangs off it.
    async fn load_interaction(&self, sys_id: &SysId) -> Result<Option<InteractionAggregate>>;

    /// Adds a user; [`Conflict::UserName`](crate::Conflict::UserName) when the name is taken.
    async fn add_user(&self, user: &User) -> Result<()>;

    /// The user with this sign-in name.
    async fn find_user(&self, user_name: &str) -> Result<Option<User>>;

    /// Whether the store has any user at all (`serve` bootstraps an admin when not).
    async fn has_users(&self) -> Result<bool>;

    /// Adds a provider application; [`Conflict::InboundId`](crate::Conflict::InboundId) when its
    /// `inbound_id` is taken.
    async fn add_provider_application(&self, app: &Record) -> Result<()>;

    /// The provider application with this `inbound_id`.
    async fn find_provider_application(&self, inbound_id: &str) -> Result<Option<Record>>;

    /// One record of `table` by sys_id (the Table API's single-record read).
    async fn read_record(&self, table: &'static Table, sys_id: &SysId) -> Result<Option<Record>>;

    /// The page of `query.table` that `query` selects, and how many records match in all. Stores run the
    /// filter, order and paging natively (never loading a whole table to filter it in memory) and must give
    /// exactly what [`TableQuery::run_in_memory`] gives over the same records.
    async fn query_records(&self, query: &TableQuery) -> Result<RecordPage>;

    /// Answers when the store is reachable: the health check.
    async fn ping(&self) -> Result<()>;

    /// Releases what the store holds outside the process (network connections) once no more calls will come,
    /// on shutdown. Stores that close everything when dropped need nothing here: the default does nothing.
    async fn close(&self) {}

    // ---- Portability: `openframe export` / `openframe import` (see `crate::portability`) ----
    //
    // Keyset-paged reads, so that an export never holds a whole table in memory, and a verbatim write.

    /// Up to `limit` interactions, each whole (as [`Repository::load_interaction`] reads it), whose sys_id
    /// is greater than `after` (from the first when `None`), in sys_id order.
    async fn export_interactions(
        &self,
        after: Option<&SysId>,
        limit: usize,
    ) -> Result<Vec<InteractionAggregate>>;

    /// Up to `limit` provider applications whose sys_id is greater than `after`, in sys_id order.
    async fn export_provider_applications(
        &self,
        after: Option<&SysId>,
        limit: usize,
    ) -> Result<Vec<Record>>;

    /// Up to `limit` users whose name is byte-wise greater than `after`, in byte-wise name order.
    async fn export_users(&self, after: Option<&str>, limit: usize) -> Result<Vec<User>>;

    /// Writes `batch` verbatim — sys_ids, numbers, every system field, phone logs and related records in
    /// their order — in one transaction, and moves the number counter so that the next interaction created
    /// gets a number above every number in the batch (and above what it would have got anyway).
    ///
    /// [`crate::Error::Conflict`] naming the key when a sys_id (of any record or user), interaction number,
    /// user name or inbound id of the batch is taken, in the store or earlier in the batch (when several
    /// are, any one of them): nothing of the batch is written. [`crate::unique::check_unique`] over
    /// [`ImportBatch::unique_keys`] is that check. [`crate::Error::Invalid`] when [`ImportBatch::check`]
    /// fails, again writing nothing.
    async fn import(&self, batch: &ImportBatch) -> Result<()>;
    // Interaction events: every create and update writes one (`crate::event::InteractionEvent::created`,
    // `::updated`) into the store's outbox, in its own transaction; ids as `crate::event` promises them.

    /// Up to `limit` events with ids above `after`, in id order, with the store's horizon (`limit` 0 asks
    /// for the horizon alone). Only events a reader may rely on: committed and, on a store that makes
    /// writes durable after applying them, durable.
    async fn events_after(&self, after: u64, limit: usize) -> Result<EventPage>;

    /// Removes every event but the latest `keep` (the retention window); readers behind it are told by the
    /// horizon's `pruned_through`.
    async fn prune_events(&self, keep: u64) -> Result<()>;

    /// Sets the store's gauges ([`crate::metric_names`], such as its connection pool's sizes) through the
    /// `metrics` facade; called just before metrics are exported, so that they are current. A store with no
    /// gauges keeps this default, which does nothing. A store wrapping another must forward it.
    fn record_gauges(&self) {}
}
