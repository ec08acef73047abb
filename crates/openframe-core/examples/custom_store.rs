//! A store written from scratch against [`Repository`], and the conformance suite run on it: what a third
//! party writes to plug its own storage into openframe.
//!
//! The store keeps everything in one mutex around ordered maps, with an index per uniqueness rule. It
//! leans on core for the rules every store shares: [`check_unique`] for an import's conflicts,
//! [`MemoryOutbox`] for event ids, the horizon and pruning, [`AggregateChange::apply_to`] for what an
//! update does, [`TableQuery::run_in_memory`] for queries (a store on a database would run them natively).
//!
//! `cargo test -p openframe-core --features conformance --example custom_store` runs the whole suite on it;
//! `cargo run -p openframe-core --features conformance --example custom_store` runs one test as a smoke
//! check.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use openframe_core::conformance::TestStore;
use openframe_core::event::{EventPage, InteractionEvent, MemoryOutbox};
use openframe_core::number::{FIRST_NUMBER, format_number};
use openframe_core::oauth::{OAuthClient, OAuthToken};
use openframe_core::portability::{ImportBatch, USER_TABLE};
use openframe_core::query::{RecordPage, TableQuery};
use openframe_core::schema::{self, Table, field};
use openframe_core::stats::{AggregateGroup, AggregateQuery};
use openframe_core::unique::{UniqueKey, check_unique};
use openframe_core::{
    AggregateChange, Conflict, Error, InteractionAggregate, Record, Repository, Result, SysId,
    UpdatePlan, User,
};

/// The store: every operation holds the one lock from start to end, which makes it atomic.
#[derive(Debug, Default)]
struct MapStore {
    state: Mutex<Tables>,
}

/// What the store holds. Maps are ordered, so the exports' keyset pages are ranges.
#[derive(Debug, Default)]
struct Tables {
    /// Interactions with everything that hangs off them, by sys_id.
    interactions: BTreeMap<SysId, InteractionAggregate>,
    /// Interaction numbers in use, to their interaction's sys_id.
    numbers: BTreeMap<String, SysId>,
    /// The interaction each phone log or related record belongs to, by (table name, sys_id).
    children: BTreeMap<(&'static str, String), SysId>,
    /// The counter value of the next number to hand out.
    next_number: u64,
    /// Users by name (byte-wise order, as exports want it).
    users: BTreeMap<String, User>,
    /// User sys_ids in use.
    user_ids: BTreeSet<String>,
    /// Provider applications by sys_id.
    providers: BTreeMap<String, Record>,
    /// Provider applications' `inbound_id`s, to their sys_id.
    inbound_ids: BTreeMap<String, String>,
    events: MemoryOutbox,
    /// OAuth clients by client_id.
    oauth_clients: BTreeMap<String, OAuthClient>,
    /// Issued OAuth tokens by the hash of the token.
    oauth_tokens: BTreeMap<String, OAuthToken>,
}

impl MapStore {
    fn tables(&self) -> MutexGuard<'_, Tables> {
        // Every write checks first and changes after, so a panic cannot leave half a write behind.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Tables {
    /// Whether the store holds `key`: the lookup [`check_unique`] asks for.
    fn holds(&self, key: &UniqueKey<'_>) -> bool {
        match *key {
            UniqueKey::UserName(name) => self.users.contains_key(name),
            UniqueKey::InboundId(inbound_id) => self.inbound_ids.contains_key(inbound_id),
            UniqueKey::Number(number) => self.numbers.contains_key(number),
            UniqueKey::SysId { table, sys_id } => match table {
                USER_TABLE => self.user_ids.contains(sys_id),
                _ if table == schema::INTERACTION.name => {
                    SysId::parse(sys_id).is_ok_and(|id| self.interactions.contains_key(&id))
                }
                _ if table == schema::PROVIDER_APPLICATION.name => {
                    self.providers.contains_key(sys_id)
                }
                _ => self.children.contains_key(&(table, sys_id.to_owned())),
            },
            // A kind of key this store does not know of: it keeps no such key.
            _ => false,
        }
    }

