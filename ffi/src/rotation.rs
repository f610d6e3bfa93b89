//! Checkpoint key rotation from C: the rotation itself and the key in force. The chain's rules
//! are the core's (`ledger/rotation.rs`).

use std::ffi::c_char;

use crate::ledger::{with_ledger, with_ledger_string};
use crate::{
    arg_handle, arg_str, put_string, trailseal_ledger, trailseal_signer, trailseal_status, Out,
};

/// Rotates the ledger's checkpoint key from `old` (the key in force) to `new`: appends a
/// `key.rotated` entry by `actor` naming both verifier keys and keeps a checkpoint over it
/// signed by `old` and then `new` (SPEC section 4.1); later checkpoints are signed by `new`.
/// Writes `{"index", "old_key", "new_key", "note"}` to `*rotated_json_out` (free it with
/// `trailseal_string_free`). `TRAILSEAL_STATUS_INVALID_ARGUMENT` when `old` is not the key in
/// force or `new` is the same key; running it again after an interruption completes the same
/// rotation without a second entry.
///
/// # Safety
///
/// `ledger`, `old` and `new` are NULL or live handles; `actor` is NULL or a NUL-terminated
/// string; `rotated_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_rotate_key(
    ledger: *const trailseal_ledger,
    old: *const trailseal_signer,
    new: *const trailseal_signer,
    actor: *const c_char,
    rotated_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, rotated_json_out, "rotated_json_out", |l| {
            let old = &arg_handle(old, "old")?.signer;
            let new = &arg_handle(new, "new")?.signer;
            Ok(l.rotate_key(old, new, arg_str(actor, "actor")?)?.to_json())
        })
    }
}

/// Writes the verifier key that signs the ledger's checkpoints now (the first key followed
/// through every rotation that holds) to `*verifier_key_out`, or NULL when the ledger records
/// no key (free it with `trailseal_string_free`).
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `verifier_key_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_verifier_key(
    ledger: *const trailseal_ledger,
    verifier_key_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger(ledger, |l| {
            let out = Out::new(verifier_key_out, "verifier_key_out")?;
            match l.verifier_key_in_force()? {
                Some(k) => put_string(out, k)?,
                None => out.write(std::ptr::null_mut()),
            }
            Ok(())
        })
    }
}
