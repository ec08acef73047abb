//! Create, update, delete and read of one interaction aggregate in `data` (see `layout`).
//!
//! Writes run only on the store's writer thread (the `writer` module): each reads what it needs through the
//! group being committed ([`GroupWrites`]: `data` with the group's earlier writes on top), stages its writes
//! and adds them to the group, which is applied as one batch before its flush (the `group` module). As that
//! thread is the only one that writes `data`, nothing can change between a write's reads and its batch, so
//! no sled transaction is needed (and none of its cost is paid: a transaction reads the old value of every
//! key it writes). Reads from other threads see each group's batch whole; [`load`] reads an interaction and
//! its children with one lookup of its row.

use std::collections::{BTreeSet, HashMap};

use openframe_core::number::{FIRST_NUMBER, format_number, parse_number};
use openframe_core::schema::{INTERACTION, field};
use openframe_core::{
    AggregateChange, Conflict, Error, InteractionAggregate, InteractionEvent, Record, Result,
    UpdatePlan,
};
use sled::{IVec, Tree};

use crate::codec::InteractionRow;
use crate::directory::{self, Additions, Kind, Location};
use crate::group::GroupWrites;
use crate::layout::{
    ChildTable, INTERACTIONS_PREFIX, NUMBERS_DELETED_KEY, Read, Staged, child_address,
    client_session_key, decode_u64, interaction_key, last_id, number_key, stray_key,
};
use crate::outbox;

/// Stores `new` under the next interaction number, which it returns. Writer thread only.
pub(crate) fn create(group: &GroupWrites, mut created: InteractionAggregate) -> Result<String> {
    let mut staged = Staged::new(group);
    let sys_id = created.interaction.sys_id();
    if directory::find(&staged, Kind::Interaction, sys_id)?.is_some() {
        return Err(Conflict::SysId {
            table: INTERACTION.name,
            sys_id: sys_id.to_owned(),
        }
        .into());
    }
    let id = staged.take_number();
    let number = format_number(id);
    created.interaction.set(field::NUMBER, number.as_str());
    // The event carries the record as stored, number included. (An import writes no events.)
    outbox::append(&mut staged, &InteractionEvent::created(&created))?;
    insert(&mut staged, id, created)?;
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
    if directory::find(staged, Kind::Interaction, sys_id)?.is_some() {
        return Err(Conflict::SysId {
            table: INTERACTION.name,
            sys_id: sys_id.to_owned(),
        }
        .into());
    }
    // The id is the number's counter value: two spellings of one value (IMS0001001, IMS00001001) clash too,
    // and so does a number another interaction was given by an update.
    if staged.get(&number_key(number))?.is_some() || staged.get(&interaction_key(id))?.is_some() {
        return Err(Conflict::Number {
            number: number.to_owned(),
        }
        .into());
    }
    staged.pass_number(id);
    insert(staged, id, new.clone())
}

/// Stages `new` (its number set) as interaction `id`, with its indexes.
fn insert(staged: &mut Staged<'_>, id: u64, new: InteractionAggregate) -> Result<()> {
    let InteractionAggregate {
        interaction,
        context,
        phone_logs,
        related_records,
    } = new;
    let sys_id = interaction.sys_id().to_owned();
    let mut additions = Additions::default();
    additions.push(Kind::Interaction, &sys_id, Location { id, position: 0 });
    index(staged, id, None, &interaction)?;
    let mut row = InteractionRow {
        record: interaction,
        context,
        phone_logs: Vec::with_capacity(phone_logs.len()),
        related_records: Vec::with_capacity(related_records.len()),
        version: 0,
    };
    for log in phone_logs {
        append_child(
            staged,
            &mut additions,
            ChildTable::PhoneLog,
            id,
            &sys_id,
            &mut row.phone_logs,
            log,
        )?;
    }
    for related in related_records {
        append_child(
            staged,
            &mut additions,
            ChildTable::RelatedRecord,
            id,
            &sys_id,
            &mut row.related_records,
            related,
        )?;
    }
    additions.stage(staged)?;
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
    let current = row.to_aggregate();
    let change = plan(&current)?;

    let mut staged = Staged::new(group);
    let mut additions = Additions::default();
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
    let mut positions: HashMap<String, usize> = row
        .phone_logs
        .iter()
        .enumerate()
        .map(|(position, log)| (log.sys_id().to_owned(), position))
        .collect();
    for log in &change.phone_logs {
        match positions.get(log.sys_id()) {
            Some(&position) => {
                let address = child_address(ChildTable::PhoneLog, id, position as u64);
                mark_stray(
                    &mut staged,
                    ChildTable::PhoneLog,
                    sys_id,
                    log,
                    &address,
                    true,
                )?;
                row.phone_logs[position] = log.clone();
            }
            None => {
                positions.insert(log.sys_id().to_owned(), row.phone_logs.len());
                append_child(
                    &mut staged,
                    &mut additions,
                    ChildTable::PhoneLog,
                    id,
                    sys_id,
                    &mut row.phone_logs,
                    log.clone(),
                )?;
            }
        }
    }
    for related in &change.related_records {
        append_child(
            &mut staged,
            &mut additions,
            ChildTable::RelatedRecord,
            id,
            sys_id,
            &mut row.related_records,
            related.clone(),
        )?;
    }
    additions.stage(&mut staged)?;
    remove_children(
        &mut staged,
        ChildTable::PhoneLog,
        id,
        &mut row.phone_logs,
        &change.removed.phone_logs,
    )?;
    remove_children(
        &mut staged,
        ChildTable::RelatedRecord,
        id,
        &mut row.related_records,
        &change.removed.related_records,
    )?;
    row.version += 1;
    outbox::append(&mut staged, &InteractionEvent::updated(&current, &change))?;
    staged.insert(interaction_key(id), row.encode()?);
    staged.apply();
    Ok(Some(change))
}

