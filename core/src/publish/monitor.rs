//! Monitoring a published log: check the new checkpoint's signature (and cosignatures),
//! that it extends the last one seen, and that the new entries hash, through the hash
//! tiles, to its root. What a monitor remembers between runs is a [`MonitorState`].
//!
//! The check is one walk: the tree of the last size seen is rebuilt from the published tiles
//! (its perfect subtrees, whose root must be the remembered one: else a fork), then each new
//! entry's leaf hash, computed from the bundles, is pushed onto it; every node that completes
//! is compared with the tile holding it, and the final root with the checkpoint's. So a
//! changed entry, a changed tile, a rewritten history and a checkpoint that does not commit
//! to the entries all fail, with where. With `full`, the walk starts from the empty tree.
//!
//! A log whose key was rotated is checked from the key the monitor trusts: the published
//! rotation chain ([`super::rotations`]) leads from it to the key that signs the checkpoint,
//! each link signed by the key before it, and each rotation checkpoint's root is held to the
//! published tree like the one seen before (a tree that forks from it is refused).

use serde_json::{json, Value};

use super::layout::{parse_bundle, Object, CHECKPOINT_PATH, TILE_HEIGHT, TILE_WIDTH};
use super::rotations::published_chain;
use super::tiles::TileNodes;
use super::Source;
use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::key_chain::follow_chain;
use crate::merkle::prove::NodeHashes;
use crate::merkle::{self, from_hex, to_hex, Frontier, Hash, HashAlg, NodeId};
use crate::note::{Note, Verifier};
use crate::witness::WitnessRule;

/// What a monitor remembers of a log: the last checkpoint it checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorState {
    /// The log's origin.
    pub origin: String,
    /// Tree size of the last checked checkpoint.
    pub size: u64,
    /// Its root.
    pub root: Hash,
    /// The checkpoint note itself, kept as evidence (a fork is shown by two signed notes).
    pub checkpoint: String,
}

impl MonitorState {
    /// `{"origin", "size", "root" (hex), "checkpoint"}`: the state file's form.
    pub fn to_json(&self) -> Value {
        json!({"origin": self.origin, "size": self.size, "root": to_hex(&self.root), "checkpoint": self.checkpoint})
    }

    /// Parses [`MonitorState::to_json`]'s form.
    pub fn from_json(v: &Value) -> Result<Self> {
        let field = |k: &str| {
            v.get(k)
                .ok_or_else(|| Error::malformed("monitor state", format!("no {k}")))
        };
        let text = |k: &str| -> Result<String> {
            field(k)?
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| Error::malformed("monitor state", format!("{k} must be a string")))
        };
        Ok(MonitorState {
            origin: text("origin")?,
            size: field("size")?.as_u64().ok_or_else(|| {
                Error::malformed("monitor state", "size must be a non-negative integer")
            })?,
            root: from_hex("root", &text("root")?)?,
            checkpoint: text("checkpoint")?,
        })
    }
}

/// What one monitor run found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorReport {
    /// The log's origin.
    pub origin: String,
    /// Size last seen (0: first run).
    pub previous: u64,
    /// Size of the checkpoint checked now.
    pub size: u64,
    /// Entries whose leaf hash was checked (all of them with `full`).
    pub entries_checked: u64,
    /// Tiles compared with the nodes the entries hash to.
    pub tiles_checked: u64,
    /// Key rotations followed from the trusted key to the one that signed the checkpoint.
    pub key_rotations: u64,
}

impl MonitorReport {
    /// `{"origin", "previous", "size", "entries_checked", "tiles_checked", "key_rotations"}`
    pub fn to_json(&self) -> Value {
        json!({"origin": self.origin, "previous": self.previous, "size": self.size,
               "entries_checked": self.entries_checked, "tiles_checked": self.tiles_checked,
               "key_rotations": self.key_rotations})
    }
}

