//! [`SledRepository`]: the [`Repository`] on a sled database.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use openframe_core::oauth::{OAuthClient, OAuthToken};
use openframe_core::portability::ImportBatch;
use openframe_core::query::{RecordPage, TableQuery};
use openframe_core::schema::{PROVIDER_APPLICATION, Table, field};
use openframe_core::stats::{AggregateGroup, AggregateQuery};
use openframe_core::{
    AggregateChange, Conflict, Error, EventPage, InteractionAggregate, Record, Repository, Result,
    SysId, UpdatePlan, User,
};

use crate::codec::{self, FORMAT_VERSION, PLAIN_ROW_VERSION, SEPARATE_CHILDREN_VERSION};
use crate::durability::DiskSync;
use crate::error::{abort, from_sled, from_transaction};
use crate::group::{Counters, GroupWrites};
use crate::interactions;
use crate::layout::{FORMAT_VERSION_KEY, Trees};
use crate::migrate;
use crate::oauth;
use crate::outbox;
use crate::portability;
use crate::writer::Writer;

/// A [`Repository`] on a sled database in one directory. See the crate docs for the layout and what is
/// durable when.
///
/// Cheap to share: clone the `Arc` it is used through. One process at a time may open a directory.
pub struct SledRepository {
    /// Runs every write. Declared first, so dropped first: its thread holds the trees until it ends.
    writer: Writer<GroupWrites>,
    pub(crate) trees: Arc<Trees>,
    location: Option<PathBuf>,
}

/// The most memory sled may use to cache pages, in bytes.
///
/// sled's default is 1 GiB, which a long-running server grows into as the store grows. Writes append where
/// the pages are already cached (see the `layout` module), reads are point lookups and short prefix scans,
/// and the Table API's scans stream, so a small cache costs little: under 64 concurrent creates through the
/// HTTP server, create throughput was the same within noise from 4 to 16 MiB, while sled's resident memory
/// is two to three times its cache and the whole server's peak RSS went from about 58 MiB (4 MiB) to 70
/// MiB (8 MiB) and 85 MiB (16 MiB) over a 10-second run. 4 MiB keeps the server within 64 MiB.
pub const CACHE_CAPACITY: u64 = 4 * 1024 * 1024;

/// Makes a group of writes durable (the writer thread, after running them): applies them to `data` as one
/// batch (the `group` module), flushes, syncs what sled's flush leaves unsynced (`disk`, the `durability`
/// module; none for a temporary store), then lets readers see the events the group wrote (`outbox.rs`).
fn flush(group: &GroupWrites, disk: Option<&mut DiskSync>) -> sled::Result<()> {
    let trees = group.finish()?;
    let applied = group.counters().event_head;
    trees.db.flush()?;
    if let Some(disk) = disk {
        disk.sync().map_err(sled::Error::Io)?;
    }
    trees.durable_events.durable_through(applied);
    Ok(())
}

/// The configuration every store opens with.
pub(crate) fn config() -> sled::Config {
    sled::Config::new()
        .cache_capacity(CACHE_CAPACITY)
        // Every write is flushed before it succeeds (the `writer` module); sled's own periodic flush would
        // only compete with it for the transaction lock.
        .flush_every_ms(None)
}

impl SledRepository {
    /// Opens the store in directory `path`, creating it if need be.
    ///
    /// Blocking; needs no async runtime. An unusable path or a directory another process holds is an
    /// [`Error::Unavailable`]; a directory written by a newer, incompatible build an [`Error::Internal`].
    pub fn open(path: &Path) -> Result<Self> {
        let db = config().path(path).open().map_err(from_sled)?;
        Self::start(db, Some(path.to_owned()))
    }

