//! What a verifier requires of a checkpoint's cosignatures, whatever form it was given in: a
//! flat quorum of trusted witnesses (`policy.rs`) or a C2SP tlog-policy file with nested
//! groups (`tlog_policy.rs`). Whole-ledger verification and the front ends hold a checkpoint
//! to either through this one interface, so both forms mean the same everywhere.

use crate::error::Result;
use crate::note::Verifier;

use super::cosignature::Cosignature;
use super::policy::{verify_cosigned, CosignedCheckpoint, WitnessPolicy};
use super::tlog_policy::TlogPolicy;

/// A witness requirement on checkpoints.
pub trait WitnessRule: Sync {
    /// The valid cosignatures over `body` among signature `lines` by the rule's witnesses,
    /// one per witness. A line of a known witness that does not verify is
    /// [`crate::Error::VerificationFailed`]; lines of other keys are ignored.
    fn valid_cosignatures(&self, body: &str, lines: &[String]) -> Result<Vec<Cosignature>>;

    /// Whether `valid` (as [`WitnessRule::valid_cosignatures`] returns them) meets the rule.
    fn holds(&self, valid: &[Cosignature]) -> bool;

    /// Whether the rule asks for nothing (a quorum of 0, or `quorum none`).
    fn is_empty(&self) -> bool;

    /// Opens a cosigned checkpoint note signed by `log` and checks the rule over it.
    fn verify_note(&self, note: &str, log: &Verifier) -> Result<CosignedCheckpoint>;

    /// What the rule asks, for messages: "2 of the given witnesses", "the policy's quorum".
    fn describe(&self) -> String;
}

impl std::fmt::Debug for dyn WitnessRule + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl WitnessRule for WitnessPolicy {
    fn valid_cosignatures(&self, body: &str, lines: &[String]) -> Result<Vec<Cosignature>> {
        WitnessPolicy::valid_cosignatures(self, body, lines)
    }

    fn holds(&self, valid: &[Cosignature]) -> bool {
        valid.len() >= self.quorum
    }

    fn is_empty(&self) -> bool {
        WitnessPolicy::is_empty(self)
    }

    fn verify_note(&self, note: &str, log: &Verifier) -> Result<CosignedCheckpoint> {
        verify_cosigned(note, log, self)
    }

    fn describe(&self) -> String {
        format!("{} of the given witnesses", self.quorum)
    }
}

impl WitnessRule for TlogPolicy {
    fn valid_cosignatures(&self, body: &str, lines: &[String]) -> Result<Vec<Cosignature>> {
        self.witnesses().valid_cosignatures(body, lines)
    }

    fn holds(&self, valid: &[Cosignature]) -> bool {
        TlogPolicy::holds(self, valid)
    }

    fn is_empty(&self) -> bool {
        TlogPolicy::is_empty(self)
    }

    fn verify_note(&self, note: &str, log: &Verifier) -> Result<CosignedCheckpoint> {
        self.verify(note, Some(log))
    }

    fn describe(&self) -> String {
        "the witness policy's quorum".to_owned()
    }
}
