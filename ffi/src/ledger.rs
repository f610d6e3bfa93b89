//! `trailseal_ledger`: create, open, append, read, prove, checkpoint and verify.

use std::ffi::{c_char, c_void};
use std::fmt::Display;
use std::time::Duration;

use serde_json::{json, Value};
use trailseal::entry::PersonalFields;
use trailseal::merkle::to_hex;
use trailseal::{
    CreateOptions, Durability, Error, HashAlg, Ledger, OpenOptions, Outside, Sharing, VerifyOptions,
};

use crate::witness::witness_policy;
use crate::{
    arg_bytes, arg_handle, arg_json, arg_path, arg_str, guard, guard_void, opt_size, opt_str,
    put_bytes, put_string, trailseal_signer, trailseal_status, Failure, Out, Res,
};

/// An open ledger (opaque).
///
/// Made by `trailseal_ledger_create` or `trailseal_ledger_open`, released (and the file
/// unlocked) by `trailseal_ledger_free`. One handle may be used from several threads at once:
/// appends are serialized and readers see consistent snapshots. It must not be used after
/// (or while) it is freed.
pub struct trailseal_ledger {
    ledger: Ledger,
}

fn durability(durable: bool) -> Durability {
    if durable {
        Durability::Immediate
    } else {
        Durability::NotDurableUntilSync
    }
}

pub(crate) fn parse_hash(name: Option<&str>) -> Res<HashAlg> {
    match name {
        None => Ok(HashAlg::default()),
        Some("blake3") => Ok(HashAlg::Blake3),
        Some("sha256") => Ok(HashAlg::Sha256),
        Some(other) => Err(Error::InvalidArgument(format!(
            "unknown hash {other:?}: expected \"blake3\" or \"sha256\""
        ))
        .into()),
    }
}

/// NULL is the core's default; a name is parsed by the core, so every binding accepts the same.
fn parse_sharing(name: Option<&str>) -> Res<Option<Sharing>> {
    Ok(name.map(str::parse).transpose()?)
}

fn receipts_json(receipts: &[trailseal::Receipt]) -> Value {
    Value::Array(receipts.iter().map(|r| r.to_json()).collect())
}

fn boxed(ledger: Ledger) -> *mut trailseal_ledger {
    Box::into_raw(Box::new(trailseal_ledger { ledger }))
}

/// Creates a new ledger file at `path` (refused with `TRAILSEAL_STATUS_ALREADY_EXISTS` if the
/// file exists) and writes its handle to `*ledger_out`.
///
/// - `origin`: the log's origin line, e.g. `"example.com/payments/audit"` (non-empty, one
///   line); the first line of its checkpoints.
/// - `hash`: `"blake3"` or `"sha256"`, or NULL for the core's default (`"sha256"`). Any other name
///   is `TRAILSEAL_STATUS_INVALID_ARGUMENT`.
/// - `raw`: hold raw leaves (opaque bytes) instead of audit entries.
/// - `max_entry_bytes`: the most bytes one leaf may have; 0 for the default (1 MiB).
/// - `durable`: `true` makes every append fsync'd before it returns (the safe default);
///   `false` is the opt-in for bulk imports: appends may be lost (never corrupted) by a crash
///   until `trailseal_ledger_sync` returns.
///
/// The handle shares the file in the default mode (see `trailseal_ledger_open_with`; use
/// `trailseal_ledger_create_with` to choose it). Hash, kind, origin and limit never change
/// afterwards. Free the handle with `trailseal_ledger_free`.
///
/// # Safety
///
/// `path` and `origin` are NULL or NUL-terminated strings (`path` in the platform's
/// encoding, `origin` UTF-8); `hash` is NULL or a NUL-terminated string; `ledger_out` is NULL
/// or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_create(
    path: *const c_char,
    origin: *const c_char,
    hash: *const c_char,
    raw: bool,
    max_entry_bytes: u64,
    durable: bool,
    ledger_out: *mut *mut trailseal_ledger,
) -> trailseal_status {
    // SAFETY: forwarded contract; a NULL `sharing` is allowed.
    unsafe {
        trailseal_ledger_create_with(
            path,
            origin,
            hash,
            raw,
            max_entry_bytes,
            durable,
            std::ptr::null(),
            ledger_out,
        )
    }
}

