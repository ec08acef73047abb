//! The sys_id directory: where the interaction, phone log or related record with a given sys_id is stored.
//!
//! Why buckets: sys_ids made by the service are time-ordered (UUID v7: their first 12 hex characters are
//! the millisecond they were made in), so a create's interaction and children have sys_ids that sort after
//! every earlier one. Kept as a key each, they were six inserts per create at the end of the tree, and sled
//! splits a leaf every eight or so such appends, rewriting it: the directory's entries were most of a
//! create's cost in sled. So sys_ids that share their first [`BUCKET_PREFIX`] characters share one key,
//! `B` and that prefix, whose value lists them in order: a create updates one bucket (the one of the
//! millisecond it was made in) instead of inserting six keys, and a bucket holds the few dozen records
//! made in one millisecond. sys_ids that are not 32 characters, and any sys_id whose bucket is full (a
//! bucket holds at most [`BUCKET_CAPACITY`] entries, so that many sys_ids sharing a prefix, as an import
//! of made-up ids might, never make each update rewrite a long list), get a key of their own instead: `S`,
//! the kind and the sys_id. A full bucket stays full: an entry removed from it (a deleted record) stays as
//! a [`REMOVED`] mark, so that a lookup that misses a full bucket still looks under the own keys. A child's
//! entry moves when an earlier sibling is deleted ([`relocate`]).
//!
//! A bucket's value is a sorted run of fixed-size entries, so a lookup is a binary search on the stored
//! bytes, with nothing decoded: the sys_id (32 bytes), the kind (`i` interaction, `p` phone log, `r`
//! related record: one sys_id may be used by two tables), and the location (an interaction's id, or a
//! child's interaction id and position; see `layout`). Scanning the buckets in key order, then each
//! bucket's entries, lists sys_ids in order (export pages do).

use std::collections::BTreeMap;

use openframe_core::{Error, Result};
use sled::Tree;

use crate::layout::{ChildTable, Read, Staged, decode_u64};

/// How many leading characters of a sys_id name its bucket: a UUID v7's millisecond.
pub(crate) const BUCKET_PREFIX: usize = 12;

/// The most entries a bucket holds; later sys_ids of a full bucket get keys of their own.
pub(crate) const BUCKET_CAPACITY: usize = 256;

/// The sys_ids kept in buckets: the length of every sys_id the service makes.
const SYS_ID_LEN: usize = 32;

/// sys_id, kind, id, position.
const ENTRY_LEN: usize = SYS_ID_LEN + 1 + 8 + 8;

const BUCKET: u8 = b'B';
const OWN_KEY: u8 = b'S';

/// What a directory entry locates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Interaction,
    Child(ChildTable),
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Interaction => b'i',
            Kind::Child(ChildTable::PhoneLog) => b'p',
            Kind::Child(ChildTable::RelatedRecord) => b'r',
        }
    }
}

/// Where a record is: its interaction's id, and for a child its position in the interaction's list (0 for
/// an interaction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) id: u64,
    pub(crate) position: u64,
}

impl Location {
    fn encode(self) -> [u8; 16] {
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&self.id.to_be_bytes());
        bytes[8..].copy_from_slice(&self.position.to_be_bytes());
        bytes
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        let corrupt = || Error::internal("a corrupt sys_id directory entry in the sled store");
        if bytes.len() != 16 {
            return Err(corrupt());
        }
        Ok(Location {
            id: decode_u64(&bytes[..8]).ok_or_else(corrupt)?,
            position: decode_u64(&bytes[8..]).ok_or_else(corrupt)?,
        })
    }
}

/// The location of an entry removed from a full bucket: no record has it.
const REMOVED: Location = Location {
    id: u64::MAX,
    position: u64::MAX,
};

/// The key of the bucket of a 32-character sys_id.
pub(crate) fn bucket_key(sys_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + BUCKET_PREFIX);
    key.push(BUCKET);
    key.extend_from_slice(&sys_id.as_bytes()[..BUCKET_PREFIX.min(sys_id.len())]);
    key
}

