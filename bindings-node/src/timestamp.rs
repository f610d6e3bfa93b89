//! Trusted time without a ledger: `verifyTimestampToken` and `verifyBundleWithTsa` (the
//! ledger's own calls, `timestampCheckpoint` and `checkpointTimestamp`, are with the class).

use napi::bindgen_prelude::Unknown;
use napi::Env;
use napi_derive::napi;
use trailseal::Verifier;

use crate::convert::{bytes, string};
use crate::error::{guard, js_error};
use crate::types::Json;

/// Check an RFC 3161 time-stamp token (DER) as a time-stamp of `note` (the checkpoint note)
/// by a TSA under the CA certificate `tsaCa` (PEM), offline. Returns what it attests:
/// `{time, tsa, serial, policy}`; throws `verification_failed` or `malformed`.
#[napi(
    js_name = "verifyTimestampToken",
    ts_args_type = "token: Uint8Array, note: string | Uint8Array, tsaCa: string | Uint8Array",
    ts_return_type = "AttestedTime"
)]
pub fn verify_timestamp_token(
    env: Env,
    token: Unknown<'_>,
    note: Unknown<'_>,
    tsa_ca: Unknown<'_>,
) -> napi::Result<Json> {
    let run = || -> trailseal::Result<Json> {
        let attested = trailseal::verify_timestamp_token(
            &bytes(&token, "token")?,
            &bytes(&note, "note")?,
            &bytes(&tsa_ca, "tsaCa")?,
        )?;
        Ok(Json::of(&attested.to_json()))
    };
    guard(run).map_err(|e| js_error(&env, &e))
}

/// `verifyBundle`, and the bundle's time-stamp token checked against the CA certificate
/// `tsaCa` (PEM): the report also carries `attested`. A bundle without a token fails.
#[napi(
    js_name = "verifyBundleWithTsa",
    ts_args_type = "bundle: string | Uint8Array, verifierKey: string, tsaCa: string | Uint8Array",
    ts_return_type = "TimedBundleReport"
)]
pub fn verify_bundle_with_tsa(
    env: Env,
    bundle: Unknown<'_>,
    verifier_key: Unknown<'_>,
    tsa_ca: Unknown<'_>,
) -> napi::Result<Json> {
    let run = || -> trailseal::Result<Json> {
        let verifier = Verifier::from_key_string(&string(&verifier_key, "verifierKey")?)?;
        let report = trailseal::verify_bundle_with_tsa(
            &bytes(&bundle, "bundle")?,
            &verifier,
            &bytes(&tsa_ca, "tsaCa")?,
        )?;
        Ok(Json::of(&report.to_json()))
    };
    guard(run).map_err(|e| js_error(&env, &e))
}
