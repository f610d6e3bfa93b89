//! Group commit: appends that arrive while another is committing share the next commit.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::entry::Timestamp;
use crate::error::{join_scoped, noted, Error, Result};
use crate::merkle::Frontier;
use crate::query;
use crate::storage::{State, Writer};

use super::append::{receipt_roots, Group, Work, PARALLEL_ROOTS_MIN};
#[cfg(target_os = "linux")]
use super::relay::Relayed;
use super::relay::Tag;
use super::{Ledger, LedgerKind, Receipt, WriterState};
use crate::storage::RelayedRecord;

/// Where a waiting caller finds the outcome of its queued request, or is told to lead the
/// next group. Each caller sleeps on its own slot, so the end of a group wakes exactly the
/// callers it answered (and one to lead), not every waiter at once.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    ready: Condvar,
}

#[derive(Default)]
struct SlotState {
    outcome: Option<Result<Vec<Receipt>>>,
    answered: bool,
    lead: bool,
}

/// What a queued caller wakes up to.
enum Woken {
    Done(Result<Vec<Receipt>>),
    Lead,
}

impl Slot {
    fn state(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Give the caller its outcome (only the first answer counts).
    fn answer(&self, outcome: Result<Vec<Receipt>>) {
        let mut s = self.state();
        if !s.answered {
            s.answered = true;
            s.outcome = Some(outcome);
            self.ready.notify_one();
        }
    }

    /// Make the caller lead the next group.
    fn hand_lead(&self) {
        self.state().lead = true;
        self.ready.notify_one();
    }

    fn wait(&self) -> Woken {
        let mut s = self.state();
        loop {
            if let Some(outcome) = s.outcome.take() {
                return Woken::Done(outcome);
            }
            if std::mem::take(&mut s.lead) {
                return Woken::Lead;
            }
            s = self.ready.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn take(&self) -> Option<Result<Vec<Receipt>>> {
        self.state().outcome.take()
    }
}

/// A request waiting in the queue for a leader to take it into a group.
pub(super) struct Queued {
    pub(super) work: Work<'static>,
    slot: Arc<Slot>,
    /// Set for a request relayed from another process (see `relay`).
    tag: Option<Tag>,
}

/// A queued request processed in a group: whom to answer, its relay tag, its outcome.
type Processed = (Arc<Slot>, Option<Tag>, Result<Vec<Receipt>>);

/// The same failure again, for each caller that shared a failed commit.
fn duplicate(e: &Error) -> Error {
    match e {
        Error::Io(io) => Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        Error::Storage(m) => Error::Storage(m.clone()),
        other => Error::Storage(other.to_string()),
    }
}

/// Appends waiting for the next group commit, and whether one is running.
#[derive(Default)]
pub(super) struct Pending {
    queue: Vec<Queued>,
    committing: bool,
    /// A new leader is waiting for the callers it expects (see [`Gather`]).
    gathering: bool,
    /// How many callers were appending when the last group ended: those it answered, who
    /// usually append again at once, and those already queued for the next one.
    active: usize,
    /// How long the last group's commit took.
    last_commit: Duration,
}

/// The longest a new leader waits for the callers it expects, whatever the last commit took.
const MAX_GATHER: Duration = Duration::from_millis(2);

/// How a new leader gathers its group: it waits briefly for the callers that were appending
/// when the last group ended (as PostgreSQL's `commit_delay` does when other transactions
/// are active), processing each request as it arrives.
///
/// Without the wait, concurrent callers split into two halves that take turns: the callers
/// a commit answers come back while the next group (the callers that queued during that
/// commit) is already committing, so each fsync carries half of them. The wait lasts at most
/// half the last commit's duration (capped at [`MAX_GATHER`]) and ends as soon as the
/// expected callers are in, so a lone appender never waits and callers that stop appending
/// cost one short wait before the estimate follows.
struct Gather {
    /// Requests expected in the group, the leader's own included.
    expected: usize,
    deadline: Instant,
}

impl Gather {
    fn plan(pending: &Pending) -> Gather {
        Gather {
            expected: pending.active,
            deadline: Instant::now() + (pending.last_commit / 2).min(MAX_GATHER),
        }
    }
}

/// Ends a leader's turn even if it unwinds: followers must never wait for a leader that is
/// gone, and a request taken into a group always gets an answer.
pub(super) struct LeaderTurn<'a> {
    ledger: &'a Ledger,
    slots: Vec<Arc<Slot>>,
    /// The queued callers' outcomes, given once the turn has ended: a caller answered
    /// earlier would find the group still committing and queue behind it.
    answers: Vec<(Arc<Slot>, Result<Vec<Receipt>>)>,
    /// Requests in this group, the leader's own included.
    requests: usize,
    started: Instant,
}

impl LeaderTurn<'_> {
    /// Give a queued request its outcome once the turn ends.
    pub(super) fn answer(&mut self, q: Queued, outcome: Result<Vec<Receipt>>) {
        self.answers.push((q.slot, outcome));
    }
}

impl Drop for LeaderTurn<'_> {
    fn drop(&mut self) {
        let mut p = self
            .ledger
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        p.active = self.requests + p.queue.len();
        p.last_commit = self.started.elapsed();
        // The turn passes to the oldest queued caller (still `committing`, so nobody else
        // takes it), or ends.
        match p.queue.first() {
            Some(next) => next.slot.hand_lead(),
            None => p.committing = false,
        }
        drop(p);
        for (slot, outcome) in self.answers.drain(..) {
            slot.answer(outcome);
        }
        for slot in &self.slots {
            slot.answer(Err(Error::Internal(
                "the group commit holding this append failed".into(),
            )));
        }
    }
}

