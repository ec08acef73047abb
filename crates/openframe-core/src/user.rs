//! Users and roles (CONTRACT §7), and provider applications (the `inboundId` registry).

use std::fmt;

use crate::datetime::DateTime;
use crate::error::{Error, Result};
use crate::record::Record;
use crate::schema::{PROVIDER_APPLICATION, SYS_USER, field};
use crate::sys_id::SysId;

/// Roles that may use every openframe endpoint.
pub const API_ROLES: &[&str] = &["sn_openframe_api_user", "sn_openframe_user", "admin"];

/// Roles of the user `serve` creates when the store has none.
pub const BOOTSTRAP_ROLES: &[&str] = &["admin", "sn_openframe_api_user"];

/// A user who may sign in with HTTP Basic auth.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The user's sys_id (what `opened_by`, `agent` and `closed_by` reference).
    pub sys_id: SysId,
    /// The sign-in name (what `sys_created_by` records).
    pub user_name: String,
    /// The full name (`sys_user.name`), empty when none was given.
    pub name: String,
    /// The password as a PHC-format argon2 hash; never the password itself.
    pub password_hash: String,
    /// The roles granted.
    pub roles: Vec<String>,
}

impl User {
    /// What a reference to the user shows as its display value: the full name, else the sign-in name.
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.user_name
        } else {
            &self.name
        }
    }

    /// The user as the Table API shows it ([`SYS_USER`]): no password hash.
    pub fn to_record(&self) -> Record {
        let mut record = Record::new(&SYS_USER);
        record.set(field::SYS_ID, self.sys_id.as_str());
        record.set(field::USER_NAME, self.user_name.as_str());
        record.set(field::NAME, self.name.as_str());
        record.set(field::ACTIVE, "true");
        record.set(field::ROLES, self.roles.join(","));
        record
    }

    /// Whether one of the user's roles grants the API.
    pub fn may_use_api(&self) -> bool {
        self.roles.iter().any(|r| API_ROLES.contains(&r.as_str()))
    }
}

// Hand-written so that a hash never reaches a log line through `{:?}`.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("sys_id", &self.sys_id)
            .field("user_name", &self.user_name)
            .field("name", &self.name)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// Users read per store call by [`all_user_records`].
const USERS_PER_READ: usize = 1_000;

/// Every user, as `sys_user` records ([`User::to_record`]): what a `sys_user` query runs over. Users are
/// the accounts an administrator makes, not data that grows with traffic, so a query over them runs in
/// memory with the reference semantics rather than in each store.
pub async fn all_user_records(repo: &dyn crate::Repository) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let users = repo.export_users(after.as_deref(), USERS_PER_READ).await?;
        let done = users.len() < USERS_PER_READ;
        after = users.last().map(|u| u.user_name.clone());
        records.extend(users.iter().map(User::to_record));
        if done {
            return Ok(records);
        }
    }
}

/// Checks a user name: 1-100 characters, no colon (Basic auth splits on the first one), no control
/// characters or surrounding spaces.
pub fn validate_user_name(name: &str) -> Result<()> {
    if crate::names::is_plain_name(name) && !name.contains(':') {
        Ok(())
    } else {
        Err(Error::invalid(
            "user_name",
            "must be 1-100 characters without a colon, control characters or surrounding spaces",
        ))
    }
}

/// What a full name must be, in words.
pub const FULL_NAME_RULE: &str =
    "must be at most 100 characters without control characters or surrounding spaces";

/// Whether `name` is a full name: empty (none), or 1-100 characters without control characters or
/// surrounding spaces.
pub fn is_full_name(name: &str) -> bool {
    name.is_empty() || crate::names::is_plain_name(name)
}

/// Checks a role name: `[a-z][a-z0-9_]{0,79}`, like the platform's.
pub fn validate_role(role: &str) -> Result<()> {
    if crate::names::is_table_name(role) {
        Ok(())
    } else {
        Err(Error::invalid("role", "must match [a-z][a-z0-9_]{0,79}"))
    }
}

/// A new `sys_cs_provider_application` record, validated: `inbound_id` and `name` are required.
pub fn new_provider_application(
    sys_id: SysId,
    inbound_id: &str,
    name: &str,
    created_by: &str,
    now: DateTime,
) -> Result<Record> {
    let mut app = Record::new(&PROVIDER_APPLICATION);
    for (key, value) in [(field::INBOUND_ID, inbound_id), (field::NAME, name)] {
        if value.trim().is_empty() {
            return Err(Error::invalid(key, "is required"));
        }
        let (_, def) = PROVIDER_APPLICATION
            .field(key)
            .ok_or_else(|| Error::internal(format!("no field {key}")))?;
        def.kind
            .check(value)
            .map_err(|rule| Error::invalid(key, rule))?;
        app.set(key, value);
    }
    crate::service::stamp_new(&mut app, &sys_id, created_by, now);
    Ok(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_the_api() {
        let mut u = User {
            sys_id: SysId::random(),
            user_name: "agent".into(),
            name: String::new(),
            password_hash: "$argon2id$secret".into(),
            roles: vec!["itil".into()],
        };
        assert!(!u.may_use_api());
        u.roles.push("sn_openframe_user".into());
        assert!(u.may_use_api());
        assert_eq!(u.display_name(), "agent");
        u.name = "Abel Tuter".into();
        assert_eq!(u.display_name(), "Abel Tuter");
        assert!(!format!("{u:?}").contains("secret"));
    }

    #[test]
    fn user_names() {
        assert!(validate_user_name("admin").is_ok());
        assert!(validate_user_name("jane.doe@example.com").is_ok());
        for bad in ["", "a:b", " a", "a\n", &"x".repeat(101)] {
            assert!(validate_user_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn provider_applications_need_an_inbound_id_and_a_name() {
        let now = DateTime::from_unix(0);
        assert!(new_provider_application(SysId::random(), "", "Genesys", "admin", now).is_err());
        assert!(new_provider_application(SysId::random(), "gen-1", " ", "admin", now).is_err());
        let app =
            new_provider_application(SysId::random(), "gen-1", "Genesys", "admin", now).unwrap();
        assert_eq!(app.get(field::INBOUND_ID), "gen-1");
        assert_eq!(app.get(field::SYS_MOD_COUNT), "0");
    }
}
