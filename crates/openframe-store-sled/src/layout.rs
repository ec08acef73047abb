//! The trees of one store and how their keys are built.
//!
//! Interactions and every index on them live in one tree, `data`, each kind of key behind a prefix byte, so
//! that one `Tree::apply_batch` writes a whole group of creates and updates atomically (sled makes a batch on
//! one tree atomic, across crashes too) without the cost of a multi-tree transaction:
//!
//! | key | value |
//! |---|---|
//! | `i` id | [`InteractionRow`](crate::codec::InteractionRow): record, context, phone logs, related records, version |
//! | `B` first 12 characters of a sys_id | the sys_id directory's bucket: where each record with such a sys_id is (the `directory` module) |
//! | `S` kind sys_id | where a record is whose sys_id has no room in a bucket (the `directory` module) |
//! | `n` number (`IMS…`) | id, for a number that is not its id's own spelling (below) |
//! | `c` len(client_session_id) client_session_id id | empty |
//! | `s` `p`/`r` child sys_id | the child's address: a stray child (below) |
//! | `e` event id | an interaction event's payload (the outbox, `outbox.rs`) |
//! | `m` `events_pruned` | every event up to this id has been pruned |
//! | `m` `numbers_deleted` | the highest id of a deleted interaction (below) |
//!
//! `id` is the interaction's creation sequence number, the same counter its `number` is made from, as a
//! big-endian u64; `len` is a big-endian u32. So rows are laid out in creation order: a create appends at
//! the end of each region, where sled's pages are already cached. (Keyed by their random sys_ids, a store
//! larger than sled's cache paid a page read on almost every insert.) The length prefix of a `c` key makes
//! one session id never a prefix-match for a longer one. An interaction's number is its id spelled
//! `format_number(id)` unless an import or an update said otherwise, so a lookup by number parses it and
//! reads that id's row; only the other numbers are listed under `n`.
//!
//! A phone log or related record is stored in its interaction's row; its address is the table's letter,
//! its interaction's id and its position in the row's list (a big-endian u64 from 0). Deleting a child moves
//! its later siblings one place up, and their directory entries and stray marks with them. Addresses sort in
//! creation order. A create writes four keys: its row,
//! its sys_id directory bucket, its client-session entry and its event.
//!
//! The row a child is stored in doubles as the index of its `interaction` field, because the service always
//! sets that field to the interaction the child belongs to (and clients cannot write it). The repository
//! contract does not promise so, though: a child whose `interaction` field names another interaction (or
//! none) is "stray" and listed under `s`, so that a query by `interaction` still finds it. Normally there
//! is none.
//!
//! The next interaction number and the latest event id are not stored: the writer keeps them (the `group`
//! module) and finds them again at open from the last `i` and `e` keys ([`last_id`]), so that no write
//! rewrites a counter; a delete, which may remove the last `i` key, records its id under `m`
//! `numbers_deleted` so that its number is never given again. Version 2 stores kept them under `m` keys, which the migration removes.
//!
//! Other trees: `users` (user name → user), `provider_applications` (sys_id → record),
//! `provider_inbound_ids` (inbound_id → provider-application sys_id), `oauth_clients` (client id → client),
//! `oauth_tokens` (token hash → token) with `oauth_token_expiry` (big-endian expiry and hash → nothing, the
//! order pruning walks), and `meta`, which holds the store's
//! format version ([`FORMAT_VERSION`](crate::codec::FORMAT_VERSION)) under [`FORMAT_VERSION_KEY`].

use std::collections::BTreeMap;

use openframe_core::{Error, Result};
use sled::{Batch, Db, IVec, Tree};

use crate::error::from_sled;
use crate::group::{Counters, GroupWrites};

/// Key of the format version in `meta`.
pub(crate) const FORMAT_VERSION_KEY: &[u8] = b"format_version";

/// Key of the interaction-number counter in `data` of a version-2 store.
pub(crate) const LEGACY_NEXT_NUMBER_KEY: &[u8] = b"mnext_number";

/// Key of the latest event id in `data` of a version-2 store.
pub(crate) const LEGACY_EVENT_HEAD_KEY: &[u8] = b"mevent_head";

/// Key of the highest number (as its counter value) a deleted interaction had, in `data`: the counter is
/// found again from the last row at open, and that row may have been deleted.
pub(crate) const NUMBERS_DELETED_KEY: &[u8] = b"mnumbers_deleted";

/// Key of the id up to which events were pruned, in `data`.
pub(crate) const EVENTS_PRUNED_KEY: &[u8] = b"mevents_pruned";

const EVENT: u8 = b'e';
const INTERACTION: u8 = b'i';
const NUMBER: u8 = b'n';
const CLIENT_SESSION: u8 = b'c';
const STRAY: u8 = b's';

