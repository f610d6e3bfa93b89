//! The one error type of trailseal, with a stable machine-readable code per variant.
//!
//! Bindings map [`ErrorCode`] one to one: a Python exception class per code, the JS
//! `err.code` string, and the C `trailseal_status` value (the numeric discriminant). Codes are
//! never renumbered or reused; a new failure gets a new code at the end.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every way a trailseal operation can fail.
///
/// Match on [`Error::code`] rather than on the message text: messages are for people and may
/// be reworded, codes are a contract.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An audit entry broke a rule of SPEC section 3. Nothing of it, or of its batch, was written.
    #[error("invalid entry: field `{field}`: {rule}")]
    InvalidEntry {
        /// The JSON path of the offending field, e.g. `actor.id` or `links[2].index`.
        field: String,
        /// The rule it broke, in words.
        rule: String,
    },

    /// An entry's `id` is already in the ledger with different caller-given fields.
    #[error("entry id {id:?} is already recorded at index {index} with different content")]
    IdConflict {
        /// The conflicting id.
        id: String,
        /// Index of the entry that already carries it.
        index: u64,
    },

    /// Input that does not parse: a proof, key string, signed note, hash or JSON document.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being parsed, e.g. `inclusion proof` or `verifier key`.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },

    /// A well-formed proof, signature or checkpoint that does not verify.
    #[error("verification failed: {0}")]
    VerificationFailed(String),

    /// `verify` found stored data that does not match what it should hash to.
    #[error("ledger is tampered: {location}: {detail}")]
    Tampered {
        /// The first place found, e.g. `leaf 17` or `node level 3 index 2`.
        location: String,
        /// What did not match.
        detail: String,
    },

    /// The ledger is not consistent with a checkpoint held elsewhere: rolled back or forked.
    #[error("ledger is inconsistent with the checkpoint: {0}")]
    Inconsistent(String),

    /// An index or tree size beyond the ledger, or an otherwise impossible argument.
    #[error("out of range: {0}")]
    OutOfRange(String),

    /// An argument that makes no sense for the call (not an input-format problem).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The call needs the other kind of ledger (an entry into a raw ledger, or the reverse).
    #[error("wrong ledger kind: this ledger holds {actual}, the call needs {expected}")]
    WrongKind {
        /// The kind the call works on.
        expected: &'static str,
        /// The kind of this ledger.
        actual: &'static str,
    },

    /// `create` refused to overwrite an existing file.
    #[error("{0} already exists")]
    AlreadyExists(PathBuf),

    /// The ledger file does not exist.
    #[error("{0} does not exist")]
    NotFound(PathBuf),

    /// The file is not a trailseal ledger (another program's redb file, random bytes, a
    /// newer format version).
    #[error("not a trailseal ledger: {0}")]
    NotALedger(String),

    /// Another handle (in this or another process) holds the ledger open.
    #[error("ledger {0} is already open in another handle or process")]
    Locked(PathBuf),

    /// The storage engine failed (corrupt file, disk full, failed commit).
    #[error("storage error: {0}")]
    Storage(String),

    /// An operating-system I/O error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// A bug in trailseal (a caught panic, a broken invariant). Please report it.
    #[error("internal error: {0}")]
    Internal(String),

    /// A call on a handle that was already closed (a binding's `close()`, Go's `Close`):
    /// nothing was done. Names what was closed, e.g. `ledger` or `signer`.
    #[error("the {0} is closed")]
    Closed(&'static str),

    /// An entry broke the rules document in force where it would land (docs/RULES.md).
    /// Nothing of it, or of its batch, was written.
    #[error("rule violation: class {class:?}: {requirement} (rules version {version})")]
    RuleViolation {
        /// The class that governs the entry's action, or `(no class)` under strict rules.
        class: String,
        /// The requirement it broke, in words.
        requirement: String,
        /// The rules version in force: its `version` label and the leaf of its
        /// `rules.published` entry.
        version: String,
    },
}

