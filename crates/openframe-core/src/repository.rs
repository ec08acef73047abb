//! The `Repository` trait: what a store keeps and the atomic operations the service needs of it.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

use crate::aggregate::{AggregateChange, InteractionAggregate};
use crate::error::Result;
use crate::event::EventPage;
use crate::oauth::{OAuthClient, OAuthToken};
use crate::portability::ImportBatch;
use crate::query::{RecordPage, TableQuery};
use crate::record::Record;
use crate::schema::Table;
use crate::stats::{AggregateGroup, AggregateQuery};
use crate::sys_id::SysId;
use crate::user::User;

/// The business rules of one update, run by the store inside its transaction on the aggregate it just read.
///
/// It may run more than once if a store retries a transaction, so it must not have side effects beyond the
/// change it returns. An `Err` aborts the update: the store writes nothing and returns the error.
pub type UpdatePlan = dyn Fn(&InteractionAggregate) -> Result<AggregateChange> + Send + Sync;

/// A store of interactions, users and provider applications.
///
/// Every method is atomic: either all of its writes happen or none do. Used as `Arc<dyn Repository>`;
/// `Arc<R>` and `Box<R>` of a repository are repositories too, forwarding every method.
/// `openframe_core::conformance` holds the suite every implementation must pass.
#[async_trait]
pub trait Repository: Debug + Send + Sync + 'static {
    /// Stores a new aggregate, assigning the interaction the store's next number (see [`crate::number`]),
    /// which it returns. Numbers are unique and increasing for the life of the store, across processes
    /// sharing it. [`Conflict::SysId`](crate::Conflict::SysId) when the interaction's sys_id is taken
    /// (nothing is written and no number used up), or a phone log's or related record's (nothing is
    /// written; the number may be used up).
    async fn create_interaction(&self, new: InteractionAggregate) -> Result<String>;

    /// Reads the interaction `sys_id`, runs `plan` on it and writes the change, all in one transaction.
    /// [`crate::Error::NotFound`] when there is no such interaction; [`Conflict::SysId`](crate::Conflict::SysId)
    /// when the change brings a phone log whose sys_id another interaction's log has, or a related record
    /// whose sys_id is taken, writing nothing.
    async fn update_interaction(
        &self,
        sys_id: &SysId,
        plan: Box<UpdatePlan>,
    ) -> Result<AggregateChange>;

    /// Deletes interaction `sys_id` with its context, phone logs and related records, and writes its
    /// `interaction.deleted` event ([`crate::event::InteractionEvent::deleted`]), all in one transaction;
    /// returns what was deleted. [`crate::Error::NotFound`] when there is no such interaction. Its number is
    /// never given to another interaction.
    async fn delete_interaction(&self, sys_id: &SysId) -> Result<InteractionAggregate>;

    /// Reads an interaction and everything that hangs off it.
    async fn load_interaction(&self, sys_id: &SysId) -> Result<Option<InteractionAggregate>>;

    /// Adds a user; [`Conflict::UserName`](crate::Conflict::UserName) when the name is taken.
    async fn add_user(&self, user: &User) -> Result<()>;

    /// The user with this sign-in name.
    async fn find_user(&self, user_name: &str) -> Result<Option<User>>;

    /// The users whose sys_id is among `sys_ids` (each once, in any order): what references to users
    /// show as display values. One query whatever the number of sys_ids.
    async fn find_users_by_sys_id(&self, sys_ids: &[SysId]) -> Result<Vec<User>>;

    /// Whether the store has any user at all (`serve` bootstraps an admin when not).
    async fn has_users(&self) -> Result<bool>;

    /// Replaces the password hash of the user called `user_name`; [`crate::Error::NotFound`] when there is
    /// none. Tokens issued to the user stop being accepted (see [`crate::oauth`]).
    async fn set_user_password(&self, user_name: &str, password_hash: &str) -> Result<()>;

    /// Removes the user called `user_name`; [`crate::Error::NotFound`] when there is none. Records that
    /// reference the user keep its sys_id.
    async fn remove_user(&self, user_name: &str) -> Result<()>;

    // ---- OAuth clients and tokens (see `crate::oauth`) ----

    /// Registers an OAuth client; [`Conflict::OAuthClientId`](crate::Conflict::OAuthClientId) when its
    /// `client_id` is taken.
    async fn add_oauth_client(&self, client: &OAuthClient) -> Result<()>;

    /// The OAuth client with this `client_id`, matched exactly.
    async fn find_oauth_client(&self, client_id: &str) -> Result<Option<OAuthClient>>;

    /// Stores an issued token.
    async fn add_oauth_token(&self, token: &OAuthToken) -> Result<()>;

    /// The token whose hash is `token_hash`, matched exactly, expired or not (the caller checks).
    async fn find_oauth_token(&self, token_hash: &str) -> Result<Option<OAuthToken>>;

    /// Removes every token that expired before `now` (seconds since the Unix epoch); returns how many.
    async fn prune_oauth_tokens(&self, now: i64) -> Result<u64>;

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

    /// The groups of `query.query.table` that the Aggregate API request `query` asks for, with their counts
    /// and aggregates, in group order, at most `query.max_groups`. Stores compute them natively (SQL's
    /// `GROUP BY`, or one pass over the candidates keeping one total per group, never the records) and must
    /// give exactly what [`AggregateQuery::run_in_memory`] gives over the same records.
    async fn aggregate_records(&self, query: &AggregateQuery) -> Result<Vec<AggregateGroup>>;

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
    // Interaction events: every create, update and delete writes one (`crate::event::InteractionEvent::created`,
    // `::updated`, `::deleted`) into the store's outbox, in its own transaction; ids as `crate::event` promises them.

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

