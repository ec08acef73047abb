-- The interaction event outbox (openframe_core::event): one row per committed create or update, written in
-- the same transaction.
--
-- Ids come from the `head` of a one-row counter, not from a sequence: a sequence hands out ids at insert
-- time, and two transactions can commit in the other order, so a reader that saw id 42 could later see 41
-- appear and skip it. Taking the counter row's lock as the transaction's last write makes the next writer
-- wait until this one has committed, so ids become visible strictly in order, with no gaps.
CREATE TABLE interaction_event (
    id bigint PRIMARY KEY,
    payload text NOT NULL
);

CREATE TABLE interaction_event_counter (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    -- The latest id given.
    head bigint NOT NULL,
    -- Every event up to this id has been pruned.
    pruned_through bigint NOT NULL
);
INSERT INTO interaction_event_counter (singleton, head, pruned_through) VALUES (true, 0, 0);
