//! The writes of the group the writer thread is committing, applied to `data` as one batch just before
//! the group's flush.
//!
//! Why not one batch per write: sled 0.34 makes a batch atomic by rolling its log buffer before and after
//! the batch (`PageCache::pin_log`), and each roll writes the buffer out on sled's I/O pool, waking every one
//! of its idle threads. That costs about 65 µs of CPU per batch, however small, where the batch's own
//! inserts cost a few µs each: a create as its own batch spent more on the log rolls than on its sixteen
//! keys. One batch per group pays the rolls once for every write in it.
//!
//! Nothing is lost by it. A write is answered only after the flush that covers it (the `writer` module),
//! so a crash before that flush may drop it whether it was applied alone or with its group; sled recovers
//! the group's batch whole or not at all, so no write is ever half there. Each write still stages all its
//! keys together ([`Staged`](crate::layout::Staged)) and adds them to the group only when it succeeds: a
//! write that fails leaves nothing behind. Writes later in the group read the earlier ones through
//! [`GroupWrites`] (its [`Read`] sees the group's pending writes first), so they see the group as if each
//! write had been applied at once; readers on other threads see the whole group when it is applied.
//!
//! A write that goes around the group (a sled transaction: users, provider applications, imports) or reads
//! `data` by range first [`settles`](GroupWrites::settle) it, so it never runs ahead of writes queued before it.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use openframe_core::Result;
use sled::IVec;

use crate::error::from_sled;
use crate::layout::{Read, Trees, Writes, batch_of};

/// The counters the writer hands numbers out from. They are not stored (see `layout`): the writer keeps
/// them, and finds them again at open from the last interaction and event stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    /// The number the next created interaction gets.
    pub(crate) next_number: u64,
    /// The latest event id given (0: none yet).
    pub(crate) event_head: u64,
}

/// What the writer thread works on: the store's trees, the writes of the current group to `data` that
/// are not applied yet, and the counters. Only the writer thread has one (it is not `Sync`).
pub(crate) struct GroupWrites {
    trees: Arc<Trees>,
    /// As the group's writes so far leave them.
    counters: Cell<Counters>,
    /// As the writes applied to `data` leave them: what the counters go back to when a group is lost.
    applied: Cell<Counters>,
    pending: RefCell<Writes>,
    /// A failed [`GroupWrites::settle`] inside a write lost the writes before it: the group's flush must
    /// report it to them.
    failed: RefCell<Option<sled::Error>>,
}

impl GroupWrites {
    /// The writer's state over `trees`, whose writes leave the counters at `counters`.
    pub(crate) fn new(trees: Arc<Trees>, counters: Counters) -> Self {
        GroupWrites {
            trees,
            counters: Cell::new(counters),
            applied: Cell::new(counters),
            pending: RefCell::default(),
            failed: RefCell::default(),
        }
    }

    /// The counters as the group's writes so far leave them.
    pub(crate) fn counters(&self) -> Counters {
        self.counters.get()
    }

    /// Adds a successful write's keys to the group, with the counters as it leaves them.
    pub(crate) fn add(&self, writes: Writes, counters: Counters) {
        self.pending.borrow_mut().extend(writes);
        self.counters.set(counters);
    }

    /// A write that went around the group (after settling it) reached `data` and left the counters at
    /// `counters`.
    pub(crate) fn applied_outside(&self, counters: Counters) {
        self.counters.set(counters);
        self.applied.set(counters);
    }

    /// Applies the pending writes now, as one batch, and returns the trees, which then show every write
    /// of the group so far. The error is also kept for [`GroupWrites::finish`].
    pub(crate) fn settle(&self) -> Result<&Trees> {
        self.apply_pending().map_err(|e| {
            self.failed.borrow_mut().get_or_insert_with(|| e.clone());
            from_sled(e)
        })?;
        Ok(&self.trees)
    }

    /// Ends the group before its flush: applies what is pending, and reports whether every write of the
    /// group reached `data`.
    pub(crate) fn finish(&self) -> sled::Result<&Trees> {
        let applied = self.apply_pending();
        match self.failed.borrow_mut().take() {
            Some(earlier) => Err(earlier),
            None => applied.map(|()| &*self.trees),
        }
    }

    /// Applies the pending writes; when that fails they are lost, and so are the numbers they took.
    fn apply_pending(&self) -> sled::Result<()> {
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        if pending.is_empty() {
            return Ok(());
        }
        match self.trees.data.apply_batch(batch_of(pending)) {
            Ok(()) => {
                self.applied.set(self.counters.get());
                Ok(())
            }
            Err(e) => {
                self.counters.set(self.applied.get());
                Err(e)
            }
        }
    }
}

impl Read for GroupWrites {
    /// `data` as the group leaves it: a pending write first, else the tree.
    fn get(&self, key: &[u8]) -> Result<Option<IVec>> {
        if let Some(value) = self.pending.borrow().get(key) {
            return Ok(value.clone());
        }
        Read::get(&self.trees.data, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> GroupWrites {
        let db = sled::Config::new().temporary(true).open().unwrap();
        GroupWrites::new(Arc::new(Trees::open(db).unwrap()), Counters::default())
    }

    fn writes(pairs: &[(&str, Option<&str>)]) -> Writes {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.map(IVec::from)))
            .collect()
    }

    fn get(group: &GroupWrites, key: &str) -> Option<String> {
        Read::get(group, key.as_bytes())
            .unwrap()
            .map(|v| String::from_utf8(v.to_vec()).unwrap())
    }

    #[test]
    fn a_group_reads_its_own_writes_and_applies_them_at_the_end() {
        let group = group();
        group.trees.data.insert("a", "tree").unwrap();
        group.trees.data.insert("b", "tree").unwrap();
        let counters = |n| Counters {
            next_number: n,
            event_head: n,
        };
        group.add(writes(&[("a", Some("1")), ("c", Some("1"))]), counters(1));
        group.add(writes(&[("b", None), ("c", Some("2"))]), counters(2));
        assert_eq!(group.counters(), counters(2));
        assert_eq!(get(&group, "a").as_deref(), Some("1"));
        assert_eq!(get(&group, "b"), None);
        assert_eq!(get(&group, "c").as_deref(), Some("2"));
        // Nothing reached the tree yet.
        assert_eq!(&*group.trees.data.get("a").unwrap().unwrap(), b"tree");
        assert!(group.trees.data.get("c").unwrap().is_none());

        let trees = group.finish().unwrap();
        assert_eq!(&*trees.data.get("a").unwrap().unwrap(), b"1");
        assert!(trees.data.get("b").unwrap().is_none());
        assert_eq!(&*trees.data.get("c").unwrap().unwrap(), b"2");
        assert!(group.pending.borrow().is_empty());
    }

    #[test]
    fn settling_applies_what_is_pending_at_once() {
        let group = group();
        group.add(writes(&[("k", Some("v"))]), Counters::default());
        let trees = group.settle().unwrap();
        assert_eq!(&*trees.data.get("k").unwrap().unwrap(), b"v");
        assert!(group.pending.borrow().is_empty());
        group.finish().unwrap();
    }
}