impl Ledger {
    /// Group commit: appends that arrive while another is committing share the next commit
    /// and its fsync. Each request is still all-or-nothing on its own, and each caller
    /// returns only once the commit holding its entries is durable.
    ///
    /// A caller that finds no commit running leads one, with its borrowed input and whatever
    /// is queued. A caller that finds one running queues an owned copy and sleeps on its own
    /// slot until either its request's group has committed (the slot holds the answer) or
    /// the ending leader hands it the next turn, when it leads everything queued by then.
    /// Followers never contend for the writer lock, so a finished caller returns as soon as
    /// its commit is durable.
    pub(super) fn submit(&self, work: Work<'_>) -> Result<Vec<Receipt>> {
        self.writable()?;
        if let Some(relay) = self.relay.route(self) {
            return relay.submit(work);
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if !pending.committing {
            return self.lead_now(pending, work);
        }
        drop(pending);
        // A follower: its request is made its own (prepared, where entries can be) outside
        // the lock, so the leader gathering the group never waits for that work.
        // Entries to be sealed are prepared by the leader, which seals them.
        let work = if self.relay.is_client() || !self.meta.personal.is_empty() {
            work.into_plain()
        } else {
            work.into_owned(
                self.committed_size(),
                self.rules_seen.load(Ordering::Acquire),
                self.term_ids_alg(),
            )
        };
        pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if !pending.committing {
            return self.lead_now(pending, work);
        }
        let slot: Arc<Slot> = Arc::default();
        pending.queue.push(Queued {
            work,
            slot: slot.clone(),
            tag: None,
        });
        if pending.gathering {
            self.arrived.notify_one();
        }
        drop(pending);
        match slot.wait() {
            Woken::Done(outcome) => outcome,
            Woken::Lead => {
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                let gather = Gather::plan(&pending);
                let queued = std::mem::take(&mut pending.queue);
                drop(pending);
                self.lead(None, queued, gather)?;
                slot.take().unwrap_or_else(|| {
                    Err(Error::Internal("queued append was not processed".into()))
                })
            }
        }
    }

    /// Queue several requests at once, all in the same group, and wait for their outcomes
    /// (leading the group if no one else is): how a relayed request joins this process's
    /// group commit.
    pub(super) fn submit_many(
        &self,
        works: Vec<(Work<'static>, Option<Tag>)>,
    ) -> Vec<Result<Vec<Receipt>>> {
        if let Err(e) = self.writable() {
            return works.iter().map(|_| Err(duplicate(&e))).collect();
        }
        let slots: Vec<Arc<Slot>> = works.iter().map(|_| Arc::default()).collect();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for ((work, tag), slot) in works.into_iter().zip(&slots) {
            pending.queue.push(Queued {
                work,
                slot: slot.clone(),
                tag,
            });
        }
        // Pushed under one hold of the lock, the requests are taken into one group together,
        // so only the first can be handed the next turn.
        let lead = if pending.committing {
            if pending.gathering {
                self.arrived.notify_one();
            }
            drop(pending);
            match slots.first().map(|s| s.wait()) {
                Some(Woken::Lead) => true,
                Some(Woken::Done(first)) => {
                    let mut outcomes = vec![first];
                    outcomes.extend(slots[1..].iter().map(|s| match s.wait() {
                        Woken::Done(r) => r,
                        Woken::Lead => Err(Error::Internal("relayed request split".into())),
                    }));
                    return outcomes;
                }
                None => return Vec::new(),
            }
        } else {
            pending.committing = true;
            drop(pending);
            true
        };
        if lead {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let gather = Gather::plan(&pending);
            let queued = std::mem::take(&mut pending.queue);
            drop(pending);
            // The outcomes are in the slots; the leader's own result is for no one.
            let _ = self.lead(None, queued, gather);
        }
        slots
            .iter()
            .map(|s| {
                s.take().unwrap_or_else(|| {
                    Err(Error::Internal("queued append was not processed".into()))
                })
            })
            .collect()
    }

    /// The tree size as of the last commit this handle saw.
    pub(super) fn committed_size(&self) -> u64 {
        self.committed_size.load(Ordering::Acquire)
    }

    /// Take the turn no one holds and lead a group with `work`.
    fn lead_now(
        &self,
        mut pending: MutexGuard<'_, Pending>,
        work: Work<'_>,
    ) -> Result<Vec<Receipt>> {
        pending.committing = true;
        let gather = Gather::plan(&pending);
        let queued = std::mem::take(&mut pending.queue);
        drop(pending);
        self.lead(Some(work), queued, gather)
    }

    /// More requests for the group being assembled (see [`Gather`]): whatever has been
    /// queued since the leader last looked, waiting for it while fewer than the expected
    /// callers are in and the deadline has not passed. `None` when the group is complete.
    fn gather_more(&self, gather: &Gather, have: usize) -> Option<Vec<Queued>> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if !pending.queue.is_empty() {
                return Some(std::mem::take(&mut pending.queue));
            }
            if have >= gather.expected {
                return None;
            }
            let left = gather
                .deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())?;
            pending.gathering = true;
            pending = self
                .arrived
                .wait_timeout(pending, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            pending.gathering = false;
        }
    }