/// Checks the log published at `source` against `last` (the state of the previous run, if
/// any) and returns the report and the new state. The checkpoint must be signed by `log`,
/// and with `policy` carry its witness quorum. Failures: [`Error::Inconsistent`] for a
/// rollback or a fork (the published tree does not extend the one seen), and
/// [`Error::Tampered`] for an entry, tile or checkpoint that do not agree (or are missing).
pub fn monitor(
    source: &dyn Source,
    log: &Verifier,
    policy: Option<&dyn WitnessRule>,
    last: Option<&MonitorState>,
    full: bool,
) -> Result<(MonitorReport, MonitorState)> {
    let note = source
        .get(CHECKPOINT_PATH)?
        .ok_or_else(|| tampered(CHECKPOINT_PATH, "missing from the published log".into()))?;
    let note =
        String::from_utf8(note).map_err(|_| tampered(CHECKPOINT_PATH, "not UTF-8".into()))?;
    // The key that signs the checkpoint: `log`, or the key a published rotation chain from
    // `log` leads to (each link signed by the key before it).
    let claimed = Checkpoint::parse_body(&Note::parse(&note)?.body)?;
    let chain = published_chain(source, log, claimed.size)?;
    let key = follow_chain(log, &chain, &claimed.origin, HashAlg::Sha256, claimed.size)?;
    let cp = match policy {
        Some(p) => p.verify_note(&note, &key)?.checkpoint,
        None => Checkpoint::verify(&note, &key)?,
    };
    if let Some(last) = last {
        if last.origin != cp.origin {
            return Err(Error::InvalidArgument(format!(
                "the state is of log {}, the source publishes {}",
                last.origin, cp.origin
            )));
        }
        if cp.size < last.size {
            return Err(Error::Inconsistent(format!(
                "rollback: the published checkpoint is of size {}, smaller than the {} seen before",
                cp.size, last.size
            )));
        }
        if cp.size == last.size && cp.root != last.root {
            return Err(fork(last, &cp.root));
        }
    }
    let nodes = TileNodes::new(source, cp.size);
    let start = match last {
        Some(l) if !full => l.size,
        _ => 0,
    };
    // Every signed root the published tree must extend: the one seen before, and each key
    // rotation's (signed by the log's keys, so a tree that forks from one is a signed fork).
    let mut pins = Vec::with_capacity(chain.len() + 1);
    for link in &chain {
        let signed = Checkpoint::parse_body(&Note::parse(&link.checkpoint)?.body)?;
        pins.push(Pin {
            size: signed.size,
            root: signed.root,
            what: format!("the key rotation checkpoint at leaf {}", link.index),
        });
    }
    if let Some(l) = last {
        pins.push(Pin {
            size: l.size,
            root: l.root,
            what: "the checkpoint seen before".into(),
        });
    }
    pins.sort_by_key(|p| p.size);
    let root_at = |size: u64| -> Result<Hash> {
        let hashes = nodes.node_hashes(&merkle::subtrees(0, size))?;
        Ok(Frontier::from_subtrees(size, hashes)?.root(HashAlg::Sha256))
    };
    for pin in pins.iter().filter(|p| p.size > 0 && p.size <= start) {
        pin.check(&root_at(pin.size)?)?;
    }
    let mut pins = pins.into_iter().filter(|p| p.size > start).peekable();
    let mut frontier = if start == 0 {
        Frontier::new()
    } else {
        Frontier::from_subtrees(start, nodes.node_hashes(&merkle::subtrees(0, start))?)?
    };
    let mut report = MonitorReport {
        origin: cp.origin.clone(),
        previous: last.map_or(0, |l| l.size),
        size: cp.size,
        entries_checked: 0,
        tiles_checked: 0,
        key_rotations: chain.len() as u64,
    };
    let mut seen_tiles: Vec<Option<u64>> = Vec::new();
    let mut bad: Option<Error> = None;
    for b in (start / TILE_WIDTH)..cp.size.div_ceil(TILE_WIDTH) {
        let width = (cp.size - b * TILE_WIDTH).min(TILE_WIDTH);
        let bytes = read_bundle(source, b, width)?;
        let entries =
            parse_bundle(&bytes).map_err(|e| tampered(&bundle_path(b, width), e.to_string()))?;
        if (entries.len() as u64) < width {
            return Err(tampered(
                &bundle_path(b, width),
                format!("{} entries, not {width}", entries.len()),
            ));
        }
        for (i, entry) in entries.iter().enumerate().take(width as usize) {
            let index = b * TILE_WIDTH + i as u64;
            if index < start {
                continue;
            }
            let leaf = HashAlg::Sha256.leaf_hash(entry);
            frontier.push(HashAlg::Sha256, leaf, |id, h| {
                if bad.is_none() && id.level % TILE_HEIGHT == 0 {
                    if let Err(e) = check_node(&nodes, id, h, &mut seen_tiles, &mut report) {
                        bad = Some(e);
                    }
                }
            });
            if let Some(e) = bad.take() {
                return Err(e);
            }
            report.entries_checked += 1;
            while let Some(pin) = pins.next_if(|p| p.size == frontier.size()) {
                pin.check(&frontier.root(HashAlg::Sha256))?;
            }
        }
    }
    let root = frontier.root(HashAlg::Sha256);
    if root != cp.root {
        return Err(tampered(
            CHECKPOINT_PATH,
            format!(
                "the published entries hash to root {}, the checkpoint says {}",
                to_hex(&root),
                to_hex(&cp.root)
            ),
        ));
    }
    let state = MonitorState {
        origin: cp.origin,
        size: cp.size,
        root: cp.root,
        checkpoint: note,
    };
    Ok((report, state))
}

