//! Target `completeness`: arbitrary bytes as a completeness proof (docs/SPEC.md section 9.5).
//! Parsing never panics; a parsed proof writes back to JSON that parses to the same proof;
//! checking it against the seed's key never panics (and refuses anything but an untouched
//! seed).

use trailseal::commit_index::proof::CompletenessProof;
use trailseal::Verifier;

/// The verifier key of the ledger the seeds came from (`init --committed-indexes`, 1,031
/// entries, then `query --prove`).
const VKEY: &str =
    "example.com/fuzz/complete+401e7064+AaDc/1mT+4Ed/kLNF/9JhXB75rOg7M0m4UJ9dG7DJLnW";

pub fn run(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(proof) = CompletenessProof::from_json(&value) else {
        return;
    };
    let again = CompletenessProof::from_json(&proof.to_json()).expect("a written proof parses");
    assert_eq!(again, proof, "the JSON form round-trips");
    if let Ok(v) = Verifier::from_key_string(VKEY) {
        let _ = proof.verify(&v);
    }
}
