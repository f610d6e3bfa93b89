//! Evidence bundles: the entries that answer a question, each with its inclusion proof against
//! one signed checkpoint, in one JSON file that anyone can check without trailseal's ledger.
//!
//! The format is specified in `docs/BUNDLE.md`. In short:
//!
//! ```text
//! {
//!   "format": "trailseal-bundle/1",
//!   "origin": "example.com/payments/audit",
//!   "hash": "sha256",
//!   "tree_size": 27,
//!   "root": "<hex>",
//!   "key_name": "example.com/payments/audit",
//!   "checkpoint": "<the signed checkpoint note>",
//!   "checkpoint_timestamp": "<base64 RFC 3161 token over the note, when the ledger has one>",
//!   "entries": [
//!     {
//!       "index": 14,
//!       "leaf_hash": "<hex>",
//!       "path": [
//!         "<hex>"
//!       ],
//!       "entry": {<the leaf bytes: the entry's RFC 8785 canonical JSON, verbatim>}
//!     },
//!     {
//!       "index": 15,
//!       "leaf_hash": "<hex>",
//!       "path": [],
//!       "pruned": {"at": "<time>", "by": 40, "rules_version": "v1"}
//!     }
//!   ]
//! }
//! ```
//!
//! An entry with sealed personal fields (SPEC section 10) whose values are still held carries
//! `"openings"` beside `"entry"`: each value with its salt, checked against the leaf's
//! commitments, and put back into the entry the check reports (once erased, it has none).
//!
//! An entry that was pruned (SPEC 8.1) has no content left: the bundle carries, in place of
//! `entry`, where it went (the `retention.pruned` entry's index and time, the rules version),
//! and proves only that its leaf hash is in the log at its index.
//!
//! A bundle has exactly one spelling: [`Bundle::to_text`] writes it and [`Bundle::parse`]
//! accepts only text equal to what `to_text` writes for the parsed content. So a changed
//! byte either breaks the JSON, or changes a value that a check covers (signature, origin,
//! size, root, key name, index, leaf hash, path, entry), or makes the text non-canonical;
//! every case fails [`verify_bundle`].

use std::collections::BTreeSet;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::checkpoint::Checkpoint;
use crate::entry::{canonical_json, Timestamp};
use crate::error::{Error, Result};
use crate::gate::all_matches;
use crate::key_chain::{follow_chain, BundleRotation};
use crate::ledger::{Ledger, LedgerKind};
use crate::merkle::{self, Hash, HashAlg};
use crate::note::{Note, Signer, Verifier};
use crate::proof::InclusionProof;
use crate::proof_check::Outside;
use crate::query::{Found, Order, Query};
use crate::retention::{PruneRecord, PrunedLeaf, RETENTION_PRUNED};
use crate::timestamp_token::{verify_timestamp_token, AttestedTime};
use crate::trace::TraceOptions;

/// The `format` value of this version.
pub const FORMAT: &str = "trailseal-bundle/1";

/// Most entries one bundle holds.
pub const MAX_ENTRIES: usize = 10_000;

const TOP_FIELDS: [&str; 8] = [
    "format",
    "origin",
    "hash",
    "tree_size",
    "root",
    "key_name",
    "checkpoint",
    "entries",
];
/// Top-level fields a bundle may lack: the time-stamp token exists only for checkpoints a
/// time-stamp authority stamped.
/// `key_rotations` exists only when the log's key was rotated before the bundle's checkpoint.
const OPTIONAL_TOP_FIELDS: [&str; 2] = ["checkpoint_timestamp", "key_rotations"];
const ROTATION_FIELDS: [&str; 4] = ["index", "checkpoint", "path", "entry"];
const ENTRY_FIELDS: [&str; 3] = ["index", "leaf_hash", "path"];
/// An entry has exactly one of `entry` (its content) and `pruned` (where it went); `openings`
/// goes only with `entry`.
const CONTENT_FIELDS: [&str; 3] = ["entry", "pruned", "openings"];
const PRUNED_FIELDS: [&str; 3] = ["at", "by", "rules_version"];

/// What a bundle holds for one index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BundleContent {
    /// The exact leaf bytes: the entry's canonical JSON.
    Entry(String),
    /// The entry was pruned: its content is gone, only its leaf hash is proven.
    Pruned {
        /// The index of the `retention.pruned` entry that removed it.
        by: u64,
        /// That entry's `time`.
        at: Timestamp,
        /// The retention rules version it was pruned under.
        rules_version: String,
    },
}

/// One entry of a bundle, as recorded (or where it was pruned), with its audit path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleEntry {
    /// Its index in the log.
    pub index: u64,
    /// Its content, or where it was pruned.
    pub content: BundleContent,
    /// `H(0x00 || leaf)`.
    pub leaf_hash: Hash,
    /// The inclusion proof's audit path in the tree of the bundle's `tree_size`.
    pub path: Vec<Hash>,
    /// For an entry with sealed personal fields (SPEC section 10) whose values are still held:
    /// its openings' canonical JSON (`{"<field>": {"salt", "value"}}`), checked against the
    /// leaf's commitments and put back into the entry the bundle reports.
    pub openings: Option<String>,
}

impl BundleEntry {
    /// The entry's leaf bytes (its canonical JSON), or `None` when it was pruned.
    pub fn leaf(&self) -> Option<&str> {
        match &self.content {
            BundleContent::Entry(leaf) => Some(leaf),
            BundleContent::Pruned { .. } => None,
        }
    }
}