/// `Arc<R>` and `Box<R>` forward every method, the defaulted ones included, to the repository they hold.
macro_rules! forward_repository {
    ($($pointer:ident),+) => {$(
        #[async_trait]
        impl<R: Repository + ?Sized> Repository for $pointer<R> {
            async fn create_interaction(&self, new: InteractionAggregate) -> Result<String> {
                (**self).create_interaction(new).await
            }

            async fn update_interaction(
                &self,
                sys_id: &SysId,
                plan: Box<UpdatePlan>,
            ) -> Result<AggregateChange> {
                (**self).update_interaction(sys_id, plan).await
            }

            async fn delete_interaction(&self, sys_id: &SysId) -> Result<InteractionAggregate> {
                (**self).delete_interaction(sys_id).await
            }

            async fn load_interaction(&self, sys_id: &SysId) -> Result<Option<InteractionAggregate>> {
                (**self).load_interaction(sys_id).await
            }

            async fn add_user(&self, user: &User) -> Result<()> {
                (**self).add_user(user).await
            }

            async fn find_user(&self, user_name: &str) -> Result<Option<User>> {
                (**self).find_user(user_name).await
            }

            async fn find_users_by_sys_id(&self, sys_ids: &[SysId]) -> Result<Vec<User>> {
                (**self).find_users_by_sys_id(sys_ids).await
            }

            async fn has_users(&self) -> Result<bool> {
                (**self).has_users().await
            }

            async fn set_user_password(&self, user_name: &str, password_hash: &str) -> Result<()> {
                (**self).set_user_password(user_name, password_hash).await
            }

            async fn remove_user(&self, user_name: &str) -> Result<()> {
                (**self).remove_user(user_name).await
            }

            async fn add_oauth_client(&self, client: &OAuthClient) -> Result<()> {
                (**self).add_oauth_client(client).await
            }

            async fn find_oauth_client(&self, client_id: &str) -> Result<Option<OAuthClient>> {
                (**self).find_oauth_client(client_id).await
            }

            async fn add_oauth_token(&self, token: &OAuthToken) -> Result<()> {
                (**self).add_oauth_token(token).await
            }

            async fn find_oauth_token(&self, token_hash: &str) -> Result<Option<OAuthToken>> {
                (**self).find_oauth_token(token_hash).await
            }

            async fn prune_oauth_tokens(&self, now: i64) -> Result<u64> {
                (**self).prune_oauth_tokens(now).await
            }

            async fn add_provider_application(&self, app: &Record) -> Result<()> {
                (**self).add_provider_application(app).await
            }

            async fn find_provider_application(&self, inbound_id: &str) -> Result<Option<Record>> {
                (**self).find_provider_application(inbound_id).await
            }

            async fn read_record(
                &self,
                table: &'static Table,
                sys_id: &SysId,
            ) -> Result<Option<Record>> {
                (**self).read_record(table, sys_id).await
            }

            async fn query_records(&self, query: &TableQuery) -> Result<RecordPage> {
                (**self).query_records(query).await
            }

            async fn aggregate_records(
                &self,
                query: &AggregateQuery,
            ) -> Result<Vec<AggregateGroup>> {
                (**self).aggregate_records(query).await
            }

            async fn ping(&self) -> Result<()> {
                (**self).ping().await
            }

            async fn close(&self) {
                (**self).close().await
            }

            async fn export_interactions(
                &self,
                after: Option<&SysId>,
                limit: usize,
            ) -> Result<Vec<InteractionAggregate>> {
                (**self).export_interactions(after, limit).await
            }

            async fn export_provider_applications(
                &self,
                after: Option<&SysId>,
                limit: usize,
            ) -> Result<Vec<Record>> {
                (**self).export_provider_applications(after, limit).await
            }

            async fn export_users(&self, after: Option<&str>, limit: usize) -> Result<Vec<User>> {
                (**self).export_users(after, limit).await
            }

            async fn import(&self, batch: &ImportBatch) -> Result<()> {
                (**self).import(batch).await
            }

            async fn events_after(&self, after: u64, limit: usize) -> Result<EventPage> {
                (**self).events_after(after, limit).await
            }

            async fn prune_events(&self, keep: u64) -> Result<()> {
                (**self).prune_events(keep).await
            }

            fn record_gauges(&self) {
                (**self).record_gauges()
            }
        }
    )+};
}

