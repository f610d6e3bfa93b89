//! Inclusion and consistency proofs read from a published log, with no ledger file: the
//! same proof assembly as [`Ledger::prove_inclusion`](crate::Ledger::prove_inclusion), over
//! the published tiles ([`TileNodes`]).
//!
//! The checkpoint is read for its size only; the proof's root is the one the tiles hash to,
//! so holding the proof to the signed checkpoint (`verify-proof --checkpoint --vkey`) checks
//! the tiles too.

use super::layout::CHECKPOINT_PATH;
use super::tiles::TileNodes;
use super::Source;
use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::merkle::{prove, HashAlg};
use crate::note::Note;
use crate::proof::{ConsistencyProof, InclusionProof};

/// The published checkpoint's size, and `size` checked against it (default: it).
fn tree_size(source: &dyn Source, size: Option<u64>) -> Result<u64> {
    let note = source
        .get(CHECKPOINT_PATH)?
        .ok_or_else(|| Error::Tampered {
            location: CHECKPOINT_PATH.into(),
            detail: "missing from the published log".into(),
        })?;
    let note = String::from_utf8(note).map_err(|_| Error::malformed("checkpoint", "not UTF-8"))?;
    let published = Checkpoint::parse_body(&Note::parse(&note)?.body)?.size;
    match size {
        Some(s) if s > published => Err(Error::OutOfRange(format!(
            "tree size {s} is beyond the published checkpoint's {published}"
        ))),
        Some(s) => Ok(s),
        None => Ok(published),
    }
}

/// Inclusion proof of entry `index` in the published tree of `size` (default: the published
/// checkpoint's).
pub fn prove_inclusion(
    source: &dyn Source,
    index: u64,
    size: Option<u64>,
) -> Result<InclusionProof> {
    let published = tree_size(source, None)?;
    let size = tree_size(source, size)?;
    if index >= size {
        return Err(Error::OutOfRange(format!(
            "index {index} is not below the tree size {size}"
        )));
    }
    prove::inclusion(
        HashAlg::Sha256,
        &TileNodes::new(source, published),
        index,
        size,
        None,
    )
}

/// Consistency proof from the published tree of `old` entries to that of `size` (default:
/// the published checkpoint's).
pub fn prove_consistency(
    source: &dyn Source,
    old: u64,
    size: Option<u64>,
) -> Result<ConsistencyProof> {
    let published = tree_size(source, None)?;
    let size = tree_size(source, size)?;
    prove::consistency(
        HashAlg::Sha256,
        &TileNodes::new(source, published),
        old,
        size,
        None,
    )
}