    /// Opens the store in directory `path`, which must already hold an openframe sled store: a missing
    /// directory, or one without a sled database (its `conf` and `db` files), is an [`Error::Invalid`]
    /// (field `store`) and nothing is created; a sled database without openframe's format version is refused
    /// too. For commands that read or upgrade a store (export, migrate).
    pub fn open_existing(path: &Path) -> Result<Self> {
        let missing = |what: &str| Error::invalid("store", format!("{} {what}", path.display()));
        if !path.is_dir() {
            return Err(missing("does not exist"));
        }
        if !(path.join("conf").is_file() && path.join("db").is_file()) {
            return Err(missing("is not a sled store"));
        }
        let db = config().path(path).open().map_err(from_sled)?;
        // Looked up without `open_tree`, which would create the tree in a database that lacks it.
        let has_format = db.tree_names().iter().any(|name| name.as_ref() == b"meta")
            && db
                .open_tree("meta")
                .and_then(|meta| meta.get(FORMAT_VERSION_KEY))
                .map_err(from_sled)?
                .is_some();
        if !has_format {
            return Err(missing("is not an openframe store"));
        }
        Self::start(db, Some(path.to_owned()))
    }

    /// A store in a temporary directory that is removed when the store is dropped: for tests.
    pub fn temporary() -> Result<Self> {
        let db = config().temporary(true).open().map_err(from_sled)?;
        Self::start(db, None)
    }

    fn start(db: sled::Db, location: Option<PathBuf>) -> Result<Self> {
        let trees = Arc::new(Trees::open(db).map_err(from_sled)?);
        check_format(&trees)?;
        let counters = Counters {
            next_number: interactions::recover_next_number(&trees.data)?,
            event_head: outbox::recover_head(&trees.data)?,
        };
        // Everything stored at open is durable (sled recovered it from disk).
        trees.durable_events.durable_through(counters.event_head);
        Ok(SledRepository {
            writer: Writer::start(GroupWrites::new(Arc::clone(&trees), counters), {
                let mut disk = match &location {
                    Some(dir) => Some(DiskSync::open(dir).map_err(Error::unavailable)?),
                    None => None,
                };
                move |group: &GroupWrites| flush(group, disk.as_mut())
            })?,
            trees,
            location,
        })
    }

    /// Runs the read `f` on a thread meant for blocking: a read may wait for a running transaction or for a
    /// page from disk, neither of which may hold up the async runtime's workers. Writes go to the writer.
    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&Trees) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let trees = Arc::clone(&self.trees);
        tokio::task::spawn_blocking(move || f(&trees))
            .await
            .map_err(|e| {
                if e.is_cancelled() {
                    // The runtime is shutting down.
                    Error::unavailable(e)
                } else {
                    Error::internal(e)
                }
            })?
    }

    /// Runs the write `f` (staged into the group being committed, or one sled transaction after settling
    /// it) on the store's writer thread, and returns its value once it is durable: the writer applies and
    /// flushes each group of writes before answering them (the `writer` and `group` modules), so a success
    /// survives a crash or power loss.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&GroupWrites) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.writer.write(f).await
    }
}

/// Records the format version in a new store; converts a version-2 store (the `migrate` module); refuses a
/// store written in a version this build does not read; keys the client-session index by folded ids.
fn check_format(trees: &Arc<Trees>) -> Result<()> {
    convert_format(trees)?;
    migrate::fold_client_sessions(trees)
}

fn convert_format(trees: &Arc<Trees>) -> Result<()> {
    match trees.meta.get(FORMAT_VERSION_KEY).map_err(from_sled)? {
        None => migrate::record_format(trees),
        Some(v) if *v == [FORMAT_VERSION] => Ok(()),
        // Nothing to convert: this build reads version-3 rows as they are. The new version is recorded
        // before any compressed row is written, so that a version-3 build refuses the store rather than fail
        // on its first such row.
        Some(v) if *v == [PLAIN_ROW_VERSION] => migrate::record_format(trees),
        Some(v) if *v == [SEPARATE_CHILDREN_VERSION] => migrate::from_separate_children(trees),
        Some(v) => Err(Error::internal(format!(
            "the sled store has format version {v:?}; this build reads version {FORMAT_VERSION}"
        ))),
    }
}

// Hand-written: sled's own `Debug` prints every tree's contents, password hashes included.
impl fmt::Debug for SledRepository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("SledRepository");
        match &self.location {
            Some(path) => s.field("path", path),
            None => s.field("path", &"(temporary)"),
        };
        s.finish()
    }
}

