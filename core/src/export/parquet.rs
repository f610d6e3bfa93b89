//! Entries as Parquet files, for the engines a security data lake already runs (DuckDB,
//! Athena, Spark, Trino).
//!
//! [`export_parquet`] writes `DEST/date=YYYY-MM-DD/<ledger>-<first index>.parquet`: Hive-style
//! day partitions (by the ledger's `time`, UTC), one row per entry with the ledger's origin,
//! the entry's index and leaf hash beside its fields, and the exact leaf bytes in `entry`. The
//! schema is the same for every ledger and `<ledger>` is unique per origin, so the exports of
//! many ledgers under one prefix read as one table (`read_parquet('DEST/*/*.parquet',
//! hive_partitioning = true)`). The columns are listed in `docs/EXPORT.md`.
//!
//! Incremental: `DEST/_trailseal/<ledger>.export.json` records how many entries are exported
//! and the ledger's root at that size, so a rerun writes only newer entries, and refuses a
//! destination that holds another ledger's export under the same origin. The record lives in
//! DEST, not in the ledger: it describes what DEST holds (a removed or restored DEST starts
//! over or resumes correctly with it), and the ledger stays read-only to its exporters.
//!
//! Crash-safe: a file is written under a dot name, synced and renamed; the record is written
//! last the same way. A file is named by the index of its first row, so the files a run left
//! when it was interrupted before its record are exactly this ledger's files that start at or
//! after the recorded count: the next run removes them first and writes those entries again,
//! and no entry is in the table twice.
//!
//! Memory: entries are read a stored bundle at a time and written in row groups of at most
//! [`ParquetOptions::row_group_rows`] rows or [`ROW_GROUP_BYTES`] bytes, never all at once.

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::entry::Timestamp;
use crate::error::{Error, Result};
use crate::ledger::{Ledger, LedgerKind};
use crate::merkle::{to_hex, HashAlg};

/// The most bytes of column data a row group buffers before it is written out.
pub const ROW_GROUP_BYTES: usize = 64 << 20;

/// Entries read from one read snapshot.
const SCAN_CHUNK: u64 = 65_536;

/// The version of the columns below, kept in every file's metadata and in the state record.
pub const SCHEMA_VERSION: u64 = 1;

/// How the files are cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParquetOptions {
    /// Rows per row group (the unit engines skip by statistics). Default 65,536.
    pub row_group_rows: usize,
    /// Rows per file; a day with more spans several files. Default 1,048,576.
    pub file_rows: u64,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            row_group_rows: 65_536,
            file_rows: 1 << 20,
        }
    }
}

/// What one export run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportReport {
    /// The first index written this run (what an earlier run had exported).
    pub from: u64,
    /// One past the last index written: the ledger's size when the run started.
    pub to: u64,
    /// The files written, in index order.
    pub files: Vec<PathBuf>,
}

impl ExportReport {
    /// `{"from", "to", "rows", "files": [...]}`
    pub fn to_json(&self) -> Value {
        json!({
            "from": self.from,
            "to": self.to,
            "rows": self.to - self.from,
            "files": self.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        })
    }
}

#[derive(Clone, Copy)]
enum Ty {
    /// UTF-8 text.
    Text,
    /// A JSON document as text (Parquet's JSON logical type).
    Json,
    /// A signed 64-bit integer.
    Int,
    /// Microseconds since the epoch, UTC (the timestamp every engine reads).
    Micros,
}

/// The columns, in file order: name, type, required, and whether values repeat enough for
/// dictionary encoding to pay (unique values such as hashes, times and whole entries would only
/// fill a dictionary and fall back to plain encoding).
const COLUMNS: &[(&str, Ty, bool, bool)] = &[
    ("origin", Ty::Text, true, true),
    ("index", Ty::Int, true, false),
    ("leaf_hash", Ty::Text, true, false),
    ("time", Ty::Micros, true, false),
    ("time_ns", Ty::Int, true, false),
    ("id", Ty::Text, false, false),
    ("actor_id", Ty::Text, true, true),
    ("actor_role", Ty::Text, false, true),
    ("actor_tenant", Ty::Text, false, true),
    ("actor_via", Ty::Json, false, true),
    ("action", Ty::Text, true, true),
    ("subject_type", Ty::Text, true, true),
    ("subject_id", Ty::Text, true, true),
    ("authz_decision", Ty::Text, false, true),
    ("authz_policy", Ty::Text, false, true),
    ("authz_policy_version", Ty::Text, false, true),
    ("authz_reason", Ty::Text, false, true),
    ("change", Ty::Json, false, false),
    ("links", Ty::Json, false, false),
    ("occurred_at", Ty::Text, false, false),
    ("attrs", Ty::Json, false, false),
    ("entry", Ty::Json, true, false),
];