/// Deletes interaction `sys_id` with its children, their directory entries and the interaction's indexes,
/// and appends its event; returns what it deleted, `None` when there is no such interaction. Writer thread
/// only.
pub(crate) fn delete(group: &GroupWrites, sys_id: &str) -> Result<Option<InteractionAggregate>> {
    let Some((id, bytes)) = find(group, sys_id)? else {
        return Ok(None);
    };
    let deleted = InteractionRow::decode(&bytes)?.into_aggregate();
    let mut staged = Staged::new(group);
    // Indexed as if number and session were cleared: their entries go.
    let mut cleared = deleted.interaction.clone();
    cleared.set(field::NUMBER, "");
    cleared.set(field::CLIENT_SESSION_ID, "");
    index(&mut staged, id, Some(&deleted.interaction), &cleared)?;
    directory::remove(&mut staged, Kind::Interaction, sys_id)?;
    for (kind, children) in [
        (ChildTable::PhoneLog, &deleted.phone_logs),
        (ChildTable::RelatedRecord, &deleted.related_records),
    ] {
        for child in children {
            directory::remove(&mut staged, Kind::Child(kind), child.sys_id())?;
            staged.remove(stray_key(kind, child.sys_id()));
        }
    }
    staged.remove(interaction_key(id));
    let highest = staged
        .get(NUMBERS_DELETED_KEY)?
        .and_then(|bytes| decode_u64(&bytes))
        .unwrap_or(0)
        .max(id);
    staged.insert(NUMBERS_DELETED_KEY.to_vec(), highest.to_be_bytes().to_vec());
    outbox::append(&mut staged, &InteractionEvent::deleted(&deleted))?;
    staged.apply();
    Ok(Some(deleted))
}

/// Removes the children of `kind` whose sys_ids are in `removed` from `children` (those of interaction
/// `id`), with their directory entries and stray marks, and moves the later ones' entries and marks to
/// their new positions.
fn remove_children(
    staged: &mut Staged<'_>,
    kind: ChildTable,
    id: u64,
    children: &mut Vec<Record>,
    removed: &BTreeSet<String>,
) -> Result<()> {
    let Some(first) = children.iter().position(|c| removed.contains(c.sys_id())) else {
        return Ok(());
    };
    for child in children.iter().filter(|c| removed.contains(c.sys_id())) {
        directory::remove(staged, Kind::Child(kind), child.sys_id())?;
        staged.remove(stray_key(kind, child.sys_id()));
    }
    children.retain(|c| !removed.contains(c.sys_id()));
    for (position, child) in children.iter().enumerate().skip(first) {
        let position = position as u64;
        directory::relocate(
            staged,
            Kind::Child(kind),
            child.sys_id(),
            Location { id, position },
        )?;
        let stray = stray_key(kind, child.sys_id());
        if staged.get(&stray)?.is_some() {
            staged.insert(stray, child_address(kind, id, position));
        }
    }
    Ok(())
}

/// Reads interaction `sys_id` with its children: its row, which holds them all, so a plain read on any
/// thread sees it whole, before or after any write.
pub(crate) fn load(data: &Tree, sys_id: &str) -> Result<Option<InteractionAggregate>> {
    let Some((_, bytes)) = find(data, sys_id)? else {
        return Ok(None);
    };
    Ok(Some(InteractionRow::decode(&bytes)?.into_aggregate()))
}

/// Interaction `sys_id`'s id and stored row. (Its directory entry never changes once written, so the two
/// reads cannot straddle a write that matters.)
pub(crate) fn find(data: &impl Read, sys_id: &str) -> Result<Option<(u64, IVec)>> {
    let Some(Location { id, .. }) = directory::find(data, Kind::Interaction, sys_id)? else {
        return Ok(None);
    };
    let row = data.get(&interaction_key(id))?.ok_or_else(|| {
        Error::internal(format!("interaction {sys_id} is indexed but has no row"))
    })?;
    Ok(Some((id, row)))
}

