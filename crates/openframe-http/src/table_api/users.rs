//! `sys_user` through the Table API: the store's users, read-only, without password hashes
//! ([`openframe_core::User::to_record`]). Users are the accounts an administrator makes, not data that
//! grows with traffic, so a query runs over all of them with the reference semantics
//! ([`openframe_core::query::TableQuery::run_in_memory`]) rather than in each store.

use openframe_core::{Record, Repository, Result, SysId};

/// Users read per store call.
const USERS_PER_READ: usize = 1_000;

/// Every user, as `sys_user` records.
pub(super) async fn all_users(repo: &dyn Repository) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let users = repo.export_users(after.as_deref(), USERS_PER_READ).await?;
        let done = users.len() < USERS_PER_READ;
        after = users.last().map(|u| u.user_name.clone());
        records.extend(users.iter().map(openframe_core::User::to_record));
        if done {
            return Ok(records);
        }
    }
}

/// The user `sys_id`, as a `sys_user` record.
pub(super) async fn read_user(repo: &dyn Repository, sys_id: &SysId) -> Result<Option<Record>> {
    let found = repo
        .find_users_by_sys_id(std::slice::from_ref(sys_id))
        .await?;
    Ok(found.first().map(openframe_core::User::to_record))
}
