//! The interaction aggregate — an interaction with its context, phone logs and related records — and the
//! change an update makes to it, which is what a store writes in one transaction.

use std::collections::{BTreeMap, BTreeSet};

use crate::record::Record;

/// Context variables of one interaction, by name.
pub type Context = BTreeMap<String, String>;

/// An interaction and everything that hangs off it, as one consistent read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InteractionAggregate {
    /// The `interaction` record.
    pub interaction: Record,
    /// Its context variables.
    pub context: Context,
    /// Its `sn_openframe_phone_log` records, in creation order.
    pub phone_logs: Vec<Record>,
    /// Its `interaction_related_record` records, in creation order.
    pub related_records: Vec<Record>,
}

/// What one update writes: computed by the service from the current aggregate, applied by the store in the
/// same transaction that read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregateChange {
    /// The interaction record as it is after the update (a full row: stores overwrite it).
    pub interaction: Record,
    /// Context variables set (added or overwritten).
    pub context_set: Context,
    /// Context variables removed.
    pub context_removed: BTreeSet<String>,
    /// Phone logs, new or updated, as full rows; a log whose sys_id the interaction has replaces it,
    /// any other is appended.
    pub phone_logs: Vec<Record>,
    /// Related records to append.
    pub related_records: Vec<Record>,
    /// Children to remove, by sys_id (a Table API delete of one phone log or related record).
    pub removed: Removals,
}

/// The children an update removes, by sys_id. A plan never both writes and removes one child; stores remove
/// after writing, as [`AggregateChange::apply_to`] does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Removals {
    /// sys_ids of phone logs to remove.
    pub phone_logs: BTreeSet<String>,
    /// sys_ids of related records to remove.
    pub related_records: BTreeSet<String>,
}

impl Removals {
    /// Whether nothing is removed.
    pub fn is_empty(&self) -> bool {
        self.phone_logs.is_empty() && self.related_records.is_empty()
    }
}

impl AggregateChange {
    /// Applies the change to `aggregate`, as a store would: the reference semantics for every store.
    pub fn apply_to(&self, aggregate: &mut InteractionAggregate) {
        aggregate.interaction = self.interaction.clone();
        for key in &self.context_removed {
            aggregate.context.remove(key);
        }
        aggregate
            .context
            .extend(self.context_set.iter().map(|(k, v)| (k.clone(), v.clone())));
        for log in &self.phone_logs {
            match aggregate
                .phone_logs
                .iter_mut()
                .find(|l| l.sys_id() == log.sys_id())
            {
                Some(existing) => *existing = log.clone(),
                None => aggregate.phone_logs.push(log.clone()),
            }
        }
        aggregate
            .related_records
            .extend(self.related_records.iter().cloned());
        let removed = &self.removed;
        aggregate
            .phone_logs
            .retain(|l| !removed.phone_logs.contains(l.sys_id()));
        aggregate
            .related_records
            .retain(|r| !removed.related_records.contains(r.sys_id()));
    }
}
