//! Bringing a store written by an earlier build up to [`FORMAT_VERSION`] when it is opened.
//!
//! Version 2 kept each phone log and related record under a key of its own (`p`/`r`, the child's address)
//! and interaction rows with child counts; it indexed every sys_id under a key of its own (`I`, `P`, `R`)
//! and every number (`n`); and it kept the number and event counters under `m` keys that every write
//! rewrote. Version 3 keeps the children in their interaction's row, the sys_ids in the directory's
//! buckets (the `directory` module), only the numbers that are not their id's own spelling, and the
//! counters nowhere (see `layout`). Client-session entries, strays and events are the same in both: a
//! child's address did not change, only what is stored at it.
//!
//! The conversion rewrites each interaction whole (its row with its children in it, its directory entries,
//! the removal of its old keys) as one staged write, applies a bounded number of interactions per atomic
//! batch, then removes the counters, flushes, and only then records the new version. A crash part-way
//! leaves a store still marked version 2 in which each interaction is whole in one form or the other; the
//! next open goes on from there (a row already in the new form says so by its version byte).

use std::sync::Arc;

use openframe_core::number::format_number;
use openframe_core::schema::{INTERACTION, PHONE_LOG, RELATED_RECORD, Table, field};
use openframe_core::{Context, Error, Record, Result};

use crate::codec::{
    self, FORMAT_VERSION, InteractionRow, PLAIN_ROW_VERSION, SEPARATE_CHILDREN_VERSION,
    decode_version,
};
use crate::directory::{self, Kind, Location};
use crate::error::from_sled;
use crate::group::{Counters, GroupWrites};
use crate::layout::{
    CLIENT_SESSIONS_FOLDED_KEY, CLIENT_SESSIONS_PREFIX, ChildTable, FORMAT_VERSION_KEY,
    INTERACTIONS_PREFIX, LEGACY_EVENT_HEAD_KEY, LEGACY_NEXT_NUMBER_KEY, Read, Staged, Trees,
    child_address, client_session_key, number_key, parse_client_session_key, trailing_id,
};

/// Interactions converted per batch: bounds the memory a conversion holds at once.
const PER_BATCH: usize = 1_000;

/// A version-2 interaction row: values, context, phone-log count, related-record count, version.
type SeparateChildrenRow = (Vec<String>, Context, u64, u64, u64);

/// The key of a version-2 sys_id index entry: `I` (interactions), `P` (phone logs) or `R` (related
/// records), then the sys_id.
fn legacy_sys_id_key(index: u8, sys_id: &str) -> Vec<u8> {
    [&[index][..], sys_id.as_bytes()].concat()
}

/// Converts a version-2 store (its `meta` says so) to the current version.
pub(crate) fn from_separate_children(trees: &Arc<Trees>) -> Result<()> {
    let group = GroupWrites::new(Arc::clone(trees), Counters::default());
    let mut in_batch = 0;
    for entry in trees.data.scan_prefix(INTERACTIONS_PREFIX) {
        let (key, bytes) = entry.map_err(from_sled)?;
        if matches!(bytes.first(), Some(&(PLAIN_ROW_VERSION | FORMAT_VERSION))) {
            continue; // converted by an open that did not finish (by this build or a version-3 one)
        }
        let id = trailing_id(&key).ok_or_else(|| Error::internal("corrupt interaction key"))?;
        let mut staged = Staged::new(&group);
        convert(&mut staged, id, &bytes)?;
        staged.apply();
        in_batch += 1;
        if in_batch == PER_BATCH {
            group.settle()?;
            in_batch = 0;
        }
    }
    let mut staged = Staged::new(&group);
    staged.remove(LEGACY_NEXT_NUMBER_KEY.to_vec());
    staged.remove(LEGACY_EVENT_HEAD_KEY.to_vec());
    staged.apply();
    group.finish().map_err(from_sled)?;
    trees.db.flush().map_err(from_sled)?;
    record_format(trees)
}

