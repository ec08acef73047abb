//! The store's named queries. Column lists come from `openframe_core::schema`, so a query and the record it
//! reads or writes can never disagree on column order; the tables themselves are in `migrations/`.

use std::sync::{Arc, LazyLock};

use openframe_core::schema::{
    INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, TABLES, Table, field,
};
use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgArguments, Postgres};
use sqlx::query::Query;

use crate::outbox;

/// A query built once from the schema. Its text holds only column and table names from the static schema,
/// never input, which is what makes [`AssertSqlSafe`] true here.
#[derive(Debug)]
pub(crate) struct Named(Arc<str>);

impl Named {
    /// A query ready for its binds.
    pub(crate) fn query(&self) -> Query<'static, Postgres, PgArguments> {
        sqlx::query(AssertSqlSafe(Arc::clone(&self.0)))
    }

    #[cfg(test)]
    pub(crate) fn text(&self) -> &str {
        &self.0
    }
}

fn named(text: String) -> Named {
    Named(text.into())
}

/// The queries built from the schema.
///
/// The interaction paths take one statement each, so each costs as few round trips as it can: a create is one
/// statement (its event included) and no transaction around it, a load is one, and an update is a read and
/// one write guarded by the row version it read (`repository.rs` says what happens when the guard fails).
/// Children travel as one `text[]` per column in (see [`crate::rows::bind_columns`]) and one flat `text[]`
/// per table out (see [`crate::rows::records_from_flat`]). Each text is the same for every call, so sqlx
/// prepares it once per connection and reuses it (its statement cache).
#[derive(Debug)]
pub(crate) struct Queries {
    /// Creates an interaction with its context, phone logs and related records, numbering it from the
    /// sequence; returns its number, or no row when the sys_id is taken (then nothing is written and no
    /// number taken). Binds: each interaction field in column order except `number` (`$1` is the sys_id);
    /// the context's names and values (`text[]` each); one `text[]` per phone-log column, then per
    /// related-record column, rows in creation order; the number's prefix (`text`) and least digits (`int4`);
    /// the event's payload (`text`, JSON) with an empty `number`, which the statement fills in.
    pub create_interaction: Named,
    /// Creates several interactions at once, as [`Queries::create_interaction`] creates one
    /// (`create_batch.rs` says why): an interaction whose sys_id is taken is left out with its children and
    /// event, the others are written, numbered from the sequence in the order given. Returns (sys_id, number)
    /// of each one written. Binds: one `text[]` per interaction field in column order except `number`, one
    /// element per interaction (`$1`, the sys_ids); the events' payloads (`text[]`, one per interaction, JSON
    /// with an empty `number`, which the statement fills in); the context's owners, names and values
    /// (`text[]` each); one `text[]` per phone-log column, then per related-record column (their
    /// `interaction` column says whose they are), rows in creation order; the number's prefix (`text`) and
    /// least digits (`int4`).
    pub create_batch: Named,
    /// `$1`: sys_id. The interaction's columns, then [`children`]'s three arrays; no row when there is none.
    pub load_interaction: Named,
    /// `$1`: sys_id. As [`Queries::load_interaction`], then the row's version (`xmin`, as text) for
    /// [`Queries::write_change`]'s guard.
    pub load_versioned: Named,
    /// `$1`: sys_id; locks the row until the transaction ends. The interaction's columns, then its version.
    pub select_interaction_for_update: Named,
    /// `$1`: sys_id. [`children`]'s three arrays.
    pub load_children: Named,
    /// Writes an update's change and its event in one statement, only if the row is still the version the
    /// change was planned from; returns the sys_id, or no row (and writes nothing) when it is not. Binds:
    /// each interaction field in column order (`$1`, the sys_id, picks the row); the context names to remove
    /// (`text[]`, none of them also set); the names and values to set; one `text[]` per phone-log column of
    /// the logs to rewrite (matched by sys_id), then of the logs to append; one `text[]` per related-record
    /// column of the records to append; the version (`text`); the event's payload (`text`); the sys_ids of
    /// the phone logs, then of the related records, to remove (`text[]` each, none also written).
    pub write_change: Named,
    /// `$1`: sys_id, `$2`: the event's payload. Deletes the interaction, its context and children, and
    /// appends the event, in one statement; returns the sys_id, or no row when there is no such interaction.
    pub delete_interaction: Named,
    /// One bind per field in column order.
    pub insert_provider_application: Named,
    /// `$1`: inbound_id.
    pub select_provider_application: Named,
    /// `$1`: sys_id; one per table of `schema::TABLES`, in its order (see [`Queries::select_by_sys_id`]).
    select_by_sys_id: [Named; 4],
    /// An import: an interaction written verbatim (its number included) with its context and children.
    /// Binds: every interaction field in column order; the context's names and values; one `text[]` per
    /// phone-log column, then per related-record column.
    pub import_interaction: Named,
    /// `$1`: sys_id to start after, `$2`: limit. Whole interactions in sys_id order: the interaction's
    /// columns, then [`children`]'s three arrays.
    pub page_interactions: Named,
    /// `$1`: sys_id to start after, `$2`: limit. Provider applications in sys_id order.
    pub page_provider_applications: Named,
}