#[async_trait]
impl Repository for SledRepository {
    async fn create_interaction(&self, new: InteractionAggregate) -> Result<String> {
        SysId::parse_field(new.interaction.sys_id(), "sys_id")?;
        self.write(move |group| interactions::create(group, new))
            .await
    }

    async fn update_interaction(
        &self,
        sys_id: &SysId,
        plan: Box<UpdatePlan>,
    ) -> Result<AggregateChange> {
        let id = sys_id.clone();
        self.write(move |group| {
            interactions::update(group, id.as_str(), plan.as_ref())?.ok_or(Error::NotFound {
                what: "interaction",
            })
        })
        .await
    }

    async fn delete_interaction(&self, sys_id: &SysId) -> Result<InteractionAggregate> {
        let id = sys_id.clone();
        self.write(move |group| {
            interactions::delete(group, id.as_str())?.ok_or(Error::NotFound {
                what: "interaction",
            })
        })
        .await
    }

    async fn load_interaction(&self, sys_id: &SysId) -> Result<Option<InteractionAggregate>> {
        let id = sys_id.clone();
        // A plain read: the aggregate is one value, so it is never seen half-updated.
        self.blocking(move |trees| interactions::load(&trees.data, id.as_str()))
            .await
    }

    async fn add_user(&self, user: &User) -> Result<()> {
        let name = user.user_name.clone();
        let bytes = codec::encode_user(user)?;
        self.write(move |group| {
            group
                .settle()?
                .users
                .transaction(|users| {
                    if users.get(name.as_bytes())?.is_some() {
                        return Err(abort(
                            Conflict::UserName {
                                user_name: name.clone(),
                            }
                            .into(),
                        ));
                    }
                    users.insert(name.as_bytes(), bytes.clone())?;
                    Ok(())
                })
                .map_err(from_transaction)
        })
        .await
    }

    async fn find_user(&self, user_name: &str) -> Result<Option<User>> {
        let name = user_name.to_owned();
        self.blocking(move |trees| {
            trees
                .users
                .get(name.as_bytes())
                .map_err(from_sled)?
                .map(|bytes| codec::decode_user(&bytes))
                .transpose()
        })
        .await
    }