    /// Writes a whole aggregate whose keys were checked, with its number, and indexes it.
    fn insert(&mut self, sys_id: SysId, aggregate: InteractionAggregate) {
        let number = aggregate.interaction.get(field::NUMBER).to_owned();
        self.numbers.insert(number, sys_id.clone());
        for child in aggregate
            .phone_logs
            .iter()
            .chain(&aggregate.related_records)
        {
            self.index_child(child, &sys_id);
        }
        self.interactions.insert(sys_id, aggregate);
    }

    fn index_child(&mut self, child: &Record, owner: &SysId) {
        let key = (child.table().name, child.sys_id().to_owned());
        self.children.insert(key, owner.clone());
    }

    /// Every record of `table`, for queries.
    fn records(&self, table: &'static Table) -> Vec<&Record> {
        let aggregates = self.interactions.values();
        match table.name {
            name if name == schema::INTERACTION.name => {
                aggregates.map(|a| &a.interaction).collect()
            }
            name if name == schema::PHONE_LOG.name => {
                aggregates.flat_map(|a| &a.phone_logs).collect()
            }
            name if name == schema::RELATED_RECORD.name => {
                aggregates.flat_map(|a| &a.related_records).collect()
            }
            name if name == schema::PROVIDER_APPLICATION.name => self.providers.values().collect(),
            _ => Vec::new(),
        }
    }
}

/// The keys after `after` in `map`, in order, at most `limit`.
fn page_after<K: Ord, V: Clone>(map: &BTreeMap<K, V>, after: Option<&K>, limit: usize) -> Vec<V> {
    let start = after.map_or(Bound::Unbounded, Bound::Excluded);
    map.range((start, Bound::Unbounded))
        .take(limit)
        .map(|(_, v)| v.clone())
        .collect()
}

#[async_trait]
impl Repository for MapStore {
    async fn create_interaction(&self, mut new: InteractionAggregate) -> Result<String> {
        let sys_id = SysId::parse_field(new.interaction.sys_id(), field::SYS_ID)?;
        let mut tables = self.tables();
        // The interaction's sys_id and its children's must be free (the store assigns the number).
        check_unique(new.unique_keys(), |key| Ok(tables.holds(key)))?;
        let n = tables.next_number.max(FIRST_NUMBER);
        tables.next_number = n + 1;
        let number = format_number(n);
        new.interaction.set(field::NUMBER, number.as_str());
        tables.events.append(InteractionEvent::created(&new));
        tables.insert(sys_id, new);
        Ok(number)
    }

    async fn update_interaction(
        &self,
        sys_id: &SysId,
        plan: Box<UpdatePlan>,
    ) -> Result<AggregateChange> {
        let mut guard = self.tables();
        let tables = &mut *guard;
        let current = tables.interactions.get_mut(sys_id).ok_or(Error::NotFound {
            what: "interaction",
        })?;
        let change = plan(current)?;
        // A phone log with another interaction's log's sys_id, or a related record (always appended)
        // with a taken one, is a conflict; a log the interaction has is overwritten.
        let taken = |table: &'static str, sys_id: &str| Conflict::SysId {
            table,
            sys_id: sys_id.to_owned(),
        };
        for log in &change.phone_logs {
            let key = (log.table().name, log.sys_id().to_owned());
            if tables
                .children
                .get(&key)
                .is_some_and(|owner| owner != sys_id)
            {
                return Err(taken(key.0, &key.1).into());
            }
        }
        let mut appended = BTreeSet::new();
        for related in &change.related_records {
            let key = (related.table().name, related.sys_id().to_owned());
            if tables.children.contains_key(&key) || !appended.insert(key.1.clone()) {
                return Err(taken(key.0, &key.1).into());
            }
        }
        let event = InteractionEvent::updated(current, &change);
        change.apply_to(current);
        for child in change.phone_logs.iter().chain(&change.related_records) {
            tables.index_child(child, sys_id);
        }
        for (table, removed) in [
            (schema::PHONE_LOG.name, &change.removed.phone_logs),
            (schema::RELATED_RECORD.name, &change.removed.related_records),
        ] {
            for child in removed {
                tables.children.remove(&(table, child.clone()));
            }
        }
        tables.events.append(event);
        Ok(change)
    }

