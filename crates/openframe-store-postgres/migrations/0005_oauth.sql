-- OAuth clients and the tokens issued through them (openframe_core::oauth). Secrets and tokens are stored
-- as hex SHA-256 only. Expired tokens are pruned by expiry, hence its index.
CREATE TABLE oauth_clients (
    client_id        TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    secret_hash      TEXT NOT NULL,
    access_lifespan  BIGINT NOT NULL,
    refresh_lifespan BIGINT NOT NULL
);

CREATE TABLE oauth_tokens (
    token_hash TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    user_name  TEXT NOT NULL,
    user_stamp TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_tokens_expires_at_idx ON oauth_tokens (expires_at);
