//! OAuth clients and tokens: one statement each, on plain rows keyed by client id and by token hash.

use openframe_core::oauth::{OAuthClient, OAuthToken, TokenKind};
use openframe_core::{Conflict, Error, Result};
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::connect::PostgresRepository;
use crate::error::db_error;

const INSERT_CLIENT: &str = "INSERT INTO oauth_clients \
     (client_id, name, secret_hash, access_lifespan, refresh_lifespan) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (client_id) DO NOTHING";
const SELECT_CLIENT: &str = "SELECT client_id, name, secret_hash, access_lifespan, refresh_lifespan \
     FROM oauth_clients WHERE client_id = $1";
const INSERT_TOKEN: &str = "INSERT INTO oauth_tokens \
     (token_hash, kind, client_id, user_name, user_stamp, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
const SELECT_TOKEN: &str = "SELECT token_hash, kind, client_id, user_name, user_stamp, expires_at \
     FROM oauth_tokens WHERE token_hash = $1";
const PRUNE_TOKENS: &str = "DELETE FROM oauth_tokens WHERE expires_at < $1";

/// PostgreSQL text cannot hold a NUL: a value with one is refused before the server sees it.
fn refuse_nul(field: &str, value: &str) -> Result<()> {
    if value.contains('\0') {
        Err(Error::invalid(field, "must not contain NUL characters"))
    } else {
        Ok(())
    }
}

fn column(e: sqlx::Error) -> Error {
    Error::internal(format!("an OAuth row: {e}"))
}

fn lifespan(row: &PgRow, index: usize) -> Result<u32> {
    let seconds: i64 = row.try_get(index).map_err(column)?;
    u32::try_from(seconds).map_err(|_| Error::internal(format!("a lifespan of {seconds} s")))
}

impl PostgresRepository {
    pub(crate) async fn insert_oauth_client(&self, client: &OAuthClient) -> Result<()> {
        refuse_nul("client_id", &client.client_id)?;
        refuse_nul("name", &client.name)?;
        let inserted = sqlx::query(INSERT_CLIENT)
            .bind(&client.client_id)
            .bind(&client.name)
            .bind(&client.secret_hash)
            .bind(i64::from(client.access_lifespan))
            .bind(i64::from(client.refresh_lifespan))
            .execute(&self.pool)
            .await
            .map_err(db_error("adding an OAuth client"))?;
        if inserted.rows_affected() == 0 {
            return Err(Conflict::OAuthClientId {
                client_id: client.client_id.clone(),
            }
            .into());
        }
        Ok(())
    }

    pub(crate) async fn select_oauth_client(&self, client_id: &str) -> Result<Option<OAuthClient>> {
        if client_id.contains('\0') {
            return Ok(None); // no stored id has one (see `refuse_nul`)
        }
        let Some(row) = sqlx::query(SELECT_CLIENT)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error("reading an OAuth client"))?
        else {
            return Ok(None);
        };
        Ok(Some(OAuthClient {
            client_id: row.try_get(0).map_err(column)?,
            name: row.try_get(1).map_err(column)?,
            secret_hash: row.try_get(2).map_err(column)?,
            access_lifespan: lifespan(&row, 3)?,
            refresh_lifespan: lifespan(&row, 4)?,
        }))
    }

    pub(crate) async fn insert_oauth_token(&self, token: &OAuthToken) -> Result<()> {
        refuse_nul("user_name", &token.user_name)?;
        refuse_nul("client_id", &token.client_id)?;
        sqlx::query(INSERT_TOKEN)
            .bind(&token.token_hash)
            .bind(token.kind.as_str())
            .bind(&token.client_id)
            .bind(&token.user_name)
            .bind(&token.user_stamp)
            .bind(token.expires_at)
            .execute(&self.pool)
            .await
            .map_err(db_error("storing an OAuth token"))?;
        Ok(())
    }

    pub(crate) async fn select_oauth_token(&self, token_hash: &str) -> Result<Option<OAuthToken>> {
        if token_hash.contains('\0') {
            return Ok(None);
        }
        let Some(row) = sqlx::query(SELECT_TOKEN)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error("reading an OAuth token"))?
        else {
            return Ok(None);
        };
        let kind: String = row.try_get(1).map_err(column)?;
        Ok(Some(OAuthToken {
            token_hash: row.try_get(0).map_err(column)?,
            kind: TokenKind::parse(&kind)?,
            client_id: row.try_get(2).map_err(column)?,
            user_name: row.try_get(3).map_err(column)?,
            user_stamp: row.try_get(4).map_err(column)?,
            expires_at: row.try_get(5).map_err(column)?,
        }))
    }

    pub(crate) async fn delete_expired_oauth_tokens(&self, now: i64) -> Result<u64> {
        let deleted = sqlx::query(PRUNE_TOKENS)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db_error("pruning OAuth tokens"))?;
        Ok(deleted.rows_affected())
    }
}
