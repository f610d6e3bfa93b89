//! Witnesses: independent parties that cosign a checkpoint only if it is consistent with every
//! checkpoint of the log they cosigned before (C2SP tlog-witness, tlog-cosignature). A forked,
//! rolled-back or rebuilt ledger cannot get their cosignature again, which is what makes a
//! cosigned checkpoint evidence that leaves the machine.
//!
//! - `cosignature.rs`: witness keys and cosignature lines (tlog-cosignature v1, Ed25519).
//! - `client.rs`: one `add-checkpoint` request over HTTP and the meaning of its answer.
//! - `policy.rs`: a quorum of trusted witnesses, checked when verifying.
//! - `tlog_policy.rs`: C2SP tlog-policy files (logs, witnesses, nested groups).
//! - `rule.rs`: either of the two as one requirement verification holds a checkpoint to.
//!
//! [`Ledger::witness`](crate::Ledger::witness) (in `ledger/witness.rs`) drives them: it signs,
//! talks to the witnesses with no lock held, and keeps what they cosigned in one short write.

pub mod client;
pub mod cosignature;
pub mod policy;
pub mod rule;
pub mod tlog_policy;

use std::time::Duration;

pub use cosignature::{Cosignature, Cosigner, CosignerKey};
pub use policy::{verify_cosigned, CosignedCheckpoint, WitnessPolicy};
pub use rule::WitnessRule;
pub use tlog_policy::TlogPolicy;

use crate::error::{Error, Result};
use crate::merkle::Hash;
use client::{Answer, Client};

/// How long one witness request may take when the caller does not say: a witness answers
/// from memory and a consistency proof is a few hashes, so anything slower is unreachable.
pub const DEFAULT_WITNESS_TIMEOUT: Duration = Duration::from_secs(10);

/// One witness to ask: where it listens (its submission prefix, `add-checkpoint` is appended)
/// and its public key.
#[derive(Clone, Debug)]
pub struct WitnessSpec {
    /// The submission prefix, e.g. `https://witness.example/` or `http://127.0.0.1:7380`.
    pub url: String,
    /// Its vkey.
    pub key: CosignerKey,
}

impl WitnessSpec {
    /// From a URL and a vkey string: the form every front end passes.
    pub fn new(url: impl Into<String>, key: &str) -> Result<Self> {
        Ok(WitnessSpec {
            url: url.into(),
            key: CosignerKey::from_key_string(key)?,
        })
    }
}

/// What one witness did.
#[derive(Clone, Debug)]
pub struct WitnessOutcome {
    /// The witness's URL.
    pub url: String,
    /// The witness's name.
    pub witness: String,
    /// Its valid cosignature of the checkpoint, when it gave one.
    pub cosignature: Option<Cosignature>,
    /// Why it did not, in a sentence.
    pub error: Option<String>,
}

/// The result of [`Ledger::witness`](crate::Ledger::witness).
#[derive(Clone, Debug)]
pub struct WitnessReport {
    /// The tree size of the checkpoint sent.
    pub size: u64,
    /// The checkpoint note with the log's signature and every cosignature kept for it.
    pub note: String,
    /// One per witness, in the order given.
    pub outcomes: Vec<WitnessOutcome>,
    /// How many distinct witnesses had to cosign.
    pub quorum: usize,
}

impl WitnessReport {
    /// How many witnesses cosigned this time.
    pub fn cosigned(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.cosignature.is_some())
            .count()
    }

    /// Whether at least `quorum` witnesses cosigned.
    pub fn quorum_met(&self) -> bool {
        self.cosigned() >= self.quorum
    }

    /// `{"size", "quorum", "cosigned", "quorum_met", "note", "witnesses": [{"url", "witness",
    /// "cosigned", "timestamp"?, "error"?}]}`.
    pub fn to_json(&self) -> serde_json::Value {
        let witnesses: Vec<serde_json::Value> = self
            .outcomes
            .iter()
            .map(|o| {
                let mut v = serde_json::json!({
                    "url": o.url,
                    "witness": o.witness,
                    "cosigned": o.cosignature.is_some(),
                });
                if let Some(c) = &o.cosignature {
                    v["timestamp"] = c.timestamp.into();
                }
                if let Some(e) = &o.error {
                    v["error"] = e.as_str().into();
                }
                v
            })
            .collect();
        serde_json::json!({
            "size": self.size,
            "quorum": self.quorum,
            "cosigned": self.cosigned(),
            "quorum_met": self.quorum_met(),
            "note": self.note,
            "witnesses": witnesses,
        })
    }
}

/// How often one witness may answer 409 before we give up: the first request may start from
/// a stale size, the retry from the size it reported; a third 409 means the witness's size
/// keeps moving (another client of the same log) or it disagrees with itself.
const MAX_ATTEMPTS: usize = 3;

