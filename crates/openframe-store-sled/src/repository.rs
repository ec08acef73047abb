//! [`SledRepository`]: the [`Repository`] on a sled database.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use openframe_core::query::{RecordPage, TableQuery};
use openframe_core::schema::{PROVIDER_APPLICATION, Table, field};
use openframe_core::{
    AggregateChange, Error, InteractionAggregate, Record, Repository, Result, SysId, UpdatePlan,
    User,
};

use crate::codec::{self, FORMAT_VERSION};
use crate::error::{abort, from_sled, from_transaction};
use crate::layout::{FORMAT_VERSION_KEY, Trees};

/// A [`Repository`] on a sled database in one directory. See the crate docs for the layout and what is
/// durable when.
///
/// Cheap to share: clone the `Arc` it is used through. One process at a time may open a directory.
pub struct SledRepository {
    pub(crate) trees: Arc<Trees>,
    location: Option<PathBuf>,
}

impl SledRepository {
    /// Opens the store in directory `path`, creating it if need be.
    ///
    /// Blocking; needs no async runtime. An unusable path or a directory another process holds is an
    /// [`Error::Unavailable`]; a directory written by a newer, incompatible build an [`Error::Internal`].
    pub fn open(path: &Path) -> Result<Self> {
        let db = sled::Config::new().path(path).open().map_err(from_sled)?;
        Self::start(db, Some(path.to_owned()))
    }

    /// A store in a temporary directory that is removed when the store is dropped: for tests.
    pub fn temporary() -> Result<Self> {
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .map_err(from_sled)?;
        Self::start(db, None)
    }

    fn start(db: sled::Db, location: Option<PathBuf>) -> Result<Self> {
        let trees = Trees::open(db).map_err(from_sled)?;
        check_format(&trees)?;
        Ok(SledRepository {
            trees: Arc::new(trees),
            location,
        })
    }

    /// Runs `f` on a thread meant for blocking: a sled transaction may wait for another one, and any read
    /// may wait for a page from disk, neither of which may hold up the async runtime's workers.
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

    /// Makes every committed write durable: each write method calls this after its transaction and before
    /// it reports success, so a success survives a crash or power loss.
    ///
    /// This is a blocking `Db::flush` on tokio's blocking pool, not sled's `flush_async`: in sled 0.34 a
    /// flush holds a read lock of sled's process-wide transaction lock while it waits for its log buffer to
    /// be written by sled's I/O thread pool, and `flush_async` runs the flush *on* that pool. With concurrent
    /// writers, a pending transaction (which wants the write lock) makes the queued flushes block on the read
    /// lock, and the buffer write queued behind them never runs: every writer of the process deadlocks (seen
    /// here under `concurrent_creates_get_distinct_increasing_numbers`; similar reports upstream:
    /// spacejam/sled#1412, databendlabs/databend#1311). Kept off sled's pool, a flush never stands between
    /// that pool and the write it waits for.
    ///
    /// A flush writes out everything committed before it, so concurrent writers could share one; this is
    /// the one place to do that.
    async fn flush(&self) -> Result<()> {
        self.blocking(|trees| trees.db.flush().map(drop).map_err(from_sled))
            .await
    }
}

