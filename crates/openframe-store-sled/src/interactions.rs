//! Create, update and read of one interaction aggregate in `data` (see `layout`).
//!
//! Writes run only on the store's writer thread (the `writer` module): each reads what it needs through the
//! group being committed ([`GroupWrites`]: `data` with the group's earlier writes on top), stages its writes
//! and adds them to the group, which is applied as one batch before its flush (the `group` module). As that
//! thread is the only one that writes `data`, nothing can change between a write's reads and its batch, so
//! no sled transaction is needed (and none of its cost is paid: a transaction reads the old value of every
//! key it writes). Reads from other threads see each group's batch whole; [`load`] reads an interaction and
//! its children optimistically and tells when a write got in between.

use std::collections::HashMap;

use openframe_core::number::{FIRST_NUMBER, format_number, parse_number};
use openframe_core::schema::{PHONE_LOG, RELATED_RECORD, Table, field};
use openframe_core::{
    AggregateChange, Error, InteractionAggregate, InteractionEvent, Record, Result, UpdatePlan,
};
use sled::{IVec, Tree};

use crate::codec::{self, InteractionRow};
use crate::group::GroupWrites;
use crate::layout::{
    ChildTable, NEXT_NUMBER_KEY, Read, Staged, child_id_key, child_key, client_session_key,
    decode_u64, interaction_id_key, interaction_key, number_key, stray_key,
};
use crate::outbox;

/// Stores `new` under the next interaction number, which it returns. Writer thread only.
pub(crate) fn create(group: &GroupWrites, new: &InteractionAggregate) -> Result<String> {
    let sys_id = new.interaction.sys_id();
    let mut staged = Staged::new(group);
    let id_key = interaction_id_key(sys_id);
    if staged.get(&id_key)?.is_some() {
        return Err(Error::Conflict {
            detail: format!("interaction {sys_id} exists"),
        });
    }
    let id = next_number(&mut staged)?;
    let number = format_number(id);
    let mut record = new.interaction.clone();
    record.set(field::NUMBER, number.as_str());
    // The event carries the record as stored, number included. (An import writes no events.)
    let mut created = new.clone();
    created.interaction = record.clone();
    outbox::append(&mut staged, &InteractionEvent::created(&created))?;
    insert(&mut staged, id, record, new)?;
    staged.apply();
    Ok(number)
}

/// Stages `new` verbatim (an import), under the id its number gives, and moves the counter past that number
/// if it is behind. A taken sys_id or number (here or earlier in `staged`) is a conflict. Writer thread only.
pub(crate) fn stage_import(staged: &mut Staged<'_>, new: &InteractionAggregate) -> Result<()> {
    let sys_id = new.interaction.sys_id();
    let number = new.interaction.get(field::NUMBER);
    let id = parse_number(number)
        .ok_or_else(|| Error::invalid(field::NUMBER, "must be an interaction number"))?;
    if staged.get(&interaction_id_key(sys_id))?.is_some() {
        return Err(Error::Conflict {
            detail: format!("interaction {sys_id} exists"),
        });
    }
    // The id is the number's counter value: two spellings of one value (IMS0001001, IMS00001001) clash too.
    if staged.get(&number_key(number))?.is_some() || staged.get(&interaction_key(id))?.is_some() {
        return Err(Error::Conflict {
            detail: format!("interaction number {number} is taken"),
        });
    }
    let next = current_number(staged)?;
    if id >= next {
        staged.insert(NEXT_NUMBER_KEY.to_vec(), (id + 1).to_be_bytes().to_vec());
    }
    insert(staged, id, new.interaction.clone(), new)
}

/// Stages interaction `id` with `record` (its number set), and `new`'s context and children.
fn insert(
    staged: &mut Staged<'_>,
    id: u64,
    record: Record,
    new: &InteractionAggregate,
) -> Result<()> {
    let sys_id = new.interaction.sys_id();
    let mut row = InteractionRow {
        record,
        context: new.context.clone(),
        phone_logs: 0,
        related_records: 0,
        version: 0,
    };
    staged.insert(interaction_id_key(sys_id), id.to_be_bytes().to_vec());
    index(staged, id, None, &row.record)?;
    for log in &new.phone_logs {
        append_child(
            staged,
            ChildTable::PhoneLog,
            id,
            sys_id,
            &mut row.phone_logs,
            log,
        )?;
    }
    for related in &new.related_records {
        append_child(
            staged,
            ChildTable::RelatedRecord,
            id,
            sys_id,
            &mut row.related_records,
            related,
        )?;
    }
    staged.insert(interaction_key(id), row.encode()?);
    Ok(())
}

