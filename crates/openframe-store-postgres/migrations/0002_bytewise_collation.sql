-- Byte-wise text: every field column of the four record tables (and the context's keys) takes the "C"
-- collation, so that comparisons, ORDER BY and the indexes on these columns all follow the byte order of
-- UTF-8, which is code point order and Rust's `str` order (CONTRACT §6: queries compare exactly, byte-wise).
-- With the column itself in "C", an index serves equality, prefix ranges and ORDER BY alike, whatever the
-- database's default collation is. Changing only the collation rewrites no table; PostgreSQL rebuilds the
-- indexes on the changed columns.

ALTER TABLE interaction
    ALTER COLUMN sys_id TYPE text COLLATE "C",
    ALTER COLUMN sys_created_on TYPE text COLLATE "C",
    ALTER COLUMN sys_created_by TYPE text COLLATE "C",
    ALTER COLUMN sys_updated_on TYPE text COLLATE "C",
    ALTER COLUMN sys_updated_by TYPE text COLLATE "C",
    ALTER COLUMN sys_mod_count TYPE text COLLATE "C",
    ALTER COLUMN number TYPE text COLLATE "C",
    ALTER COLUMN type TYPE text COLLATE "C",
    ALTER COLUMN state TYPE text COLLATE "C",
    ALTER COLUMN direction TYPE text COLLATE "C",
    ALTER COLUMN short_description TYPE text COLLATE "C",
    ALTER COLUMN assigned_to TYPE text COLLATE "C",
    ALTER COLUMN opened_for TYPE text COLLATE "C",
    ALTER COLUMN opened_by TYPE text COLLATE "C",
    ALTER COLUMN opened_at TYPE text COLLATE "C",
    ALTER COLUMN closed_at TYPE text COLLATE "C",
    ALTER COLUMN closed_by TYPE text COLLATE "C",
    ALTER COLUMN account TYPE text COLLATE "C",
    ALTER COLUMN contact TYPE text COLLATE "C",
    ALTER COLUMN consumer TYPE text COLLATE "C",
    ALTER COLUMN queue TYPE text COLLATE "C",
    ALTER COLUMN assignment_group TYPE text COLLATE "C",
    ALTER COLUMN parent TYPE text COLLATE "C",
    ALTER COLUMN work_notes TYPE text COLLATE "C",
    ALTER COLUMN duration TYPE text COLLATE "C",
    ALTER COLUMN caller_phone_number TYPE text COLLATE "C",
    ALTER COLUMN user_phone_number TYPE text COLLATE "C",
    ALTER COLUMN client_session_id TYPE text COLLATE "C",
    ALTER COLUMN inbound_id TYPE text COLLATE "C",
    ALTER COLUMN provider_application TYPE text COLLATE "C",
    ALTER COLUMN channel_metadata_table TYPE text COLLATE "C";

ALTER TABLE sn_openframe_phone_log
    ALTER COLUMN sys_id TYPE text COLLATE "C",
    ALTER COLUMN sys_created_on TYPE text COLLATE "C",
    ALTER COLUMN sys_created_by TYPE text COLLATE "C",
    ALTER COLUMN sys_updated_on TYPE text COLLATE "C",
    ALTER COLUMN sys_updated_by TYPE text COLLATE "C",
    ALTER COLUMN sys_mod_count TYPE text COLLATE "C",
    ALTER COLUMN interaction TYPE text COLLATE "C",
    ALTER COLUMN call_id TYPE text COLLATE "C",
    ALTER COLUMN agent TYPE text COLLATE "C",
    ALTER COLUMN start_time TYPE text COLLATE "C",
    ALTER COLUMN end_time TYPE text COLLATE "C",
    ALTER COLUMN duration TYPE text COLLATE "C",
    ALTER COLUMN call_type TYPE text COLLATE "C",
    ALTER COLUMN phone_number TYPE text COLLATE "C",
    ALTER COLUMN contact TYPE text COLLATE "C";

ALTER TABLE interaction_related_record
    ALTER COLUMN sys_id TYPE text COLLATE "C",
    ALTER COLUMN sys_created_on TYPE text COLLATE "C",
    ALTER COLUMN sys_created_by TYPE text COLLATE "C",
    ALTER COLUMN sys_updated_on TYPE text COLLATE "C",
    ALTER COLUMN sys_updated_by TYPE text COLLATE "C",
    ALTER COLUMN sys_mod_count TYPE text COLLATE "C",
    ALTER COLUMN interaction TYPE text COLLATE "C",
    ALTER COLUMN document_table TYPE text COLLATE "C",
    ALTER COLUMN document_id TYPE text COLLATE "C";

ALTER TABLE sys_cs_provider_application
    ALTER COLUMN sys_id TYPE text COLLATE "C",
    ALTER COLUMN sys_created_on TYPE text COLLATE "C",
    ALTER COLUMN sys_created_by TYPE text COLLATE "C",
    ALTER COLUMN sys_updated_on TYPE text COLLATE "C",
    ALTER COLUMN sys_updated_by TYPE text COLLATE "C",
    ALTER COLUMN sys_mod_count TYPE text COLLATE "C",
    ALTER COLUMN name TYPE text COLLATE "C",
    ALTER COLUMN inbound_id TYPE text COLLATE "C",
    ALTER COLUMN short_description TYPE text COLLATE "C";

ALTER TABLE interaction_context
    ALTER COLUMN interaction TYPE text COLLATE "C",
    ALTER COLUMN name TYPE text COLLATE "C";
