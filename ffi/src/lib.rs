//! The C ABI of trailseal: `libtrailseal.so` / `libtrailseal.a` and `include/trailseal.h`.
//!
//! Conventions (the header repeats them for C readers):
//!
//! - Opaque handles (`trailseal_ledger`, `trailseal_signer`) come from a `_create`, `_open`,
//!   `_generate` or `_from_*` function and are released with their `_free` function.
//! - Every fallible function returns a [`trailseal_status`]: `0` is success, `1..=18` are the
//!   core's error codes, `100..` are failures of the C boundary itself. Out-parameters are
//!   written only on success; on failure they are left untouched.
//! - Every pointer is checked: a NULL where a value is required is
//!   [`trailseal_status::NullArgument`], never a crash. No panic crosses the boundary: it
//!   becomes [`trailseal_status::Panic`].
//! - Entries, receipts, proofs, reports and checkpoint information cross as UTF-8 JSON in
//!   their SPEC form. Strings returned by the library are freed with [`trailseal_string_free`],
//!   byte buffers with [`trailseal_bytes_free`].
//! - The message of the last failure on the calling thread is
//!   [`trailseal_last_error_message`].

#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use trailseal::{Error, ErrorCode};

mod erase;
mod ledger;
mod prune;
mod retention;
mod rotation;
mod rules;
mod signer;
mod timestamp;
mod verify;
mod witness;

// After the others: cbindgen writes the header in module order.
mod audit;

pub use audit::*;
pub use ledger::*;
pub use prune::*;
pub use retention::*;
pub use rotation::*;
pub use rules::*;
pub use signer::*;
pub use timestamp::*;
pub use verify::*;
pub use witness::*;

/// The result of every fallible trailseal function.
///
/// `TRAILSEAL_STATUS_OK` (0) is success. Values 1 to 18 are exactly the core error codes
/// (`trailseal::ErrorCode`, the same numbers and meanings as the README's error table and the
/// Python, Node and Go bindings). Values from 100 on are failures of the C boundary itself.
/// Values are never renumbered or reused; new ones are only added.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum trailseal_status {
    /// Success.
    Ok = 0,
    /// An audit entry broke a SPEC section 3 rule (the message names the field). Nothing was
    /// written.
    InvalidEntry = 1,
    /// An entry's `id` is already recorded with different content.
    IdConflict = 2,
    /// A proof, key, note, hash or JSON text that does not parse.
    Malformed = 3,
    /// A well-formed proof or signature that does not verify.
    VerificationFailed = 4,
    /// `verify` found stored data that does not hash right (the message names the leaf, node
    /// or checkpoint).
    Tampered = 5,
    /// The ledger disagrees with an outside checkpoint (rolled back or forked).
    Inconsistent = 6,
    /// An index or size beyond the tree.
    OutOfRange = 7,
    /// An impossible argument (an unknown hash name, a bad origin, a checkpoint without a key).
    InvalidArgument = 8,
    /// An entry call on a raw ledger, or the reverse.
    WrongKind = 9,
    /// `create` over an existing file.
    AlreadyExists = 10,
    /// No such ledger file.
    NotFound = 11,
    /// Another program's file, random bytes, an unknown format.
    NotALedger = 12,
    /// Another handle or process holds the ledger in a way this open's sharing mode does not
    /// allow (an exclusive writer, or an exclusive open while others have it).
    Locked = 13,
    /// The storage engine failed.
    Storage = 14,
    /// An operating-system I/O error.
    Io = 15,
    /// A bug in trailseal (please report it).
    Internal = 16,
    /// A call on a closed handle. The C functions never return it (a freed handle must not be
    /// used at all); bindings built on this library that keep a closed state (the Go
    /// package's `Close`) report it with this value.
    Closed = 17,
    /// An entry broke the rules document in force where it would land (docs/RULES.md); the
    /// message names the class, the requirement and the rules version. Nothing was written.
    RuleViolation = 18,
    /// A required pointer argument was NULL (C boundary only).
    NullArgument = 100,
    /// A string argument was not valid UTF-8 (C boundary only).
    InvalidUtf8 = 101,
    /// trailseal panicked; the panic was caught at the boundary (C boundary only; please
    /// report it).
    Panic = 102,
}