/// The Parquet message type of [`COLUMNS`].
fn schema() -> String {
    let mut s = String::from("message trailseal_entry {\n");
    for (name, ty, required, _) in COLUMNS {
        let rep = if *required { "REQUIRED" } else { "OPTIONAL" };
        let (ty, logical) = match ty {
            Ty::Text => ("BYTE_ARRAY", " (STRING)"),
            Ty::Json => ("BYTE_ARRAY", " (JSON)"),
            Ty::Int => ("INT64", ""),
            Ty::Micros => ("INT64", " (TIMESTAMP(MICROS,true))"),
        };
        s.push_str(&format!("  {rep} {ty} {name}{logical};\n"));
    }
    s.push('}');
    s
}

/// One column's values for the row group being gathered.
enum Buf {
    Bytes {
        vals: Vec<ByteArray>,
        defs: Vec<i16>,
    },
    Ints(Vec<i64>),
}

/// The row group being gathered, column by column.
struct RowGroup {
    cols: Vec<Buf>,
    rows: usize,
    bytes: usize,
}

impl RowGroup {
    fn new() -> RowGroup {
        let cols = COLUMNS
            .iter()
            .map(|(_, ty, _, _)| match ty {
                Ty::Int | Ty::Micros => Buf::Ints(Vec::new()),
                Ty::Text | Ty::Json => Buf::Bytes {
                    vals: Vec::new(),
                    defs: Vec::new(),
                },
            })
            .collect();
        RowGroup {
            cols,
            rows: 0,
            bytes: 0,
        }
    }

    /// Add one row: `cells` in column order (as [`cells`] builds them).
    fn push(&mut self, cells: Vec<Cell>) -> Result<()> {
        if cells.len() != self.cols.len() {
            return Err(Error::Internal(format!(
                "{} cells for {} columns",
                cells.len(),
                self.cols.len()
            )));
        }
        for ((buf, cell), (name, _, required, _)) in self.cols.iter_mut().zip(cells).zip(COLUMNS) {
            match (buf, cell) {
                (Buf::Ints(v), Cell::Int(i)) => {
                    v.push(i);
                    self.bytes += 8;
                }
                (Buf::Bytes { vals, defs }, Cell::Bytes(b)) if b.is_some() || !required => {
                    defs.push(i16::from(b.is_some()));
                    if let Some(b) = b {
                        self.bytes += b.len();
                        vals.push(ByteArray::from(b));
                    }
                }
                _ => {
                    return Err(Error::Internal(format!(
                        "the cell for column {name} does not fit it"
                    )))
                }
            }
        }
        self.rows += 1;
        Ok(())
    }

    fn write(&mut self, w: &mut SerializedFileWriter<File>) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut rg = w.next_row_group().map_err(pq)?;
        for (i, buf) in self.cols.iter_mut().enumerate() {
            let mut col = rg
                .next_column()
                .map_err(pq)?
                .ok_or_else(|| Error::Internal("parquet schema has fewer columns".into()))?;
            let required = COLUMNS[i].2;
            match buf {
                Buf::Ints(v) => {
                    col.typed::<Int64Type>()
                        .write_batch(v, None, None)
                        .map_err(pq)?;
                    v.clear();
                }
                Buf::Bytes { vals, defs } => {
                    let defs_arg = if required { None } else { Some(&defs[..]) };
                    col.typed::<ByteArrayType>()
                        .write_batch(vals, defs_arg, None)
                        .map_err(pq)?;
                    vals.clear();
                    defs.clear();
                }
            }
            col.close().map_err(pq)?;
        }
        rg.close().map_err(pq)?;
        self.rows = 0;
        self.bytes = 0;
        Ok(())
    }
}

enum Cell {
    Int(i64),
    Bytes(Option<Vec<u8>>),
}

