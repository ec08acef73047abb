//! Create, update and read: the business rules of CONTRACT §3-§5, run against any [`Repository`].

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::{Arc, PoisonError, RwLock};

use crate::aggregate::{AggregateChange, Context, InteractionAggregate};
use crate::datetime::DateTime;
use crate::error::{Error, Result};
use crate::limits::{
    MAX_CONTEXT_KEYS, MAX_PHONE_LOGS_PER_INTERACTION, MAX_RELATED_RECORDS_PER_INTERACTION,
};
use crate::record::Record;
use crate::repository::Repository;
use crate::request::{FieldValues, PhoneLogEntry, VoiceInteractionRequest};
use crate::schema::{
    self, INTERACTION, PHONE_LOG, PHONE_LOG as LOG, RELATED_RECORD, field, is_closed_state,
};
use crate::sys_id::SysId;

mod table;

/// The clock and the sys_id source. Real servers use [`SystemEnvironment`]; tests use a deterministic one so
/// that two stores given the same requests end in the same state.
pub trait Environment: Debug + Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime;
    /// A fresh sys_id.
    fn new_sys_id(&self) -> SysId;
}

/// The wall clock and time-ordered sys_ids ([`SysId::time_ordered`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemEnvironment;

impl Environment for SystemEnvironment {
    fn now(&self) -> DateTime {
        DateTime::now()
    }
    fn new_sys_id(&self) -> SysId {
        SysId::time_ordered()
    }
}

/// The authenticated user a request acts for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The user's sys_id: the default `opened_by`, `agent` and `closed_by`.
    pub sys_id: SysId,
    /// The user's name: what `sys_created_by`/`sys_updated_by` record.
    pub user_name: String,
}

/// What a create returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    /// The new interaction's sys_id.
    pub sys_id: SysId,
    /// Its number, `IMS…`.
    pub number: String,
}

/// Told after each write the service commits, so that live readers (an event stream's pump) look at the
/// store's outbox at once instead of at their next poll.
///
/// Called on the task that made the write, after the store committed it: it must return quickly (wake a
/// task, set a flag), never wait.
pub trait CommitListener: Debug + Send + Sync + 'static {
    /// A write committed: the store's outbox holds its event.
    fn committed(&self);
}

/// The voice-interaction service: the only way requests reach a repository.
///
/// Clones share the repository, the environment and the [commit listeners](Service::notify_commits_to).
#[derive(Clone, Debug)]
pub struct Service {
    repo: Arc<dyn Repository>,
    env: Arc<dyn Environment>,
    listeners: Arc<RwLock<Vec<Arc<dyn CommitListener>>>>,
}

impl Service {
    /// A service on `repo` with the wall clock and random sys_ids.
    pub fn new(repo: Arc<dyn Repository>) -> Self {
        Service::with_environment(repo, Arc::new(SystemEnvironment))
    }

    /// A service with its own clock and sys_id source.
    pub fn with_environment(repo: Arc<dyn Repository>, env: Arc<dyn Environment>) -> Self {
        Service {
            repo,
            env,
            listeners: Arc::default(),
        }
    }

    /// Tells `listener` of every write this service, or any clone of it, commits from now on.
    pub fn notify_commits_to(&self, listener: Arc<dyn CommitListener>) {
        self.listeners
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(listener);
    }

    /// Tells the listeners that a write committed.
    fn committed(&self) {
        // A poisoned lock still holds a whole list: listeners are only ever pushed.
        let listeners = self
            .listeners
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        for listener in listeners.iter() {
            listener.committed();
        }
    }

    /// The repository behind the service.
    pub fn repository(&self) -> &Arc<dyn Repository> {
        &self.repo
    }

    /// Creates an interaction with its context, phone logs and related records (POST).
    pub async fn create(&self, caller: &Caller, req: VoiceInteractionRequest) -> Result<Created> {
        let provider = self.resolve_provider(&req).await?;
        let now = self.env.now();
        let sys_id = self.env.new_sys_id();
        let mut interaction = Record::new(&INTERACTION);
        stamp_new(&mut interaction, &sys_id, &caller.user_name, now);
        interaction.set(field::TYPE, schema::INTERACTION_TYPE);
        interaction.set(field::STATE, schema::INITIAL_STATE);
        interaction.set(field::OPENED_BY, caller.sys_id.as_str());
        interaction.set(field::OPENED_AT, now.to_string());
        interaction.set(field::CHANNEL_METADATA_TABLE, PHONE_LOG.name);
        let mut aggregate = InteractionAggregate {
            interaction,
            context: Context::new(),
            phone_logs: Vec::new(),
            related_records: Vec::new(),
        };
        let plan = Planner {
            caller,
            now,
            env: self.env.as_ref(),
            provider: provider.as_ref(),
            is_update: false,
        };
        plan.change(&aggregate, &req)?.apply_to(&mut aggregate);
        let number = self.repo.create_interaction(aggregate).await?;
        self.committed();
        Ok(Created { sys_id, number })
    }