    async fn delete_interaction(&self, sys_id: &SysId) -> Result<InteractionAggregate> {
        let mut tables = self.tables();
        let deleted = tables.interactions.remove(sys_id).ok_or(Error::NotFound {
            what: "interaction",
        })?;
        // The number counter never moves back, so the deleted number is never given again.
        for child in deleted.phone_logs.iter().chain(&deleted.related_records) {
            let key = (child.table().name, child.sys_id().to_owned());
            tables.children.remove(&key);
        }
        tables.events.append(InteractionEvent::deleted(&deleted));
        Ok(deleted)
    }

    async fn load_interaction(&self, sys_id: &SysId) -> Result<Option<InteractionAggregate>> {
        Ok(self.tables().interactions.get(sys_id).cloned())
    }

    async fn add_user(&self, user: &User) -> Result<()> {
        let mut tables = self.tables();
        if tables.users.contains_key(&user.user_name) {
            let user_name = user.user_name.clone();
            return Err(Conflict::UserName { user_name }.into());
        }
        tables.user_ids.insert(user.sys_id.as_str().to_owned());
        tables.users.insert(user.user_name.clone(), user.clone());
        Ok(())
    }

    async fn find_user(&self, user_name: &str) -> Result<Option<User>> {
        Ok(self.tables().users.get(user_name).cloned())
    }

    async fn find_users_by_sys_id(&self, sys_ids: &[SysId]) -> Result<Vec<User>> {
        let tables = self.tables();
        Ok(tables
            .users
            .values()
            .filter(|u| sys_ids.contains(&u.sys_id))
            .cloned()
            .collect())
    }

    async fn has_users(&self) -> Result<bool> {
        Ok(!self.tables().users.is_empty())
    }

    async fn set_user_password(&self, user_name: &str, password_hash: &str) -> Result<()> {
        let mut tables = self.tables();
        let user = tables
            .users
            .get_mut(user_name)
            .ok_or(Error::NotFound { what: "user" })?;
        password_hash.clone_into(&mut user.password_hash);
        Ok(())
    }

    async fn remove_user(&self, user_name: &str) -> Result<()> {
        let mut tables = self.tables();
        let user = tables
            .users
            .remove(user_name)
            .ok_or(Error::NotFound { what: "user" })?;
        tables.user_ids.remove(user.sys_id.as_str());
        Ok(())
    }

    async fn add_oauth_client(&self, client: &OAuthClient) -> Result<()> {
        let mut tables = self.tables();
        if tables.oauth_clients.contains_key(&client.client_id) {
            return Err(Conflict::OAuthClientId {
                client_id: client.client_id.clone(),
            }
            .into());
        }
        tables
            .oauth_clients
            .insert(client.client_id.clone(), client.clone());
        Ok(())
    }

    async fn find_oauth_client(&self, client_id: &str) -> Result<Option<OAuthClient>> {
        Ok(self.tables().oauth_clients.get(client_id).cloned())
    }

    async fn add_oauth_token(&self, token: &OAuthToken) -> Result<()> {
        self.tables()
            .oauth_tokens
            .insert(token.token_hash.clone(), token.clone());
        Ok(())
    }

    async fn find_oauth_token(&self, token_hash: &str) -> Result<Option<OAuthToken>> {
        Ok(self.tables().oauth_tokens.get(token_hash).cloned())
    }

    async fn prune_oauth_tokens(&self, now: i64) -> Result<u64> {
        let mut tables = self.tables();
        let before = tables.oauth_tokens.len();
        tables.oauth_tokens.retain(|_, t| t.expires_at >= now);
        Ok((before - tables.oauth_tokens.len()) as u64)
    }

    async fn add_provider_application(&self, app: &Record) -> Result<()> {
        let inbound_id = app.get(field::INBOUND_ID).to_owned();
        let mut tables = self.tables();
        if tables.inbound_ids.contains_key(&inbound_id) {
            return Err(Conflict::InboundId { inbound_id }.into());
        }
        tables
            .inbound_ids
            .insert(inbound_id, app.sys_id().to_owned());
        tables
            .providers
            .insert(app.sys_id().to_owned(), app.clone());
        Ok(())
    }