    /// One leader's turn: commit `own`, `queued` and what it gathers together, answer every
    /// queued caller, then let the next group start.
    fn lead(
        &self,
        own: Option<Work<'_>>,
        queued: Vec<Queued>,
        gather: Gather,
    ) -> Result<Vec<Receipt>> {
        let mut turn = LeaderTurn {
            ledger: self,
            slots: queued.iter().map(|q| q.slot.clone()).collect(),
            answers: Vec::new(),
            requests: queued.len() + usize::from(own.is_some()),
            started: Instant::now(),
        };
        #[cfg(target_os = "linux")]
        let (own_outcome, own, queued) = if self.relay.is_client() {
            match self.relay_group(own, queued, &mut turn) {
                Relayed::Done(outcome) => return outcome,
                Relayed::Direct {
                    own_outcome,
                    own,
                    queued,
                } => (own_outcome, own, queued),
            }
        } else {
            (None, own, queued)
        };
        #[cfg(not(target_os = "linux"))]
        let own_outcome = None;
        if own.is_none() && queued.is_empty() {
            return own_outcome.unwrap_or_else(|| Ok(Vec::new()));
        }
        let mut guard = self.lock()?;
        self.recover(&mut guard)?;
        let direct = self.run_group(&mut guard, own, queued, &gather, &mut turn);
        match own_outcome {
            // Stored by a relay that died before answering: the queued callers' outcomes
            // are theirs, in the turn.
            Some(outcome) => outcome,
            None => direct,
        }
    }