/// An evidence bundle (see the [module documentation](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// The log's origin (the checkpoint's first line).
    pub origin: String,
    /// The tree hash.
    pub hash: HashAlg,
    /// The tree size every proof is for.
    pub tree_size: u64,
    /// The root at that size.
    pub root: Hash,
    /// The name of the key that signed the checkpoint.
    pub key_name: String,
    /// The signed checkpoint note (C2SP).
    pub checkpoint: String,
    /// The RFC 3161 time-stamp token (DER) the ledger kept for that note, if any.
    pub checkpoint_timestamp: Option<Vec<u8>>,
    /// The log's key rotations before the checkpoint (SPEC 4.1), oldest first: the chain from
    /// an earlier key to the one that signed the checkpoint.
    pub key_rotations: Vec<BundleRotation>,
    /// The entries, in ascending index order.
    pub entries: Vec<BundleEntry>,
}

/// What a bundle is for.
// Made once per bundle, so the size of the `Query` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every entry on a subject `(type, id)`, oldest first.
    Subject(String, String),
    /// Every entry a query matches (its pages followed, up to [`MAX_ENTRIES`]); or, when its
    /// `limit` is above 0, the one page `Ledger::query` returns for it. Either way the bundle
    /// lists the entries by index. A query with no filter (no term, no `since` or `until`)
    /// is refused with [`Error::InvalidArgument`] rather than bundling the whole ledger.
    Query(Query),
    /// The entries of a trace from `index` (backward, or forward). A trace that would be
    /// cut (more than 10,000 entries, or links beyond `options.depth`) is refused with
    /// [`Error::InvalidArgument`] saying so: a bundle never holds part of a trace silently.
    Trace {
        /// Where the trace starts.
        index: u64,
        /// Follow links forward.
        forward: bool,
        /// What the trace follows (default: git history not followed, no depth limit).
        options: TraceOptions,
    },
    /// These entries.
    Indexes(Vec<u64>),
}

impl Selection {
    /// The JSON form every binding accepts: `{"subject": "T:ID"}`, `{"index": N, "forward":
    /// bool}` (a trace), `{"query": {...}}` ([`Query::from_json`] form) or `{"indexes": [N,
    /// ...]}`; exactly one of them.
    pub fn from_json(v: &serde_json::Value) -> Result<Selection> {
        let bad = |why: String| Error::Malformed {
            what: "bundle selection",
            reason: why,
        };
        let obj = v
            .as_object()
            .ok_or_else(|| bad("must be an object".into()))?;
        let known = [
            "subject", "index", "forward", "depth", "ancestry", "query", "indexes",
        ];
        if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(bad(format!("unknown key {k:?}")));
        }
        let chosen: Vec<&str> = ["subject", "index", "query", "indexes"]
            .into_iter()
            .filter(|k| obj.get(*k).is_some_and(|v| !v.is_null()))
            .collect();
        if chosen.len() != 1 {
            return Err(bad(
                "give exactly one of subject, index, query, indexes".into()
            ));
        }
        for k in ["forward", "depth", "ancestry"] {
            if chosen[0] != "index" && obj.get(k).is_some_and(|v| !v.is_null()) {
                return Err(bad(format!("{k} goes with index (a trace) only")));
            }
        }
        match chosen[0] {
            "subject" => {
                let s = obj["subject"]
                    .as_str()
                    .ok_or_else(|| bad("subject must be \"TYPE:ID\"".into()))?;
                let (t, i) = crate::query::split_subject(s)?;
                Ok(Selection::Subject(t, i))
            }
            "index" => Ok(Selection::Trace {
                index: obj["index"]
                    .as_u64()
                    .ok_or_else(|| bad("index must be a number".into()))?,
                forward: match obj.get("forward") {
                    None | Some(serde_json::Value::Null) => false,
                    Some(f) => f
                        .as_bool()
                        .ok_or_else(|| bad("forward must be true or false".into()))?,
                },
                options: TraceOptions {
                    depth: match obj.get("depth") {
                        None | Some(serde_json::Value::Null) => None,
                        Some(d) => Some(
                            d.as_u64()
                                .ok_or_else(|| bad("depth must be a number".into()))?,
                        ),
                    },
                    ancestry: match obj.get("ancestry") {
                        None | Some(serde_json::Value::Null) => false,
                        Some(a) => a
                            .as_bool()
                            .ok_or_else(|| bad("ancestry must be true or false".into()))?,
                    },
                    ..TraceOptions::default()
                },
            }),
            "query" => Ok(Selection::Query(Query::from_json(&obj["query"])?)),
            _ => Ok(Selection::Indexes(
                obj["indexes"]
                    .as_array()
                    .ok_or_else(|| bad("indexes must be a list".into()))?
                    .iter()
                    .map(|i| {
                        i.as_u64()
                            .ok_or_else(|| bad("indexes must be numbers".into()))
                    })
                    .collect::<Result<_>>()?,
            )),
        }
    }
}

