-- The event outbox without a lock on the write path (openframe-store-postgres/src/outbox.rs says how it is
-- read). Until now (0003) every create and update took the next id by updating the counter row as its last
-- statement and held that row's lock to its commit, which made PostgreSQL commit one write at a time.
--
-- Now a write only inserts its event here, in its own transaction, with `seq` from a sequence: no shared row
-- is locked, so writes commit side by side. `seq` order is not commit order, and an uncommitted row is
-- invisible, so these rows have no ids yet and no reader sees them. A sequencing round numbers them after
-- the fact: under the counter row's lock it moves every committed row here into `interaction_event`, with
-- ids head+1, head+2, ... in `seq` order, and advances the counter's head, all in one transaction. Ids keep
-- their meaning: integers that increase along the outbox, gap-free, never reused; `interaction_event` and
-- `interaction_event_counter` of 0003 are unchanged and what they hold stays valid.
CREATE TABLE interaction_event_pending (
    -- The order rows are numbered in: a write that began after another committed has a higher seq.
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payload text NOT NULL
);

COMMENT ON TABLE interaction_event_pending IS
    'Events of committed writes not numbered yet; a sequencing round moves them into interaction_event.';
COMMENT ON COLUMN interaction_event_counter.head IS
    'The latest id a sequencing round gave (0003: the latest id a write took).';