/// `trailseal_ledger_create` with the sharing mode of the returned handle: `sharing` is as
/// for `trailseal_ledger_open_with` (NULL for the default).
///
/// # Safety
///
/// As `trailseal_ledger_create`; `sharing` is NULL or a NUL-terminated string.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn trailseal_ledger_create_with(
    path: *const c_char,
    origin: *const c_char,
    hash: *const c_char,
    raw: bool,
    max_entry_bytes: u64,
    durable: bool,
    sharing: *const c_char,
    ledger_out: *mut *mut trailseal_ledger,
) -> trailseal_status {
    // SAFETY: forwarded contract; a NULL `personal_json` is allowed.
    unsafe {
        trailseal_ledger_create_personal(
            path,
            origin,
            hash,
            raw,
            max_entry_bytes,
            durable,
            sharing,
            std::ptr::null(),
            ledger_out,
        )
    }
}

/// `trailseal_ledger_create_with` for a ledger that seals the fields `personal_json` names (a
/// JSON array such as `["actor.id", "change.before", "payload.user.email"]`; NULL for none) as
/// salted commitments, their values kept beside the leaves so that `trailseal_ledger_erase`
/// can delete them (SPEC section 10). A field that cannot be personal, or personal fields in a
/// raw ledger, is `TRAILSEAL_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
///
/// As `trailseal_ledger_create_with`; `personal_json` is NULL or a NUL-terminated string.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn trailseal_ledger_create_personal(
    path: *const c_char,
    origin: *const c_char,
    hash: *const c_char,
    raw: bool,
    max_entry_bytes: u64,
    durable: bool,
    sharing: *const c_char,
    personal_json: *const c_char,
    ledger_out: *mut *mut trailseal_ledger,
) -> trailseal_status {
    guard(|| {
        let out = Out::new(ledger_out, "ledger_out")?;
        // SAFETY: per this function's contract.
        let (path, origin, hash, sharing, personal) = unsafe {
            (
                arg_path(path, "path")?,
                arg_str(origin, "origin")?,
                opt_str(hash, "hash")?,
                opt_str(sharing, "sharing")?,
                opt_str(personal_json, "personal_json")?,
            )
        };
        let mut opts = CreateOptions::new(origin).hash(parse_hash(hash)?);
        if raw {
            opts = opts.raw();
        }
        if max_entry_bytes != 0 {
            opts.max_entry_bytes = max_entry_bytes;
        }
        if let Some(p) = personal {
            let fields = PersonalFields::from_json(&trailseal::entry::parse_json(p.as_bytes())?)?;
            opts = opts.personal_fields(fields.paths());
        }
        opts.durability = durability(durable);
        opts.sharing = parse_sharing(sharing)?;
        let ledger = Ledger::create(&path, &opts)?;
        // SAFETY: per this function's contract.
        unsafe { out.write(boxed(ledger)) };
        Ok(())
    })
}

/// Opens an existing ledger and writes its handle to `*ledger_out`, in the default sharing
/// mode and for writing: `trailseal_ledger_open_with(path, wait_ms, durable, NULL, false,
/// ledger_out)`.
///
/// # Safety
///
/// `path` is NULL or a NUL-terminated string; `ledger_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_open(
    path: *const c_char,
    wait_ms: u64,
    durable: bool,
    ledger_out: *mut *mut trailseal_ledger,
) -> trailseal_status {
    // SAFETY: forwarded contract; a NULL `sharing` is allowed.
    unsafe {
        trailseal_ledger_open_with(path, wait_ms, durable, std::ptr::null(), false, ledger_out)
    }
}

