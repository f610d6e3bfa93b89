//! [`Sharing::Auto`]: hold the file alone until someone asks to share it.
//!
//! A handle in the default mode opens the file as redb's exclusive writer, whose commit is one
//! fsync, but only while it also holds a local socket named after the file (an abstract Unix
//! socket on Linux: `trailseal-share/<device>/<inode>`), bound *before* the exclusive open. A
//! handle of any mode but exclusive that finds the file held therefore always finds someone to
//! ask: it connects and asks; the holder closes its exclusive handle and reopens the file as a
//! multi-writer (waiting for no commit of its own to be in flight and no snapshot to be open),
//! answers, and shares the file from then on (its commits are now two-phase, and it joins the
//! relay). The asking handle opens as soon as it hears back. The holder keeps the name while
//! it is open, so no third handle can take the file alone meanwhile: one that cannot bind the
//! name opens shared at once.
//!
//! Anyone who can reach the socket may ask: asking only moves the holder to a mode every
//! reader is entitled to, it reveals and changes nothing in the file. Other platforms open
//! `Auto` handles as multi-writers directly.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::error::Result;
use crate::storage::{Meta, Sharing, Store};

use super::WriterState;

/// The store a handle reads and writes through, swapped when the handle starts sharing.
pub(super) type StoreSlot = RwLock<Option<Arc<Store>>>;

/// How long a handle that found the file held keeps asking and retrying before it reports
/// [`crate::Error::Locked`] (or its own `wait`, if longer).
pub(super) const ASKING: Duration = Duration::from_secs(10);

/// What a handle needs to give up its exclusive hold from the listener's thread.
pub(super) struct Holder {
    pub path: std::path::PathBuf,
    pub store: Arc<StoreSlot>,
    pub writer: Arc<Mutex<WriterState>>,
    pub shared_now: Arc<AtomicBool>,
}

#[cfg(target_os = "linux")]
pub(super) use self::linux::{ask, Listener};

#[cfg(not(target_os = "linux"))]
pub(super) struct Listener;

#[cfg(not(target_os = "linux"))]
impl Listener {
    pub(super) fn bind(_: &std::path::Path) -> Option<Listener> {
        None
    }
    pub(super) fn serve(self, _: Holder) -> Listener {
        self
    }
}

#[cfg(not(target_os = "linux"))]
pub(super) fn ask(_: &std::path::Path) -> bool {
    false
}

/// Open an existing file in the way `sharing` asks, for [`Sharing::Auto`] holding it alone
/// when no one else has it. Returns the store, its meta, the listener of an exclusive hold,
/// and the mode the file is open in.
pub(super) fn open(
    path: &std::path::Path,
    wait: Option<Duration>,
    sharing: Sharing,
    read_only: bool,
) -> Result<(Store, Meta, Option<Listener>, Sharing)> {
    if sharing == Sharing::Auto && !read_only {
        if let Some(listener) = Listener::bind(path) {
            match Store::open(path, None, Sharing::Exclusive, false) {
                Ok((store, meta)) => return Ok((store, meta, Some(listener), Sharing::Exclusive)),
                // Someone holds it in a shared mode (or alone without asking): join them.
                Err(crate::Error::Locked(_)) => drop(listener),
                Err(e) => return Err(e),
            }
        }
    }
    let mode = concrete(sharing);
    if mode != Sharing::MultiWriter {
        // Asking could not help: a holder that shares the file shares it as a multi-writer.
        let (store, meta) = Store::open(path, wait, mode, read_only)?;
        return Ok((store, meta, None, mode));
    }
    let (store, meta) = open_asking(path, wait, || Store::open(path, None, mode, read_only))?;
    Ok((store, meta, None, mode))
}

/// The redb mode an `Auto` handle that does not hold the file alone opens with.
fn concrete(sharing: Sharing) -> Sharing {
    match sharing {
        Sharing::Auto => Sharing::MultiWriter,
        s => s,
    }
}

