//! Export: the ledger's entries in the forms other tools read.
//!
//! - [`ocsf`]: an entry as an OCSF event (the mapping of `import --format ocsf`, reversed),
//!   what `trailseal follow --format ocsf` prints for a SIEM.
//! - [`parquet`] (cargo feature `parquet`): entries as Parquet files partitioned by day, one
//!   row per entry with its origin, index and leaf hash, incrementally, for analytics engines
//!   (DuckDB, Athena, Spark, Trino). Many ledgers' exports under one prefix are one table.
//!
//! Exports read the ledger and never change it; they prove nothing themselves (each row's
//! `entry` hashes to its `leaf_hash`, and `verify` checks the ledger those came from).

pub mod ocsf;
#[cfg(feature = "parquet")]
pub mod parquet;