/// The fields of a stored entry the columns take, borrowed from its bytes where no escape
/// forces a copy: a full `Value` per entry (an ordered map per object) costs more than the
/// Parquet encoding. Fields not named here (`v`, `payload`) are skipped without being built.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    actor: ActorFields<'a>,
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow)]
    subject: SubjectFields<'a>,
    #[serde(borrow, default)]
    authz: Option<AuthzFields<'a>>,
    #[serde(default)]
    change: Option<Value>,
    #[serde(default)]
    links: Option<Value>,
    #[serde(borrow, default)]
    occurred_at: Option<Cow<'a, str>>,
    #[serde(default)]
    attrs: Option<Value>,
}

#[derive(Deserialize)]
struct ActorFields<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tenant: Option<Cow<'a, str>>,
    #[serde(default)]
    via: Option<Value>,
}

#[derive(Deserialize)]
struct SubjectFields<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    id: Cow<'a, str>,
}

#[derive(Deserialize)]
struct AuthzFields<'a> {
    #[serde(borrow, default)]
    decision: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    policy: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    policy_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reason: Option<Cow<'a, str>>,
}

/// The cells of entry `index` (its exact bytes `leaf`), and its `time` in nanoseconds.
fn cells(origin: &str, alg: HashAlg, index: u64, leaf: &[u8]) -> Result<(i64, Vec<Cell>)> {
    let e: Fields = serde_json::from_slice(leaf).map_err(|e| Error::Tampered {
        location: format!("leaf {index}"),
        detail: format!("stored entry does not have the fields of an entry: {e}"),
    })?;
    let time = Timestamp::parse(&e.time)?;
    let ns = i64::try_from(time.unix_nanos()).map_err(|_| {
        Error::OutOfRange(format!(
            "entry {index}'s time {time} is beyond what a 64-bit nanosecond count holds (2262)"
        ))
    })?;
    let index_i = i64::try_from(index)
        .map_err(|_| Error::OutOfRange(format!("index {index} exceeds a signed 64-bit column")))?;
    let text = |s: &Cow<str>| Cell::Bytes(Some(s.as_bytes().to_vec()));
    let opt = |s: Option<&Cow<str>>| Cell::Bytes(s.map(|s| s.as_bytes().to_vec()));
    let json = |v: Option<&Value>| Cell::Bytes(v.map(|v| v.to_string().into_bytes()));
    let authz = e.authz.as_ref();
    let cells = vec![
        Cell::Bytes(Some(origin.as_bytes().to_vec())),
        Cell::Int(index_i),
        Cell::Bytes(Some(to_hex(&alg.leaf_hash(leaf)).into_bytes())),
        Cell::Int(ns.div_euclid(1000)),
        Cell::Int(ns),
        opt(e.id.as_ref()),
        text(&e.actor.id),
        opt(e.actor.role.as_ref()),
        opt(e.actor.tenant.as_ref()),
        json(e.actor.via.as_ref()),
        text(&e.action),
        text(&e.subject.kind),
        text(&e.subject.id),
        opt(authz.and_then(|a| a.decision.as_ref())),
        opt(authz.and_then(|a| a.policy.as_ref())),
        opt(authz.and_then(|a| a.policy_version.as_ref())),
        opt(authz.and_then(|a| a.reason.as_ref())),
        json(e.change.as_ref()),
        json(e.links.as_ref()),
        opt(e.occurred_at.as_ref()),
        json(e.attrs.as_ref()),
        Cell::Bytes(Some(leaf.to_vec())),
    ];
    Ok((ns, cells))
}

/// `YYYY-MM-DD` (UTC) of a time in nanoseconds.
fn day_of(ns: i64) -> Result<String> {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .map_err(|e| Error::OutOfRange(format!("time {ns} ns: {e}")))?;
    Ok(format!(
        "{:04}-{:02}-{:02}",
        t.year(),
        u8::from(t.month()),
        t.day()
    ))
}

/// The file-name stem of a ledger's files: its origin made safe for a path segment (for
/// people), then 8 bytes of the origin's SHA-256 (for uniqueness, since the first part
/// merges characters).
pub fn ledger_stem(origin: &str) -> String {
    let safe: String = origin
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let digest = Sha256::digest(origin.as_bytes());
    format!(
        "{}-{}",
        safe.trim_start_matches('.'),
        hex::encode(&digest[..8])
    )
}

/// A file being written.
struct OpenFile {
    day: String,
    rows: u64,
    tmp: PathBuf,
    path: PathBuf,
    w: SerializedFileWriter<File>,
}

