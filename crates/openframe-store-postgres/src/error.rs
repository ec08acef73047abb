//! sqlx errors as openframe error kinds: unreachability is `Unavailable`, a unique violation `Conflict`,
//! anything else `Internal`. The driver's text stays in the source, behind a short note of what was being done.

use std::fmt;
use std::sync::Arc;

use openframe_core::Error;

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

/// Maps `source`, raised while `doing` something, to an openframe error kind. A unique violation becomes a
/// [`Error::Conflict`] whose detail `conflict` words from the broken constraint's name.
pub(crate) fn map_error(
    doing: impl Into<String>,
    source: sqlx::Error,
    conflict: impl FnOnce(&str) -> String,
) -> Error {
    if let Some(constraint) = unique_violation(&source) {
        return Error::Conflict {
            detail: conflict(constraint),
        };
    }
    shared_error(doing, &Arc::new(source))
}

/// [`map_error`] for one of several callers that share `source` (the creates of one batch): `Unavailable`
/// or `Internal` as [`map_error`] would say. Not for unique violations, which each caller words itself.
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

/// [`map_error`] for writes with no uniqueness rule of their own.
pub(crate) fn db_error(doing: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
    let doing = doing.into();
    move |source| {
        map_error(doing, source, |constraint| {
            format!("duplicate key ({constraint})")
        })
    }
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
