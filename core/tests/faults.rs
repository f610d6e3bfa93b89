//! Faults below the library: a storage backend that fails writes after N bytes (disk full),
//! and one that on a simulated power cut keeps only what was synced (optionally plus a random
//! part of what was not). After every fault the ledger opens in its last durable state,
//! `verify` passes, no acknowledged entry is lost, and appends work again.

use std::io;
use std::sync::{Arc, Mutex};

use serde_json::json;
use trailseal::storage::Backend;
use trailseal::{CreateOptions, Durability, Ledger, Receipt, VerifyOptions};

#[derive(Debug, Default)]
struct Disk {
    /// What survives a power cut.
    synced: Vec<u8>,
    /// What the process sees.
    current: Vec<u8>,
    /// Writes since the last sync: (offset, bytes), in order.
    unsynced: Vec<(u64, Vec<u8>)>,
    /// Bytes that may still be written before the disk is "full".
    budget: Option<u64>,
    /// After a power cut nothing reaches the disk any more.
    dead: bool,
}

#[derive(Debug, Clone, Default)]
struct FaultyDisk(Arc<Mutex<Disk>>);

fn full() -> io::Error {
    io::Error::new(
        io::ErrorKind::StorageFull,
        "No space left on device (injected)",
    )
}

impl FaultyDisk {
    fn from_image(image: Vec<u8>) -> Self {
        FaultyDisk(Arc::new(Mutex::new(Disk {
            synced: image.clone(),
            current: image,
            ..Disk::default()
        })))
    }

    fn disk(&self) -> std::sync::MutexGuard<'_, Disk> {
        self.0.lock().unwrap()
    }

    /// Pull the plug: the returned image holds what was synced, plus, with `keep_some`, an
    /// arbitrary prefix of the writes made since (a disk may have written some of them).
    fn power_cut(&self, keep_some: Option<u64>) -> Vec<u8> {
        let mut d = self.disk();
        d.dead = true;
        let mut image = d.synced.clone();
        if let Some(seed) = keep_some {
            let n = (seed as usize) % (d.unsynced.len() + 1);
            for (off, data) in d.unsynced.iter().take(n) {
                let end = *off as usize + data.len();
                if image.len() < end {
                    image.resize(end, 0);
                }
                image[*off as usize..end].copy_from_slice(data);
            }
        }
        image
    }
}

impl Backend for FaultyDisk {
    fn len(&self) -> Result<u64, io::Error> {
        Ok(self.disk().current.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        let d = self.disk();
        let start = offset as usize;
        let end = start + out.len();
        if end > d.current.len() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past end",
            ));
        }
        out.copy_from_slice(&d.current[start..end]);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let mut d = self.disk();
        if d.dead {
            return Err(io::Error::other("power is off"));
        }
        if len > d.current.len() as u64 {
            if let Some(b) = d.budget {
                let grow = len - d.current.len() as u64;
                if grow > b {
                    return Err(full());
                }
                d.budget = Some(b - grow);
            }
        }
        d.current.resize(len as usize, 0);
        Ok(())
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        let mut d = self.disk();
        if d.dead {
            return Err(io::Error::other("power is off"));
        }
        d.synced = d.current.clone();
        d.unsynced.clear();
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut d = self.disk();
        if d.dead {
            return Err(io::Error::other("power is off"));
        }
        if let Some(b) = d.budget {
            if data.len() as u64 > b {
                d.budget = Some(0);
                return Err(full());
            }
            d.budget = Some(b - data.len() as u64);
        }
        let end = offset as usize + data.len();
        if d.current.len() < end {
            d.current.resize(end, 0);
        }
        d.current[offset as usize..end].copy_from_slice(data);
        d.unsynced.push((offset, data.to_vec()));
        Ok(())
    }
}

fn entry(n: u64) -> serde_json::Value {
    json!({"id": format!("ev-{n}"), "actor": {"id": format!("bot-{}", n % 5)}, "action": "build.succeeded",
           "subject": {"type": "artifact", "id": format!("a{n}")}, "attrs": {"n": n.to_string()},
           "payload": {"pad": "x".repeat((n % 7 * 90) as usize)}})
}