/// Whether interaction `id` exists and is numbered `number`.
fn numbered(data: &impl Read, id: u64, number: &str) -> Result<bool> {
    let Some(row) = data.get(&interaction_key(id))? else {
        return Ok(false);
    };
    Ok(crate::codec::decode_interaction_record(&row)?.get(field::NUMBER) == number)
}

/// The ids of the interactions numbered `number`: the one whose id it spells, and any listed under `n`
/// (see [`index`]).
pub(crate) fn ids_by_number(data: &impl Read, number: &str) -> Result<Vec<u64>> {
    let mut ids = Vec::new();
    if let Some(id) = parse_number(number)
        && numbered(data, id, number)?
    {
        ids.push(id);
    }
    if let Some(listed) = data.get(&number_key(number))? {
        let listed = decode_u64(&listed)
            .ok_or_else(|| Error::internal(format!("corrupt id of interaction {number}")))?;
        if !ids.contains(&listed) {
            ids.push(listed);
        }
    }
    Ok(ids)
}

/// The number the next created interaction gets, found from the interactions stored (the counter is not
/// stored; see `layout`): one past the highest id, since an interaction's id is its number's value.
pub(crate) fn recover_next_number(data: &Tree) -> Result<u64> {
    let deleted = data
        .get(NUMBERS_DELETED_KEY)
        .map_err(crate::error::from_sled)?
        .and_then(|bytes| decode_u64(&bytes));
    let highest = last_id(data, INTERACTIONS_PREFIX)?.max(deleted);
    Ok(highest.map_or(FIRST_NUMBER, |last| (last + 1).max(FIRST_NUMBER)))
}

/// Keeps the number and client-session indexes in step with interaction `id`'s record going from
/// `before` (`None` on create) to `after`.
///
/// A number that is its id's own spelling (`format_number(id)`, what every create gets) needs no index
/// entry: a lookup by number parses it and reads that id's row. Only another number (an import's other
/// spelling of its id, or one an update gave) is listed under `n`.
fn index(staged: &mut Staged<'_>, id: u64, before: Option<&Record>, after: &Record) -> Result<()> {
    let old = |name| before.map_or("", |r: &Record| r.get(name));
    let listed = |number: &str| !number.is_empty() && number != format_number(id);

    let (old_number, new_number) = (old(field::NUMBER), after.get(field::NUMBER));
    if old_number != new_number {
        if listed(old_number) {
            staged.remove(number_key(old_number));
        }
        if !new_number.is_empty() {
            let spelled = parse_number(new_number).filter(|&other| other != id);
            let listed_elsewhere = staged
                .get(&number_key(new_number))?
                .is_some_and(|other| decode_u64(&other) != Some(id));
            if listed_elsewhere
                || spelled.map_or(Ok(false), |other| numbered(staged, other, new_number))?
            {
                return Err(Error::internal(format!(
                    "interaction number {new_number} is already taken: the counter is behind"
                )));
            }
            if listed(new_number) {
                staged.insert(number_key(new_number), id.to_be_bytes().to_vec());
            }
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

/// Appends `record` to `children`, the list of its kind of interaction `id` (sys_id `sys_id`), and adds its
/// directory entry to `additions`; a sys_id another child of that table has is a conflict.
fn append_child(
    staged: &mut Staged<'_>,
    additions: &mut Additions,
    kind: ChildTable,
    id: u64,
    sys_id: &str,
    children: &mut Vec<Record>,
    record: Record,
) -> Result<()> {
    let position = children.len() as u64;
    let address = child_address(kind, id, position);
    if additions.taken(staged, Kind::Child(kind), record.sys_id())? {
        return Err(Conflict::SysId {
            table: record.table().name,
            sys_id: record.sys_id().to_owned(),
        }
        .into());
    }
    mark_stray(staged, kind, sys_id, &record, &address, false)?;
    additions.push(
        Kind::Child(kind),
        record.sys_id(),
        Location { id, position },
    );
    children.push(record);
    Ok(())
}

/// Lists `child` (at `address`, under interaction `sys_id`) as stray if its `interaction` field names
/// another interaction, and, when it `replaces` an earlier version, takes it off the list if it no longer
/// does (see `layout`).
fn mark_stray(
    staged: &mut Staged<'_>,
    kind: ChildTable,
    sys_id: &str,
    child: &Record,
    address: &[u8],
    replaces: bool,
) -> Result<()> {
    let stray = stray_key(kind, child.sys_id());
    if child.get(field::INTERACTION) != sys_id {
        staged.insert(stray, address.to_vec());
    } else if replaces && staged.get(&stray)?.is_some() {
        staged.remove(stray);
    }
    Ok(())
}
