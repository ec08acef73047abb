//! The one error type of openframe. Callers (the HTTP layer above all) match on its kinds, never on text.

use std::error::Error as StdError;

/// Boxed driver error kept as the source of [`Error::Unavailable`] and [`Error::Internal`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// `Result` with openframe's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as a kind the HTTP layer maps to a status code.
///
/// Driver errors stay in `source` and are never shown to a client: the `Display` of the two store kinds is a
/// fixed text.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request broke a rule. `field` is the path of the offending input (`interaction.userPhoneNumber`,
    /// `phoneLogs[2].call_type`), `rule` what it must be.
    #[error("{field}: {rule}")]
    Invalid {
        /// Path of the offending input.
        field: String,
        /// The rule it broke, in words.
        rule: String,
    },
    /// A well-formed identifier that names no record.
    #[error("no {what} found")]
    NotFound {
        /// What was looked for (`interaction`, `user`, …).
        what: &'static str,
    },
    /// The write would break a uniqueness rule (a user name or inbound id taken).
    #[error("{detail}")]
    Conflict {
        /// What is already there.
        detail: String,
    },
    /// The store could not be reached or did not answer in time; nothing was written. Worth a retry.
    #[error("store unavailable")]
    Unavailable {
        /// The driver's error.
        #[source]
        source: BoxError,
    },
    /// Any other fault: a bug, a corrupt row, a driver error that is not about reachability.
    #[error("internal error")]
    Internal {
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// An [`Error::Invalid`] for `field` breaking `rule`.
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// An [`Error::Internal`] wrapping any error.
    pub fn internal(source: impl Into<BoxError>) -> Self {
        Error::Internal {
            source: source.into(),
        }
    }

    /// An [`Error::Unavailable`] wrapping any error.
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Error::Unavailable {
            source: source.into(),
        }
    }
}
