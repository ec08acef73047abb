//! Data portability: the export format (versioned JSON Lines) and the drivers that write a store's contents
//! to it and read them back into another store, through the [`Repository`] trait's portability methods.
//!
//! # Format (version 1)
//!
//! One JSON object per line, UTF-8, `\n`-terminated:
//!
//! ```text
//! {"openframe_export":1}
//! {"table":"sys_user","record":{"sys_id":"…","user_name":"admin","password_hash":"$argon2id$…","roles":["admin"]}}
//! {"table":"sys_cs_provider_application","record":{"sys_id":"…","inbound_id":"…",…}}
//! {"table":"interaction","record":{"sys_id":"…","number":"IMS0001001",…},"context":{"devicetype":"genesys"}}
//! {"table":"sn_openframe_phone_log","record":{"sys_id":"…","interaction":"…",…}}
//! {"table":"interaction_related_record","record":{"sys_id":"…","interaction":"…",…}}
//! {"openframe_export_end":{"records":5}}
//! ```
//!
//! - The header comes first; the end line last, with the number of record lines, so that a truncated dump is
//!   told from a complete one.
//! - Users come first (by user name, byte-wise), then provider applications, then interactions (both by
//!   sys_id); each interaction is followed by its phone logs, then its related records, in creation order.
//!   So the same contents give the same bytes from every store.
//! - A record carries every field of its table, values as stored (`""` when unset). A user's record is its
//!   sys_id, name, password hash and roles. An interaction's context variables ride on its line.
//! - Nothing else is exported (a store's internal counters, indexes, anything not in the four tables or the
//!   users).
//!
//! # Import
//!
//! [`import`] writes the dump's records verbatim (sys_ids, numbers, `sys_created_on` …) in batches of about
//! [`IMPORT_BATCH_RECORDS`] records, each atomic ([`Repository::import`]), and moves the store's number
//! counter past the highest number imported. A sys_id, number, user name or inbound id the store already
//! holds is a [`Error::Conflict`] for its batch: nothing of that batch is written, and the import stops.
//! Batches written before a failure stay.

use std::io::{BufRead, Write};

use serde_json::{Map, Value, json};

use crate::aggregate::{Context, InteractionAggregate};
use crate::error::{Error, Result};
use crate::json::JsonError;
use crate::limits::{
    MAX_CONTEXT_KEYS, MAX_PHONE_LOGS_PER_INTERACTION, MAX_RELATED_RECORDS_PER_INTERACTION,
};
use crate::names::{CONTEXT_KEY_RULE, is_context_key};
use crate::number::parse_number;
use crate::record::Record;
use crate::repository::Repository;
use crate::schema::{
    self, INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, Table, field,
};
use crate::sys_id::SysId;
use crate::user::{FULL_NAME_RULE, User, is_full_name, validate_role, validate_user_name};

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u64 = 1;

/// The header line's key.
pub const HEADER_KEY: &str = "openframe_export";

/// The end line's key.
pub const END_KEY: &str = "openframe_export_end";

/// The `table` of a user line (the platform's user table).
pub const USER_TABLE: &str = "sys_user";

/// How many records (or users) an export reads from the store at a time.
pub const EXPORT_PAGE: usize = 500;

/// About how many records one import batch (one transaction) holds: an interaction is never split.
pub const IMPORT_BATCH_RECORDS: usize = 1000;

/// How often (in records) the drivers report progress.
pub const PROGRESS_EVERY: u64 = 10_000;

/// What one import batch writes: users, provider applications and whole interaction aggregates, verbatim.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportBatch {
    /// Users, with their sys_ids and password hashes.
    pub users: Vec<User>,
    /// `sys_cs_provider_application` records.
    pub provider_applications: Vec<Record>,
    /// Interactions with their numbers, context, phone logs and related records.
    pub interactions: Vec<InteractionAggregate>,
}