    async fn find_provider_application(&self, inbound_id: &str) -> Result<Option<Record>> {
        let tables = self.tables();
        Ok(tables
            .inbound_ids
            .get(inbound_id)
            .and_then(|sys_id| tables.providers.get(sys_id))
            .cloned())
    }

    async fn read_record(&self, table: &'static Table, sys_id: &SysId) -> Result<Option<Record>> {
        let tables = self.tables();
        let found = if table.name == schema::INTERACTION.name {
            tables.interactions.get(sys_id).map(|a| &a.interaction)
        } else if table.name == schema::PROVIDER_APPLICATION.name {
            tables.providers.get(sys_id.as_str())
        } else {
            // A child: find its interaction through the index, then the record among its children.
            let key = (table.name, sys_id.as_str().to_owned());
            tables
                .children
                .get(&key)
                .and_then(|owner| tables.interactions.get(owner))
                .and_then(|a| {
                    a.phone_logs
                        .iter()
                        .chain(&a.related_records)
                        .find(|r| r.table() == table && r.sys_id() == sys_id.as_str())
                })
        };
        Ok(found.cloned())
    }

    async fn query_records(&self, query: &TableQuery) -> Result<RecordPage> {
        let tables = self.tables();
        Ok(query.run_in_memory(tables.records(query.table)))
    }

    async fn aggregate_records(&self, query: &AggregateQuery) -> Result<Vec<AggregateGroup>> {
        let tables = self.tables();
        Ok(query.run_in_memory(tables.records(query.query.table)))
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    async fn export_interactions(
        &self,
        after: Option<&SysId>,
        limit: usize,
    ) -> Result<Vec<InteractionAggregate>> {
        Ok(page_after(&self.tables().interactions, after, limit))
    }

    async fn export_provider_applications(
        &self,
        after: Option<&SysId>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        let after = after.map(|id| id.as_str().to_owned());
        Ok(page_after(&self.tables().providers, after.as_ref(), limit))
    }

    async fn export_users(&self, after: Option<&str>, limit: usize) -> Result<Vec<User>> {
        let after = after.map(str::to_owned);
        Ok(page_after(&self.tables().users, after.as_ref(), limit))
    }

    async fn import(&self, batch: &ImportBatch) -> Result<()> {
        batch.check()?;
        let highest = batch.highest_number()?;
        let mut tables = self.tables();
        // Every key of the batch, against the batch and the store, before anything is written.
        check_unique(batch.unique_keys(), |key| Ok(tables.holds(key)))?;
        for user in &batch.users {
            tables.user_ids.insert(user.sys_id.as_str().to_owned());
            tables.users.insert(user.user_name.clone(), user.clone());
        }
        for app in &batch.provider_applications {
            let sys_id = app.sys_id().to_owned();
            tables
                .inbound_ids
                .insert(app.get(field::INBOUND_ID).to_owned(), sys_id.clone());
            tables.providers.insert(sys_id, app.clone());
        }
        for a in &batch.interactions {
            let sys_id = SysId::parse_field(a.interaction.sys_id(), field::SYS_ID)?;
            tables.insert(sys_id, a.clone());
        }
        if let Some(highest) = highest {
            tables.next_number = tables.next_number.max(FIRST_NUMBER).max(highest + 1);
        }
        Ok(())
    }

    async fn events_after(&self, after: u64, limit: usize) -> Result<EventPage> {
        Ok(self.tables().events.events_after(after, limit))
    }

    async fn prune_events(&self, keep: u64) -> Result<()> {
        self.tables().events.prune(keep);
        Ok(())
    }
}

/// The suite's factory: a fresh, empty store per test.
async fn make_store() -> TestStore {
    TestStore::new(Arc::new(MapStore::default()))
}

// One #[test] per suite function, plus the model-based test, each on a fresh store.
openframe_core::conformance_tests!(make_store);

fn main() {
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            let store = make_store().await;
            openframe_core::conformance::updates_match_the_reference(&store.repo).await;
        });
    println!(
        "updates_match_the_reference passed; `cargo test --example custom_store` runs them all"
    );
}