/// What a bundle's proofs are made against.
#[derive(Clone, Copy, Debug)]
pub enum Anchor<'a> {
    /// A checkpoint signed now with this key (and kept in the ledger).
    Sign(&'a Signer),
    /// A checkpoint signed earlier, for example one a witness cosigned, with the verifier key
    /// that signed it.
    Checkpoint(Outside<'a>),
}

impl<'a> Anchor<'a> {
    /// The anchor a front end's optional arguments name: a signer, or a checkpoint with its
    /// verifier key; exactly one of the two ([`Error::InvalidArgument`] otherwise, as for half
    /// of a checkpoint pair).
    pub fn choose(
        signer: Option<&'a Signer>,
        checkpoint: Option<&'a str>,
        verifier_key: Option<&'a str>,
    ) -> Result<Self> {
        match (signer, Outside::pair(checkpoint, verifier_key)?) {
            (Some(s), None) => Ok(Anchor::Sign(s)),
            (None, Some(o)) => Ok(Anchor::Checkpoint(o)),
            (Some(_), Some(_)) => Err(Error::InvalidArgument(
                "give a signer (sign a checkpoint now) or a checkpoint and its verifier key (prove against one signed earlier), not both".into(),
            )),
            (None, None) => Err(Error::InvalidArgument(
                "give a signer (sign a checkpoint now) or a checkpoint and its verifier key (prove against one signed earlier)".into(),
            )),
        }
    }
}

/// What [`verify_bundle`] checked.
#[derive(Clone, Debug, PartialEq)]
pub struct BundleReport {
    /// The log's origin.
    pub origin: String,
    /// The tree hash.
    pub hash: HashAlg,
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// The checkpoint's root.
    pub root: Hash,
    /// The key that signed it.
    pub key_name: String,
    /// Every entry with content, proven to be in the log at `index`.
    pub entries: Vec<Found>,
    /// Every pruned entry: its leaf hash proven to be in the log at `index`, and where the
    /// bundle says it went.
    pub pruned: Vec<PrunedLeaf>,
    /// The time the bundle's time-stamp token attests, when it was checked
    /// ([`verify_bundle_with_tsa`]).
    pub attested: Option<AttestedTime>,
}

impl BundleReport {
    /// `{"ok": true, "origin", "hash", "tree_size", "root", "key_name", "entries": [{"index",
    /// "entry"}]}`; `"pruned"` ([`PrunedLeaf::to_json`] each) when the bundle holds pruned
    /// entries, and `"attested"` ([`AttestedTime::to_json`]) when a token was checked.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "ok": true,
            "origin": self.origin,
            "hash": self.hash.name(),
            "tree_size": self.tree_size,
            "root": merkle::to_hex(&self.root),
            "key_name": self.key_name,
            "entries": self.entries.iter().map(Found::to_json).collect::<Vec<_>>(),
        });
        if !self.pruned.is_empty() {
            v["pruned"] = self.pruned.iter().map(PrunedLeaf::to_json).collect();
        }
        if let Some(a) = &self.attested {
            v["attested"] = a.to_json();
        }
        v
    }
}

/// A JSON string as RFC 8785 writes it.
fn js(s: &str) -> String {
    String::from_utf8(canonical_json(&Value::String(s.to_owned()))).unwrap_or_default()
}

