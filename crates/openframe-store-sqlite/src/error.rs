//! How SQLite errors become the kinds of [`openframe_core::Error`]: busy/locked timeouts and I/O or open
//! failures are `Unavailable`, a uniqueness violation the [`openframe_core::Conflict`] its write names,
//! everything else `Internal`. Driver text only ever travels as a `source`.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use openframe_core::{BoxError, Conflict, Error};
use rusqlite::ErrorCode;
use rusqlite::ffi;

/// A driver error with what the store was doing when it happened, so that logs read
/// `opening SQLite database /var/lib/openframe.db: unable to open database file`.
#[derive(Debug)]
pub(crate) struct SqliteFailure {
    doing: String,
    source: rusqlite::Error,
}

impl fmt::Display for SqliteFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.doing, self.source)
    }
}

impl StdError for SqliteFailure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.source)
    }
}

/// What kind of failure a driver error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Unavailable,
    Conflict,
    Internal,
}

fn kind(e: &rusqlite::Error) -> Kind {
    let rusqlite::Error::SqliteFailure(failure, _) = e else {
        return Kind::Internal;
    };
    match failure.code {
        // Another process holds the lock past busy_timeout, or the disk, the file system or the file itself
        // cannot be reached: worth a retry, nothing was written.
        ErrorCode::DatabaseBusy
        | ErrorCode::DatabaseLocked
        | ErrorCode::SystemIoFailure
        | ErrorCode::CannotOpen
        | ErrorCode::DiskFull
        | ErrorCode::FileLockingProtocolFailed
        | ErrorCode::PermissionDenied
        | ErrorCode::NoLargeFileSupport => Kind::Unavailable,
        ErrorCode::ConstraintViolation
            if matches!(
                failure.extended_code,
                ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            ) =>
        {
            Kind::Conflict
        }
        _ => Kind::Internal,
    }
}

/// Maps a driver error met while `doing` something; a uniqueness violation becomes the
/// [`Error::Conflict`] that `conflict` names (from what the caller knows of its write, never from the
/// driver's text).
pub(crate) fn map(
    e: rusqlite::Error,
    doing: impl Into<String>,
    conflict: impl FnOnce() -> Conflict,
) -> Error {
    match kind(&e) {
        Kind::Conflict => Error::Conflict(conflict()),
        _ => fault(e, doing),
    }
}

/// A driver error as `Unavailable` or `Internal`: where no uniqueness rule applies, a uniqueness violation
/// is a fault too.
pub(crate) fn fault(e: rusqlite::Error, doing: impl Into<String>) -> Error {
    let failure = SqliteFailure {
        doing: doing.into(),
        source: e,
    };
    match kind(&failure.source) {
        Kind::Unavailable => Error::unavailable(failure),
        Kind::Conflict | Kind::Internal => Error::internal(failure),
    }
}

/// Maps a driver error met where no uniqueness rule applies (reads, transaction control, pragmas).
pub(crate) fn sqlite(doing: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |e| fault(e, doing)
}

/// One cause shared by the errors of several writes (a batch whose commit failed): displays as the cause,
/// with the cause's own source.
#[derive(Clone)]
struct Shared {
    /// What happened to this write because of the cause, when that is not the cause itself.
    context: Option<&'static str>,
    cause: Arc<BoxError>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.context {
            Some(context) => write!(f, "{context}: {:?}", self.cause),
            None => fmt::Debug::fmt(&self.cause, f),
        }
    }
}

impl fmt::Display for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.context {
            Some(context) => write!(f, "{context}: {}", self.cause),
            None => fmt::Display::fmt(&self.cause, f),
        }
    }
}

impl StdError for Shared {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.cause.source()
    }
}

