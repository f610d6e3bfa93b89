//! Inclusion and consistency proofs in their SPEC section 2 JSON form.
//!
//! A proof carries everything needed to check it (hash name, sizes, roots, path), so a
//! verifier needs no ledger: only the proof and a root it trusts, typically from a signed
//! checkpoint.

use serde::{Deserialize, Serialize};

use crate::merkle::{self, Hash, HashAlg};
use crate::{Error, Result};

/// Serde helpers writing a [`Hash`] as 64 lowercase hex digits, as SPEC section 1 requires.
mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::merkle::{self, Hash};

    pub(super) fn serialize<S: Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&merkle::to_hex(h))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        // Cow rather than &str so that strings with escapes (which serde_json cannot borrow)
        // are still accepted.
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        merkle::from_hex("hash", &s).map_err(serde::de::Error::custom)
    }
}

/// Serde helpers for a list of hex hashes (the `path` field).
mod hex_hash_vec {
    use serde::de::{SeqAccess, Visitor};
    use serde::ser::SerializeSeq;
    use serde::{Deserializer, Serializer};

    use crate::merkle::{self, Hash};

    pub(super) fn serialize<S: Serializer>(v: &[Hash], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for h in v {
            seq.serialize_element(&merkle::to_hex(h))?;
        }
        seq.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
        struct PathVisitor;

        impl<'de> Visitor<'de> for PathVisitor {
            type Value = Vec<Hash>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of hex hashes")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Hash>, A::Error> {
                // Paths are at most a few dozen hashes; cap the hint so a hostile length
                // cannot make us allocate up front.
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(128));
                while let Some(s) = seq.next_element::<std::borrow::Cow<'de, str>>()? {
                    out.push(merkle::from_hex("hash", &s).map_err(serde::de::Error::custom)?);
                }
                Ok(out)
            }
        }

        d.deserialize_seq(PathVisitor)
    }
}

/// A proof that one leaf is in a tree: the audit path `PATH(index, D[tree_size])` of
/// RFC 9162 section 2.1.3, with the leaf hash and the root it leads to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The tree's hash function.
    pub hash: HashAlg,
    /// The leaf's position, counted from 0.
    pub index: u64,
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// The leaf hash, `H(0x00 || leaf bytes)`.
    #[serde(with = "hex_hash")]
    pub leaf_hash: Hash,
    /// The root of the tree of `tree_size` leaves.
    #[serde(with = "hex_hash")]
    pub root: Hash,
    /// The audit path, from the leaf's sibling upward.
    #[serde(with = "hex_hash_vec")]
    pub path: Vec<Hash>,
}

impl InclusionProof {
    /// Parses the SPEC JSON form; unknown fields are ignored.
    ///
    /// Fails with [`Error::Malformed`] (`inclusion proof`) for invalid JSON, a missing field,
    /// an unknown hash name or a hash that is not 64 hex digits.
    pub fn from_json(s: &str) -> Result<Self> {
        serde_json::from_str(s).map_err(|e| Error::malformed("inclusion proof", e.to_string()))
    }

    /// The SPEC JSON form, compact, fields in SPEC order.
    pub fn to_json(&self) -> String {
        // Serializing plain integers, strings and hex hashes into memory cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks that `path` leads from `leaf_hash` at `index` to `root` (RFC 9162 2.1.3.2).
    ///
    /// Errors as [`merkle::verify_inclusion`].
    pub fn verify(&self) -> Result<()> {
        merkle::verify_inclusion(
            self.hash,
            &self.leaf_hash,
            self.index,
            self.tree_size,
            &self.path,
            &self.root,
        )
    }

    /// Like [`InclusionProof::verify`], and also checks that `leaf` (the leaf bytes, e.g. the
    /// canonical JSON of an entry) hashes to `leaf_hash`; a mismatch is
    /// [`Error::VerificationFailed`].
    pub fn verify_leaf(&self, leaf: &[u8]) -> Result<()> {
        if self.hash.leaf_hash(leaf) != self.leaf_hash {
            return Err(Error::verification(format!(
                "the leaf bytes do not hash to the proof's leaf_hash {}",
                merkle::to_hex(&self.leaf_hash)
            )));
        }
        self.verify()
    }

    /// Checks that this proof is against the tree a signed checkpoint commits to: same size
    /// and same root (verify the checkpoint's signature first, e.g. with
    /// [`Checkpoint::verify`](crate::Checkpoint::verify)).
    pub fn matches_checkpoint(&self, cp: &crate::Checkpoint) -> Result<()> {
        if cp.size != self.tree_size || cp.root != self.root {
            return Err(Error::verification(format!(
                "the proof is for a tree of {} leaves with root {}, the checkpoint commits to {} leaves with root {}",
                self.tree_size,
                merkle::to_hex(&self.root),
                cp.size,
                merkle::to_hex(&cp.root)
            )));
        }
        Ok(())
    }
}

impl std::str::FromStr for InclusionProof {
    type Err = Error;

