//! Create, update and read of one interaction aggregate, each inside a transaction over
//! [`InteractionTx`]. Everything here must be safe for sled to run more than once: it reads only what the
//! transaction shows it and what it was given.

use std::collections::HashMap;

use openframe_core::number::{FIRST_NUMBER, format_number};
use openframe_core::schema::{PHONE_LOG, RELATED_RECORD, field};
use openframe_core::{AggregateChange, Error, InteractionAggregate, Record, UpdatePlan};
use sled::transaction::TransactionalTree;

use crate::codec::{self, InteractionRow};
use crate::error::{TxResult, abort};
use crate::layout::{
    ChildTable, InteractionTx, NEXT_NUMBER_KEY, child_key, client_session_key, decode_counter,
    stray_key,
};

impl InteractionTx<'_> {
    /// Stores `new` under the next interaction number, which it returns.
    pub(crate) fn create(&self, new: &InteractionAggregate) -> TxResult<String> {
        let sys_id = new.interaction.sys_id();
        if self.interactions.get(sys_id)?.is_some() {
            return Err(abort(Error::Conflict {
                detail: format!("interaction {sys_id} exists"),
            }));
        }
        let number = format_number(self.next_number()?);
        let mut row = InteractionRow {
            record: new.interaction.clone(),
            context: new.context.clone(),
            phone_logs: 0,
            related_records: 0,
        };
        row.record.set(field::NUMBER, number.as_str());
        self.index(sys_id, None, &row.record)?;
        for log in &new.phone_logs {
            self.append_phone_log(sys_id, &mut row, log)?;
        }
        for related in &new.related_records {
            self.append_related_record(sys_id, &mut row, related)?;
        }
        self.put_row(sys_id, &row)?;
        Ok(number)
    }

    /// Reads interaction `sys_id`, runs `plan` on it and stages the change it returns; `None` when there is
    /// no such interaction. A plan error aborts the transaction unchanged.
    pub(crate) fn update(
        &self,
        sys_id: &str,
        plan: &UpdatePlan,
    ) -> TxResult<Option<AggregateChange>> {
        let Some((mut row, current)) = self.read(sys_id)? else {
            return Ok(None);
        };
        let change = plan(&current).map_err(abort)?;

        let before = std::mem::replace(&mut row.record, change.interaction.clone());
        self.index(sys_id, Some(&before), &row.record)?;

        for key in &change.context_removed {
            row.context.remove(key);
        }
        row.context.extend(
            change
                .context_set
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );

        // A log the interaction has keeps its position; any other is appended (AggregateChange::apply_to).
        let mut positions: HashMap<String, u64> = (0..)
            .zip(&current.phone_logs)
            .map(|(seq, log)| (log.sys_id().to_owned(), seq))
            .collect();
        for log in &change.phone_logs {
            match positions.get(log.sys_id()) {
                Some(&seq) => {
                    let key = child_key(sys_id, seq);
                    self.mark_stray(ChildTable::PhoneLog, sys_id, log, &key, true)?;
                    insert(self.phone_logs, key, codec::encode_record(log))?;
                }
                None => {
                    positions.insert(log.sys_id().to_owned(), row.phone_logs);
                    self.append_phone_log(sys_id, &mut row, log)?;
                }
            }
        }
        for related in &change.related_records {
            self.append_related_record(sys_id, &mut row, related)?;
        }
        self.put_row(sys_id, &row)?;
        Ok(Some(change))
    }

    /// Interaction `sys_id` and everything that hangs off it, with its stored row.
    pub(crate) fn read(
        &self,
        sys_id: &str,
    ) -> TxResult<Option<(InteractionRow, InteractionAggregate)>> {
        let Some(bytes) = self.interactions.get(sys_id)? else {
            return Ok(None);
        };
        let row = InteractionRow::decode(&bytes).map_err(abort)?;
        let aggregate = InteractionAggregate {
            interaction: row.record.clone(),
            context: row.context.clone(),
            phone_logs: read_children(self.phone_logs, &PHONE_LOG, sys_id, row.phone_logs)?,
            related_records: read_children(
                self.related_records,
                &RELATED_RECORD,
                sys_id,
                row.related_records,
            )?,
        };
        Ok(Some((row, aggregate)))
    }

    /// Takes the next interaction number from the durable counter.
    fn next_number(&self) -> TxResult<u64> {
        let n = match self.meta.get(NEXT_NUMBER_KEY)? {
            None => FIRST_NUMBER,
            Some(bytes) => decode_counter(&bytes)
                .ok_or_else(|| abort(Error::internal("corrupt interaction-number counter")))?,
        };
        self.meta
            .insert(NEXT_NUMBER_KEY, (n + 1).to_be_bytes().to_vec())?;
        Ok(n)
    }

    /// Keeps the number and client-session indexes in step with the interaction record going from `before`
    /// (`None` on create) to `after`.
    fn index(&self, sys_id: &str, before: Option<&Record>, after: &Record) -> TxResult<()> {
        let old = |name| before.map_or("", |r: &Record| r.get(name));

        let (old_number, new_number) = (old(field::NUMBER), after.get(field::NUMBER));
        if old_number != new_number {
            if !old_number.is_empty() {
                self.interaction_numbers.remove(old_number)?;
            }
            if !new_number.is_empty() {
                let previous = self.interaction_numbers.insert(new_number, sys_id)?;
                if previous.is_some_and(|p| p != sys_id.as_bytes()) {
                    return Err(abort(Error::internal(format!(
                        "interaction number {new_number} is already taken: the counter is behind"
                    ))));
                }
            }
        }

        let (old_session, new_session) = (
            old(field::CLIENT_SESSION_ID),
            after.get(field::CLIENT_SESSION_ID),
        );
        if old_session != new_session {
            if !old_session.is_empty() {
                self.client_sessions
                    .remove(client_session_key(old_session, sys_id))?;
            }
            if !new_session.is_empty() {
                self.client_sessions
                    .insert(client_session_key(new_session, sys_id), &[][..])?;
            }
        }
        Ok(())
    }

    fn append_phone_log(
        &self,
        sys_id: &str,
        row: &mut InteractionRow,
        log: &Record,
    ) -> TxResult<()> {
        let key = child_key(sys_id, row.phone_logs);
        self.mark_stray(ChildTable::PhoneLog, sys_id, log, &key, false)?;
        append_child(self.phone_logs, self.phone_log_keys, key, log)?;
        row.phone_logs += 1;
        Ok(())
    }

    fn append_related_record(
        &self,
        sys_id: &str,
        row: &mut InteractionRow,
        related: &Record,
    ) -> TxResult<()> {
        let key = child_key(sys_id, row.related_records);
        self.mark_stray(ChildTable::RelatedRecord, sys_id, related, &key, false)?;
        append_child(self.related_records, self.related_record_keys, key, related)?;
        row.related_records += 1;
        Ok(())
    }

    /// Lists `child` (stored at `key` under interaction `sys_id`) in `stray_children` if its `interaction`
    /// field names another interaction, and, when it `replaces` an earlier version, takes it off the list if
    /// it no longer does (see `layout`).
    fn mark_stray(
        &self,
        table: ChildTable,
        sys_id: &str,
        child: &Record,
        key: &[u8],
        replaces: bool,
    ) -> TxResult<()> {
        let stray = stray_key(table, child.sys_id());
        if child.get(field::INTERACTION) != sys_id {
            self.stray_children.insert(stray, key)?;
        } else if replaces && self.stray_children.get(&stray)?.is_some() {
            self.stray_children.remove(stray)?;
        }
        Ok(())
    }

    fn put_row(&self, sys_id: &str, row: &InteractionRow) -> TxResult<()> {
        insert(self.interactions, sys_id.as_bytes().to_vec(), row.encode())
    }
}

