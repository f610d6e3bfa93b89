//! `trailseal export parquet`: the ledger's entries as Parquet files for analytics engines.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use trailseal::export::parquet::{export_parquet, ParquetOptions};
use trailseal::Ledger;

use crate::error::{usage, Res};
use crate::io::emit_line;

/// The export formats.
#[derive(Subcommand)]
pub enum ExportCmd {
    /// Write entries as Parquet under DEST, partitioned by day (DEST/date=YYYY-MM-DD/), one row
    /// per entry with its origin, index and leaf hash beside its fields. Incremental: DEST
    /// records what it holds (DEST/_trailseal/), so a rerun writes only newer entries. Many
    /// ledgers exported under one DEST read as one table. Prints {"from", "to", "rows",
    /// "files"}. Opens the ledger read-only.
    Parquet(ParquetArgs),
}

/// `export parquet`: where, and how files are cut.
#[derive(Args)]
pub struct ParquetArgs {
    pub ledger: PathBuf,
    pub dest: PathBuf,
    /// Rows per row group (engines skip row groups by their statistics).
    #[arg(long, value_name = "N", default_value_t = ParquetOptions::default().row_group_rows)]
    pub row_group_rows: usize,
    /// Rows per file; a day with more entries spans several files.
    #[arg(long, value_name = "N", default_value_t = ParquetOptions::default().file_rows)]
    pub file_rows: u64,
}

impl ExportCmd {
    /// The ledger the command reads.
    pub fn ledger(&self) -> &PathBuf {
        match self {
            ExportCmd::Parquet(a) => &a.ledger,
        }
    }
}

/// Run an export and print its report.
pub fn export(l: Ledger, cmd: &ExportCmd) -> Res {
    match cmd {
        ExportCmd::Parquet(a) => {
            if a.row_group_rows == 0 || a.file_rows == 0 {
                return Err(usage("--row-group-rows and --file-rows must be at least 1"));
            }
            let opts = ParquetOptions {
                row_group_rows: a.row_group_rows,
                file_rows: a.file_rows,
            };
            emit_line(&export_parquet(&l, &a.dest, &opts)?.to_json())
        }
    }
}