/// Stable, machine-readable error codes. The numeric value is the C status value; `0` is
/// reserved for success and never used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
#[non_exhaustive]
pub enum ErrorCode {
    /// [`Error::InvalidEntry`]
    InvalidEntry = 1,
    /// [`Error::IdConflict`]
    IdConflict = 2,
    /// [`Error::Malformed`]
    Malformed = 3,
    /// [`Error::VerificationFailed`]
    VerificationFailed = 4,
    /// [`Error::Tampered`]
    Tampered = 5,
    /// [`Error::Inconsistent`]
    Inconsistent = 6,
    /// [`Error::OutOfRange`]
    OutOfRange = 7,
    /// [`Error::InvalidArgument`]
    InvalidArgument = 8,
    /// [`Error::WrongKind`]
    WrongKind = 9,
    /// [`Error::AlreadyExists`]
    AlreadyExists = 10,
    /// [`Error::NotFound`]
    NotFound = 11,
    /// [`Error::NotALedger`]
    NotALedger = 12,
    /// [`Error::Locked`]
    Locked = 13,
    /// [`Error::Storage`]
    Storage = 14,
    /// [`Error::Io`]
    Io = 15,
    /// [`Error::Internal`]
    Internal = 16,
    /// [`Error::Closed`]
    Closed = 17,
    /// [`Error::RuleViolation`]
    RuleViolation = 18,
}

