//! The in-memory repository: the reference model every store is compared with, and `memory://` for tests.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::aggregate::{AggregateChange, InteractionAggregate};
use crate::error::{Conflict, Error, Result};
use crate::event::{EventPage, InteractionEvent, MemoryOutbox};
use crate::number::{FIRST_NUMBER, format_number};
use crate::oauth::{OAuthClient, OAuthToken};
use crate::portability::ImportBatch;
use crate::query::{RecordPage, TableQuery};
use crate::record::Record;
use crate::repository::{Repository, UpdatePlan};
use crate::schema::{self, Table, field};
use crate::stats::{AggregateGroup, AggregateQuery};
use crate::sys_id::SysId;
use crate::unique::{UniqueKey, check_unique};
use crate::user::User;

/// Everything in one mutex: each operation is atomic because it holds the lock throughout, and none awaits
/// while holding it.
#[derive(Debug, Default)]
pub struct MemoryRepository {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    interactions: HashMap<SysId, InteractionAggregate>,
    next_number: Option<u64>,
    users: HashMap<String, User>,
    providers: HashMap<String, Record>,
    /// The interaction each phone log and related record belongs to, by (table name, sys_id).
    /// The interaction each phone log and related record belongs to, by table, then by sys_id; sys_ids as
    /// the 128-bit numbers their 32 hex digits spell, so that the index allocates nothing per record.
    children: HashMap<&'static str, HashMap<u128, u128>>,
    events: MemoryOutbox,
    oauth_clients: HashMap<String, OAuthClient>,
    oauth_tokens: HashMap<String, OAuthToken>,
}

/// A sys_id's 32 hex digits as the number they spell; `None` for what is no sys_id.
fn number(sys_id: &str) -> Option<u128> {
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if sys_id.len() == 32 && sys_id.bytes().all(hex) {
        u128::from_str_radix(sys_id, 16).ok()
    } else {
        None
    }
}

impl State {
    /// Whether a record (an interaction, a phone log or related record) has the sys_id `key` names.
    fn holds_record(&self, key: &UniqueKey<'_>) -> bool {
        match *key {
            UniqueKey::SysId { table, sys_id } if table == schema::INTERACTION.name => {
                SysId::parse(sys_id).is_ok_and(|id| self.interactions.contains_key(&id))
            }
            UniqueKey::SysId { table, sys_id } => self.child_owner(table, sys_id).is_some(),
            _ => false,
        }
    }

    /// The interaction that holds the `table` record `sys_id`, if any (as [`number`]).
    fn child_owner(&self, table: &str, sys_id: &str) -> Option<u128> {
        self.children.get(table)?.get(&number(sys_id)?).copied()
    }

    /// Indexes `records`, children of interaction `owner`.
    fn index_children<'a>(&mut self, owner: &SysId, records: impl IntoIterator<Item = &'a Record>) {
        let Some(owner) = number(owner.as_str()) else {
            return;
        };
        for r in records {
            // Every stored record's sys_id passed the sys_id rule, so it has a number.
            if let Some(id) = number(r.sys_id()) {
                self.children
                    .entry(r.table().name)
                    .or_default()
                    .insert(id, owner);
            }
        }
    }

    /// Forgets the `table` children with these sys_ids.
    fn unindex_children<'a>(&mut self, table: &str, sys_ids: impl IntoIterator<Item = &'a String>) {
        if let Some(index) = self.children.get_mut(table) {
            for id in sys_ids.into_iter().filter_map(|s| number(s)) {
                index.remove(&id);
            }
        }
    }

    /// The conflict, if any, of writing `change` to interaction `owner`: a new phone log whose sys_id
    /// another interaction's log has, or a related record (always appended) whose sys_id is taken.
    fn check_change(&self, owner: &SysId, change: &AggregateChange) -> Result<()> {
        let mut appended = HashSet::new();
        let taken = |r: &Record| Conflict::SysId {
            table: r.table().name,
            sys_id: r.sys_id().to_owned(),
        };
        let owner = number(owner.as_str());
        for r in &change.phone_logs {
            if self
                .child_owner(r.table().name, r.sys_id())
                .is_some_and(|o| Some(o) != owner)
            {
                return Err(taken(r).into());
            }
        }
        for r in &change.related_records {
            if self.child_owner(r.table().name, r.sys_id()).is_some()
                || !appended.insert(r.sys_id())
            {
                return Err(taken(r).into());
            }
        }
        Ok(())
    }

    /// Every record of `table`.
    fn records<'a>(&'a self, table: &'static Table) -> Box<dyn Iterator<Item = &'a Record> + 'a> {
        let aggregates = self.interactions.values();
        if table == &schema::INTERACTION {
            Box::new(aggregates.map(|a| &a.interaction))
        } else if table == &schema::PHONE_LOG {
            Box::new(aggregates.flat_map(|a| a.phone_logs.iter()))
        } else if table == &schema::RELATED_RECORD {
            Box::new(aggregates.flat_map(|a| a.related_records.iter()))
        } else if table == &schema::PROVIDER_APPLICATION {
            Box::new(self.providers.values())
        } else {
            Box::new(std::iter::empty())
        }
    }
}

