//! The suite catches a store with a planted bug, and says where in a few lines: a store that drops the
//! last phone log of every update must fail, naming the phone logs, without dumping whole aggregates.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use async_trait::async_trait;
use openframe_core::conformance::{self, TestStore};
use openframe_core::event::EventPage;
use openframe_core::oauth::{OAuthClient, OAuthToken};
use openframe_core::portability::ImportBatch;
use openframe_core::query::{RecordPage, TableQuery};
use openframe_core::schema::Table;
use openframe_core::stats::{AggregateGroup, AggregateQuery};
use openframe_core::{
    AggregateChange, InteractionAggregate, MemoryRepository, Record, Repository, Result, SysId,
    UpdatePlan, User,
};

/// The memory store, but an update writes (and returns) its change without the change's last phone log.
#[derive(Debug, Default)]
struct DropsLastLog(MemoryRepository);

#[async_trait]
impl Repository for DropsLastLog {
    async fn update_interaction(
        &self,
        sys_id: &SysId,
        plan: Box<UpdatePlan>,
    ) -> Result<AggregateChange> {
        let buggy: Box<UpdatePlan> = Box::new(move |current| {
            let mut change = plan(current)?;
            change.phone_logs.pop();
            Ok(change)
        });
        self.0.update_interaction(sys_id, buggy).await
    }

    // Everything else as the memory store does it.

    async fn create_interaction(&self, new: InteractionAggregate) -> Result<String> {
        self.0.create_interaction(new).await
    }
    async fn delete_interaction(&self, sys_id: &SysId) -> Result<InteractionAggregate> {
        self.0.delete_interaction(sys_id).await
    }
    async fn load_interaction(&self, sys_id: &SysId) -> Result<Option<InteractionAggregate>> {
        self.0.load_interaction(sys_id).await
    }
    async fn add_user(&self, user: &User) -> Result<()> {
        self.0.add_user(user).await
    }
    async fn find_user(&self, user_name: &str) -> Result<Option<User>> {
        self.0.find_user(user_name).await
    }
    async fn find_users_by_sys_id(&self, sys_ids: &[SysId]) -> Result<Vec<User>> {
        self.0.find_users_by_sys_id(sys_ids).await
    }
    async fn has_users(&self) -> Result<bool> {
        self.0.has_users().await
    }
    async fn set_user_password(&self, user_name: &str, password_hash: &str) -> Result<()> {
        self.0.set_user_password(user_name, password_hash).await
    }
    async fn remove_user(&self, user_name: &str) -> Result<()> {
        self.0.remove_user(user_name).await
    }
    async fn add_oauth_client(&self, client: &OAuthClient) -> Result<()> {
        self.0.add_oauth_client(client).await
    }
    async fn find_oauth_client(&self, client_id: &str) -> Result<Option<OAuthClient>> {
        self.0.find_oauth_client(client_id).await
    }
    async fn add_oauth_token(&self, token: &OAuthToken) -> Result<()> {
        self.0.add_oauth_token(token).await
    }
    async fn find_oauth_token(&self, token_hash: &str) -> Result<Option<OAuthToken>> {
        self.0.find_oauth_token(token_hash).await
    }
    async fn prune_oauth_tokens(&self, now: i64) -> Result<u64> {
        self.0.prune_oauth_tokens(now).await
    }
    async fn add_provider_application(&self, app: &Record) -> Result<()> {
        self.0.add_provider_application(app).await
    }
    async fn find_provider_application(&self, inbound_id: &str) -> Result<Option<Record>> {
        self.0.find_provider_application(inbound_id).await
    }
    async fn read_record(&self, table: &'static Table, sys_id: &SysId) -> Result<Option<Record>> {
        self.0.read_record(table, sys_id).await
    }
    async fn query_records(&self, query: &TableQuery) -> Result<RecordPage> {
        self.0.query_records(query).await
    }
    async fn aggregate_records(&self, query: &AggregateQuery) -> Result<Vec<AggregateGroup>> {
        self.0.aggregate_records(query).await
    }
    async fn ping(&self) -> Result<()> {
        self.0.ping().await
    }
    async fn export_interactions(
        &self,
        after: Option<&SysId>,
        limit: usize,
    ) -> Result<Vec<InteractionAggregate>> {
        self.0.export_interactions(after, limit).await
    }
    async fn export_provider_applications(
        &self,
        after: Option<&SysId>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        self.0.export_provider_applications(after, limit).await
    }
    async fn export_users(&self, after: Option<&str>, limit: usize) -> Result<Vec<User>> {
        self.0.export_users(after, limit).await
    }
    async fn import(&self, batch: &ImportBatch) -> Result<()> {
        self.0.import(batch).await
    }
    async fn events_after(&self, after: u64, limit: usize) -> Result<EventPage> {
        self.0.events_after(after, limit).await
    }
    async fn prune_events(&self, keep: u64) -> Result<()> {
        self.0.prune_events(keep).await
    }
}

fn buggy() -> Arc<dyn Repository> {
    Arc::new(DropsLastLog::default())
}

async fn make_buggy() -> TestStore {
    TestStore::new(buggy())
}

/// The message `test` panics with; fails if it does not panic.
fn panic_message(test: impl std::future::Future<Output = ()>) -> String {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let payload = catch_unwind(AssertUnwindSafe(|| runtime.block_on(test)))
        .expect_err("the suite must fail on a store that drops the last phone log of an update");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .expect("a text panic message")
}

/// The message names the phone logs and is a few lines, not a dump.
fn assert_short_and_pointed(message: &str, max_lines: usize, max_bytes: usize) {
    assert!(
        message.contains("phone_logs"),
        "the message must name the phone logs:\n{message}"
    );
    let lines = message.lines().count();
    assert!(
        lines <= max_lines && message.len() <= max_bytes,
        "the message must be short ({lines} lines, {} bytes):\n{message}",
        message.len()
    );
}

#[test]
fn updates_match_the_reference_fails_naming_the_phone_logs() {
    let message = panic_message(async {
        conformance::updates_match_the_reference(&buggy()).await;
    });
    assert_short_and_pointed(&message, 6, 720);
    assert!(
        message.contains("change.phone_logs: got "),
        "the returned change's logs: {message}"
    );
}

#[test]
fn phone_logs_keep_creation_order_fails_too() {
    let message = panic_message(async {
        conformance::phone_logs_keep_creation_order(&buggy()).await;
    });
    assert_short_and_pointed(&message, 6, 720);
}

#[test]
fn model_based_fails_naming_the_phone_logs() {
    let message = panic_message(async {
        conformance::model_based(make_buggy, 16).await;
    });
    assert!(
        message.contains("model-based conformance failed"),
        "{message}"
    );
    // The smallest sequence (a create and an update that adds a log, each body cut to a line) and where the
    // store parted.
    assert_short_and_pointed(&message, 12, 3000);
}