impl Queries {
    /// `$1`: sys_id; the record of `table` with that sys_id. `None` for a table not in the schema.
    pub(crate) fn select_by_sys_id(&self, table: &Table) -> Option<&Named> {
        TABLES
            .iter()
            .position(|t| *t == table)
            .map(|i| &self.select_by_sys_id[i])
    }
}

/// The queries, built on first use.
pub(crate) static QUERIES: LazyLock<Queries> = LazyLock::new(|| Queries {
    create_interaction: create_interaction(),
    create_batch: create_batch(),
    load_interaction: named(format!(
        "SELECT {}, {} FROM interaction AS i WHERE i.sys_id = $1",
        qualified("i", &INTERACTION),
        children("$1"),
    )),
    load_versioned: named(format!(
        "SELECT {}, {}, i.xmin::text FROM interaction AS i WHERE i.sys_id = $1",
        qualified("i", &INTERACTION),
        children("$1"),
    )),
    select_interaction_for_update: named(format!(
        "SELECT {}, xmin::text FROM interaction WHERE sys_id = $1 FOR UPDATE",
        columns(&INTERACTION)
    )),
    load_children: named(format!("SELECT {}", children("$1"))),
    write_change: write_change(),
    // The foreign keys are checked at the statement's end, when the children are gone too.
    delete_interaction: named(format!(
        "WITH gone AS (DELETE FROM interaction WHERE sys_id = $1 RETURNING sys_id), \
         logs AS (DELETE FROM {} WHERE interaction = $1), \
         related AS (DELETE FROM {} WHERE interaction = $1), \
         context AS (DELETE FROM interaction_context WHERE interaction = $1), \
         {} SELECT sys_id FROM gone",
        PHONE_LOG.name,
        RELATED_RECORD.name,
        outbox::append_cte("$2", "gone"),
    )),
    insert_provider_application: named(format!(
        "INSERT INTO {} ({}) VALUES ({})",
        PROVIDER_APPLICATION.name,
        columns(&PROVIDER_APPLICATION),
        (1..=PROVIDER_APPLICATION.fields.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    )),
    select_provider_application: named(format!(
        "SELECT {} FROM {} WHERE inbound_id = $1",
        columns(&PROVIDER_APPLICATION),
        PROVIDER_APPLICATION.name
    )),
    import_interaction: import_interaction(),
    page_interactions: named(format!(
        "SELECT {}, {} FROM interaction AS i WHERE i.sys_id > $1 ORDER BY i.sys_id LIMIT $2",
        qualified("i", &INTERACTION),
        children("i.sys_id"),
    )),
    page_provider_applications: named(format!(
        "SELECT {} FROM {} WHERE sys_id > $1 ORDER BY sys_id LIMIT $2",
        columns(&PROVIDER_APPLICATION),
        PROVIDER_APPLICATION.name
    )),
    select_by_sys_id: TABLES.map(|table| {
        named(format!(
            "SELECT {} FROM {} WHERE sys_id = $1",
            columns(table),
            table.name
        ))
    }),
});

/// Hands out `$1`, `$2`, … in the order the binds will be added.
#[derive(Default)]
struct Params(usize);

impl Params {
    fn next(&mut self) -> String {
        self.0 += 1;
        format!("${}", self.0)
    }

    /// `n` placeholders, each cast to `text[]`.
    fn arrays(&mut self, n: usize) -> Vec<String> {
        (0..n).map(|_| format!("{}::text[]", self.next())).collect()
    }
}

/// The table's columns in field order, comma-separated.
fn columns(table: &Table) -> String {
    table.field_names().collect::<Vec<_>>().join(", ")
}

/// The table's columns in field order, each prefixed with `alias.`.
fn qualified(alias: &str, table: &Table) -> String {
    table
        .field_names()
        .map(|name| format!("{alias}.{name}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `UNNEST(<arrays>) WITH ORDINALITY AS u(<columns>, ord)`: one row per array element, numbered.
fn unnest(table: &Table, arrays: &[String]) -> String {
    format!(
        "UNNEST({}) WITH ORDINALITY AS u({}, ord)",
        arrays.join(", "),
        columns(table)
    )
}

/// A multi-row insert into `table` from one array per column, joined to `from` (a one-row guard, or
/// nothing). `ORDER BY ord` makes the identity column (`created_seq`) follow the arrays' order, which is
/// creation order.
fn insert_unnest(table: &Table, arrays: &[String], from: &str) -> String {
    format!(
        "INSERT INTO {name} ({cols}) SELECT {u_cols} FROM {from}{unnest} ORDER BY u.ord",
        name = table.name,
        cols = columns(table),
        u_cols = qualified("u", table),
        unnest = unnest(table, arrays),
    )
}

/// One flat `text[]` per child table of interaction `id`: each row's columns in order, rows one after the
/// other (context by name, the others in creation order), so that one statement reads them all without a
/// row per child. Context rows are (name, value).
fn children(id: &str) -> String {
    let flat = |table: &str, cols: &str, order: &str| {
        format!(
            "ARRAY(SELECT u.v FROM {table} AS c, unnest(ARRAY[{cols}]) WITH ORDINALITY AS u(v, o) \
             WHERE c.interaction = {id} ORDER BY {order}, u.o)"
        )
    };
    [
        flat("interaction_context", "c.name, c.value", "c.name"),
        flat(PHONE_LOG.name, &qualified("c", &PHONE_LOG), "c.created_seq"),
        flat(
            RELATED_RECORD.name,
            &qualified("c", &RELATED_RECORD),
            "c.created_seq",
        ),
    ]
    .join(", ")
}

fn create_interaction() -> Named {
    let mut p = Params::default();
    let mut values = Vec::new();
    for name in INTERACTION.field_names() {
        values.push(if name == field::NUMBER {
            None // filled in below, once its binds are numbered
        } else {
            Some(p.next())
        });
    }
    let (context_names, context_values) = (p.next(), p.next());
    let logs = p.arrays(PHONE_LOG.fields.len());
    let related = p.arrays(RELATED_RECORD.fields.len());
    let (prefix, digits) = (p.next(), p.next());
    let event = p.next();
    let number = number_text(&prefix, &digits, "num.n");
    let values = values
        .into_iter()
        .map(|v| v.unwrap_or_else(|| number.clone()))
        .collect::<Vec<_>>()
        .join(", ");
    named(format!(
        "WITH num AS (SELECT nextval('interaction_number') AS n \
           WHERE NOT EXISTS (SELECT 1 FROM interaction WHERE sys_id = $1)), \
         created AS (INSERT INTO interaction ({cols}) SELECT {values} FROM num RETURNING sys_id, number), \
         context AS (INSERT INTO interaction_context (interaction, name, value) \
           SELECT created.sys_id, u.name, u.value \
           FROM created, UNNEST({context_names}::text[], {context_values}::text[]) AS u(name, value)), \
         logs AS ({logs}), \
         related AS ({related}), \
         {event} \
         SELECT number FROM created",
        cols = columns(&INTERACTION),
        logs = insert_unnest(&PHONE_LOG, &logs, "created, "),
        related = insert_unnest(&RELATED_RECORD, &related, "created, "),
        event = outbox::append_cte(&numbered_event(&event, "created.number"), "created"),
    ))
}

/// `format_number` in SQL: the prefix, then the counter `n` zero-padded to at least `digits` digits.
fn number_text(prefix: &str, digits: &str, n: &str) -> String {
    format!("{prefix} || lpad({n}::text, greatest({digits}::int, length({n}::text)), '0')")
}

/// Where a create's event payload (JSON text) has its number to be: `data.number` and
/// `data.changes.number` each hold `?` (`create_batch::NewInteraction::new` writes them so, and checks that
/// nothing else matches).
pub(crate) const NUMBER_SLOT: &str = "\"number\":\"?\"";

/// A create's event `payload` with its `number` put in. The payload was written before the number existed:
/// it goes in here, into both slots. A text replacement, where `jsonb_set` parsed and wrote the whole
/// payload again, about a sixth of the backends' CPU in a batched create; numbers need no JSON escaping.
fn numbered_event(payload: &str, number: &str) -> String {
    format!("replace({payload}, '{NUMBER_SLOT}', '\"number\":\"' || {number} || '\"')")
}

fn create_batch() -> Named {
    let mut p = Params::default();
    let fields: Vec<&str> = INTERACTION
        .field_names()
        .filter(|name| *name != field::NUMBER)
        .collect();
    let interactions = p.arrays(fields.len());
    let events = p.arrays(1);
    let context = p.arrays(3);
    let logs = p.arrays(PHONE_LOG.fields.len());
    let related = p.arrays(RELATED_RECORD.fields.len());
    let (prefix, digits) = (p.next(), p.next());
    let number = number_text(&prefix, &digits, "num.n");
    let values = INTERACTION
        .field_names()
        .map(|name| {
            if name == field::NUMBER {
                number.clone()
            } else {
                format!("i.{name}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    // A child is written with its interaction: only when that interaction is.
    let children = |table: &Table, arrays: &[String]| {
        format!(
            "INSERT INTO {name} ({cols}) SELECT {u_cols} FROM {unnest} \
             WHERE u.interaction IN (SELECT sys_id FROM created) ORDER BY u.ord",
            name = table.name,
            cols = columns(table),
            u_cols = qualified("u", table),
            unnest = unnest(table, arrays),
        )
    };
    // `input` is read three times, so PostgreSQL computes it once. `num` takes the numbers: only for the
    // sys_ids not taken yet, and in the order given (a subquery with ORDER BY is not flattened, so
    // `nextval` runs on its rows in that order). Whether a sys_id is taken is a scalar subquery, which
    // PostgreSQL never turns into a join: one primary-key probe per interaction whatever the table's size.
    // (`NOT EXISTS` becomes an anti-join, and a plan made while the table was small, a hash of the whole
    // table, stays cached as it grows: the table was read whole by half the batches of a 10 s run.) The
    // children's and events' `ORDER BY` give their identity columns (`created_seq`, the pending events'
    // `seq`) in the order given, as in the create of one.
    named(format!(
        "WITH input AS (SELECT * FROM UNNEST({interactions}, {events}) WITH ORDINALITY \
           AS u({fields}, payload, ord)), \
         num AS (SELECT f.ord, nextval('interaction_number') AS n FROM (SELECT i.ord FROM input AS i \
           WHERE (SELECT t.sys_id FROM interaction AS t WHERE t.sys_id = i.sys_id) IS NULL \
           ORDER BY i.ord) AS f), \
         created AS (INSERT INTO interaction ({cols}) SELECT {values} FROM input AS i \
           JOIN num ON num.ord = i.ord ORDER BY i.ord RETURNING sys_id, number), \
         context AS (INSERT INTO interaction_context (interaction, name, value) \
           SELECT u.interaction, u.name, u.value FROM UNNEST({context}) AS u(interaction, name, value) \
           WHERE u.interaction IN (SELECT sys_id FROM created)), \
         logs AS ({logs}), \
         related AS ({related}), \
         {event} \
         SELECT sys_id, number FROM created",
        interactions = interactions.join(", "),
        events = events.join(", "),
        fields = fields.join(", "),
        cols = columns(&INTERACTION),
        context = context.join(", "),
        logs = children(&PHONE_LOG, &logs),
        related = children(&RELATED_RECORD, &related),
        event = outbox::append_cte(
            &numbered_event("i.payload", "c.number"),
            "input AS i JOIN created AS c ON c.sys_id = i.sys_id ORDER BY i.ord",
        ),
    ))
}

fn import_interaction() -> Named {
    let mut p = Params::default();
    let values: Vec<String> = INTERACTION.field_names().map(|_| p.next()).collect();
    let (context_names, context_values) = (p.next(), p.next());
    let logs = p.arrays(PHONE_LOG.fields.len());
    let related = p.arrays(RELATED_RECORD.fields.len());
    named(format!(
        "WITH created AS (INSERT INTO interaction ({cols}) VALUES ({values}) RETURNING sys_id), \
         context AS (INSERT INTO interaction_context (interaction, name, value) \
           SELECT created.sys_id, u.name, u.value \
           FROM created, UNNEST({context_names}::text[], {context_values}::text[]) AS u(name, value)), \
         logs AS ({logs}), \
         related AS ({related}) \
         SELECT sys_id FROM created",
        cols = columns(&INTERACTION),
        values = values.join(", "),
        logs = insert_unnest(&PHONE_LOG, &logs, "created, "),
        related = insert_unnest(&RELATED_RECORD, &related, "created, "),
    ))
}

fn write_change() -> Named {
    let mut p = Params::default();
    let interaction: Vec<String> = INTERACTION.field_names().map(|_| p.next()).collect();
    let removed = p.next();
    let (set_names, set_values) = (p.next(), p.next());
    let rewritten = p.arrays(PHONE_LOG.fields.len());
    let appended = p.arrays(PHONE_LOG.fields.len());
    let related = p.arrays(RELATED_RECORD.fields.len());
    let (version, event) = (p.next(), p.next());
    let (removed_logs, removed_related) = (p.next(), p.next());
    let sys_id = &interaction[0];
    // `guard` updates the row only if it is still the version read (every write of an interaction rewrites
    // its row, so a new xmin means another write came between); every other part joins it, so a failed
    // guard writes nothing at all. When another write holds the row, the guard waits for it and then sees
    // its new version, and fails.
    named(format!(
        "WITH guard AS (UPDATE interaction SET {sets} \
           WHERE sys_id = {sys_id} AND xmin = {version}::xid RETURNING sys_id), \
         removed AS (DELETE FROM interaction_context \
           WHERE interaction = (SELECT sys_id FROM guard) AND name = ANY({removed}::text[])), \
         set_context AS (INSERT INTO interaction_context (interaction, name, value) \
           SELECT guard.sys_id, u.name, u.value \
           FROM guard, UNNEST({set_names}::text[], {set_values}::text[]) AS u(name, value) \
           ON CONFLICT (interaction, name) DO UPDATE SET value = EXCLUDED.value), \
         rewritten AS (UPDATE {logs} AS t SET {log_sets} FROM guard, {rewritten} \
           WHERE t.sys_id = u.sys_id AND t.interaction = guard.sys_id), \
         appended AS ({appended}), \
         related AS ({related}), \
         removed_logs AS (DELETE FROM {logs} AS t USING guard \
           WHERE t.interaction = guard.sys_id AND t.sys_id = ANY({removed_logs}::text[])), \
         removed_related AS (DELETE FROM {related_table} AS t USING guard \
           WHERE t.interaction = guard.sys_id AND t.sys_id = ANY({removed_related}::text[])), \
         {event} \
         SELECT sys_id FROM guard",
        logs = PHONE_LOG.name,
        related_table = RELATED_RECORD.name,
        log_sets = PHONE_LOG
            .field_names()
            .skip(1)
            .map(|name| format!("{name} = u.{name}"))
            .collect::<Vec<_>>()
            .join(", "),
        rewritten = unnest(&PHONE_LOG, &rewritten),
        appended = insert_unnest(&PHONE_LOG, &appended, "guard, "),
        related = insert_unnest(&RELATED_RECORD, &related, "guard, "),
        event = outbox::append_cte(&event, "guard"),
        sets = INTERACTION
            .field_names()
            .zip(&interaction)
            .skip(1)
            .map(|(name, param)| format!("{name} = {param}"))
            .collect::<Vec<_>>()
            .join(", "),
    ))
}

/// `$1`..`$5`: sys_id, user_name, name, password_hash, roles.
pub(crate) const INSERT_USER: &str =
    "INSERT INTO users (sys_id, user_name, name, password_hash, roles) VALUES ($1, $2, $3, $4, $5)";
/// `$1`: user_name.
pub(crate) const SELECT_USER: &str =
    "SELECT sys_id, user_name, name, password_hash, roles FROM users WHERE user_name = $1";
/// `$1`: an array of sys_ids (one statement for any number, through the primary key).
pub(crate) const SELECT_USERS_BY_SYS_ID: &str =
    "SELECT sys_id, user_name, name, password_hash, roles FROM users WHERE sys_id = ANY($1)";
/// `$1`: the new password hash, `$2`: user_name.
pub(crate) const SET_USER_PASSWORD: &str =
    "UPDATE users SET password_hash = $1 WHERE user_name = $2";
/// `$1`: user_name.
pub(crate) const DELETE_USER: &str = "DELETE FROM users WHERE user_name = $1";
/// Whether there is any user.
pub(crate) const HAS_USERS: &str = "SELECT EXISTS (SELECT 1 FROM users)";
/// `$1`: user name to start after (byte-wise), `$2`: limit. Users in byte-wise name order: the column keeps
/// the database's collation, so the comparison and the order name "C".
pub(crate) const PAGE_USERS: &str = "SELECT sys_id, user_name, name, password_hash, roles FROM users \
     WHERE user_name COLLATE \"C\" > $1 ORDER BY user_name COLLATE \"C\" LIMIT $2";
/// `$1`: the highest imported number's counter value. Moves the sequence so that `nextval` gives more than
/// `$1`, unless it already would (`last_value` was handed out when `is_called`, else it is next).
pub(crate) const RAISE_NUMBER: &str = "SELECT setval('interaction_number', $1, true) \
     FROM interaction_number WHERE $1 > last_value OR ($1 = last_value AND NOT is_called)";
/// The health check.
pub(crate) const PING: &str = "SELECT 1";

/// Names of the unique constraints (see `migrations/`) the store maps its conflicts from, besides each
/// table's `<table>_pkey` on its sys_id.
pub(crate) mod constraint {
    pub const USERS_PKEY: &str = "users_pkey";
    pub const USER_NAME: &str = "users_user_name_key";
    pub const INBOUND_ID: &str = "sys_cs_provider_application_inbound_id_key";
    pub const NUMBER: &str = "interaction_number_key";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_numbers_its_binds_in_column_order() {
        let create = QUERIES.create_interaction.text();
        assert!(
            create.contains(
                "SELECT $1, $2, $3, $4, $5, $6, $57 || lpad(num.n::text, greatest($58::int, \
                 length(num.n::text)), '0'), $7, $8,"
            ),
            "{create}"
        );
        // 30 interaction values, 2 context arrays, 15 phone-log arrays, 9 related-record arrays, 2 for the
        // number.
        assert!(create.contains("$30 FROM num RETURNING"), "{create}");
        assert!(
            create.contains("UNNEST($31::text[], $32::text[]) AS u(name, value)"),
            "{create}"
        );
        assert!(
            create.contains("FROM created, UNNEST($33::text[],"),
            "{create}"
        );
        assert!(create.contains("$56::text[]) WITH ORDINALITY"), "{create}");
        // The event last, its number put in from the row just inserted.
        assert!(
            create.contains(
                "INSERT INTO interaction_event_pending (payload) SELECT replace($59, '\"number\":\"?\"', \
                 '\"number\":\"' || created.number || '\"') FROM created"
            ),
            "{create}"
        );
        assert!(!create.contains("$60"), "{create}");
    }

    #[test]
    fn create_batch_numbers_its_binds_in_column_order() {
        let create = QUERIES.create_batch.text();
        // 30 interaction columns (all but the number) and the events: one array each.
        assert!(
            create.starts_with(
                "WITH input AS (SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], \
                 $5::text[], $6::text[], $7::text[], "
            ),
            "{create}"
        );
        assert!(
            create.contains(
                "$30::text[], $31::text[]) WITH ORDINALITY AS u(sys_id, sys_created_on, sys_created_by, \
                 sys_updated_on, sys_updated_by, sys_mod_count, type, state,"
            ),
            "{create}"
        );
        assert!(
            create.contains("channel_metadata_table, payload, ord))"),
            "{create}"
        );
        assert!(
            create.contains(
                "i.sys_mod_count, $59 || lpad(num.n::text, greatest($60::int, length(num.n::text)), '0'), \
                 i.type,"
            ),
            "{create}"
        );
        assert!(
            create.contains(
                "UNNEST($32::text[], $33::text[], $34::text[]) AS u(interaction, name, value) \
                 WHERE u.interaction IN (SELECT sys_id FROM created)"
            ),
            "{create}"
        );
        assert!(create.contains("FROM UNNEST($35::text[],"), "{create}");
        assert!(create.contains("$49::text[]) WITH ORDINALITY"), "{create}");
        assert!(create.contains("FROM UNNEST($50::text[],"), "{create}");
        assert!(create.contains("$58::text[]) WITH ORDINALITY"), "{create}");
        assert!(
            create.ends_with(
                "event AS (INSERT INTO interaction_event_pending (payload) SELECT replace(i.payload, \
                 '\"number\":\"?\"', '\"number\":\"' || c.number || '\"') FROM input AS i \
                 JOIN created AS c ON c.sys_id = i.sys_id ORDER BY i.ord) SELECT sys_id, number FROM created"
            ),
            "{create}"
        );
        assert!(!create.contains("$61"), "{create}");
    }

    #[test]
    fn write_change_numbers_its_binds_in_column_order() {
        let write = QUERIES.write_change.text();
        assert!(
            write.starts_with(
                "WITH guard AS (UPDATE interaction SET sys_created_on = $2, sys_created_by = $3, sys_updated_on = $4, \
                 sys_updated_by = $5, sys_mod_count = $6, number = $7, type = $8, state = $9, \
                 direction = $10, short_description = $11, assigned_to = $12, opened_for = $13, \
                 opened_by = $14, opened_at = $15, closed_at = $16, closed_by = $17, account = $18, \
                 contact = $19, consumer = $20, queue = $21, assignment_group = $22, parent = $23, \
                 work_notes = $24, duration = $25, caller_phone_number = $26, user_phone_number = $27, \
                 client_session_id = $28, inbound_id = $29, provider_application = $30, \
                 channel_metadata_table = $31 WHERE sys_id = $1 AND xmin = $74::xid RETURNING sys_id), "
            ),
            "{write}"
        );
        assert!(write.contains("name = ANY($32::text[])"), "{write}");
        assert!(
            write.contains("UNNEST($33::text[], $34::text[])"),
            "{write}"
        );
        assert!(write.contains("FROM guard, UNNEST($35::text[],"), "{write}");
        assert!(write.contains("$49::text[]) WITH ORDINALITY"), "{write}");
        assert!(write.contains("UNNEST($50::text[],"), "{write}");
        assert!(write.contains("$73::text[]) WITH ORDINALITY"), "{write}");
        assert!(
            write.ends_with(
                "event AS (INSERT INTO interaction_event_pending (payload) SELECT $75 FROM guard) \
                 SELECT sys_id FROM guard"
            ),
            "{write}"
        );
        assert!(write.contains("t.sys_id = ANY($76::text[])"), "{write}");
        assert!(write.contains("t.sys_id = ANY($77::text[])"), "{write}");
        assert!(!write.contains("$78"), "{write}");
    }

    #[test]
    fn children_come_back_flat_in_order() {
        let load = QUERIES.load_interaction.text();
        assert!(
            load.starts_with("SELECT i.sys_id, i.sys_created_on,"),
            "{load}"
        );
        assert!(
            load.contains(
                "ARRAY(SELECT u.v FROM interaction_related_record AS c, unnest(ARRAY[c.sys_id, \
                 c.sys_created_on, c.sys_created_by, c.sys_updated_on, c.sys_updated_by, c.sys_mod_count, \
                 c.interaction, c.document_table, c.document_id]) WITH ORDINALITY AS u(v, o) \
                 WHERE c.interaction = $1 ORDER BY c.created_seq, u.o)"
            ),
            "{load}"
        );
        assert!(
            load.ends_with("FROM interaction AS i WHERE i.sys_id = $1"),
            "{load}"
        );
    }
}