    /// Process `own` (if any) and every queued request in one write transaction. Returns the
    /// result of `own`, or an empty list when there is none.
    fn run_group(
        &self,
        guard: &mut WriterState,
        own: Option<Work<'_>>,
        queued: Vec<Queued>,
        gather: &Gather,
        turn: &mut LeaderTurn<'_>,
    ) -> Result<Vec<Receipt>> {
        let mut g = self.open_group(guard)?;
        let start = guard.frontier.size();
        let mut own_result = own.map(|work| self.process(&mut g, work));
        let mut results: Vec<Processed> = Vec::new();
        // Process what is queued while the rest of the group arrives: the waiting overlaps
        // the work instead of adding to it.
        let mut batch = queued;
        loop {
            for q in batch.drain(..) {
                let r = self.process(&mut g, q.work);
                results.push((q.slot, q.tag, r));
            }
            let have = results.len() + usize::from(own_result.is_some());
            match self.gather_more(gather, have) {
                Some(more) => {
                    turn.slots.extend(more.iter().map(|q| q.slot.clone()));
                    turn.requests += more.len();
                    batch = more;
                }
                None => break,
            }
        }
        // After every request, so that the commitment covers them all and its entry is the
        // group's last; a failure fails the group's commit.
        let indexed = self.commit_index_in_group(&mut g);
        // The leaf hash of every new leaf, by index, from the receipts that carry them.
        let mut leaf_hashes = vec![[0u8; 32]; (g.frontier.size() - start) as usize];
        let receipts = || {
            own_result
                .iter()
                .chain(results.iter().map(|(_, _, r)| r))
                .flat_map(|r| r.iter().flatten())
                .chain(g.recorded.iter())
        };
        for r in receipts().filter(|r| r.index >= start) {
            leaf_hashes[(r.index - start) as usize] = r.leaf_hash;
        }
        if !g.w.is_empty() {
            record_relayed(&mut g.w, &results);
        }
        let alg = self.meta.hash;
        let base = guard.frontier.clone();
        let (committed, roots) = if let Err(e) = indexed {
            (Err(e), Vec::new())
        } else if g.w.is_empty() {
            (Ok(()), Vec::new())
        } else if leaf_hashes.len() < PARALLEL_ROOTS_MIN {
            let roots = receipt_roots(alg, base, &leaf_hashes);
            (
                self.commit(g.w, g.frontier, g.last_time, g.rules, g.uncommitted, guard),
                roots,
            )
        } else {
            std::thread::scope(|s| {
                let roots = s.spawn(noted(|| receipt_roots(alg, base, &leaf_hashes)));
                let committed =
                    self.commit(g.w, g.frontier, g.last_time, g.rules, g.uncommitted, guard);
                (committed, join_scoped(roots))
            })
        };
        let fill = |r: &mut Result<Vec<Receipt>>| {
            for receipt in r.iter_mut().flatten().filter(|r| r.index >= start) {
                if let Some(root) = roots.get((receipt.index - start) as usize) {
                    receipt.root = *root;
                }
            }
        };
        own_result.iter_mut().for_each(fill);
        results.iter_mut().for_each(|(_, _, r)| fill(r));
        let own_result = match (own_result, &committed) {
            (Some(r), Ok(())) => r,
            (Some(Ok(_)), Err(e)) => Err(duplicate(e)),
            (Some(Err(e)), _) => Err(e),
            (None, _) => Ok(Vec::new()),
        };
        for (slot, _, r) in results.drain(..) {
            let r = match (&committed, r) {
                (Err(e), Ok(_)) => Err(duplicate(e)),
                (_, r) => r,
            };
            turn.answers.push((slot, r));
        }
        committed.map(|_| own_result)?
    }