/// Opens an existing ledger and writes its handle to `*ledger_out`.
///
/// - `sharing`: how this handle shares the file with other handles and processes, or NULL
///   for the default. `"auto"` (the default for durable handles): hold the file alone until
///   another handle or process opens it, then share it as `"multi-writer"`: any number of
///   handles read and append at once, each following the others' commits.
///   `"single-writer"`: one writer, any number of readers beside it. `"exclusive"` (the
///   default, and the only mode, for `durable` false): a writing handle holds the file
///   alone. Handles open on a file at once must use compatible modes (`"auto"` with
///   `"auto"` and `"multi-writer"`, otherwise the same). `_` may stand for
///   `-`; another name is `TRAILSEAL_STATUS_MALFORMED`, a shared mode with `durable` false
///   `TRAILSEAL_STATUS_INVALID_ARGUMENT`.
/// - `read_only`: the handle never writes a byte of the file (read permission is enough);
///   appends, checkpoints and sync through it are `TRAILSEAL_STATUS_INVALID_ARGUMENT`.
/// - `wait_ms`: while the mode keeps this handle out (another holds the file exclusively),
///   fail with `TRAILSEAL_STATUS_LOCKED` at once if 0, or after waiting up to `wait_ms`
///   milliseconds for it to be released.
/// - `durable`: as for `trailseal_ledger_create`.
///
/// A missing file is `TRAILSEAL_STATUS_NOT_FOUND`; a file that is not a ledger is
/// `TRAILSEAL_STATUS_NOT_A_LEDGER`.
///
/// # Safety
///
/// `path` is NULL or a NUL-terminated string; `sharing` is NULL or a NUL-terminated string;
/// `ledger_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_open_with(
    path: *const c_char,
    wait_ms: u64,
    durable: bool,
    sharing: *const c_char,
    read_only: bool,
    ledger_out: *mut *mut trailseal_ledger,
) -> trailseal_status {
    guard(|| {
        let out = Out::new(ledger_out, "ledger_out")?;
        // SAFETY: per this function's contract.
        let (path, sharing) = unsafe { (arg_path(path, "path")?, opt_str(sharing, "sharing")?) };
        let opts = OpenOptions {
            wait: (wait_ms > 0).then(|| Duration::from_millis(wait_ms)),
            durability: durability(durable),
            sharing: parse_sharing(sharing)?,
            read_only,
        };
        let ledger = Ledger::open_with(&path, &opts)?;
        // SAFETY: per this function's contract.
        unsafe { out.write(boxed(ledger)) };
        Ok(())
    })
}

/// Closes a ledger: releases the handle and unlocks the file. NULL is ignored.
///
/// # Safety
///
/// `ledger` is NULL or a handle from this library that is not used again (by any thread).
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_free(ledger: *mut trailseal_ledger) {
    if ledger.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: made by `Box::into_raw` in `boxed`, per the caller's contract.
        drop(unsafe { Box::from_raw(ledger) });
    });
}

/// Shared body of the functions taking a ledger handle.
///
/// # Safety
/// `ledger` is NULL or a live handle.
pub(crate) unsafe fn with_ledger(
    ledger: *const trailseal_ledger,
    body: impl FnOnce(&Ledger) -> Res,
) -> trailseal_status {
    guard(|| {
        // SAFETY: forwarded contract.
        let l = unsafe { arg_handle(ledger, "ledger")? };
        body(&l.ledger)
    })
}

/// Shared body of the functions taking a ledger handle and writing one string (JSON or text)
/// to the out-parameter `out` (named `out_name` in messages): checks the handle, then `out`
/// before any work is done, runs `body`, and writes its result (a `serde_json::Value` as its
/// compact JSON text) only on success.
///
/// # Safety
/// `ledger` is NULL or a live handle; `out` is NULL or valid for writing a pointer.
pub(crate) unsafe fn with_ledger_string<T: Display>(
    ledger: *const trailseal_ledger,
    out: *mut *mut c_char,
    out_name: &str,
    body: impl FnOnce(&Ledger) -> Res<T>,
) -> trailseal_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_ledger(ledger, |l| {
            let out = Out::new(out, out_name)?;
            put_string(out, body(l)?.to_string())
        })
    }
}

