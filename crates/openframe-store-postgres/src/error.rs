//! sqlx errors as openframe error kinds: unreachability is `Unavailable`, a unique violation the
//! [`openframe_core::Conflict`] of the key the write brought for the broken constraint, anything else
//! `Internal`. The driver's text stays in the source, behind a short note of what was being done.

use std::fmt;
use std::sync::Arc;

use openframe_core::Error;
use openframe_core::portability::USER_TABLE;
use openframe_core::unique::UniqueKey;
use sqlx::postgres::PgDatabaseError;

use crate::queries::constraint;

/// SQLSTATE of a unique violation.
const UNIQUE_VIOLATION: &str = "23505";

/// SQLSTATEs that mean the server went away or cannot take connections now: class 08 (connection exception),
/// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, and 53300 too_many_connections.
fn is_unavailable_code(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

/// A driver error with what the store was doing when it happened. The error may be shared by the callers
/// of one batch of creates (`create_batch.rs`), each doing its own.
#[derive(Debug)]
pub(crate) struct StoreError {
    doing: String,
    source: Arc<sqlx::Error>,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.doing, self.source)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// Whether `error` means the database could not be reached or dropped the connection.
pub(crate) fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| is_unavailable_code(&code)),
        sqlx::Error::Migrate(migrate) => match migrate.as_ref() {
            sqlx::migrate::MigrateError::Execute(inner)
            | sqlx::migrate::MigrateError::ExecuteMigration(inner, _) => is_unavailable(inner),
            _ => false,
        },
        _ => false,
    }
}

/// The constraint a unique violation broke, if `error` is one.
pub(crate) fn unique_violation(error: &sqlx::Error) -> Option<&str> {
    match error {
        sqlx::Error::Database(db) if db.code().as_deref() == Some(UNIQUE_VIOLATION) => {
            Some(db.constraint().unwrap_or(""))
        }
        _ => None,
    }
}

/// Whether `constraint` (see `migrations/`) is the one that keeps `key` unique, and the key's column.
fn keeps_unique(constraint: &str, key: &UniqueKey<'_>) -> Option<&'static str> {
    let (name, column) = match *key {
        UniqueKey::SysId { table, .. } if table == USER_TABLE => (constraint::USERS_PKEY, "sys_id"),
        UniqueKey::SysId { table, .. } => {
            let pkey = constraint.strip_suffix("_pkey");
            return (pkey == Some(table)).then_some("sys_id");
        }
        UniqueKey::UserName(_) => (constraint::USER_NAME, "user_name"),
        UniqueKey::InboundId(_) => (constraint::INBOUND_ID, "inbound_id"),
        UniqueKey::Number(_) => (constraint::NUMBER, "number"),
        _ => return None,
    };
    (constraint == name).then_some(column)
}

fn key_value<'a>(key: &UniqueKey<'a>) -> &'a str {
    match *key {
        UniqueKey::SysId { sys_id, .. } => sys_id,
        UniqueKey::UserName(v) | UniqueKey::InboundId(v) | UniqueKey::Number(v) => v,
        _ => "",
    }
}

/// The key among `keys` (those the failed statement wrote) that the unique violation `source` is about:
/// the one key the broken constraint keeps unique, or, when the statement wrote several, the one the
/// server's detail names (compared whole with what PostgreSQL says, so nothing of its text is kept), else
/// the first. `None` when no key of the write is kept unique by that constraint.
fn taken_key<'a>(
    source: &sqlx::Error,
    constraint: &str,
    keys: &[UniqueKey<'a>],
) -> Option<UniqueKey<'a>> {
    let candidates: Vec<(UniqueKey<'a>, &str)> = keys
        .iter()
        .filter_map(|k| keeps_unique(constraint, k).map(|column| (*k, column)))
        .collect();
    if let [(only, _)] = candidates.as_slice() {
        return Some(*only);
    }
    let detail = match source {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<PgDatabaseError>()
            .and_then(PgDatabaseError::detail),
        _ => None,
    };
    candidates
        .iter()
        .find(|(key, column)| {
            detail
                == Some(&format!(
                    "Key ({column})=({}) already exists.",
                    key_value(key)
                ))
        })
        .or(candidates.first())
        .map(|(key, _)| *key)
}

