//! OAuth clients and tokens: plain rows keyed by client id and by token hash.

use openframe_core::oauth::{OAuthClient, OAuthToken, TokenKind};
use openframe_core::{Conflict, Result};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{map, sqlite};

const INSERT_CLIENT: &str = "INSERT INTO oauth_clients \
     (client_id, name, secret_hash, access_lifespan, refresh_lifespan) VALUES (?1, ?2, ?3, ?4, ?5)";
const SELECT_CLIENT: &str = "SELECT client_id, name, secret_hash, access_lifespan, refresh_lifespan \
     FROM oauth_clients WHERE client_id = ?1";
const INSERT_TOKEN: &str = "INSERT INTO oauth_tokens \
     (token_hash, kind, client_id, user_name, user_stamp, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const SELECT_TOKEN: &str = "SELECT token_hash, kind, client_id, user_name, user_stamp, expires_at \
     FROM oauth_tokens WHERE token_hash = ?1";
const PRUNE_TOKENS: &str = "DELETE FROM oauth_tokens WHERE expires_at < ?1";

/// Adds a client; a taken client id is a conflict.
pub(crate) fn insert_client(conn: &Connection, client: &OAuthClient) -> Result<()> {
    conn.prepare_cached(INSERT_CLIENT)
        .and_then(|mut stmt| {
            stmt.execute(params![
                client.client_id,
                client.name,
                client.secret_hash,
                client.access_lifespan,
                client.refresh_lifespan
            ])
        })
        .map_err(|e| {
            map(e, "adding an OAuth client", || Conflict::OAuthClientId {
                client_id: client.client_id.clone(),
            })
        })?;
    Ok(())
}

/// The client with this id.
pub(crate) fn find_client(conn: &Connection, client_id: &str) -> Result<Option<OAuthClient>> {
    conn.prepare_cached(SELECT_CLIENT)
        .and_then(|mut stmt| {
            stmt.query_row([client_id], |row| {
                Ok(OAuthClient {
                    client_id: row.get(0)?,
                    name: row.get(1)?,
                    secret_hash: row.get(2)?,
                    access_lifespan: row.get(3)?,
                    refresh_lifespan: row.get(4)?,
                })
            })
            .optional()
        })
        .map_err(sqlite("reading an OAuth client"))
}

/// Stores an issued token.
pub(crate) fn insert_token(conn: &Connection, token: &OAuthToken) -> Result<()> {
    conn.prepare_cached(INSERT_TOKEN)
        .and_then(|mut stmt| {
            stmt.execute(params![
                token.token_hash,
                token.kind.as_str(),
                token.client_id,
                token.user_name,
                token.user_stamp,
                token.expires_at
            ])
        })
        .map_err(sqlite("storing an OAuth token"))?;
    Ok(())
}

/// The token with this hash.
pub(crate) fn find_token(conn: &Connection, token_hash: &str) -> Result<Option<OAuthToken>> {
    let row: Option<(String, String, String, String, String, i64)> = conn
        .prepare_cached(SELECT_TOKEN)
        .and_then(|mut stmt| {
            stmt.query_row([token_hash], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            })
            .optional()
        })
        .map_err(sqlite("reading an OAuth token"))?;
    row.map(
        |(token_hash, kind, client_id, user_name, user_stamp, expires_at)| {
            Ok(OAuthToken {
                token_hash,
                kind: TokenKind::parse(&kind)?,
                client_id,
                user_name,
                user_stamp,
                expires_at,
            })
        },
    )
    .transpose()
}

/// Removes the tokens that expired before `now`.
pub(crate) fn prune_tokens(conn: &Connection, now: i64) -> Result<u64> {
    let removed = conn
        .prepare_cached(PRUNE_TOKENS)
        .and_then(|mut stmt| stmt.execute([now]))
        .map_err(sqlite("pruning OAuth tokens"))?;
    Ok(removed as u64)
}