/// Reads interaction `sys_id`, runs `plan` on it and writes the change it returns; `None` when there is no
/// such interaction. A plan error is returned unchanged, with nothing written. Writer thread only.
pub(crate) fn update(
    group: &GroupWrites,
    sys_id: &str,
    plan: &UpdatePlan,
) -> Result<Option<AggregateChange>> {
    let Some((id, bytes)) = find(group, sys_id)? else {
        return Ok(None);
    };
    let mut row = InteractionRow::decode(&bytes)?;
    let current = aggregate(group, id, &row)?;
    let change = plan(&current)?;

    let mut staged = Staged::new(group);
    let before = std::mem::replace(&mut row.record, change.interaction.clone());
    index(&mut staged, id, Some(&before), &row.record)?;

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
                let key = child_key(ChildTable::PhoneLog, id, seq);
                mark_stray(&mut staged, ChildTable::PhoneLog, sys_id, log, &key, true)?;
                staged.insert(key, codec::encode_record(log)?);
            }
            None => {
                positions.insert(log.sys_id().to_owned(), row.phone_logs);
                append_child(
                    &mut staged,
                    ChildTable::PhoneLog,
                    id,
                    sys_id,
                    &mut row.phone_logs,
                    log,
                )?;
            }
        }
    }
    for related in &change.related_records {
        append_child(
            &mut staged,
            ChildTable::RelatedRecord,
            id,
            sys_id,
            &mut row.related_records,
            related,
        )?;
    }
    row.version += 1;
    outbox::append(&mut staged, &InteractionEvent::updated(&current, &change))?;
    staged.insert(interaction_key(id), row.encode()?);
    staged.apply();
    Ok(Some(change))
}

/// What an optimistic [`load`] found.
pub(crate) enum Loaded {
    /// A consistent read: the aggregate, or `None` when there is no such interaction.
    Consistent(Option<InteractionAggregate>),
    /// A write to the interaction committed while it was being read: read again.
    Raced,
}

/// Reads interaction `sys_id` and its children with plain reads, then reads its row again: every write
/// to an interaction rewrites its row with a higher version, so an unchanged row means no write got in
/// between and the children read belong to it. Safe on any thread, and the only way to read consistently
/// off the writer thread.
pub(crate) fn load(data: &Tree, sys_id: &str) -> Result<Loaded> {
    let Some((id, bytes)) = find(data, sys_id)? else {
        return Ok(Loaded::Consistent(None));
    };
    let row = InteractionRow::decode(&bytes)?;
    let aggregate = aggregate(data, id, &row)?;
    if Read::get(data, &interaction_key(id))?.as_ref() == Some(&bytes) {
        Ok(Loaded::Consistent(Some(aggregate)))
    } else {
        Ok(Loaded::Raced)
    }
}

/// Reads interaction `sys_id` on the writer thread, where nothing can change it meanwhile, as the group in
/// progress leaves it.
pub(crate) fn load_exclusive(
    group: &GroupWrites,
    sys_id: &str,
) -> Result<Option<InteractionAggregate>> {
    let Some((id, bytes)) = find(group, sys_id)? else {
        return Ok(None);
    };
    let row = InteractionRow::decode(&bytes)?;
    aggregate(group, id, &row).map(Some)
}

/// Interaction `sys_id`'s id and stored row.
pub(crate) fn find(data: &impl Read, sys_id: &str) -> Result<Option<(u64, IVec)>> {
    let Some(id) = data.get(&interaction_id_key(sys_id))? else {
        return Ok(None);
    };
    let id = decode_u64(&id)
        .ok_or_else(|| Error::internal(format!("corrupt id of interaction {sys_id}")))?;
    let row = data.get(&interaction_key(id))?.ok_or_else(|| {
        Error::internal(format!("interaction {sys_id} is indexed but has no row"))
    })?;
    Ok(Some((id, row)))
}

