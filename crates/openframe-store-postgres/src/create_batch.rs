//! Group commit for creates: creates that arrive together are written by one statement.
//!
//! Why: a create is one statement (`Queries::create_interaction`), and on PostgreSQL most of what it costs
//! is the statement's, not its rows' (the executor's start-up for the many-CTE statement, relation locks
//! taken and released, the commit); a generic plan changes nothing. Fewer statements per create is what is
//! left, so creates are grouped as the SQLite store's writer thread groups its writes
//! (`docs/PERFORMANCE.md` has the figures).
//!
//! How: a caller checks its create and builds its event. When one of the [`LANES`] lanes is free, it takes
//! it and writes its create at once, from its own task, with the statement for one: at low load a create
//! costs what it did before batching, with no timer and no added wait. Otherwise it queues the create. A
//! dispatcher task takes the first create queued, waits for a lane, then takes whatever else is queued (up
//! to [`MAX_BATCH`]) and hands it all to a task of the lane's, which writes it on one pool connection with
//! one statement (`Queries::create_batch`): one implicit transaction, one commit, one WAL flush. Each
//! caller is answered once that statement has ended. While every lane is busy new creates queue up and
//! form the next batch, so batches grow with the load.
//!
//! Each create keeps the outcome it would have had alone:
//!
//! - one whose sys_id is taken is left out by the statement, with its children and its event, and gets the
//!   same [`Error::Conflict`]; the others are written;
//! - when the statement is refused as a whole (the server's error: two creates of one sys_id in the batch,
//!   a child sys_id that exists, a sys_id a concurrent create took first), nothing was written, and the
//!   batch's creates are written again one by one with the statement for one, each getting its own outcome;
//! - an error that is not the server refusing the statement (the connection lost, a pool timeout) goes to
//!   every create of the batch, worded for each as before ([`Error::Unavailable`] when the server cannot be
//!   reached); a batch waits for a connection no longer than its oldest create would have alone.
//!
//! A caller that goes away (its request cancelled) before its batch is taken is left out; after, its
//! create is written like the others and the answer dropped. One that goes away while writing alone
//! abandons its own statement, as a create did before batching. The store's `close` closes the pool, which
//! waits for every connection in use, so for every batch being written, to come back: after it no batch is
//! writing, and a create fails as `Unavailable`, as before. The dispatcher ends when the store is dropped.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openframe_core::aggregate::InteractionAggregate;
use openframe_core::metric_names::COMMIT_BATCH_SIZE;
use openframe_core::schema::{INTERACTION, PHONE_LOG, RELATED_RECORD, field};
use openframe_core::{Conflict, Error, InteractionEvent, Record, Result, SysId, number};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::error::{is_unavailable, map_error, shared_error};
use crate::queries::{NUMBER_SLOT, QUERIES};
use crate::repository::check_children;
use crate::rows::{bind_columns, bind_record};

/// How many batches are written at once, each on a pool connection of its own (never more than the pool
/// has). One: the fewer the lanes, the bigger the batches, so the fewer the statements, which measured
/// best on the 2-core reference machine (`docs/PERFORMANCE.md`). More lanes let PostgreSQL write several
/// batches at once, which a database server with cores to spare, or a slow WAL flush, may repay.
pub(crate) const LANES: usize = 1;

/// The most creates one statement writes: bounds the statement's arrays and how long a batch holds its
/// lane, while being above the concurrency a server sees in practice.
pub(crate) const MAX_BATCH: usize = 64;

/// What a create's event holds for its number until the statement puts it in (see [`NUMBER_SLOT`]).
const NUMBER_PLACEHOLDER: &str = "?";

/// The least digits of an interaction number: `number::format_number` pads to seven.
const NUMBER_DIGITS: i32 = 7;

/// A create ready to be written: checked, with its event's payload (whose number the statement fills in).
#[derive(Debug)]
pub(crate) struct NewInteraction {
    sys_id: SysId,
    aggregate: InteractionAggregate,
    event: String,
}

impl NewInteraction {
    /// Checks `aggregate` as a create must be (a valid sys_id, children that name it) and builds its event.
    pub(crate) fn new(aggregate: InteractionAggregate) -> Result<Self> {
        let sys_id = SysId::parse_field(aggregate.interaction.sys_id(), field::SYS_ID)?;
        check_children(&sys_id, &aggregate.phone_logs, &aggregate.related_records)?;
        // Its number does not exist yet: the statement puts it into the event's two slots for it, `data.number`
        // and `data.changes.number` (a create's changes are its non-empty fields).
        let mut event = InteractionEvent::created(&aggregate);
        event.data.number = NUMBER_PLACEHOLDER.to_owned();
        event
            .data
            .changes
            .insert(field::NUMBER.to_owned(), NUMBER_PLACEHOLDER.to_owned());
        let event = event.to_payload();
        // Nothing else can match: keys are the schema's field names and the event's own, and a value's
        // quotes are escaped. A payload that did otherwise would carry `?` as its number, so it is checked.
        if event.matches(NUMBER_SLOT).count() != 2 {
            return Err(Error::internal(format!(
                "the event of interaction {sys_id} does not hold its number's two slots: {event}"
            )));
        }
        Ok(NewInteraction {
            sys_id,
            aggregate,
            event,
        })
    }