/// The prefix of every bucket key.
pub(crate) const BUCKETS_PREFIX: [u8; 1] = [BUCKET];

/// The key of a sys_id kept outside the buckets.
fn own_key(kind: Kind, sys_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(2 + sys_id.len());
    key.push(OWN_KEY);
    key.push(kind.byte());
    key.extend_from_slice(sys_id.as_bytes());
    key
}

/// The prefix of the own keys of one kind: they sort by sys_id.
pub(crate) fn own_keys_prefix(kind: Kind) -> [u8; 2] {
    [OWN_KEY, kind.byte()]
}

/// The sys_id of an own key (under [`own_keys_prefix`]).
pub(crate) fn own_key_sys_id(key: &[u8]) -> &[u8] {
    key.get(2..).unwrap_or_default()
}

/// The entries of a bucket's value: whole entries only.
fn entries(bucket: &[u8]) -> Result<std::slice::ChunksExact<'_, u8>> {
    if !bucket.len().is_multiple_of(ENTRY_LEN) {
        return Err(Error::internal(
            "a corrupt sys_id directory bucket in the sled store",
        ));
    }
    Ok(bucket.chunks_exact(ENTRY_LEN))
}

/// Where in `bucket` the entry of (`sys_id`, `kind`) is (`Ok`) or would go (`Err`), in entries.
fn search(bucket: &[u8], sys_id: &[u8], kind: Kind) -> Result<std::result::Result<usize, usize>> {
    let count = entries(bucket)?.len();
    let wanted = (sys_id, kind.byte());
    let (mut low, mut high) = (0, count);
    while low < high {
        let middle = (low + high) / 2;
        let entry = &bucket[middle * ENTRY_LEN..];
        match (&entry[..SYS_ID_LEN], entry[SYS_ID_LEN]).cmp(&wanted) {
            std::cmp::Ordering::Less => low = middle + 1,
            std::cmp::Ordering::Greater => high = middle,
            std::cmp::Ordering::Equal => return Ok(Ok(middle)),
        }
    }
    Ok(Err(low))
}

/// Where the record of `kind` with `sys_id` is, if there is one.
pub(crate) fn find(data: &impl Read, kind: Kind, sys_id: &str) -> Result<Option<Location>> {
    if sys_id.len() == SYS_ID_LEN
        && let Some(bucket) = data.get(&bucket_key(sys_id))?
    {
        if let Ok(at) = search(&bucket, sys_id.as_bytes(), kind)? {
            let entry = &bucket[at * ENTRY_LEN..(at + 1) * ENTRY_LEN];
            let location = Location::decode(&entry[SYS_ID_LEN + 1..])?;
            return Ok((location != REMOVED).then_some(location));
        }
        if bucket.len() < BUCKET_CAPACITY * ENTRY_LEN {
            return Ok(None); // not full: the sys_id would be in it
        }
    }
    data.get(&own_key(kind, sys_id))?
        .map(|bytes| Location::decode(&bytes))
        .transpose()
}

/// Records where the record of `kind` with `sys_id` is; the caller has checked it has no entry yet.
pub(crate) fn add(
    staged: &mut Staged<'_>,
    kind: Kind,
    sys_id: &str,
    location: Location,
) -> Result<()> {
    let mut additions = Additions::default();
    additions.push(kind, sys_id, location);
    additions.stage(staged)
}

/// Removes the entry of the record of `kind` with `sys_id`, if it has one (the record is deleted).
pub(crate) fn remove(staged: &mut Staged<'_>, kind: Kind, sys_id: &str) -> Result<()> {
    rewrite(staged, kind, sys_id, None)
}

/// Moves the entry of the record of `kind` with `sys_id` to `location` (a child whose earlier sibling was
/// deleted).
pub(crate) fn relocate(
    staged: &mut Staged<'_>,
    kind: Kind,
    sys_id: &str,
    location: Location,
) -> Result<()> {
    rewrite(staged, kind, sys_id, Some(location))
}

