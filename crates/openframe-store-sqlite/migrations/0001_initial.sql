-- The initial schema: the four tables of CONTRACT §4, context variables, users and the number counter.
--
-- Each record table has one TEXT column per field, in the column order of `openframe_core::schema` (a unit
-- test compares them), after `seq`: an INTEGER PRIMARY KEY that aliases the rowid, so that it survives
-- VACUUM and gives creation order (phone logs and related records are read back in it).
-- Unset values are '' as on the wire, never NULL.

CREATE TABLE interaction (
    seq INTEGER PRIMARY KEY,
    sys_id TEXT NOT NULL,
    sys_created_on TEXT NOT NULL DEFAULT '',
    sys_created_by TEXT NOT NULL DEFAULT '',
    sys_updated_on TEXT NOT NULL DEFAULT '',
    sys_updated_by TEXT NOT NULL DEFAULT '',
    sys_mod_count TEXT NOT NULL DEFAULT '',
    number TEXT NOT NULL,
    type TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT '',
    direction TEXT NOT NULL DEFAULT '',
    short_description TEXT NOT NULL DEFAULT '',
    assigned_to TEXT NOT NULL DEFAULT '',
    opened_for TEXT NOT NULL DEFAULT '',
    opened_by TEXT NOT NULL DEFAULT '',
    opened_at TEXT NOT NULL DEFAULT '',
    closed_at TEXT NOT NULL DEFAULT '',
    closed_by TEXT NOT NULL DEFAULT '',
    account TEXT NOT NULL DEFAULT '',
    contact TEXT NOT NULL DEFAULT '',
    consumer TEXT NOT NULL DEFAULT '',
    queue TEXT NOT NULL DEFAULT '',
    assignment_group TEXT NOT NULL DEFAULT '',
    parent TEXT NOT NULL DEFAULT '',
    work_notes TEXT NOT NULL DEFAULT '',
    duration TEXT NOT NULL DEFAULT '',
    caller_phone_number TEXT NOT NULL DEFAULT '',
    user_phone_number TEXT NOT NULL DEFAULT '',
    client_session_id TEXT NOT NULL DEFAULT '',
    inbound_id TEXT NOT NULL DEFAULT '',
    provider_application TEXT NOT NULL DEFAULT '',
    channel_metadata_table TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX interaction_sys_id ON interaction (sys_id);
CREATE UNIQUE INDEX interaction_number ON interaction (number);
-- Not unique: a client may reuse a session id, and most interactions have none ('').
CREATE INDEX interaction_client_session_id ON interaction (client_session_id);

CREATE TABLE sn_openframe_phone_log (
    seq INTEGER PRIMARY KEY,
    sys_id TEXT NOT NULL,
    sys_created_on TEXT NOT NULL DEFAULT '',
    sys_created_by TEXT NOT NULL DEFAULT '',
    sys_updated_on TEXT NOT NULL DEFAULT '',
    sys_updated_by TEXT NOT NULL DEFAULT '',
    sys_mod_count TEXT NOT NULL DEFAULT '',
    interaction TEXT NOT NULL REFERENCES interaction (sys_id),
    call_id TEXT NOT NULL DEFAULT '',
    agent TEXT NOT NULL DEFAULT '',
    start_time TEXT NOT NULL DEFAULT '',
    end_time TEXT NOT NULL DEFAULT '',
    duration TEXT NOT NULL DEFAULT '',
    call_type TEXT NOT NULL DEFAULT '',
    phone_number TEXT NOT NULL DEFAULT '',
    contact TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX sn_openframe_phone_log_sys_id ON sn_openframe_phone_log (sys_id);
-- Holds the rowid, so `WHERE interaction = ? ORDER BY seq` reads in creation order without sorting.
CREATE INDEX sn_openframe_phone_log_interaction ON sn_openframe_phone_log (interaction);

CREATE TABLE interaction_related_record (
    seq INTEGER PRIMARY KEY,
    sys_id TEXT NOT NULL,
    sys_created_on TEXT NOT NULL DEFAULT '',
    sys_created_by TEXT NOT NULL DEFAULT '',
    sys_updated_on TEXT NOT NULL DEFAULT '',
    sys_updated_by TEXT NOT NULL DEFAULT '',
    sys_mod_count TEXT NOT NULL DEFAULT '',
    interaction TEXT NOT NULL REFERENCES interaction (sys_id),
    document_table TEXT NOT NULL DEFAULT '',
    document_id TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX interaction_related_record_sys_id ON interaction_related_record (sys_id);
CREATE INDEX interaction_related_record_interaction ON interaction_related_record (interaction);

CREATE TABLE sys_cs_provider_application (
    seq INTEGER PRIMARY KEY,
    sys_id TEXT NOT NULL,
    sys_created_on TEXT NOT NULL DEFAULT '',
    sys_created_by TEXT NOT NULL DEFAULT '',
    sys_updated_on TEXT NOT NULL DEFAULT '',
    sys_updated_by TEXT NOT NULL DEFAULT '',
    sys_mod_count TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    inbound_id TEXT NOT NULL,
    short_description TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX sys_cs_provider_application_sys_id ON sys_cs_provider_application (sys_id);
CREATE UNIQUE INDEX sys_cs_provider_application_inbound_id ON sys_cs_provider_application (inbound_id);

-- Context variables: a flat name -> value map per interaction.
CREATE TABLE interaction_context (
    interaction TEXT NOT NULL REFERENCES interaction (sys_id),
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (interaction, name)
) WITHOUT ROWID;

-- Roles are a JSON array of strings, so that any role list round-trips exactly.
CREATE TABLE users (
    seq INTEGER PRIMARY KEY,
    sys_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    roles TEXT NOT NULL
);
CREATE UNIQUE INDEX users_sys_id ON users (sys_id);
CREATE UNIQUE INDEX users_user_name ON users (user_name);

-- Named counters; `value` is the next one to hand out. The first interaction number is
-- openframe_core::number::FIRST_NUMBER (a unit test checks the seed).
CREATE TABLE counter (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counter (name, value) VALUES ('interaction_number', 1001);
