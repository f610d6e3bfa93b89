//! An evidence bundle made from a published log, with no ledger file: the entries at the
//! asked indexes, read from the entry bundles, each with its inclusion proof assembled from
//! the hash tiles, against the published checkpoint. A published log has no query indexes,
//! so entries are chosen by index. The bundle is checked as `verify-bundle` would check it
//! before it is returned.

use super::layout::{parse_bundle, Object, CHECKPOINT_PATH, TILE_WIDTH};
use super::proofs::prove_inclusion;
use super::rotations::published_chain;
use super::Source;
use crate::checkpoint::Checkpoint;
use crate::entry::canonical_json;
use crate::error::{Error, Result};
use crate::evidence::{log_and_cosignatures, verify_bundle, Bundle, BundleContent, BundleEntry};
use crate::key_chain::follow_chain;
use crate::merkle::HashAlg;
use crate::note::{Note, Verifier};

/// The bundle of the entries at `indexes` of the log published at `source`, against its
/// checkpoint, which must be signed by `verifier` or by a later key its published rotation
/// chain leads to (the chain is carried then, and so are the witness cosignatures).
/// Refused: no index ([`Error::InvalidArgument`]); an index beyond the checkpoint
/// ([`Error::OutOfRange`]); a leaf that is not an audit entry ([`Error::WrongKind`]); an
/// entry bundle or tile that does not match the checkpoint ([`Error::Tampered`]).
pub fn bundle_published(
    source: &dyn Source,
    indexes: &[u64],
    verifier: &Verifier,
) -> Result<Bundle> {
    let mut indexes = indexes.to_vec();
    indexes.sort_unstable();
    indexes.dedup();
    if indexes.is_empty() {
        return Err(Error::InvalidArgument("no entry to bundle".into()));
    }
    let tampered = |location: String, detail: String| Error::Tampered { location, detail };
    let note = source.get(CHECKPOINT_PATH)?.ok_or_else(|| {
        tampered(
            CHECKPOINT_PATH.into(),
            "missing from the published log".into(),
        )
    })?;
    let note = String::from_utf8(note)
        .map_err(|_| tampered(CHECKPOINT_PATH.into(), "not UTF-8".into()))?;
    // Signed by `verifier`, or by a key its published rotation chain leads to: the bundle
    // carries the chain, so whoever trusts `verifier` checks it the same way.
    let claimed = Checkpoint::parse_body(&Note::parse(&note)?.body)?;
    let chain = published_chain(source, verifier, claimed.size)?;
    let key = follow_chain(
        verifier,
        &chain,
        &claimed.origin,
        HashAlg::Sha256,
        claimed.size,
    )?;
    let cp = Checkpoint::verify(&note, &key)?;
    let mut entries = Vec::with_capacity(indexes.len());
    for &index in &indexes {
        if index >= cp.size {
            return Err(Error::OutOfRange(format!(
                "entry {index} is not in the published tree of {} entries",
                cp.size
            )));
        }
        let b = index / TILE_WIDTH;
        let obj = Object::Bundle {
            index: b,
            width: (cp.size - b * TILE_WIDTH).min(TILE_WIDTH),
        };
        let path = obj.path();
        let bytes = source
            .get(&path)?
            .ok_or_else(|| tampered(path.clone(), "missing from the published log".into()))?;
        let leaves = parse_bundle(&bytes).map_err(|e| tampered(path.clone(), e.to_string()))?;
        let leaf = leaves
            .get((index - b * TILE_WIDTH) as usize)
            .ok_or_else(|| tampered(path.clone(), format!("holds no entry {index}")))?;
        let proof = prove_inclusion(source, index, Some(cp.size))?;
        if proof.root != cp.root || HashAlg::Sha256.leaf_hash(leaf) != proof.leaf_hash {
            return Err(tampered(
                path,
                format!("entry {index} or the tiles do not hash to the signed root"),
            ));
        }
        // A raw ledger's leaves are not entries; a bundle holds entries.
        let raw = || Error::WrongKind {
            expected: "audit entries",
            actual: "raw leaves",
        };
        let value: serde_json::Value = serde_json::from_slice(leaf).map_err(|_| raw())?;
        if canonical_json(&value) != *leaf {
            return Err(raw());
        }
        entries.push(BundleEntry {
            index,
            content: BundleContent::Entry(
                String::from_utf8(leaf.to_vec())
                    .map_err(|_| tampered(format!("entry {index}"), "not UTF-8".into()))?,
            ),
            leaf_hash: proof.leaf_hash,
            path: proof.path,
            openings: None,
        });
    }
    let bundle = Bundle {
        origin: cp.origin,
        hash: HashAlg::Sha256,
        tree_size: cp.size,
        root: cp.root,
        key_name: verifier.name().to_owned(),
        checkpoint: log_and_cosignatures(&note, &key)?,
        checkpoint_timestamp: None,
        key_rotations: chain,
        entries,
    };
    verify_bundle(&bundle.to_text(), verifier)?;
    Ok(bundle)
}