/// Every tree of the store, opened once.
pub(crate) struct Trees {
    pub(crate) db: Db,
    pub(crate) data: Tree,
    pub(crate) users: Tree,
    pub(crate) provider_applications: Tree,
    pub(crate) provider_inbound_ids: Tree,
    pub(crate) oauth_clients: Tree,
    pub(crate) oauth_tokens: Tree,
    pub(crate) oauth_token_expiry: Tree,
    pub(crate) meta: Tree,
    /// The latest durable event id (`outbox.rs`).
    pub(crate) durable_events: crate::outbox::Watermark,
}

impl Trees {
    /// Opens (creating if need be) every tree of `db`.
    pub(crate) fn open(db: Db) -> sled::Result<Self> {
        Ok(Trees {
            data: db.open_tree("data")?,
            users: db.open_tree("users")?,
            provider_applications: db.open_tree("provider_applications")?,
            provider_inbound_ids: db.open_tree("provider_inbound_ids")?,
            oauth_clients: db.open_tree("oauth_clients")?,
            oauth_tokens: db.open_tree("oauth_tokens")?,
            oauth_token_expiry: db.open_tree("oauth_token_expiry")?,
            meta: db.open_tree("meta")?,
            durable_events: Default::default(),
            db,
        })
    }
}

/// The two kinds of child an interaction has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChildTable {
    PhoneLog,
    RelatedRecord,
}

impl ChildTable {
    /// The first byte of its children's addresses.
    fn prefix(self) -> u8 {
        match self {
            ChildTable::PhoneLog => b'p',
            ChildTable::RelatedRecord => b'r',
        }
    }

    /// The prefix of every stray child of this table.
    pub(crate) fn strays_prefix(self) -> [u8; 2] {
        [STRAY, self.prefix()]
    }
}

fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    key.push(prefix);
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

/// The prefix of every interaction row.
pub(crate) const INTERACTIONS_PREFIX: [u8; 1] = [INTERACTION];

/// Key of the row of interaction `id`.
pub(crate) fn interaction_key(id: u64) -> Vec<u8> {
    key(INTERACTION, &[&id.to_be_bytes()])
}

/// Key of the `n` entry of interaction number `number` (one that is not its id's own spelling).
pub(crate) fn number_key(number: &str) -> Vec<u8> {
    key(NUMBER, &[number.as_bytes()])
}

/// The address of child `position` of interaction `id`: what a stray-list entry holds, and how a query
/// names a child it found.
pub(crate) fn child_address(table: ChildTable, id: u64, position: u64) -> Vec<u8> {
    key(
        table.prefix(),
        &[&id.to_be_bytes(), &position.to_be_bytes()],
    )
}

/// The interaction id and the position of a child of `table` from its address.
pub(crate) fn parse_child_address(table: ChildTable, address: &[u8]) -> Option<(u64, usize)> {
    let (&prefix, rest) = address.split_first()?;
    if prefix != table.prefix() || rest.len() != 16 {
        return None;
    }
    let (id, position) = rest.split_at(8);
    Some((
        decode_u64(id)?,
        usize::try_from(decode_u64(position)?).ok()?,
    ))
}

/// Key of the stray-list entry of child `sys_id`.
pub(crate) fn stray_key(table: ChildTable, sys_id: &str) -> Vec<u8> {
    key(STRAY, &[&[table.prefix()], sys_id.as_bytes()])
}

/// Key in `meta` present once the client-session index is keyed by folded ids (see
/// [`client_session_prefix`]); stores written before are rewritten when opened (`migrate`).
pub(crate) const CLIENT_SESSIONS_FOLDED_KEY: &[u8] = b"client_sessions_folded";

/// The prefix of every client-session index entry.
pub(crate) const CLIENT_SESSIONS_PREFIX: [u8; 1] = [CLIENT_SESSION];

/// The prefix of every client-session index entry of `client_session_id`, whose ASCII case is folded
/// (`openframe_core::query::fold`): Table API equality folds case, and the lookup must find every record
/// it matches.
pub(crate) fn client_session_prefix(client_session_id: &str) -> Vec<u8> {
    let folded = openframe_core::query::fold(client_session_id);
    // Values are at most a few thousand characters (limits::MAX_VALUE_CHARS), far below u32::MAX bytes.
    let len = u32::try_from(folded.len()).unwrap_or(u32::MAX);
    key(CLIENT_SESSION, &[&len.to_be_bytes(), folded.as_bytes()])
}