/// Every acknowledged receipt is in the ledger, with its leaf and root.
fn check(l: &Ledger, acked: &[Receipt]) {
    let report = l
        .verify(&VerifyOptions::default())
        .expect("verify after a fault");
    for r in acked {
        assert!(r.index < report.size, "acknowledged entry {} lost", r.index);
        assert_eq!(l.leaf_hash(r.index).unwrap(), r.leaf_hash);
        assert_eq!(l.root_at(r.tree_size).unwrap(), r.root);
    }
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

#[test]
fn power_cuts_lose_nothing_acknowledged() {
    for trial in 0..24u64 {
        let mut rng = trial.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let disk = FaultyDisk::default();
        let l = Ledger::create_on(Box::new(disk.clone()), &CreateOptions::new("ex/power")).unwrap();
        let mut acked = Vec::new();
        let mut n = 0;
        let cut_after = 2 + xorshift(&mut rng) % 12;
        for _ in 0..cut_after {
            let batch: Vec<_> = (0..1 + xorshift(&mut rng) % 40)
                .map(|_| {
                    n += 1;
                    entry(n)
                })
                .collect();
            acked.extend(l.append_batch(&batch).unwrap());
        }
        // A request in flight when the power goes: unacknowledged, may or may not survive.
        let keep = (trial % 2 == 1).then(|| xorshift(&mut rng));
        let image = disk.power_cut(keep);
        let _ = l.append_batch(&[entry(n + 1)]);
        drop(l);
        let disk = FaultyDisk::from_image(image);
        let l = Ledger::open_on(Box::new(disk.clone()), Durability::Immediate)
            .unwrap_or_else(|e| panic!("trial {trial}: reopen after power cut: {e}"));
        check(&l, &acked);
        // appends work again, and the retried events are recorded once
        let again = l
            .append_batch(&[entry(n), entry(n + 1), entry(n + 2)])
            .unwrap();
        assert_eq!(
            again[0],
            *acked.last().unwrap(),
            "trial {trial}: retried id gives its receipt"
        );
        check(&l, &again);
    }
}

#[test]
fn non_durable_appends_are_lost_whole_or_kept_whole_and_sync_makes_them_durable() {
    let disk = FaultyDisk::default();
    let mut opts = CreateOptions::new("ex/fast");
    opts.durability = Durability::NotDurableUntilSync;
    let l = Ledger::create_on(Box::new(disk.clone()), &opts).unwrap();
    let synced: Vec<_> = l
        .append_batch(&(1..=30).map(entry).collect::<Vec<_>>())
        .unwrap();
    l.sync().unwrap();
    l.append_batch(&(31..=60).map(entry).collect::<Vec<_>>())
        .unwrap();
    let image = disk.power_cut(None);
    drop(l);
    let l = Ledger::open_on(
        Box::new(FaultyDisk::from_image(image)),
        Durability::Immediate,
    )
    .unwrap();
    check(&l, &synced);
    assert_eq!(l.size().unwrap(), 30, "unsynced commits vanish whole");
}

/// Append batches of 20 entries numbered after `n` until one is refused (at most `tries`),
/// keeping the receipts; the last entry number used, and the refusal.
fn append_until_refused(
    l: &Ledger,
    acked: &mut Vec<Receipt>,
    mut n: u64,
    tries: usize,
) -> (u64, Option<trailseal::Error>) {
    for _ in 0..tries {
        let batch: Vec<_> = (n + 1..=n + 20).map(entry).collect();
        n += 20;
        match l.append_batch(&batch) {
            Ok(r) => acked.extend(r),
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

#[test]
fn disk_full_refuses_the_append_and_the_ledger_recovers() {
    for budget in [0u64, 3_000, 20_000, 70_000, 150_000] {
        let disk = FaultyDisk::default();
        let l = Ledger::create_on(Box::new(disk.clone()), &CreateOptions::new("ex/full")).unwrap();
        let mut acked = l
            .append_batch(&(1..=50).map(entry).collect::<Vec<_>>())
            .unwrap();
        disk.disk().budget = Some(budget);
        let (n, failed) = append_until_refused(&l, &mut acked, 50, 200);
        let err = failed.unwrap_or_else(|| panic!("budget {budget}: the disk never filled"));
        assert!(
            matches!(
                err.code(),
                trailseal::ErrorCode::Storage | trailseal::ErrorCode::Io
            ),
            "budget {budget}: {err}"
        );
        // The fault goes away (space freed). redb refuses further writes on a handle that saw
        // an I/O failure (it cannot know what reached the disk). A file ledger reopens itself
        // (the test below); a ledger on a caller's backend cannot, so it keeps answering with
        // a storage error rather than guessing, and a reopened one works.
        disk.disk().budget = None;
        let same_handle = l.append_batch(&[entry(n + 1)]).unwrap_err();
        assert_eq!(
            same_handle.code(),
            trailseal::ErrorCode::Storage,
            "{same_handle}"
        );
        let image = disk.power_cut(None);
        drop(l);
        let disk = FaultyDisk::from_image(image);
        let l = Ledger::open_on(Box::new(disk), Durability::Immediate).unwrap();
        check(&l, &acked);
        let more = l.append_batch(&[entry(n + 1)]).unwrap();
        check(&l, &more);
    }
}

/// A file ledger recovers on the same handle: a write refused by the operating system (here
/// the file-size limit, `RLIMIT_FSIZE`, standing in for a full disk) fails that append, and
/// once the limit is lifted the next append reopens the file and succeeds, with nothing
/// acknowledged lost. The limit is per process, so the scenario runs in a child process (this
/// test binary again, filtered to the scenario).
#[test]
fn file_ledger_recovers_on_the_same_handle_after_a_refused_write() {
    if std::env::var_os("TRAILSEAL_FSIZE_CHILD").is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "fsize_scenario",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("TRAILSEAL_FSIZE_CHILD", dir.path())
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    assert!(log.contains("1 passed"), "the scenario ran: {log}");
    assert!(log.contains("scenario: recovered"), "{log}");
}

fn set_fsize_limit(bytes: u64) {
    let lim = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain system calls on this (child) process with valid arguments.
    unsafe {
        // Writing past the limit sends SIGXFSZ, which would end the process; ignored, the
        // write fails with EFBIG instead, as a full disk fails with ENOSPC.
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
}

#[test]
fn fsize_scenario() {
    let Some(dir) = std::env::var_os("TRAILSEAL_FSIZE_CHILD") else {
        return;
    };
    let path = std::path::Path::new(&dir).join("l.redb");
    let l = Ledger::create(&path, &CreateOptions::new("ex/fsize")).unwrap();
    let mut acked = l
        .append_batch(&(1..=50).map(entry).collect::<Vec<_>>())
        .unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    set_fsize_limit(len + 64 * 1024);
    let (n, failed) = append_until_refused(&l, &mut acked, 50, 2000);
    let err = failed.expect("the file limit was reached");
    assert!(
        matches!(
            err.code(),
            trailseal::ErrorCode::Storage | trailseal::ErrorCode::Io
        ),
        "{err}"
    );
    // Reads still answer from the last durable state.
    assert_eq!(l.size().unwrap(), acked.len() as u64);
    set_fsize_limit(u64::MAX);
    let more = l.append_batch(&[entry(n + 1), entry(n + 2)]).unwrap();
    assert_eq!(more[0].index, acked.len() as u64, "no gap, nothing lost");
    acked.extend(more);
    check(&l, &acked);
    let signer = trailseal::Signer::generate("ex/fsize").unwrap();
    l.checkpoint(&signer, None).unwrap();
    drop(l);
    check(&Ledger::open(&path).unwrap(), &acked);
    println!(
        "scenario: recovered after {} acknowledged entries",
        acked.len()
    );
}
