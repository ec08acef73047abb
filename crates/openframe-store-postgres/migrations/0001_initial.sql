-- openframe on PostgreSQL: the first schema.
--
-- The four record tables have one TEXT column per field of openframe_core::schema, in its column order, with
-- '' for an unset value (as records carry them). Child tables add `created_seq`, an identity column that keeps
-- creation order; it is never overwritten, so an updated phone log keeps its place.

-- Interaction numbers. A sequence, not MAX(number) + 1, so that several servers on one database never hand
-- out the same number. Starts at openframe_core::number::FIRST_NUMBER.
CREATE SEQUENCE interaction_number AS bigint START WITH 1001 MINVALUE 1001;

CREATE TABLE interaction (
    sys_id                 TEXT PRIMARY KEY,
    sys_created_on         TEXT NOT NULL DEFAULT '',
    sys_created_by         TEXT NOT NULL DEFAULT '',
    sys_updated_on         TEXT NOT NULL DEFAULT '',
    sys_updated_by         TEXT NOT NULL DEFAULT '',
    sys_mod_count          TEXT NOT NULL DEFAULT '',
    number                 TEXT NOT NULL,
    type                   TEXT NOT NULL DEFAULT '',
    state                  TEXT NOT NULL DEFAULT '',
    direction              TEXT NOT NULL DEFAULT '',
    short_description      TEXT NOT NULL DEFAULT '',
    assigned_to            TEXT NOT NULL DEFAULT '',
    opened_for             TEXT NOT NULL DEFAULT '',
    opened_by              TEXT NOT NULL DEFAULT '',
    opened_at              TEXT NOT NULL DEFAULT '',
    closed_at              TEXT NOT NULL DEFAULT '',
    closed_by              TEXT NOT NULL DEFAULT '',
    account                TEXT NOT NULL DEFAULT '',
    contact                TEXT NOT NULL DEFAULT '',
    consumer               TEXT NOT NULL DEFAULT '',
    queue                  TEXT NOT NULL DEFAULT '',
    assignment_group       TEXT NOT NULL DEFAULT '',
    parent                 TEXT NOT NULL DEFAULT '',
    work_notes             TEXT NOT NULL DEFAULT '',
    duration               TEXT NOT NULL DEFAULT '',
    caller_phone_number    TEXT NOT NULL DEFAULT '',
    user_phone_number      TEXT NOT NULL DEFAULT '',
    client_session_id      TEXT NOT NULL DEFAULT '',
    inbound_id             TEXT NOT NULL DEFAULT '',
    provider_application   TEXT NOT NULL DEFAULT '',
    channel_metadata_table TEXT NOT NULL DEFAULT '',
    CONSTRAINT interaction_number_key UNIQUE (number)
);
CREATE INDEX interaction_client_session_id_idx ON interaction (client_session_id);

CREATE TABLE interaction_context (
    interaction TEXT NOT NULL REFERENCES interaction (sys_id),
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (interaction, name)
);

CREATE TABLE sn_openframe_phone_log (
    sys_id         TEXT PRIMARY KEY,
    sys_created_on TEXT NOT NULL DEFAULT '',
    sys_created_by TEXT NOT NULL DEFAULT '',
    sys_updated_on TEXT NOT NULL DEFAULT '',
    sys_updated_by TEXT NOT NULL DEFAULT '',
    sys_mod_count  TEXT NOT NULL DEFAULT '',
    interaction    TEXT NOT NULL,
    call_id        TEXT NOT NULL DEFAULT '',
    agent          TEXT NOT NULL DEFAULT '',
    start_time     TEXT NOT NULL DEFAULT '',
    end_time       TEXT NOT NULL DEFAULT '',
    duration       TEXT NOT NULL DEFAULT '',
    call_type      TEXT NOT NULL DEFAULT '',
    phone_number   TEXT NOT NULL DEFAULT '',
    contact        TEXT NOT NULL DEFAULT '',
    created_seq    BIGINT GENERATED ALWAYS AS IDENTITY
);
-- Loads an interaction's logs in creation order from the index alone.
CREATE INDEX sn_openframe_phone_log_interaction_idx ON sn_openframe_phone_log (interaction, created_seq);

CREATE TABLE interaction_related_record (
    sys_id         TEXT PRIMARY KEY,
    sys_created_on TEXT NOT NULL DEFAULT '',
    sys_created_by TEXT NOT NULL DEFAULT '',
    sys_updated_on TEXT NOT NULL DEFAULT '',
    sys_updated_by TEXT NOT NULL DEFAULT '',
    sys_mod_count  TEXT NOT NULL DEFAULT '',
    interaction    TEXT NOT NULL,
    document_table TEXT NOT NULL DEFAULT '',
    document_id    TEXT NOT NULL DEFAULT '',
    created_seq    BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX interaction_related_record_interaction_idx
    ON interaction_related_record (interaction, created_seq);

CREATE TABLE users (
    sys_id        TEXT PRIMARY KEY,
    user_name     TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    roles         TEXT[] NOT NULL DEFAULT '{}',
    CONSTRAINT users_user_name_key UNIQUE (user_name)
);

CREATE TABLE sys_cs_provider_application (
    sys_id            TEXT PRIMARY KEY,
    sys_created_on    TEXT NOT NULL DEFAULT '',
    sys_created_by    TEXT NOT NULL DEFAULT '',
    sys_updated_on    TEXT NOT NULL DEFAULT '',
    sys_updated_by    TEXT NOT NULL DEFAULT '',
    sys_mod_count     TEXT NOT NULL DEFAULT '',
    name              TEXT NOT NULL DEFAULT '',
    inbound_id        TEXT NOT NULL,
    short_description TEXT NOT NULL DEFAULT '',
    CONSTRAINT sys_cs_provider_application_inbound_id_key UNIQUE (inbound_id)
);