/// Writes what never changes about the ledger and this handle to `*info_json_out`:
/// `{"path": "...", "origin": "...", "hash": "blake3"|"sha256", "kind": "entries"|"raw",
/// "max_entry_bytes": N, "sharing": "auto"|"multi-writer"|"single-writer"|"exclusive",
/// "sharing_now": "multi-writer"|"single-writer"|"exclusive", "read_only": bool}` (`path`
/// lossily converted to UTF-8; `sharing` is the mode the handle was opened in, the default
/// resolved; `sharing_now` the mode the file is open in at the time of the call, which for
/// `"auto"` turns from `"exclusive"` to `"multi-writer"` once another handle asked). Free it with
/// `trailseal_string_free`.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `info_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_info(
    ledger: *const trailseal_ledger,
    info_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, info_json_out, "info_json_out", |l| {
            Ok(json!({
                "path": l.path().to_string_lossy(),
                "origin": l.origin(),
                "hash": l.hash().name(),
                "kind": l.kind().name(),
                "max_entry_bytes": l.max_entry_bytes(),
                "sharing": l.sharing().name(),
                "sharing_now": l.sharing_now().name(),
                "read_only": l.read_only(),
            }))
        })
    }
}

/// Appends one audit entry, given as the UTF-8 JSON text of an object (SPEC section 3; the
/// library assigns `v` and `time`), durably unless the handle was made with `durable` false.
/// Writes the receipt `{"index", "leaf_hash", "tree_size", "root", "time"}` to
/// `*receipt_json_out` (free it with `trailseal_string_free`).
///
/// Text that is not JSON, or has a repeated key, is `TRAILSEAL_STATUS_MALFORMED`; an entry
/// breaking a rule is `TRAILSEAL_STATUS_INVALID_ENTRY`; on a raw ledger
/// `TRAILSEAL_STATUS_WRONG_KIND`. An entry whose `id` is already recorded with the same
/// content is not written again: its receipt is the recorded one's; with other content it is
/// `TRAILSEAL_STATUS_ID_CONFLICT`.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `entry_json` is NULL or a NUL-terminated string;
/// `receipt_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_append(
    ledger: *const trailseal_ledger,
    entry_json: *const c_char,
    receipt_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, receipt_json_out, "receipt_json_out", |l| {
            let value = arg_json(entry_json, "entry_json")?;
            Ok(l.append(&value)?.to_json())
        })
    }
}

/// Appends audit entries atomically, given as the UTF-8 JSON text of an array of entry
/// objects: all are written in one commit, or none is (the message of an invalid entry names
/// it as `[i].field`). Writes the JSON array of their receipts, in order, to
/// `*receipts_json_out` (free it with `trailseal_string_free`). Text that is not a JSON array
/// is `TRAILSEAL_STATUS_MALFORMED`. Otherwise as `trailseal_ledger_append`.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `entries_json` is NULL or a NUL-terminated string;
/// `receipts_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_append_batch(
    ledger: *const trailseal_ledger,
    entries_json: *const c_char,
    receipts_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, receipts_json_out, "receipts_json_out", |l| {
            let Value::Array(entries) = arg_json(entries_json, "entries_json")? else {
                return Err(Failure::from(Error::Malformed {
                    what: "entry batch",
                    reason: "expected a JSON array of entry objects".into(),
                }));
            };
            Ok(receipts_json(&l.append_batch(&entries)?))
        })
    }
}

