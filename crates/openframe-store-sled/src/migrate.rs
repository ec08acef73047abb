//! Bringing a store written by an earlier build up to [`FORMAT_VERSION`] when it is opened.
//!
//! Version 2 kept each phone log and related record under a key of its own (`p`/`r`, the child's address)
//! and interaction rows with child counts, and kept the number and event counters under `m` keys that every
//! write rewrote. Version 3 keeps the children in their interaction's row and the counters nowhere (see
//! `layout`). The sys_id indexes, the stray list and the events are the same in both: a child's address did
//! not change, only what is stored at it.
//!
//! The conversion rewrites each interaction's row with its children in it and removes their keys, a
//! bounded number of interactions per atomic batch, then removes the counters, flushes, and only then
//! records the new version. A crash part-way leaves a store still marked version 2 in which each
//! interaction is whole in one form or the other; the next open goes on from there (a row already in the
//! new form says so by its version byte).

use openframe_core::schema::{PHONE_LOG, RELATED_RECORD, Table};
use openframe_core::{Context, Error, Record, Result};
use sled::Batch;

use crate::codec::{
    self, FORMAT_VERSION, InteractionRow, SEPARATE_CHILDREN_VERSION, decode_version,
};
use crate::error::from_sled;
use crate::layout::{
    ChildTable, FORMAT_VERSION_KEY, INTERACTIONS_PREFIX, LEGACY_EVENT_HEAD_KEY,
    LEGACY_NEXT_NUMBER_KEY, Trees, child_address, trailing_id,
};

/// Interactions converted per batch: bounds the memory a conversion holds at once.
const PER_BATCH: usize = 1_000;

/// A version-2 interaction row: values, context, phone-log count, related-record count, version.
type SeparateChildrenRow = (Vec<String>, Context, u64, u64, u64);

/// Converts a version-2 store (its `meta` says so) to the current version.
pub(crate) fn from_separate_children(trees: &Trees) -> Result<()> {
    let data = &trees.data;
    let mut batch = Batch::default();
    let mut in_batch = 0;
    for entry in data.scan_prefix(INTERACTIONS_PREFIX) {
        let (key, bytes) = entry.map_err(from_sled)?;
        if bytes.first() == Some(&FORMAT_VERSION) {
            continue; // converted by an open that did not finish
        }
        let id = trailing_id(&key).ok_or_else(|| Error::internal("corrupt interaction key"))?;
        let (values, context, logs, related, version): SeparateChildrenRow = decode_version(
            &bytes,
            "interaction (version 2)",
            &[SEPARATE_CHILDREN_VERSION],
        )?;
        let row = InteractionRow {
            record: Record::from_values(&openframe_core::schema::INTERACTION, values)?,
            context,
            phone_logs: take_children(trees, &mut batch, ChildTable::PhoneLog, id, logs)?,
            related_records: take_children(
                trees,
                &mut batch,
                ChildTable::RelatedRecord,
                id,
                related,
            )?,
            version,
        };
        batch.insert(key, row.encode()?);
        in_batch += 1;
        if in_batch == PER_BATCH {
            data.apply_batch(std::mem::take(&mut batch))
                .map_err(from_sled)?;
            in_batch = 0;
        }
    }
    batch.remove(LEGACY_NEXT_NUMBER_KEY);
    batch.remove(LEGACY_EVENT_HEAD_KEY);
    data.apply_batch(batch).map_err(from_sled)?;
    trees.db.flush().map_err(from_sled)?;
    trees
        .meta
        .insert(FORMAT_VERSION_KEY, &[FORMAT_VERSION][..])
        .map_err(from_sled)?;
    trees.db.flush().map_err(from_sled)?;
    Ok(())
}