/// Everything [`ask`] needs of the ledger and the checkpoint.
pub(crate) struct Submission<'a> {
    pub note: &'a str,
    pub body: &'a str,
    pub size: u64,
    pub timeout: Duration,
}

/// Asks one witness to cosign, starting from `old` (the size it last cosigned, as far as the
/// ledger knows) and following its 409s. `prove(old)` gives the consistency proof from `old`
/// to the checkpoint's size. Returns the valid cosignature, or why there is none.
pub(crate) fn ask(
    sub: &Submission<'_>,
    spec: &WitnessSpec,
    mut old: u64,
    prove: &dyn Fn(u64) -> Result<Vec<Hash>>,
) -> std::result::Result<Cosignature, String> {
    let client = Client::new(sub.timeout);
    let name = spec.key.name();
    if old > sub.size {
        old = 0;
    }
    let mut tried: Vec<u64> = Vec::new();
    for _ in 0..MAX_ATTEMPTS {
        let proof = if old == 0 {
            Vec::new()
        } else {
            prove(old).map_err(|e| format!("no consistency proof from size {old}: {e}"))?
        };
        if proof.len() > client::MAX_PROOF_LINES {
            return Err(format!(
                "the consistency proof from size {old} has {} hashes, more than the protocol's {}",
                proof.len(),
                client::MAX_PROOF_LINES
            ));
        }
        tried.push(old);
        match client.add_checkpoint(&spec.url, old, &proof, sub.note)? {
            Answer::Cosigned(lines) => return pick(spec, sub.body, &lines),
            Answer::Conflict(theirs) if theirs > sub.size => {
                return Err(format!(
                    "witness {name} already cosigned size {theirs} of this log, larger than this ledger's {}: the ledger was rolled back, or is not the copy the witness saw (409 Conflict)",
                    sub.size
                ));
            }
            Answer::Conflict(theirs) if theirs == sub.size && old == sub.size => {
                return Err(format!(
                    "witness {name} cosigned a different root for size {theirs}: this ledger's history is not the one the witness saw (a rebuilt or forked copy; 409 Conflict)"
                ));
            }
            Answer::Conflict(theirs) if tried.contains(&theirs) => {
                return Err(format!(
                    "witness {name} keeps answering 409 Conflict (sizes tried: {tried:?}, it reports {theirs}): another client may be submitting this log, or the witness is inconsistent"
                ));
            }
            Answer::Conflict(theirs) => old = theirs,
            Answer::Refused(status, detail) => return Err(refusal(name, status, &detail, old)),
        }
    }
    Err(format!(
        "witness {name} answered 409 Conflict {MAX_ATTEMPTS} times (sizes tried: {tried:?})"
    ))
}

/// The witness's own cosignature among the lines it returned; other keys' lines are ignored.
fn pick(
    spec: &WitnessSpec,
    body: &str,
    lines: &[String],
) -> std::result::Result<Cosignature, String> {
    for line in lines {
        if let Ok(c) = Cosignature::parse_line(line) {
            if spec.key.verifies(&c, body) {
                return Ok(c);
            }
        }
    }
    Err(format!(
        "witness {} answered 200 but none of its {} line(s) is a valid cosignature by key {}: wrong --witness-key?",
        spec.key.name(),
        lines.len(),
        spec.key
    ))
}

fn refusal(name: &str, status: u16, detail: &str, old: u64) -> String {
    let why = match status {
        400 => "400 Bad Request: the witness could not read the request".to_owned(),
        403 => "403 Forbidden: the witness does not trust the key that signed the checkpoint (give it this ledger's verifier key)".to_owned(),
        404 => "404 Not Found: the witness does not know this log's origin (add the log to the witness), or the URL is not a witness's submission prefix".to_owned(),
        422 => format!("422 Unprocessable Entity: the witness refused the consistency proof from size {old}: this ledger's history differs from the one it cosigned (a rebuilt or forked copy)"),
        other => format!("HTTP {other}"),
    };
    if detail.is_empty() {
        format!("witness {name}: {why}")
    } else {
        format!("witness {name}: {why} ({detail})")
    }
}

/// Refuses a ledger whose tree no C2SP witness can check.
pub(crate) fn check_hash(hash: crate::HashAlg) -> Result<()> {
    if hash != crate::HashAlg::Sha256 {
        return Err(Error::InvalidArgument(format!(
            "this ledger hashes its tree with {hash}; C2SP witnesses verify RFC 6962 SHA-256 trees only, so none can check its consistency proofs. Witnessing needs a ledger created with --hash sha256 (the default since BLAKE3 stopped being it)"
        )));
    }
    Ok(())
}