impl Bundle {
    /// The bundle file: the one canonical spelling (two-space indentation, fields in format
    /// order, each `entry` as its canonical JSON on one line, a final newline).
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(1024 + self.entries.len() * 2048);
        s.push_str("{\n");
        s.push_str(&format!("  \"format\": {},\n", js(FORMAT)));
        s.push_str(&format!("  \"origin\": {},\n", js(&self.origin)));
        s.push_str(&format!("  \"hash\": {},\n", js(self.hash.name())));
        s.push_str(&format!("  \"tree_size\": {},\n", self.tree_size));
        s.push_str(&format!(
            "  \"root\": \"{}\",\n",
            merkle::to_hex(&self.root)
        ));
        s.push_str(&format!("  \"key_name\": {},\n", js(&self.key_name)));
        s.push_str(&format!("  \"checkpoint\": {},\n", js(&self.checkpoint)));
        if let Some(token) = &self.checkpoint_timestamp {
            s.push_str(&format!(
                "  \"checkpoint_timestamp\": \"{}\",\n",
                STANDARD.encode(token)
            ));
        }
        if !self.key_rotations.is_empty() {
            s.push_str("  \"key_rotations\": [\n");
            for (n, r) in self.key_rotations.iter().enumerate() {
                let comma = if n + 1 < self.key_rotations.len() {
                    ","
                } else {
                    ""
                };
                s.push_str(&format!("    {}{comma}\n", r.to_line()));
            }
            s.push_str("  ],\n");
        }
        if self.entries.is_empty() {
            s.push_str("  \"entries\": []\n");
        } else {
            s.push_str("  \"entries\": [\n");
            for (n, e) in self.entries.iter().enumerate() {
                s.push_str("    {\n");
                s.push_str(&format!("      \"index\": {},\n", e.index));
                s.push_str(&format!(
                    "      \"leaf_hash\": \"{}\",\n",
                    merkle::to_hex(&e.leaf_hash)
                ));
                if e.path.is_empty() {
                    s.push_str("      \"path\": [],\n");
                } else {
                    s.push_str("      \"path\": [\n");
                    for (k, h) in e.path.iter().enumerate() {
                        let comma = if k + 1 < e.path.len() { "," } else { "" };
                        s.push_str(&format!("        \"{}\"{comma}\n", merkle::to_hex(h)));
                    }
                    s.push_str("      ],\n");
                }
                match &e.content {
                    BundleContent::Entry(leaf) => match &e.openings {
                        None => s.push_str(&format!("      \"entry\": {leaf}\n")),
                        Some(o) => s.push_str(&format!(
                            "      \"entry\": {leaf},\n      \"openings\": {o}\n"
                        )),
                    },
                    BundleContent::Pruned {
                        by,
                        at,
                        rules_version,
                    } => {
                        let mark = json!({"at": at.to_string(), "by": by,
                                          "rules_version": rules_version});
                        s.push_str(&format!(
                            "      \"pruned\": {}\n",
                            String::from_utf8_lossy(&canonical_json(&mark))
                        ));
                    }
                }
                let comma = if n + 1 < self.entries.len() { "," } else { "" };
                s.push_str(&format!("    }}{comma}\n"));
            }
            s.push_str("  ]\n");
        }
        s.push_str("}\n");
        s
    }

    /// Parse a bundle file. Refused as [`Error::Malformed`] when it is not JSON, repeats a key,
    /// lacks or adds a field, has a field of the wrong type, an unknown `format` or hash name,
    /// no entries, or entries out of index order; as [`Error::VerificationFailed`] when it is
    /// well-formed but not byte for byte the canonical spelling of its content (edited or
    /// reformatted). Checks no signature or proof: see [`Bundle::verify`].
    pub fn parse(text: &str) -> Result<Bundle> {
        let bad = |why: String| Error::malformed("bundle", why);
        let v = crate::entry::parse_json(text.as_bytes()).map_err(|e| bad(e.to_string()))?;
        let obj = fields(&v, &TOP_FIELDS, &OPTIONAL_TOP_FIELDS, "(bundle)")?;
        let format = string(obj, "format")?;
        if format != FORMAT {
            return Err(bad(format!("`format` is {format:?}, expected {FORMAT:?}")));
        }
        let hash: HashAlg = string(obj, "hash")?.parse()?;
        let entries = obj["entries"]
            .as_array()
            .ok_or_else(|| bad("`entries` must be an array".into()))?;
        if entries.is_empty() {
            return Err(bad(
                "`entries` is empty: a bundle holds at least one entry".into()
            ));
        }
        let mut out = Vec::with_capacity(entries.len());
        for (n, e) in entries.iter().enumerate() {
            let at = format!("entries[{n}]");
            let o = fields(e, &ENTRY_FIELDS, &CONTENT_FIELDS, &at)?;
            let index = number(o, "index", &at)?;
            if let Some(prev) = out.last().map(|p: &BundleEntry| p.index) {
                if index <= prev {
                    return Err(bad(format!(
                        "{at}.index {index}: entries must be in ascending index order, each once"
                    )));
                }
            }
            let openings = match (o.get("openings"), o.get("entry")) {
                (None, _) => None,
                (Some(v), Some(_)) if v.is_object() => {
                    Some(String::from_utf8(canonical_json(v)).map_err(|e| {
                        Error::Internal(format!("canonical JSON is not UTF-8: {e}"))
                    })?)
                }
                _ => {
                    return Err(bad(format!(
                        "{at}.openings must be an object, beside \"entry\""
                    )))
                }
            };
            let content = match (o.get("entry"), o.get("pruned")) {
                (Some(entry), None) => {
                    if !entry.is_object() {
                        return Err(bad(format!("{at}.entry must be an object")));
                    }
                    BundleContent::Entry(String::from_utf8(canonical_json(entry)).map_err(|e| {
                        Error::Internal(format!("canonical JSON is not UTF-8: {e}"))
                    })?)
                }
                (None, Some(p)) => {
                    let at = format!("{at}.pruned");
                    let p = fields(p, &PRUNED_FIELDS, &[], &at)?;
                    BundleContent::Pruned {
                        by: number(p, "by", &at)?,
                        at: Timestamp::parse(&string_at(p, "at", &at)?)
                            .map_err(|e| bad(format!("{at}.at: {e}")))?,
                        rules_version: string_at(p, "rules_version", &at)?,
                    }
                }
                _ => {
                    return Err(bad(format!(
                        "{at}: exactly one of \"entry\" (its content) or \"pruned\" (where it \
                         went)"
                    )))
                }
            };
            let path = o["path"]
                .as_array()
                .ok_or_else(|| bad(format!("{at}.path must be an array")))?
                .iter()
                .map(|h| {
                    h.as_str()
                        .ok_or_else(|| bad(format!("{at}.path must hold hex strings")))
                        .and_then(|s| merkle::from_hex("hash", s))
                })
                .collect::<Result<Vec<_>>>()?;
            out.push(BundleEntry {
                index,
                content,
                leaf_hash: merkle::from_hex("hash", &string_at(o, "leaf_hash", &at)?)?,
                path,
                openings,
            });
        }
        let b = Bundle {
            origin: string(obj, "origin")?,
            hash,
            tree_size: number(obj, "tree_size", "(bundle)")?,
            root: merkle::from_hex("hash", &string(obj, "root")?)?,
            key_name: string(obj, "key_name")?,
            checkpoint: string(obj, "checkpoint")?,
            checkpoint_timestamp: match obj.get("checkpoint_timestamp") {
                None => None,
                Some(_) => Some(
                    STANDARD
                        .decode(string(obj, "checkpoint_timestamp")?)
                        .map_err(|e| bad(format!("`checkpoint_timestamp` is not base64: {e}")))?,
                ),
            },
            key_rotations: match obj.get("key_rotations") {
                None => Vec::new(),
                Some(v) => v
                    .as_array()
                    .ok_or_else(|| bad("`key_rotations` must be an array".into()))?
                    .iter()
                    .enumerate()
                    .map(|(n, r)| {
                        let at = format!("key_rotations[{n}]");
                        BundleRotation::from_object(fields(r, &ROTATION_FIELDS, &[], &at)?, &at)
                    })
                    .collect::<Result<Vec<_>>>()?,
            },
            entries: out,
        };
        // The note's signature base64 has spare bits a lenient decoder ignores (as Go's does):
        // a bundle's note has one spelling, the log's signature line first, then witness
        // cosignatures (one per witness), all in canonical base64.
        if let Ok(note) = Note::parse(&b.checkpoint) {
            if !one_spelling(&note) || canonical_note(&note) != b.checkpoint {
                return Err(Error::verification(
                    "the checkpoint note is not in its one canonical form (the log's \
                     signature line, then at most one cosignature per witness, canonical base64)",
                ));
            }
        }
        let canonical = b.to_text();
        if canonical != text {
            let at = canonical
                .bytes()
                .zip(text.bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(canonical.len().min(text.len()));
            let line = text.as_bytes()[..at]
                .iter()
                .filter(|&&c| c == b'\n')
                .count()
                + 1;
            return Err(Error::verification(format!(
                "the bundle is not in its one canonical form (first difference at byte {at}, \
                 line {line}): it was edited or reformatted"
            )));
        }
        Ok(b)
    }

    /// Check the checkpoint's signature by `verifier`, that the bundle's origin, size and root
    /// are the checkpoint's and its key name the verifier's, and for every entry that its
    /// canonical JSON hashes to its `leaf_hash` and its path leads from there to the root.
    pub fn verify(&self, trusted: &Verifier) -> Result<BundleReport> {
        // A checkpoint signed by a later key verifies only through the rotation chain from
        // the trusted one.
        let signer_key = follow_chain(
            trusted,
            &self.key_rotations,
            &self.origin,
            self.hash,
            self.tree_size,
        )?;
        let verifier = &signer_key;
        if self.key_name != verifier.name() {
            return Err(Error::verification(format!(
                "the bundle names the key {:?}, the verifier key is {:?}",
                self.key_name,
                verifier.name()
            )));
        }
        // The file parsed; a checkpoint inside it that does not open is a failed check.
        let cp = Checkpoint::verify(&self.checkpoint, verifier)
            .map_err(|e| Error::verification(format!("the checkpoint: {}", strip(&e))))?;
        if cp.origin != self.origin || cp.size != self.tree_size || cp.root != self.root {
            return Err(Error::verification(format!(
                "the bundle says origin {:?}, size {}, root {}; its signed checkpoint says {:?}, {}, {}",
                self.origin,
                self.tree_size,
                merkle::to_hex(&self.root),
                cp.origin,
                cp.size,
                merkle::to_hex(&cp.root)
            )));
        }
        let mut entries = Vec::with_capacity(self.entries.len());
        let mut pruned = Vec::new();
        for e in &self.entries {
            let proof = InclusionProof {
                hash: self.hash,
                index: e.index,
                tree_size: self.tree_size,
                leaf_hash: e.leaf_hash,
                root: self.root,
                path: e.path.clone(),
            };
            let failed =
                |err: Error| Error::verification(format!("entry {}: {}", e.index, strip(&err)));
            match &e.content {
                BundleContent::Entry(leaf) => {
                    proof.verify_leaf(leaf.as_bytes()).map_err(failed)?;
                    let mut entry: Value = serde_json::from_str(leaf).map_err(|err| {
                        Error::Internal(format!("canonical JSON does not parse: {err}"))
                    })?;
                    // Sealed values come back only when each opens its commitment.
                    if let Some(o) = &e.openings {
                        crate::entry::open(&mut entry, o.as_bytes(), e.index).map_err(|err| {
                            Error::verification(format!(
                                "entry {}: its openings do not open its commitments: {}",
                                e.index,
                                strip(&err)
                            ))
                        })?;
                    }
                    entries.push(Found {
                        index: e.index,
                        entry,
                    });
                }
                // Nothing to hash: the proof is of the leaf hash alone, and the entry is
                // reported as pruned, never as content.
                BundleContent::Pruned {
                    by,
                    at,
                    rules_version,
                } => {
                    proof.verify().map_err(failed)?;
                    pruned.push(PrunedLeaf {
                        index: e.index,
                        leaf_hash: e.leaf_hash,
                        by: *by,
                        pruned_at: *at,
                        rules_version: rules_version.clone(),
                    });
                }
            }
        }
        // Where a pruned entry went is the ledger's word, unless the bundle also holds the
        // pruning entry it names: then that entry must say so.
        for p in &pruned {
            if let Some(record) = entries.iter().find(|f| f.index == p.by) {
                if let Some(why) = names_pruning(record, p) {
                    return Err(Error::verification(format!(
                        "entry {} is said to be pruned by entry {}, which {why}",
                        p.index, p.by
                    )));
                }
            }
        }
        Ok(BundleReport {
            origin: self.origin.clone(),
            hash: self.hash,
            tree_size: self.tree_size,
            root: self.root,
            key_name: self.key_name.clone(),
            entries,
            pruned,
            attested: None,
        })
    }

    /// [`Bundle::verify`], and the bundle's time-stamp token checked as a time-stamp of its
    /// checkpoint note by a TSA under the CA in `ca_pem` (see
    /// [`verify_timestamp_token`]); the report carries the attested time. A bundle without
    /// a token fails: the caller asked for trusted time.
    pub fn verify_with_tsa(&self, verifier: &Verifier, ca_pem: &[u8]) -> Result<BundleReport> {
        let mut report = self.verify(verifier)?;
        let token = self.checkpoint_timestamp.as_ref().ok_or_else(|| {
            Error::verification("the bundle carries no time-stamp token for its checkpoint")
        })?;
        let log_note = log_signed_note(&self.checkpoint)?;
        let attested = verify_timestamp_token(token, log_note.as_bytes(), ca_pem).map_err(|e| {
            match e {
                // The CA is the caller's input; the token is the bundle's, and a token
                // that does not parse is a failed check like any other.
                Error::Malformed { what, .. } if what.starts_with("CA") => e,
                e => Error::verification(format!("the time-stamp token: {}", strip(&e))),
            }
        })?;
        report.attested = Some(attested);
        Ok(report)
    }
}