/// Appends one raw leaf (`leaf_len` bytes at `leaf`; `leaf` may be NULL only when `leaf_len`
/// is 0) to a raw ledger (`TRAILSEAL_STATUS_WRONG_KIND` on an entry ledger). A leaf over the
/// ledger's limit is `TRAILSEAL_STATUS_INVALID_ARGUMENT`. Writes the receipt
/// `{"index", "leaf_hash", "tree_size", "root"}` to `*receipt_json_out` (free it with
/// `trailseal_string_free`).
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `leaf` is NULL or points to `leaf_len` readable bytes;
/// `receipt_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_append_raw(
    ledger: *const trailseal_ledger,
    leaf: *const u8,
    leaf_len: usize,
    receipt_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, receipt_json_out, "receipt_json_out", |l| {
            Ok(l.append_raw(arg_bytes(leaf, leaf_len, "leaf")?)?.to_json())
        })
    }
}

/// Appends `count` raw leaves atomically: leaf `i` is `leaf_lens[i]` bytes at `leaves[i]`
/// (`leaves[i]` may be NULL only when `leaf_lens[i]` is 0; `leaves` and `leaf_lens` may be
/// NULL only when `count` is 0). Writes the JSON array of their receipts to
/// `*receipts_json_out` (free it with `trailseal_string_free`). Otherwise as
/// `trailseal_ledger_append_raw`.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `leaves` and `leaf_lens` are NULL or point to `count`
/// readable elements, each `leaves[i]` NULL or pointing to `leaf_lens[i]` readable bytes;
/// `receipts_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_append_raw_batch(
    ledger: *const trailseal_ledger,
    leaves: *const *const u8,
    leaf_lens: *const usize,
    count: usize,
    receipts_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, receipts_json_out, "receipts_json_out", |l| {
            let ptrs = arg_slice(leaves, count, "leaves")?;
            let lens = arg_slice(leaf_lens, count, "leaf_lens")?;
            let mut batch = Vec::with_capacity(count);
            for (i, (&p, &len)) in ptrs.iter().zip(lens).enumerate() {
                batch.push(arg_bytes(p, len, &format!("leaves[{i}]"))?);
            }
            Ok(receipts_json(&l.append_raw_batch(&batch)?))
        })
    }
}

/// An array argument of `count` elements; NULL only when `count` is 0.
///
/// # Safety
/// `p` is NULL or points to `count` readable `T`s.
unsafe fn arg_slice<'a, T>(p: *const T, count: usize, name: &str) -> Res<&'a [T]> {
    if p.is_null() {
        return if count == 0 {
            Ok(&[])
        } else {
            Err(Failure::null(name))
        };
    }
    // SAFETY: per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(p, count) })
}

/// Writes the audit entry at `index` to `*entry_json_out`: exactly its leaf bytes, the
/// canonical (RFC 8785) JSON as recorded, so hashing them gives its leaf hash. Free it with
/// `trailseal_string_free`. `TRAILSEAL_STATUS_OUT_OF_RANGE` past the end,
/// `TRAILSEAL_STATUS_WRONG_KIND` on a raw ledger.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `entry_json_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_get(
    ledger: *const trailseal_ledger,
    index: u64,
    entry_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, entry_json_out, "entry_json_out", |l| {
            Ok(l.entry_json(index)?)
        })
    }
}

/// Writes the exact leaf bytes at `index` (either kind of ledger) to `*leaf_out` and their
/// length to `*leaf_len_out`. Free the buffer with `trailseal_bytes_free(leaf, leaf_len)`
/// (it is not NUL-terminated, and is non-NULL even when empty).
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `leaf_out` and `leaf_len_out` are NULL or valid for
/// writing.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_get_raw(
    ledger: *const trailseal_ledger,
    index: u64,
    leaf_out: *mut *mut u8,
    leaf_len_out: *mut usize,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger(ledger, |l| {
            let out = Out::new(leaf_out, "leaf_out")?;
            let out_len = Out::new(leaf_len_out, "leaf_len_out")?;
            let bytes = l.get_raw(index)?;
            put_bytes(out, out_len, bytes);
            Ok(())
        })
    }
}

/// Writes the number of leaves to `*size_out`.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `size_out` is NULL or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_size(
    ledger: *const trailseal_ledger,
    size_out: *mut u64,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger(ledger, |l| {
            let out = Out::new(size_out, "size_out")?;
            out.write(l.size()?);
            Ok(())
        })
    }
}