/// Sets the entry of (`kind`, `sys_id`), which must exist, to `location`, or removes it (`None`): from a
/// bucket that is not full it goes, in a full one it stays as a [`REMOVED`] mark.
fn rewrite(
    staged: &mut Staged<'_>,
    kind: Kind,
    sys_id: &str,
    location: Option<Location>,
) -> Result<()> {
    if sys_id.len() == SYS_ID_LEN {
        let key = bucket_key(sys_id);
        if let Some(bucket) = staged.get(&key)?
            && let Ok(at) = search(&bucket, sys_id.as_bytes(), kind)?
        {
            let mut bucket = bucket.to_vec();
            let full = bucket.len() >= BUCKET_CAPACITY * ENTRY_LEN;
            let entry = at * ENTRY_LEN..(at + 1) * ENTRY_LEN;
            match location.or(full.then_some(REMOVED)) {
                Some(location) => {
                    bucket[entry.start + SYS_ID_LEN + 1..entry.end]
                        .copy_from_slice(&location.encode());
                }
                None => {
                    bucket.drain(entry);
                }
            }
            if bucket.is_empty() {
                staged.remove(key);
            } else {
                staged.insert(key, bucket);
            }
            return Ok(());
        }
    }
    match location {
        Some(location) => staged.insert(own_key(kind, sys_id), location.encode().to_vec()),
        None => staged.remove(own_key(kind, sys_id)),
    }
    Ok(())
}

/// The directory entries of one write (a create's interaction and children, an update's new children),
/// staged together: each bucket they fall in is read and written once.
#[derive(Default)]
pub(crate) struct Additions {
    /// Sorted by kind and sys_id, so that [`Additions::taken`] is a binary search.
    entries: Vec<(Kind, String, Location)>,
}

impl Additions {
    /// Where among the entries (`kind`, `sys_id`) is (`Ok`) or would go (`Err`).
    fn search(&self, kind: Kind, sys_id: &str) -> std::result::Result<usize, usize> {
        self.entries
            .binary_search_by(|(k, s, _)| (k.byte(), s.as_str()).cmp(&(kind.byte(), sys_id)))
    }

    /// Whether the record of `kind` with `sys_id` has an entry: in the directory as `staged` reads it, or
    /// among these additions.
    pub(crate) fn taken(&self, staged: &Staged<'_>, kind: Kind, sys_id: &str) -> Result<bool> {
        Ok(self.search(kind, sys_id).is_ok() || find(staged, kind, sys_id)?.is_some())
    }

    /// Adds the entry of a record that has none (see [`Additions::taken`]).
    pub(crate) fn push(&mut self, kind: Kind, sys_id: &str, location: Location) {
        if let Err(at) = self.search(kind, sys_id) {
            self.entries.insert(at, (kind, sys_id.to_owned(), location));
        }
    }

    /// Stages every entry: into its bucket while the bucket has room, else under a key of its own.
    pub(crate) fn stage(self, staged: &mut Staged<'_>) -> Result<()> {
        let mut buckets: BTreeMap<Vec<u8>, Vec<(Kind, String, Location)>> = BTreeMap::new();
        for (kind, sys_id, location) in self.entries {
            if sys_id.len() == SYS_ID_LEN {
                buckets
                    .entry(bucket_key(&sys_id))
                    .or_default()
                    .push((kind, sys_id, location));
            } else {
                staged.insert(own_key(kind, &sys_id), location.encode().to_vec());
            }
        }
        for (key, entries) in buckets {
            let mut bucket = staged.get(&key)?.map(|b| b.to_vec()).unwrap_or_default();
            for (kind, sys_id, location) in entries {
                // Searched first, full or not: a lookup finding a removed mark looks no further.
                let at = match search(&bucket, sys_id.as_bytes(), kind)? {
                    // The sys_id of a deleted record, used again: its mark takes the new location.
                    Ok(at)
                        if Location::decode(
                            &bucket[at * ENTRY_LEN + SYS_ID_LEN + 1..(at + 1) * ENTRY_LEN],
                        )? == REMOVED =>
                    {
                        bucket[at * ENTRY_LEN + SYS_ID_LEN + 1..(at + 1) * ENTRY_LEN]
                            .copy_from_slice(&location.encode());
                        continue;
                    }
                    Ok(_) => {
                        return Err(Error::internal(format!(
                            "sys_id {sys_id} is in the directory already"
                        )));
                    }
                    Err(_) if bucket.len() >= BUCKET_CAPACITY * ENTRY_LEN => {
                        staged.insert(own_key(kind, &sys_id), location.encode().to_vec());
                        continue;
                    }
                    Err(at) => at * ENTRY_LEN,
                };
                let mut entry = Vec::with_capacity(ENTRY_LEN);
                entry.extend_from_slice(sys_id.as_bytes());
                entry.push(kind.byte());
                entry.extend_from_slice(&location.encode());
                bucket.splice(at..at, entry);
            }
            staged.insert(key, bucket);
        }
        Ok(())
    }
}

