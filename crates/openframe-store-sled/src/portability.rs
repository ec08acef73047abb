//! Export pages and verbatim imports (`openframe export` / `openframe import`).
//!
//! Pages are key ranges: interactions through the sys_id directory (`directory.rs`), provider applications
//! and users through their own trees, which are keyed by sys_id and by user name. An import batch is staged
//! like a create (one batch on `data`) and applied with the users and provider applications in one sled
//! transaction over the four trees, so that it lands whole or not at all.

use std::collections::HashSet;
use std::ops::Bound;

use openframe_core::portability::{ImportBatch, USER_TABLE};
use openframe_core::schema::{PROVIDER_APPLICATION, field};
use openframe_core::{Conflict, Error, Record, Result, User};
use sled::Tree;
use sled::transaction::Transactional;

use crate::codec;
use crate::directory::{self, Kind};
use crate::error::{abort, from_sled, from_transaction};
use crate::group::GroupWrites;
use crate::interactions;
use crate::layout::{Staged, Trees};

/// The keys of `tree` above `after` (from the first when `None`) that start with `prefix`, at most `limit`.
fn page(
    tree: &Tree,
    prefix: &[u8],
    after: Option<Vec<u8>>,
    limit: usize,
) -> Result<Vec<(sled::IVec, sled::IVec)>> {
    let start = match after {
        Some(key) => Bound::Excluded(key),
        None => Bound::Included(prefix.to_vec()),
    };
    tree.range::<Vec<u8>, _>((start, Bound::Unbounded))
        .take_while(|entry| {
            entry
                .as_ref()
                .map_or(true, |(key, _)| key.starts_with(prefix))
        })
        .take(limit)
        .map(|entry| entry.map_err(from_sled))
        .collect()
}

/// Up to `limit` interaction sys_ids above `after`, in order: those of the sys_id directory's buckets
/// merged with those kept under keys of their own (see the `directory` module).
pub(crate) fn interaction_ids(
    trees: &Trees,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<String>> {
    let above = |sys_id: &[u8]| after.is_none_or(|after| sys_id > after.as_bytes());
    let mut bucketed = Vec::new();
    for bucket in directory::buckets_from(&trees.data, after) {
        if bucketed.len() >= limit {
            break;
        }
        let (_, bucket) = bucket.map_err(from_sled)?;
        for entry in directory::bucket_entries(&bucket, Kind::Interaction)? {
            let (sys_id, _) = entry?;
            if above(sys_id) {
                bucketed.push(sys_id.to_vec());
            }
        }
    }
    let prefix = directory::own_keys_prefix(Kind::Interaction);
    let own_after = after.map(|after| [&prefix[..], after.as_bytes()].concat());
    let own = page(&trees.data, &prefix, own_after, limit)?
        .into_iter()
        .map(|(key, _)| directory::own_key_sys_id(&key).to_vec());
    let mut ids: Vec<Vec<u8>> = bucketed.into_iter().chain(own).collect();
    ids.sort_unstable();
    ids.truncate(limit);
    ids.into_iter()
        .map(|id| {
            String::from_utf8(id)
                .map_err(|_| Error::internal("an interaction sys_id in the directory is not UTF-8"))
        })
        .collect()
}

/// Up to `limit` provider applications whose sys_id is above `after`, in sys_id order.
pub(crate) fn provider_applications(
    trees: &Trees,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Record>> {
    page(
        &trees.provider_applications,
        b"",
        after.map(|a| a.as_bytes().to_vec()),
        limit,
    )?
    .into_iter()
    .map(|(_, bytes)| codec::decode_record(&PROVIDER_APPLICATION, &bytes))
    .collect()
}

/// Up to `limit` users named above `after`, by name.
pub(crate) fn users(trees: &Trees, after: Option<&str>, limit: usize) -> Result<Vec<User>> {
    page(
        &trees.users,
        b"",
        after.map(|a| a.as_bytes().to_vec()),
        limit,
    )?
    .into_iter()
    .map(|(_, bytes)| codec::decode_user(&bytes))
    .collect()
}

/// Writes `batch` verbatim, all or nothing. Writer thread only: the checks read plain values, which
/// nothing else writes meanwhile. It settles the group first, since its transaction goes around it.
pub(crate) fn import(group: &GroupWrites, batch: &ImportBatch) -> Result<()> {
    batch.check()?;
    let trees = group.settle()?;
    let mut staged = Staged::new(group);
    for a in &batch.interactions {
        interactions::stage_import(&mut staged, a)?;
    }
    let (data, counters) = staged.into_batch();

    // Users are keyed by name; their sys_ids are unique too, which only a scan can tell (users are few).
    let mut user_ids: HashSet<String> = HashSet::new();
    for entry in trees.users.iter() {
        let (_, bytes) = entry.map_err(from_sled)?;
        user_ids.insert(codec::decode_user(&bytes)?.sys_id.into_string());
    }
    for user in &batch.users {
        if !user_ids.insert(user.sys_id.as_str().to_owned()) {
            return Err(Conflict::SysId {
                table: USER_TABLE,
                sys_id: user.sys_id.as_str().to_owned(),
            }
            .into());
        }
    }
    let users = batch
        .users
        .iter()
        .map(|u| Ok((u.user_name.clone(), codec::encode_user(u)?)))
        .collect::<Result<Vec<_>>>()?;
    let apps = batch
        .provider_applications
        .iter()
        .map(|a| {
            Ok((
                a.sys_id().to_owned(),
                a.get(field::INBOUND_ID).to_owned(),
                codec::encode_record(a)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;

    (
        &trees.data,
        &trees.users,
        &trees.provider_applications,
        &trees.provider_inbound_ids,
    )
        .transaction(|(d, u, p, i)| {
            for (name, bytes) in &users {
                if u.insert(name.as_bytes(), bytes.as_slice())?.is_some() {
                    return Err(abort(
                        Conflict::UserName {
                            user_name: name.clone(),
                        }
                        .into(),
                    ));
                }
            }
            for (sys_id, inbound_id, bytes) in &apps {
                if i.insert(inbound_id.as_bytes(), sys_id.as_bytes())?
                    .is_some()
                {
                    return Err(abort(
                        Conflict::InboundId {
                            inbound_id: inbound_id.clone(),
                        }
                        .into(),
                    ));
                }
                if p.insert(sys_id.as_bytes(), bytes.as_slice())?.is_some() {
                    return Err(abort(
                        Conflict::SysId {
                            table: PROVIDER_APPLICATION.name,
                            sys_id: sys_id.clone(),
                        }
                        .into(),
                    ));
                }
            }
            d.apply_batch(&data)?;
            Ok(())
        })
        .map_err(from_transaction)?;
    group.applied_outside(counters);
    Ok(())
}