    fn doing(&self) -> String {
        format!("creating interaction {}", self.sys_id)
    }

    /// The answer to a create whose sys_id was taken before its statement began (it wrote nothing).
    fn exists(&self) -> Error {
        Error::Conflict(Conflict::SysId {
            table: INTERACTION.name,
            sys_id: self.sys_id.as_str().to_owned(),
        })
    }
}

/// The store's creates, written in batches.
pub(crate) struct CreateBatcher(Batcher<Queued, Result<String>>);

/// A create in the queue, and since when.
struct Queued {
    new: NewInteraction,
    arrived: Instant,
}

impl CreateBatcher {
    /// Starts the dispatcher (on the current tokio runtime), writing on `pool`.
    pub(crate) fn start(
        pool: PgPool,
        acquire_timeout: Duration,
        max_connections: u32,
    ) -> Result<Self> {
        let lanes = usize::try_from(max_connections.max(1)).map_or(LANES, |n| n.min(LANES));
        Batcher::start(lanes, MAX_BATCH, move |batch| {
            let pool = pool.clone();
            async move { write_queued(&pool, acquire_timeout, batch).await }
        })
        .map(CreateBatcher)
    }

    /// Writes `new` with the creates queued beside it; its number, once the statement has committed.
    pub(crate) async fn create(&self, new: NewInteraction) -> Result<String> {
        let sys_id = new.sys_id.clone();
        let queued = Queued {
            new,
            arrived: Instant::now(),
        };
        self.0.submit(queued).await.unwrap_or_else(|| {
            Err(Error::internal(format!(
                "creating interaction {sys_id}: its batch ended without an answer"
            )))
        })
    }
}

/// Takes a connection for `batch` and writes it: the lane's work.
async fn write_queued(
    pool: &PgPool,
    acquire_timeout: Duration,
    batch: Vec<Queued>,
) -> Vec<Result<String>> {
    metrics::histogram!(COMMIT_BATCH_SIZE, "store" => "postgres").record(batch.len() as f64);
    // The pool's own timeout starts now; the oldest create has waited for its lane already.
    let deadline = batch
        .iter()
        .map(|q| q.arrived)
        .min()
        .and_then(|oldest| oldest.checked_add(acquire_timeout));
    let batch: Vec<NewInteraction> = batch.into_iter().map(|q| q.new).collect();
    let acquired = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline.into(), pool.acquire())
            .await
            .unwrap_or(Err(sqlx::Error::PoolTimedOut)),
        None => pool.acquire().await,
    };
    match acquired {
        Ok(mut conn) => write_batch(&mut conn, &batch).await,
        Err(e) => every_one(&batch, e),
    }
}

/// Writes `batch` on `conn`, one statement for all of it when it can (the module's comment says how each
/// create keeps its own outcome); one result per create, in order.
pub(crate) async fn write_batch(
    conn: &mut PgConnection,
    batch: &[NewInteraction],
) -> Vec<Result<String>> {
    if let [one] = batch {
        return vec![create_one(conn, one).await];
    }
    match create_many(conn, batch).await {
        Ok(rows) => answers(batch, &rows),
        // The server refused the statement, so it wrote nothing: each create alone, for its own outcome.
        Err(e) if matches!(e, sqlx::Error::Database(_)) && !is_unavailable(&e) => {
            let mut outcomes = Vec::with_capacity(batch.len());
            for new in batch {
                outcomes.push(create_one(conn, new).await);
            }
            outcomes
        }
        Err(e) => every_one(batch, e),
    }
}

/// `error` as the answer to each create of `batch`.
fn every_one(batch: &[NewInteraction], error: sqlx::Error) -> Vec<Result<String>> {
    let error = Arc::new(error);
    batch
        .iter()
        .map(|new| Err(shared_error(new.doing(), &error)))
        .collect()
}