/// The aggregate of interaction `id`, stored as `row`: its children read by their keys.
fn aggregate(data: &impl Read, id: u64, row: &InteractionRow) -> Result<InteractionAggregate> {
    Ok(InteractionAggregate {
        interaction: row.record.clone(),
        context: row.context.clone(),
        phone_logs: children(data, ChildTable::PhoneLog, &PHONE_LOG, id, row.phone_logs)?,
        related_records: children(
            data,
            ChildTable::RelatedRecord,
            &RELATED_RECORD,
            id,
            row.related_records,
        )?,
    })
}

/// The first `count` children of interaction `id`, in creation order.
fn children(
    data: &impl Read,
    kind: ChildTable,
    table: &'static Table,
    id: u64,
    count: u64,
) -> Result<Vec<Record>> {
    (0..count)
        .map(|seq| {
            let bytes = data.get(&child_key(kind, id, seq))?.ok_or_else(|| {
                Error::internal(format!(
                    "{} {seq} of interaction {id} is missing",
                    table.name
                ))
            })?;
            codec::decode_record(table, &bytes)
        })
        .collect()
}

/// The number the durable counter will hand out next.
fn current_number(staged: &Staged<'_>) -> Result<u64> {
    match staged.get(NEXT_NUMBER_KEY)? {
        None => Ok(FIRST_NUMBER),
        Some(bytes) => {
            decode_u64(&bytes).ok_or_else(|| Error::internal("corrupt interaction-number counter"))
        }
    }
}

/// Takes the next interaction number from the durable counter.
fn next_number(staged: &mut Staged<'_>) -> Result<u64> {
    let n = current_number(staged)?;
    staged.insert(NEXT_NUMBER_KEY.to_vec(), (n + 1).to_be_bytes().to_vec());
    Ok(n)
}

/// Keeps the number and client-session indexes in step with interaction `id`'s record going from
/// `before` (`None` on create) to `after`.
fn index(staged: &mut Staged<'_>, id: u64, before: Option<&Record>, after: &Record) -> Result<()> {
    let old = |name| before.map_or("", |r: &Record| r.get(name));

    let (old_number, new_number) = (old(field::NUMBER), after.get(field::NUMBER));
    if old_number != new_number {
        if !old_number.is_empty() {
            staged.remove(number_key(old_number));
        }
        if !new_number.is_empty() {
            let key = number_key(new_number);
            if staged
                .get(&key)?
                .is_some_and(|p| decode_u64(&p) != Some(id))
            {
                return Err(Error::internal(format!(
                    "interaction number {new_number} is already taken: the counter is behind"
                )));
            }
            staged.insert(key, id.to_be_bytes().to_vec());
        }
    }

    let (old_session, new_session) = (
        old(field::CLIENT_SESSION_ID),
        after.get(field::CLIENT_SESSION_ID),
    );
    if old_session != new_session {
        if !old_session.is_empty() {
            staged.remove(client_session_key(old_session, id));
        }
        if !new_session.is_empty() {
            staged.insert(client_session_key(new_session, id), Vec::new());
        }
    }
    Ok(())
}

/// Stores `record` as the next child of interaction `id` (sys_id `sys_id`) and indexes it by its own
/// sys_id; a sys_id another child of that table has is a conflict.
fn append_child(
    staged: &mut Staged<'_>,
    kind: ChildTable,
    id: u64,
    sys_id: &str,
    count: &mut u64,
    record: &Record,
) -> Result<()> {
    let key = child_key(kind, id, *count);
    let id_key = child_id_key(kind, record.sys_id());
    if staged.get(&id_key)?.is_some() {
        return Err(Error::Conflict {
            detail: format!("{} {} exists", record.table().name, record.sys_id()),
        });
    }
    mark_stray(staged, kind, sys_id, record, &key, false)?;
    staged.insert(id_key, key.clone());
    staged.insert(key, codec::encode_record(record)?);
    *count += 1;
    Ok(())
}

/// Lists `child` (stored at `key` under interaction `sys_id`) as stray if its `interaction` field names
/// another interaction, and, when it `replaces` an earlier version, takes it off the list if it no longer
/// does (see `layout`).
fn mark_stray(
    staged: &mut Staged<'_>,
    kind: ChildTable,
    sys_id: &str,
    child: &Record,
    key: &[u8],
    replaces: bool,
) -> Result<()> {
    let stray = stray_key(kind, child.sys_id());
    if child.get(field::INTERACTION) != sys_id {
        staged.insert(stray, key.to_vec());
    } else if replaces && staged.get(&stray)?.is_some() {
        staged.remove(stray);
    }
    Ok(())
}
