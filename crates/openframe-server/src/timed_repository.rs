//! A `Repository` decorator that times every call of the store it wraps into
//! [`STORE_OPERATION_DURATION`](crate::prometheus::STORE_OPERATION_DURATION), by operation and outcome.
//! `serve` wraps its store in it; the stores themselves stay free of any HTTP concern.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use openframe_core::aggregate::{AggregateChange, InteractionAggregate};
use openframe_core::event::EventPage;
use openframe_core::oauth::{OAuthClient, OAuthToken};
use openframe_core::portability::ImportBatch;
use openframe_core::query::{RecordPage, TableQuery};
use openframe_core::schema::Table;
use openframe_core::stats::{AggregateGroup, AggregateQuery};
use openframe_core::{Error, Record, Repository, Result, SysId, UpdatePlan, User};

use crate::prometheus::STORE_OPERATION_DURATION;

/// A store whose every operation is timed.
#[derive(Debug)]
pub struct TimedRepository {
    inner: Arc<dyn Repository>,
}

impl TimedRepository {
    /// Times the operations of `inner`.
    pub fn new(inner: Arc<dyn Repository>) -> Self {
        TimedRepository { inner }
    }
}

/// Runs `call`, recording how long it took under `operation` and its outcome.
async fn timed<T>(operation: &'static str, call: impl Future<Output = Result<T>>) -> Result<T> {
    let started = Instant::now();
    let result = call.await;
    metrics::histogram!(
        STORE_OPERATION_DURATION,
        "operation" => operation,
        "outcome" => outcome(&result),
    )
    .record(started.elapsed().as_secs_f64());
    result
}

/// The outcome label: `ok` or the error's kind, never its text.
fn outcome<T>(result: &Result<T>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(Error::Invalid { .. }) => "invalid",
        Err(Error::NotFound { .. }) => "not_found",
        Err(Error::Conflict { .. }) => "conflict",
        Err(Error::Unavailable { .. }) => "unavailable",
        Err(Error::Internal { .. }) => "internal",
        Err(_) => "other",
    }
}

#[async_trait]
impl Repository for TimedRepository {
    async fn create_interaction(&self, new: InteractionAggregate) -> Result<String> {
        timed("create_interaction", self.inner.create_interaction(new)).await
    }

    async fn update_interaction(
        &self,
        sys_id: &SysId,
        plan: Box<UpdatePlan>,
    ) -> Result<AggregateChange> {
        timed(
            "update_interaction",
            self.inner.update_interaction(sys_id, plan),
        )
        .await
    }

    async fn delete_interaction(&self, sys_id: &SysId) -> Result<InteractionAggregate> {
        timed("delete_interaction", self.inner.delete_interaction(sys_id)).await
    }

    async fn load_interaction(&self, sys_id: &SysId) -> Result<Option<InteractionAggregate>> {
        timed("load_interaction", self.inner.load_interaction(sys_id)).await
    }

    async fn add_user(&self, user: &User) -> Result<()> {
        timed("add_user", self.inner.add_user(user)).await
    }

    async fn find_user(&self, user_name: &str) -> Result<Option<User>> {
        timed("find_user", self.inner.find_user(user_name)).await
    }

    async fn find_users_by_sys_id(&self, sys_ids: &[SysId]) -> Result<Vec<User>> {
        timed(
            "find_users_by_sys_id",
            self.inner.find_users_by_sys_id(sys_ids),
        )
        .await
    }

    async fn has_users(&self) -> Result<bool> {
        timed("has_users", self.inner.has_users()).await
    }

    async fn set_user_password(&self, user_name: &str, password_hash: &str) -> Result<()> {
        timed(
            "set_user_password",
            self.inner.set_user_password(user_name, password_hash),
        )
        .await
    }

    async fn remove_user(&self, user_name: &str) -> Result<()> {
        timed("remove_user", self.inner.remove_user(user_name)).await
    }

    async fn add_oauth_client(&self, client: &OAuthClient) -> Result<()> {
        timed("add_oauth_client", self.inner.add_oauth_client(client)).await
    }

    async fn find_oauth_client(&self, client_id: &str) -> Result<Option<OAuthClient>> {
        timed("find_oauth_client", self.inner.find_oauth_client(client_id)).await
    }

    async fn add_oauth_token(&self, token: &OAuthToken) -> Result<()> {
        timed("add_oauth_token", self.inner.add_oauth_token(token)).await
    }

    async fn find_oauth_token(&self, token_hash: &str) -> Result<Option<OAuthToken>> {
        timed("find_oauth_token", self.inner.find_oauth_token(token_hash)).await
    }

    async fn prune_oauth_tokens(&self, now: i64) -> Result<u64> {
        timed("prune_oauth_tokens", self.inner.prune_oauth_tokens(now)).await
    }

    async fn add_provider_application(&self, app: &Record) -> Result<()> {
        timed(
            "add_provider_application",
            self.inner.add_provider_application(app),
        )
        .await
    }

    async fn find_provider_application(&self, inbound_id: &str) -> Result<Option<Record>> {
        timed(
            "find_provider_application",
            self.inner.find_provider_application(inbound_id),
        )
        .await
    }

    async fn read_record(&self, table: &'static Table, sys_id: &SysId) -> Result<Option<Record>> {
        timed("read_record", self.inner.read_record(table, sys_id)).await
    }

    async fn query_records(&self, query: &TableQuery) -> Result<RecordPage> {
        timed("query_records", self.inner.query_records(query)).await
    }

    async fn aggregate_records(&self, query: &AggregateQuery) -> Result<Vec<AggregateGroup>> {
        timed("aggregate_records", self.inner.aggregate_records(query)).await
    }

    async fn ping(&self) -> Result<()> {
        timed("ping", self.inner.ping()).await
    }

    async fn export_interactions(
        &self,
        after: Option<&SysId>,
        limit: usize,
    ) -> Result<Vec<InteractionAggregate>> {
        timed(
            "export_interactions",
            self.inner.export_interactions(after, limit),
        )
        .await
    }

    async fn export_provider_applications(
        &self,
        after: Option<&SysId>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        timed(
            "export_provider_applications",
            self.inner.export_provider_applications(after, limit),
        )
        .await
    }

    async fn export_users(&self, after: Option<&str>, limit: usize) -> Result<Vec<User>> {
        timed("export_users", self.inner.export_users(after, limit)).await
    }

    async fn import(&self, batch: &ImportBatch) -> Result<()> {
        timed("import", self.inner.import(batch)).await
    }

    async fn events_after(&self, after: u64, limit: usize) -> Result<EventPage> {
        timed("events_after", self.inner.events_after(after, limit)).await
    }

    async fn prune_events(&self, keep: u64) -> Result<()> {
        timed("prune_events", self.inner.prune_events(keep)).await
    }

    async fn close(&self) {
        self.inner.close().await;
    }

    fn record_gauges(&self) {
        self.inner.record_gauges();
    }
}
