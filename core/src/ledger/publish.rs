//! `Ledger::publish`: write the ledger as a static C2SP tlog-tiles log to a destination,
//! incrementally (the rules and the crash reasoning are in [`crate::publish`]'s docs).

use super::Ledger;
use crate::checkpoint::Checkpoint;
use crate::error::{guarded, Error, Result};
use crate::merkle::HashAlg;
use crate::note::{Note, Verifier};
use crate::publish::layout::{self, Object, CHECKPOINT_PATH};
use crate::publish::rotations::rotation_path;
use crate::publish::{Destination, PublishCheckpoint, PublishReport};
use crate::storage::{PublishedState, Reader};

impl Ledger {
    /// Publish this ledger to `dest` up to the checkpoint `which` names: every tile and entry
    /// bundle that changed since the last publish to the same destination, then the
    /// checkpoint, then the record of what was published. Refuses a BLAKE3 ledger, a
    /// checkpoint older than the one already published there (a rollback), and an entry that
    /// no entry bundle can hold (over 65,535 bytes; nothing past the last published
    /// checkpoint is claimed then). Reads a snapshot: appends go on meanwhile.
    pub fn publish(
        &self,
        dest: &dyn Destination,
        which: PublishCheckpoint<'_>,
    ) -> Result<PublishReport> {
        guarded(|| {
            if self.meta.hash != HashAlg::Sha256 {
                return Err(Error::InvalidArgument(
                    "only a SHA-256 ledger can be published as a tlog-tiles log (its readers hash leaves with SHA-256)".into(),
                ));
            }
            let note = self.note_to_publish(which)?;
            let cp = Checkpoint::parse_body(&Note::parse(&note)?.body)?;
            let (reader, _) = self.snapshot()?;
            let name = dest.name();
            let last = reader.published(&name)?;
            let there = dest.get(CHECKPOINT_PATH)?;
            // Another log's checkpoint there: two logs in one place would corrupt each other.
            if let Some(other) = there.as_deref().and_then(|b| std::str::from_utf8(b).ok()) {
                let origin = other.lines().next().unwrap_or_default();
                if origin != cp.origin {
                    return Err(Error::InvalidArgument(format!(
                        "{name} holds the log {origin:?}, not {:?}: give each log its own destination",
                        cp.origin
                    )));
                }
            }
            let from = match last {
                Some(p) if p.size > cp.size => {
                    return Err(Error::InvalidArgument(format!(
                        "{name} already has a checkpoint of size {}: publishing the one of size {} would roll it back",
                        p.size, cp.size
                    )))
                }
                // A destination emptied or replaced since is published whole again.
                Some(p) if there.is_some() => p.size,
                _ => 0,
            };
            drop(reader);
            let plan = layout::plan(from, cp.size);
            // A full publish writes thousands of objects: a few threads, each with a snapshot
            // of its own, build and write them (interleaved, so each has a share of every
            // level). An increment is a handful, written by this thread.
            let workers = if plan.len() < 64 {
                1
            } else {
                std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4))
            };
            let written = std::thread::scope(|s| {
                let handles: Vec<_> = (0..workers)
                    .map(|w| {
                        let plan = &plan;
                        s.spawn(move || self.write_objects(dest, plan, w, workers))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(Error::Internal("a publish thread panicked".into()))
                        })
                    })
                    .collect::<Result<Vec<(u64, u64)>>>()
            })?;
            let links = self.publish_rotations(dest, cp.size)?;
            let report = PublishReport {
                from,
                size: cp.size,
                objects: written.iter().map(|w| w.0).sum::<u64>() + links.0,
                bytes: written.iter().map(|w| w.1).sum::<u64>() + links.1,
            };
            dest.flush()?;
            dest.put(CHECKPOINT_PATH, note.as_bytes())?;
            self.keep_published(
                name,
                PublishedState {
                    size: cp.size,
                    root: cp.root,
                },
            )?;
            Ok(report)
        })
    }

    /// Writes each link of the key rotation chain to a checkpoint of `size` that `dest` does
    /// not hold yet ([`crate::publish::rotations`]); returns how many objects and bytes. Links
    /// are looked for rather than judged by the last published size: a rotation completed
    /// after a publish that passed its entry is published by the next one.
    fn publish_rotations(&self, dest: &dyn Destination, size: u64) -> Result<(u64, u64)> {
        let (mut objects, mut bytes) = (0, 0);
        for link in self.rotation_chain(size)? {
            let old = link.old_key().ok_or_else(|| Error::Tampered {
                location: format!("leaf {}", link.index),
                detail: "a key rotation entry without attrs.old_key".into(),
            })?;
            let path = rotation_path(&old);
            if dest.get(&path)?.is_none() {
                let line = link.to_line();
                dest.put(&path, line.as_bytes())?;
                objects += 1;
                bytes += line.len() as u64;
            }
        }
        Ok((objects, bytes))
    }

    /// What was last published to the destination named `name` ([`Destination::name`]).
    pub fn published(&self, name: &str) -> Result<Option<PublishedState>> {
        guarded(|| self.snapshot()?.0.published(name))
    }

    fn note_to_publish(&self, which: PublishCheckpoint<'_>) -> Result<String> {
        match which {
            PublishCheckpoint::Sign(signer) => {
                // Nothing appended since the newest kept checkpoint by this key: publish it
                // rather than keep another of the same size.
                let vkey = signer.verifier().to_key_string();
                let size = self.size()?;
                match self.checkpoints()?.pop() {
                    Some(c) if c.size == size && c.verifier_key == vkey => Ok(c.note),
                    _ => self.checkpoint(signer, None),
                }
            }
            PublishCheckpoint::Newest => {
                self.checkpoints()?.pop().map(|c| c.note).ok_or_else(|| {
                    Error::InvalidArgument(
                        "the ledger keeps no checkpoint to publish: sign one first".into(),
                    )
                })
            }
            PublishCheckpoint::Cosigned(policy) => {
                let kept = self.checkpoints()?;
                for (seq, c) in kept.iter().enumerate().rev() {
                    let note = self.cosigned_note(seq as u64, &c.note)?;
                    let log = Verifier::from_key_string(&c.verifier_key)?;
                    if policy.verify_note(&note, &log).is_ok() {
                        return Ok(note);
                    }
                }
                Err(Error::VerificationFailed(format!(
                    "no kept checkpoint carries cosignatures of {}: run `witness` first",
                    policy.describe()
                )))
            }
        }
    }

    /// Writes objects `w`, `w + n`, `w + 2n`, ... of `plan` from a snapshot of its own;
    /// returns how many objects and bytes.
    fn write_objects(
        &self,
        dest: &dyn Destination,
        plan: &[Object],
        w: usize,
        n: usize,
    ) -> Result<(u64, u64)> {
        let (reader, _) = self.snapshot()?;
        let mut buf = Vec::new();
        let (mut objects, mut bytes) = (0, 0);
        for obj in plan.iter().skip(w).step_by(n) {
            let b = object_bytes(&reader, obj, &mut buf)?;
            dest.put(&obj.path(), b)?;
            objects += 1;
            bytes += b.len() as u64;
        }
        Ok((objects, bytes))
    }

    fn keep_published(&self, name: String, state: PublishedState) -> Result<()> {
        self.writable()?;
        let mut guard = self.lock()?;
        self.recover(&mut guard)?;
        let mut w = self.failed(self.store()?.writer(self.durable))?;
        w.put_published(name, state);
        self.failed(w.commit())?;
        drop(guard);
        Ok(())
    }
}

/// The bytes of one tile or bundle, built in `buf`.
fn object_bytes<'b>(reader: &Reader, obj: &Object, buf: &'b mut Vec<u8>) -> Result<&'b [u8]> {
    buf.clear();
    match obj {
        Object::Tile { .. } => {
            for h in reader.nodes(&obj.nodes())? {
                buf.extend_from_slice(&h);
            }
        }
        Object::Bundle { .. } => {
            let r = obj.leaves();
            let entries = reader.meta()?.kind == crate::storage::LedgerKind::Entries;
            reader.scan_leaf_range(r.start, r.end, |i, leaf| {
                // A pruned entry (an entries ledger's empty leaf) cannot be published: its
                // bytes are gone. What was published before the prune stays published.
                if leaf.is_empty() && entries {
                    return Err(Error::InvalidArgument(format!(
                        "entry {i} was pruned before it was published: a log published from                          this ledger must have been published before pruning"
                    )));
                }
                layout::push_entry(buf, i, leaf)
            })?;
        }
    }
    Ok(buf)
}