    /// A write transaction brought up to what is committed, as a group to fill.
    fn open_group(&self, guard: &mut WriterState) -> Result<Group> {
        let mut w = self.failed(self.store()?.writer(self.durable))?;
        self.failed(self.follow(guard, &w))?;
        if self.meta.kind == LedgerKind::Entries {
            w.index_with(query::leaf_term_hashes);
            w.index_occurred_with(query::leaf_occurred);
            if !self.meta.personal.is_empty() {
                w.personal_terms_with(super::personal::stored_personal_terms);
            }
        }
        let size = guard.frontier.size();
        let uncommitted = guard.uncommitted.take().filter(|u| u.continues_at(size));
        Ok(Group {
            w,
            uncommitted,
            frontier: guard.frontier.clone(),
            last_time: guard.last_time,
            ids: HashMap::new(),
            rules: guard.rules.clone(),
            refused: None,
            recorded: Vec::new(),
            internal: false,
        })
    }

    /// One write transaction of its own, with the writer lock held (this handle's appends
    /// queue behind it as behind a group; other processes wait on redb's write lock): `f`
    /// may change stored data through `g.w` and append entries through [`Ledger::process`],
    /// and all of it commits together, durable as any commit, or none of it does. For work
    /// that must land with an entry recording it, such as pruning.
    pub(super) fn write_alone<T>(
        &self,
        f: impl FnOnce(&Ledger, &mut Group) -> Result<T>,
    ) -> Result<T> {
        self.writable()?;
        let mut guard = self.lock()?;
        self.recover(&mut guard)?;
        let mut g = self.open_group(&mut guard)?;
        // On failure the transaction is dropped: nothing of it reaches the file.
        let out = f(self, &mut g)?;
        self.commit(
            g.w,
            g.frontier,
            g.last_time,
            g.rules,
            g.uncommitted,
            &mut guard,
        )?;
        Ok(out)
    }

    fn commit(
        &self,
        mut w: Writer,
        frontier: Frontier,
        last_time: Timestamp,
        rules: crate::rules::RulesBook,
        uncommitted: Option<super::commit_index::Uncommitted>,
        guard: &mut WriterState,
    ) -> Result<()> {
        let root = frontier.root(self.meta.hash);
        w.set_state(State {
            size: frontier.size(),
            root,
            last_time,
        });
        self.failed(w.commit())?;
        self.committed_size
            .store(frontier.size(), Ordering::Release);
        guard.frontier = frontier;
        guard.root = root;
        guard.last_time = last_time;
        self.rules_seen.store(!rules.is_empty(), Ordering::Release);
        guard.rules = rules;
        guard.uncommitted = uncommitted;
        self.committed();
        Ok(())
    }
}

/// Record in the commit what it stores of each relayed request (see `storage::relayed`), for
/// a client that loses its relay before the answer arrives.
fn record_relayed(w: &mut Writer, results: &[Processed]) {
    let mut rows: HashMap<[u8; 16], RelayedRecord> = HashMap::new();
    let at = Timestamp::now();
    for (_, tag, r) in results {
        let (Some(tag), Ok(receipts)) = (tag, r) else {
            continue;
        };
        let row = rows.entry(tag.client).or_insert_with(|| RelayedRecord {
            seq: tag.seq,
            at,
            works: Vec::new(),
        });
        row.works
            .push((tag.work, receipts.iter().map(|r| r.index).collect()));
    }
    for (client, record) in rows {
        w.put_relayed(client, record);
    }
}