forward_repository!(Arc, Box);

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::error::Error;
    use crate::schema::INTERACTION;

    /// Says which of its methods were called, in order, and does nothing else.
    #[derive(Debug, Default)]
    struct Probe(Mutex<Vec<&'static str>>);

    impl Probe {
        fn called(&self, name: &'static str) {
            self.0.lock().unwrap().push(name);
        }
    }

    #[async_trait]
    impl Repository for Probe {
        async fn create_interaction(&self, _: InteractionAggregate) -> Result<String> {
            self.called("create_interaction");
            Ok(String::new())
        }
        async fn update_interaction(
            &self,
            _: &SysId,
            _: Box<UpdatePlan>,
        ) -> Result<AggregateChange> {
            self.called("update_interaction");
            Err(Error::NotFound {
                what: "interaction",
            })
        }
        async fn delete_interaction(&self, _: &SysId) -> Result<InteractionAggregate> {
            self.called("delete_interaction");
            Err(Error::NotFound {
                what: "interaction",
            })
        }
        async fn load_interaction(&self, _: &SysId) -> Result<Option<InteractionAggregate>> {
            self.called("load_interaction");
            Ok(None)
        }
        async fn add_user(&self, _: &User) -> Result<()> {
            self.called("add_user");
            Ok(())
        }
        async fn find_user(&self, _: &str) -> Result<Option<User>> {
            self.called("find_user");
            Ok(None)
        }
        async fn find_users_by_sys_id(&self, _: &[SysId]) -> Result<Vec<User>> {
            self.called("find_users_by_sys_id");
            Ok(Vec::new())
        }
        async fn has_users(&self) -> Result<bool> {
            self.called("has_users");
            Ok(false)
        }
        async fn set_user_password(&self, _: &str, _: &str) -> Result<()> {
            self.called("set_user_password");
            Ok(())
        }
        async fn remove_user(&self, _: &str) -> Result<()> {
            self.called("remove_user");
            Ok(())
        }
        async fn add_oauth_client(&self, _: &OAuthClient) -> Result<()> {
            self.called("add_oauth_client");
            Ok(())
        }
        async fn find_oauth_client(&self, _: &str) -> Result<Option<OAuthClient>> {
            self.called("find_oauth_client");
            Ok(None)
        }
        async fn add_oauth_token(&self, _: &OAuthToken) -> Result<()> {
            self.called("add_oauth_token");
            Ok(())
        }
        async fn find_oauth_token(&self, _: &str) -> Result<Option<OAuthToken>> {
            self.called("find_oauth_token");
            Ok(None)
        }
        async fn prune_oauth_tokens(&self, _: i64) -> Result<u64> {
            self.called("prune_oauth_tokens");
            Ok(0)
        }
        async fn add_provider_application(&self, _: &Record) -> Result<()> {
            self.called("add_provider_application");
            Ok(())
        }
        async fn find_provider_application(&self, _: &str) -> Result<Option<Record>> {
            self.called("find_provider_application");
            Ok(None)
        }
        async fn read_record(&self, _: &'static Table, _: &SysId) -> Result<Option<Record>> {
            self.called("read_record");
            Ok(None)
        }
        async fn query_records(&self, _: &TableQuery) -> Result<RecordPage> {
            self.called("query_records");
            Ok(RecordPage {
                records: Vec::new(),
                total: 0,
            })
        }
        async fn aggregate_records(&self, _: &AggregateQuery) -> Result<Vec<AggregateGroup>> {
            self.called("aggregate_records");
            Ok(Vec::new())
        }
        async fn ping(&self) -> Result<()> {
            self.called("ping");
            Ok(())
        }
        async fn close(&self) {
            self.called("close");
        }
        async fn export_interactions(
            &self,
            _: Option<&SysId>,
            _: usize,
        ) -> Result<Vec<InteractionAggregate>> {
            self.called("export_interactions");
            Ok(Vec::new())
        }
        async fn export_provider_applications(
            &self,
            _: Option<&SysId>,
            _: usize,
        ) -> Result<Vec<Record>> {
            self.called("export_provider_applications");
            Ok(Vec::new())
        }
        async fn export_users(&self, _: Option<&str>, _: usize) -> Result<Vec<User>> {
            self.called("export_users");
            Ok(Vec::new())
        }
        async fn import(&self, _: &ImportBatch) -> Result<()> {
            self.called("import");
            Ok(())
        }
        async fn events_after(&self, _: u64, _: usize) -> Result<EventPage> {
            self.called("events_after");
            Ok(EventPage::default())
        }
        async fn prune_events(&self, _: u64) -> Result<()> {
            self.called("prune_events");
            Ok(())
        }
        fn record_gauges(&self) {
            self.called("record_gauges");
        }
    }

    /// Calls every method of `repo` once.
    async fn call_everything(repo: &dyn Repository) {
        let id = SysId::random();
        let aggregate = InteractionAggregate {
            interaction: Record::new(&INTERACTION),
            context: Default::default(),
            phone_logs: Vec::new(),
            related_records: Vec::new(),
        };
        let user = User {
            sys_id: id.clone(),
            user_name: "u".into(),
            name: String::new(),
            password_hash: String::new(),
            roles: Vec::new(),
        };
        let _ = repo.create_interaction(aggregate).await;
        let plan: Box<UpdatePlan> = Box::new(|_| Err(Error::invalid("x", "y")));
        let _ = repo.update_interaction(&id, plan).await;
        let _ = repo.delete_interaction(&id).await;
        let _ = repo.load_interaction(&id).await;
        let _ = repo.add_user(&user).await;
        let _ = repo.find_user("u").await;
        let _ = repo.find_users_by_sys_id(std::slice::from_ref(&id)).await;
        let _ = repo.has_users().await;
        let _ = repo.set_user_password("u", "h").await;
        let _ = repo.remove_user("u").await;
        let client = OAuthClient {
            client_id: "c".into(),
            name: "n".into(),
            secret_hash: String::new(),
            access_lifespan: 60,
            refresh_lifespan: 60,
        };
        let _ = repo.add_oauth_client(&client).await;
        let _ = repo.find_oauth_client("c").await;
        let token = OAuthToken {
            token_hash: "t".into(),
            kind: crate::oauth::TokenKind::Access,
            client_id: "c".into(),
            user_name: "u".into(),
            user_stamp: String::new(),
            expires_at: 0,
        };
        let _ = repo.add_oauth_token(&token).await;
        let _ = repo.find_oauth_token("t").await;
        let _ = repo.prune_oauth_tokens(0).await;
        let _ = repo
            .add_provider_application(&Record::new(&INTERACTION))
            .await;
        let _ = repo.find_provider_application("i").await;
        let _ = repo.read_record(&INTERACTION, &id).await;
        let _ = repo.query_records(&TableQuery::all(&INTERACTION)).await;
        let aggregate = AggregateQuery::parse(&INTERACTION, None, None, &[]).expect("a query");
        let _ = repo.aggregate_records(&aggregate).await;
        let _ = repo.ping().await;
        repo.close().await;
        let _ = repo.export_interactions(None, 1).await;
        let _ = repo.export_provider_applications(None, 1).await;
        let _ = repo.export_users(None, 1).await;
        let _ = repo.import(&ImportBatch::default()).await;
        let _ = repo.events_after(0, 1).await;
        let _ = repo.prune_events(1).await;
        repo.record_gauges();
    }

    #[tokio::test]
    async fn arc_and_box_forward_every_method() {
        let direct = Probe::default();
        call_everything(&direct).await;
        let every = direct.0.into_inner().unwrap();
        assert_eq!(every.len(), 29, "{every:?}");

        let probe = Arc::new(Probe::default());
        let wrapped: Box<Arc<Probe>> = Box::new(Arc::clone(&probe));
        call_everything(&wrapped).await;
        let as_dyn: Box<dyn Repository> = Box::new(Arc::clone(&probe) as Arc<dyn Repository>);
        call_everything(&as_dyn).await;
        let calls = probe.0.lock().unwrap().clone();
        assert_eq!(calls, [every.clone(), every].concat());
    }
}