impl MemoryRepository {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied write (every write is built first, then
        // inserted), so a poisoned lock is still consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Repository for MemoryRepository {
    async fn create_interaction(&self, mut new: InteractionAggregate) -> Result<String> {
        let sys_id = SysId::parse_field(new.interaction.sys_id(), "sys_id")?;
        let mut state = self.state();
        check_unique(new.unique_keys(), |key| Ok(state.holds_record(key)))?;
        let n = state.next_number.unwrap_or(FIRST_NUMBER);
        state.next_number = Some(n + 1);
        let number = format_number(n);
        new.interaction.set(field::NUMBER, number.as_str());
        state.events.append(InteractionEvent::created(&new));
        state.index_children(&sys_id, new.phone_logs.iter().chain(&new.related_records));
        state.interactions.insert(sys_id, new);
        Ok(number)
    }

    async fn update_interaction(
        &self,
        sys_id: &SysId,
        plan: Box<UpdatePlan>,
    ) -> Result<AggregateChange> {
        let mut guard = self.state();
        let state = &mut *guard;
        let current = state.interactions.get(sys_id).ok_or(Error::NotFound {
            what: "interaction",
        })?;
        let change = plan(current)?;
        state.check_change(sys_id, &change)?;
        let event = InteractionEvent::updated(current, &change);
        if let Some(current) = state.interactions.get_mut(sys_id) {
            change.apply_to(current);
        }
        state.index_children(
            sys_id,
            change.phone_logs.iter().chain(&change.related_records),
        );
        state.unindex_children(schema::PHONE_LOG.name, &change.removed.phone_logs);
        state.unindex_children(schema::RELATED_RECORD.name, &change.removed.related_records);
        state.events.append(event);
        Ok(change)
    }

    async fn delete_interaction(&self, sys_id: &SysId) -> Result<InteractionAggregate> {
        let mut state = self.state();
        let deleted = state.interactions.remove(sys_id).ok_or(Error::NotFound {
            what: "interaction",
        })?;
        let sys_ids = |records: &[Record]| -> Vec<String> {
            records.iter().map(|r| r.sys_id().to_owned()).collect()
        };
        state.unindex_children(schema::PHONE_LOG.name, &sys_ids(&deleted.phone_logs));
        state.unindex_children(
            schema::RELATED_RECORD.name,
            &sys_ids(&deleted.related_records),
        );
        state.events.append(InteractionEvent::deleted(&deleted));
        Ok(deleted)
    }

    async fn load_interaction(&self, sys_id: &SysId) -> Result<Option<InteractionAggregate>> {
        Ok(self.state().interactions.get(sys_id).cloned())
    }

    async fn add_user(&self, user: &User) -> Result<()> {
        let mut state = self.state();
        if state.users.contains_key(&user.user_name) {
            return Err(Conflict::UserName {
                user_name: user.user_name.clone(),
            }
            .into());
        }
        state.users.insert(user.user_name.clone(), user.clone());
        Ok(())
    }

    async fn find_user(&self, user_name: &str) -> Result<Option<User>> {
        Ok(self.state().users.get(user_name).cloned())
    }

    async fn find_users_by_sys_id(&self, sys_ids: &[SysId]) -> Result<Vec<User>> {
        let wanted: std::collections::HashSet<&SysId> = sys_ids.iter().collect();
        Ok(self
            .state()
            .users
            .values()
            .filter(|u| wanted.contains(&u.sys_id))
            .cloned()
            .collect())
    }

    async fn has_users(&self) -> Result<bool> {
        Ok(!self.state().users.is_empty())
    }

    async fn set_user_password(&self, user_name: &str, password_hash: &str) -> Result<()> {
        let mut state = self.state();
        let user = state
            .users
            .get_mut(user_name)
            .ok_or(Error::NotFound { what: "user" })?;
        password_hash.clone_into(&mut user.password_hash);
        Ok(())
    }

    async fn remove_user(&self, user_name: &str) -> Result<()> {
        match self.state().users.remove(user_name) {
            Some(_) => Ok(()),
            None => Err(Error::NotFound { what: "user" }),
        }
    }

    async fn add_oauth_client(&self, client: &OAuthClient) -> Result<()> {
        let mut state = self.state();
        if state.oauth_clients.contains_key(&client.client_id) {
            return Err(Conflict::OAuthClientId {
                client_id: client.client_id.clone(),
            }
            .into());
        }
        state
            .oauth_clients
            .insert(client.client_id.clone(), client.clone());
        Ok(())
    }

    async fn find_oauth_client(&self, client_id: &str) -> Result<Option<OAuthClient>> {
        Ok(self.state().oauth_clients.get(client_id).cloned())
    }

    async fn add_oauth_token(&self, token: &OAuthToken) -> Result<()> {
        self.state()
            .oauth_tokens
            .insert(token.token_hash.clone(), token.clone());
        Ok(())
    }

    async fn find_oauth_token(&self, token_hash: &str) -> Result<Option<OAuthToken>> {
        Ok(self.state().oauth_tokens.get(token_hash).cloned())
    }

    async fn prune_oauth_tokens(&self, now: i64) -> Result<u64> {
        let mut state = self.state();
        let before = state.oauth_tokens.len();
        state.oauth_tokens.retain(|_, t| t.expires_at >= now);
        Ok((before - state.oauth_tokens.len()) as u64)
    }

    async fn add_provider_application(&self, app: &Record) -> Result<()> {
        let inbound_id = app.get(field::INBOUND_ID);
        let mut state = self.state();
        if state.providers.contains_key(inbound_id) {
            return Err(Conflict::InboundId {
                inbound_id: inbound_id.to_owned(),
            }
            .into());
        }
        state.providers.insert(inbound_id.to_owned(), app.clone());
        Ok(())
    }

    async fn find_provider_application(&self, inbound_id: &str) -> Result<Option<Record>> {
        Ok(self.state().providers.get(inbound_id).cloned())
    }

    async fn read_record(&self, table: &'static Table, sys_id: &SysId) -> Result<Option<Record>> {
        let state = self.state();
        let found = state
            .records(table)
            .find(|r| r.sys_id() == sys_id.as_str())
            .cloned();
        Ok(found)
    }

    async fn query_records(&self, query: &TableQuery) -> Result<RecordPage> {
        // The reference model scans: it is the semantics other stores are compared with, not a fast path.
        let state = self.state();
        Ok(query.run_in_memory(state.records(query.table)))
    }

    async fn aggregate_records(&self, query: &AggregateQuery) -> Result<Vec<AggregateGroup>> {
        // The reference computation, over every record of the table.
        let state = self.state();
        Ok(query.run_in_memory(state.records(query.query.table)))
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    // The reference model sorts on every page: simple rather than fast, like `query_records`.

    async fn export_interactions(
        &self,
        after: Option<&SysId>,
        limit: usize,
    ) -> Result<Vec<InteractionAggregate>> {
        let state = self.state();
        let mut ids: Vec<&SysId> = state
            .interactions
            .keys()
            .filter(|id| after.is_none_or(|after| *id > after))
            .collect();
        ids.sort();
        Ok(ids
            .into_iter()
            .take(limit)
            .filter_map(|id| state.interactions.get(id).cloned())
            .collect())
    }

    async fn export_provider_applications(
        &self,
        after: Option<&SysId>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        let state = self.state();
        let mut apps: Vec<&Record> = state
            .providers
            .values()
            .filter(|app| after.is_none_or(|after| app.sys_id() > after.as_str()))
            .collect();
        apps.sort_by(|a, b| a.sys_id().cmp(b.sys_id()));
        Ok(apps.into_iter().take(limit).cloned().collect())
    }

    async fn export_users(&self, after: Option<&str>, limit: usize) -> Result<Vec<User>> {
        let state = self.state();
        let mut users: Vec<&User> = state
            .users
            .values()
            .filter(|u| after.is_none_or(|after| u.user_name.as_str() > after))
            .collect();
        users.sort_by(|a, b| a.user_name.cmp(&b.user_name));
        Ok(users.into_iter().take(limit).cloned().collect())
    }

    async fn import(&self, batch: &ImportBatch) -> Result<()> {
        batch.check()?;
        let highest = batch.highest_number()?;
        let mut state = self.state();
        check_import_conflicts(&state, batch)?;
        // Checked in full above, so these inserts cannot half-happen.
        for user in &batch.users {
            state.users.insert(user.user_name.clone(), user.clone());
        }
        for app in &batch.provider_applications {
            state
                .providers
                .insert(app.get(field::INBOUND_ID).to_owned(), app.clone());
        }
        for a in &batch.interactions {
            let sys_id = SysId::parse_field(a.interaction.sys_id(), field::SYS_ID)?;
            state.index_children(&sys_id, a.phone_logs.iter().chain(&a.related_records));
            state.interactions.insert(sys_id, a.clone());
        }
        if let Some(highest) = highest {
            let next = state.next_number.unwrap_or(FIRST_NUMBER).max(highest + 1);
            state.next_number = Some(next);
        }
        Ok(())
    }

    async fn events_after(&self, after: u64, limit: usize) -> Result<EventPage> {
        Ok(self.state().events.events_after(after, limit))
    }

    async fn prune_events(&self, keep: u64) -> Result<()> {
        self.state().events.prune(keep);
        Ok(())
    }
}

/// The conflict, if any, that importing `batch` into `state` would cause: [`check_unique`] over the batch's
/// keys, with the store's keys gathered once.
fn check_import_conflicts(state: &State, batch: &ImportBatch) -> Result<()> {
    let mut sys_ids: HashSet<(&str, &str)> = HashSet::new();
    sys_ids.extend(
        state
            .providers
            .values()
            .map(|app| (schema::PROVIDER_APPLICATION.name, app.sys_id())),
    );
    sys_ids.extend(
        state
            .users
            .values()
            .map(|u| (crate::portability::USER_TABLE, u.sys_id.as_str())),
    );
    let numbers: HashSet<&str> = state
        .interactions
        .values()
        .map(|a| a.interaction.get(field::NUMBER))
        .collect();
    check_unique(batch.unique_keys(), |key| {
        Ok(match *key {
            UniqueKey::UserName(name) => state.users.contains_key(name),
            UniqueKey::InboundId(inbound_id) => state.providers.contains_key(inbound_id),
            UniqueKey::SysId { table, sys_id } => {
                state.holds_record(key) || sys_ids.contains(&(table, sys_id))
            }
            UniqueKey::Number(number) => numbers.contains(number),
        })
    })
}
