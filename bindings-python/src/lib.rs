//! `trailseal._trailseal`: the native half of the `trailseal` Python package.
//!
//! A thin layer over the `trailseal` crate with no logic of its own: it converts arguments and
//! results (`convert.rs`), maps each core [`ErrorCode`](trailseal::ErrorCode) to one exception
//! class (`error.rs`), and releases the GIL around every call that touches the disk or hashes
//! (`Python::detach`), so other Python threads keep running while a ledger appends, proves or
//! verifies.
//!
//! Entries cross the boundary as JSON text: Python's `json.dumps` writes the dict, and the
//! core's strict parser (`entry::parse_json`) reads it, exactly as it reads the command line's
//! JSON Lines, so every front end refuses the same inputs the same way.
//!
//! `Ledger` is in `ledger.rs`; its auditor's questions are in `questions.rs`, and its capture
//! calls in `capture.rs` with `detect_ci`. `Signer`, `Checkpoint` and `Receipt` each have their
//! own file, and the ledger-free checks (`verify_inclusion`, `verify_consistency`,
//! `verify_checkpoint`, `verify_bundle`) are in `verify.rs`. The rules calls (`publish_rules`,
//! `rules_at`, `delivery_report`, `check_rules`, ...) are in `rules.rs`, retention and legal hold
//! in `retention.rs`, pruning (`Ledger.prune`, `Ledger.pruned`, `compact`) in `prune.rs`,
//! personal fields and erasure in `erase.rs`.

mod capture;
mod checkpoint;
mod convert;
mod erase;
mod error;
mod ledger;
mod prune;
mod questions;
mod receipt;
mod retention;
mod rules;
mod signer;
mod timestamp;
mod verify;

use pyo3::prelude::*;

#[pymodule]
mod _trailseal {
    use pyo3::prelude::*;
    use trailseal::ErrorCode;

    use crate::error::{closed_error_class, error_class};

    #[pymodule_export]
    use crate::error::{
        AlreadyExistsError, IdConflictError, InconsistentError, InternalError,
        InvalidArgumentError, InvalidEntryError, IoError, LedgerLockedError, MalformedError,
        NotALedgerError, NotFoundError, OutOfRangeError, RuleViolationError, StorageError,
        TamperedError, TrailsealError, VerificationError, WrongKindError,
    };

    // Kept in this order: it is the order of the module's `__dict__`, which a reorder changes.
    #[pymodule_export]
    use crate::capture::detect_ci;

    #[pymodule_export]
    use crate::error::error_codes;

    #[pymodule_export]
    use crate::verify::{
        verify_bundle, verify_checkpoint, verify_consistency, verify_cosigned, verify_inclusion,
    };

    #[pymodule_export]
    use crate::timestamp::{verify_bundle_with_tsa, verify_timestamp_token};

    #[pymodule_export]
    use crate::rules::check_rules;

    #[pymodule_export]
    use crate::erase::check_opening;

    #[pymodule_export]
    use crate::prune::compact;

    #[pymodule_export]
    use crate::{checkpoint::PyCheckpoint, ledger::PyLedger, receipt::PyReceipt, signer::PySigner};

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        let py = m.py();
        m.add("ClosedError", closed_error_class(py)?.bind(py))?;
        for code in ErrorCode::ALL {
            let class = error_class(py, code);
            class.setattr("code", code.as_str())?;
            class.setattr("status", code.as_u32())?;
        }
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        Ok(())
    }
}
