//! Ledger-free verification: proofs and checkpoints checked with nothing but a public key.

use std::ffi::c_char;

use trailseal::merkle::to_hex;
use trailseal::{check_consistency, check_inclusion, entry, Checkpoint, Error};

use crate::ledger::{outside_checkpoint, parse_hash};
use crate::{arg_bytes, arg_str, guard, opt_str, put_json, put_string, trailseal_status, Out};

/// Verifies an inclusion proof given as SPEC JSON (RFC 9162 section 2.1.3.2): its path leads
/// from `leaf_hash` at `index` to `root`. Needs no ledger.
///
/// With `checkpoint_note` and `verifier_key` (pass both or neither, NULL: one without the
/// other is `TRAILSEAL_STATUS_INVALID_ARGUMENT`), the checkpoint's signature is checked too
/// and the proof must be for its tree (same size and root), so the root is one the log
/// signed. Returns `TRAILSEAL_STATUS_OK` when everything checks out;
/// `TRAILSEAL_STATUS_MALFORMED` for a proof, note or key that does not parse;
/// `TRAILSEAL_STATUS_OUT_OF_RANGE` for an index outside the tree;
/// `TRAILSEAL_STATUS_VERIFICATION_FAILED` for a proof (a path of the wrong length included)
/// or signature that does not verify. The checks run in the core's one order
/// (`trailseal::proof_check`): the checkpoint's signature before the proof.
///
/// # Safety
///
/// `proof_json` is NULL or a NUL-terminated string; `checkpoint_note` and `verifier_key` are
/// NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn trailseal_verify_inclusion(
    proof_json: *const c_char,
    checkpoint_note: *const c_char,
    verifier_key: *const c_char,
) -> trailseal_status {
    guard(|| {
        // SAFETY: per this function's contract.
        unsafe {
            let proof = arg_str(proof_json, "proof_json")?;
            let outside = outside_checkpoint(checkpoint_note, verifier_key)?;
            check_inclusion(proof, None, outside)?;
            Ok(())
        }
    })
}

/// `trailseal_verify_inclusion`, also checking that the leaf bytes (`leaf_len` bytes at
/// `leaf`; NULL only when `leaf_len` is 0) hash to the proof's `leaf_hash`. For an entry
/// ledger the leaf bytes are the entry's canonical JSON, exactly what `trailseal_ledger_get`
/// returns (or `trailseal_canonical_json` of the entry). A mismatch is
/// `TRAILSEAL_STATUS_VERIFICATION_FAILED`.
///
/// # Safety
///
/// As `trailseal_verify_inclusion`; `leaf` is NULL or points to `leaf_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn trailseal_verify_inclusion_leaf(
    proof_json: *const c_char,
    leaf: *const u8,
    leaf_len: usize,
    checkpoint_note: *const c_char,
    verifier_key: *const c_char,
) -> trailseal_status {
    guard(|| {
        // SAFETY: per this function's contract.
        unsafe {
            let proof = arg_str(proof_json, "proof_json")?;
            let leaf = arg_bytes(leaf, leaf_len, "leaf")?;
            let outside = outside_checkpoint(checkpoint_note, verifier_key)?;
            check_inclusion(proof, Some(leaf), outside)?;
            Ok(())
        }
    })
}

/// Verifies a consistency proof given as SPEC JSON (RFC 9162 section 2.1.4.2): the tree of
/// `old_size` leaves with `old_root` is a prefix of the tree of `new_size` leaves with
/// `new_root`. Needs no ledger.
///
/// With `checkpoint_note` and `verifier_key` (both or neither, NULL), the checkpoint's
/// signature is checked too and one end of the proof must be its tree (same size and root).
/// Statuses as `trailseal_verify_inclusion`.
///
/// # Safety
///
/// `proof_json`, `checkpoint_note` and `verifier_key` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn trailseal_verify_consistency(
    proof_json: *const c_char,
    checkpoint_note: *const c_char,
    verifier_key: *const c_char,
) -> trailseal_status {
    guard(|| {
        // SAFETY: per this function's contract.
        unsafe {
            let proof = arg_str(proof_json, "proof_json")?;
            let outside = outside_checkpoint(checkpoint_note, verifier_key)?;
            check_consistency(proof, outside)?;
            Ok(())
        }
    })
}

/// Verifies a signed checkpoint note (C2SP tlog-checkpoint, Ed25519 signed note) against the
/// verifier key string `verifier_key`, and writes what it commits to, to
/// `*checkpoint_json_out`: `{"origin": "...", "size": N, "root": "<hex>", "extensions":
/// ["...", ...]}` (free it with `trailseal_string_free`). Checking that `origin` is the log
/// the caller expects is the caller's job. `TRAILSEAL_STATUS_MALFORMED` for a note or key
/// that does not parse, `TRAILSEAL_STATUS_VERIFICATION_FAILED` for a signature by another key
/// or one that does not verify.
///
/// # Safety
///
/// `note` and `verifier_key` are NULL or NUL-terminated strings; `checkpoint_json_out` is
/// NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_verify_checkpoint(
    note: *const c_char,
    verifier_key: *const c_char,
    checkpoint_json_out: *mut *mut c_char,
) -> trailseal_status {
    guard(|| {
        let out = Out::new(checkpoint_json_out, "checkpoint_json_out")?;
        // SAFETY: per this function's contract.
        unsafe {
            let note = arg_str(note, "note")?;
            let vkey = arg_str(verifier_key, "verifier_key")?;
            let verifier = trailseal::Verifier::from_key_string(vkey)?;
            put_json(out, &Checkpoint::verify(note, &verifier)?.to_json())
        }
    })
}

