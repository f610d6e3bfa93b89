//! Witness policy when verifying: a checkpoint counts only with the log's own signature and
//! valid cosignatures from at least `quorum` distinct witnesses among those the verifier
//! trusts.
//!
//! This is the flat case of C2SP tlog-policy (one group of the given witnesses with a
//! threshold), which front ends take as repeated witness vkeys and a number; whole policy
//! files, with nested groups, are `tlog_policy.rs`.

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::note::{open_note, Note, Verifier};

use super::cosignature::{Cosignature, CosignerKey};

/// Which witnesses to require, and how many of them.
#[derive(Clone, Debug, Default)]
pub struct WitnessPolicy {
    /// The witnesses trusted to cosign.
    pub witnesses: Vec<CosignerKey>,
    /// How many distinct witnesses must have cosigned. 0 asks for nothing.
    pub quorum: usize,
}

impl WitnessPolicy {
    /// A policy from witness vkey strings and a quorum: the form every front end passes.
    /// No quorum (`None`) asks for every witness given.
    ///
    /// Refused ([`Error::InvalidArgument`]): a quorum above the number of distinct witnesses
    /// (it could never be met), two keys with the same name (a witness is counted once).
    /// A vkey that does not parse is [`Error::Malformed`].
    pub fn from_keys(keys: &[impl AsRef<str>], quorum: Option<usize>) -> Result<Self> {
        let mut witnesses: Vec<CosignerKey> = Vec::new();
        for k in keys {
            let key = CosignerKey::from_key_string(k.as_ref())?;
            // tlog-policy: two vkeys wrapping one public key are one witness, whatever
            // their names.
            if witnesses
                .iter()
                .any(|w| w.name() == key.name() || w.public_key() == key.public_key())
            {
                return Err(Error::InvalidArgument(format!(
                    "witness {} is given twice (same name or same public key)",
                    key.name()
                )));
            }
            witnesses.push(key);
        }
        let quorum = quorum.unwrap_or(witnesses.len());
        if quorum > witnesses.len() {
            return Err(Error::InvalidArgument(format!(
                "a quorum of {quorum} cannot be met by {} witness key(s)",
                witnesses.len()
            )));
        }
        Ok(WitnessPolicy { witnesses, quorum })
    }

    /// Whether this policy asks for anything.
    pub fn is_empty(&self) -> bool {
        self.quorum == 0
    }

    /// The cosignatures in `sigs` that verify over `body`, one per witness of the policy (the
    /// first valid line of each). A line naming a policy witness that does not verify is
    /// [`Error::VerificationFailed`], as a bad signature of a known key is in [`open_note`].
    pub fn valid_cosignatures(&self, body: &str, lines: &[String]) -> Result<Vec<Cosignature>> {
        let mut out: Vec<Cosignature> = Vec::new();
        for line in lines {
            let Ok(cosig) = Cosignature::parse_line(line) else {
                continue;
            };
            let Some(key) = self
                .witnesses
                .iter()
                .find(|w| w.name() == cosig.name && w.key_hash() == cosig.key_hash)
            else {
                continue;
            };
            // One per witness: a key name alone may be shared by two witnesses of a
            // tlog-policy file, so a witness is its name and key id.
            if out
                .iter()
                .any(|c| c.name == cosig.name && c.key_hash == cosig.key_hash)
            {
                continue;
            }
            if !key.verifies(&cosig, body) {
                return Err(Error::verification(format!(
                    "invalid cosignature from witness {}+{:08x}",
                    cosig.name, cosig.key_hash
                )));
            }
            out.push(cosig);
        }
        Ok(out)
    }

    /// Checks that `found` valid cosignatures meet the quorum.
    pub fn check_quorum(&self, found: &[Cosignature]) -> Result<()> {
        if found.len() < self.quorum {
            let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
            return Err(Error::verification(format!(
                "the checkpoint has valid cosignatures from {} of the {} witness(es) required ({}): a checkpoint no independent witness vouched for may be one of a split view or a rebuilt history",
                found.len(),
                self.quorum,
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )));
        }
        Ok(())
    }
}