/// Keys the client-session index by folded ids, once: a store written before holds them as sent. Each
/// entry is rewritten under its folded key in one batch, then the marker is recorded; cut short, it runs
/// again at the next open (rewriting a folded key changes nothing).
pub(crate) fn fold_client_sessions(trees: &Trees) -> Result<()> {
    if trees
        .meta
        .get(CLIENT_SESSIONS_FOLDED_KEY)
        .map_err(from_sled)?
        .is_some()
    {
        return Ok(());
    }
    let mut batch = sled::Batch::default();
    for key in trees.data.scan_prefix(CLIENT_SESSIONS_PREFIX).keys() {
        let key = key.map_err(from_sled)?;
        let (session, id) = parse_client_session_key(&key)
            .ok_or_else(|| Error::internal("corrupt client-session index entry"))?;
        let folded = client_session_key(session, id);
        if folded != *key {
            batch.remove(key.clone());
            batch.insert(folded, &[][..]);
        }
    }
    trees.data.apply_batch(batch).map_err(from_sled)?;
    trees.db.flush().map_err(from_sled)?;
    trees
        .meta
        .insert(CLIENT_SESSIONS_FOLDED_KEY, &[1][..])
        .map_err(from_sled)?;
    trees.db.flush().map_err(from_sled)?;
    Ok(())
}

/// Records this build's format version in `meta`, durably: in a new store, last in a conversion, and in a
/// version-3 store before its first compressed row is written.
pub(crate) fn record_format(trees: &Trees) -> Result<()> {
    trees
        .meta
        .insert(FORMAT_VERSION_KEY, &[FORMAT_VERSION][..])
        .map_err(from_sled)?;
    trees.db.flush().map_err(from_sled)?;
    Ok(())
}

/// Stages interaction `id`, stored as the version-2 row `bytes`, in the current form.
fn convert(staged: &mut Staged<'_>, id: u64, bytes: &[u8]) -> Result<()> {
    let (values, context, logs, related, version): SeparateChildrenRow = decode_version(
        bytes,
        "interaction (version 2)",
        &[SEPARATE_CHILDREN_VERSION],
    )?;
    let record = Record::from_values(&INTERACTION, values)?;
    let sys_id = record.sys_id().to_owned();
    staged.remove(legacy_sys_id_key(b'I', &sys_id));
    directory::add(
        staged,
        Kind::Interaction,
        &sys_id,
        Location { id, position: 0 },
    )?;
    let number = record.get(field::NUMBER);
    if number == format_number(id) {
        staged.remove(number_key(number)); // its own spelling: found without an entry
    }
    let row = InteractionRow {
        phone_logs: take_children(staged, ChildTable::PhoneLog, id, logs)?,
        related_records: take_children(staged, ChildTable::RelatedRecord, id, related)?,
        record,
        context,
        version,
    };
    staged.insert(crate::layout::interaction_key(id), row.encode()?);
    Ok(())
}