/// One create, with the statement for one (`Queries::create_interaction`): a create alone, and each
/// create of a batch the server refused.
async fn create_one(conn: &mut PgConnection, new: &NewInteraction) -> Result<String> {
    let aggregate = &new.aggregate;
    let (names, values): (Vec<&str>, Vec<&str>) = aggregate
        .context
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .unzip();
    let mut create = bind_record(
        QUERIES.create_interaction.query(),
        &aggregate.interaction,
        Some(field::NUMBER),
    )
    .bind(names)
    .bind(values);
    create = bind_columns(create, &PHONE_LOG, &aggregate.phone_logs);
    create = bind_columns(create, &RELATED_RECORD, &aggregate.related_records);
    // One statement, so one round trip and its own transaction: the number, the interaction, all its
    // children and its event, or nothing.
    let number: Option<String> = create
        .bind(number::PREFIX)
        .bind(NUMBER_DIGITS)
        .bind(new.event.as_str())
        .fetch_optional(conn)
        .await
        .map_err(|e| map_error(new.doing(), e, &new.aggregate.unique_keys()))?
        .map(|row| row.try_get(0))
        .transpose()
        .map_err(|e| Error::internal(format!("the number of interaction {}: {e}", new.sys_id)))?;
    // No row: the sys_id was taken before the statement began, and it wrote nothing (a create racing this
    // one for the same sys_id is a unique violation instead, mapped above).
    number.ok_or_else(|| new.exists())
}

/// All of `batch` in one statement (`Queries::create_batch`): a row (sys_id, number) per interaction
/// written.
async fn create_many(
    conn: &mut PgConnection,
    batch: &[NewInteraction],
) -> Result<Vec<PgRow>, sqlx::Error> {
    let mut create = QUERIES.create_batch.query();
    for (i, name) in INTERACTION.field_names().enumerate() {
        if name != field::NUMBER {
            let column: Vec<&str> = batch
                .iter()
                .map(|new| new.aggregate.interaction.values()[i].as_str())
                .collect();
            create = create.bind(column);
        }
    }
    let events: Vec<&str> = batch.iter().map(|new| new.event.as_str()).collect();
    create = create.bind(events);
    let (mut owners, mut names, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for new in batch {
        for (name, value) in &new.aggregate.context {
            owners.push(new.sys_id.as_str());
            names.push(name.as_str());
            values.push(value.as_str());
        }
    }
    create = create.bind(owners).bind(names).bind(values);
    // Each interaction's children after the one before's, each in its own order: `created_seq` keeps it.
    let children = |of: fn(&InteractionAggregate) -> &Vec<Record>| -> Vec<&Record> {
        batch
            .iter()
            .flat_map(|new| of(&new.aggregate).iter())
            .collect()
    };
    create = bind_columns(create, &PHONE_LOG, &children(|a| &a.phone_logs));
    create = bind_columns(create, &RELATED_RECORD, &children(|a| &a.related_records));
    create
        .bind(number::PREFIX)
        .bind(NUMBER_DIGITS)
        .fetch_all(conn)
        .await
}

/// Each create's answer from the rows of the interactions written: its number, or a conflict when its
/// sys_id was taken.
fn answers(batch: &[NewInteraction], rows: &[PgRow]) -> Vec<Result<String>> {
    let mut numbers = HashMap::with_capacity(rows.len());
    for row in rows {
        match row
            .try_get::<String, _>(0)
            .and_then(|sys_id| Ok((sys_id, row.try_get::<String, _>(1)?)))
        {
            Ok((sys_id, number)) => {
                numbers.insert(sys_id, number);
            }
            // Written, but not readable: as a create alone would say.
            Err(e) => {
                return batch
                    .iter()
                    .map(|new| {
                        Err(Error::internal(format!(
                            "the number of interaction {}: {e}",
                            new.sys_id
                        )))
                    })
                    .collect();
            }
        }
    }
    batch
        .iter()
        .map(|new| {
            numbers
                .remove(new.sys_id.as_str())
                .ok_or_else(|| new.exists())
        })
        .collect()
}

/// Items written in batches, by at most a number of lanes at once (the module's comment says why and how).
pub(crate) struct Batcher<T, R> {
    /// Unbounded: each caller queues one item and waits for its answer, so the callers bound it.
    queue: mpsc::UnboundedSender<Job<T, R>>,
    /// A permit per batch being written.
    lanes: Arc<Semaphore>,
    write: Arc<Write<T, R>>,
}

/// Writes one batch and gives one answer per item, in order.
type Write<T, R> = dyn Fn(Vec<T>) -> Pin<Box<dyn Future<Output = Vec<R>> + Send>> + Send + Sync;

/// An item and where its answer goes.
struct Job<T, R> {
    item: T,
    reply: oneshot::Sender<R>,
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// Starts the dispatcher on the current tokio runtime. `write` writes one batch (at most `max_batch`
    /// items) and gives one answer per item, in order; at most `lanes` batches are written at once.
    pub(crate) fn start<W, F>(lanes: usize, max_batch: usize, write: W) -> Result<Self>
    where
        W: Fn(Vec<T>) -> F + Send + Sync + 'static,
        F: Future<Output = Vec<R>> + Send + 'static,
    {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| Error::internal(format!("starting the create batcher: {e}")))?;
        let write: Arc<Write<T, R>> = Arc::new(move |items| Box::pin(write(items)));
        let lanes = Arc::new(Semaphore::new(lanes.max(1)));
        let (queue, jobs) = mpsc::unbounded_channel();
        runtime.spawn(dispatch(
            jobs,
            Arc::clone(&lanes),
            max_batch.max(1),
            Arc::clone(&write),
        ));
        Ok(Batcher {
            queue,
            lanes,
            write,
        })
    }

    /// Writes `item` and waits for its answer; `None` when none will come (the dispatcher went with its
    /// runtime, or the batch's write panicked).
    pub(crate) async fn submit(&self, item: T) -> Option<R> {
        // A lane is free, so nothing waits in the queue for one (the dispatcher would have it): write at
        // once, from this task. This keeps a create at low load as cheap as before batching (no hand-over
        // to other tasks); a caller that goes away here abandons its own write only.
        if let Ok(lane) = Arc::clone(&self.lanes).try_acquire_owned() {
            let answer = (self.write)(vec![item]).await.pop();
            drop(lane);
            return answer;
        }
        let (reply, answer) = oneshot::channel();
        self.queue.send(Job { item, reply }).ok()?;
        answer.await.ok()
    }
}

