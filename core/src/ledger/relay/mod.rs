//! Cross-process group commit: the relay.
//!
//! Processes sharing a ledger in [`Sharing::MultiWriter`](crate::Sharing::MultiWriter) mode
//! each commit through redb's file lock, one write transaction at a time, so durable appends
//! from several processes cannot share an fsync the way threads of one process do (see
//! `group_commit`). The relay gives them one: the first handle of a user that appends to a
//! ledger binds a local socket named after the file (an abstract Unix socket on Linux, so
//! nothing is left on disk and the name goes with the process) and serves as the file's
//! *relay*; every other handle of that user connects to it, and its appends (already grouped
//! with its own process's concurrent appends) join the relay's group commit. Each request is
//! still all-or-nothing on its own, and each caller returns only once the commit holding its
//! entries is durable.
//!
//! Nothing depends on the relay being there: a handle that finds none, or loses it, commits
//! directly through the file lock, and the next to append may become the relay. If the relay
//! process dies after taking a request and before answering, the client cannot know from the
//! socket whether it was committed; so the relay records, in the same commit, the handle's id
//! and request number with the leaf indices it stored (`storage::relayed`), and the client
//! takes the write lock (which the dead process no longer holds: its transaction is either
//! committed or gone) and reads that record: its receipts, or proof that nothing was stored
//! and the request can run directly. No acknowledged entry is lost and none is stored twice.
//!
//! Only a peer running as the same user is served (checked with `SO_PEERCRED`): such a peer
//! can write the file anyway, and the relay validates everything it is sent as its own
//! appends are. Other platforms commit directly.

#[cfg(target_os = "linux")]
mod client;
#[cfg(target_os = "linux")]
mod commit;
#[cfg(target_os = "linux")]
mod server;
#[cfg(target_os = "linux")]
mod wire;

#[cfg(target_os = "linux")]
pub(super) use self::commit::Relayed;
#[cfg(all(target_os = "linux", feature = "testing"))]
pub use self::server::die_on_next_request;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use super::Ledger;

/// A relayed request's place in a group: whose, which request, which of its works.
#[derive(Clone, Copy, Debug)]
pub(super) struct Tag {
    pub client: [u8; 16],
    pub seq: u64,
    pub work: u32,
}

/// A handle's part in the cross-process group commit ([`Ledger::relay_role`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayRole {
    /// The handle never relays: it is exclusive, single-writer, read-only, not durable, on a
    /// caller's backend, or on a platform without the relay (all but Linux).
    Off,
    /// It has not appended yet, or lost its relay: its next append looks for one.
    Undecided,
    /// This process serves as the ledger's relay; this handle's appends share its groups.
    Serving,
    /// Its appends go to the relay in another process (or another handle of this one).
    Client,
}

/// The role the handle has found for itself, mirrored outside the lock for the hot path.
const UNDECIDED: u8 = 0;
const SERVER: u8 = 1;
const CLIENT: u8 = 2;

/// A handle's part in its ledger's relay.
pub(super) struct Relay {
    /// Whether this handle takes part at all: a durable, writable, multi-writer handle on a
    /// file (and not itself the relay's own handle).
    enabled: bool,
    /// This handle's id, under which its relayed requests are recorded.
    id: [u8; 16],
    role: AtomicU8,
    state: Mutex<RelayState>,
}

enum RelayState {
    Undecided,
    #[cfg(target_os = "linux")]
    Server(Box<server::Server>),
    #[cfg(target_os = "linux")]
    Client(Box<client::Client>),
}

impl Relay {
    /// A handle's relay part; `enabled` as [`Relay::enabled`] says.
    pub(super) fn new(enabled: bool) -> Relay {
        let mut id = [0u8; 16];
        // Without randomness the handle does not relay: its id must not collide with another.
        let enabled = enabled && cfg!(target_os = "linux") && getrandom::fill(&mut id).is_ok();
        Relay {
            enabled,
            id,
            role: AtomicU8::new(UNDECIDED),
            state: Mutex::new(RelayState::Undecided),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, RelayState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, state: &mut RelayState, new: RelayState) {
        self.role.store(
            match new {
                RelayState::Undecided => UNDECIDED,
                #[cfg(target_os = "linux")]
                RelayState::Server(_) => SERVER,
                #[cfg(target_os = "linux")]
                RelayState::Client(_) => CLIENT,
            },
            Ordering::Release,
        );
        *state = new;
    }

    /// What part this handle has in the relay at the moment.
    pub(super) fn role(&self) -> RelayRole {
        match self.role.load(Ordering::Acquire) {
            SERVER => RelayRole::Serving,
            CLIENT => RelayRole::Client,
            _ if self.enabled => RelayRole::Undecided,
            _ => RelayRole::Off,
        }
    }

    /// True if this handle's appends go to another process's relay: its queued requests
    /// then stay plain entries, which can travel, rather than being prepared.
    pub(super) fn is_client(&self) -> bool {
        self.role.load(Ordering::Acquire) == CLIENT
    }

    /// Called as an append starts: finds or becomes the relay if the handle has no role yet,
    /// and returns the relay's handle if this one serves, which the append then goes through
    /// so that it shares groups with the relayed ones.
    pub(super) fn route(&self, ledger: &Ledger) -> Option<Arc<Ledger>> {
        // An `Auto` handle relays only once it shares the file (see `auto_share`).
        if !self.enabled || ledger.sharing_now() != crate::Sharing::MultiWriter {
            return None;
        }
        match self.role.load(Ordering::Acquire) {
            CLIENT => return None,
            SERVER => {}
            _ => self.decide(ledger),
        }
        #[cfg(target_os = "linux")]
        if let RelayState::Server(s) = &*self.state() {
            return Some(s.ledger());
        }
        None
    }

    #[cfg(not(target_os = "linux"))]
    fn decide(&self, _: &Ledger) {}

    /// Connect to the file's relay, or become it, or (if another handle won the race to
    /// bind) stay undecided and commit directly this time.
    #[cfg(target_os = "linux")]
    fn decide(&self, ledger: &Ledger) {
        let mut state = self.state();
        if !matches!(*state, RelayState::Undecided) {
            return;
        }
        let Some(name) = server::name(ledger.path()) else {
            return;
        };
        if let Some(c) = client::Client::connect(&name, self.id) {
            self.set(&mut state, RelayState::Client(Box::new(c)));
        } else if let Some(s) = server::Server::start(&name, ledger) {
            self.set(&mut state, RelayState::Server(Box::new(s)));
        }
    }
}
