//! `trailseal` for Node.js: a napi-rs addon over the core crate, with no logic of its own.
//!
//! The JS API (see `index.d.ts`): `Ledger` (create/open, append, read, prove, checkpoint,
//! verify, close, and the auditor's questions: query, trace, why, gate, recordGate, bundle,
//! report; capture: recordCi, importGit, importEvents; rules: publishRules, rulesAt,
//! deliveryReport, ...; retention: publishRetentionRules, placeHold, retentionPlan, ...;
//! pruning: prune, pruned), `Signer` (checkpoint keys), `checkRules` (`rules.rs`), `compact`
//! (`prune.rs`),
//! `detectCi`, and the ledger-free checks `verifyInclusion`, `verifyConsistency`,
//! `verifyCheckpoint`, `verifyBundle`, and for trusted time `verifyTimestampToken` and
//! `verifyBundleWithTsa` (`timestamp.rs`). Results are the core's JSON
//! forms (`types.rs`). Every error is an `Error` whose `code` is the core's error code string
//! (`error.rs`).

pub mod capture;
mod convert;
pub mod erase;
mod error;
mod ledger;
pub mod prune;
mod questions;
pub mod retention;
pub mod rules;
mod signer;
mod task;
pub mod timestamp;
mod types;

use napi::bindgen_prelude::{JsValue, Unknown};
use napi::Env;
use napi_derive::napi;
use trailseal::{ErrorCode, Outside, Verifier};

use crate::convert::{is_nullish, proof_text, string, type_of};
use crate::error::{guard, js_error};
use crate::ledger::verify_options;
use crate::types::Json;

pub use crate::ledger::Ledger;
pub use crate::signer::Signer;

/// Check an inclusion proof (an object in SPEC form, or its JSON text): that its path leads
/// from `leaf_hash` at `index` to `root`. Given `leaf` (the leaf bytes as a Buffer or
/// Uint8Array, a string taken as its UTF-8 bytes, or an entry object, which is checked as its
/// canonical JSON), also that the leaf hashes to `leaf_hash`. Given `{checkpoint,
/// verifierKey}`, also that the checkpoint is signed by that key and commits to the proof's
/// tree (its size and root). Throws `verification_failed` (or `malformed`, `out_of_range`)
/// if not.
#[napi(
    js_name = "verifyInclusion",
    ts_args_type = "proof: InclusionProof | InclusionProofInput | string, leaf?: Uint8Array | string | Entry | null, options?: VerifyOptions"
)]
pub fn verify_inclusion(
    env: Env,
    proof: Unknown<'_>,
    leaf: Option<Unknown<'_>>,
    options: Option<Unknown<'_>>,
) -> napi::Result<()> {
    let run = || -> trailseal::Result<()> {
        let proof = proof_text(&env, &proof, "inclusion proof")?;
        let leaf = match leaf {
            Some(leaf) if !is_nullish(&leaf)? => Some(leaf_bytes(&env, &leaf)?),
            _ => None,
        };
        let (note, vkey) = verify_options(options)?;
        let outside = Outside::pair(note.as_deref(), vkey.as_deref())?;
        trailseal::check_inclusion(&proof, leaf.as_deref(), outside).map(|_| ())
    };
    guard(run).map_err(|e| js_error(&env, &e))
}

/// The leaf bytes of `verifyInclusion`'s `leaf`.
fn leaf_bytes(env: &Env, leaf: &Unknown<'_>) -> trailseal::Result<Vec<u8>> {
    let is_bytes = leaf.is_typedarray().unwrap_or(false) || leaf.is_buffer().unwrap_or(false);
    if type_of(leaf)? == napi::ValueType::Object && !is_bytes {
        let text = convert::entry_text(env, leaf, "leaf")?;
        let value = convert::parse_entry(&text, None)?;
        return Ok(trailseal::entry::canonical_json(&value));
    }
    convert::bytes(leaf, "leaf")
}

/// Check a consistency proof (an object in SPEC form, or its JSON text): that the tree of
/// `old_size` leaves with `old_root` is a prefix of the tree of `new_size` leaves with
/// `new_root`. Given `{checkpoint, verifierKey}`, also that the checkpoint is signed by that
/// key and commits to one end of the proof (the old tree or the new one). Throws
/// `verification_failed` (or `malformed`, `out_of_range`) if not.
#[napi(
    js_name = "verifyConsistency",
    ts_args_type = "proof: ConsistencyProof | ConsistencyProofInput | string, options?: VerifyOptions"
)]
pub fn verify_consistency(
    env: Env,
    proof: Unknown<'_>,
    options: Option<Unknown<'_>>,
) -> napi::Result<()> {
    guard(|| {
        let proof = proof_text(&env, &proof, "consistency proof")?;
        let (note, vkey) = verify_options(options)?;
        let outside = Outside::pair(note.as_deref(), vkey.as_deref())?;
        trailseal::check_consistency(&proof, outside).map(|_| ())
    })
    .map_err(|e| js_error(&env, &e))
}

