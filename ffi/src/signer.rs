//! `trailseal_signer`: Ed25519 checkpoint signing keys in Go's `sumdb/note` format.

use std::ffi::c_char;

use trailseal::{Error, Signer};

use crate::{
    arg_bytes, arg_handle, arg_str, guard, guard_void, put_string, trailseal_status, Out, Res,
};

/// A checkpoint signing key (opaque): a name and an Ed25519 private key.
///
/// Made by `trailseal_signer_generate`, `trailseal_signer_from_string` or
/// `trailseal_signer_from_seed`; released by `trailseal_signer_free`. Immutable: may be used
/// from several threads at once.
pub struct trailseal_signer {
    pub(crate) signer: Signer,
}

/// # Safety
/// `out` is valid for writing a pointer.
unsafe fn made(out: Out<*mut trailseal_signer>, signer: Res<Signer>) -> Res {
    let signer = signer?;
    // SAFETY: per the caller's contract.
    unsafe { out.write(Box::into_raw(Box::new(trailseal_signer { signer }))) };
    Ok(())
}

/// Makes a new signing key named `name` (usually the ledger's origin) from the operating
/// system's random number generator and writes its handle to `*signer_out`. A name that is
/// empty or holds white space, `+` or a control character is `TRAILSEAL_STATUS_MALFORMED`.
///
/// # Safety
///
/// `name` is NULL or a NUL-terminated string; `signer_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_signer_generate(
    name: *const c_char,
    signer_out: *mut *mut trailseal_signer,
) -> trailseal_status {
    guard(|| {
        let out = Out::new(signer_out, "signer_out")?;
        // SAFETY: per this function's contract.
        unsafe {
            let name = arg_str(name, "name")?;
            made(out, Signer::generate(name).map_err(Into::into))
        }
    })
}

/// Parses a signer key string, `PRIVATE+KEY+<name>+<hash>+<base64>` (as written by Go's
/// `note.GenerateKey`, `trailseal init`'s key file or `trailseal_signer_to_string`; white
/// space around it is ignored) and writes the handle to `*signer_out`. A string that does not
/// parse, or whose key hash does not match, is `TRAILSEAL_STATUS_MALFORMED` (the message
/// never quotes the key).
///
/// # Safety
///
/// `signer_key` is NULL or a NUL-terminated string; `signer_out` is NULL or valid for writing
/// a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_signer_from_string(
    signer_key: *const c_char,
    signer_out: *mut *mut trailseal_signer,
) -> trailseal_status {
    guard(|| {
        let out = Out::new(signer_out, "signer_out")?;
        // SAFETY: per this function's contract.
        unsafe {
            let skey = arg_str(signer_key, "signer_key")?;
            made(out, Signer::from_key_string(skey).map_err(Into::into))
        }
    })
}

/// Makes the signing key named `name` whose Ed25519 seed (RFC 8032 private key) is the
/// `seed_len` bytes at `seed`, and writes its handle to `*signer_out`. `seed_len` must be 32
/// (`TRAILSEAL_STATUS_INVALID_ARGUMENT` otherwise). The same name and seed always give the
/// same key and signatures.
///
/// # Safety
///
/// `name` is NULL or a NUL-terminated string; `seed` is NULL or points to `seed_len` readable
/// bytes; `signer_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_signer_from_seed(
    name: *const c_char,
    seed: *const u8,
    seed_len: usize,
    signer_out: *mut *mut trailseal_signer,
) -> trailseal_status {
    guard(|| {
        let out = Out::new(signer_out, "signer_out")?;
        // SAFETY: per this function's contract.
        unsafe {
            let name = arg_str(name, "name")?;
            if seed.is_null() {
                return Err(crate::Failure::null("seed"));
            }
            let seed: [u8; 32] = arg_bytes(seed, seed_len, "seed")?.try_into().map_err(|_| {
                Error::InvalidArgument(format!("the seed is {seed_len} bytes, not 32"))
            })?;
            made(out, Signer::from_seed(name, seed).map_err(Into::into))
        }
    })
}

/// Makes a signer for a key held outside the process, named `name`: `spec` is
/// `ssh-agent:<key comment or SHA256 fingerprint>` (the agent at `SSH_AUTH_SOCK`) or
/// `pkcs11:<RFC 7512 URI>`. The secret never enters the process; each signature is asked of
/// the agent or token. `TRAILSEAL_STATUS_INVALID_ARGUMENT` for a spec of neither form, no
/// such key, a key that is not Ed25519 or a wrong PIN; `TRAILSEAL_STATUS_IO` for an agent or
/// token that cannot be reached.
///
/// # Safety
///
/// `spec` and `name` are NULL or NUL-terminated strings; `signer_out` is NULL or valid for
/// writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_signer_open(
    spec: *const c_char,
    name: *const c_char,
    signer_out: *mut *mut trailseal_signer,
) -> trailseal_status {
    guard(|| {
        let out = Out::new(signer_out, "signer_out")?;
        // SAFETY: per this function's contract.
        unsafe {
            let spec = arg_str(spec, "spec")?;
            let name = arg_str(name, "name")?;
            made(out, Signer::open(spec, name).map_err(Into::into))
        }
    })
}

/// Writes the signer key string `PRIVATE+KEY+<name>+<hash>+<base64>` to `*signer_key_out`
/// (free it with `trailseal_string_free`). This string is the secret: anyone holding it can
/// sign as this key. Go's `note.NewSigner` reads it. A key held outside the process has none:
/// `TRAILSEAL_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
///
/// `signer` is NULL or a live handle; `signer_key_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_signer_to_string(
    signer: *const trailseal_signer,
    signer_key_out: *mut *mut c_char,
) -> trailseal_status {
    guard(|| {
        // SAFETY: per this function's contract.
        unsafe {
            let s = arg_handle(signer, "signer")?;
            let out = Out::new(signer_key_out, "signer_key_out")?;
            put_string(out, s.signer.to_key_string()?)
        }
    })
}

/// Writes the public verifier key string `<name>+<hash>+<base64>` to `*verifier_key_out`
/// (free it with `trailseal_string_free`): what an auditor needs to check checkpoints, byte
/// for byte what Go's `note.GenerateKey` writes.
///
/// # Safety
///
/// `signer` is NULL or a live handle; `verifier_key_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_signer_verifier_key(
    signer: *const trailseal_signer,
    verifier_key_out: *mut *mut c_char,
) -> trailseal_status {
    guard(|| {
        // SAFETY: per this function's contract.
        unsafe {
            let s = arg_handle(signer, "signer")?;
            let out = Out::new(verifier_key_out, "verifier_key_out")?;
            put_string(out, s.signer.verifier().to_key_string())
        }
    })
}

/// Releases a signer. NULL is ignored.
///
/// # Safety
///
/// `signer` is NULL or a handle from this library that is not used again (by any thread).
#[no_mangle]
pub unsafe extern "C" fn trailseal_signer_free(signer: *mut trailseal_signer) {
    if signer.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: made by `Box::into_raw` in `made`, per the caller's contract.
        drop(unsafe { Box::from_raw(signer) });
    });
}