/// Stores `record` as a new child at `key` and indexes it by its own sys_id.
fn append_child(
    children: &TransactionalTree,
    keys: &TransactionalTree,
    key: Vec<u8>,
    record: &Record,
) -> TxResult<()> {
    if keys.insert(record.sys_id(), key.clone())?.is_some() {
        return Err(abort(Error::Conflict {
            detail: format!("{} {} exists", record.table().name, record.sys_id()),
        }));
    }
    insert(children, key, codec::encode_record(record))
}

/// The first `count` children of interaction `sys_id`, in creation order.
fn read_children(
    children: &TransactionalTree,
    table: &'static openframe_core::schema::Table,
    sys_id: &str,
    count: u64,
) -> TxResult<Vec<Record>> {
    (0..count)
        .map(|seq| {
            let bytes = children.get(child_key(sys_id, seq))?.ok_or_else(|| {
                abort(Error::internal(format!(
                    "{} {seq} of interaction {sys_id} is missing",
                    table.name
                )))
            })?;
            codec::decode_record(table, &bytes).map_err(abort)
        })
        .collect()
}

fn insert(
    tree: &TransactionalTree,
    key: Vec<u8>,
    value: openframe_core::Result<Vec<u8>>,
) -> TxResult<()> {
    tree.insert(key, value.map_err(abort)?)?;
    Ok(())
}
