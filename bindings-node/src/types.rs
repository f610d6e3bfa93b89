//! The plain objects the package returns. Receipts and proofs keep their SPEC (JSON) field
//! names, so `JSON.stringify(proof)` is what the `trailseal` command and other verifiers
//! read; hashes are lowercase hex. Integers are JS numbers (exact up to 2^53 - 1).

use napi_derive::napi;
use trailseal::merkle::to_hex;

/// What an append resolves with: where the leaf landed and the tree it made.
#[napi(object)]
pub struct Receipt {
    /// Leaf index.
    pub index: f64,
    /// Leaf hash (hex).
    #[napi(js_name = "leaf_hash")]
    pub leaf_hash: String,
    /// Tree size right after this leaf (`index + 1`).
    #[napi(js_name = "tree_size")]
    pub tree_size: f64,
    /// Root (hex) at `tree_size`.
    pub root: String,
    /// The entry's recorded `time` (absent for raw leaves).
    pub time: Option<String>,
}

impl From<trailseal::Receipt> for Receipt {
    fn from(r: trailseal::Receipt) -> Self {
        Receipt {
            index: r.index as f64,
            leaf_hash: to_hex(&r.leaf_hash),
            tree_size: r.tree_size as f64,
            root: to_hex(&r.root),
            time: r.time.map(|t| t.to_string()),
        }
    }
}

/// An inclusion proof in SPEC form (RFC 9162 audit path, leaf's sibling first).
#[napi(object)]
pub struct InclusionProof {
    #[napi(ts_type = "HashName")]
    pub hash: String,
    pub index: f64,
    #[napi(js_name = "tree_size")]
    pub tree_size: f64,
    #[napi(js_name = "leaf_hash")]
    pub leaf_hash: String,
    pub root: String,
    pub path: Vec<String>,
}

impl From<trailseal::InclusionProof> for InclusionProof {
    fn from(p: trailseal::InclusionProof) -> Self {
        InclusionProof {
            hash: p.hash.name().to_owned(),
            index: p.index as f64,
            tree_size: p.tree_size as f64,
            leaf_hash: to_hex(&p.leaf_hash),
            root: to_hex(&p.root),
            path: p.path.iter().map(to_hex).collect(),
        }
    }
}

/// A consistency proof in SPEC form (RFC 9162 `PROOF(old_size, D[new_size])`).
#[napi(object)]
pub struct ConsistencyProof {
    #[napi(ts_type = "HashName")]
    pub hash: String,
    #[napi(js_name = "old_size")]
    pub old_size: f64,
    #[napi(js_name = "new_size")]
    pub new_size: f64,
    #[napi(js_name = "old_root")]
    pub old_root: String,
    #[napi(js_name = "new_root")]
    pub new_root: String,
    pub path: Vec<String>,
}

impl From<trailseal::ConsistencyProof> for ConsistencyProof {
    fn from(p: trailseal::ConsistencyProof) -> Self {
        ConsistencyProof {
            hash: p.hash.name().to_owned(),
            old_size: p.old_size as f64,
            new_size: p.new_size as f64,
            old_root: to_hex(&p.old_root),
            new_root: to_hex(&p.new_root),
            path: p.path.iter().map(to_hex).collect(),
        }
    }
}

/// A verified checkpoint: the log, the tree size and its root (hex), and any extension lines.
#[napi(object)]
pub struct Checkpoint {
    pub origin: String,
    pub size: f64,
    pub root: String,
    pub extensions: Vec<String>,
}

impl From<trailseal::Checkpoint> for Checkpoint {
    fn from(c: trailseal::Checkpoint) -> Self {
        Checkpoint {
            origin: c.origin,
            size: c.size as f64,
            root: to_hex(&c.root),
            extensions: c.extensions,
        }
    }
}

/// A checkpoint the ledger signed and kept: its size, the signed note and the key that
/// signed it.
#[napi(object)]
pub struct StoredCheckpoint {
    pub size: f64,
    pub note: String,
    pub verifier_key: String,
}

impl From<trailseal::storage::StoredCheckpoint> for StoredCheckpoint {
    fn from(c: trailseal::storage::StoredCheckpoint) -> Self {
        StoredCheckpoint {
            size: c.size as f64,
            note: c.note,
            verifier_key: c.verifier_key,
        }
    }
}

/// What a successful `verify()` checked.
#[napi(object)]
pub struct VerifyReport {
    /// Leaves re-hashed.
    pub size: f64,
    /// The root (hex) they hash to.
    pub root: String,
    /// Stored nodes recomputed.
    pub nodes: f64,
    /// Stored checkpoints re-verified.
    pub checkpoints: f64,
    /// Size of the outside checkpoint the ledger was found consistent with, if one was given.
    pub external_checkpoint: Option<f64>,
}

impl From<trailseal::VerifyReport> for VerifyReport {
    fn from(r: trailseal::VerifyReport) -> Self {
        VerifyReport {
            size: r.size as f64,
            root: to_hex(&r.root),
            nodes: r.nodes as f64,
            checkpoints: r.checkpoints as f64,
            external_checkpoint: r.external_checkpoint.map(|s| s as f64),
        }
    }
}