impl trailseal_status {
    /// The status of a core error: its numeric code.
    fn from_code(code: ErrorCode) -> Self {
        use trailseal_status as S;
        match code {
            ErrorCode::InvalidEntry => S::InvalidEntry,
            ErrorCode::IdConflict => S::IdConflict,
            ErrorCode::Malformed => S::Malformed,
            ErrorCode::VerificationFailed => S::VerificationFailed,
            ErrorCode::Tampered => S::Tampered,
            ErrorCode::Inconsistent => S::Inconsistent,
            ErrorCode::OutOfRange => S::OutOfRange,
            ErrorCode::InvalidArgument => S::InvalidArgument,
            ErrorCode::WrongKind => S::WrongKind,
            ErrorCode::AlreadyExists => S::AlreadyExists,
            ErrorCode::NotFound => S::NotFound,
            ErrorCode::NotALedger => S::NotALedger,
            ErrorCode::Locked => S::Locked,
            ErrorCode::Storage => S::Storage,
            ErrorCode::Io => S::Io,
            ErrorCode::Internal => S::Internal,
            ErrorCode::Closed => S::Closed,
            ErrorCode::RuleViolation => S::RuleViolation,
            // A code added to the core after this crate was written; the test
            // `every_core_code_maps_to_its_number` fails until it is added above.
            _ => S::Internal,
        }
    }

    const ALL: [trailseal_status; 22] = {
        use trailseal_status as S;
        [
            S::Ok,
            S::InvalidEntry,
            S::IdConflict,
            S::Malformed,
            S::VerificationFailed,
            S::Tampered,
            S::Inconsistent,
            S::OutOfRange,
            S::InvalidArgument,
            S::WrongKind,
            S::AlreadyExists,
            S::NotFound,
            S::NotALedger,
            S::Locked,
            S::Storage,
            S::Io,
            S::Internal,
            S::Closed,
            S::RuleViolation,
            S::NullArgument,
            S::InvalidUtf8,
            S::Panic,
        ]
    };

    /// The snake_case name, NUL-terminated: the core code names plus the boundary's own.
    fn name(self) -> &'static CStr {
        use trailseal_status as S;
        match self {
            S::Ok => c"ok",
            S::InvalidEntry => c"invalid_entry",
            S::IdConflict => c"id_conflict",
            S::Malformed => c"malformed",
            S::VerificationFailed => c"verification_failed",
            S::Tampered => c"tampered",
            S::Inconsistent => c"inconsistent",
            S::OutOfRange => c"out_of_range",
            S::InvalidArgument => c"invalid_argument",
            S::WrongKind => c"wrong_kind",
            S::AlreadyExists => c"already_exists",
            S::NotFound => c"not_found",
            S::NotALedger => c"not_a_ledger",
            S::Locked => c"locked",
            S::Storage => c"storage",
            S::Io => c"io",
            S::Internal => c"internal",
            S::Closed => c"closed",
            S::RuleViolation => c"rule_violation",
            S::NullArgument => c"null_argument",
            S::InvalidUtf8 => c"invalid_utf8",
            S::Panic => c"panic",
        }
    }
}

/// "The current tree size": pass it wherever a function takes an optional tree `size`
/// (`trailseal_ledger_root`, the proof functions, `trailseal_ledger_checkpoint`).
pub const TRAILSEAL_SIZE_CURRENT: u64 = u64::MAX;

/// A failure at the boundary: a status and its message.
pub(crate) struct Failure {
    status: trailseal_status,
    message: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure {
            status: trailseal_status::from_code(e.code()),
            message: e.to_string(),
        }
    }
}

impl Failure {
    pub(crate) fn null(arg: &str) -> Self {
        Failure {
            status: trailseal_status::NullArgument,
            message: format!("argument `{arg}` is NULL"),
        }
    }

    pub(crate) fn utf8(arg: &str, e: std::str::Utf8Error) -> Self {
        Failure {
            status: trailseal_status::InvalidUtf8,
            message: format!("argument `{arg}` is not valid UTF-8: {e}"),
        }
    }
}

pub(crate) type Res<T = ()> = Result<T, Failure>;

thread_local! {
    /// The message of the last failure on this thread; empty after a success.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    // A message can quote caller input; a NUL in it would end the C string early.
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // `try_with`: the thread-local may already be gone while the thread exits.
    let _ = LAST_ERROR.try_with(|m| *m.borrow_mut() = message);
}

fn clear_last_error() {
    let _ = LAST_ERROR.try_with(|m| {
        let mut m = m.borrow_mut();
        if !m.as_bytes().is_empty() {
            *m = CString::default();
        }
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// Runs the body of an entry point: catches panics, records the last error message, and turns
/// the outcome into a status.
pub(crate) fn guard(body: impl FnOnce() -> Res) -> trailseal_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            clear_last_error();
            trailseal_status::Ok
        }
        Ok(Err(f)) => {
            set_last_error(&f.message);
            f.status
        }
        Err(payload) => {
            let message = panic_message(&*payload);
            // Dropping a payload can panic in turn; that must not unwind into C either.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            set_last_error(&format!("panic in trailseal (please report it): {message}"));
            trailseal_status::Panic
        }
    }
}

/// Runs a function that cannot report a status (the `_free` functions): a panic is swallowed.
pub(crate) fn guard_void(body: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(body));
}

