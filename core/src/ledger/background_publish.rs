//! Publishing after each commit, in the background ([`Ledger::publish_in_background`]).
//!
//! A commit only sets a flag and wakes the publisher's thread (a mutex held for a few
//! instructions, never across I/O), so no append waits on the network. The thread publishes
//! whatever is committed when it wakes (commits that arrive meanwhile share the next
//! publish), also every `poll` interval, which picks up commits of other processes. A failed
//! publish is retried with a doubling back-off (capped) and reported in
//! [`PublishStatus`]; appends go on all the while, and since the ledger keeps what was
//! published where, the retry writes everything still missing.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Ledger;
use crate::error::Result;
use crate::note::Signer;
use crate::publish::{Destination, PublishCheckpoint};

/// The longest wait between two retries of a failing publish.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How the background publishing is doing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublishStatus {
    /// Tree size of the checkpoint last published by this publisher (0: none yet).
    pub published_size: u64,
    /// Publishes that succeeded.
    pub publishes: u64,
    /// Failures since the last success (0 when the last attempt succeeded).
    pub failures: u64,
    /// The last failure's message, until a publish succeeds.
    pub last_error: Option<String>,
}

#[derive(Default)]
struct Inner {
    dirty: bool,
    stop: bool,
    status: PublishStatus,
}

#[derive(Default)]
struct Shared {
    inner: Mutex<Inner>,
    wake: Condvar,
    /// Signalled after each attempt, for [`Publisher::wait_published`].
    done: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The hook a ledger calls after each commit of its own.
pub(super) type CommitHook = Arc<dyn Fn() + Send + Sync>;

/// A running background publisher; see [`Ledger::publish_in_background`]. Dropping it (or
/// [`Publisher::stop`]) stops it after the publish in progress, if any, without waiting.
pub struct Publisher {
    shared: Arc<Shared>,
    ledger: Weak<Ledger>,
    thread: Option<JoinHandle<()>>,
}

impl Publisher {
    /// The current status.
    pub fn status(&self) -> PublishStatus {
        self.shared.lock().status.clone()
    }

    /// Waits until a checkpoint of at least `size` is published, or `timeout` passes;
    /// returns the status then.
    pub fn wait_published(&self, size: u64, timeout: Duration) -> PublishStatus {
        let end = Instant::now() + timeout;
        let mut inner = self.shared.lock();
        while inner.status.published_size < size {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            inner = self
                .shared
                .done
                .wait_timeout(inner, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        inner.status.clone()
    }

    /// Stops publishing: no attempt starts after this returns.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(l) = self.ledger.upgrade() {
            *l.commit_hook.write().unwrap_or_else(|p| p.into_inner()) = None;
        }
        // Not joined: an attempt stuck on the network must not hold up the caller.
        self.thread.take();
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.halt();
    }
}

impl Ledger {
    /// Publish to `dest` after every commit of this handle (and every `poll` interval, for
    /// commits of other processes), in a thread of its own, signing each checkpoint with
    /// `signer`. Appends never wait for it; failures are retried and reported in
    /// [`Publisher::status`]. One publisher per handle: a second replaces the first's hook.
    pub fn publish_in_background(
        self: &Arc<Self>,
        dest: Box<dyn Destination>,
        signer: Signer,
        poll: Duration,
    ) -> Result<Publisher> {
        self.check_signer(&signer)?;
        self.writable()?;
        let shared = Arc::new(Shared::default());
        shared.lock().dirty = true;
        let hook_shared = shared.clone();
        let hook: CommitHook = Arc::new(move || {
            hook_shared.lock().dirty = true;
            hook_shared.wake.notify_one();
        });
        *self.commit_hook.write().unwrap_or_else(|p| p.into_inner()) = Some(hook);
        let weak = Arc::downgrade(self);
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("trailseal-publish".into())
            .spawn(move || run(weak, thread_shared, dest, signer, poll))?;
        Ok(Publisher {
            shared,
            ledger: Arc::downgrade(self),
            thread: Some(thread),
        })
    }

    /// Tell the background publisher, if any, that a commit happened.
    pub(super) fn committed(&self) {
        let hook = self
            .commit_hook
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(h) = hook {
            h();
        }
    }
}

fn run(
    ledger: Weak<Ledger>,
    shared: Arc<Shared>,
    dest: Box<dyn Destination>,
    signer: Signer,
    poll: Duration,
) {
    let mut backoff = Duration::from_secs(1);
    let mut wait = poll;
    loop {
        {
            let mut inner = shared.lock();
            let end = Instant::now() + wait;
            while !inner.dirty && !inner.stop {
                let left = end.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    inner.dirty = true;
                    break;
                }
                inner = shared
                    .wake
                    .wait_timeout(inner, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            if inner.stop {
                return;
            }
            inner.dirty = false;
        }
        let Some(l) = ledger.upgrade() else {
            return;
        };
        let published = shared.lock().status.published_size;
        let failing = shared.lock().status.failures > 0;
        // Nothing new since the last publish: no checkpoint to sign, nothing to write.
        let outcome = match l.size() {
            Ok(size) if size == published && published > 0 && !failing => None,
            Ok(_) => Some(l.publish(dest.as_ref(), PublishCheckpoint::Sign(&signer))),
            Err(e) => Some(Err(e)),
        };
        drop(l);
        let mut inner = shared.lock();
        match outcome {
            None => wait = poll,
            Some(Ok(report)) => {
                inner.status.published_size = report.size;
                inner.status.publishes += 1;
                inner.status.failures = 0;
                inner.status.last_error = None;
                backoff = Duration::from_secs(1);
                wait = poll;
            }
            Some(Err(e)) => {
                inner.status.failures += 1;
                inner.status.last_error = Some(e.to_string());
                // Retry after the back-off even if no commit comes.
                wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        drop(inner);
        shared.done.notify_all();
    }
}