/// The sys_ids of `kind` in a bucket's value, in order, with their locations.
pub(crate) fn bucket_entries(
    bucket: &[u8],
    kind: Kind,
) -> Result<impl Iterator<Item = Result<(&[u8], Location)>>> {
    Ok(entries(bucket)?
        .filter(move |entry| entry[SYS_ID_LEN] == kind.byte())
        .map(|entry| {
            Ok((
                &entry[..SYS_ID_LEN],
                Location::decode(&entry[SYS_ID_LEN + 1..])?,
            ))
        })
        .filter(|entry| !matches!(entry, Ok((_, location)) if *location == REMOVED)))
}

/// Every bucket, in key order (so by sys_id), from the one of `from` on.
pub(crate) fn buckets_from(data: &Tree, from: Option<&str>) -> sled::Iter {
    let end = [BUCKET + 1];
    match from {
        Some(from) => data.range(bucket_key(from)..end.to_vec()),
        None => data.range(BUCKETS_PREFIX.to_vec()..end.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::group::{Counters, GroupWrites};
    use crate::layout::Trees;

    fn group() -> GroupWrites {
        let db = sled::Config::new().temporary(true).open().unwrap();
        GroupWrites::new(Arc::new(Trees::open(db).unwrap()), Counters::default())
    }

    fn at(id: u64, position: u64) -> Location {
        Location { id, position }
    }

    const PHONE_LOG: Kind = Kind::Child(ChildTable::PhoneLog);

    #[test]
    fn entries_are_found_by_kind_and_sys_id() {
        let group = group();
        let a = "0190000000017000a000000000000001";
        let b = "0190000000017000a000000000000000"; // same bucket, sorts first
        let mut staged = Staged::new(&group);
        add(&mut staged, Kind::Interaction, a, at(1001, 0)).unwrap();
        add(&mut staged, PHONE_LOG, a, at(1001, 3)).unwrap();
        add(&mut staged, Kind::Interaction, b, at(1002, 0)).unwrap();
        staged.apply();
        assert_eq!(
            find(&group, Kind::Interaction, a).unwrap(),
            Some(at(1001, 0))
        );
        assert_eq!(find(&group, PHONE_LOG, a).unwrap(), Some(at(1001, 3)));
        assert_eq!(
            find(&group, Kind::Interaction, b).unwrap(),
            Some(at(1002, 0))
        );
        assert_eq!(find(&group, PHONE_LOG, b).unwrap(), None);
        let related = Kind::Child(ChildTable::RelatedRecord);
        assert_eq!(find(&group, related, a).unwrap(), None);
        // One bucket, in order.
        let trees = group.finish().unwrap();
        let buckets: Vec<_> = buckets_from(&trees.data, None).collect();
        assert_eq!(buckets.len(), 1);
        let (_, bucket) = buckets[0].as_ref().unwrap();
        let ids: Vec<_> = bucket_entries(bucket, Kind::Interaction)
            .unwrap()
            .map(|e| e.unwrap().0.to_vec())
            .collect();
        assert_eq!(ids, [b.as_bytes(), a.as_bytes()]);
    }

    #[test]
    fn odd_sys_ids_and_full_buckets_get_keys_of_their_own() {
        let group = group();
        let mut staged = Staged::new(&group);
        add(&mut staged, Kind::Interaction, "short", at(7, 0)).unwrap();
        for n in 0..=BUCKET_CAPACITY as u64 {
            let sys_id = format!("019000000001{n:020}");
            add(&mut staged, PHONE_LOG, &sys_id, at(1, n)).unwrap();
        }
        staged.apply();
        assert_eq!(
            find(&group, Kind::Interaction, "short").unwrap(),
            Some(at(7, 0))
        );
        for n in 0..=BUCKET_CAPACITY as u64 {
            let sys_id = format!("019000000001{n:020}");
            assert_eq!(find(&group, PHONE_LOG, &sys_id).unwrap(), Some(at(1, n)));
        }
        let unknown = format!("019000000001{:020}", 99_999);
        assert_eq!(find(&group, PHONE_LOG, &unknown).unwrap(), None);
        let trees = group.finish().unwrap();
        let own: Vec<_> = trees.data.scan_prefix(own_keys_prefix(PHONE_LOG)).collect();
        assert_eq!(own.len(), 1, "only the entry past the full bucket");
    }

    #[test]
    fn removed_entries_leave_a_full_bucket_full_and_moved_ones_are_found_where_they_went() {
        let group = group();
        let id = |n: u64| format!("019000000001{n:020}");
        let mut staged = Staged::new(&group);
        // A full bucket and one entry under its own key; then a bucket of two.
        for n in 0..=BUCKET_CAPACITY as u64 {
            add(&mut staged, PHONE_LOG, &id(n), at(1, n)).unwrap();
        }
        let (x, y) = (
            "0190000000020000000000000000000a",
            "0190000000020000000000000000000b",
        );
        add(&mut staged, Kind::Interaction, x, at(2, 0)).unwrap();
        add(&mut staged, Kind::Interaction, y, at(3, 0)).unwrap();
        staged.apply();

        let mut staged = Staged::new(&group);
        remove(&mut staged, PHONE_LOG, &id(5)).unwrap();
        relocate(&mut staged, PHONE_LOG, &id(6), at(1, 5)).unwrap();
        let last = id(BUCKET_CAPACITY as u64);
        relocate(&mut staged, PHONE_LOG, &last, at(1, 255)).unwrap();
        remove(&mut staged, Kind::Interaction, x).unwrap();
        staged.apply();
        assert_eq!(find(&group, PHONE_LOG, &id(5)).unwrap(), None, "removed");
        assert_eq!(
            find(&group, PHONE_LOG, &id(6)).unwrap(),
            Some(at(1, 5)),
            "moved"
        );
        assert_eq!(
            find(&group, PHONE_LOG, &last).unwrap(),
            Some(at(1, 255)),
            "an own key past a bucket with a removed entry is still looked for"
        );
        assert_eq!(find(&group, Kind::Interaction, x).unwrap(), None);
        assert_eq!(find(&group, Kind::Interaction, y).unwrap(), Some(at(3, 0)));

        // The removed sys_id, used again, takes its mark's place; scans list only live entries.
        let mut staged = Staged::new(&group);
        add(&mut staged, PHONE_LOG, &id(5), at(4, 0)).unwrap();
        staged.apply();
        assert_eq!(find(&group, PHONE_LOG, &id(5)).unwrap(), Some(at(4, 0)));
        let trees = group.finish().unwrap();
        let full = trees.data.get(bucket_key(&id(0))).unwrap().unwrap();
        assert_eq!(
            full.len(),
            BUCKET_CAPACITY * ENTRY_LEN,
            "the full bucket stays full"
        );
        let small = trees.data.get(bucket_key(x)).unwrap().unwrap();
        let live: Vec<_> = bucket_entries(&small, Kind::Interaction)
            .unwrap()
            .map(|e| e.unwrap().0.to_vec())
            .collect();
        assert_eq!(live, [y.as_bytes()], "a bucket with room drops the entry");
    }
}