// ---- arguments -------------------------------------------------------------------------

/// A required NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn arg_str<'a>(p: *const c_char, name: &str) -> Res<&'a str> {
    if p.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|e| Failure::utf8(name, e))
}

/// A required JSON text argument, parsed strictly (as entries are: a repeated key or text that
/// is not JSON is `Malformed`).
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn arg_json(p: *const c_char, name: &str) -> Res<serde_json::Value> {
    // SAFETY: forwarded contract.
    let text = unsafe { arg_str(p, name)? };
    Ok(trailseal::entry::parse_json(text.as_bytes())?)
}

/// An optional string argument: NULL means absent.
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn opt_str<'a>(p: *const c_char, name: &str) -> Res<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { arg_str(p, name) }.map(Some)
    }
}

/// A byte buffer argument `(p, len)`; `p` may be NULL only when `len` is 0.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes valid for `'a`.
pub(crate) unsafe fn arg_bytes<'a>(p: *const u8, len: usize, name: &str) -> Res<&'a [u8]> {
    if p.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(Failure::null(name));
    }
    // SAFETY: non-NULL and `len` bytes readable per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A file path argument: any bytes on Unix (paths need not be UTF-8 there), UTF-8 elsewhere.
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn arg_path(p: *const c_char, name: &str) -> Res<std::path::PathBuf> {
    if p.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(std::ffi::OsStr::from_bytes(s.to_bytes()).into())
    }
    #[cfg(not(unix))]
    {
        s.to_str()
            .map(Into::into)
            .map_err(|e| Failure::utf8(name, e))
    }
}

/// A required handle argument.
///
/// # Safety
/// `p` is NULL or a live handle of type `T` made by this library.
pub(crate) unsafe fn arg_handle<'a, T>(p: *const T, name: &str) -> Res<&'a T> {
    // SAFETY: per the caller's contract a non-NULL `p` is a live `T`.
    unsafe { p.as_ref() }.ok_or_else(|| Failure::null(name))
}

/// A required out-parameter, checked before any work is done so that a NULL one never
/// leaves a half-done operation behind.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    pub(crate) fn new(p: *mut T, name: &str) -> Res<Self> {
        if p.is_null() {
            Err(Failure::null(name))
        } else {
            Ok(Out(p))
        }
    }

    /// Writes the value (without reading or dropping what was there).
    ///
    /// # Safety
    /// The pointer given to [`Out::new`] is valid for writes of a `T`.
    pub(crate) unsafe fn write(self, value: T) {
        // SAFETY: non-NULL (checked in `new`) and writable per the caller's contract.
        unsafe { self.0.write(value) }
    }
}

/// A string for the caller, freed with [`trailseal_string_free`].
pub(crate) fn c_string(s: String) -> Res<*mut c_char> {
    CString::new(s).map(CString::into_raw).map_err(|_| Failure {
        status: trailseal_status::Internal,
        message: "internal error: a returned string contains a NUL byte".into(),
    })
}

/// Writes a string out-parameter.
///
/// # Safety
/// As [`Out::write`].
pub(crate) unsafe fn put_string(out: Out<*mut c_char>, s: String) -> Res {
    let p = c_string(s)?;
    // SAFETY: forwarded contract.
    unsafe { out.write(p) };
    Ok(())
}

/// Writes a JSON out-parameter.
///
/// # Safety
/// As [`Out::write`].
pub(crate) unsafe fn put_json(out: Out<*mut c_char>, v: &serde_json::Value) -> Res {
    // SAFETY: forwarded contract.
    unsafe { put_string(out, v.to_string()) }
}

/// A `size` argument: [`TRAILSEAL_SIZE_CURRENT`] means the current tree.
pub(crate) fn opt_size(size: u64) -> Option<u64> {
    (size != TRAILSEAL_SIZE_CURRENT).then_some(size)
}

// ---- library-wide functions ----------------------------------------------------------------

/// The library version, e.g. `"0.1.0"`: a static string, never NULL; do not free it.
#[no_mangle]
pub extern "C" fn trailseal_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("the version contains a NUL byte"),
        };
    VERSION.as_ptr()
}

/// The snake_case name of a status, e.g. `"invalid_entry"` for 1, `"null_argument"` for 100
/// (`"ok"` for 0, `"unknown"` for a value that is not a status): a static string, never NULL;
/// do not free it.
#[no_mangle]
pub extern "C" fn trailseal_status_name(status: u32) -> *const c_char {
    catch_unwind(|| {
        trailseal_status::ALL
            .iter()
            .find(|s| **s as u32 == status)
            .map_or(c"unknown", |s| s.name())
    })
    .unwrap_or(c"unknown")
    .as_ptr()
}

