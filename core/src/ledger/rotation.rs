//! Checkpoint key rotation, recorded in the log itself: a `key.rotated` entry names the new
//! verifier key, and the checkpoint that first covers it is signed by the old key *and* the
//! new one. The old key's signature is what authorises the new key; the new key's shows its
//! holder took it on. Checkpoints of later sizes are signed by the new key alone.
//!
//! The key in force at any size is derived from the record, never stored beside it: the
//! ledger's first key (recorded at creation) followed through each rotation entry. `verify`
//! re-derives it and holds every kept checkpoint to it; a rotation without a checkpoint signed
//! by the key it replaces, or naming another key as the old one, is tampering.

use serde_json::{json, Value};

use std::borrow::Cow;

use super::append::Work;
#[cfg(feature = "testing")]
use super::Receipt;
use super::{Ledger, LedgerKind};
use crate::checkpoint::Checkpoint;
use crate::error::{guarded, Error, Result};
use crate::key_chain::BundleRotation;
use crate::note::{open_note, sign_note, Signer, Verifier};
use crate::query;
use crate::storage::{Reader, StoredCheckpoint};

/// The action of a rotation entry.
pub const KEY_ROTATED: &str = "key.rotated";

/// One rotation found in the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRotation {
    /// The index of its `key.rotated` entry: checkpoints of larger sizes are the new key's.
    pub index: u64,
    /// The verifier key it replaces.
    pub old_key: String,
    /// The verifier key it puts in force.
    pub new_key: String,
}

impl KeyRotation {
    /// `{"index", "old_key", "new_key"}`.
    pub fn to_json(&self) -> Value {
        json!({ "index": self.index, "old_key": self.old_key, "new_key": self.new_key })
    }
}

/// What [`Ledger::rotate_key`] did.
#[derive(Clone, Debug)]
pub struct RotatedKey {
    /// The rotation.
    pub rotation: KeyRotation,
    /// The checkpoint covering the rotation entry, signed by the old key and the new one.
    pub note: String,
}

impl RotatedKey {
    /// `{"index", "old_key", "new_key", "note"}`.
    pub fn to_json(&self) -> Value {
        let mut v = self.rotation.to_json();
        v["note"] = self.note.clone().into();
        v
    }
}

/// The rotations recorded in `reader` (an entry ledger's) up to `size`, oldest first.
pub(super) fn rotations(reader: &Reader, size: u64) -> Result<Vec<KeyRotation>> {
    query::all_with_action(reader, size, KEY_ROTATED)?
        .into_iter()
        .map(|f| {
            let attr = |k: &str| {
                f.entry["attrs"][k]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Error::Tampered {
                        location: format!("leaf {}", f.index),
                        detail: format!("a {KEY_ROTATED} entry without attrs.{k}"),
                    })
            };
            Ok(KeyRotation {
                index: f.index,
                old_key: attr("old_key")?,
                new_key: attr("new_key")?,
            })
        })
        .collect()
}

/// Refuses a `key.rotated` entry given to a plain append: such an entry would put nothing in
/// force (no checkpoint signed by the old key covers it) yet read as a rotation to anyone
/// scanning the log, and `verify` would then report the ledger as tampered.
pub(super) fn refuse_rotation_entry(pos: usize, len: usize, action: &str) -> Result<()> {
    if action != KEY_ROTATED {
        return Ok(());
    }
    Err(super::reserved_action(
        pos,
        len,
        format!(
            "{KEY_ROTATED} entries are written only by key rotation (`trailseal key rotate`), \
             which signs them into a checkpoint by the old key and the new one"
        ),
    ))
}

/// The key in force for a checkpoint of `size` leaves: `first` followed through every
/// rotation whose entry the checkpoint covers.
pub(super) fn key_at(first: Option<&str>, rotations: &[KeyRotation], size: u64) -> Option<String> {
    rotations
        .iter()
        .rev()
        .find(|r| r.index < size)
        .map(|r| r.new_key.clone())
        .or_else(|| first.map(str::to_owned))
}

/// Whether some kept checkpoint of the size that first covers `r` carries valid signatures of
/// both its keys: the old key's consent and the new key's.
fn signed_by_both(r: &KeyRotation, kept: &[StoredCheckpoint]) -> Result<bool> {
    let both = [&r.old_key, &r.new_key]
        .iter()
        .map(|k| Verifier::from_key_string(k))
        .collect::<Result<Vec<_>>>()?;
    Ok(kept.iter().any(|cp| {
        cp.size == r.index + 1
            && both
                .iter()
                .all(|v| open_note(&cp.note, std::slice::from_ref(v)).is_ok())
    }))
}