/// The checkpoint note as the log signed it, and as a time-stamp authority time-stamped it:
/// the body and the log's own signature line, which a bundle puts first. Witness cosignature
/// lines are added to a checkpoint later, at any time, so they are not part of what was
/// time-stamped (SPEC sections 5 and 6).
pub(crate) fn log_signed_note(text: &str) -> Result<String> {
    let mut note = Note::parse(text)?;
    note.signatures.truncate(1);
    Ok(canonical_note(&note))
}

/// A parsed note written back: its body, the separating empty line, and each signature line
/// with canonical base64.
fn canonical_note(note: &Note) -> String {
    let mut out = format!("{}\n", note.body);
    for sig in &note.signatures {
        let mut raw = sig.key_hash.to_be_bytes().to_vec();
        raw.extend_from_slice(&sig.signature);
        out.push_str(&format!("\u{2014} {} {}\n", sig.name, STANDARD.encode(raw)));
    }
    out
}

/// Whether a parsed bundle note is in the form [`log_and_cosignatures`] writes.
fn one_spelling(note: &Note) -> bool {
    let Some((_, rest)) = note.signatures.split_first() else {
        return false;
    };
    rest.iter()
        .enumerate()
        .all(|(i, s)| s.signature.len() == 8 + 64 && !rest[..i].iter().any(|o| o.name == s.name))
        && rest.iter().all(|s| s.name != note.signatures[0].name)
}

