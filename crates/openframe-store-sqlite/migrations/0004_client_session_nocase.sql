-- Table API equality folds ASCII case, as the platform does (openframe_core::query): the client-session
-- index is rebuilt in the NOCASE collation (ASCII folding), which `client_session_id = ? COLLATE NOCASE`
-- uses. Numbers and sys_ids keep their plain indexes: their stored values have one case.
DROP INDEX interaction_client_session_id;
CREATE INDEX interaction_client_session_id ON interaction (client_session_id COLLATE NOCASE);