    /// Updates interaction `sys_id` (PATCH). Nothing is written when any rule fails.
    pub async fn update(
        &self,
        caller: &Caller,
        sys_id: &SysId,
        req: VoiceInteractionRequest,
    ) -> Result<AggregateChange> {
        let provider = self.resolve_provider(&req).await?;
        let now = self.env.now();
        let (caller, env) = (caller.clone(), Arc::clone(&self.env));
        let plan = move |current: &InteractionAggregate| {
            Planner {
                caller: &caller,
                now,
                env: env.as_ref(),
                provider: provider.as_ref(),
                is_update: true,
            }
            .change(current, &req)
        };
        let change = self.repo.update_interaction(sys_id, Box::new(plan)).await?;
        self.committed();
        Ok(change)
    }

    /// Reads interaction `sys_id` back whole; [`Error::NotFound`] when there is none.
    pub async fn read(&self, sys_id: &SysId) -> Result<InteractionAggregate> {
        self.repo
            .load_interaction(sys_id)
            .await?
            .ok_or(Error::NotFound {
                what: "interaction",
            })
    }

    /// Looks up the provider application an `inboundId` names; a 400 when none has it.
    async fn resolve_provider(&self, req: &VoiceInteractionRequest) -> Result<Option<Record>> {
        let Some((_, inbound_id)) = req
            .interaction
            .iter()
            .rev()
            .find(|(k, _)| *k == field::INBOUND_ID)
        else {
            return Ok(None);
        };
        if inbound_id.is_empty() {
            return Ok(None);
        }
        match self.repo.find_provider_application(inbound_id).await? {
            Some(app) => Ok(Some(app)),
            None => Err(Error::invalid(
                "interaction.inboundId",
                "must be the inbound_id of a registered provider application",
            )),
        }
    }
}

/// Sets the system fields of a record being created.
pub(crate) fn stamp_new(record: &mut Record, sys_id: &SysId, user_name: &str, now: DateTime) {
    let now = now.to_string();
    record.set(field::SYS_ID, sys_id.as_str());
    record.set(field::SYS_CREATED_ON, now.as_str());
    record.set(field::SYS_CREATED_BY, user_name);
    record.set(field::SYS_UPDATED_ON, now);
    record.set(field::SYS_UPDATED_BY, user_name);
    record.set(field::SYS_MOD_COUNT, "0");
}

/// Sets the system fields of a record being updated: once per request, however many fields change.
fn stamp_update(record: &mut Record, user_name: &str, now: DateTime) {
    let count = record.get(field::SYS_MOD_COUNT).parse::<u64>().unwrap_or(0);
    record.set(field::SYS_UPDATED_ON, now.to_string());
    record.set(field::SYS_UPDATED_BY, user_name);
    record.set(field::SYS_MOD_COUNT, (count + 1).to_string());
}

/// Computes the change one request makes to one aggregate. Pure but for fresh sys_ids.
struct Planner<'a> {
    caller: &'a Caller,
    now: DateTime,
    env: &'a dyn Environment,
    provider: Option<&'a Record>,
    is_update: bool,
}