/// Compares a node the entries hash to with the tile that publishes it.
fn check_node(
    nodes: &TileNodes<'_>,
    id: NodeId,
    hash: &Hash,
    seen: &mut Vec<Option<u64>>,
    report: &mut MonitorReport,
) -> Result<()> {
    let level = id.level / TILE_HEIGHT;
    let index = id.index / TILE_WIDTH;
    let tile = nodes.tile(level, index)?;
    if seen.len() <= level as usize {
        seen.resize(level as usize + 1, None);
    }
    if seen[level as usize] != Some(index) {
        seen[level as usize] = Some(index);
        report.tiles_checked += 1;
    }
    if tile.get((id.index % TILE_WIDTH) as usize) != Some(hash) {
        let width = tile.len() as u64;
        return Err(tampered(
            &Object::Tile {
                level,
                index,
                width,
            }
            .path(),
            format!(
                "hash {} does not match the entries, which hash to {}",
                id.index % TILE_WIDTH,
                to_hex(hash)
            ),
        ));
    }
    Ok(())
}

fn bundle_path(index: u64, width: u64) -> String {
    Object::Bundle { index, width }.path()
}

/// Bundle `index` of `width` entries, or the full bundle a later publish put in its place.
fn read_bundle(source: &dyn Source, index: u64, width: u64) -> Result<Vec<u8>> {
    if let Some(b) = source.get(&bundle_path(index, width))? {
        return Ok(b);
    }
    if width < TILE_WIDTH {
        if let Some(b) = source.get(&bundle_path(index, TILE_WIDTH))? {
            return Ok(b);
        }
    }
    Err(tampered(
        &bundle_path(index, width),
        "missing from the published log".into(),
    ))
}

fn tampered(location: &str, detail: String) -> Error {
    Error::Tampered {
        location: location.to_owned(),
        detail,
    }
}

fn fork(last: &MonitorState, root: &Hash) -> Error {
    Pin {
        size: last.size,
        root: last.root,
        what: "the checkpoint seen before".into(),
    }
    .fork(root)
}

/// A signed root the published tree must have at its size.
struct Pin {
    size: u64,
    root: Hash,
    /// Which checkpoint signed it, for the error.
    what: String,
}

impl Pin {
    fn check(&self, root: &Hash) -> Result<()> {
        if *root == self.root {
            Ok(())
        } else {
            Err(self.fork(root))
        }
    }

    fn fork(&self, root: &Hash) -> Error {
        Error::Inconsistent(format!(
            "fork: the published tree's first {} entries have root {}, not the {} of {}",
            self.size,
            to_hex(root),
            to_hex(&self.root),
            self.what
        ))
    }
}
