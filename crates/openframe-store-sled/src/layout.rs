//! The trees of one store and how their keys are built.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `interactions` | interaction sys_id | [`InteractionRow`](crate::codec::InteractionRow): record, context, child counts |
//! | `phone_logs` | interaction sys_id ++ sequence (u64, big-endian) | phone-log record |
//! | `related_records` | interaction sys_id ++ sequence (u64, big-endian) | related record |
//! | `phone_log_keys` | phone-log sys_id | its key in `phone_logs` |
//! | `related_record_keys` | related-record sys_id | its key in `related_records` |
//! | `interaction_numbers` | number (`IMS…`) | interaction sys_id |
//! | `client_sessions` | len(client_session_id) (u32, big-endian) ++ client_session_id ++ interaction sys_id | empty |
//! | `users` | user name | user |
//! | `provider_applications` | provider-application sys_id | record |
//! | `provider_inbound_ids` | inbound_id | provider-application sys_id |
//! | `stray_children` | table tag (`p`, `r`) ++ child sys_id | its key in `phone_logs` or `related_records` |
//! | `meta` | `format_version`, `next_number` | version byte; next interaction number (u64, big-endian) |
//!
//! sys_ids are always 32 bytes, so a child key's sequence starts at a fixed offset and a prefix scan of
//! `phone_logs` or `related_records` by interaction sys_id yields its children in creation order. The length
//! prefix of a `client_sessions` key makes one session id never a prefix-match for a longer one.
//!
//! The key of a child doubles as the index of its `interaction` field, because the service always sets that
//! field to the interaction the child belongs to (and clients cannot write it). The repository contract does
//! not promise so, though: a child whose `interaction` field names another interaction (or none) is "stray"
//! and listed in `stray_children`, so that a query by `interaction` still finds it. Normally that tree is
//! empty and costs nothing.

use sled::transaction::TransactionalTree;
use sled::{Db, Tree};

use crate::error::TxResult;

/// Key of the format version in `meta`.
pub(crate) const FORMAT_VERSION_KEY: &[u8] = b"format_version";
/// Key of the interaction-number counter in `meta`.
pub(crate) const NEXT_NUMBER_KEY: &[u8] = b"next_number";

/// Every tree of the store, opened once.
#[derive(Clone)]
pub(crate) struct Trees {
    pub(crate) db: Db,
    pub(crate) interactions: Tree,
    pub(crate) phone_logs: Tree,
    pub(crate) related_records: Tree,
    pub(crate) phone_log_keys: Tree,
    pub(crate) related_record_keys: Tree,
    pub(crate) interaction_numbers: Tree,
    pub(crate) client_sessions: Tree,
    pub(crate) users: Tree,
    pub(crate) provider_applications: Tree,
    pub(crate) provider_inbound_ids: Tree,
    pub(crate) stray_children: Tree,
    pub(crate) meta: Tree,
}

impl Trees {
    /// Opens (creating if need be) every tree of `db`.
    pub(crate) fn open(db: Db) -> sled::Result<Self> {
        Ok(Trees {
            interactions: db.open_tree("interactions")?,
            phone_logs: db.open_tree("phone_logs")?,
            related_records: db.open_tree("related_records")?,
            phone_log_keys: db.open_tree("phone_log_keys")?,
            related_record_keys: db.open_tree("related_record_keys")?,
            interaction_numbers: db.open_tree("interaction_numbers")?,
            client_sessions: db.open_tree("client_sessions")?,
            users: db.open_tree("users")?,
            provider_applications: db.open_tree("provider_applications")?,
            provider_inbound_ids: db.open_tree("provider_inbound_ids")?,
            stray_children: db.open_tree("stray_children")?,
            meta: db.open_tree("meta")?,
            db,
        })
    }