/// `note` with the signature line of `verifier` first, then the witness cosignatures it
/// carries (one per witness name, Ed25519 cosignature/v1 lines only), so that a bundle
/// proven against a cosigned checkpoint carries its witnesses' word; other lines (keys
/// nobody can tell apart from noise) are left out.
pub(crate) fn log_and_cosignatures(note: &str, verifier: &Verifier) -> Result<String> {
    let mut parsed = Note::parse(note)?;
    let mut log = Vec::new();
    let mut cosigs: Vec<crate::note::NoteSignature> = Vec::new();
    for s in parsed.signatures.drain(..) {
        if s.name == verifier.name() && s.key_hash == verifier.key_hash() {
            log.push(s);
        } else if s.name != verifier.name()
            && s.signature.len() == 8 + 64
            && !cosigs.iter().any(|c| c.name == s.name)
        {
            cosigs.push(s);
        }
    }
    log.truncate(1);
    parsed.signatures = log;
    if parsed.signatures.is_empty() {
        return Err(Error::verification(format!(
            "the checkpoint carries no signature by {}",
            verifier.name()
        )));
    }
    parsed.signatures.extend(cosigs);
    Ok(canonical_note(&parsed))
}

/// Why the entry `record` does not record the pruning `p` names (its kind, a range holding
/// `p`'s index, its time and rules version), or `None` when it does.
fn names_pruning(record: &Found, p: &PrunedLeaf) -> Option<&'static str> {
    let e = &record.entry;
    if e["action"] != RETENTION_PRUNED {
        return Some("is not a pruning entry");
    }
    let Ok(r) = PruneRecord::from_entry(record.index, e) else {
        return Some("is not a well-formed pruning record");
    };
    if !r.ranges.iter().any(|x| x.range.contains(&p.index)) {
        return Some("does not name it");
    }
    if e["time"].as_str() != Some(p.pruned_at.to_string().as_str()) {
        return Some("has another time");
    }
    if r.rules_version != p.rules_version {
        return Some("names another rules version");
    }
    None
}

/// An error's message without its kind prefix.
fn strip(e: &Error) -> String {
    match e {
        Error::VerificationFailed(m) => m.clone(),
        other => other.to_string(),
    }
}

fn fields<'a>(
    v: &'a Value,
    required: &[&str],
    optional: &[&str],
    at: &str,
) -> Result<&'a Map<String, Value>> {
    let bad = |why: String| Error::malformed("bundle", why);
    let obj = v
        .as_object()
        .ok_or_else(|| bad(format!("{at} must be an object")))?;
    for k in obj.keys() {
        if !required.contains(&k.as_str()) && !optional.contains(&k.as_str()) {
            return Err(bad(format!("{at}: unknown field {k:?}")));
        }
    }
    for k in required {
        if !obj.contains_key(*k) {
            return Err(bad(format!("{at}: missing field {k:?}")));
        }
    }
    Ok(obj)
}

fn string(obj: &Map<String, Value>, k: &str) -> Result<String> {
    string_at(obj, k, "(bundle)")
}

fn string_at(obj: &Map<String, Value>, k: &str, at: &str) -> Result<String> {
    obj[k]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::malformed("bundle", format!("{at}.{k} must be a string")))
}