    /// Same as [`InclusionProof::from_json`].
    fn from_str(s: &str) -> Result<Self> {
        Self::from_json(s)
    }
}

/// A proof that a tree of `old_size` leaves is a prefix of a tree of `new_size` leaves: the
/// RFC 9162 section 2.1.4 `PROOF(old_size, D[new_size])`, with both roots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The tree's hash function.
    pub hash: HashAlg,
    /// The size of the older tree.
    pub old_size: u64,
    /// The size of the newer tree.
    pub new_size: u64,
    /// The root of the older tree.
    #[serde(with = "hex_hash")]
    pub old_root: Hash,
    /// The root of the newer tree.
    #[serde(with = "hex_hash")]
    pub new_root: Hash,
    /// The proof hashes, in RFC order (empty when `old_size` is 0 or equals `new_size`).
    #[serde(with = "hex_hash_vec")]
    pub path: Vec<Hash>,
}

impl ConsistencyProof {
    /// Parses the SPEC JSON form; unknown fields are ignored.
    ///
    /// Fails with [`Error::Malformed`] (`consistency proof`) for invalid JSON, a missing field,
    /// an unknown hash name or a hash that is not 64 hex digits.
    pub fn from_json(s: &str) -> Result<Self> {
        serde_json::from_str(s).map_err(|e| Error::malformed("consistency proof", e.to_string()))
    }

    /// The SPEC JSON form, compact, fields in SPEC order.
    pub fn to_json(&self) -> String {
        // Serializing plain integers, strings and hex hashes into memory cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks that the old tree is a prefix of the new one (RFC 9162 2.1.4.2).
    ///
    /// Errors as [`merkle::verify_consistency`].
    pub fn verify(&self) -> Result<()> {
        merkle::verify_consistency(
            self.hash,
            self.old_size,
            self.new_size,
            &self.old_root,
            &self.new_root,
            &self.path,
        )
    }

    /// Checks that one end of this proof is the tree a signed checkpoint commits to (an
    /// auditor holds either the old checkpoint or the new one). Returns which end matched.
    pub fn matches_checkpoint(&self, cp: &crate::Checkpoint) -> Result<ProofEnd> {
        if cp.size == self.new_size && cp.root == self.new_root {
            Ok(ProofEnd::New)
        } else if cp.size == self.old_size && cp.root == self.old_root {
            Ok(ProofEnd::Old)
        } else {
            Err(Error::verification(format!(
                "neither end of the proof ({} or {} leaves) is the checkpoint's tree of {} leaves with root {}",
                self.old_size,
                self.new_size,
                cp.size,
                merkle::to_hex(&cp.root)
            )))
        }
    }
}

/// Which end of a consistency proof a checkpoint matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofEnd {
    /// The older tree.
    Old,
    /// The newer tree.
    New,
}

impl std::str::FromStr for ConsistencyProof {
    type Err = Error;