/// The first `count` children of `kind` of interaction `id`, read from their own keys, which are removed
/// with their index entries, replaced by directory entries.
fn take_children(
    staged: &mut Staged<'_>,
    kind: ChildTable,
    id: u64,
    count: u64,
) -> Result<Vec<Record>> {
    let (table, index): (&'static Table, u8) = match kind {
        ChildTable::PhoneLog => (&PHONE_LOG, b'P'),
        ChildTable::RelatedRecord => (&RELATED_RECORD, b'R'),
    };
    (0..count)
        .map(|position| {
            let key = child_address(kind, id, position);
            let bytes = staged.get(&key)?.ok_or_else(|| {
                Error::internal(format!(
                    "{} {position} of interaction {id} is missing",
                    table.name
                ))
            })?;
            let child = codec::decode_record(table, &bytes)?;
            staged.remove(key);
            staged.remove(legacy_sys_id_key(index, child.sys_id()));
            directory::add(
                staged,
                Kind::Child(kind),
                child.sys_id(),
                Location { id, position },
            )?;
            Ok(child)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! A version-2 store written key by key, as the version-2 build wrote it, then opened.

    use openframe_core::query::TableQuery;
    use openframe_core::{Repository, SysId};

    use super::*;
    use crate::SledRepository;
    use crate::layout::{EVENTS_PRUNED_KEY, client_session_key, event_key, interaction_key};
    use crate::testing::when_unlocked;

    /// An interaction of a version-2 store: sys_id, id, number, phone-log call ids, related document ids.
    type Written<'a> = (&'a SysId, u64, &'a str, &'a [&'a str], &'a [&'a str]);

    /// A raw sled database in `dir`, opened as the store opens it (no periodic flusher).
    fn raw(dir: &std::path::Path) -> sled::Db {
        when_unlocked(|| crate::repository::config().path(dir).open())
    }

    /// The store in `dir`, once sled has let go of it.
    fn reopen(dir: &std::path::Path) -> SledRepository {
        when_unlocked(|| SledRepository::open(dir))
    }

    /// Writes `interactions` into `dir` as a version-2 store, with an event each and the version-2 counters.
    fn write_version_2(dir: &std::path::Path, interactions: &[Written<'_>]) {
        let db = raw(dir);
        let trees = Trees::open(db).unwrap();
        let v2 = |mut bytes: Vec<u8>| {
            bytes[0] = SEPARATE_CHILDREN_VERSION;
            bytes
        };
        let mut last_event = 0;
        for (sys_id, id, number, logs, related) in interactions {
            let mut record = Record::new(&INTERACTION);
            record.set(field::SYS_ID, sys_id.as_str());
            record.set(field::NUMBER, *number);
            record.set(field::CLIENT_SESSION_ID, "session");
            let data = &trees.data;
            data.insert(legacy_sys_id_key(b'I', sys_id.as_str()), &id.to_be_bytes())
                .unwrap();
            data.insert(number_key(record.get(field::NUMBER)), &id.to_be_bytes())
                .unwrap();
            data.insert(client_session_key("session", *id), &[][..])
                .unwrap();
            for (kind, table, index, names) in [
                (ChildTable::PhoneLog, &PHONE_LOG, b'P', *logs),
                (ChildTable::RelatedRecord, &RELATED_RECORD, b'R', *related),
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
                    data.insert(
                        legacy_sys_id_key(index, child_id.as_str()),
                        address.as_slice(),
                    )
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
        // `b` was imported with another spelling of its number.
        write_version_2(
            dir.path(),
            &[
                (&a, 1001, "IMS0001001", &["1", "2", "3"], &["d"]),
                (&b, 1002, "IMS00001002", &[], &[]),
            ],
        );

        let repo = reopen(dir.path());
        let found = repo.load_interaction(&a).await.unwrap().unwrap();
        assert_eq!(call_ids(&found), ["1", "2", "3"]);
        assert_eq!(found.related_records[0].get(field::DOCUMENT_ID), "d");
        assert_eq!(found.context["k"], "v");
        assert!(repo.load_interaction(&b).await.unwrap().is_some());
        // A child is found by its sys_id, and interactions by their numbers.
        let log_id = SysId::parse(found.phone_logs[1].sys_id()).unwrap();
        let log = repo.read_record(&PHONE_LOG, &log_id).await.unwrap();
        assert_eq!(log.unwrap().get(field::CALL_ID), "2");
        for (number, sys_id) in [("IMS0001001", &a), ("IMS00001002", &b)] {
            let query = format!("number={number}");
            let query = TableQuery::parse(&INTERACTION, Some(&query), None, None).unwrap();
            let page = repo.query_records(&query).await.unwrap();
            assert_eq!(page.records.len(), 1, "{number}");
            assert_eq!(page.records[0].sys_id(), sys_id.as_str());
        }

        // No child keys, sys_id index entries, plain numbers or counters are left, and the store says
        // version 3.
        let data = &repo.trees.data;
        for prefix in [b"p", b"r", b"I", b"P", b"R"] {
            assert_eq!(data.scan_prefix(prefix).count(), 0);
        }
        let numbers: Vec<_> = data.scan_prefix(b"n").keys().map(|k| k.unwrap()).collect();
        assert_eq!(numbers, [number_key("IMS00001002")]);
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
            &[
                (&a, 1001, "IMS0001001", &["1"], &[]),
                (&b, 1002, "IMS0001002", &["2"], &[]),
            ],
        );
        {
            // Convert only the first interaction, as a conversion stopped after its first batch would.
            let db = raw(dir.path());
            let trees = Arc::new(Trees::open(db).unwrap());
            let group = GroupWrites::new(Arc::clone(&trees), Counters::default());
            let bytes = trees.data.get(interaction_key(1001)).unwrap().unwrap();
            let mut staged = Staged::new(&group);
            convert(&mut staged, 1001, &bytes).unwrap();
            staged.apply();
            group.finish().unwrap();
            trees.db.flush().unwrap();
        }
        let repo = reopen(dir.path());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for (sys_id, call_id) in [(&a, "1"), (&b, "2")] {
            let found = rt.block_on(repo.load_interaction(sys_id)).unwrap().unwrap();
            assert_eq!(call_ids(&found), [call_id]);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_session_index_written_as_sent_is_folded_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        {
            let repo: std::sync::Arc<dyn Repository> =
                std::sync::Arc::new(SledRepository::open(dir.path()).unwrap());
            let service = openframe_core::Service::new(std::sync::Arc::clone(&repo));
            let caller = openframe_core::Caller {
                sys_id: SysId::random(),
                user_name: "agent".into(),
            };
            let body = serde_json::json!({"interaction": {
                "userPhoneNumber": "+14089965744", "clientSessionId": "MiXeD-1"}});
            let request =
                openframe_core::VoiceInteractionRequest::parse(&body, openframe_core::Mode::Create)
                    .unwrap();
            service.create(&caller, request).await.unwrap();
            repo.close().await;
        }
        // As an earlier build left it: the entry under the id as sent, and no marker.
        {
            let db = raw(dir.path());
            let trees = Trees::open(db).unwrap();
            let key = trees
                .data
                .scan_prefix(CLIENT_SESSIONS_PREFIX)
                .keys()
                .next()
                .unwrap()
                .unwrap();
            let (session, id) = parse_client_session_key(&key).unwrap();
            assert_eq!(session, "mixed-1", "new entries are folded");
            let mut as_sent = vec![CLIENT_SESSIONS_PREFIX[0]];
            as_sent.extend_from_slice(&7u32.to_be_bytes());
            as_sent.extend_from_slice(b"MiXeD-1");
            as_sent.extend_from_slice(&id.to_be_bytes());
            trees.data.remove(&key).unwrap();
            trees.data.insert(as_sent, &[][..]).unwrap();
            trees.meta.remove(CLIENT_SESSIONS_FOLDED_KEY).unwrap();
            trees.db.flush().unwrap();
        }
        let repo = reopen(dir.path());
        for asked in ["MIXED-1", "mixed-1", "MiXeD-1"] {
            let query = TableQuery::parse(
                &INTERACTION,
                Some(&format!("client_session_id={asked}")),
                None,
                None,
            )
            .unwrap();
            let run = repo.trees.query(&query).unwrap();
            assert_eq!(run.page.total, 1, "{asked}");
            assert!(
                matches!(run.plan, crate::query::Plan::Lookups(_)),
                "{asked}"
            );
        }
        assert!(
            repo.trees
                .meta
                .get(CLIENT_SESSIONS_FOLDED_KEY)
                .unwrap()
                .is_some()
        );
    }
}
