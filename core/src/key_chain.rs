//! The key rotation chain an evidence bundle carries (SPEC 4.1): for each rotation of the log's
//! checkpoint key before the bundle's checkpoint, the checkpoint over the `key.rotated` entry
//! (signed by the old key and the new one), the entry, and its inclusion proof in that
//! checkpoint's tree. A verifier that trusts an earlier key follows it to the key that signed
//! the bundle; without it, a bundle signed by a later key does not verify for them.

use serde_json::{Map, Value};

use crate::checkpoint::Checkpoint;
use crate::entry::canonical_json;
use crate::error::{Error, Result};
use crate::ledger::KEY_ROTATED;
use crate::merkle::{self, Hash, HashAlg};
use crate::note::Verifier;
use crate::proof::InclusionProof;

/// One link of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleRotation {
    /// The index of the `key.rotated` entry.
    pub index: u64,
    /// The checkpoint of size `index + 1`, signed by the old key and the new one.
    pub checkpoint: String,
    /// The entry's inclusion proof's audit path in that checkpoint's tree.
    pub path: Vec<Hash>,
    /// The entry's leaf bytes (its canonical JSON).
    pub leaf: String,
}

impl BundleRotation {
    /// The verifier key its entry names as `attrs.new_key`, if it names one.
    pub fn new_key(&self) -> Option<String> {
        self.attr("new_key")
    }

    /// The verifier key its entry names as `attrs.old_key`, if it names one.
    pub fn old_key(&self) -> Option<String> {
        self.attr("old_key")
    }

    fn attr(&self, name: &str) -> Option<String> {
        let entry: Value = serde_json::from_str(&self.leaf).ok()?;
        entry["attrs"][name].as_str().map(str::to_owned)
    }

    /// The bundle's one line for it: `{"index", "checkpoint", "path", "entry"}`, canonical.
    pub fn to_line(&self) -> String {
        let path: Vec<Value> = self
            .path
            .iter()
            .map(|h| Value::String(merkle::to_hex(h)))
            .collect();
        let mut text = String::from("{\"index\": ");
        text.push_str(&self.index.to_string());
        text.push_str(", \"checkpoint\": ");
        text.push_str(&String::from_utf8_lossy(&canonical_json(&Value::String(
            self.checkpoint.clone(),
        ))));
        text.push_str(", \"path\": ");
        text.push_str(&String::from_utf8_lossy(&canonical_json(&Value::Array(
            path,
        ))));
        text.push_str(", \"entry\": ");
        text.push_str(&self.leaf);
        text.push('}');
        text
    }

    /// One link from its parsed JSON object (the bundle's parser checked the field names).
    pub fn from_object(o: &Map<String, Value>, at: &str) -> Result<BundleRotation> {
        let bad = |why: String| Error::malformed("bundle", format!("{at}: {why}"));
        let index = o["index"]
            .as_u64()
            .ok_or_else(|| bad("index must be a number".into()))?;
        let checkpoint = o["checkpoint"]
            .as_str()
            .ok_or_else(|| bad("checkpoint must be a string".into()))?
            .to_owned();
        let path = o["path"]
            .as_array()
            .ok_or_else(|| bad("path must be an array".into()))?
            .iter()
            .map(|h| {
                h.as_str()
                    .ok_or_else(|| bad("path must hold hex strings".into()))
                    .and_then(|s| merkle::from_hex("hash", s))
            })
            .collect::<Result<Vec<_>>>()?;
        if !o["entry"].is_object() {
            return Err(bad("entry must be an object".into()));
        }
        let leaf = String::from_utf8(canonical_json(&o["entry"]))
            .map_err(|e| Error::Internal(format!("canonical JSON is not UTF-8: {e}")))?;
        Ok(BundleRotation {
            index,
            checkpoint,
            path,
            leaf,
        })
    }

    /// Checks this link from `current` (the key in force before it) and returns the key it
    /// puts in force: the checkpoint is signed by `current` and by the new key, of the log
    /// `origin`, of size `index + 1`, and holds the entry, which rotates from `current`.
    fn follow(&self, current: &Verifier, origin: &str, hash: HashAlg) -> Result<Verifier> {
        let fail = |why: String| {
            Error::verification(format!("the key rotation at leaf {}: {why}", self.index))
        };
        let cp = Checkpoint::verify(&self.checkpoint, current)
            .map_err(|_| fail(format!("its checkpoint is not signed by {current}")))?;
        if cp.origin != origin || cp.size != self.index + 1 {
            return Err(fail(format!(
                "its checkpoint is of {:?} size {}, not of this log at size {}",
                cp.origin,
                cp.size,
                self.index + 1
            )));
        }
        let entry: Value = serde_json::from_str(&self.leaf)
            .map_err(|e| fail(format!("the entry does not parse: {e}")))?;
        let attr = |k: &str| entry["attrs"][k].as_str().unwrap_or_default().to_owned();
        if entry["action"] != KEY_ROTATED || attr("old_key") != current.to_key_string() {
            return Err(fail(format!(
                "the entry is not a {KEY_ROTATED} from {current}"
            )));
        }
        let new = Verifier::from_key_string(&attr("new_key"))
            .map_err(|e| fail(format!("the new key: {e}")))?;
        Checkpoint::verify(&self.checkpoint, &new)
            .map_err(|_| fail(format!("its checkpoint is not signed by the new key {new}")))?;
        InclusionProof {
            hash,
            index: self.index,
            tree_size: cp.size,
            leaf_hash: hash.leaf_hash(self.leaf.as_bytes()),
            root: cp.root,
            path: self.path.clone(),
        }
        .verify_leaf(self.leaf.as_bytes())
        .map_err(|e| fail(format!("the entry is not in its checkpoint's tree: {e}")))?;
        Ok(new)
    }
}

/// The key that signed a bundle's checkpoint, for a verifier trusting `trusted`: `trusted`
/// followed through the chain from the first rotation that replaces it (none: `trusted`
/// itself). Each link must hold ([`Error::VerificationFailed`] naming it), in index order,
/// before the bundle's `tree_size`.
pub fn follow_chain(
    trusted: &Verifier,
    chain: &[BundleRotation],
    origin: &str,
    hash: HashAlg,
    tree_size: u64,
) -> Result<Verifier> {
    let vkey = trusted.to_key_string();
    let start = chain.iter().position(|r| {
        serde_json::from_str::<Value>(&r.leaf)
            .ok()
            .is_some_and(|e| e["attrs"]["old_key"] == vkey.as_str())
    });
    let mut current = trusted.clone();
    let mut last = None;
    for r in chain.iter().skip(start.unwrap_or(chain.len())) {
        if last.is_some_and(|l| r.index <= l) || r.index >= tree_size {
            return Err(Error::verification(format!(
                "the key rotation at leaf {} is out of order or not before the checkpoint",
                r.index
            )));
        }
        current = r.follow(&current, origin, hash)?;
        last = Some(r.index);
    }
    Ok(current)
}