impl ErrorCode {
    /// Every code, in numeric order.
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::InvalidEntry,
        ErrorCode::IdConflict,
        ErrorCode::Malformed,
        ErrorCode::VerificationFailed,
        ErrorCode::Tampered,
        ErrorCode::Inconsistent,
        ErrorCode::OutOfRange,
        ErrorCode::InvalidArgument,
        ErrorCode::WrongKind,
        ErrorCode::AlreadyExists,
        ErrorCode::NotFound,
        ErrorCode::NotALedger,
        ErrorCode::Locked,
        ErrorCode::Storage,
        ErrorCode::Io,
        ErrorCode::Internal,
        ErrorCode::Closed,
        ErrorCode::RuleViolation,
    ];

    /// The code as a lowercase snake_case string, e.g. `"invalid_entry"` (the JS `err.code`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidEntry => "invalid_entry",
            ErrorCode::IdConflict => "id_conflict",
            ErrorCode::Malformed => "malformed",
            ErrorCode::VerificationFailed => "verification_failed",
            ErrorCode::Tampered => "tampered",
            ErrorCode::Inconsistent => "inconsistent",
            ErrorCode::OutOfRange => "out_of_range",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::WrongKind => "wrong_kind",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::NotFound => "not_found",
            ErrorCode::NotALedger => "not_a_ledger",
            ErrorCode::Locked => "locked",
            ErrorCode::Storage => "storage",
            ErrorCode::Io => "io",
            ErrorCode::Internal => "internal",
            ErrorCode::Closed => "closed",
            ErrorCode::RuleViolation => "rule_violation",
        }
    }

    /// The numeric value (the C `trailseal_status`).
    pub fn as_u32(self) -> u32 {
        self as u32
    }

    /// The code with numeric value `n`, if there is one.
    pub fn from_u32(n: u32) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_u32() == n)
    }

    /// True for codes meaning "the record does not check out" (exit status 1 of the CLI).
    pub fn is_verification_failure(self) -> bool {
        matches!(
            self,
            ErrorCode::VerificationFailed | ErrorCode::Tampered | ErrorCode::Inconsistent
        )
    }

    /// True for codes meaning "the caller's input or usage was refused; nothing was written".
    pub fn is_refused_input(self) -> bool {
        matches!(
            self,
            ErrorCode::InvalidEntry
                | ErrorCode::IdConflict
                | ErrorCode::Malformed
                | ErrorCode::OutOfRange
                | ErrorCode::InvalidArgument
                | ErrorCode::WrongKind
                | ErrorCode::AlreadyExists
                | ErrorCode::Closed
                | ErrorCode::RuleViolation
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidEntry { .. } => ErrorCode::InvalidEntry,
            Error::IdConflict { .. } => ErrorCode::IdConflict,
            Error::Malformed { .. } => ErrorCode::Malformed,
            Error::VerificationFailed(_) => ErrorCode::VerificationFailed,
            Error::Tampered { .. } => ErrorCode::Tampered,
            Error::Inconsistent(_) => ErrorCode::Inconsistent,
            Error::OutOfRange(_) => ErrorCode::OutOfRange,
            Error::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Error::WrongKind { .. } => ErrorCode::WrongKind,
            Error::AlreadyExists(_) => ErrorCode::AlreadyExists,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::NotALedger(_) => ErrorCode::NotALedger,
            Error::Locked(_) => ErrorCode::Locked,
            Error::Storage(_) => ErrorCode::Storage,
            Error::Io(_) => ErrorCode::Io,
            Error::Internal(_) => ErrorCode::Internal,
            Error::Closed(_) => ErrorCode::Closed,
            Error::RuleViolation { .. } => ErrorCode::RuleViolation,
        }
    }

    /// Shorthand for [`Error::Malformed`].
    pub fn malformed(what: &'static str, reason: impl Into<String>) -> Self {
        Error::Malformed {
            what,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::InvalidEntry`].
    pub fn invalid_entry(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Error::InvalidEntry {
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// Shorthand for [`Error::VerificationFailed`].
    pub fn verification(reason: impl Into<String>) -> Self {
        Error::VerificationFailed(reason.into())
    }

    /// [`Error::Closed`]: a call on a closed handle; `handle` names it (`"ledger"`,
    /// `"signer"`). For the bindings, whose handles can be closed while still referenced.
    pub fn closed(handle: &'static str) -> Self {
        Error::Closed(handle)
    }
}

// ---------------------------------------------------------------------------------------------
// Panics: what a caught panic is reported as.

/// Run one public operation, turning a panic inside the storage engine into an error.
///
/// redb trusts the file it reads: a page changed behind its back can trip an internal
/// assertion. An audit tool must report such a file, not crash the process that embeds it
/// (and a panic must never reach a binding or cross the C ABI). A panic raised in this
/// crate's own code is a bug, not evidence against the file: it is [`Error::Internal`], so
/// that an auditor is not told a sound file was altered (see [`note_panic_sites`]).
pub(crate) fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    note_panic_sites();
    PANIC_IN_OWN_CODE.with(|c| c.set(None));
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown failure".into());
        match PANIC_IN_OWN_CODE.with(|c| c.take()) {
            Some(at) => Err(Error::Internal(format!(
                "a bug in trailseal ({msg}, at {at}); the file was not found damaged"
            ))),
            None => Err(Error::Tampered {
                location: "file".into(),
                detail: format!(
                    "the storage engine could not read it ({msg}): the file is corrupt"
                ),
            }),
        }
    })
}

thread_local! {
    /// Where the last panic on this thread was raised, if in this crate's own source.
    static PANIC_IN_OWN_CODE: std::cell::Cell<Option<String>> = const { std::cell::Cell::new(None) };
}

/// Install, once per process, a panic hook that notes whether a panic was raised in this
/// crate's own source, then runs the hook that was installed before (so what is printed is
/// unchanged). A panic's location is the code that raised it (`unwrap`, `assert!`, indexing
/// report their caller), and this crate's files share the directory of this one; a helper
/// thread carries the note back ([`noted`], [`join_scoped`]). Panics in redb or the standard
/// library, or under a hook the host installs later, are not noted, and count as the file's
/// (`tampered`), as before this hook.
fn note_panic_sites() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let own_dir = file!().trim_end_matches("error.rs");
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(l) = info.location().filter(|l| l.file().starts_with(own_dir)) {
                let at = format!("{}:{}", l.file(), l.line());
                PANIC_IN_OWN_CODE.with(|c| c.set(Some(at)));
            }
            previous(info);
        }));
    });
}

/// Join a scoped thread, passing its panic on (`guarded` turns it into an error).
pub(crate) fn join_scoped<T>(
    h: std::thread::ScopedJoinHandle<'_, std::result::Result<T, Panicked>>,
) -> T {
    match h.join() {
        Ok(Ok(v)) => v,
        Ok(Err(Panicked { payload, own_code })) => {
            // The caller's `guarded` then knows where the thread's panic was raised.
            PANIC_IN_OWN_CODE.with(|c| c.set(own_code));
            std::panic::resume_unwind(payload)
        }
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// A panic caught on a helper thread, with where it was raised if in this crate's code.
pub(crate) struct Panicked {
    payload: Box<dyn std::any::Any + Send>,
    own_code: Option<String>,
}

/// `f` for a helper thread: a panic in it is caught with the note of where it was raised
/// ([`note_panic_sites`] keeps that per thread), for [`join_scoped`] to re-raise.
pub(crate) fn noted<T>(f: impl FnOnce() -> T) -> impl FnOnce() -> std::result::Result<T, Panicked> {
    move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| Panicked {
            payload,
            own_code: PANIC_IN_OWN_CODE.with(|c| c.take()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_dense() {
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(code.as_u32() as usize, i + 1, "{code}");
        }
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn rule_violation_is_the_newest_code() {
        let e = Error::RuleViolation {
            class: "deploys".into(),
            requirement: "needs attrs.ticket".into(),
            version: "v1 (leaf 3)".into(),
        };
        assert_eq!(
            (e.code().as_u32(), e.code().as_str()),
            (18, "rule_violation")
        );
        assert!(e.code().is_refused_input() && !e.code().is_verification_failure());
        assert!(e.to_string().contains("deploys") && e.to_string().contains("v1 (leaf 3)"));
    }

    #[test]
    fn closed_code_is_17() {
        let e = Error::closed("ledger");
        assert_eq!(e.code(), ErrorCode::Closed);
        assert_eq!((e.code().as_u32(), e.code().as_str()), (17, "closed"));
        assert_eq!(e.to_string(), "the ledger is closed");
        assert!(e.code().is_refused_input() && !e.code().is_verification_failure());
    }

    #[test]
    fn a_panic_in_this_crate_is_internal_and_one_it_cannot_place_is_the_files() {
        let empty: Vec<u8> = Vec::new();
        let own = guarded(|| -> Result<u8> { Ok(empty[std::hint::black_box(3)]) }).unwrap_err();
        assert_eq!(own.code(), ErrorCode::Internal, "{own}");
        assert!(own.to_string().contains("error.rs:"), "{own}");
        // Raised on a helper thread of this crate: placed all the same.
        let helper = guarded(|| -> Result<u8> {
            std::thread::scope(|s| {
                Ok(join_scoped(
                    s.spawn(noted(|| empty[std::hint::black_box(4)])),
                ))
            })
        })
        .unwrap_err();
        assert_eq!(helper.code(), ErrorCode::Internal, "{helper}");
        // Raised outside this crate's source (here, a payload re-raised without a hook run):
        // not placed, so reported as before, against the file.
        let elsewhere = guarded(|| -> Result<()> {
            std::panic::resume_unwind(Box::new("from the storage engine"))
        })
        .unwrap_err();
        assert_eq!(elsewhere.code(), ErrorCode::Tampered, "{elsewhere}");
        assert!(
            elsewhere.to_string().contains("from the storage engine"),
            "{elsewhere}"
        );
        // A later call starts afresh.
        assert_eq!(guarded(|| Ok(7)).unwrap(), 7);
    }
}