impl OpenFile {
    fn create(dest: &Path, stem: &str, day: String, first: u64, props: &Props) -> Result<Self> {
        let dir = dest.join(format!("date={day}"));
        fs::create_dir_all(&dir)?;
        let name = format!("{stem}-{first:020}.parquet");
        let tmp = dir.join(format!(".{name}.partial"));
        let path = dir.join(name);
        let w = SerializedFileWriter::new(File::create(&tmp)?, props.0.clone(), props.1.clone())
            .map_err(pq)?;
        Ok(OpenFile {
            day,
            rows: 0,
            tmp,
            path,
            w,
        })
    }

    fn finish(self, rg: &mut RowGroup) -> Result<PathBuf> {
        let mut w = self.w;
        rg.write(&mut w)?;
        let file = w.into_inner().map_err(pq)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.tmp, &self.path)?;
        sync_dir(self.path.parent())?;
        Ok(self.path)
    }
}

type Props = (
    Arc<parquet::schema::types::Type>,
    Arc<parquet::file::properties::WriterProperties>,
);

/// What DEST records about one ledger's export.
struct State {
    exported: u64,
    root: String,
}

fn state_path(dest: &Path, stem: &str) -> PathBuf {
    dest.join("_trailseal").join(format!("{stem}.export.json"))
}

fn read_state(path: &Path, l: &Ledger) -> Result<Option<State>> {
    let text = match fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let bad = |r: String| Error::malformed("export state", format!("{}: {r}", path.display()));
    let v: Value = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    let exported = v["exported"]
        .as_u64()
        .ok_or_else(|| bad("no `exported` count".into()))?;
    let root = v["root"]
        .as_str()
        .ok_or_else(|| bad("no `root`".into()))?
        .to_owned();
    if v["origin"].as_str() != Some(l.origin()) {
        return Err(bad(format!(
            "it records origin {}, this ledger's is {:?}",
            v["origin"],
            l.origin()
        )));
    }
    if v["schema"].as_u64() != Some(SCHEMA_VERSION) {
        return Err(bad(format!(
            "it records schema {}, this version writes {SCHEMA_VERSION}",
            v["schema"]
        )));
    }
    Ok(Some(State { exported, root }))
}

fn write_state(path: &Path, l: &Ledger, s: &State) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::Internal("state path has no parent".into()))?;
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.partial",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state")
    ));
    let body = json!({
        "origin": l.origin(),
        "hash": l.hash().name(),
        "schema": SCHEMA_VERSION,
        "exported": s.exported,
        "root": s.root,
    });
    let mut f = File::create(&tmp)?;
    f.write_all(format!("{body:#}\n").as_bytes())?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)?;
    sync_dir(Some(dir))
}