/// Open a signed checkpoint note with the verifier key `verifierKey` and return what it
/// commits to. Throws `verification_failed` if the signature does not check out, `malformed`
/// if the note or key does not parse. Checking that `origin` is the log you expect is yours.
#[napi(
    js_name = "verifyCheckpoint",
    ts_args_type = "note: string, verifierKey: string",
    ts_return_type = "Checkpoint"
)]
pub fn verify_checkpoint(
    env: Env,
    note: Unknown<'_>,
    verifier_key: Unknown<'_>,
) -> napi::Result<Json> {
    let run = || -> trailseal::Result<Json> {
        let note = string(&note, "note")?;
        let verifier = Verifier::from_key_string(&string(&verifier_key, "verifierKey")?)?;
        trailseal::Checkpoint::verify(&note, &verifier).map(|c| Json::of(&c.to_json()))
    };
    guard(run).map_err(|e| js_error(&env, &e))
}

/// Open a cosigned checkpoint note: the log's signature by `verifierKey`, and valid
/// cosignatures (C2SP tlog-cosignature v1) of `quorum` distinct witnesses among `witnessKeys`
/// (default: all). Returns `{checkpoint, cosignatures: [{witness, key_hash, timestamp,
/// line}]}`; throws `verification_failed` when the quorum is not met or a listed witness's
/// cosignature does not verify.
#[napi(
    js_name = "verifyCosigned",
    ts_args_type = "note: string, verifierKey: string, witnessKeys: string[], quorum?: number",
    ts_return_type = "Record<string, unknown>"
)]
pub fn verify_cosigned(
    env: Env,
    note: Unknown<'_>,
    verifier_key: Unknown<'_>,
    witness_keys: Unknown<'_>,
    quorum: Option<Unknown<'_>>,
) -> napi::Result<Json> {
    let run = || -> trailseal::Result<Json> {
        let note = string(&note, "note")?;
        let log = Verifier::from_key_string(&string(&verifier_key, "verifierKey")?)?;
        let keys = crate::convert::strings(&witness_keys, "witnessKeys")?;
        let quorum = crate::convert::opt_u64(quorum, "quorum")?
            .map(|q| usize::try_from(q).unwrap_or(usize::MAX));
        let policy = trailseal::WitnessPolicy::from_keys(&keys, quorum)?;
        trailseal::witness::verify_cosigned(&note, &log, &policy).map(|c| Json::of(&c.to_json()))
    };
    guard(run).map_err(|e| js_error(&env, &e))
}

/// Check an evidence bundle (`docs/BUNDLE.md`) with nothing but the log's verifier key: its
/// one canonical spelling, the checkpoint's signature, and every entry's leaf hash and
/// inclusion proof. `bundle` is the file's text, or its bytes. Returns what it proved; throws
/// `verification_failed` if any check fails (one changed character anywhere is caught), or
/// `malformed` if it is not a bundle at all.
#[napi(
    js_name = "verifyBundle",
    ts_args_type = "bundle: string | Uint8Array, verifierKey: string",
    ts_return_type = "BundleReport"
)]
pub fn verify_bundle(
    env: Env,
    bundle: Unknown<'_>,
    verifier_key: Unknown<'_>,
) -> napi::Result<Json> {
    let run = || -> trailseal::Result<Json> {
        let verifier = Verifier::from_key_string(&string(&verifier_key, "verifierKey")?)?;
        let report = if type_of(&bundle)? == napi::ValueType::String {
            trailseal::evidence::verify_bundle(&string(&bundle, "bundle")?, &verifier)?
        } else {
            trailseal::evidence::verify_bundle_bytes(
                &convert::bytes(&bundle, "bundle")?,
                &verifier,
            )?
        };
        Ok(Json::of(&report.to_json()))
    };
    guard(run).map_err(|e| js_error(&env, &e))
}

/// Every error `code` this package uses, in the order of their numeric `status` (1 to 18):
/// `errorCodes()[err.status - 1] === err.code`.
#[napi(js_name = "errorCodes", ts_return_type = "ErrorCode[]")]
pub fn error_codes() -> Vec<&'static str> {
    ErrorCode::ALL.iter().map(|c| error::code_str(*c)).collect()
}
