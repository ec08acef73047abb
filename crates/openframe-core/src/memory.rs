//! The in-memory repository: the reference model every store is compared with, and `memory://` for tests.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::aggregate::{AggregateChange, InteractionAggregate};
use crate::error::{Error, Result};
use crate::number::{FIRST_NUMBER, format_number};
use crate::query::{RecordPage, TableQuery};
use crate::record::Record;
use crate::repository::{Repository, UpdatePlan};
use crate::schema::{self, Table, field};
use crate::sys_id::SysId;
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
}

impl State {
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
        if state.interactions.contains_key(&sys_id) {
            return Err(Error::Conflict {
                detail: format!("interaction {sys_id} exists"),
            });
        }
        let n = state.next_number.unwrap_or(FIRST_NUMBER);
        state.next_number = Some(n + 1);
        let number = format_number(n);
        new.interaction.set(field::NUMBER, number.as_str());
        state.interactions.insert(sys_id, new);
        Ok(number)
    }

    async fn update_interaction(
        &self,
        sys_id: &SysId,
        plan: Box<UpdatePlan>,
    ) -> Result<AggregateChange> {
        let mut state = self.state();
        let current = state.interactions.get_mut(sys_id).ok_or(Error::NotFound {
            what: "interaction",
        })?;
        let change = plan(current)?;
        change.apply_to(current);
        Ok(change)
    }

    async fn load_interaction(&self, sys_id: &SysId) -> Result<Option<InteractionAggregate>> {
        Ok(self.state().interactions.get(sys_id).cloned())
    }

    async fn add_user(&self, user: &User) -> Result<()> {
        let mut state = self.state();
        if state.users.contains_key(&user.user_name) {
            return Err(Error::Conflict {
                detail: format!("user {} already exists", user.user_name),
            });
        }
        state.users.insert(user.user_name.clone(), user.clone());
        Ok(())
    }

    async fn find_user(&self, user_name: &str) -> Result<Option<User>> {
        Ok(self.state().users.get(user_name).cloned())
    }

    async fn has_users(&self) -> Result<bool> {
        Ok(!self.state().users.is_empty())
    }

    async fn add_provider_application(&self, app: &Record) -> Result<()> {
        let inbound_id = app.get(field::INBOUND_ID);
        let mut state = self.state();
        if state.providers.contains_key(inbound_id) {
            return Err(Error::Conflict {
                detail: format!(
                    "a provider application with inbound_id {inbound_id} already exists"
                ),
            });
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

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}