/// The key in force after the rotations that hold (each replacing the key in force, signed by
/// both keys), and the first one that does not, if any. Signing follows only the former, so an
/// entry appended without the old key's signature never puts a key in force.
fn in_force<'a>(
    first: Option<&str>,
    rotations: &'a [KeyRotation],
    kept: &[StoredCheckpoint],
) -> (Option<String>, Option<&'a KeyRotation>) {
    let mut key = first.map(str::to_owned);
    for r in rotations {
        let follows = key.as_deref().is_none_or(|k| k == r.old_key);
        if !follows || !signed_by_both(r, kept).unwrap_or(false) {
            return (key, Some(r));
        }
        key = Some(r.new_key.clone());
    }
    (key, None)
}

/// Checks the rotation chain against the kept checkpoints: each rotation replaces the key in
/// force before it, and some kept checkpoint of the size that first covers it carries valid
/// signatures of both keys. Then every kept checkpoint must be by the key in force at its
/// size. Failures are [`Error::Tampered`].
pub(super) fn verify_chain(
    first: Option<&str>,
    rotations: &[KeyRotation],
    kept: &[StoredCheckpoint],
) -> Result<()> {
    let tampered = |location: String, detail: String| Error::Tampered { location, detail };
    if let (key, Some(r)) = in_force(first, rotations, kept) {
        let location = format!("key rotation at leaf {}", r.index);
        return Err(match key {
            Some(k) if k != r.old_key => tampered(
                location,
                format!("it replaces {}, but the key in force was {k}", r.old_key),
            ),
            _ => tampered(
                location,
                "no kept checkpoint covering it is signed by both the old key and the new one \
                 (if a `key rotate` was interrupted, run it again with the same keys)"
                    .into(),
            ),
        });
    }
    if first.is_none() && rotations.is_empty() {
        return Ok(());
    }
    for (seq, cp) in kept.iter().enumerate() {
        if let Some(want) = key_at(first, rotations, cp.size) {
            if cp.verifier_key != want {
                return Err(tampered(
                    format!("checkpoint {seq} (size {})", cp.size),
                    format!(
                        "signed by {}, but the key in force at that size is {want}",
                        cp.verifier_key
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(feature = "testing")]
thread_local! {
    /// Test hook (the `testing` feature): when set, [`Ledger::rotate_key`] stops after appending
    /// its entry, as a process killed there would, so a test can complete the rotation by running
    /// it again. Per thread, so tests running beside each other do not see it. Not part of the API.
    pub static INTERRUPT_ROTATION: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Ledger {
    /// The rotation entry's append: the one path past [`refuse_rotation_entry`].
    fn append_rotation_entry(&self, entry: Value) -> Result<u64> {
        self.need_kind(LedgerKind::Entries)?;
        let mut receipts = self.submit(Work::Entries(Cow::Owned(vec![entry])))?;
        let index = receipts
            .pop()
            .ok_or_else(|| Error::Internal("empty receipt list".into()))?
            .index;
        #[cfg(feature = "testing")]
        if INTERRUPT_ROTATION.get() {
            return Err(Error::Internal(format!(
                "rotation interrupted after its entry at {index} (test hook)"
            )));
        }
        Ok(index)
    }

    /// Test hook (the `testing` feature): appends entries past the refusal of `key.rotated`
    /// entries, as a writer that did not refuse them (or a doctored one) would have. Not part
    /// of the API.
    #[cfg(feature = "testing")]
    pub fn append_batch_unchecked(&self, entries: &[Value]) -> Result<Vec<Receipt>> {
        self.submit(Work::Entries(Cow::Owned(entries.to_vec())))
    }

    /// The key rotations recorded in this ledger, oldest first.
    pub fn key_rotations(&self) -> Result<Vec<KeyRotation>> {
        guarded(|| {
            // A raw ledger's leaves are opaque: it records no rotation, and cannot rotate.
            if self.meta.kind != LedgerKind::Entries {
                return Ok(Vec::new());
            }
            let (reader, state) = self.snapshot()?;
            rotations(&reader, state.size)
        })
    }

    /// The chain a bundle with a checkpoint of `size` leaves carries (SPEC 4.1): each rotation
    /// that holds before it, with its dual-signed checkpoint and the entry's inclusion proof.
    pub(crate) fn rotation_chain(&self, size: u64) -> Result<Vec<BundleRotation>> {
        let rot = self.key_rotations()?;
        let kept = self.snapshot()?.0.checkpoints()?;
        let (_, broken) = in_force(self.verifier_key(), &rot, &kept);
        let mut chain = Vec::new();
        for r in &rot {
            if broken.is_some_and(|b| b.index <= r.index) || r.index >= size {
                break;
            }
            let both = [&r.old_key, &r.new_key]
                .iter()
                .map(|k| Verifier::from_key_string(k))
                .collect::<Result<Vec<_>>>()?;
            let Some(cp) = kept.iter().find(|cp| {
                cp.size == r.index + 1
                    && both
                        .iter()
                        .all(|v| open_note(&cp.note, std::slice::from_ref(v)).is_ok())
            }) else {
                break;
            };
            let leaf = String::from_utf8(self.get_raw(r.index)?).map_err(|_| Error::Tampered {
                location: format!("leaf {}", r.index),
                detail: "the rotation entry is not UTF-8".into(),
            })?;
            chain.push(BundleRotation {
                index: r.index,
                checkpoint: cp.note.clone(),
                path: self.prove_inclusion(r.index, Some(r.index + 1))?.path,
                leaf,
            });
        }
        Ok(chain)
    }

    /// The verifier key that signs this ledger's checkpoints now: the recorded first key
    /// followed through every rotation (`None` for a ledger created without a key).
    pub fn verifier_key_in_force(&self) -> Result<Option<String>> {
        guarded(|| {
            let rot = self.key_rotations()?;
            let kept = self.snapshot()?.0.checkpoints()?;
            Ok(in_force(self.verifier_key(), &rot, &kept).0)
        })
    }

    /// Rotates the checkpoint key from `old` (the key in force) to `new`: appends a
    /// `key.rotated` entry by `actor` naming both verifier keys, then keeps a checkpoint of the
    /// tree that first covers it, signed by `old` and then `new`. From then on only `new`
    /// signs. Refused ([`Error::InvalidArgument`]): `old` not the key in force, `new` the same
    /// key or one an earlier rotation retired, a name `new` does not share with `old`
    /// (verifiers look a key up by name).
    pub fn rotate_key(&self, old: &Signer, new: &Signer, actor: &str) -> Result<RotatedKey> {
        guarded(|| {
            self.writable()?;
            self.check_signer(old)?;
            let (old_key, new_key) = (
                old.verifier().to_key_string(),
                new.verifier().to_key_string(),
            );
            if old_key == new_key {
                return Err(Error::InvalidArgument(
                    "the new key is the key in force: nothing to rotate".into(),
                ));
            }
            if new.name() != old.name() {
                return Err(Error::InvalidArgument(format!(
                    "the new key is named {:?}, the key in force {:?}: a rotation keeps the name verifiers look the key up by",
                    new.name(),
                    old.name()
                )));
            }
            // A retired key stays retired: it may have been retired for a leak, and a
            // published log names each rotation by the key it replaces (publish::rotations).
            let rot = self.key_rotations()?;
            if rot.iter().any(|r| r.old_key == new_key) {
                return Err(Error::InvalidArgument(format!(
                    "{new_key} was retired by an earlier rotation: a retired key is never put back in force"
                )));
            }
            // An interrupted rotation of these same keys (its entry appended, its checkpoint
            // not kept) is completed rather than recorded twice.
            let kept = self.snapshot()?.0.checkpoints()?;
            let index = match in_force(self.verifier_key(), &rot, &kept).1 {
                Some(r) if r.old_key == old_key && r.new_key == new_key => r.index,
                _ => {
                    let entry = json!({
                        "actor": {"id": actor},
                        "action": KEY_ROTATED,
                        "subject": {"type": "key", "id": new_key},
                        "attrs": {"old_key": old_key, "new_key": new_key},
                    });
                    self.append_rotation_entry(entry)?
                }
            };
            let size = index + 1;
            let body =
                Checkpoint::new(self.meta.origin.clone(), size, self.root_at(size)?).to_body();
            let note = sign_note(&body, &[old, new])?;
            self.keep_checkpoint(StoredCheckpoint {
                size,
                note: note.clone(),
                verifier_key: new_key.clone(),
            })?;
            Ok(RotatedKey {
                rotation: KeyRotation {
                    index,
                    old_key,
                    new_key,
                },
                note,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rot(index: u64, old: &str, new: &str) -> KeyRotation {
        KeyRotation {
            index,
            old_key: old.into(),
            new_key: new.into(),
        }
    }

    #[test]
    fn the_key_at_a_size_follows_the_rotations() {
        let r = [rot(4, "k0", "k1"), rot(9, "k1", "k2")];
        assert_eq!(key_at(Some("k0"), &r, 4).as_deref(), Some("k0"));
        assert_eq!(key_at(Some("k0"), &r, 5).as_deref(), Some("k1"));
        assert_eq!(key_at(Some("k0"), &r, 10).as_deref(), Some("k2"));
        assert_eq!(key_at(None, &[], 3), None);
    }
}