/// Try `open`; while the file is held, ask its holder to share it and try again, for up to
/// [`ASKING`] or `wait`, whichever is longer (an exclusive holder that cannot be asked is
/// waited for only as long as `wait` says, as before).
fn open_asking<T>(
    path: &std::path::Path,
    wait: Option<Duration>,
    mut open: impl FnMut() -> Result<T>,
) -> Result<T> {
    let start = std::time::Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        match open() {
            Err(crate::Error::Locked(p)) => {
                let asked = ask(path);
                let limit = if asked {
                    ASKING.max(wait.unwrap_or_default())
                } else {
                    wait.unwrap_or_default()
                };
                if start.elapsed() >= limit {
                    return Err(crate::Error::Locked(p));
                }
                if !asked {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
            }
            other => return other,
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::{Holder, Sharing, Store};

    /// How long an asking handle waits for the holder's answer: the holder waits for its
    /// in-flight commit and open snapshots first.
    const ANSWER: Duration = Duration::from_secs(15);
    /// How long the holder waits for this process's open snapshots of the file to end.
    const SNAPSHOTS: Duration = Duration::from_secs(5);

    fn name(path: &Path) -> Option<SocketAddr> {
        let m = std::fs::metadata(path).ok()?;
        let name = format!("trailseal-share/{:x}/{:x}", m.dev(), m.ino());
        SocketAddr::from_abstract_name(name.as_bytes()).ok()
    }

    /// Ask the holder of `path` to share it; true once it answers that it does (or did).
    pub(in crate::ledger) fn ask(path: &Path) -> bool {
        let Some(addr) = name(path) else {
            return false;
        };
        let Ok(mut s) = UnixStream::connect_addr(&addr) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(ANSWER));
        let mut answer = [0u8; 1];
        s.write_all(b"S").is_ok() && s.read_exact(&mut answer).is_ok() && answer[0] == b'1'
    }

    /// The bound name of a handle that may hold the file alone, and once it does, the thread
    /// answering those who ask.
    pub(in crate::ledger) struct Listener {
        listener: Arc<UnixListener>,
        stop: Arc<AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Listener {
        /// Bind the name of `path`'s holder, or `None` if another handle has it.
        pub(in crate::ledger) fn bind(path: &Path) -> Option<Listener> {
            let listener = UnixListener::bind_addr(&name(path)?).ok()?;
            Some(Listener {
                listener: Arc::new(listener),
                stop: Arc::new(AtomicBool::new(false)),
                thread: None,
            })
        }

        /// Start answering, for the handle `holder` describes.
        pub(in crate::ledger) fn serve(mut self, holder: Holder) -> Listener {
            let (listener, stop) = (self.listener.clone(), self.stop.clone());
            self.thread = std::thread::Builder::new()
                .name("trailseal-share".into())
                .spawn(move || answer_all(&listener, &stop, &holder))
                .ok();
            self
        }
    }

    impl Drop for Listener {
        /// Stops answering and unbinds the name before the handle's close returns.
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Release);
            // SAFETY: the listener is open for as long as `self.listener` holds it.
            unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn answer_all(listener: &UnixListener, stop: &AtomicBool, holder: &Holder) {
        while !stop.load(Ordering::Acquire) {
            let Ok((mut s, _)) = listener.accept() else {
                continue;
            };
            if stop.load(Ordering::Acquire) {
                break;
            }
            let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
            let mut ask = [0u8; 1];
            if s.read_exact(&mut ask).is_err() || ask[0] != b'S' {
                continue;
            }
            // A panic while reopening must not take the process down; the asker then hears
            // no, and the handle reports its store's state on its next call.
            let shared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| share(holder)))
                .unwrap_or(false);
            let _ = s.write_all(if shared { b"1" } else { b"0" });
        }
    }

    /// Close the exclusive handle and reopen the file shared. Holds the handle's writer lock
    /// (no commit in flight, none starts) and waits until no snapshot of this process holds
    /// the exclusive store, since redb releases the file only when the last one is dropped.
    fn share(h: &Holder) -> bool {
        if h.shared_now.load(Ordering::Acquire) {
            return true;
        }
        let _writer = h.writer.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = std::time::Instant::now() + SNAPSHOTS;
        loop {
            let mut slot = h.store.write().unwrap_or_else(|p| p.into_inner());
            let alone = slot.as_ref().is_some_and(|s| Arc::strong_count(s) == 1);
            if alone {
                slot.take();
                let reopened = Store::open(
                    &h.path,
                    Some(Duration::from_secs(5)),
                    Sharing::MultiWriter,
                    false,
                );
                return match reopened {
                    Ok((store, _)) => {
                        *slot = Some(Arc::new(store));
                        h.shared_now.store(true, Ordering::Release);
                        true
                    }
                    Err(_) => {
                        // Take back what this handle had; if even that fails, its next call
                        // reports the store as lost (see `Ledger::store`).
                        if let Ok((store, _)) = Store::open(
                            &h.path,
                            Some(Duration::from_secs(5)),
                            Sharing::Exclusive,
                            false,
                        ) {
                            *slot = Some(Arc::new(store));
                        }
                        false
                    }
                };
            }
            drop(slot);
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