fn number(obj: &Map<String, Value>, k: &str, at: &str) -> Result<u64> {
    obj[k].as_u64().ok_or_else(|| {
        Error::malformed("bundle", format!("{at}.{k} must be a non-negative integer"))
    })
}

/// Verify a bundle file with nothing but the verifier key: parse it (one canonical spelling,
/// see [`Bundle::parse`]), then [`Bundle::verify`].
pub fn verify_bundle(text: &str, verifier: &Verifier) -> Result<BundleReport> {
    Bundle::parse(text)?.verify(verifier)
}

/// [`verify_bundle`], and then the witness policy over the bundle's checkpoint: it must carry
/// valid cosignatures from `policy.quorum` of its witnesses ([`Error::VerificationFailed`]).
pub fn verify_bundle_witnessed(
    text: &str,
    verifier: &Verifier,
    policy: &crate::witness::WitnessPolicy,
) -> Result<(BundleReport, crate::witness::CosignedCheckpoint)> {
    let bundle = Bundle::parse(text)?;
    let report = bundle.verify(verifier)?;
    let cosigned = crate::witness::verify_cosigned(&bundle.checkpoint, verifier, policy)?;
    Ok((report, cosigned))
}

/// [`verify_bundle_bytes`], and its time-stamp token checked against the CA in `ca_pem`
/// ([`Bundle::verify_with_tsa`]).
pub fn verify_bundle_with_tsa(
    bytes: &[u8],
    verifier: &Verifier,
    ca_pem: &[u8],
) -> Result<BundleReport> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::malformed("bundle", format!("not UTF-8: {e}")))?;
    Bundle::parse(text)?.verify_with_tsa(verifier, ca_pem)
}

/// [`verify_bundle`] on the file's bytes (bytes that are not UTF-8 are [`Error::Malformed`]).
pub fn verify_bundle_bytes(bytes: &[u8], verifier: &Verifier) -> Result<BundleReport> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::malformed("bundle", format!("not UTF-8: {e}")))?;
    verify_bundle(text, verifier)
}

impl Ledger {
    /// The indexes a selection names, ascending (what [`Ledger::bundle`] would hold). Refuses
    /// an empty selection and one of more than [`MAX_ENTRIES`] entries.
    pub fn selected_indexes(&self, selection: &Selection) -> Result<Vec<u64>> {
        if self.kind() != LedgerKind::Entries {
            return Err(Error::WrongKind {
                expected: LedgerKind::Entries.name(),
                actual: self.kind().name(),
            });
        }
        if let Selection::Query(q) = selection {
            // One answer in every front end: a query with no filter would bundle the whole
            // ledger, which is never what a bundle for an auditor's question means; asking for
            // a subject, a trace or the indexes themselves says what is wanted.
            if q.terms().is_empty() && q.since.is_none() && q.until.is_none() {
                return Err(Error::InvalidArgument(
                    "the query has no filter: a bundle of it would hold every entry".into(),
                ));
            }
        }
        let found: BTreeSet<u64> = match selection {
            Selection::Subject(t, id) => all_matches(
                self,
                Query {
                    subject: Some((t.clone(), id.clone())),
                    order: Order::OldestFirst,
                    ..Query::default()
                },
                MAX_ENTRIES,
                "the subject",
            )?
            .iter()
            .map(|f| f.index)
            .collect(),
            Selection::Query(q) if q.limit > 0 => {
                if q.limit > MAX_ENTRIES {
                    return Err(Error::InvalidArgument(format!(
                        "a bundle holds at most {MAX_ENTRIES} entries"
                    )));
                }
                self.query(q)?.entries.iter().map(|f| f.index).collect()
            }
            Selection::Query(q) => all_matches(self, q.clone(), MAX_ENTRIES, "the query")?
                .iter()
                .map(|f| f.index)
                .collect(),
            Selection::Trace {
                index,
                forward,
                options,
            } => {
                let t = self.trace_with(*index, *forward, options)?;
                if let Some(cut) = &t.cut {
                    return Err(Error::InvalidArgument(format!(
                        "the trace from #{index} is not whole ({cut}): a bundle does not hold \
                         part of a trace; ask for less (a depth limit), or bundle a query"
                    )));
                }
                t.nodes.iter().map(|n| n.found.index).collect()
            }
            Selection::Indexes(ix) => {
                let size = self.size()?;
                if let Some(i) = ix.iter().find(|&&i| i >= size) {
                    return Err(Error::OutOfRange(format!(
                        "index {i} is not below the tree size {size}"
                    )));
                }
                ix.iter().copied().collect()
            }
        };
        if found.is_empty() {
            return Err(Error::InvalidArgument(
                "nothing to bundle: the selection matches no entry".into(),
            ));
        }
        if found.len() > MAX_ENTRIES {
            return Err(Error::InvalidArgument(format!(
                "the selection has {} entries; a bundle holds at most {MAX_ENTRIES}",
                found.len()
            )));
        }
        Ok(found.into_iter().collect())
    }

    /// Bundle the selected entries, proven against a fresh checkpoint of the current size
    /// signed by `signer` (and kept in the ledger, as [`Ledger::checkpoint`] keeps it).
    pub fn bundle(&self, selection: &Selection, signer: &Signer) -> Result<Bundle> {
        let indexes = self.selected_indexes(selection)?;
        let size = self.size()?;
        let note = self.checkpoint(signer, Some(size))?;
        self.bundle_indexes(&indexes, &note, &signer.verifier())
    }

