//! The keys a store keeps unique, and [`check_unique`]: the one check of a write's keys, against each other
//! and against what the store holds, that names the taken key as a typed [`Conflict`].
//!
//! A store that cannot rely on its own unique indexes to name the key (the memory store, a store of maps)
//! checks an import with it before writing anything:
//!
//! ```
//! use std::collections::HashSet;
//! use openframe_core::portability::ImportBatch;
//! use openframe_core::unique::{UniqueKey, check_unique};
//! use openframe_core::{Conflict, Error, User, SysId};
//!
//! let taken_names: HashSet<&str> = HashSet::from(["admin"]);
//! let user = User {
//!     sys_id: SysId::parse("0123456789abcdef0123456789abcdef").unwrap(),
//!     user_name: "admin".into(),
//!     name: String::new(),
//!     password_hash: String::new(),
//!     roles: Vec::new(),
//! };
//! let batch = ImportBatch { users: vec![user], ..ImportBatch::default() };
//! let result = check_unique(batch.unique_keys(), |key| {
//!     Ok(matches!(key, UniqueKey::UserName(name) if taken_names.contains(name)))
//! });
//! assert!(matches!(
//!     result,
//!     Err(Error::Conflict(Conflict::UserName { user_name })) if user_name == "admin"
//! ));
//! ```

use std::collections::HashSet;

use crate::aggregate::InteractionAggregate;
use crate::error::{Conflict, Result};
use crate::portability::{ImportBatch, USER_TABLE};
use crate::schema::field;

/// One key a store keeps unique, borrowed from the write that brings it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UniqueKey<'a> {
    /// A user's sign-in name.
    UserName(&'a str),
    /// A provider application's `inbound_id`.
    InboundId(&'a str),
    /// The sys_id of a record of `table` (of a user for [`USER_TABLE`]). Sys_ids are unique per table.
    SysId {
        /// The table's name.
        table: &'static str,
        /// The sys_id.
        sys_id: &'a str,
    },
    /// An interaction's number.
    Number(&'a str),
}

impl UniqueKey<'_> {
    /// The conflict a write meets when this key is taken.
    pub fn conflict(&self) -> Conflict {
        match *self {
            UniqueKey::UserName(user_name) => Conflict::UserName {
                user_name: user_name.to_owned(),
            },
            UniqueKey::InboundId(inbound_id) => Conflict::InboundId {
                inbound_id: inbound_id.to_owned(),
            },
            UniqueKey::SysId { table, sys_id } => Conflict::SysId {
                table,
                sys_id: sys_id.to_owned(),
            },
            UniqueKey::Number(number) => Conflict::Number {
                number: number.to_owned(),
            },
        }
    }
}

impl ImportBatch {
    /// Every key of the batch a store keeps unique: each user's name and sys_id, each record's sys_id
    /// (provider applications, then each interaction with its phone logs and related records), each
    /// provider application's `inbound_id` and each interaction's number.
    pub fn unique_keys(&self) -> Vec<UniqueKey<'_>> {
        let mut keys = Vec::with_capacity(self.records() + self.users.len());
        for user in &self.users {
            keys.push(UniqueKey::UserName(&user.user_name));
            keys.push(UniqueKey::SysId {
                table: USER_TABLE,
                sys_id: user.sys_id.as_str(),
            });
        }
        keys.extend(self.table_records().map(|r| UniqueKey::SysId {
            table: r.table().name,
            sys_id: r.sys_id(),
        }));
        keys.extend(
            self.provider_applications
                .iter()
                .map(|app| UniqueKey::InboundId(app.get(field::INBOUND_ID))),
        );
        keys.extend(
            self.interactions
                .iter()
                .map(|a| UniqueKey::Number(a.interaction.get(field::NUMBER))),
        );
        keys
    }
}

impl InteractionAggregate {
    /// The sys_ids of the aggregate's records (the interaction, its phone logs and related records): what a
    /// create must find free. The number is not among them: the store assigns it.
    pub fn unique_keys(&self) -> Vec<UniqueKey<'_>> {
        std::iter::once(&self.interaction)
            .chain(&self.phone_logs)
            .chain(&self.related_records)
            .map(|r| UniqueKey::SysId {
                table: r.table().name,
                sys_id: r.sys_id(),
            })
            .collect()
    }
}

/// Checks `keys` in order: the first that repeats an earlier key, or that `taken` says the store holds, is
/// the [`crate::Error::Conflict`] naming it. `taken` is asked about each key at most once, and not about a
/// repeated one; its errors (a store that cannot be read) are returned as they are.
pub fn check_unique<'a>(
    keys: impl IntoIterator<Item = UniqueKey<'a>>,
    mut taken: impl FnMut(&UniqueKey<'a>) -> Result<bool>,
) -> Result<()> {
    let mut seen = HashSet::new();
    for key in keys {
        if !seen.insert(key) || taken(&key)? {
            return Err(key.conflict().into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn a_repeated_key_is_a_conflict_before_the_store_is_asked() {
        let keys = [
            UniqueKey::UserName("a"),
            UniqueKey::Number("IMS0001001"),
            UniqueKey::UserName("a"),
        ];
        let mut asked = Vec::new();
        let result = check_unique(keys, |k| {
            asked.push(*k);
            Ok(false)
        });
        assert!(matches!(
            result,
            Err(Error::Conflict(Conflict::UserName { user_name })) if user_name == "a"
        ));
        assert_eq!(asked, keys[..2]);
    }

    #[test]
    fn a_taken_key_is_a_conflict_and_lookup_errors_pass_through() {
        let result = check_unique([UniqueKey::InboundId("x")], |_| Ok(true));
        assert!(matches!(
            result,
            Err(Error::Conflict(Conflict::InboundId { inbound_id })) if inbound_id == "x"
        ));
        let result = check_unique([UniqueKey::InboundId("x")], |_| {
            Err(Error::internal("down"))
        });
        assert!(matches!(result, Err(Error::Internal { .. })));
        assert!(check_unique([UniqueKey::Number("IMS0001001")], |_| Ok(false)).is_ok());
    }
}
