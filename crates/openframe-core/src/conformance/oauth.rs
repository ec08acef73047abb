//! OAuth clients and tokens: add, find by exact key, uniqueness of client ids, pruning of expired tokens.

use std::sync::Arc;

use crate::error::Conflict;
use crate::oauth::{OAuthClient, OAuthToken, TokenKind};
use crate::repository::Repository;

use super::fixture::{assert_conflict, ok};

fn client(client_id: &str, name: &str) -> OAuthClient {
    OAuthClient {
        client_id: client_id.to_owned(),
        name: name.to_owned(),
        secret_hash: format!("{:0>64}", client_id.len()),
        access_lifespan: 1800,
        refresh_lifespan: 8_640_000,
    }
}

fn token(hash: &str, kind: TokenKind, user_name: &str, expires_at: i64) -> OAuthToken {
    OAuthToken {
        token_hash: hash.to_owned(),
        kind,
        client_id: "0123456789abcdef0123456789abcdef".to_owned(),
        user_name: user_name.to_owned(),
        user_stamp: format!("stamp-of-{user_name}"),
        expires_at,
    }
}

/// `find_oauth_client` returns the client as added, by exact `client_id`; a taken `client_id` is a
/// [`Conflict::OAuthClientId`] that leaves the first client as it was.
pub async fn oauth_clients_round_trip(repo: &Arc<dyn Repository>) {
    let genesys = client(
        "0123456789abcdef0123456789abcdef",
        "Genesys Cloud — ÉU 'A' & \"B\" 100% _",
    );
    let five9 = OAuthClient {
        access_lifespan: 60,
        refresh_lifespan: 315_360_000,
        ..client("fedcba9876543210fedcba9876543210", "Five9")
    };
    for c in [&genesys, &five9] {
        ok("add_oauth_client", repo.add_oauth_client(c).await);
    }
    for c in [&genesys, &five9] {
        assert_eq!(
            ok(
                "find_oauth_client",
                repo.find_oauth_client(&c.client_id).await
            )
            .as_ref(),
            Some(c),
            "find_oauth_client({:?}) must return the client as added",
            c.client_id
        );
    }
    for near_miss in [
        "0123456789ABCDEF0123456789ABCDEF",
        "0123456789abcdef0123456789abcde",
        "0123456789abcdef%",
        "%",
        "",
    ] {
        let found = ok("find_oauth_client", repo.find_oauth_client(near_miss).await);
        assert!(
            found.is_none(),
            "find_oauth_client({near_miss:?}) must match client ids exactly, found {found:?}"
        );
    }
    let taken = client(&genesys.client_id, "Another");
    assert_conflict(
        "add_oauth_client with a taken client_id",
        repo.add_oauth_client(&taken).await,
        Conflict::OAuthClientId {
            client_id: genesys.client_id.clone(),
        },
    );
    assert_eq!(
        ok(
            "find_oauth_client",
            repo.find_oauth_client(&genesys.client_id).await
        ),
        Some(genesys),
        "a refused add must leave the first client as it was"
    );
}

/// `find_oauth_token` returns a token as added, by exact hash, expired or not; `prune_oauth_tokens(now)`
/// removes exactly the tokens that expired before `now` and says how many.
pub async fn oauth_tokens_round_trip_and_prune(repo: &Arc<dyn Repository>) {
    let now = 1_800_000_000;
    let tokens = [
        token(&"a".repeat(64), TokenKind::Access, "agent", now - 1),
        token(&"b".repeat(64), TokenKind::Access, "agent", now),
        token(
            &"c".repeat(64),
            TokenKind::Refresh,
            "agent",
            now + 8_640_000,
        ),
        token(
            &"d".repeat(64),
            TokenKind::Refresh,
            "Jane O'Brien 日本",
            now - 86_400,
        ),
    ];
    for t in &tokens {
        ok("add_oauth_token", repo.add_oauth_token(t).await);
    }
    for t in &tokens {
        assert_eq!(
            ok(
                "find_oauth_token",
                repo.find_oauth_token(&t.token_hash).await
            )
            .as_ref(),
            Some(t),
            "find_oauth_token must return the token as added ({t:?})"
        );
    }
    for near_miss in [&"A".repeat(64), &"a".repeat(63), "a%", "%", ""] {
        let found = ok("find_oauth_token", repo.find_oauth_token(near_miss).await);
        assert!(
            found.is_none(),
            "find_oauth_token({near_miss:?}) must match hashes exactly, found {found:?}"
        );
    }
    assert_eq!(
        ok("prune_oauth_tokens", repo.prune_oauth_tokens(now).await),
        2,
        "prune_oauth_tokens removes the two tokens that expired before now"
    );
    for (t, kept) in tokens.iter().zip([false, true, true, false]) {
        let found = ok(
            "find_oauth_token",
            repo.find_oauth_token(&t.token_hash).await,
        );
        assert_eq!(
            found.as_ref(),
            kept.then_some(t),
            "after pruning at {now}, a token expiring at {} is {}",
            t.expires_at,
            if kept { "kept" } else { "gone" }
        );
    }
    assert_eq!(
        ok("prune_oauth_tokens", repo.prune_oauth_tokens(now).await),
        0,
        "pruning again removes nothing"
    );
}
