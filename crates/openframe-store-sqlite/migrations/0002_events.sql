-- The interaction event outbox (openframe_core::event): one row per committed create or update, written in
-- the same transaction. AUTOINCREMENT so that an id is never reused, even after every row was pruned; the
-- writer thread is the only writer, so ids are also in commit order.
CREATE TABLE interaction_event (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payload TEXT NOT NULL
);

-- How far the outbox has been pruned: a reader behind this id has lost events and must re-read.
CREATE TABLE interaction_event_horizon (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    pruned_through INTEGER NOT NULL
);
INSERT INTO interaction_event_horizon (singleton, pruned_through) VALUES (1, 0);