    /// Users are keyed by name, so this is one scan of the users tree (users are the few accounts an
    /// administrator creates, not data that grows with traffic).
    async fn find_users_by_sys_id(&self, sys_ids: &[SysId]) -> Result<Vec<User>> {
        let wanted: std::collections::HashSet<SysId> = sys_ids.iter().cloned().collect();
        self.blocking(move |trees| {
            let mut found = Vec::new();
            for entry in trees.users.iter() {
                let (_, bytes) = entry.map_err(from_sled)?;
                let user = codec::decode_user(&bytes)?;
                if wanted.contains(&user.sys_id) {
                    found.push(user);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn has_users(&self) -> Result<bool> {
        self.blocking(|trees| Ok(trees.users.first().map_err(from_sled)?.is_some()))
            .await
    }

    async fn set_user_password(&self, user_name: &str, password_hash: &str) -> Result<()> {
        let (name, hash) = (user_name.to_owned(), password_hash.to_owned());
        self.write(move |group| {
            group
                .settle()?
                .users
                .transaction(|users| {
                    let Some(bytes) = users.get(name.as_bytes())? else {
                        return Err(abort(Error::NotFound { what: "user" }));
                    };
                    let mut user = codec::decode_user(&bytes).map_err(abort)?;
                    user.password_hash.clone_from(&hash);
                    let bytes = codec::encode_user(&user).map_err(abort)?;
                    users.insert(name.as_bytes(), bytes)?;
                    Ok(())
                })
                .map_err(from_transaction)
        })
        .await
    }

    async fn remove_user(&self, user_name: &str) -> Result<()> {
        let name = user_name.to_owned();
        self.write(move |group| {
            match group
                .settle()?
                .users
                .remove(name.as_bytes())
                .map_err(from_sled)?
            {
                Some(_) => Ok(()),
                None => Err(Error::NotFound { what: "user" }),
            }
        })
        .await
    }

    async fn add_oauth_client(&self, client: &OAuthClient) -> Result<()> {
        let client = client.clone();
        self.write(move |group| oauth::add_client(group.settle()?, &client))
            .await
    }

    async fn find_oauth_client(&self, client_id: &str) -> Result<Option<OAuthClient>> {
        let id = client_id.to_owned();
        self.blocking(move |trees| oauth::find_client(trees, &id))
            .await
    }

    async fn add_oauth_token(&self, token: &OAuthToken) -> Result<()> {
        let token = token.clone();
        self.write(move |group| oauth::add_token(group.settle()?, &token))
            .await
    }

    async fn find_oauth_token(&self, token_hash: &str) -> Result<Option<OAuthToken>> {
        let hash = token_hash.to_owned();
        self.blocking(move |trees| oauth::find_token(trees, &hash))
            .await
    }

    async fn prune_oauth_tokens(&self, now: i64) -> Result<u64> {
        self.write(move |group| oauth::prune_tokens(group.settle()?, now))
            .await
    }

    async fn add_provider_application(&self, app: &Record) -> Result<()> {
        let sys_id = app.sys_id().to_owned();
        let inbound_id = app.get(field::INBOUND_ID).to_owned();
        let bytes = codec::encode_record(app)?;
        self.write(move |group| {
            use sled::transaction::Transactional;
            let trees = group.settle()?;
            (&trees.provider_applications, &trees.provider_inbound_ids)
                .transaction(|(apps, inbound_ids)| {
                    if inbound_ids.get(inbound_id.as_bytes())?.is_some() {
                        return Err(abort(
                            Conflict::InboundId {
                                inbound_id: inbound_id.clone(),
                            }
                            .into(),
                        ));
                    }
                    if apps.get(sys_id.as_bytes())?.is_some() {
                        return Err(abort(
                            Conflict::SysId {
                                table: PROVIDER_APPLICATION.name,
                                sys_id: sys_id.clone(),
                            }
                            .into(),
                        ));
                    }
                    inbound_ids.insert(inbound_id.as_bytes(), sys_id.as_bytes())?;
                    apps.insert(sys_id.as_bytes(), bytes.clone())?;
                    Ok(())
                })
                .map_err(from_transaction)
        })
        .await
    }

    async fn find_provider_application(&self, inbound_id: &str) -> Result<Option<Record>> {
        let inbound_id = inbound_id.to_owned();
        // Two plain reads suffice: provider applications are only ever added, both keys in one transaction.
        self.blocking(move |trees| {
            let Some(sys_id) = trees
                .provider_inbound_ids
                .get(inbound_id.as_bytes())
                .map_err(from_sled)?
            else {
                return Ok(None);
            };
            let bytes = trees
                .provider_applications
                .get(&sys_id)
                .map_err(from_sled)?
                .ok_or_else(|| {
                    Error::internal(format!(
                        "inbound_id {inbound_id} indexes a missing provider application"
                    ))
                })?;
            codec::decode_record(&PROVIDER_APPLICATION, &bytes).map(Some)
        })
        .await
    }

    async fn read_record(&self, table: &'static Table, sys_id: &SysId) -> Result<Option<Record>> {
        let id = sys_id.clone();
        // Plain reads suffice (see the `query` module): a record is one value, and a child's key never changes.
        self.blocking(move |trees| trees.read_record(table, id.as_str()))
            .await
    }

    async fn query_records(&self, query: &TableQuery) -> Result<RecordPage> {
        let query = query.clone();
        self.blocking(move |trees| Ok(trees.query(&query)?.page))
            .await
    }

    async fn aggregate_records(&self, query: &AggregateQuery) -> Result<Vec<AggregateGroup>> {
        let query = query.clone();
        self.blocking(move |trees| trees.aggregate(&query)).await
    }

    async fn events_after(&self, after: u64, limit: usize) -> Result<EventPage> {
        self.blocking(move |trees| {
            outbox::after(&trees.data, trees.durable_events.get(), after, limit)
        })
        .await
    }

    async fn prune_events(&self, keep: u64) -> Result<()> {
        self.write(move |group| outbox::prune(group, keep)).await
    }

    async fn ping(&self) -> Result<()> {
        self.blocking(|trees| {
            trees.meta.get(FORMAT_VERSION_KEY).map_err(from_sled)?;
            Ok(())
        })
        .await
    }

    async fn export_interactions(
        &self,
        after: Option<&SysId>,
        limit: usize,
    ) -> Result<Vec<InteractionAggregate>> {
        let after = after.map(|a| a.as_str().to_owned());
        let ids = self
            .blocking(move |trees| portability::interaction_ids(trees, after.as_deref(), limit))
            .await?;
        let mut page = Vec::with_capacity(ids.len());
        for id in ids {
            let sys_id = SysId::parse(&id)
                .map_err(|rule| Error::internal(format!("indexed interaction {id:?}: {rule}")))?;
            // Each read whole, as load_interaction reads it; one deleted since its id was listed is gone.
            if let Some(found) = self.load_interaction(&sys_id).await? {
                page.push(found);
            }
        }
        Ok(page)
    }

    async fn export_provider_applications(
        &self,
        after: Option<&SysId>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        let after = after.map(|a| a.as_str().to_owned());
        self.blocking(move |trees| {
            portability::provider_applications(trees, after.as_deref(), limit)
        })
        .await
    }

    async fn export_users(&self, after: Option<&str>, limit: usize) -> Result<Vec<User>> {
        let after = after.map(str::to_owned);
        self.blocking(move |trees| portability::users(trees, after.as_deref(), limit))
            .await
    }

    async fn import(&self, batch: &ImportBatch) -> Result<()> {
        let batch = batch.clone();
        self.write(move |group| portability::import(group, &batch))
            .await
    }
}

#[cfg(test)]
mod tests {
    use openframe_core::schema::{INTERACTION, PHONE_LOG};
    use openframe_core::{Context, InteractionAggregate};

    use super::*;
    use crate::directory::{self, Kind, Location};
    use crate::layout::{ChildTable, client_session_key, client_session_prefix, number_key};

    fn aggregate(sys_id: &SysId, session: &str) -> InteractionAggregate {
        let mut interaction = Record::new(&INTERACTION);
        interaction.set(field::SYS_ID, sys_id.as_str());
        interaction.set(field::CLIENT_SESSION_ID, session);
        let mut log = Record::new(&PHONE_LOG);
        log.set(field::SYS_ID, SysId::random().as_str());
        log.set(field::INTERACTION, sys_id.as_str());
        InteractionAggregate {
            interaction,
            context: Context::new(),
            phone_logs: vec![log],
            related_records: Vec::new(),
        }
    }

    fn sessions(trees: &Trees, session: &str) -> Vec<Vec<u8>> {
        trees
            .data
            .scan_prefix(client_session_prefix(session))
            .keys()
            .map(|k| k.unwrap().to_vec())
            .collect()
    }

    #[tokio::test]
    async fn indexes_follow_the_records() {
        let repo = SledRepository::temporary().unwrap();
        let (a, b) = (SysId::random(), SysId::random());
        let new_a = aggregate(&a, "s-1");
        let log_id = new_a.phone_logs[0].sys_id().to_owned();
        assert_eq!(repo.create_interaction(new_a).await.unwrap(), "IMS0001001");
        repo.create_interaction(aggregate(&b, "s-1")).await.unwrap();

        // The interaction's id is its creation number, which its own spelling needs no `n` entry for.
        let data = &repo.trees.data;
        let at = |kind, sys_id: &str| directory::find(data, kind, sys_id).unwrap();
        let location = |id, position| Some(Location { id, position });
        assert_eq!(at(Kind::Interaction, a.as_str()), location(1001, 0));
        assert!(data.get(number_key("IMS0001001")).unwrap().is_none());
        assert_eq!(sessions(&repo.trees, "s-1").len(), 2);
        assert_eq!(
            at(Kind::Child(ChildTable::PhoneLog), &log_id),
            location(1001, 0)
        );

        // Moving `a` to another session moves its index entry, and leaves `b`'s.
        repo.update_interaction(
            &a,
            Box::new(|current| {
                let mut interaction = current.interaction.clone();
                interaction.set(field::CLIENT_SESSION_ID, "s-2");
                Ok(AggregateChange {
                    interaction,
                    context_set: Context::new(),
                    context_removed: Default::default(),
                    phone_logs: Vec::new(),
                    related_records: Vec::new(),
                    removed: Default::default(),
                })
            }),
        )
        .await
        .unwrap();
        assert_eq!(
            sessions(&repo.trees, "s-1"),
            [client_session_key("s-1", 1002)]
        );
        assert_eq!(
            sessions(&repo.trees, "s-2"),
            [client_session_key("s-2", 1001)]
        );
    }

    #[tokio::test]
    async fn a_version_3_store_opens_as_it_is_and_its_rows_are_compressed_when_written() {
        let dir = tempfile::tempdir().unwrap();
        let sys_id = SysId::random();
        let row_key = crate::layout::interaction_key(1001);
        {
            let repo = SledRepository::open(dir.path()).unwrap();
            repo.create_interaction(aggregate(&sys_id, "s-1"))
                .await
                .unwrap();
            // Made what a version-3 build left: a plain row, and version 3 in `meta`.
            let trees = &repo.trees;
            let row =
                codec::InteractionRow::decode(&trees.data.get(&row_key).unwrap().unwrap()).unwrap();
            trees.data.insert(&row_key, row.encode_plain()).unwrap();
            trees
                .meta
                .insert(FORMAT_VERSION_KEY, &[PLAIN_ROW_VERSION][..])
                .unwrap();
            trees.db.flush().unwrap();
        }
        let repo = crate::testing::when_unlocked(|| SledRepository::open(dir.path()));
        let row_version =
            |repo: &SledRepository| repo.trees.data.get(&row_key).unwrap().unwrap()[0];
        assert_eq!(row_version(&repo), PLAIN_ROW_VERSION);
        assert_eq!(
            &*repo.trees.meta.get(FORMAT_VERSION_KEY).unwrap().unwrap(),
            [FORMAT_VERSION]
        );
        let loaded = repo.load_interaction(&sys_id).await.unwrap().unwrap();
        assert_eq!(loaded.interaction.get(field::CLIENT_SESSION_ID), "s-1");
        repo.update_interaction(
            &sys_id,
            Box::new(|current| {
                Ok(AggregateChange {
                    interaction: current.interaction.clone(),
                    context_set: [("k".to_owned(), "v".to_owned())].into(),
                    context_removed: Default::default(),
                    phone_logs: Vec::new(),
                    related_records: Vec::new(),
                    removed: Default::default(),
                })
            }),
        )
        .await
        .unwrap();
        assert_eq!(row_version(&repo), FORMAT_VERSION);
        let updated = repo.load_interaction(&sys_id).await.unwrap().unwrap();
        assert_eq!(updated.phone_logs, loaded.phone_logs);
        assert_eq!(updated.context.get("k").map(String::as_str), Some("v"));
    }

    #[test]
    fn a_store_of_another_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(SledRepository::open(dir.path()).unwrap());
        for version in [FORMAT_VERSION + 1, 1, 0] {
            {
                // No periodic flusher: its thread would keep the directory locked for a while after the drop.
                let db = config().path(dir.path()).open().unwrap();
                let meta = db.open_tree("meta").unwrap();
                meta.insert(FORMAT_VERSION_KEY, &[version][..]).unwrap();
                db.flush().unwrap();
            }
            // sled's background threads may hold the directory lock a moment after a drop (Unavailable);
            // wait that out, then the format must be refused.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let opened = loop {
                match SledRepository::open(dir.path()) {
                    Err(Error::Unavailable { .. }) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                    other => break other,
                }
            };
            assert!(matches!(opened, Err(Error::Internal { .. })));
        }
    }
}