/// Writes the root hash (64 lowercase hex digits) of the tree of `size` leaves to
/// `*root_hex_out`; `TRAILSEAL_SIZE_CURRENT` for the current tree. Free it with
/// `trailseal_string_free`. A size beyond the ledger is `TRAILSEAL_STATUS_OUT_OF_RANGE`.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `root_hex_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_root(
    ledger: *const trailseal_ledger,
    size: u64,
    root_hex_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, root_hex_out, "root_hex_out", |l| {
            let root = match opt_size(size) {
                None => l.root()?,
                Some(s) => l.root_at(s)?,
            };
            Ok(to_hex(&root))
        })
    }
}

/// Writes the leaf hash at `index` (64 lowercase hex digits) to `*leaf_hash_hex_out`. Free it
/// with `trailseal_string_free`.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `leaf_hash_hex_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_leaf_hash(
    ledger: *const trailseal_ledger,
    index: u64,
    leaf_hash_hex_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, leaf_hash_hex_out, "leaf_hash_hex_out", |l| {
            Ok(to_hex(&l.leaf_hash(index)?))
        })
    }
}

/// Writes the inclusion proof of leaf `index` in the tree of `size` leaves
/// (`TRAILSEAL_SIZE_CURRENT` for the current tree) to `*proof_json_out`, in SPEC JSON:
/// `{"hash", "index", "tree_size", "leaf_hash", "root", "path"}`. Free it with
/// `trailseal_string_free`.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `proof_json_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_prove_inclusion(
    ledger: *const trailseal_ledger,
    index: u64,
    size: u64,
    proof_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, proof_json_out, "proof_json_out", |l| {
            Ok(l.prove_inclusion(index, opt_size(size))?.to_json())
        })
    }
}

/// Writes the consistency proof from the tree of `old_size` leaves to the tree of `size`
/// leaves (`TRAILSEAL_SIZE_CURRENT` for the current tree) to `*proof_json_out`, in SPEC JSON:
/// `{"hash", "old_size", "new_size", "old_root", "new_root", "path"}`. Free it with
/// `trailseal_string_free`.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `proof_json_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_prove_consistency(
    ledger: *const trailseal_ledger,
    old_size: u64,
    size: u64,
    proof_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, proof_json_out, "proof_json_out", |l| {
            Ok(l.prove_consistency(old_size, opt_size(size))?.to_json())
        })
    }
}

/// Signs a checkpoint of the tree of `size` leaves (`TRAILSEAL_SIZE_CURRENT` for the current
/// tree) with `signer`, keeps it in the ledger (so `verify` re-checks it), and writes the
/// signed note text (C2SP tlog-checkpoint) to `*note_out`. Free it with
/// `trailseal_string_free`.
///
/// # Safety
///
/// `ledger` and `signer` are NULL or live handles; `note_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_checkpoint(
    ledger: *const trailseal_ledger,
    signer: *const trailseal_signer,
    size: u64,
    note_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, note_out, "note_out", |l| {
            let signer = &arg_handle(signer, "signer")?.signer;
            Ok(l.checkpoint(signer, opt_size(size))?)
        })
    }
}

/// Writes every checkpoint this ledger signed, oldest first, to `*checkpoints_json_out`: a
/// JSON array of `{"size": N, "note": "<signed note text>", "verifier_key": "<vkey>"}`. Free
/// it with `trailseal_string_free`.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `checkpoints_json_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_checkpoints(
    ledger: *const trailseal_ledger,
    checkpoints_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, checkpoints_json_out, "checkpoints_json_out", |l| {
            let list: Vec<Value> = l.checkpoints()?.iter().map(|c| c.to_json()).collect();
            Ok(Value::Array(list))
        })
    }
}

/// Called by `trailseal_ledger_verify_with_progress` with the leaves re-hashed so far and
/// the total, and the caller's `userdata`. It runs on the calling thread and must return
/// normally (no `longjmp`, no exception or Go panic crossing it).
pub type trailseal_progress_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, done: u64, total: u64)>;

