//! The relay's serving side: a socket named after the ledger file, an accepting thread, and
//! a thread per connected handle that feeds its requests into this process's group commit.

use std::io::{BufReader, BufWriter};
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::ledger::{Durability, Ledger, OpenOptions};
use crate::Sharing;

use super::wire;

/// How often the accepting thread looks whether its handle is gone.
const STOP_POLL: Duration = Duration::from_millis(100);
/// Connections served at once; more are told to commit directly.
const MAX_CONNECTIONS: usize = 256;

/// The socket name of the relay for the ledger at `path` and this process's user: the file's
/// device and inode (the same file however it is named) and the effective uid (each user's
/// processes relay among themselves). `None` if the file cannot be looked at.
pub(super) fn name(path: &Path) -> Option<SocketAddr> {
    let m = std::fs::metadata(path).ok()?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let name = format!("trailseal-relay/{uid}/{:x}/{:x}", m.dev(), m.ino());
    SocketAddr::from_abstract_name(name.as_bytes()).ok()
}

/// This process serving as the relay of a ledger: the relay's own handle, and the accepting
/// thread, which stops (unbinding the name) once the handle that started it is dropped.
pub(super) struct Server {
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
    listener: Arc<UnixListener>,
    acceptor: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Bind `name` and serve, through a handle of the relay's own on `ledger`'s file (the
    /// accepting thread needs one it can share; `ledger` belongs to its caller). `None` if the
    /// name is taken (another process serves) or the handle cannot be opened.
    pub(super) fn start(name: &SocketAddr, ledger: &Ledger) -> Option<Server> {
        let listener = Arc::new(UnixListener::bind_addr(name).ok()?);
        let opts = OpenOptions {
            wait: Some(Duration::from_secs(10)),
            durability: Durability::Immediate,
            sharing: Some(Sharing::MultiWriter),
            read_only: false,
        };
        let own = Ledger::open_relay(ledger.path(), &opts).ok()?;
        let own = Arc::new(own);
        let stop = Arc::new(AtomicBool::new(false));
        let (weak, flag, l) = (Arc::downgrade(&own), stop.clone(), listener.clone());
        let acceptor = std::thread::Builder::new()
            .name("trailseal-relay".into())
            .spawn(move || accept(&l, weak, flag))
            .ok()?;
        Some(Server {
            ledger: own,
            stop,
            listener,
            acceptor: Some(acceptor),
        })
    }

    /// The relay's handle, which this process's own appends go through too.
    pub(super) fn ledger(&self) -> Arc<Ledger> {
        self.ledger.clone()
    }
}

impl Drop for Server {
    /// Unbinds the name before the handle's close returns, so that a handle opened next on
    /// the file (or on a new file given the same inode) finds no relay that would refuse it.
    /// Conversations still open refuse their next request unserved.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wakes the accepting thread's poll at once.
        // SAFETY: the listener is open for as long as `self.listener` holds it.
        unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

/// Accept connections until told to stop; each gets a thread of its own.
fn accept(listener: &UnixListener, ledger: Weak<Ledger>, stop: Arc<AtomicBool>) {
    let live = Arc::new(());
    while !stop.load(Ordering::Acquire) {
        let mut pfd = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut pfd, 1, STOP_POLL.as_millis() as libc::c_int) };
        if ready <= 0 || stop.load(Ordering::Acquire) {
            continue;
        }
        let Ok((stream, _)) = listener.accept() else {
            continue;
        };
        let (ledger, token) = (ledger.clone(), live.clone());
        let busy = Arc::strong_count(&live) > MAX_CONNECTIONS;
        let spawned = std::thread::Builder::new()
            .name("trailseal-relay-conn".into())
            .spawn(move || {
                // A panic ends this conversation only; the client then finds out from the
                // file what became of its request.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    converse(stream, &ledger, busy)
                }));
                drop(token);
            });
        drop(spawned);
    }
}

#[cfg(feature = "testing")]
use std::sync::atomic::AtomicU8;

#[cfg(feature = "testing")]
const ALIVE: u8 = 0;
#[cfg(feature = "testing")]
const DIE_BEFORE_COMMIT: u8 = 1;
#[cfg(feature = "testing")]
const DIE_BEFORE_ANSWER: u8 = 2;
/// Tests only: how the next request's conversation ends, as if the relay process died.
#[cfg(feature = "testing")]
static DIE: AtomicU8 = AtomicU8::new(ALIVE);

/// Tests only: the next request a relay of this process takes is dropped unprocessed and
/// unanswered (`before_commit`), or processed and committed but not answered, as when the
/// relay process dies at that point.
#[cfg(feature = "testing")]
pub fn die_on_next_request(before_commit: bool) {
    DIE.store(
        if before_commit {
            DIE_BEFORE_COMMIT
        } else {
            DIE_BEFORE_ANSWER
        },
        Ordering::Release,
    );
}

/// Whether the peer on `stream` runs as this process's effective user. Checked by both
/// sides: the relay serves only such peers, and a client trusts receipts only from such a
/// relay (another user could bind the name first; then this user's handles commit directly).
pub(super) fn same_user(stream: &UnixStream) -> bool {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    // SAFETY: as in `name`.
    rc == 0 && cred.uid == unsafe { libc::geteuid() }
}

/// Serve one connected handle: its requests in turn, until it hangs up.
fn converse(stream: UnixStream, ledger: &Weak<Ledger>, busy: bool) -> std::io::Result<()> {
    let mut r = BufReader::new(stream.try_clone()?);
    let mut w = BufWriter::new(stream.try_clone()?);
    let client = wire::read_hello(&mut r)?;
    let serving = !busy && same_user(&stream);
    let mut welcome = wire::MAGIC.to_vec();
    wire::put_u8(
        &mut welcome,
        if serving {
            wire::SERVING
        } else {
            wire::REFUSED
        },
    );
    wire::send(&mut w, &welcome)?;
    if !serving {
        return Ok(());
    }
    loop {
        let (seq, works) = wire::read_request(&mut r)?;
        // Once the handle that started the relay is gone, requests are refused unserved,
        // and the client commits them itself.
        let Some(ledger) = ledger.upgrade() else {
            return wire::send(&mut w, &[wire::NOT_SERVED]);
        };
        #[cfg(feature = "testing")]
        let dies = DIE.swap(ALIVE, Ordering::AcqRel);
        #[cfg(feature = "testing")]
        if dies == DIE_BEFORE_COMMIT {
            return Ok(());
        }
        let outcomes = ledger.submit_relayed(client, seq, works);
        drop(ledger);
        #[cfg(feature = "testing")]
        if dies == DIE_BEFORE_ANSWER {
            return Ok(());
        }
        wire::send(&mut w, &wire::answer(&outcomes))?;
    }
}
