//! `sys_user` through the Table API: the store's users, read-only, without password hashes
//! ([`openframe_core::User::to_record`]); a query runs over all of them
//! ([`openframe_core::user::all_user_records`]).

use openframe_core::{Record, Repository, Result, SysId};

/// The user `sys_id`, as a `sys_user` record.
pub(super) async fn read_user(repo: &dyn Repository, sys_id: &SysId) -> Result<Option<Record>> {
    let found = repo
        .find_users_by_sys_id(std::slice::from_ref(sys_id))
        .await?;
    Ok(found.first().map(openframe_core::User::to_record))
}
