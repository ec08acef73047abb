//! OAuth 2.0 clients and tokens as a store keeps them (CONTRACT §10): a registered client, and the access and
//! refresh tokens issued to a user through it.
//!
//! Secrets and tokens are kept only as hashes (hex SHA-256; the values are 256-bit random, so a fast hash is
//! enough). A token also carries the *stamp* of the user it was issued to, a digest of the user's sys_id and
//! password hash at that time: a token whose user is gone, or whose password has changed since, no longer
//! matches and is refused. Revocation therefore needs no write to the tokens.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How long an access token lives unless its client says otherwise (the platform's default).
pub const DEFAULT_ACCESS_LIFESPAN: u32 = 30 * 60;
/// How long a refresh token lives unless its client says otherwise (the platform's default).
pub const DEFAULT_REFRESH_LIFESPAN: u32 = 100 * 24 * 60 * 60;

/// A registered OAuth client application (`openframe oauth-client add`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthClient {
    /// The public identifier clients send as `client_id` (32 lowercase hex digits).
    pub client_id: String,
    /// A name for people.
    pub name: String,
    /// Hex SHA-256 of the client secret; never the secret itself.
    pub secret_hash: String,
    /// Seconds an access token issued through this client lives.
    pub access_lifespan: u32,
    /// Seconds a refresh token issued through this client lives.
    pub refresh_lifespan: u32,
}

// Hand-written so that the secret's hash never reaches a log line through `{:?}`.
impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("access_lifespan", &self.access_lifespan)
            .field("refresh_lifespan", &self.refresh_lifespan)
            .finish_non_exhaustive()
    }
}

/// What a token grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// Sent as `Authorization: Bearer …` on API calls.
    Access,
    /// Exchanged at the token endpoint for a new access token.
    Refresh,
}

impl TokenKind {
    /// The name stores keep (`access`, `refresh`).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }

    /// The kind a stored name names.
    ///
    /// # Errors
    /// [`Error::Internal`] for any other name (a corrupt row).
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "access" => Ok(TokenKind::Access),
            "refresh" => Ok(TokenKind::Refresh),
            other => Err(Error::internal(format!("unknown token kind {other:?}"))),
        }
    }
}

/// An issued token, as stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthToken {
    /// Hex SHA-256 of the token; the key it is found by.
    pub token_hash: String,
    /// Access or refresh.
    pub kind: TokenKind,
    /// The client it was issued through.
    pub client_id: String,
    /// The user it acts as.
    pub user_name: String,
    /// The user's stamp when it was issued (see the module docs).
    pub user_stamp: String,
    /// When it stops being accepted, in seconds since the Unix epoch.
    pub expires_at: i64,
}

// Hand-written: the hash is the key to a live credential, so it stays out of logs too.
impl std::fmt::Debug for OAuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthToken")
            .field("kind", &self.kind)
            .field("client_id", &self.client_id)
            .field("user_name", &self.user_name)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Checks a client name: 1-100 characters, no control characters or surrounding spaces.
///
/// # Errors
/// [`Error::Invalid`] naming `name`.
pub fn validate_client_name(name: &str) -> Result<()> {
    if crate::names::is_plain_name(name) {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            "must be 1-100 characters without control characters or surrounding spaces",
        ))
    }
}

/// Checks a token lifespan in seconds: 60 seconds to 10 years.
///
/// # Errors
/// [`Error::Invalid`] naming `field`.
pub fn validate_lifespan(field: &str, seconds: u32) -> Result<()> {
    if (60..=10 * 365 * 24 * 60 * 60).contains(&seconds) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            "must be between 60 seconds and 10 years",
        ))
    }
}