/// The client-session id (as the key holds it) and interaction id of a client-session index key.
pub(crate) fn parse_client_session_key(key: &[u8]) -> Option<(&str, u64)> {
    let rest = key.strip_prefix(&CLIENT_SESSIONS_PREFIX)?;
    let (len, rest) = rest.split_at_checked(4)?;
    let len = usize::try_from(u32::from_be_bytes(len.try_into().ok()?)).ok()?;
    let (session, id) = rest.split_at_checked(len)?;
    let id = u64::from_be_bytes(id.try_into().ok()?);
    Some((std::str::from_utf8(session).ok()?, id))
}

/// Key of the client-session index entry linking `client_session_id` to interaction `id`.
pub(crate) fn client_session_key(client_session_id: &str, id: u64) -> Vec<u8> {
    let mut key = client_session_prefix(client_session_id);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// A big-endian u64: an id, a sequence or a counter.
pub(crate) fn decode_u64(bytes: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(bytes).ok().map(u64::from_be_bytes)
}

/// The key of event `id`: in id order.
pub(crate) fn event_key(id: u64) -> Vec<u8> {
    key(EVENT, &[&id.to_be_bytes()])
}

/// The prefix of every event key.
pub(crate) const EVENTS_PREFIX: [u8; 1] = [EVENT];

/// The id at the end of the last key under `prefix` ([`INTERACTIONS_PREFIX`] or [`EVENTS_PREFIX`]): the
/// highest interaction or event id stored, `None` when there is none.
pub(crate) fn last_id(data: &Tree, prefix: [u8; 1]) -> Result<Option<u64>> {
    match data.scan_prefix(prefix).next_back() {
        None => Ok(None),
        Some(entry) => {
            let (key, _) = entry.map_err(from_sled)?;
            trailing_id(&key)
                .map(Some)
                .ok_or_else(|| Error::internal("a corrupt id key in the sled store"))
        }
    }
}

/// The interaction id at the end of a key (a client-session entry's).
pub(crate) fn trailing_id(key: &[u8]) -> Option<u64> {
    key.len()
        .checked_sub(8)
        .and_then(|start| decode_u64(&key[start..]))
}

/// Point reads of `data`: plain, or through a batch being built.
pub(crate) trait Read {
    fn get(&self, key: &[u8]) -> Result<Option<IVec>>;
}

impl Read for Tree {
    fn get(&self, key: &[u8]) -> Result<Option<IVec>> {
        Tree::get(self, key).map_err(from_sled)
    }
}

/// The writes of one create, update or import, built by the writer thread from reads of `data` as the
/// group in progress leaves it ([`GroupWrites`]), with the numbers and event ids it takes. Reads through it
/// see its own writes first. Nothing is written and nothing taken until [`Staged::apply`] adds it all to
/// the group at once (or [`Staged::into_batch`] hands it over), so a write that fails half-way leaves
/// nothing behind.
pub(crate) struct Staged<'a> {
    group: &'a GroupWrites,
    writes: Writes,
    counters: Counters,
}

/// Key → new value, or `None` for a removal; in key order, as sled applies a batch.
pub(crate) type Writes = BTreeMap<Vec<u8>, Option<IVec>>;

/// `writes` as one sled batch.
pub(crate) fn batch_of(writes: Writes) -> Batch {
    let mut batch = Batch::default();
    for (key, value) in writes {
        match value {
            Some(value) => batch.insert(key, value),
            None => batch.remove(key),
        }
    }
    batch
}

impl<'a> Staged<'a> {
    pub(crate) fn new(group: &'a GroupWrites) -> Self {
        Staged {
            group,
            writes: BTreeMap::new(),
            counters: group.counters(),
        }
    }

    pub(crate) fn insert(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(IVec::from(value)));
    }

    pub(crate) fn remove(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Takes the next interaction number.
    pub(crate) fn take_number(&mut self) -> u64 {
        let n = self.counters.next_number;
        self.counters.next_number += 1;
        n
    }

    /// Moves the number counter past `number` (an import), if it is behind.
    pub(crate) fn pass_number(&mut self, number: u64) {
        self.counters.next_number = self.counters.next_number.max(number + 1);
    }

    /// Takes the next event id.
    pub(crate) fn take_event_id(&mut self) -> u64 {
        self.counters.event_head += 1;
        self.counters.event_head
    }

    /// Adds every write, and the numbers taken, to the group, to be applied with it (the `group` module).
    pub(crate) fn apply(self) {
        self.group.add(self.writes, self.counters);
    }

    /// Every write as one batch, and the counters as they stand after it, for a caller that applies it
    /// inside a transaction over several trees (after settling the group), then tells the group
    /// ([`GroupWrites::applied_outside`]).
    pub(crate) fn into_batch(self) -> (Batch, Counters) {
        (batch_of(self.writes), self.counters)
    }
}