/// The dispatcher: a lane first, then everything queued, then the next batch. Ends when the batcher is
/// dropped.
async fn dispatch<T: Send + 'static, R: Send + 'static>(
    mut jobs: mpsc::UnboundedReceiver<Job<T, R>>,
    lanes: Arc<Semaphore>,
    max_batch: usize,
    write: Arc<Write<T, R>>,
) {
    while let Some(first) = jobs.recv().await {
        // While every lane is busy, what arrives queues up and joins this batch.
        let Ok(lane) = Arc::clone(&lanes).acquire_owned().await else {
            return;
        };
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            // A caller that went away is not written for.
            if !job.reply.is_closed() {
                batch.push(job);
            }
            if batch.len() < max_batch {
                next = jobs.try_recv().ok();
            }
        }
        if batch.is_empty() {
            continue;
        }
        let write = Arc::clone(&write);
        tokio::spawn(async move {
            let (items, replies): (Vec<T>, Vec<_>) =
                batch.into_iter().map(|job| (job.item, job.reply)).unzip();
            let answers = write(items).await;
            for (reply, answer) in replies.into_iter().zip(answers) {
                // The caller may have gone away; the write stands regardless.
                let _ = reply.send(answer);
            }
            drop(lane);
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Poll;

    use openframe_core::Repository;
    use sqlx::{AssertSqlSafe, Connection};
    use tokio::task::JoinHandle;

    use super::*;
    use crate::PostgresRepository;
    use crate::test_support::{TestSchema, new_interaction, test_options};

    #[test]
    fn the_statement_pads_numbers_like_format_number() {
        // The create statements build the number from these two binds (their SQL is tested on a server in
        // tests/postgres.rs, across the seventh digit).
        let n = number::format_number(1);
        assert_eq!(
            n,
            format!(
                "{}{}1",
                number::PREFIX,
                "0".repeat(NUMBER_DIGITS as usize - 1)
            )
        );
    }

    /// The batches a test's writes were given, in order.
    type Batches = Mutex<Vec<Vec<u32>>>;

    #[test]
    fn an_events_number_has_exactly_two_slots_whatever_the_values() {
        let mut new = new_interaction(1);
        // Values that look like the slot are escaped in the payload, so they do not match it.
        new.interaction
            .set(field::SHORT_DESCRIPTION, format!("a {NUMBER_SLOT} b"));
        new.interaction
            .set(field::WORK_NOTES, "\\\"number\\\":\\\"?\\\"");
        new.interaction.set(field::NUMBER, "IMS0000001");
        let checked = NewInteraction::new(new.clone()).unwrap();
        assert_eq!(checked.event.matches(NUMBER_SLOT).count(), 2);
        // What the statement does, done here: the event of the interaction numbered.
        let number = "IMS0001234";
        let numbered = checked
            .event
            .replace(NUMBER_SLOT, &format!("\"number\":\"{number}\""));
        let mut stored = new;
        stored.interaction.set(field::NUMBER, number);
        assert_eq!(
            InteractionEvent::from_payload(&numbered).unwrap(),
            InteractionEvent::created(&stored)
        );
    }

    /// A batcher whose writes record their batches and answer each item with itself; each write waits
    /// until `release` says so, when it is given.
    fn recording(
        lanes: usize,
        max_batch: usize,
        release: Option<Arc<Semaphore>>,
    ) -> (Batcher<u32, u32>, Arc<Batches>) {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&batches);
        let batcher = Batcher::start(lanes, max_batch, move |items: Vec<u32>| {
            seen.lock().unwrap().push(items.clone());
            let release = release.clone();
            async move {
                if let Some(release) = release {
                    release.acquire().await.unwrap().forget();
                }
                items
            }
        })
        .unwrap();
        (batcher, batches)
    }

    /// Waits (bounded) until `batches` holds `n` batches.
    async fn until_batches(batches: &Batches, n: usize) {
        for _ in 0..1000 {
            if batches.lock().unwrap().len() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("{n} batches never started: {:?}", batches.lock().unwrap());
    }

    #[tokio::test]
    async fn a_lone_item_is_written_at_once_as_a_batch_of_its_own() {
        let (batcher, batches) = recording(2, 64, None);
        for i in 0..3 {
            assert_eq!(batcher.submit(i).await, Some(i));
        }
        assert_eq!(*batches.lock().unwrap(), [[0], [1], [2]]);
    }

    /// Callers of one batcher, each in a task of its own, counted once their item is queued (or has taken
    /// a lane): `submit` does either at its first poll, before it waits.
    struct Callers {
        batcher: Arc<Batcher<u32, u32>>,
        started: Arc<AtomicUsize>,
    }

    impl Callers {
        fn new(batcher: Batcher<u32, u32>) -> Self {
            Callers {
                batcher: Arc::new(batcher),
                started: Arc::default(),
            }
        }

        fn submit(&self, i: u32) -> JoinHandle<Option<u32>> {
            let (batcher, started) = (Arc::clone(&self.batcher), Arc::clone(&self.started));
            tokio::spawn(async move {
                let mut submit = std::pin::pin!(batcher.submit(i));
                let first = std::future::poll_fn(|cx| Poll::Ready(submit.as_mut().poll(cx))).await;
                started.fetch_add(1, Ordering::SeqCst);
                match first {
                    Poll::Ready(answer) => answer,
                    Poll::Pending => submit.await,
                }
            })
        }

        /// Waits (bounded) until `n` callers in all have queued.
        async fn until_started(&self, n: usize) {
            for _ in 0..1000 {
                if self.started.load(Ordering::SeqCst) >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            panic!("{n} callers never started");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn what_arrives_while_the_lanes_are_busy_is_the_next_batch() {
        let release = Arc::new(Semaphore::new(0));
        let (batcher, batches) = recording(1, 64, Some(Arc::clone(&release)));
        let callers = Callers::new(batcher);
        let first = callers.submit(0);
        until_batches(&batches, 1).await;
        // The only lane is busy: these queue up.
        let waiting: Vec<_> = (1..=10).map(|i| callers.submit(i)).collect();
        callers.until_started(11).await;
        assert_eq!(batches.lock().unwrap().len(), 1, "nothing else was taken");
        release.add_permits(2);
        assert_eq!(first.await.unwrap(), Some(0));
        for (i, task) in (1..).zip(waiting) {
            assert_eq!(task.await.unwrap(), Some(i), "each gets its own answer");
        }
        let batches = batches.lock().unwrap();
        assert_eq!(batches.len(), 2, "{batches:?}");
        let mut second = batches[1].clone();
        second.sort_unstable();
        assert_eq!(second, (1..=10).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_takes_at_most_its_bound_and_the_lanes_run_side_by_side() {
        let release = Arc::new(Semaphore::new(0));
        let (batcher, batches) = recording(2, 4, Some(Arc::clone(&release)));
        let callers = Callers::new(batcher);
        let lanes: Vec<_> = (0..2).map(|i| callers.submit(i)).collect();
        until_batches(&batches, 2).await;
        let waiting: Vec<_> = (2..12).map(|i| callers.submit(i)).collect();
        callers.until_started(12).await;
        assert_eq!(batches.lock().unwrap().len(), 2, "both lanes are busy");
        release.add_permits(100);
        for (i, task) in (0..).zip(lanes.into_iter().chain(waiting)) {
            assert_eq!(task.await.unwrap(), Some(i));
        }
        // Two lanes record their batches in whichever order their tasks run.
        let mut sizes: Vec<usize> = batches.lock().unwrap().iter().map(Vec::len).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [1, 1, 2, 4, 4]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_went_away_is_left_out_and_breaks_nothing() {
        let release = Arc::new(Semaphore::new(0));
        let (batcher, batches) = recording(1, 64, Some(Arc::clone(&release)));
        let callers = Callers::new(batcher);
        let first = callers.submit(0);
        until_batches(&batches, 1).await;
        let (kept, gone, leaving) = (callers.submit(1), callers.submit(2), callers.submit(3));
        callers.until_started(4).await;
        // Gone before its batch is taken: left out.
        gone.abort();
        assert!(gone.await.is_err(), "cancelled");
        release.add_permits(1);
        assert_eq!(first.await.unwrap(), Some(0));
        until_batches(&batches, 2).await;
        // Gone while its batch is being written: the others are answered all the same.
        leaving.abort();
        assert!(leaving.await.is_err(), "cancelled");
        release.add_permits(1);
        assert_eq!(kept.await.unwrap(), Some(1));
        {
            // The three tasks queued in whatever order they ran.
            let mut batches = batches.lock().unwrap();
            batches[1].sort_unstable();
            assert_eq!(*batches, [vec![0], vec![1, 3]]);
        }
        // The lane came back.
        release.add_permits(1);
        assert_eq!(callers.submit(4).await.unwrap(), Some(4));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_whose_write_panics_answers_none_and_its_lane_comes_back() {
        let release = Arc::new(Semaphore::new(0));
        let held = Arc::clone(&release);
        let callers = Callers::new(
            Batcher::start(1, 64, move |items: Vec<u32>| {
                let held = Arc::clone(&held);
                async move {
                    if items == [0] {
                        held.acquire().await.unwrap().forget();
                    }
                    assert!(!items.contains(&13), "the write of 13 panics");
                    items
                }
            })
            .unwrap(),
        );
        // 0 holds the only lane, so 13 and 14 are queued and written together, by the dispatcher's task.
        let first = callers.submit(0);
        callers.until_started(1).await;
        let queued = [callers.submit(13), callers.submit(14)];
        callers.until_started(3).await;
        release.add_permits(1);
        assert_eq!(first.await.unwrap(), Some(0));
        for task in queued {
            assert_eq!(task.await.unwrap(), None);
        }
        assert_eq!(callers.submit(15).await.unwrap(), Some(15));
    }

    #[test]
    fn starting_outside_a_runtime_is_an_error_not_a_panic() {
        let started = Batcher::start(1, 1, |items: Vec<u32>| async move { items });
        assert!(matches!(started, Err(Error::Internal { .. })));
    }

    // ---- Batches on the server: `write_batch` given several creates at once ----

    /// Writes `batch` as one batch on a connection of `store`'s pool.
    async fn write(
        store: &PostgresRepository,
        batch: &[InteractionAggregate],
    ) -> Vec<Result<String>> {
        let batch: Vec<NewInteraction> = batch
            .iter()
            .map(|new| NewInteraction::new(new.clone()).unwrap())
            .collect();
        let mut conn = store.pool.acquire().await.unwrap();
        write_batch(&mut conn, &batch).await
    }

    fn sys_id_of(new: &InteractionAggregate) -> SysId {
        SysId::parse(new.interaction.sys_id()).unwrap()
    }

    /// `new` as the store should hold it, numbered `number`.
    fn numbered(new: &InteractionAggregate, number: &str) -> InteractionAggregate {
        let mut stored = new.clone();
        stored.interaction.set(field::NUMBER, number);
        stored
    }

    /// Every event of the store, and the interactions they are of, in id order; each must be exactly the
    /// created event of the aggregate as stored.
    async fn created_events(store: &PostgresRepository) -> Vec<String> {
        let page = store.events_after(0, 1000).await.unwrap();
        let ids: Vec<u64> = page.events.iter().map(|e| e.id).collect();
        assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
        let mut of = Vec::new();
        for stored in page.events {
            let sys_id = SysId::parse(&stored.event.data.sys_id).unwrap();
            let aggregate = store.load_interaction(&sys_id).await.unwrap().unwrap();
            assert_eq!(stored.event, InteractionEvent::created(&aggregate));
            of.push(sys_id.as_str().to_owned());
        }
        of
    }

    #[tokio::test]
    async fn a_batch_is_numbered_in_its_order_with_every_child_and_event() {
        let Some(schema) = TestSchema::new("a_batch_is_numbered_in_its_order").await else {
            return;
        };
        let store = schema.connect(test_options()).await;
        let mut batch: Vec<InteractionAggregate> = (0..5).map(new_interaction).collect();
        // No context at all, and a context key another interaction has too.
        batch[1].context.clear();
        batch[2].context.insert("language".into(), "fr".into());
        let numbers = write(&store, &batch).await;
        let numbers: Vec<String> = numbers.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            numbers,
            (1001..1006).map(number::format_number).collect::<Vec<_>>()
        );
        for (new, number) in batch.iter().zip(&numbers) {
            let stored = store.load_interaction(&sys_id_of(new)).await.unwrap();
            // Phone logs and related records come back in the order given (created_seq).
            assert_eq!(stored, Some(numbered(new, number)));
        }
        let in_order: Vec<String> = batch
            .iter()
            .map(|n| sys_id_of(n).as_str().to_owned())
            .collect();
        assert_eq!(created_events(&store).await, in_order);
    }

    #[tokio::test]
    async fn a_taken_sys_id_fails_alone_and_writes_nothing_of_its_own() {
        let Some(schema) = TestSchema::new("a_taken_sys_id_fails_alone").await else {
            return;
        };
        let store = schema.connect(test_options()).await;
        let first = new_interaction(1);
        assert_eq!(
            store.create_interaction(first.clone()).await.unwrap(),
            "IMS0001001"
        );
        // The same sys_id again, with children and context of its own (new sys_ids, so nothing else
        // conflicts).
        let mut again = new_interaction(2);
        let sys_id = sys_id_of(&first);
        again.interaction.set(field::SYS_ID, sys_id.as_str());
        for child in again
            .phone_logs
            .iter_mut()
            .chain(&mut again.related_records)
        {
            child.set(field::INTERACTION, sys_id.as_str());
        }
        again.context.insert("extra".into(), "1".into());
        let (a, b) = (new_interaction(1), new_interaction(0));
        let answers = write(&store, &[a.clone(), again, b.clone()]).await;
        assert_eq!(answers[0].as_deref().ok(), Some("IMS0001002"));
        match &answers[1] {
            Err(Error::Conflict(Conflict::SysId {
                table,
                sys_id: taken,
            })) => {
                assert_eq!((*table, taken.as_str()), ("interaction", sys_id.as_str()));
            }
            other => panic!("expected Conflict, got {other:?}"),
        }
        // It took no number.
        assert_eq!(answers[2].as_deref().ok(), Some("IMS0001003"));
        assert_eq!(
            store.load_interaction(&sys_id).await.unwrap(),
            Some(numbered(&first, "IMS0001001")),
            "none of its children or context was written"
        );
        let logs: i64 = sqlx::query_scalar("SELECT count(*) FROM sn_openframe_phone_log")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(logs, 1 + 1, "the first one's and a's");
        let events = created_events(&store).await;
        assert_eq!(
            events,
            [&first, &a, &b].map(|n| sys_id_of(n).as_str().to_owned()),
            "no event for the conflict"
        );
    }

    #[tokio::test]
    async fn two_creates_of_one_sys_id_in_a_batch_one_wins() {
        let Some(schema) = TestSchema::new("two_creates_of_one_sys_id_in_a_batch").await else {
            return;
        };
        let store = schema.connect(test_options()).await;
        let first = new_interaction(1);
        let sys_id = sys_id_of(&first);
        let mut second = new_interaction(1);
        second.interaction.set(field::SYS_ID, sys_id.as_str());
        second.phone_logs[0].set(field::INTERACTION, sys_id.as_str());
        second.related_records[0].set(field::INTERACTION, sys_id.as_str());
        let other = new_interaction(2);
        let answers = write(&store, &[first.clone(), other.clone(), second]).await;
        // The batch was refused as a whole and written again one by one, in its order. The refused
        // statement had taken numbers, which a failed statement leaves as a gap (numbers are unique and
        // increasing, not dense).
        let (Ok(won), Ok(number)) = (&answers[0], &answers[1]) else {
            panic!("{answers:?}");
        };
        assert!(won < number, "{answers:?}");
        match &answers[2] {
            Err(Error::Conflict(Conflict::SysId {
                table,
                sys_id: taken,
            })) => {
                assert_eq!((*table, taken.as_str()), ("interaction", sys_id.as_str()));
            }
            other => panic!("expected Conflict, got {other:?}"),
        }
        assert_eq!(
            store.load_interaction(&sys_id).await.unwrap(),
            Some(numbered(&first, won))
        );
        assert_eq!(
            store.load_interaction(&sys_id_of(&other)).await.unwrap(),
            Some(numbered(&other, number))
        );
        assert_eq!(
            created_events(&store).await,
            [&first, &other].map(|n| sys_id_of(n).as_str().to_owned())
        );
    }

    #[tokio::test]
    async fn a_child_sys_id_another_interaction_has_fails_its_create_alone() {
        let Some(schema) = TestSchema::new("a_child_sys_id_another_has").await else {
            return;
        };
        let store = schema.connect(test_options()).await;
        let first = new_interaction(1);
        store.create_interaction(first.clone()).await.unwrap();
        let taken = first.phone_logs[0].sys_id().to_owned();
        let mut bad = new_interaction(2);
        bad.phone_logs[1].set(field::SYS_ID, &taken);
        let (a, c) = (new_interaction(1), new_interaction(1));
        let answers = write(&store, &[a.clone(), bad.clone(), c.clone()]).await;
        assert!(answers[0].is_ok(), "{answers:?}");
        assert!(answers[2].is_ok(), "{answers:?}");
        // What the same create alone gets.
        let alone = store.create_interaction(bad.clone()).await;
        match (&answers[1], &alone) {
            (Err(Error::Conflict(conflict)), Err(Error::Conflict(alone))) => {
                assert_eq!(conflict, alone);
                assert_eq!(
                    *conflict,
                    Conflict::SysId {
                        table: "sn_openframe_phone_log",
                        sys_id: taken.clone(),
                    }
                );
            }
            other => panic!("expected two Conflicts, got {other:?}"),
        }
        assert_eq!(
            store.load_interaction(&sys_id_of(&bad)).await.unwrap(),
            None
        );
        assert_eq!(
            created_events(&store).await,
            [&first, &a, &c].map(|n| sys_id_of(n).as_str().to_owned())
        );
    }

    /// Whether a sys_id is taken is a probe of the primary key per interaction, in the generic plan of a new
    /// store's table too (not analyzed yet), which a connection keeps using as the table grows: with `NOT
    /// EXISTS` that plan was an anti-join hashing the whole table, and half the batches of a 10 s run read
    /// the table whole.
    #[tokio::test]
    async fn a_batch_probes_the_primary_key_on_a_new_table() {
        let Some(schema) = TestSchema::new("a_batch_probes_the_primary_key").await else {
            return;
        };
        let store = schema.connect(test_options()).await;
        write(&store, &[new_interaction(1), new_interaction(1)]).await;
        let types = ["text[]"; 58].join(", ");
        let nulls = ["NULL"; 58].join(", ");
        let mut conn = store.pool.acquire().await.unwrap();
        let prepare = format!(
            "SET plan_cache_mode = force_generic_plan; PREPARE batch ({types}, text, int4) AS {}",
            QUERIES.create_batch.text()
        );
        sqlx::raw_sql(AssertSqlSafe(prepare))
            .execute(&mut *conn)
            .await
            .unwrap();
        let plan: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "EXPLAIN EXECUTE batch ({nulls}, 'IMS', 7)"
        )))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let plan = plan.join("\n");
        assert!(!plan.contains("Seq Scan on interaction "), "{plan}");
        assert!(
            plan.contains("Index Only Scan using interaction_pkey on interaction"),
            "{plan}"
        );
        // The connection goes back to the pool with the default again.
        sqlx::raw_sql("DEALLOCATE batch; RESET plan_cache_mode")
            .execute(&mut *conn)
            .await
            .unwrap();
    }

    /// Through the batcher: with the pool's only connection held, the first create waits for it and the
    /// others queue behind; once it is back they are written together, in one transaction.
    #[tokio::test]
    async fn creates_queued_behind_a_busy_lane_share_one_transaction() {
        let Some(schema) = TestSchema::new("creates_queued_behind_a_busy_lane").await else {
            return;
        };
        let options = crate::PostgresOptions {
            max_connections: 1,
            ..test_options()
        };
        let store = Arc::new(schema.connect(options).await);
        let held = store.pool.acquire().await.unwrap();
        let creates: Vec<_> = (0..10)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.create_interaction(new_interaction(1)).await })
            })
            .collect();
        // One thread: yielding lets every create run up to its wait, and the dispatcher take the first.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(held);
        let mut numbers = Vec::new();
        for create in creates {
            numbers.push(create.await.unwrap().unwrap());
        }
        numbers.sort();
        assert_eq!(
            numbers,
            (1001..1011).map(number::format_number).collect::<Vec<_>>()
        );
        let transactions: i64 =
            sqlx::query_scalar("SELECT count(DISTINCT xmin::text) FROM interaction")
                .fetch_one(&store.pool)
                .await
                .unwrap();
        assert!(
            transactions <= 2,
            "{transactions} transactions for 10 creates"
        );
    }

    /// `close` while creates are queued and being written: each is either written and answered with its
    /// number, or answered `Unavailable` and not written, and once `close` has returned none of the
    /// store's connections is left.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn close_waits_for_the_batch_being_written_and_refuses_the_rest() {
        let Some(schema) = TestSchema::new("close_waits_for_the_batch_being_written").await else {
            return;
        };
        let store = Arc::new(schema.connect(test_options()).await);
        let creates: Vec<_> = (0..200)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.create_interaction(new_interaction(1)).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(5)).await;
        store.close().await;
        let mut written = 0;
        for create in creates {
            match create.await.unwrap() {
                Ok(_) => written += 1,
                Err(Error::Unavailable { source }) => {
                    assert!(source.to_string().contains("closed pool"), "{source}");
                }
                Err(other) => panic!("expected Unavailable, got {other:?}"),
            }
        }
        let mut admin = sqlx::PgConnection::connect(&schema.store_url())
            .await
            .unwrap();
        let rows: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{}\".interaction",
            schema.name
        )))
        .fetch_one(&mut admin)
        .await
        .unwrap();
        assert_eq!(rows, written, "answered Ok exactly when written");
        let mut left = -1_i64;
        for _ in 0..100 {
            left = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 \
                 AND pid <> pg_backend_pid()",
            )
            .bind(&schema.name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(left, 0, "a connection of the closed store is still there");
    }
}