    /// Same as [`ConsistencyProof::from_json`].
    fn from_str(s: &str) -> Result<Self> {
        Self::from_json(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{consistency_ranges, fold_subtrees, inclusion_ranges, subtrees, Frontier};
    use crate::ErrorCode;

    fn leaves(alg: HashAlg, n: u64) -> Vec<Hash> {
        (0..n).map(|i| alg.leaf_hash(&i.to_be_bytes())).collect()
    }

    /// Hash of a proof range from leaf hashes, the way storage will do it.
    fn range_hash(alg: HashAlg, leaves: &[Hash], r: std::ops::Range<u64>) -> Hash {
        let mut nodes = std::collections::HashMap::new();
        let mut f = Frontier::new();
        for l in leaves {
            f.push(alg, *l, |id, h| {
                nodes.insert(id, *h);
            });
        }
        let hs: Vec<Hash> = subtrees(r.start, r.end)
            .iter()
            .map(|id| nodes[id])
            .collect();
        fold_subtrees(alg, &hs)
    }

    fn inclusion(alg: HashAlg, n: u64, i: u64) -> InclusionProof {
        let ls = leaves(alg, n);
        InclusionProof {
            hash: alg,
            index: i,
            tree_size: n,
            leaf_hash: ls[i as usize],
            root: range_hash(alg, &ls, 0..n),
            path: inclusion_ranges(i, n)
                .unwrap()
                .into_iter()
                .map(|r| range_hash(alg, &ls, r))
                .collect(),
        }
    }

    fn consistency(alg: HashAlg, m: u64, n: u64) -> ConsistencyProof {
        let ls = leaves(alg, n);
        ConsistencyProof {
            hash: alg,
            old_size: m,
            new_size: n,
            old_root: range_hash(alg, &ls, 0..m),
            new_root: range_hash(alg, &ls, 0..n),
            path: consistency_ranges(m, n)
                .unwrap()
                .into_iter()
                .map(|r| range_hash(alg, &ls, r))
                .collect(),
        }
    }

    #[test]
    fn inclusion_json_round_trip_and_field_order() {
        let p = inclusion(HashAlg::Sha256, 10, 5);
        p.verify().unwrap();
        p.verify_leaf(&5u64.to_be_bytes()).unwrap();
        assert_eq!(
            p.verify_leaf(b"other").unwrap_err().code(),
            ErrorCode::VerificationFailed
        );
        let json = p.to_json();
        assert!(
            json.starts_with(r#"{"hash":"sha256","index":5,"tree_size":10,"leaf_hash":""#),
            "{json}"
        );
        let keys = ["\"leaf_hash\"", "\"root\"", "\"path\""];
        let pos: Vec<usize> = keys.iter().map(|k| json.find(k).unwrap()).collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{json}");
        assert!(!json.contains(' ') && json == json.to_lowercase());
        assert_eq!(InclusionProof::from_json(&json).unwrap(), p);
        assert_eq!(json.parse::<InclusionProof>().unwrap(), p);
    }

    #[test]
    fn consistency_json_round_trip_and_field_order() {
        let p = consistency(HashAlg::Blake3, 4, 10);
        p.verify().unwrap();
        let json = p.to_json();
        assert!(
            json.starts_with(r#"{"hash":"blake3","old_size":4,"new_size":10,"old_root":""#),
            "{json}"
        );
        assert!(json.find("\"new_root\"").unwrap() < json.find("\"path\"").unwrap());
        assert_eq!(ConsistencyProof::from_json(&json).unwrap(), p);
        assert_eq!(json.parse::<ConsistencyProof>().unwrap(), p);
    }

    #[test]
    fn reading_is_lenient_about_order_case_and_extra_fields() {
        let p = inclusion(HashAlg::Blake3, 7, 3);
        let mut v: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
        let obj = v.as_object_mut().unwrap();
        obj.insert("comment".into(), serde_json::json!({"x": [1, 2]}));
        let root = obj["root"].as_str().unwrap().to_uppercase();
        obj.insert("root".into(), root.into());
        // Reversed field order and pretty printing.
        let mut pairs: Vec<_> = obj.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        pairs.reverse();
        let text = format!(
            "{{\n{}\n}}",
            pairs
                .iter()
                .map(|(k, v)| format!("  {:?}: {}", k, v))
                .collect::<Vec<_>>()
                .join(",\n")
        );
        let back = InclusionProof::from_json(&text).unwrap();
        assert_eq!(back, p);
        // Escaped characters inside a hex string must still parse (serde_json cannot borrow them).
        let h = merkle::to_hex(&p.leaf_hash);
        let escaped = p
            .to_json()
            .replace(&h, &format!("\\u00{:x}{}", h.as_bytes()[0], &h[1..]));
        assert_eq!(InclusionProof::from_json(&escaped).unwrap(), p);
    }

    #[test]
    fn malformed_inputs_are_errors() {
        let good = inclusion(HashAlg::Sha256, 5, 2).to_json();
        let bad_cases = [
            String::new(),
            "null".to_string(),
            "[]".to_string(),
            good.replace("sha256", "md5"),
            good.replace("\"index\":2", "\"index\":-1"),
            good.replace("\"index\":2", "\"index\":\"2\""),
            good.replace("\"tree_size\":5,", ""),
            good.replacen("\"path\":[\"", "\"path\":[\"0", 1),
            good.replacen("\"path\":[\"", "\"path\":[\"zz", 1),
            good.replace("\"path\":[", "\"path\":[1,"),
            good.replace("\"path\":[", "\"path\":{").replace("]}", "}}"),
            good[..good.len() - 1].to_string(),
        ];
        for bad in &bad_cases {
            let err = InclusionProof::from_json(bad).unwrap_err();
            assert_eq!(err.code(), ErrorCode::Malformed, "{bad}");
            assert!(err.to_string().contains("inclusion proof"), "{err}");
        }
        let err = ConsistencyProof::from_json(&good).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Malformed);
        assert!(err.to_string().contains("consistency proof"), "{err}");
    }

    #[test]
    fn impossible_proofs_are_errors_not_panics() {
        let mut p = inclusion(HashAlg::Sha256, 5, 2);
        p.index = 5;
        assert_eq!(p.verify().unwrap_err().code(), ErrorCode::OutOfRange);
        p.index = 2;
        p.tree_size = 0;
        assert_eq!(p.verify().unwrap_err().code(), ErrorCode::OutOfRange);
        p.tree_size = u64::MAX;
        assert!(p.verify().is_err());
        let mut c = consistency(HashAlg::Sha256, 3, 5);
        c.old_size = 6;
        assert_eq!(c.verify().unwrap_err().code(), ErrorCode::OutOfRange);
        c.old_size = 3;
        c.path.pop();
        // A path one hash short is a proof that does not verify, not unparseable input.
        assert_eq!(
            c.verify().unwrap_err().code(),
            ErrorCode::VerificationFailed
        );
        let json = r#"{"hash":"sha256","old_size":18446744073709551615,"new_size":18446744073709551615,
            "old_root":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "new_root":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","path":[]}"#;
        ConsistencyProof::from_json(json).unwrap().verify().unwrap();
    }

    #[test]
    fn every_small_proof_verifies() {
        for alg in [HashAlg::Blake3, HashAlg::Sha256] {
            for n in 1..=9 {
                for i in 0..n {
                    inclusion(alg, n, i).verify().unwrap();
                }
                for m in 0..=n {
                    consistency(alg, m, n).verify().unwrap();
                }
            }
        }
    }
}