impl ImportBatch {
    /// Whether the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
            && self.provider_applications.is_empty()
            && self.interactions.is_empty()
    }

    /// Every record of the batch but the users: provider applications, then each interaction with its phone
    /// logs and related records.
    pub fn table_records(&self) -> impl Iterator<Item = &Record> {
        self.provider_applications
            .iter()
            .chain(self.interactions.iter().flat_map(|a| {
                std::iter::once(&a.interaction)
                    .chain(&a.phone_logs)
                    .chain(&a.related_records)
            }))
    }

    /// How many records (users included) the batch holds.
    pub fn records(&self) -> usize {
        self.users.len()
            + self.provider_applications.len()
            + self
                .interactions
                .iter()
                .map(|a| 1 + a.phone_logs.len() + a.related_records.len())
                .sum::<usize>()
    }

    /// The highest interaction number in the batch, as a counter value: a store's counter must move past
    /// it. `None` when there is no interaction.
    ///
    /// # Errors
    /// An [`Error::Invalid`] naming `number` when an interaction's number is not `IMS` and seven digits or
    /// more.
    pub fn highest_number(&self) -> Result<Option<u64>> {
        let mut highest = None;
        for a in &self.interactions {
            let n = number_of(&a.interaction)?;
            highest = highest.max(Some(n));
        }
        Ok(highest)
    }

    /// Checks what every store relies on: well-formed sys_ids and numbers, children naming the interaction
    /// they come with, valid user names and roles.
    ///
    /// # Errors
    /// An [`Error::Invalid`] naming the offending field.
    pub fn check(&self) -> Result<()> {
        for u in &self.users {
            validate_user_name(&u.user_name)?;
            if !is_full_name(&u.name) {
                return Err(Error::invalid("name", FULL_NAME_RULE));
            }
            u.roles.iter().try_for_each(|r| validate_role(r))?;
        }
        for app in &self.provider_applications {
            check_table(app, &PROVIDER_APPLICATION)?;
            SysId::parse_field(app.sys_id(), field::SYS_ID)?;
            if app.get(field::INBOUND_ID).is_empty() {
                return Err(Error::invalid(field::INBOUND_ID, "is required"));
            }
        }
        for a in &self.interactions {
            check_table(&a.interaction, &INTERACTION)?;
            let sys_id = SysId::parse_field(a.interaction.sys_id(), field::SYS_ID)?;
            number_of(&a.interaction)?;
            for (children, table) in [
                (&a.phone_logs, &PHONE_LOG),
                (&a.related_records, &RELATED_RECORD),
            ] {
                for child in children {
                    check_table(child, table)?;
                    SysId::parse_field(child.sys_id(), field::SYS_ID)?;
                    if child.get(field::INTERACTION) != sys_id.as_str() {
                        return Err(Error::invalid(
                            field::INTERACTION,
                            format!("must be the interaction the record comes with ({sys_id})"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_table(record: &Record, table: &'static Table) -> Result<()> {
    if record.table() == table {
        Ok(())
    } else {
        Err(Error::internal(format!(
            "a {} record was given as a {} record",
            record.table().name,
            table.name
        )))
    }
}

fn number_of(interaction: &Record) -> Result<u64> {
    parse_number(interaction.get(field::NUMBER)).ok_or_else(|| {
        Error::invalid(
            field::NUMBER,
            "must be an interaction number (IMS and at least seven digits)",
        )
    })
}

/// How many records of each kind an export or import has handled so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Users.
    pub users: u64,
    /// Provider applications.
    pub provider_applications: u64,
    /// Interactions.
    pub interactions: u64,
    /// Phone logs.
    pub phone_logs: u64,
    /// Related records.
    pub related_records: u64,
}

impl Counts {
    /// Every record counted.
    pub fn total(&self) -> u64 {
        self.users
            + self.provider_applications
            + self.interactions
            + self.phone_logs
            + self.related_records
    }

    fn add_aggregate(&mut self, a: &InteractionAggregate) {
        self.interactions += 1;
        self.phone_logs += a.phone_logs.len() as u64;
        self.related_records += a.related_records.len() as u64;
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} records ({} users, {} provider applications, {} interactions, {} phone logs, {} related records)",
            self.total(),
            self.users,
            self.provider_applications,
            self.interactions,
            self.phone_logs,
            self.related_records
        )
    }
}

/// Calls `progress` each time the total passes another [`PROGRESS_EVERY`].
struct Reporter<'a> {
    progress: &'a mut (dyn FnMut(&Counts) + Send),
    next: u64,
}

impl Reporter<'_> {
    fn tick(&mut self, counts: &Counts) {
        if counts.total() >= self.next {
            (self.progress)(counts);
            self.next = (counts.total() / PROGRESS_EVERY + 1) * PROGRESS_EVERY;
        }
    }
}

/// Writes everything `repo` holds to `out` in the [format](self), reading it a page at a time, and returns
/// what it wrote. `progress` is called every [`PROGRESS_EVERY`] records (not at the end: the caller has the
/// returned counts).
///
/// The export is not one snapshot: each page is read on its own, so records written while it runs may or
/// may not be in it (each interaction is read whole, though). Export a store no server is writing to, or a
/// SQLite backup, for a point-in-time copy.
///
/// # Errors
/// The store's errors, and an [`Error::Unavailable`] when `out` cannot be written (a closed pipe).
pub async fn export(
    repo: &dyn Repository,
    out: &mut (dyn Write + Send),
    progress: &mut (dyn FnMut(&Counts) + Send),
) -> Result<Counts> {
    let mut counts = Counts::default();
    let mut reporter = Reporter {
        progress,
        next: PROGRESS_EVERY,
    };
    write_line(out, &json!({ HEADER_KEY: FORMAT_VERSION }))?;

    let mut after: Option<String> = None;
    loop {
        let users = repo.export_users(after.as_deref(), EXPORT_PAGE).await?;
        for user in &users {
            write_line(out, &user_line(user))?;
            counts.users += 1;
            reporter.tick(&counts);
        }
        match users.last() {
            Some(last) if users.len() == EXPORT_PAGE => after = Some(last.user_name.clone()),
            _ => break,
        }
    }

    let mut after: Option<SysId> = None;
    loop {
        let apps = repo
            .export_provider_applications(after.as_ref(), EXPORT_PAGE)
            .await?;
        for app in &apps {
            write_line(out, &record_line(app))?;
            counts.provider_applications += 1;
            reporter.tick(&counts);
        }
        match apps.last() {
            Some(last) if apps.len() == EXPORT_PAGE => {
                after = Some(SysId::parse_field(last.sys_id(), field::SYS_ID)?);
            }
            _ => break,
        }
    }

    let mut after: Option<SysId> = None;
    loop {
        let page = repo
            .export_interactions(after.as_ref(), EXPORT_PAGE)
            .await?;
        for a in &page {
            let mut line = record_line(&a.interaction);
            line["context"] = json!(a.context);
            write_line(out, &line)?;
            for child in a.phone_logs.iter().chain(&a.related_records) {
                write_line(out, &record_line(child))?;
            }
            counts.add_aggregate(a);
            reporter.tick(&counts);
        }
        match page.last() {
            Some(last) if page.len() == EXPORT_PAGE => {
                after = Some(SysId::parse_field(
                    last.interaction.sys_id(),
                    field::SYS_ID,
                )?);
            }
            _ => break,
        }
    }

    write_line(out, &json!({ END_KEY: { "records": counts.total() } }))?;
    out.flush().map_err(Error::unavailable)?;
    Ok(counts)
}

/// A user's line; `name` only when the user has one, so that dumps of users without full names read as
/// they did before users had them.
fn user_line(user: &User) -> Value {
    let mut record = json!({
        "sys_id": user.sys_id.as_str(),
        "user_name": user.user_name,
        "password_hash": user.password_hash,
        "roles": user.roles,
    });
    if !user.name.is_empty() {
        record["name"] = Value::String(user.name.clone());
    }
    json!({ "table": USER_TABLE, "record": record })
}

fn record_line(record: &Record) -> Value {
    json!({ "table": record.table().name, "record": record })
}

fn write_line(out: &mut (dyn Write + Send), line: &Value) -> Result<()> {
    // serde_json escapes control characters, so a line never holds a raw newline.
    serde_json::to_writer(&mut *out, line).map_err(Error::unavailable)?;
    out.write_all(b"\n").map_err(Error::unavailable)
}

/// Why an import stopped: the line (or lines, for a batch the store refused), what was wrong, and what the
/// batches before it wrote (they stay written).
#[derive(Debug, thiserror::Error)]
#[error("{}: {error}", self.place())]
pub struct ImportError {
    /// The first line concerned (1-based).
    pub first_line: u64,
    /// The last line concerned; the same as `first_line` for a bad line.
    pub last_line: u64,
    /// What was wrong.
    #[source]
    pub error: Error,
    /// What earlier batches wrote before the import stopped.
    pub written: Counts,
}

impl ImportError {
    fn place(&self) -> String {
        if self.first_line == self.last_line {
            format!("line {}", self.first_line)
        } else {
            format!("lines {}-{}", self.first_line, self.last_line)
        }
    }

    fn at(line: u64, error: Error) -> Self {
        ImportError {
            first_line: line,
            last_line: line,
            error,
            written: Counts::default(),
        }
    }
}

/// Reads a dump in the [format](self) from `input` and writes it into `repo` in atomic batches of about
/// `batch_records` records (see [`Repository::import`]), returning what it wrote. `progress` is called every
/// [`PROGRESS_EVERY`] records written.
///
/// Each line is checked before its batch is written: a line that is not a record of a known table with
/// well-formed values, a child that does not follow its interaction, a missing header or end line, or an end
/// line whose count disagrees is an error naming the line; nothing of the batch it falls in is written.
///
/// # Errors
/// An [`ImportError`] naming the line (or the batch's lines, for an error from the store).
pub async fn import(
    repo: &dyn Repository,
    input: &mut (dyn BufRead + Send),
    batch_records: usize,
    progress: &mut (dyn FnMut(&Counts) + Send),
) -> Result<Counts, ImportError> {
    let mut importer = Importer {
        last_record_line: 0,
        repo,
        batch: ImportBatch::default(),
        batch_first_line: 1,
        batch_records: batch_records.max(1),
        pending: 0,
        open: None,
        written: Counts::default(),
        reporter: Reporter {
            progress,
            next: PROGRESS_EVERY,
        },
    };
    match read_all(&mut importer, input).await {
        Ok(()) => Ok(importer.written),
        Err(mut e) => {
            e.written = importer.written;
            Err(e)
        }
    }
}

/// The line loop of [`import`].
async fn read_all(
    importer: &mut Importer<'_, '_>,
    input: &mut (dyn BufRead + Send),
) -> Result<(), ImportError> {
    let mut line_no: u64 = 0;
    let mut header = false;
    let mut ended = false;
    let mut records: u64 = 0;
    let mut buf = String::new();
    loop {
        buf.clear();
        let n = input
            .read_line(&mut buf)
            .map_err(|e| ImportError::at(line_no + 1, Error::unavailable(e)))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let text = buf.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        let bad = |rule: String| ImportError::at(line_no, Error::invalid("line", rule));
        if ended {
            return Err(bad("nothing may follow the end line".into()));
        }
        let value = crate::json::parse_str(text).map_err(|e| match e {
            JsonError::Duplicate { path } => {
                ImportError::at(line_no, Error::invalid(path, "appears more than once"))
            }
            JsonError::Syntax(e) => bad(format!("not a JSON object: {e}")),
        })?;
        let Value::Object(mut line) = value else {
            return Err(bad("not a JSON object".into()));
        };
        if !header {
            match line.get(HEADER_KEY).and_then(Value::as_u64) {
                Some(FORMAT_VERSION) => {
                    header = true;
                    continue;
                }
                Some(v) => {
                    return Err(bad(format!(
                        "export format {v} is not supported (this build reads {FORMAT_VERSION})"
                    )));
                }
                None => {
                    return Err(bad(format!(
                        "the first line must be the header {{\"{HEADER_KEY}\":{FORMAT_VERSION}}}"
                    )));
                }
            }
        }
        if let Some(end) = line.get(END_KEY) {
            let declared = end.get("records").and_then(Value::as_u64);
            if declared != Some(records) {
                return Err(bad(format!(
                    "the end line counts {declared:?} records, the dump holds {records}"
                )));
            }
            ended = true;
            continue;
        }
        let entry = parse_entry(&mut line).map_err(|e| ImportError::at(line_no, e))?;
        records += 1;
        importer.last_record_line = line_no;
        importer.add(entry, line_no).await?;
    }
    if !header {
        return Err(ImportError::at(
            line_no.max(1),
            Error::invalid("line", "the dump is empty: no header line"),
        ));
    }
    if !ended {
        return Err(ImportError::at(
            line_no,
            Error::invalid("line", "the dump ends without its end line (truncated?)"),
        ));
    }
    let last = importer.last_record_line;
    importer.flush(last).await
}

/// One record line of a dump.
enum Entry {
    User(User),
    Provider(Record),
    Interaction(Record, Context),
    Child(Record),
}

fn parse_entry(line: &mut Map<String, Value>) -> Result<Entry> {
    let table = match line.remove("table") {
        Some(Value::String(t)) => t,
        _ => return Err(Error::invalid("table", "must be a table name")),
    };
    let Some(Value::Object(record)) = line.remove("record") else {
        return Err(Error::invalid("record", "must be an object"));
    };
    let context = line.remove("context");
    if let Some(key) = line.keys().next() {
        return Err(Error::invalid(key.as_str(), "is not part of a record line"));
    }
    if context.is_some() && table != INTERACTION.name {
        return Err(Error::invalid("context", "only an interaction has context"));
    }
    match table.as_str() {
        USER_TABLE => parse_user(record).map(Entry::User),
        t if t == PROVIDER_APPLICATION.name => {
            parse_record(&PROVIDER_APPLICATION, record).map(Entry::Provider)
        }
        t if t == INTERACTION.name => {
            let interaction = parse_record(&INTERACTION, record)?;
            number_of(&interaction).map_err(|e| match e {
                Error::Invalid { field, rule } => Error::invalid(format!("record.{field}"), rule),
                other => other,
            })?;
            let context = match context {
                None | Some(Value::Null) => Context::new(),
                Some(Value::Object(map)) => parse_context(map)?,
                Some(_) => return Err(Error::invalid("context", "must be an object")),
            };
            Ok(Entry::Interaction(interaction, context))
        }
        t if t == PHONE_LOG.name => parse_record(&PHONE_LOG, record).map(Entry::Child),
        t if t == RELATED_RECORD.name => parse_record(&RELATED_RECORD, record).map(Entry::Child),
        other => Err(Error::invalid("table", format!("unknown table {other:?}"))),
    }
}

/// An interaction's context variables, held to the API's rules: at most [`MAX_CONTEXT_KEYS`] keys, each
/// named as a request's keys must be, each value a string no request could be refused for (not empty: an
/// empty value removes a key, so none is stored).
fn parse_context(map: Map<String, Value>) -> Result<Context> {
    if map.len() > MAX_CONTEXT_KEYS {
        return Err(Error::invalid(
            "context",
            format!("an interaction may have at most {MAX_CONTEXT_KEYS} keys"),
        ));
    }
    map.into_iter()
        .map(|(k, v)| {
            let path = || format!("context.{k}");
            if !is_context_key(&k) {
                return Err(Error::invalid(path(), format!("name {CONTEXT_KEY_RULE}")));
            }
            let Value::String(v) = v else {
                return Err(Error::invalid(path(), "must be a string"));
            };
            if v.is_empty() {
                return Err(Error::invalid(path(), "must not be empty"));
            }
            schema::check_text(&v).map_err(|rule| Error::invalid(path(), rule))?;
            Ok((k, v))
        })
        .collect()
}

/// A record of `table` from its fields: every value a string obeying its field's rule (the same
/// [`FieldKind::check_value`](crate::schema::FieldKind::check_value) a request's values pass, system fields
/// included; an interaction's `number` is `IMS` and seven digits or more), unknown fields refused, missing
/// ones `""`.
fn parse_record(table: &'static Table, fields: Map<String, Value>) -> Result<Record> {
    let mut record = Record::new(table);
    for (name, value) in fields {
        let Some((_, def)) = table.field(&name) else {
            return Err(Error::invalid(
                format!("record.{name}"),
                format!("is not a field of {}", table.name),
            ));
        };
        let Value::String(value) = value else {
            return Err(Error::invalid(format!("record.{name}"), "must be a string"));
        };
        if def.name == field::NUMBER {
            schema::check_text(&value)
                .map_err(|rule| Error::invalid(format!("record.{name}"), rule))?;
        } else {
            def.kind
                .check_value(&value)
                .map_err(|rule| Error::invalid(format!("record.{name}"), rule))?;
        }
        record.try_set(&name, value)?;
    }
    SysId::parse_field(record.sys_id(), "record.sys_id")?;
    Ok(record)
}

fn parse_user(mut fields: Map<String, Value>) -> Result<User> {
    let mut text = |name: &str| match fields.remove(name) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(Error::invalid(format!("record.{name}"), "must be a string")),
    };
    let sys_id = SysId::parse_field(&text("sys_id")?, "record.sys_id")?;
    let user_name = text("user_name")?;
    let password_hash = text("password_hash")?;
    validate_user_name(&user_name)?;
    // Dumps written before users had a full name have none.
    let name = match fields.remove("name") {
        None => String::new(),
        Some(Value::String(s)) => s,
        Some(_) => return Err(Error::invalid("record.name", "must be a string")),
    };
    if !is_full_name(&name) {
        return Err(Error::invalid("record.name", FULL_NAME_RULE));
    }
    let roles = match fields.remove("roles") {
        Some(Value::Array(roles)) => roles
            .into_iter()
            .map(|r| match r {
                Value::String(r) => validate_role(&r).map(|()| r),
                _ => Err(Error::invalid("record.roles", "must be strings")),
            })
            .collect::<Result<Vec<_>>>()?,
        _ => return Err(Error::invalid("record.roles", "must be an array")),
    };
    if let Some(key) = fields.keys().next() {
        return Err(Error::invalid(
            format!("record.{key}"),
            "is not a field of a user",
        ));
    }
    Ok(User {
        sys_id,
        user_name,
        name,
        password_hash,
        roles,
    })
}

/// Gathers lines into batches and writes them.
struct Importer<'a, 'p> {
    repo: &'a dyn Repository,
    batch: ImportBatch,
    batch_first_line: u64,
    batch_records: usize,
    /// Records in the batch and in `open`.
    pending: usize,
    /// The interaction whose children may follow, not yet in the batch.
    open: Option<InteractionAggregate>,
    written: Counts,
    reporter: Reporter<'p>,
    /// The line of the last record read, where the final batch ends.
    last_record_line: u64,
}

impl Importer<'_, '_> {
    async fn add(&mut self, entry: Entry, line: u64) -> Result<(), ImportError> {
        if let Entry::Child(child) = entry {
            let Some(open) = self.open.as_mut() else {
                return Err(ImportError::at(
                    line,
                    Error::invalid(
                        "record.interaction",
                        "a phone log or related record must follow its interaction",
                    ),
                ));
            };
            if child.get(field::INTERACTION) != open.interaction.sys_id() {
                return Err(ImportError::at(
                    line,
                    Error::invalid(
                        "record.interaction",
                        format!(
                            "must be the interaction this record follows ({})",
                            open.interaction.sys_id()
                        ),
                    ),
                ));
            }
            let (held, limit, what) = if child.table() == &PHONE_LOG {
                (
                    open.phone_logs.len(),
                    MAX_PHONE_LOGS_PER_INTERACTION,
                    "phone logs",
                )
            } else {
                (
                    open.related_records.len(),
                    MAX_RELATED_RECORDS_PER_INTERACTION,
                    "related records",
                )
            };
            if held >= limit {
                return Err(ImportError::at(
                    line,
                    Error::invalid(
                        "table",
                        format!("an interaction may have at most {limit} {what}"),
                    ),
                ));
            }
            if child.table() == &PHONE_LOG {
                if !open.related_records.is_empty() {
                    return Err(ImportError::at(
                        line,
                        Error::invalid(
                            "table",
                            "an interaction's phone logs come before its related records",
                        ),
                    ));
                }
                open.phone_logs.push(child);
            } else {
                open.related_records.push(child);
            }
            self.pending += 1;
            return Ok(());
        }
        // Any other line closes the open interaction: it joins the batch, which may then be full.
        if let Some(open) = self.open.take() {
            self.batch.interactions.push(open);
        }
        if self.pending >= self.batch_records {
            self.flush(line - 1).await?;
        }
        if self.pending == 0 {
            self.batch_first_line = line;
        }
        self.pending += 1;
        match entry {
            Entry::User(user) => self.batch.users.push(user),
            Entry::Provider(app) => self.batch.provider_applications.push(app),
            Entry::Interaction(interaction, context) => {
                self.open = Some(InteractionAggregate {
                    interaction,
                    context,
                    phone_logs: Vec::new(),
                    related_records: Vec::new(),
                });
            }
            Entry::Child(_) => {}
        }
        Ok(())
    }

    /// Writes the batch (and the open interaction) as one [`Repository::import`].
    async fn flush(&mut self, last_line: u64) -> Result<(), ImportError> {
        if let Some(open) = self.open.take() {
            self.batch.interactions.push(open);
        }
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.pending = 0;
        self.repo
            .import(&batch)
            .await
            .map_err(|error| ImportError {
                first_line: self.batch_first_line,
                last_line,
                error,
                written: Counts::default(),
            })?;
        self.written.users += batch.users.len() as u64;
        self.written.provider_applications += batch.provider_applications.len() as u64;
        for a in &batch.interactions {
            self.written.add_aggregate(a);
        }
        self.reporter.tick(&self.written);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryRepository;
    use crate::schema::FieldKind;

    fn dump(lines: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        for l in lines {
            serde_json::to_writer(&mut out, l).unwrap();
            out.push(b'\n');
        }
        out
    }

    async fn run(input: &[u8]) -> (MemoryRepository, Result<Counts, ImportError>) {
        let repo = MemoryRepository::new();
        let result = import(&repo, &mut &input[..], 2, &mut |_| {}).await;
        (repo, result)
    }

    fn interaction(id: &str, number: &str) -> Value {
        json!({"table": "interaction", "record": {"sys_id": id, "number": number}, "context": {"k": "v"}})
    }

    fn log(id: &str, owner: &str) -> Value {
        json!({"table": "sn_openframe_phone_log", "record": {"sys_id": id, "interaction": owner}})
    }

    const A: &str = "0000000000000000000000000000000a";
    const B: &str = "0000000000000000000000000000000b";
    const C: &str = "0000000000000000000000000000000c";

    #[tokio::test]
    async fn lines_are_named_in_errors() {
        let header = json!({HEADER_KEY: 1});
        let end = |n: u64| json!({END_KEY: {"records": n}});
        let cases: Vec<(Vec<Value>, &str)> = vec![
            (vec![interaction(A, "IMS0001001"), end(1)], "line 1:"),
            (
                vec![json!({HEADER_KEY: 2}), end(0)],
                "line 1: line: export format 2",
            ),
            (
                vec![header.clone(), log(B, A), end(1)],
                "line 2: record.interaction",
            ),
            (
                vec![
                    header.clone(),
                    interaction(A, "IMS0001001"),
                    log(B, C),
                    end(2),
                ],
                "line 3: record.interaction",
            ),
            (
                vec![header.clone(), interaction(A, "1001"), end(1)],
                "line 2: record.number",
            ),
            (
                vec![
                    header.clone(),
                    json!({"table": "nope", "record": {}}),
                    end(1),
                ],
                "line 2: table",
            ),
            (
                vec![
                    header.clone(),
                    json!({"table": "interaction", "record": {"sys_id": A, "number": "IMS0001001", "bogus": ""}}),
                    end(1),
                ],
                "line 2: record.bogus",
            ),
            (
                vec![header.clone(), interaction(A, "IMS0001001")],
                "line 2: line: the dump ends",
            ),
            (
                vec![header.clone(), interaction(A, "IMS0001001"), end(3)],
                "line 3: line: the end line",
            ),
            (
                vec![header.clone(), end(0), end(0)],
                "line 3: line: nothing may follow",
            ),
        ];
        for (lines, expected) in cases {
            let (_, result) = run(&dump(&lines)).await;
            let err = result.expect_err(expected).to_string();
            assert!(
                err.starts_with(expected),
                "{err:?} should start with {expected:?}"
            );
        }
        let (_, result) = run(b"not json\n").await;
        assert!(
            result
                .unwrap_err()
                .to_string()
                .starts_with("line 1: line: not a JSON object")
        );
    }

    /// An interaction line with `field` set to `value`, and the error it must give.
    async fn refused_value(table: &str, field: &str, value: &str, want: &str) {
        let mut lines = vec![json!({HEADER_KEY: 1}), interaction(A, "IMS0001001")];
        if table == "interaction" {
            lines[1]["record"][field] = json!(value);
        } else {
            let mut child = json!({"table": table, "record": {"sys_id": B, "interaction": A}});
            child["record"][field] = json!(value);
            lines.push(child);
        }
        let n = lines.len();
        lines.push(json!({END_KEY: {"records": n - 1}}));
        let (repo, result) = run(&dump(&lines)).await;
        let err = result
            .expect_err(&format!("{table}.{field} = {value:?}"))
            .to_string();
        assert_eq!(
            err,
            format!("line {n}: record.{field}: {want}"),
            "{table}.{field} = {value:?}"
        );
        assert!(
            repo.load_interaction(&SysId::parse(A).unwrap())
                .await
                .unwrap()
                .is_none(),
            "nothing of the batch may be written"
        );
    }

    #[tokio::test]
    async fn every_value_obeys_the_api_rules() {
        let phone = crate::phone::E164_RULE;
        let date = crate::datetime::DATE_TIME_RULE;
        let sys_id = crate::sys_id::SYS_ID_RULE;
        let states = format!("must be one of {}", crate::schema::STATES.join(", "));
        let (long_description, long_notes) = ("d".repeat(161), "w".repeat(4001));
        let cases: Vec<(&str, &str, &str, String)> = vec![
            ("interaction", "state", "bogus", states),
            ("interaction", "user_phone_number", "call me", phone.into()),
            ("interaction", "sys_created_on", "yesterday", date.into()),
            (
                "interaction",
                "closed_at",
                "2024-02-30 10:00:00",
                date.into(),
            ),
            (
                "interaction",
                "sys_mod_count",
                "abc",
                FieldKind::Counter.rule(),
            ),
            (
                "interaction",
                "sys_mod_count",
                "-1",
                FieldKind::Counter.rule(),
            ),
            ("interaction", "assigned_to", "Fred", sys_id.into()),
            (
                "interaction",
                "number",
                "IMS1",
                "must be an interaction number (IMS and at least seven digits)".into(),
            ),
            (
                "interaction",
                "work_notes",
                "a\0b",
                "must not contain NUL characters".into(),
            ),
            (
                "interaction",
                "short_description",
                &long_description,
                "must be at most 160 characters".into(),
            ),
            (
                "interaction",
                "work_notes",
                &long_notes,
                "must be at most 4000 characters".into(),
            ),
            (
                "sn_openframe_phone_log",
                "call_type",
                "Inbound",
                "must be one of INBOUND, OUTBOUND".into(),
            ),
            ("sn_openframe_phone_log", "end_time", "soon", date.into()),
            (
                "sn_openframe_phone_log",
                "duration",
                "ten",
                FieldKind::Seconds.rule(),
            ),
            (
                "interaction_related_record",
                "document_table",
                "sys user",
                crate::names::TABLE_NAME_RULE.into(),
            ),
            (
                "interaction_related_record",
                "document_id",
                "x",
                sys_id.into(),
            ),
        ];
        for (table, field, value, want) in cases {
            refused_value(table, field, value, &want).await;
        }
        // The record's own sys_id and a system date-time of a provider application.
        let lines = vec![
            json!({HEADER_KEY: 1}),
            json!({"table": "sys_cs_provider_application",
                   "record": {"sys_id": C, "inbound_id": "x", "sys_updated_on": "now"}}),
            json!({END_KEY: {"records": 1}}),
        ];
        let (_, result) = run(&dump(&lines)).await;
        assert_eq!(
            result.unwrap_err().to_string(),
            format!("line 2: record.sys_updated_on: {date}")
        );
        let mut bad_id = interaction(A, "IMS0001001");
        bad_id["record"]["sys_id"] = json!("A".repeat(32));
        let lines = vec![
            json!({HEADER_KEY: 1}),
            bad_id,
            json!({END_KEY: {"records": 1}}),
        ];
        let (_, result) = run(&dump(&lines)).await;
        assert_eq!(
            result.unwrap_err().to_string(),
            format!("line 2: record.sys_id: {sys_id}")
        );
    }

    #[tokio::test]
    async fn context_obeys_the_api_rules() {
        let many: Map<String, Value> = (0..257).map(|i| (format!("k{i}"), json!("v"))).collect();
        let cases = [
            (json!({"bad key": "v"}), "context.bad key: name must match"),
            (json!({"k": "a\0b"}), "context.k: must not contain NUL"),
            (
                json!({"k": "v".repeat(4001)}),
                "context.k: must be at most 4000",
            ),
            (json!({"k": ""}), "context.k: must not be empty"),
            (json!({"k": 1}), "context.k: must be a string"),
            (
                Value::Object(many),
                "context: an interaction may have at most 256",
            ),
        ];
        for (context, want) in cases {
            let mut line = interaction(A, "IMS0001001");
            line["context"] = context;
            let lines = vec![
                json!({HEADER_KEY: 1}),
                line,
                json!({END_KEY: {"records": 1}}),
            ];
            let (repo, result) = run(&dump(&lines)).await;
            let err = result.unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("line 2: {want}")),
                "{err:?} should start with line 2: {want}"
            );
            assert_eq!(repo.export_interactions(None, 10).await.unwrap(), vec![]);
        }
    }

    #[tokio::test]
    async fn an_interaction_holds_at_most_the_cap_of_children() {
        let mut lines = vec![json!({HEADER_KEY: 1}), interaction(A, "IMS0001001")];
        let id = |i: usize| format!("{:032x}", 0x1000 + i);
        for i in 0..=MAX_PHONE_LOGS_PER_INTERACTION {
            lines.push(log(&id(i), A));
        }
        let n = lines.len();
        lines.push(json!({END_KEY: {"records": n - 1}}));
        let repo = MemoryRepository::new();
        let result = import(&repo, &mut &dump(&lines)[..], 100_000, &mut |_| {}).await;
        assert_eq!(
            result.unwrap_err().to_string(),
            format!(
                "line {n}: table: an interaction may have at most {MAX_PHONE_LOGS_PER_INTERACTION} phone logs"
            )
        );
        assert_eq!(repo.export_interactions(None, 10).await.unwrap(), vec![]);
    }

    #[tokio::test]
    async fn a_duplicate_key_names_the_line_and_the_key() {
        let text = format!(
            "{{\"{HEADER_KEY}\":1}}\n\
             {{\"table\":\"interaction\",\"record\":{{\"sys_id\":\"{A}\",\"number\":\"IMS0001001\",\"state\":\"new\",\"state\":\"closed_complete\"}}}}\n\
             {{\"{END_KEY}\":{{\"records\":1}}}}\n"
        );
        let (repo, result) = run(text.as_bytes()).await;
        let err = result.unwrap_err().to_string();
        assert_eq!(err, "line 2: record.state: appears more than once");
        assert!(
            repo.load_interaction(&SysId::parse(A).unwrap())
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_bad_line_leaves_its_batch_unwritten() {
        let header = json!({HEADER_KEY: 1});
        // Batches of two records: A with its log is the first batch, written before line 5 is read; C is in
        // the batch line 5 breaks.
        let lines = vec![
            header,
            interaction(A, "IMS0001001"),
            log(B, A),
            interaction(C, "IMS0001002"),
            json!({"table": "nope", "record": {}}),
        ];
        let (repo, result) = run(&dump(&lines)).await;
        assert!(result.unwrap_err().to_string().starts_with("line 5:"));
        assert!(
            repo.load_interaction(&SysId::parse(A).unwrap())
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            repo.load_interaction(&SysId::parse(C).unwrap())
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn export_of_an_import_is_the_dump() {
        let lines = vec![
            json!({HEADER_KEY: 1}),
            json!({"table": "sys_user", "record": {"sys_id": C, "user_name": "admin", "password_hash": "$h", "roles": ["admin"]}}),
            interaction(A, "IMS0001001"),
            log(B, A),
            json!({END_KEY: {"records": 3}}),
        ];
        let (repo, result) = run(&dump(&lines)).await;
        assert_eq!(result.unwrap().total(), 3);
        let mut out = Vec::new();
        export(&repo, &mut out, &mut |_| {}).await.unwrap();
        let exported: Vec<Value> = out
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(exported.len(), lines.len());
        assert_eq!(exported[0], lines[0]);
        assert_eq!(exported[1], lines[1]);
        assert_eq!(exported[2]["record"]["number"], "IMS0001001");
        assert_eq!(exported[2]["context"], json!({"k": "v"}));
        assert_eq!(exported[3]["record"]["interaction"], A);
        assert_eq!(exported[4], lines[4]);
    }
}