/// Maps `source`, raised while `doing` something that wrote `keys`, to an openframe error kind. A unique
/// violation becomes the [`Error::Conflict`] of the key it is about; one about no key of `keys` is a
/// fault (`Internal`).
pub(crate) fn map_error(
    doing: impl Into<String>,
    source: sqlx::Error,
    keys: &[UniqueKey<'_>],
) -> Error {
    if let Some(key) =
        unique_violation(&source).and_then(|constraint| taken_key(&source, constraint, keys))
    {
        return Error::Conflict(key.conflict());
    }
    shared_error(doing, &Arc::new(source))
}

/// [`map_error`] for one of several callers that share `source` (the creates of one batch): `Unavailable`
/// or `Internal` as [`map_error`] would say. Not for unique violations, which each caller maps itself.
pub(crate) fn shared_error(doing: impl Into<String>, source: &Arc<sqlx::Error>) -> Error {
    let error = StoreError {
        doing: doing.into(),
        source: Arc::clone(source),
    };
    if is_unavailable(source) {
        Error::unavailable(error)
    } else {
        Error::internal(error)
    }
}

/// [`map_error`] for statements that write no key kept unique (a unique violation is then a fault).
pub(crate) fn db_error(doing: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
    let doing = doing.into();
    move |source| map_error(doing, source, &[])
}

/// [`sqlx::migrate::MigrateError`] as an openframe error.
pub(crate) fn migrate_error(error: sqlx::migrate::MigrateError) -> Error {
    db_error("running migrations")(sqlx::Error::Migrate(Box::new(error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reachability_errors_are_unavailable() {
        for e in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        ] {
            assert!(matches!(db_error("x")(e), Error::Unavailable { .. }));
        }
        assert!(matches!(
            db_error("x")(sqlx::Error::RowNotFound),
            Error::Internal { .. }
        ));
        let migrate = sqlx::migrate::MigrateError::Execute(sqlx::Error::PoolTimedOut);
        assert!(matches!(migrate_error(migrate), Error::Unavailable { .. }));
    }

    #[test]
    fn each_constraint_keeps_its_key_unique() {
        use openframe_core::schema::{
            INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD,
        };
        let sys_id = |table: &'static str| UniqueKey::SysId { table, sys_id: "x" };
        for (name, key) in [
            ("interaction_pkey", sys_id(INTERACTION.name)),
            ("sn_openframe_phone_log_pkey", sys_id(PHONE_LOG.name)),
            (
                "interaction_related_record_pkey",
                sys_id(RELATED_RECORD.name),
            ),
            (
                "sys_cs_provider_application_pkey",
                sys_id(PROVIDER_APPLICATION.name),
            ),
            ("users_pkey", sys_id(USER_TABLE)),
            ("users_user_name_key", UniqueKey::UserName("x")),
            (
                "sys_cs_provider_application_inbound_id_key",
                UniqueKey::InboundId("x"),
            ),
            ("interaction_number_key", UniqueKey::Number("x")),
        ] {
            assert!(keeps_unique(name, &key).is_some(), "{name}");
            assert!(
                keeps_unique("interaction_context_pkey", &key).is_none(),
                "{name}"
            );
        }
        assert!(keeps_unique("interaction_pkey", &sys_id(PHONE_LOG.name)).is_none());
        // A violation of no constraint the write's keys have is a fault.
        assert!(matches!(
            map_error("x", sqlx::Error::RowNotFound, &[sys_id(INTERACTION.name)]),
            Error::Internal { .. }
        ));
    }

    #[test]
    fn sqlstates() {
        for code in ["08006", "08001", "57P01", "57P02", "57P03", "53300"] {
            assert!(is_unavailable_code(code), "{code}");
        }
        for code in ["23505", "42P01", "40001", "57014"] {
            assert!(!is_unavailable_code(code), "{code}");
        }
    }

    #[test]
    fn the_source_says_what_was_being_done() {
        let e = db_error("loading interaction x")(sqlx::Error::PoolTimedOut);
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(
            source.as_deref(),
            Some("loading interaction x: pool timed out while waiting for an open connection")
        );
    }
}
