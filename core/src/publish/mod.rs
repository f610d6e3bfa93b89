//! Publishing a ledger as a static C2SP tlog-tiles log: a `checkpoint`, hash tiles
//! `tile/<L>/<N>[.p/<W>]` and entry bundles `tile/entries/<N>[.p/<W>]`, written to a
//! [`Destination`] (a directory, or object storage) that any number of readers fetch through
//! a CDN and check with no server of ours (Tessera's client and fsck read it unchanged).
//!
//! [`Ledger::publish`](crate::Ledger::publish) writes what changed since the last publish to
//! the same destination (kept in the ledger's `published` table): full tiles and bundles once,
//! the partial ones at the right edge, and the checkpoint last, after the destination made the
//! rest durable ([`Destination::flush`]). A reader therefore never sees a checkpoint whose
//! tiles are missing, and a publish killed midway leaves the previous checkpoint, whose objects
//! are all there, for the next publish to complete.
//!
//! Only SHA-256 ledgers can be published (tlog-tiles is RFC 6962 SHA-256, and the leaf hashes
//! readers compute from the bundles must be the ledger's).
//!
//! **Entries over 65,535 bytes.** An entry bundle frames each entry with a `u16` length, so
//! a larger entry cannot be published at all: rewriting it would change its leaf hash. The
//! rule: publish refuses (`invalid_argument`, naming the entry) before writing the
//! checkpoint, so the published log stays at its last checkpoint, consistent and readable,
//! and nothing past it is claimed. A ledger meant for publishing is created with
//! `max_entry_bytes` at most [`layout::MAX_BUNDLED_ENTRY`], which makes the rule never fire.

pub mod bundle;
pub mod dir;
pub mod http;
pub mod layout;
pub mod monitor;
pub mod proofs;
pub mod rotations;
#[cfg(feature = "s3")]
pub mod s3;
pub mod tiles;

use crate::error::{Error, Result};

pub use dir::DirDestination;

/// Where a published log is read from: paths are relative to the log's prefix
/// (`checkpoint`, `tile/0/000`, ...).
pub trait Source: Send + Sync {
    /// A stable name, e.g. the directory's absolute path or the URL: the key of the
    /// published-state record.
    fn name(&self) -> String;
    /// Read one object; `None` if there is none.
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>>;
}

/// Where a published log's objects are written.
pub trait Destination: Source {
    /// Write one object, replacing any earlier one at `path`.
    fn put(&self, path: &str, bytes: &[u8]) -> Result<()>;
    /// Make every object put so far durable and visible: called before the checkpoint is put.
    fn flush(&self) -> Result<()>;
}

/// How a destination is opened.
#[derive(Clone, Debug, Default)]
pub struct DestinationOptions {
    /// Object storage only: write each object with an object-lock retention of this many
    /// days (the bucket must have object lock enabled). Refused for a directory.
    pub lock_days: Option<u32>,
}

/// The destination a front end names: `s3://bucket/prefix` (object storage, configured from
/// the standard AWS environment), `file:///path`, or a directory path.
pub fn open_destination(url: &str, opts: &DestinationOptions) -> Result<Box<dyn Destination>> {
    if url.starts_with("s3://") {
        #[cfg(feature = "s3")]
        return Ok(Box::new(s3::S3Destination::new(url, opts)?));
        #[cfg(not(feature = "s3"))]
        return Err(Error::InvalidArgument(format!(
            "{url}: object storage needs the crate's `s3` feature"
        )));
    }
    if opts.lock_days.is_some() {
        return Err(Error::InvalidArgument(
            "--lock-days needs object storage with object lock; a directory has none".into(),
        ));
    }
    let path = url.strip_prefix("file://").unwrap_or(url);
    Ok(Box::new(DirDestination::new(path)?))
}

/// A published log to read: `https://` (or `http://`) URL prefix, `s3://bucket/prefix`,
/// `file:///path` or a directory.
pub fn open_source(url: &str) -> Result<Box<dyn Source>> {
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(Box::new(http::HttpSource::new(url)));
    }
    if url.starts_with("s3://") {
        #[cfg(feature = "s3")]
        return Ok(Box::new(s3::S3Destination::new(
            url,
            &DestinationOptions::default(),
        )?));
    }
    let path = url.strip_prefix("file://").unwrap_or(url);
    if !std::path::Path::new(path).is_dir() {
        return Err(Error::NotFound(path.into()));
    }
    open_destination(url, &DestinationOptions::default()).map(|d| d as Box<dyn Source>)
}

/// Which checkpoint a publish writes (and so how far the published log reaches).
#[derive(Clone, Copy, Debug)]
pub enum PublishCheckpoint<'a> {
    /// Sign (and keep) a checkpoint of the ledger's current size with this signer.
    Sign(&'a crate::note::Signer),
    /// The newest checkpoint kept in the ledger.
    Newest,
    /// The newest kept checkpoint whose kept cosignatures meet this policy, published with
    /// those cosignature lines (`trailseal publish --cosigned`).
    Cosigned(&'a dyn crate::witness::WitnessRule),
}

/// What one publish did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishReport {
    /// Tree size published before this call at this destination (0: none).
    pub from: u64,
    /// Tree size of the checkpoint published now.
    pub size: u64,
    /// Tiles, bundles and key rotation links written (the checkpoint not counted).
    pub objects: u64,
    /// Bytes of those objects.
    pub bytes: u64,
}

impl PublishReport {
    /// `{"from", "size", "objects", "bytes"}`
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"from": self.from, "size": self.size, "objects": self.objects, "bytes": self.bytes})
    }
}