impl Planner<'_> {
    fn change(
        &self,
        current: &InteractionAggregate,
        req: &VoiceInteractionRequest,
    ) -> Result<AggregateChange> {
        let mut change = AggregateChange {
            interaction: current.interaction.clone(),
            context_set: Context::new(),
            context_removed: Default::default(),
            phone_logs: Vec::new(),
            related_records: Vec::new(),
            removed: Default::default(),
        };
        self.interaction_fields(&mut change.interaction, req);
        self.context(current, req, &mut change)?;
        let mut new_logs = 0;
        for (i, entry) in req.phone_logs.iter().enumerate() {
            new_logs += usize::from(self.phone_log(current, entry, i, &mut change.phone_logs)?);
        }
        at_most(
            "phoneLogs",
            "phone logs",
            current.phone_logs.len() + new_logs,
            MAX_PHONE_LOGS_PER_INTERACTION,
        )?;
        self.related_records(current, req, &mut change.related_records);
        at_most(
            "relatedRecords",
            "related records",
            current.related_records.len() + change.related_records.len(),
            MAX_RELATED_RECORDS_PER_INTERACTION,
        )?;
        Ok(change)
    }

    fn interaction_fields(&self, interaction: &mut Record, req: &VoiceInteractionRequest) {
        if self.is_update {
            stamp_update(interaction, &self.caller.user_name, self.now);
        }
        let mut state_set = false;
        for (name, value) in &req.interaction {
            interaction.set(name, value.as_str());
            state_set |= *name == field::STATE;
        }
        if req.interaction.iter().any(|(k, _)| *k == field::INBOUND_ID) {
            interaction.set(
                field::PROVIDER_APPLICATION,
                self.provider.map_or("", Record::sys_id),
            );
        }
        if state_set && is_closed_state(interaction.get(field::STATE)) {
            if !interaction.is_set(field::CLOSED_AT) {
                interaction.set(field::CLOSED_AT, self.now.to_string());
            }
            if !interaction.is_set(field::CLOSED_BY) {
                interaction.set(field::CLOSED_BY, self.caller.sys_id.as_str());
            }
        }
    }

    fn context(
        &self,
        current: &InteractionAggregate,
        req: &VoiceInteractionRequest,
        change: &mut AggregateChange,
    ) -> Result<()> {
        for (key, value) in &req.context {
            if value.is_empty() {
                change.context_set.remove(key);
                if current.context.contains_key(key) {
                    change.context_removed.insert(key.clone());
                }
            } else {
                change.context_removed.remove(key);
                change.context_set.insert(key.clone(), value.clone());
            }
        }
        let kept = current
            .context
            .keys()
            .filter(|k| !change.context_removed.contains(*k));
        let added = change
            .context_set
            .keys()
            .filter(|k| !current.context.contains_key(*k));
        let total = kept.count() + added.count();
        if total > MAX_CONTEXT_KEYS {
            return Err(Error::invalid(
                "interactionContext",
                format!(
                    "an interaction may have at most {MAX_CONTEXT_KEYS} keys; this request would leave {total}"
                ),
            ));
        }
        Ok(())
    }

    /// Applies one `phoneLogs` entry: updates the log with its `call_id` if the interaction has one (already
    /// stored or created earlier in this request), else creates a log. Whether it created one.
    fn phone_log(
        &self,
        current: &InteractionAggregate,
        entry: &PhoneLogEntry,
        index: usize,
        changed: &mut Vec<Record>,
    ) -> Result<bool> {
        let same_call = |log: &&Record| {
            entry
                .call_id()
                .is_some_and(|id| log.get(field::CALL_ID) == id)
        };
        let mut created = false;
        let log = if let Some(pos) = changed.iter().position(|l| same_call(&l)) {
            &mut changed[pos]
        } else if let Some(stored) = current
            .phone_logs
            .iter()
            .rev()
            .filter(same_call)
            // A stored log this request already changed is only looked at in its changed form. Checked after
            // the call_id match, so a 500-entry request does not compare every stored log with every change.
            .find(|l| !changed.iter().any(|c| c.sys_id() == l.sys_id()))
        {
            let mut log = stored.clone();
            stamp_update(&mut log, &self.caller.user_name, self.now);
            changed.push(log);
            changed.last_mut().expect("just pushed")
        } else {
            let mut log = Record::new(&LOG);
            stamp_new(
                &mut log,
                &self.env.new_sys_id(),
                &self.caller.user_name,
                self.now,
            );
            log.set(field::INTERACTION, current.interaction.sys_id());
            if entry.get(field::AGENT).is_none() {
                log.set(field::AGENT, self.caller.sys_id.as_str());
            }
            created = true;
            changed.push(log);
            changed.last_mut().expect("just pushed")
        };
        set_log_fields(log, &entry.fields, &format!("phoneLogs[{index}]."))?;
        Ok(created)
    }

    fn related_records(
        &self,
        current: &InteractionAggregate,
        req: &VoiceInteractionRequest,
        added: &mut Vec<Record>,
    ) {
        let mut seen: HashSet<(&str, &str)> = current
            .related_records
            .iter()
            .map(|r| (r.get(field::DOCUMENT_TABLE), r.get(field::DOCUMENT_ID)))
            .collect();
        for r in &req.related_records {
            if !seen.insert((&r.document_table, &r.document_id)) {
                continue;
            }
            let mut record = Record::new(&RELATED_RECORD);
            stamp_new(
                &mut record,
                &self.env.new_sys_id(),
                &self.caller.user_name,
                self.now,
            );
            record.set(field::INTERACTION, current.interaction.sys_id());
            record.set(field::DOCUMENT_TABLE, r.document_table.as_str());
            record.set(field::DOCUMENT_ID, r.document_id.as_str());
            added.push(record);
        }
    }
}

/// Sets `fields` on phone log `log`, then the rules between them: `end_time` not before `start_time`, and
/// `duration` computed from the two unless `fields` gives it. Errors name the field after `path`.
fn set_log_fields(log: &mut Record, fields: &FieldValues, path: &str) -> Result<()> {
    for (name, value) in fields {
        log.set(name, value.as_str());
    }
    let start = DateTime::parse(log.get(field::START_TIME));
    let end = DateTime::parse(log.get(field::END_TIME));
    if let (Some(start), Some(end)) = (start, end) {
        if end < start {
            return Err(Error::invalid(
                format!("{path}end_time"),
                format!("must not be before start_time {start}"),
            ));
        }
        if !fields.iter().any(|(k, _)| *k == field::DURATION) {
            log.set(field::DURATION, (end.unix() - start.unix()).to_string());
        }
    }
    Ok(())
}

/// Refuses a change that would leave an interaction with more than `limit` children of one kind.
fn at_most(field: &str, what: &str, total: usize, limit: usize) -> Result<()> {
    if total > limit {
        return Err(Error::invalid(
            field,
            format!(
                "an interaction may have at most {limit} {what}; this request would leave {total}"
            ),
        ));
    }
    Ok(())
}