/// Records the format version in a new store; refuses a store written in a version this build does not read.
fn check_format(trees: &Trees) -> Result<()> {
    match trees.meta.get(FORMAT_VERSION_KEY).map_err(from_sled)? {
        None => {
            trees
                .meta
                .insert(FORMAT_VERSION_KEY, &[FORMAT_VERSION][..])
                .map_err(from_sled)?;
            Ok(())
        }
        Some(v) if *v == [FORMAT_VERSION] => Ok(()),
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
        let number = self
            .blocking(move |trees| {
                trees
                    .interaction_transaction(|tx| tx.create(&new))
                    .map_err(from_transaction)
            })
            .await?;
        self.flush().await?;
        Ok(number)
    }

    async fn update_interaction(
        &self,
        sys_id: &SysId,
        plan: Box<UpdatePlan>,
    ) -> Result<AggregateChange> {
        let id = sys_id.clone();
        let change = self
            .blocking(move |trees| {
                trees
                    .interaction_transaction(|tx| tx.update(id.as_str(), plan.as_ref()))
                    .map_err(from_transaction)
            })
            .await?
            .ok_or(Error::NotFound {
                what: "interaction",
            })?;
        self.flush().await?;
        Ok(change)
    }

    async fn load_interaction(&self, sys_id: &SysId) -> Result<Option<InteractionAggregate>> {
        let id = sys_id.clone();
        // A transaction, though it writes nothing, so that the record and its children are one
        // consistent read.
        self.blocking(move |trees| {
            trees
                .interaction_transaction(|tx| Ok(tx.read(id.as_str())?.map(|(_, agg)| agg)))
                .map_err(from_transaction)
        })
        .await
    }

    async fn add_user(&self, user: &User) -> Result<()> {
        let name = user.user_name.clone();
        let bytes = codec::encode_user(user)?;
        self.blocking(move |trees| {
            trees
                .users
                .transaction(|users| {
                    if users.get(name.as_bytes())?.is_some() {
                        return Err(abort(Error::Conflict {
                            detail: format!("user {name} already exists"),
                        }));
                    }
                    users.insert(name.as_bytes(), bytes.clone())?;
                    Ok(())
                })
                .map_err(from_transaction)
        })
        .await?;
        self.flush().await
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

    async fn has_users(&self) -> Result<bool> {
        self.blocking(|trees| Ok(trees.users.first().map_err(from_sled)?.is_some()))
            .await
    }

    async fn add_provider_application(&self, app: &Record) -> Result<()> {
        let sys_id = app.sys_id().to_owned();
        let inbound_id = app.get(field::INBOUND_ID).to_owned();
        let bytes = codec::encode_record(app)?;
        self.blocking(move |trees| {
            use sled::transaction::Transactional;
            (&trees.provider_applications, &trees.provider_inbound_ids)
                .transaction(|(apps, inbound_ids)| {
                    if inbound_ids.get(inbound_id.as_bytes())?.is_some() {
                        return Err(abort(Error::Conflict {
                            detail: format!(
                                "a provider application with inbound_id {inbound_id} already exists"
                            ),
                        }));
                    }
                    if apps.get(sys_id.as_bytes())?.is_some() {
                        return Err(abort(Error::Conflict {
                            detail: format!("provider application {sys_id} exists"),
                        }));
                    }
                    inbound_ids.insert(inbound_id.as_bytes(), sys_id.as_bytes())?;
                    apps.insert(sys_id.as_bytes(), bytes.clone())?;
                    Ok(())
                })
                .map_err(from_transaction)
        })
        .await?;
        self.flush().await
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

    async fn ping(&self) -> Result<()> {
        self.blocking(|trees| {
            trees.meta.get(FORMAT_VERSION_KEY).map_err(from_sled)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use openframe_core::schema::{INTERACTION, PHONE_LOG};
    use openframe_core::{Context, InteractionAggregate};

    use super::*;
    use crate::layout::{child_key, client_session_key, client_session_prefix};

    fn aggregate(sys_id: &SysId, session: &str) -> InteractionAggregate {
        let mut interaction = Record::new(&INTERACTION);
        interaction.set(field::SYS_ID, sys_id.as_str());
        interaction.set(field::CLIENT_SESSION_ID, session);
        let mut log = Record::new(&PHONE_LOG);
        log.set(field::SYS_ID, SysId::random().as_str());
        InteractionAggregate {
            interaction,
            context: Context::new(),
            phone_logs: vec![log],
            related_records: Vec::new(),
        }
    }

    fn sessions(trees: &Trees, session: &str) -> Vec<Vec<u8>> {
        trees
            .client_sessions
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

        let trees = &repo.trees;
        let number = trees.interaction_numbers.get("IMS0001001").unwrap();
        assert_eq!(number.as_deref(), Some(a.as_str().as_bytes()));
        assert_eq!(sessions(trees, "s-1").len(), 2);
        let key = trees.phone_log_keys.get(&log_id).unwrap();
        assert_eq!(key.as_deref(), Some(&child_key(a.as_str(), 0)[..]));

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
                })
            }),
        )
        .await
        .unwrap();
        assert_eq!(
            sessions(trees, "s-1"),
            [client_session_key("s-1", b.as_str())]
        );
        assert_eq!(
            sessions(trees, "s-2"),
            [client_session_key("s-2", a.as_str())]
        );
    }

    #[test]
    fn a_store_of_an_unknown_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(SledRepository::open(dir.path()).unwrap());
        {
            let db = sled::open(dir.path()).unwrap();
            let meta = db.open_tree("meta").unwrap();
            meta.insert(FORMAT_VERSION_KEY, &[FORMAT_VERSION + 1][..])
                .unwrap();
            db.flush().unwrap();
        }
        assert!(matches!(
            SledRepository::open(dir.path()),
            Err(Error::Internal { .. })
        ));
    }
}
