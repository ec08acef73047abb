-- Table API equality folds ASCII case, as the platform does (openframe_core::query): the client-session index
-- becomes one on lower(client_session_id), which `lower(client_session_id) = $n` uses (the column is in the
-- "C" collation, where lower() folds ASCII only). Numbers and sys_ids keep their plain indexes: their stored
-- values have one case.
DROP INDEX interaction_client_session_id_idx;
CREATE INDEX interaction_client_session_id_idx ON interaction (lower(client_session_id));