/// A checkpoint note that passed a witness policy.
#[derive(Clone, Debug)]
pub struct CosignedCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The valid cosignatures of policy witnesses, one per witness.
    pub cosignatures: Vec<Cosignature>,
}

impl CosignedCheckpoint {
    /// `{"checkpoint": {...}, "cosignatures": [{...}]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "checkpoint": self.checkpoint.to_json(),
            "cosignatures": self.cosignatures.iter().map(Cosignature::to_json).collect::<Vec<_>>(),
        })
    }
}

/// Opens a checkpoint note that carries the log's signature by `log` and cosignatures, and
/// checks `policy` over it. Lines of unknown keys are ignored, as in [`open_note`].
pub fn verify_cosigned(
    note: &str,
    log: &Verifier,
    policy: &WitnessPolicy,
) -> Result<CosignedCheckpoint> {
    let opened = open_note(note, std::slice::from_ref(log))?;
    let checkpoint = Checkpoint::parse_body(&opened.body)?;
    let lines = signature_lines(note)?;
    let cosignatures = policy.valid_cosignatures(&opened.body, &lines)?;
    policy.check_quorum(&cosignatures)?;
    Ok(CosignedCheckpoint {
        checkpoint,
        cosignatures,
    })
}

/// The signature lines of a note, without their newlines.
pub(crate) fn signature_lines(note: &str) -> Result<Vec<String>> {
    let parsed = Note::parse(note)?;
    let block = &note[parsed.body.len() + 1..];
    Ok(block.lines().map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::super::cosignature::Cosigner;
    use super::*;
    use crate::error::ErrorCode;
    use crate::note::Signer;

    fn setup() -> (Signer, String, Cosigner, Cosigner) {
        let log = Signer::from_seed("example.com/log", [1; 32]).unwrap();
        let note = Checkpoint::new("example.com/log", 5, [7; 32])
            .sign(&log)
            .unwrap();
        let w1 = Cosigner::from_seed("w1.example", [2; 32]).unwrap();
        let w2 = Cosigner::from_seed("w2.example", [3; 32]).unwrap();
        (log, note, w1, w2)
    }

    fn with(note: &str, cosigs: &[&Cosignature]) -> String {
        let mut out = note.to_owned();
        for c in cosigs {
            out.push_str(&c.to_line());
            out.push('\n');
        }
        out
    }

    #[test]
    fn quorum_of_distinct_witnesses() {
        let (log, note, w1, w2) = setup();
        let body = Note::parse(&note).unwrap().body;
        let c1 = w1.cosign(&body, 100).unwrap();
        let c2 = w2.cosign(&body, 101).unwrap();
        let keys = [w1.key().to_key_string(), w2.key().to_key_string()];
        let two = WitnessPolicy::from_keys(&keys, Some(2)).unwrap();
        let ok = verify_cosigned(&with(&note, &[&c1, &c2]), &log.verifier(), &two).unwrap();
        assert_eq!(ok.cosignatures.len(), 2);
        // The same witness twice is one witness.
        let err = verify_cosigned(&with(&note, &[&c1, &c1]), &log.verifier(), &two).unwrap_err();
        assert_eq!(err.code(), ErrorCode::VerificationFailed);
        // A cosignature of another checkpoint is refused, not skipped.
        let other = w2.cosign(
            "example.com/log\n6\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
            1,
        );
        let err = verify_cosigned(&with(&note, &[&c1, &other.unwrap()]), &log.verifier(), &two)
            .unwrap_err();
        assert!(err.to_string().contains("invalid cosignature"), "{err}");
        assert!(WitnessPolicy::from_keys(&keys, Some(3)).is_err());
        assert!(WitnessPolicy::from_keys(&[&keys[0], &keys[0]], Some(1)).is_err());
    }
}