/// Checks the whole ledger: re-hashes every leaf, recomputes every stored node, re-verifies
/// every checkpoint it signed and its `id` index. With `checkpoint_note` and `verifier_key`
/// (a signed checkpoint held elsewhere and the verifier key string of its signer) it also
/// checks that the ledger contains that tree (catching rollback and forks); pass both or
/// neither (NULL), one without the other is `TRAILSEAL_STATUS_INVALID_ARGUMENT`.
///
/// On success writes the report to `*report_json_out` (free it with `trailseal_string_free`):
/// `{"ok": true, "size", "root", "nodes_checked", "checkpoints_checked",
/// "consistent_with_checkpoint": <size or null>, "postings_checked", "indexes_checked"}`, the
/// same as `trailseal verify` prints. The query indexes' structure is checked; to check every
/// posting against its entry too, use `trailseal_ledger_verify_with_options`.
/// Failures: `TRAILSEAL_STATUS_TAMPERED` (the message names the first leaf, node or
/// checkpoint that does not match), `TRAILSEAL_STATUS_INCONSISTENT`,
/// `TRAILSEAL_STATUS_VERIFICATION_FAILED` or `TRAILSEAL_STATUS_MALFORMED` (the outside
/// checkpoint or key).
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `checkpoint_note` and `verifier_key` are NULL or
/// NUL-terminated strings; `report_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_verify(
    ledger: *const trailseal_ledger,
    checkpoint_note: *const c_char,
    verifier_key: *const c_char,
    report_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract (no progress, so no userdata).
    unsafe {
        trailseal_ledger_verify_with_options(
            ledger,
            checkpoint_note,
            verifier_key,
            0,
            None,
            std::ptr::null_mut(),
            report_json_out,
        )
    }
}

/// `trailseal_ledger_verify`, calling `progress(userdata, done, total)` while it scans the
/// leaves (`progress` is required; `userdata` is passed through and may be NULL).
///
/// # Safety
///
/// As `trailseal_ledger_verify`; `progress` is NULL or a function that is safe to call with
/// `userdata`.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_verify_with_progress(
    ledger: *const trailseal_ledger,
    checkpoint_note: *const c_char,
    verifier_key: *const c_char,
    progress: trailseal_progress_fn,
    userdata: *mut c_void,
    report_json_out: *mut *mut c_char,
) -> trailseal_status {
    if progress.is_none() {
        return guard(|| Err(Failure::null("progress")));
    }
    // SAFETY: per this function's contract.
    unsafe {
        trailseal_ledger_verify_with_options(
            ledger,
            checkpoint_note,
            verifier_key,
            0,
            progress,
            userdata,
            report_json_out,
        )
    }
}

/// A bit of the `flags` of `trailseal_ledger_verify_with_options`: also check every
/// query-index posting against its entry (every entry filed under exactly its terms). The
/// indexes are not part of the tree, so a doctored index cannot change the record, but it
/// could hide entries from a query; this finds that. Much slower than the default check,
/// which checks only the indexes' structure.
pub const TRAILSEAL_VERIFY_INDEXES: u32 = 1;

/// `trailseal_ledger_verify` with every option of the core's verify: `checkpoint_note` and
/// `verifier_key` as there; `flags` is 0 or `TRAILSEAL_VERIFY_INDEXES` (any other bit is
/// `TRAILSEAL_STATUS_INVALID_ARGUMENT`); `progress` is NULL, or called as by
/// `trailseal_ledger_verify_with_progress` with `userdata`.
///
/// The report's `"postings_checked"` counts the query-index postings checked and
/// `"indexes_checked"` is true when they were checked against the entries (with
/// `TRAILSEAL_VERIFY_INDEXES` on a ledger of entries; a raw ledger has no indexes). A posting
/// that does not match its entry is `TRAILSEAL_STATUS_TAMPERED`.
///
/// # Safety
///
/// As `trailseal_ledger_verify_with_progress`, except that `progress` may be NULL.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_verify_with_options(
    ledger: *const trailseal_ledger,
    checkpoint_note: *const c_char,
    verifier_key: *const c_char,
    flags: u32,
    progress: trailseal_progress_fn,
    userdata: *mut c_void,
    report_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        trailseal_ledger_verify_witnessed(
            ledger,
            checkpoint_note,
            verifier_key,
            flags,
            std::ptr::null(),
            -1,
            progress,
            userdata,
            report_json_out,
        )
    }
}

