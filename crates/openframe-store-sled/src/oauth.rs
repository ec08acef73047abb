//! OAuth clients and tokens: JSON values in their own trees, and an expiry index for pruning.

use openframe_core::oauth::{OAuthClient, OAuthToken};
use openframe_core::{Conflict, Error, Result};
use sled::Transactional;

use sled::transaction::ConflictableTransactionError;

use crate::error::{from_sled, from_transaction};
use crate::layout::Trees;

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::internal(format!("encoding an OAuth value: {e}")))
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::internal(format!("a stored OAuth value: {e}")))
}

/// The expiry index's key: the expiry, big-endian with the sign bit flipped (so that byte order is time
/// order), then the token hash.
fn expiry_key(expires_at: i64, token_hash: &str) -> Vec<u8> {
    let mut key = ((expires_at as u64) ^ (1 << 63)).to_be_bytes().to_vec();
    key.extend_from_slice(token_hash.as_bytes());
    key
}

/// Adds a client; a taken client id is a conflict.
pub(crate) fn add_client(trees: &Trees, client: &OAuthClient) -> Result<()> {
    let bytes = encode(client)?;
    let id = client.client_id.as_bytes();
    trees
        .oauth_clients
        .compare_and_swap(id, None as Option<&[u8]>, Some(bytes))
        .map_err(from_sled)?
        .map_err(|_| {
            Error::from(Conflict::OAuthClientId {
                client_id: client.client_id.clone(),
            })
        })
}

/// The client with this id.
pub(crate) fn find_client(trees: &Trees, client_id: &str) -> Result<Option<OAuthClient>> {
    trees
        .oauth_clients
        .get(client_id.as_bytes())
        .map_err(from_sled)?
        .map(|bytes| decode(&bytes))
        .transpose()
}

/// Stores a token and its expiry entry, together.
pub(crate) fn add_token(trees: &Trees, token: &OAuthToken) -> Result<()> {
    let bytes = encode(token)?;
    let expiry = expiry_key(token.expires_at, &token.token_hash);
    (&trees.oauth_tokens, &trees.oauth_token_expiry)
        .transaction(|(tokens, expiries)| {
            tokens.insert(token.token_hash.as_bytes(), bytes.as_slice())?;
            expiries.insert(expiry.as_slice(), &[] as &[u8])?;
            Ok::<_, ConflictableTransactionError<Error>>(())
        })
        .map_err(from_transaction)
}

/// The token with this hash.
pub(crate) fn find_token(trees: &Trees, token_hash: &str) -> Result<Option<OAuthToken>> {
    trees
        .oauth_tokens
        .get(token_hash.as_bytes())
        .map_err(from_sled)?
        .map(|bytes| decode(&bytes))
        .transpose()
}

/// Removes the tokens that expired before `now`, walking the expiry index up to it.
pub(crate) fn prune_tokens(trees: &Trees, now: i64) -> Result<u64> {
    let end = expiry_key(now, "");
    let mut removed = 0;
    for entry in trees.oauth_token_expiry.range(..end) {
        let (key, _) = entry.map_err(from_sled)?;
        let hash = key.get(8..).unwrap_or_default();
        (&trees.oauth_tokens, &trees.oauth_token_expiry)
            .transaction(|(tokens, expiries)| {
                tokens.remove(hash)?;
                expiries.remove(&key)?;
                Ok::<_, ConflictableTransactionError<Error>>(())
            })
            .map_err(from_transaction)?;
        removed += 1;
    }
    Ok(removed)
}