    /// Bundle the selected entries, proven against what `anchor` names: the one call every
    /// front end makes, so that choosing between signing now and a checkpoint signed earlier
    /// is one rule.
    pub fn bundle_anchored(&self, selection: &Selection, anchor: &Anchor<'_>) -> Result<Bundle> {
        match anchor {
            Anchor::Sign(signer) => self.bundle(selection, signer),
            Anchor::Checkpoint(o) => self.bundle_with_checkpoint(selection, o.note, &o.verifier()?),
        }
    }

    /// Bundle the selected entries, proven against a checkpoint signed earlier (for example
    /// one a witness cosigned). The checkpoint must verify with `verifier`, be of this ledger
    /// (origin and root), and cover every selected entry.
    pub fn bundle_with_checkpoint(
        &self,
        selection: &Selection,
        note: &str,
        verifier: &Verifier,
    ) -> Result<Bundle> {
        let indexes = self.selected_indexes(selection)?;
        self.bundle_indexes(&indexes, note, verifier)
    }

    fn bundle_indexes(&self, indexes: &[u64], note: &str, verifier: &Verifier) -> Result<Bundle> {
        // A bundle proven against a checkpoint of another key would verify only for someone
        // who trusts that key, not the ledger's.
        self.check_verifier(verifier)?;
        let cp = Checkpoint::verify(note, verifier)?;
        let note = log_and_cosignatures(note, verifier)?;
        if cp.origin != self.origin() {
            return Err(Error::Inconsistent(format!(
                "the checkpoint is for origin {:?}, this ledger is {:?}",
                cp.origin,
                self.origin()
            )));
        }
        let size = self.size()?;
        if cp.size > size || self.root_at(cp.size)? != cp.root {
            return Err(Error::Inconsistent(format!(
                "the checkpoint (size {}) is not a tree this ledger holds",
                cp.size
            )));
        }
        if let Some(i) = indexes.iter().find(|&&i| i >= cp.size) {
            return Err(Error::OutOfRange(format!(
                "entry {i} is not in the checkpoint's tree of {} entries",
                cp.size
            )));
        }
        let mut entries = Vec::with_capacity(indexes.len());
        for &index in indexes {
            let proof = self.prove_inclusion(index, Some(cp.size))?;
            if let Some(p) = self.pruned(index)? {
                if p.leaf_hash != proof.leaf_hash {
                    return Err(Error::Internal(format!(
                        "entry {index}'s leaf hash changed while bundling"
                    )));
                }
                entries.push(BundleEntry {
                    index,
                    content: BundleContent::Pruned {
                        by: p.by,
                        at: p.pruned_at,
                        rules_version: p.rules_version,
                    },
                    leaf_hash: proof.leaf_hash,
                    path: proof.path,
                    openings: None,
                });
                continue;
            }
            let leaf = self.get_raw(index)?;
            let tampered = |detail: &str| Error::Tampered {
                location: format!("leaf {index}"),
                detail: detail.into(),
            };
            if self.hash().leaf_hash(&leaf) != proof.leaf_hash {
                return Err(tampered("its bytes do not hash to the stored leaf hash"));
            }
            let parsed: Value = serde_json::from_slice(&leaf)
                .map_err(|_| tampered("the stored entry is not JSON"))?;
            if canonical_json(&parsed) != leaf {
                return Err(tampered("the stored entry is not canonical JSON"));
            }
            // Reads show sealed values (SPEC section 10), and so does a bundle, with what
            // proves them; an erased entry's commitments stay without openings.
            let openings = match parsed.get("sealed") {
                Some(_) => self
                    .openings(index)?
                    .map(|o| String::from_utf8(canonical_json(&o)))
                    .transpose()
                    .map_err(|_| tampered("openings not UTF-8"))?,
                None => None,
            };
            entries.push(BundleEntry {
                index,
                content: BundleContent::Entry(
                    String::from_utf8(leaf).map_err(|_| tampered("not UTF-8"))?,
                ),
                leaf_hash: proof.leaf_hash,
                path: proof.path,
                openings,
            });
        }
        let bundle = Bundle {
            origin: cp.origin,
            hash: self.hash(),
            tree_size: cp.size,
            root: cp.root,
            key_name: verifier.name().to_owned(),
            checkpoint_timestamp: self.timestamp_of_note(&log_signed_note(&note)?)?,
            key_rotations: self.rotation_chain(cp.size)?,
            checkpoint: note,
            entries,
        };
        // Never hand out a bundle that would not verify.
        verify_bundle(&bundle.to_text(), verifier)?;
        Ok(bundle)
    }
}

#[cfg(test)]
mod tests {
    use super::log_signed_note;
    use crate::note::{sign_note, Signer};

    #[test]
    fn the_time_stamped_note_is_the_log_line_alone() {
        let log = Signer::generate("example.com/log").unwrap();
        let witness = Signer::generate("witness.example").unwrap();
        let body = "example.com/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let alone = sign_note(body, &[&log]).unwrap();
        let with_more = sign_note(body, &[&log, &witness]).unwrap();
        assert_ne!(alone, with_more);
        // What a TSA time-stamped (the log's note) is found again in a note carrying more lines.
        assert_eq!(log_signed_note(&with_more).unwrap(), alone);
        assert_eq!(log_signed_note(&alone).unwrap(), alone);
        assert!(log_signed_note("not a note").is_err());
    }
}