/// The first `count` children of `kind` of interaction `id`, read from their own keys, which `batch` is
/// to remove.
fn take_children(
    trees: &Trees,
    batch: &mut Batch,
    kind: ChildTable,
    id: u64,
    count: u64,
) -> Result<Vec<Record>> {
    let table: &'static Table = match kind {
        ChildTable::PhoneLog => &PHONE_LOG,
        ChildTable::RelatedRecord => &RELATED_RECORD,
    };
    (0..count)
        .map(|position| {
            let key = child_address(kind, id, position);
            let bytes = trees.data.get(&key).map_err(from_sled)?.ok_or_else(|| {
                Error::internal(format!(
                    "{} {position} of interaction {id} is missing",
                    table.name
                ))
            })?;
            batch.remove(key);
            codec::decode_record(table, &bytes)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! A version-2 store written key by key, as the version-2 build wrote it, then opened.

    use openframe_core::schema::{INTERACTION, field};
    use openframe_core::{Repository, SysId};

    use super::*;
    use crate::SledRepository;
    use crate::layout::{
        EVENTS_PRUNED_KEY, child_id_key, client_session_key, event_key, interaction_id_key,
        interaction_key, number_key,
    };

    /// Writes `interactions` (sys_id, number id, phone-log call ids, related document ids) into `dir` as a
    /// version-2 store, with `events` events and the version-2 counters.
    fn write_version_2(dir: &std::path::Path, interactions: &[(&SysId, u64, &[&str], &[&str])]) {
        let db = sled::Config::new().path(dir).open().unwrap();
        let trees = Trees::open(db).unwrap();
        let v2 = |mut bytes: Vec<u8>| {
            bytes[0] = SEPARATE_CHILDREN_VERSION;
            bytes
        };
        let mut last_event = 0;
        for (sys_id, id, logs, related) in interactions {
            let mut record = Record::new(&INTERACTION);
            record.set(field::SYS_ID, sys_id.as_str());
            record.set(field::NUMBER, openframe_core::number::format_number(*id));
            record.set(field::CLIENT_SESSION_ID, "session");
            let data = &trees.data;
            data.insert(interaction_id_key(sys_id.as_str()), &id.to_be_bytes())
                .unwrap();
            data.insert(number_key(record.get(field::NUMBER)), &id.to_be_bytes())
                .unwrap();
            data.insert(client_session_key("session", *id), &[][..])
                .unwrap();
            for (kind, table, names) in [
                (ChildTable::PhoneLog, &PHONE_LOG, *logs),
                (ChildTable::RelatedRecord, &RELATED_RECORD, *related),
            ] {
                for (position, name) in names.iter().enumerate() {
                    let mut child = Record::new(table);
                    let child_id = SysId::random();
                    child.set(field::SYS_ID, child_id.as_str());
                    child.set(field::INTERACTION, sys_id.as_str());
                    let named = if kind == ChildTable::PhoneLog {
                        field::CALL_ID
                    } else {
                        field::DOCUMENT_ID
                    };
                    child.set(named, *name);
                    let address = child_address(kind, *id, position as u64);
                    data.insert(child_id_key(kind, child_id.as_str()), address.as_slice())
                        .unwrap();
                    data.insert(address, v2(codec::encode_record(&child).unwrap()))
                        .unwrap();
                }
            }
            let context: Context = [("k".to_owned(), "v".to_owned())].into();
            let mut row = vec![0];
            serde_json::to_writer(
                &mut row,
                &(record.values(), &context, logs.len(), related.len(), 2u64),
            )
            .unwrap();
            data.insert(interaction_key(*id), v2(row)).unwrap();
            last_event += 1;
            let created = openframe_core::InteractionAggregate {
                interaction: record.clone(),
                context: context.clone(),
                phone_logs: Vec::new(),
                related_records: Vec::new(),
            };
            let event = openframe_core::InteractionEvent::created(&created).to_payload();
            data.insert(event_key(last_event), event.as_bytes())
                .unwrap();
        }
        let next = interactions.iter().map(|i| i.1 + 1).max().unwrap_or(1001);
        trees
            .data
            .insert(LEGACY_NEXT_NUMBER_KEY, &next.to_be_bytes())
            .unwrap();
        trees
            .data
            .insert(LEGACY_EVENT_HEAD_KEY, &u64::to_be_bytes(last_event))
            .unwrap();
        trees
            .meta
            .insert(FORMAT_VERSION_KEY, &[SEPARATE_CHILDREN_VERSION][..])
            .unwrap();
        trees.db.flush().unwrap();
    }

    fn call_ids(found: &openframe_core::InteractionAggregate) -> Vec<&str> {
        found
            .phone_logs
            .iter()
            .map(|log| log.get(field::CALL_ID))
            .collect()
    }

    #[tokio::test]
    async fn a_version_2_store_is_converted_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (SysId::random(), SysId::random());
        write_version_2(
            dir.path(),
            &[(&a, 1001, &["1", "2", "3"], &["d"]), (&b, 1002, &[], &[])],
        );

        let repo = SledRepository::open(dir.path()).unwrap();
        let found = repo.load_interaction(&a).await.unwrap().unwrap();
        assert_eq!(call_ids(&found), ["1", "2", "3"]);
        assert_eq!(found.related_records[0].get(field::DOCUMENT_ID), "d");
        assert_eq!(found.context["k"], "v");
        assert!(repo.load_interaction(&b).await.unwrap().is_some());
        // A child is found by its sys_id through the unchanged index.
        let log_id = SysId::parse(found.phone_logs[1].sys_id()).unwrap();
        let log = repo.read_record(&PHONE_LOG, &log_id).await.unwrap();
        assert_eq!(log.unwrap().get(field::CALL_ID), "2");

        // No child keys or counters are left, and the store says version 3.
        let data = &repo.trees.data;
        for prefix in [b"p", b"r"] {
            assert_eq!(data.scan_prefix(prefix).count(), 0);
        }
        assert!(data.get(LEGACY_NEXT_NUMBER_KEY).unwrap().is_none());
        assert!(data.get(LEGACY_EVENT_HEAD_KEY).unwrap().is_none());
        assert!(data.get(EVENTS_PRUNED_KEY).unwrap().is_none());
        assert_eq!(
            &*repo.trees.meta.get(FORMAT_VERSION_KEY).unwrap().unwrap(),
            [FORMAT_VERSION]
        );

        // Numbering and events go on where the version-2 counters stood.
        let c = SysId::random();
        let mut new = found.clone();
        new.interaction.set(field::SYS_ID, c.as_str());
        new.phone_logs.clear();
        new.related_records.clear();
        assert_eq!(repo.create_interaction(new).await.unwrap(), "IMS0001003");
        let page = repo.events_after(0, 10).await.unwrap();
        let ids: Vec<u64> = page.events.iter().map(|e| e.id).collect();
        assert_eq!(ids.last(), Some(&3));
    }

    #[test]
    fn a_conversion_cut_short_goes_on_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (SysId::random(), SysId::random());
        write_version_2(
            dir.path(),
            &[(&a, 1001, &["1"], &[]), (&b, 1002, &["2"], &[])],
        );
        {
            // Convert only the first interaction, as a conversion stopped after its first batch would.
            let db = sled::Config::new().path(dir.path()).open().unwrap();
            let trees = Trees::open(db).unwrap();
            let bytes = trees.data.get(interaction_key(1001)).unwrap().unwrap();
            let (values, context, _, _, version): SeparateChildrenRow =
                decode_version(&bytes, "interaction", &[SEPARATE_CHILDREN_VERSION]).unwrap();
            let mut batch = Batch::default();
            let row = InteractionRow {
                record: Record::from_values(&INTERACTION, values).unwrap(),
                context,
                phone_logs: take_children(&trees, &mut batch, ChildTable::PhoneLog, 1001, 1)
                    .unwrap(),
                related_records: Vec::new(),
                version,
            };
            batch.insert(interaction_key(1001), row.encode().unwrap());
            trees.data.apply_batch(batch).unwrap();
            trees.db.flush().unwrap();
        }
        let repo = SledRepository::open(dir.path()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for (sys_id, call_id) in [(&a, "1"), (&b, "2")] {
            let found = rt.block_on(repo.load_interaction(sys_id)).unwrap().unwrap();
            assert_eq!(call_ids(&found), [call_id]);
        }
    }
}
