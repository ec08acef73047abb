//! The one error type of openframe. Callers (the HTTP layer above all) match on its kinds, never on text.

use std::error::Error as StdError;

/// Boxed driver error kept as the source of [`Error::Unavailable`] and [`Error::Internal`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// `Result` with openframe's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as a kind the HTTP layer maps to a status code.
///
/// Driver errors stay in `source` and are never shown to a client: the `Display` of the two store kinds is a
/// fixed text, and that of [`Error::Conflict`] is [`Conflict`]'s, worded here from the taken key alone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// The write would break a uniqueness rule: the key it names is taken.
    #[error("{0}")]
    Conflict(Conflict),
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

/// Which uniqueness rule a write would break, and the key that is taken. Every store reports its
/// conflicts as these kinds (never in its own words or its driver's); the `Display` is the one wording.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Conflict {
    /// A user has this sign-in name.
    UserName {
        /// The taken name.
        user_name: String,
    },
    /// A provider application has this `inbound_id`.
    InboundId {
        /// The taken inbound id.
        inbound_id: String,
    },
    /// A record of `table` (or, for [`crate::portability::USER_TABLE`], a user) has this sys_id.
    SysId {
        /// The table's name (`interaction`, `sn_openframe_phone_log`, `sys_user`, …).
        table: &'static str,
        /// The taken sys_id.
        sys_id: String,
    },
    /// An interaction has this number.
    Number {
        /// The taken number.
        number: String,
    },
    /// An OAuth client has this `client_id`.
    OAuthClientId {
        /// The taken client id.
        client_id: String,
    },
    /// A backup's destination file exists (a backup never overwrites a file).
    BackupDestination {
        /// The destination, as given.
        path: String,
    },
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Conflict::UserName { user_name } => write!(f, "user {user_name} already exists"),
            Conflict::InboundId { inbound_id } => write!(
                f,
                "a provider application with inbound_id {inbound_id} already exists"
            ),
            Conflict::SysId { table, sys_id } => {
                write!(f, "the {table} record with sys_id {sys_id} already exists")
            }
            Conflict::Number { number } => {
                write!(f, "an interaction with number {number} already exists")
            }
            Conflict::OAuthClientId { client_id } => {
                write!(
                    f,
                    "an OAuth client with client_id {client_id} already exists"
                )
            }
            Conflict::BackupDestination { path } => {
                write!(f, "{path} exists; a backup never overwrites a file")
            }
        }
    }
}

impl From<Conflict> for Error {
    fn from(conflict: Conflict) -> Self {
        Error::Conflict(conflict)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_displays_its_kind_and_key() {
        let e = Error::from(Conflict::SysId {
            table: "interaction",
            sys_id: "0123".into(),
        });
        assert_eq!(
            e.to_string(),
            "the interaction record with sys_id 0123 already exists"
        );
        let e = Error::from(Conflict::UserName {
            user_name: "jane".into(),
        });
        assert_eq!(e.to_string(), "user jane already exists");
    }
}
