//! Checking a proof offline, optionally against a checkpoint held outside the ledger.
//!
//! Every front end (the command's `verify-proof`, Python's and Node's `verify_inclusion` and
//! `verify_consistency`, the C `trailseal_verify_*` calls and Go) calls these two functions, so
//! that the order of the checks, and so the error a bad input gets, is one rule everywhere:
//!
//! 1. the outside checkpoint and its verifier key come together (both or neither:
//!    [`Error::InvalidArgument`]);
//! 2. the verifier key parses and the checkpoint note is signed by it;
//! 3. the proof parses;
//! 4. the proof verifies (and the leaf, when given, hashes to its leaf hash);
//! 5. the proof is for the tree the checkpoint commits to.

use crate::checkpoint::Checkpoint;
use crate::note::Verifier;
use crate::proof::{ConsistencyProof, InclusionProof, ProofEnd};
use crate::{Error, Result};

/// A signed checkpoint note held outside the ledger and the verifier key that must have
/// signed it, not yet checked.
#[derive(Clone, Copy, Debug)]
pub struct Outside<'a> {
    /// The signed checkpoint note.
    pub note: &'a str,
    /// The verifier key in Go `sumdb/note` form.
    pub verifier_key: &'a str,
}

impl<'a> Outside<'a> {
    /// The pair a caller gave: `None` when neither was given. One without the other is
    /// refused, since checking a proof against half of an outside checkpoint would silently
    /// check it against nothing.
    pub fn pair(note: Option<&'a str>, verifier_key: Option<&'a str>) -> Result<Option<Self>> {
        match (note, verifier_key) {
            (None, None) => Ok(None),
            (Some(note), Some(verifier_key)) => Ok(Some(Outside { note, verifier_key })),
            _ => Err(Error::InvalidArgument(
                "an outside checkpoint and its verifier key go together: give both or neither"
                    .into(),
            )),
        }
    }

    /// The verifier key, parsed.
    pub fn verifier(&self) -> Result<Verifier> {
        Verifier::from_key_string(self.verifier_key)
    }

    /// The checkpoint, its signature checked against the verifier key.
    pub fn open(&self) -> Result<Checkpoint> {
        Checkpoint::verify(self.note, &self.verifier()?)
    }
}

/// What [`check_inclusion`] or [`check_consistency`] proved.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked<P> {
    /// The proof, which verified.
    pub proof: P,
    /// The outside checkpoint the proof was checked against, when one was given.
    pub checkpoint: Option<Checkpoint>,
}

/// Checks an inclusion proof in SPEC JSON form: its path leads from its leaf hash to its
/// root; with `leaf`, those bytes hash to its leaf hash; with `outside`, the checkpoint is
/// signed by the verifier key and commits to the proof's tree (size and root).
///
/// Fails with [`Error::Malformed`] for input that does not parse, [`Error::OutOfRange`] for an
/// index outside the proof's tree, and [`Error::VerificationFailed`] for a proof, leaf or
/// signature that does not check out.
pub fn check_inclusion(
    proof_json: &str,
    leaf: Option<&[u8]>,
    outside: Option<Outside<'_>>,
) -> Result<Checked<InclusionProof>> {
    let checkpoint = outside.map(|o| o.open()).transpose()?;
    let proof = InclusionProof::from_json(proof_json)?;
    match leaf {
        Some(bytes) => proof.verify_leaf(bytes)?,
        None => proof.verify()?,
    }
    if let Some(cp) = &checkpoint {
        proof.matches_checkpoint(cp)?;
    }
    Ok(Checked { proof, checkpoint })
}

/// Checks a consistency proof in SPEC JSON form: the old tree is a prefix of the new one; with
/// `outside`, the checkpoint is signed by the verifier key and commits to one end of the proof
/// (returned as the [`ProofEnd`]; `None` without a checkpoint).
///
/// Fails as [`check_inclusion`] does.
pub fn check_consistency(
    proof_json: &str,
    outside: Option<Outside<'_>>,
) -> Result<(Checked<ConsistencyProof>, Option<ProofEnd>)> {
    let checkpoint = outside.map(|o| o.open()).transpose()?;
    let proof = ConsistencyProof::from_json(proof_json)?;
    proof.verify()?;
    let end = checkpoint
        .as_ref()
        .map(|cp| proof.matches_checkpoint(cp))
        .transpose()?;
    Ok((Checked { proof, checkpoint }, end))
}