/// `trailseal_ledger_verify_with_options`, and the ledger held to a witness policy: the
/// witnesses of `witness_keys_json` (a JSON array of witness vkey strings; NULL for no
/// policy, as `trailseal_ledger_verify_with_options`) of whom `quorum` (negative: all of
/// them) must have cosigned. Every kept cosignature by a listed witness is re-verified (one
/// that does not verify is `TRAILSEAL_STATUS_VERIFICATION_FAILED`); with `checkpoint_note`,
/// that outside checkpoint must carry the quorum, else some kept checkpoint must
/// (`TRAILSEAL_STATUS_VERIFICATION_FAILED` when none does). The report's `"witnessed_size"`
/// is the largest size so witnessed. Free it with `trailseal_string_free`.
///
/// # Safety
///
/// As `trailseal_ledger_verify_with_options`; `witness_keys_json` is NULL or a NUL-terminated
/// string.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn trailseal_ledger_verify_witnessed(
    ledger: *const trailseal_ledger,
    checkpoint_note: *const c_char,
    verifier_key: *const c_char,
    flags: u32,
    witness_keys_json: *const c_char,
    quorum: i64,
    progress: trailseal_progress_fn,
    userdata: *mut c_void,
    report_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, report_json_out, "report_json_out", |l| {
            if flags & !TRAILSEAL_VERIFY_INDEXES != 0 {
                return Err(Error::InvalidArgument(format!(
                    "unknown verify flags {:#x} (known: TRAILSEAL_VERIFY_INDEXES = 1)",
                    flags & !TRAILSEAL_VERIFY_INDEXES
                ))
                .into());
            }
            let against = outside_checkpoint(checkpoint_note, verifier_key)?;
            let verifier = against.as_ref().map(Outside::verifier).transpose()?;
            let mut tick = |done: u64, total: u64| {
                if let Some(f) = progress {
                    // SAFETY: per the caller's contract.
                    f(userdata, done, total);
                }
            };
            let mut opts = VerifyOptions::default().indexes(flags & TRAILSEAL_VERIFY_INDEXES != 0);
            if progress.is_some() {
                opts = opts.progress(&mut tick);
            }
            if let (Some(outside), Some(v)) = (&against, &verifier) {
                opts = opts.against(outside.note, v);
            }
            let policy = (!witness_keys_json.is_null())
                .then(|| witness_policy(witness_keys_json, quorum))
                .transpose()?;
            if let Some(p) = &policy {
                opts = opts.witnessed(p);
            }
            Ok(l.verify_with(opts)?.to_json())
        })
    }
}

/// The optional `(checkpoint_note, verifier_key)` pair, as the core's `Outside::pair` takes
/// it (which refuses one without the other).
///
/// # Safety
/// Both are NULL or NUL-terminated strings.
pub(crate) unsafe fn outside_checkpoint<'a>(
    checkpoint_note: *const c_char,
    verifier_key: *const c_char,
) -> Res<Option<Outside<'a>>> {
    // SAFETY: per the caller's contract.
    let (note, vkey) = unsafe {
        (
            opt_str(checkpoint_note, "checkpoint_note")?,
            opt_str(verifier_key, "verifier_key")?,
        )
    };
    Ok(Outside::pair(note, vkey)?)
}

/// Makes every append made through a handle opened with `durable` false durable.
///
/// # Safety
///
/// `ledger` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_sync(
    ledger: *const trailseal_ledger,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe { with_ledger(ledger, |l| Ok(l.sync()?)) }
}