impl Read for Staged<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<IVec>> {
        match self.writes.get(key) {
            Some(value) => Ok(value.clone()),
            None => self.group.get(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_addresses_sort_in_creation_order_and_parse_back() {
        let addresses: Vec<_> = (0..300)
            .map(|n| child_address(ChildTable::PhoneLog, 7, n))
            .chain([child_address(ChildTable::PhoneLog, 8, 0)])
            .collect();
        let mut sorted = addresses.clone();
        sorted.sort();
        assert_eq!(addresses, sorted);
        assert_eq!(
            parse_child_address(ChildTable::PhoneLog, &addresses[299]),
            Some((7, 299))
        );
        let related = child_address(ChildTable::RelatedRecord, 7, 1);
        assert_eq!(
            parse_child_address(ChildTable::RelatedRecord, &related),
            Some((7, 1))
        );
        assert_eq!(parse_child_address(ChildTable::PhoneLog, &related), None);
        assert_eq!(parse_child_address(ChildTable::PhoneLog, b"p123"), None);
    }

    #[test]
    fn the_last_id_under_a_prefix() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let data = db.open_tree("data").unwrap();
        assert_eq!(last_id(&data, INTERACTIONS_PREFIX).unwrap(), None);
        for id in [1001, 1003, 1002] {
            data.insert(interaction_key(id), &b""[..]).unwrap();
        }
        data.insert(event_key(5), &b""[..]).unwrap();
        data.insert(number_key("z"), &b""[..]).unwrap();
        assert_eq!(last_id(&data, INTERACTIONS_PREFIX).unwrap(), Some(1003));
        assert_eq!(last_id(&data, EVENTS_PREFIX).unwrap(), Some(5));
    }

    #[test]
    fn interactions_sort_in_creation_order() {
        let keys: Vec<_> = [1001, 1002, 99_999, 1 << 40]
            .into_iter()
            .map(interaction_key)
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn session_prefixes_do_not_match_longer_ids() {
        assert!(!client_session_key("ab", 1).starts_with(&client_session_prefix("a")));
        assert!(client_session_key("a", 1).starts_with(&client_session_prefix("a")));
        assert_eq!(trailing_id(&client_session_key("a", 1001)), Some(1001));
    }

    #[test]
    fn prefixes_are_distinct() {
        let keys = [
            interaction_key(1),
            crate::directory::bucket_key("x"),
            number_key("x"),
            child_address(ChildTable::PhoneLog, 1, 0),
            child_address(ChildTable::RelatedRecord, 1, 0),
            crate::directory::own_keys_prefix(crate::directory::Kind::Interaction).to_vec(),
            stray_key(ChildTable::PhoneLog, "x"),
            client_session_key("x", 1),
            LEGACY_NEXT_NUMBER_KEY.to_vec(),
            event_key(1),
        ];
        let mut firsts: Vec<u8> = keys.iter().map(|k| k[0]).collect();
        firsts.sort_unstable();
        firsts.dedup();
        assert_eq!(firsts.len(), keys.len());
    }

    #[test]
    fn counters() {
        assert_eq!(decode_u64(&1001u64.to_be_bytes()), Some(1001));
        assert_eq!(decode_u64(b"short"), None);
    }

    #[test]
    fn staged_writes_are_read_back_then_added_to_the_group_at_once() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let trees = std::sync::Arc::new(Trees::open(db).unwrap());
        trees.data.insert(b"a", b"1").unwrap();
        trees.data.insert(b"b", b"2").unwrap();
        let group = GroupWrites::new(std::sync::Arc::clone(&trees), Counters::default());
        let mut staged = Staged::new(&group);
        staged.insert(b"c".to_vec(), b"3".to_vec());
        staged.remove(b"a".to_vec());
        assert_eq!(
            Read::get(&staged, b"c").unwrap().as_deref(),
            Some(&b"3"[..])
        );
        assert_eq!(Read::get(&staged, b"a").unwrap(), None);
        assert_eq!(
            Read::get(&staged, b"b").unwrap().as_deref(),
            Some(&b"2"[..])
        );
        assert!(
            Read::get(&group, b"c").unwrap().is_none(),
            "nothing reaches the group before apply"
        );
        staged.apply();
        assert!(Read::get(&group, b"a").unwrap().is_none());
        assert_eq!(Read::get(&group, b"c").unwrap().as_deref(), Some(&b"3"[..]));
        group.finish().unwrap();
        assert!(trees.data.get(b"a").unwrap().is_none());
        assert_eq!(trees.data.get(b"c").unwrap().as_deref(), Some(&b"3"[..]));
    }
}
