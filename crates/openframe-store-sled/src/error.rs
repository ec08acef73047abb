//! How sled's errors become openframe's: I/O faults are [`Error::Unavailable`], anything else is
//! [`Error::Internal`]; an error a transaction aborted with passes through unchanged.

use openframe_core::Error;
use sled::transaction::{ConflictableTransactionError, TransactionError};

/// Maps a sled error to its kind. Only I/O faults (a full or vanished disk, a lock held by another process)
/// are worth a retry; corruption and misuse are not.
pub(crate) fn from_sled(e: sled::Error) -> Error {
    match e {
        sled::Error::Io(_) => Error::unavailable(e),
        other => Error::internal(other),
    }
}

/// Maps the outcome of a transaction: an abort carries our own error, which passes through unchanged.
pub(crate) fn from_transaction(e: TransactionError<Error>) -> Error {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => from_sled(e),
    }
}

/// Turns our own error into a transaction abort, so that nothing the closure staged is written.
pub(crate) fn abort(e: Error) -> ConflictableTransactionError<Error> {
    ConflictableTransactionError::Abort(e)
}