/// Make a rename in `dir` durable (directories cannot be opened for syncing on Windows).
fn sync_dir(dir: Option<&Path>) -> Result<()> {
    #[cfg(unix)]
    if let Some(d) = dir {
        File::open(d)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn pq(e: parquet::errors::ParquetError) -> Error {
    match e {
        parquet::errors::ParquetError::External(inner) => {
            Error::Io(std::io::Error::other(inner.to_string()))
        }
        other => Error::Io(std::io::Error::other(other.to_string())),
    }
}

/// Remove this ledger's files (and partial files) that start at or after `from`: a run that
/// was interrupted before writing its record left them, and they are written again.
fn remove_unrecorded(dest: &Path, stem: &str, from: u64) -> Result<()> {
    let days = match fs::read_dir(dest) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let prefix = format!("{stem}-");
    for day in days {
        let day = day?;
        if !day.file_name().to_string_lossy().starts_with("date=") || !day.path().is_dir() {
            continue;
        }
        for f in fs::read_dir(day.path())? {
            let f = f?;
            let name = f.file_name().to_string_lossy().into_owned();
            let first = name
                .strip_prefix('.')
                .unwrap_or(&name)
                .strip_prefix(&prefix)
                .and_then(|rest| rest.split('.').next())
                .and_then(|n| n.parse::<u64>().ok());
            if first.is_some_and(|first| first >= from) {
                fs::remove_file(f.path())?;
            }
        }
    }
    Ok(())
}

/// Export the entries that DEST does not hold yet (all of them the first time) as Parquet,
/// up to the ledger's size at the start of the run. Entry ledgers only.
pub fn export_parquet(l: &Ledger, dest: &Path, opts: &ParquetOptions) -> Result<ExportReport> {
    if l.kind() != LedgerKind::Entries {
        return Err(Error::WrongKind {
            expected: LedgerKind::Entries.name(),
            actual: l.kind().name(),
        });
    }
    if opts.row_group_rows == 0 || opts.file_rows == 0 {
        return Err(Error::InvalidArgument(
            "row groups and files must hold at least one row".into(),
        ));
    }
    let stem = ledger_stem(l.origin());
    let state_file = state_path(dest, &stem);
    let from = match read_state(&state_file, l)? {
        None => 0,
        Some(s) => {
            let root = if s.exported <= l.size()? {
                Some(to_hex(&l.root_at(s.exported)?))
            } else {
                None
            };
            if root.as_deref() != Some(s.root.as_str()) {
                return Err(Error::Inconsistent(format!(
                    "{} records an export of {} entries of origin {:?} with root {}, which this \
                     ledger does not have: it is another ledger with the same origin",
                    dest.display(),
                    s.exported,
                    l.origin(),
                    s.root
                )));
            }
            s.exported
        }
    };
    remove_unrecorded(dest, &stem, from)?;
    let to = l.size()?;
    let mut report = ExportReport {
        from,
        to,
        files: Vec::new(),
    };
    if from >= to {
        return Ok(report);
    }

    let mut props = WriterProperties::builder();
    for (name, ty, _, dictionary) in COLUMNS {
        props = props.set_column_dictionary_enabled((*name).into(), *dictionary);
        if matches!(ty, Ty::Json) {
            // Minimum and maximum of JSON text select nothing a query asks for.
            props = props.set_column_statistics_enabled((*name).into(), EnabledStatistics::None);
        }
    }
    let props = props
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("trailseal {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(vec![
            KeyValue::new("trailseal.origin".into(), l.origin().to_owned()),
            KeyValue::new("trailseal.hash".into(), l.hash().name().to_owned()),
            KeyValue::new("trailseal.schema".into(), SCHEMA_VERSION.to_string()),
        ]))
        .build();
    let schema = parse_message_type(&schema()).map_err(pq)?;
    let props: Props = (Arc::new(schema), Arc::new(props));

    let (origin, alg) = (l.origin().to_owned(), l.hash());
    let mut rg = RowGroup::new();
    let mut file: Option<OpenFile> = None;
    // A snapshot per chunk rather than one for the whole run: a long read transaction keeps
    // the writers' freed pages from being reused until it ends.
    let mut at = from;
    while at < to {
        let end = to.min(at.saturating_add(SCAN_CHUNK));
        l.scan_raw(at, end, |first, leaves| {
            for (k, leaf) in leaves.iter().enumerate() {
                let index = first + k as u64;
                // Pruned: its content is gone, so no row carries it.
                if leaf.is_empty() {
                    continue;
                }
                let (ns, row) = cells(&origin, alg, index, leaf)?;
                let day = day_of(ns)?;
                let full = file
                    .as_ref()
                    .is_some_and(|f| f.day != day || f.rows >= opts.file_rows);
                if full {
                    if let Some(f) = file.take() {
                        report.files.push(f.finish(&mut rg)?);
                    }
                }
                let f = match file.as_mut() {
                    Some(f) => f,
                    None => file.insert(OpenFile::create(dest, &stem, day, index, &props)?),
                };
                rg.push(row)?;
                f.rows += 1;
                if rg.rows >= opts.row_group_rows || rg.bytes >= ROW_GROUP_BYTES {
                    rg.write(&mut f.w)?;
                }
            }
            Ok(())
        })?;
        at = end;
    }
    if let Some(f) = file.take() {
        report.files.push(f.finish(&mut rg)?);
    }
    write_state(
        &state_file,
        l,
        &State {
            exported: to,
            root: to_hex(&l.root_at(to)?),
        },
    )?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_are_path_safe_and_unique_per_origin() {
        let a = ledger_stem("example.com/a b");
        assert!(a.starts_with("example.com_a_b-"), "{a}");
        assert_ne!(ledger_stem("x/y"), ledger_stem("x_y"));
        assert!(!ledger_stem("../../etc").contains('/'));
        assert!(!ledger_stem("..").starts_with('.'));
    }

    #[test]
    fn days_are_utc() {
        assert_eq!(day_of(0).unwrap(), "1970-01-01");
        assert_eq!(day_of(-1).unwrap(), "1969-12-31");
        assert_eq!(day_of(1_795_362_234_123_456_789).unwrap(), "2026-11-22");
    }

    #[test]
    fn the_schema_parses() {
        let t = parse_message_type(&schema()).unwrap();
        assert_eq!(t.get_fields().len(), COLUMNS.len());
    }
}