/// Verifies a checkpoint note that carries witness cosignatures (C2SP tlog-cosignature v1)
/// against the log's verifier key `verifier_key` and a witness policy: the witness keys in
/// `witness_keys_json` (a JSON array of vkey strings) of which `quorum` distinct ones must have
/// cosigned validly (a negative `quorum` asks for all of them). Writes `{"checkpoint": {...},
/// "cosignatures": [{"witness", "key_hash", "timestamp", "line"}, ...]}` to
/// `*cosigned_json_out` (free it with `trailseal_string_free`).
/// `TRAILSEAL_STATUS_MALFORMED` for a note, key or key list that does not parse,
/// `TRAILSEAL_STATUS_VERIFICATION_FAILED` when the log's signature or the quorum fails.
///
/// # Safety
///
/// `note`, `verifier_key` and `witness_keys_json` are NULL or NUL-terminated strings;
/// `cosigned_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_verify_cosigned(
    note: *const c_char,
    verifier_key: *const c_char,
    witness_keys_json: *const c_char,
    quorum: i64,
    cosigned_json_out: *mut *mut c_char,
) -> trailseal_status {
    guard(|| {
        let out = Out::new(cosigned_json_out, "cosigned_json_out")?;
        // SAFETY: per this function's contract.
        unsafe {
            let note = arg_str(note, "note")?;
            let log = trailseal::Verifier::from_key_string(arg_str(verifier_key, "verifier_key")?)?;
            let policy = crate::witness::witness_policy(witness_keys_json, quorum)?;
            put_json(
                out,
                &trailseal::witness::verify_cosigned(note, &log, &policy)?.to_json(),
            )
        }
    })
}

/// Checks an RFC 3161 time-stamp token (DER, the `token_len` bytes at `token`) over the
/// `note_len` bytes at `note` (a checkpoint note as the log signed it: SPEC section 6) against
/// the trusted CA certificate `ca_pem` (PEM text), and writes what it attests to
/// `*attested_json_out`: `{"time": "<RFC 3339>", "tsa": "<TSA certificate subject>",
/// "serial": "<hex>", "policy": "<OID>"}` (free it with `trailseal_string_free`).
/// `TRAILSEAL_STATUS_MALFORMED` for a CA certificate that does not parse (or a token that does
/// not), `TRAILSEAL_STATUS_VERIFICATION_FAILED` for a token that does not check out.
///
/// # Safety
///
/// `token` is NULL (with `token_len` 0) or readable for `token_len` bytes, `note` likewise;
/// `ca_pem` is NULL or a NUL-terminated string; `attested_json_out` is NULL or valid for
/// writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_verify_timestamp_token(
    token: *const u8,
    token_len: usize,
    note: *const u8,
    note_len: usize,
    ca_pem: *const c_char,
    attested_json_out: *mut *mut c_char,
) -> trailseal_status {
    guard(|| {
        let out = Out::new(attested_json_out, "attested_json_out")?;
        // SAFETY: per this function's contract.
        unsafe {
            let token = arg_bytes(token, token_len, "token")?;
            let note = arg_bytes(note, note_len, "note")?;
            let ca = arg_str(ca_pem, "ca_pem")?;
            let attested = trailseal::verify_timestamp_token(token, note, ca.as_bytes())?;
            put_json(out, &attested.to_json())
        }
    })
}

/// Writes the RFC 8785 (JCS) canonical form of the JSON text `json` to `*canonical_json_out`
/// (free it with `trailseal_string_free`): for an entry as recorded (with its `v` and `time`),
/// its leaf bytes. JSON that does not parse, or has a repeated key, is
/// `TRAILSEAL_STATUS_MALFORMED`.
///
/// # Safety
///
/// `json` is NULL or a NUL-terminated string; `canonical_json_out` is NULL or valid for
/// writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_canonical_json(
    json: *const c_char,
    canonical_json_out: *mut *mut c_char,
) -> trailseal_status {
    guard(|| {
        let out = Out::new(canonical_json_out, "canonical_json_out")?;
        // SAFETY: per this function's contract.
        unsafe {
            let text = arg_str(json, "json")?;
            let value = entry::parse_json(text.as_bytes())?;
            let bytes = entry::canonical_json(&value);
            let text = String::from_utf8(bytes)
                .map_err(|e| Error::Internal(format!("canonical JSON is not UTF-8: {e}")))?;
            put_string(out, text)
        }
    })
}

/// Writes the leaf hash `H(0x00 || leaf)` of the `leaf_len` bytes at `leaf` (NULL only when
/// `leaf_len` is 0) under `hash` (`"sha256"`, `"blake3"`, or NULL for the core's default,
/// sha256) as 64 lowercase hex digits to
/// `*leaf_hash_hex_out` (free it with `trailseal_string_free`). An unknown hash name is
/// `TRAILSEAL_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
///
/// `hash` is NULL or a NUL-terminated string; `leaf` is NULL or points to `leaf_len` readable
/// bytes; `leaf_hash_hex_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_leaf_hash(
    hash: *const c_char,
    leaf: *const u8,
    leaf_len: usize,
    leaf_hash_hex_out: *mut *mut c_char,
) -> trailseal_status {
    guard(|| {
        let out = Out::new(leaf_hash_hex_out, "leaf_hash_hex_out")?;
        // SAFETY: per this function's contract.
        unsafe {
            let alg = parse_hash(opt_str(hash, "hash")?)?;
            let leaf = arg_bytes(leaf, leaf_len, "leaf")?;
            put_string(out, to_hex(&alg.leaf_hash(leaf)))
        }
    })
}