/// Makes copies of `e` for every write it fails, since an [`Error`] has one owner: each copy is of the same
/// kind with the same message, and an `Unavailable` or `Internal` one shares the original source, prefixed
/// with `context` when given.
pub(crate) fn copies(e: Error, context: Option<&'static str>) -> impl Fn() -> Error {
    let shared = |source: BoxError| Shared {
        context,
        cause: Arc::new(source),
    };
    let make: Box<dyn Fn() -> Error + Send> = match e {
        Error::Invalid { field, rule } => Box::new(move || Error::Invalid {
            field: field.clone(),
            rule: rule.clone(),
        }),
        Error::NotFound { what } => Box::new(move || Error::NotFound { what }),
        Error::Conflict(conflict) => Box::new(move || Error::Conflict(conflict.clone())),
        Error::Unavailable { source } => {
            let shared = shared(source);
            Box::new(move || Error::unavailable(shared.clone()))
        }
        Error::Internal { source } => {
            let shared = shared(source);
            Box::new(move || Error::internal(shared.clone()))
        }
        // A kind this store does not know yet: its copies keep its text.
        other => {
            let shared = shared(other.into());
            Box::new(move || Error::internal(shared.clone()))
        }
    };
    make
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some("driver text".into()))
    }

    #[test]
    fn busy_locked_and_io_are_unavailable() {
        for code in [
            ffi::SQLITE_BUSY,
            ffi::SQLITE_BUSY_SNAPSHOT,
            ffi::SQLITE_LOCKED,
            ffi::SQLITE_IOERR_FSYNC,
            ffi::SQLITE_CANTOPEN,
            ffi::SQLITE_FULL,
        ] {
            let e = sqlite("writing")(failure(code));
            assert!(matches!(e, Error::Unavailable { .. }), "{code}: {e:?}");
        }
    }

    #[test]
    fn uniqueness_is_a_conflict_without_driver_text() {
        for code in [
            ffi::SQLITE_CONSTRAINT_UNIQUE,
            ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
        ] {
            let taken = || Conflict::UserName {
                user_name: "x".into(),
            };
            let e = map(failure(code), "adding a user", taken);
            match &e {
                Error::Conflict(conflict) => assert_eq!(*conflict, taken()),
                other => panic!("{code}: {other:?}"),
            }
            assert_eq!(e.to_string(), "user x already exists");
            // Where no uniqueness rule applies, a violation is a fault.
            let e = sqlite("reading")(failure(code));
            assert!(matches!(e, Error::Internal { .. }), "{code}: {e:?}");
        }
    }

    #[test]
    fn other_faults_are_internal_and_keep_their_source() {
        for e in [
            failure(ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
            failure(ffi::SQLITE_CONSTRAINT_NOTNULL),
            failure(ffi::SQLITE_CORRUPT),
            failure(ffi::SQLITE_NOTADB),
            rusqlite::Error::QueryReturnedNoRows,
        ] {
            let mapped = sqlite("reading an interaction")(e);
            let Error::Internal { source } = &mapped else {
                panic!("{mapped:?}");
            };
            assert!(source.to_string().starts_with("reading an interaction: "));
            // The kind's own text, what a client could ever see, carries nothing of the driver's.
            assert_eq!(mapped.to_string(), "internal error");
        }
    }

    #[test]
    fn copies_keep_the_kind_and_the_cause() {
        let copy = copies(
            sqlite("committing a write batch")(failure(ffi::SQLITE_IOERR_FSYNC)),
            Some("rolled back with its batch"),
        );
        for _ in 0..2 {
            let e = copy();
            let Error::Unavailable { source } = &e else {
                panic!("{e:?}");
            };
            assert!(
                source
                    .to_string()
                    .starts_with("rolled back with its batch: committing a write batch: "),
                "{source}"
            );
            assert!(
                source.source().is_some(),
                "the driver error stays reachable"
            );
        }
        let taken = Conflict::InboundId {
            inbound_id: "taken".into(),
        };
        let copy = copies(Error::Conflict(taken.clone()), None);
        assert!(matches!(copy(), Error::Conflict(c) if c == taken));
        let copy = copies(Error::internal("boom"), None);
        assert_eq!(
            copy().to_string(),
            "internal error",
            "the message a client sees is the kind's"
        );
    }
}