/// The message of the last failed call on the calling thread, or `""` if the last call on
/// this thread succeeded (or none was made). Never NULL.
///
/// Every function that returns a `trailseal_status` sets the message when it fails and clears
/// it when it succeeds; the `_free` functions, `trailseal_version` and
/// `trailseal_status_name` leave it alone. The returned string is owned by the library: do
/// not free it, and copy it if it is needed after the next status-returning trailseal call
/// on the same thread, which invalidates it. Messages are for people; match on the status.
#[no_mangle]
pub extern "C" fn trailseal_last_error_message() -> *const c_char {
    // The CString's heap buffer does not move until the thread-local is replaced by the next
    // status-returning call on this thread, or the thread ends.
    catch_unwind(|| LAST_ERROR.try_with(|m| m.borrow().as_ptr()))
        .ok()
        .and_then(Result::ok)
        .unwrap_or(c"".as_ptr())
}

/// Frees a string returned by trailseal (through a `char **` out-parameter). NULL is ignored.
///
/// # Safety
///
/// `s` is NULL or a string returned by this library and not yet freed. Never pass a string
/// from `trailseal_version`, `trailseal_status_name` or `trailseal_last_error_message`.
#[no_mangle]
pub unsafe extern "C" fn trailseal_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: made by `CString::into_raw` in `c_string`, per the caller's contract.
        drop(unsafe { CString::from_raw(s) });
    });
}

/// Frees a byte buffer returned by trailseal (`trailseal_ledger_get_raw`); `len` is the length
/// returned with it. NULL is ignored.
///
/// # Safety
///
/// `bytes` is NULL or a buffer returned by this library with exactly this `len`, not yet
/// freed.
#[no_mangle]
pub unsafe extern "C" fn trailseal_bytes_free(bytes: *mut u8, len: usize) {
    if bytes.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: made by `Box::<[u8]>::into_raw` in `put_bytes` with this length.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(bytes, len)) });
    });
}

/// Writes a byte buffer out-parameter pair, freed with [`trailseal_bytes_free`].
///
/// # Safety
/// As [`Out::write`], for both.
pub(crate) unsafe fn put_bytes(out: Out<*mut u8>, out_len: Out<usize>, bytes: Vec<u8>) {
    let boxed = bytes.into_boxed_slice();
    let len = boxed.len();
    let p = Box::into_raw(boxed) as *mut u8;
    // SAFETY: forwarded contract.
    unsafe {
        out.write(p);
        out_len.write(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_code_maps_to_its_number() {
        for code in ErrorCode::ALL {
            let status = trailseal_status::from_code(code);
            assert_eq!(status as u32, code.as_u32(), "{code}");
            assert_eq!(status.name().to_str().unwrap(), code.as_str());
        }
        let mut values: Vec<u32> = trailseal_status::ALL.iter().map(|s| *s as u32).collect();
        values.dedup();
        assert_eq!(values.len(), trailseal_status::ALL.len());
        assert!(values.windows(2).all(|w| w[0] < w[1]));
        // The boundary's own values stay clear of the core's range.
        for s in [
            trailseal_status::NullArgument,
            trailseal_status::InvalidUtf8,
            trailseal_status::Panic,
        ] {
            assert!(s as u32 >= 100);
        }
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = guard(|| panic!("boom {}", 42));
        assert_eq!(status, trailseal_status::Panic);
        let msg = unsafe { CStr::from_ptr(trailseal_last_error_message()) };
        assert!(msg.to_str().unwrap().contains("boom 42"), "{msg:?}");
        let status = guard(|| std::panic::panic_any(7u8));
        assert_eq!(status, trailseal_status::Panic);
        assert_eq!(guard(|| Ok(())), trailseal_status::Ok);
        let msg = unsafe { CStr::from_ptr(trailseal_last_error_message()) };
        assert!(msg.is_empty());
        guard_void(|| panic!("swallowed"));
    }

    #[test]
    fn messages_with_nul_bytes_survive() {
        let status = guard(|| {
            Err(Failure {
                status: trailseal_status::Malformed,
                message: "a\0b".into(),
            })
        });
        assert_eq!(status, trailseal_status::Malformed);
        let msg = unsafe { CStr::from_ptr(trailseal_last_error_message()) };
        assert_eq!(msg.to_str().unwrap(), "a\\0b");
    }

    #[test]
    fn status_names() {
        let name = |s| {
            unsafe { CStr::from_ptr(trailseal_status_name(s)) }
                .to_str()
                .unwrap()
        };
        assert_eq!(name(0), "ok");
        assert_eq!(name(13), "locked");
        assert_eq!(name(101), "invalid_utf8");
        assert_eq!(name(17), "closed");
        assert_eq!(name(18), "rule_violation");
        assert_eq!(name(19), "unknown");
        assert_eq!(name(u32::MAX), "unknown");
        let v = unsafe { CStr::from_ptr(trailseal_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