    /// Runs `f` as one transaction over every tree an interaction lives in, retried by sled on conflict.
    pub(crate) fn interaction_transaction<T>(
        &self,
        f: impl Fn(&InteractionTx<'_>) -> TxResult<T>,
    ) -> Result<T, sled::transaction::TransactionError<openframe_core::Error>> {
        use sled::transaction::Transactional;
        (
            &self.interactions,
            &self.phone_logs,
            &self.related_records,
            &self.phone_log_keys,
            &self.related_record_keys,
            &self.interaction_numbers,
            &self.client_sessions,
            &self.stray_children,
            &self.meta,
        )
            .transaction(
                |(
                    interactions,
                    phone_logs,
                    related_records,
                    phone_log_keys,
                    related_record_keys,
                    interaction_numbers,
                    client_sessions,
                    stray_children,
                    meta,
                )| {
                    f(&InteractionTx {
                        interactions,
                        phone_logs,
                        related_records,
                        phone_log_keys,
                        related_record_keys,
                        interaction_numbers,
                        client_sessions,
                        stray_children,
                        meta,
                    })
                },
            )
    }
}

/// The interaction trees inside one transaction, by name.
pub(crate) struct InteractionTx<'a> {
    pub(crate) interactions: &'a TransactionalTree,
    pub(crate) phone_logs: &'a TransactionalTree,
    pub(crate) related_records: &'a TransactionalTree,
    pub(crate) phone_log_keys: &'a TransactionalTree,
    pub(crate) related_record_keys: &'a TransactionalTree,
    pub(crate) interaction_numbers: &'a TransactionalTree,
    pub(crate) client_sessions: &'a TransactionalTree,
    pub(crate) stray_children: &'a TransactionalTree,
    pub(crate) meta: &'a TransactionalTree,
}

/// Key of child `sequence` of interaction `sys_id` in `phone_logs` or `related_records`.
pub(crate) fn child_key(sys_id: &str, sequence: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(sys_id.len() + 8);
    key.extend_from_slice(sys_id.as_bytes());
    key.extend_from_slice(&sequence.to_be_bytes());
    key
}

/// The prefix of every `client_sessions` key of `client_session_id`.
pub(crate) fn client_session_prefix(client_session_id: &str) -> Vec<u8> {
    // Values are at most a few thousand characters (limits::MAX_VALUE_CHARS), far below u32::MAX bytes.
    let len = u32::try_from(client_session_id.len()).unwrap_or(u32::MAX);
    let mut key = Vec::with_capacity(4 + client_session_id.len() + 32);
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(client_session_id.as_bytes());
    key
}

/// Key of the `client_sessions` entry linking `client_session_id` to interaction `sys_id`.
pub(crate) fn client_session_key(client_session_id: &str, sys_id: &str) -> Vec<u8> {
    let mut key = client_session_prefix(client_session_id);
    key.extend_from_slice(sys_id.as_bytes());
    key
}

/// Which table a `stray_children` entry is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChildTable {
    PhoneLog,
    RelatedRecord,
}

impl ChildTable {
    /// The first byte of its `stray_children` keys.
    pub(crate) fn tag(self) -> u8 {
        match self {
            ChildTable::PhoneLog => b'p',
            ChildTable::RelatedRecord => b'r',
        }
    }
}

/// Key of the `stray_children` entry of child `child_sys_id` of table `table`.
pub(crate) fn stray_key(table: ChildTable, child_sys_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + child_sys_id.len());
    key.push(table.tag());
    key.extend_from_slice(child_sys_id.as_bytes());
    key
}

/// A big-endian u64 counter value.
pub(crate) fn decode_counter(bytes: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(bytes).ok().map(u64::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_keys_sort_in_creation_order() {
        let id = "0123456789abcdef0123456789abcdef";
        let keys: Vec<_> = (0..300).map(|n| child_key(id, n)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert!(keys.iter().all(|k| k.starts_with(id.as_bytes())));
    }

    #[test]
    fn session_prefixes_do_not_match_longer_ids() {
        let id = "0123456789abcdef0123456789abcdef";
        assert!(!client_session_key("ab", id).starts_with(&client_session_prefix("a")));
        assert!(client_session_key("a", id).starts_with(&client_session_prefix("a")));
    }

    #[test]
    fn counters() {
        assert_eq!(decode_counter(&1001u64.to_be_bytes()), Some(1001));
        assert_eq!(decode_counter(b"short"), None);
    }
}
