//! Key rotation entries are the rotation's own: a plain append of one is refused, an
//! interrupted rotation is completed by running it again, and one that slipped past the
//! refusal (an older writer, a doctored one) puts nothing in force and is reported by verify.

use serde_json::json;
use trailseal::{CreateOptions, Entry, ErrorCode, Ledger, Signer, VerifyOptions};

fn ledger(dir: &tempfile::TempDir, first: &Signer) -> Ledger {
    let opts = CreateOptions::new("example.com/rot").verifier(&first.verifier());
    let l = Ledger::create(dir.path().join("l.redb"), &opts).unwrap();
    l.append_entry(&Entry::new("alice", "deploy.succeeded", "service", "api"))
        .unwrap();
    l
}

fn rotation(old: &Signer, new: &Signer) -> serde_json::Value {
    let (o, n) = (
        old.verifier().to_key_string(),
        new.verifier().to_key_string(),
    );
    json!({"actor": {"id": "trailseal"}, "action": "key.rotated",
           "subject": {"type": "key", "id": n}, "attrs": {"old_key": o, "new_key": n}})
}

#[test]
fn a_plain_append_of_a_rotation_entry_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (k0, k1) = (
        Signer::generate("example.com/rot").unwrap(),
        Signer::generate("example.com/rot").unwrap(),
    );
    let l = ledger(&dir, &k0);
    let e = l.append(&rotation(&k0, &k1)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidEntry);
    assert!(e.to_string().contains("key rotate"), "{e}");
    let ok = Entry::new("bob", "deploy.succeeded", "service", "api").to_json();
    let e = l
        .append_batch(&[ok.clone(), rotation(&k0, &k1)])
        .unwrap_err();
    assert!(e.to_string().contains("[1].action"), "{e}");
    assert_eq!(l.size().unwrap(), 1, "nothing of the batch is written");
    assert!(l.key_rotations().unwrap().is_empty());
    l.append(&ok).unwrap();
}

#[test]
fn an_interrupted_rotation_is_completed_by_running_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let (k0, k1) = (
        Signer::generate("example.com/rot").unwrap(),
        Signer::generate("example.com/rot").unwrap(),
    );
    let l = ledger(&dir, &k0);
    trailseal::ledger::INTERRUPT_ROTATION.set(true);
    let cut = l.rotate_key(&k0, &k1, "trailseal");
    trailseal::ledger::INTERRUPT_ROTATION.set(false);
    assert!(cut.is_err());
    assert_eq!(
        l.key_rotations().unwrap().len(),
        1,
        "the entry was appended"
    );
    let old = k0.verifier().to_key_string();
    assert_eq!(l.verifier_key_in_force().unwrap(), Some(old));
    let e = l.verify(&VerifyOptions::default()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Tampered);
    assert!(e.to_string().contains("run it again"), "{e}");
    let done = l.rotate_key(&k0, &k1, "trailseal").unwrap();
    assert_eq!(done.rotation.index, 1, "no second entry");
    assert_eq!(l.size().unwrap(), 2);
    l.verify(&VerifyOptions::default()).unwrap();
    let new = k1.verifier().to_key_string();
    assert_eq!(l.verifier_key_in_force().unwrap(), Some(new));
}

#[test]
fn a_rotation_written_past_the_refusal_puts_nothing_in_force_and_is_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let (k0, k1, mallory) = (
        Signer::generate("example.com/rot").unwrap(),
        Signer::generate("example.com/rot").unwrap(),
        Signer::generate("example.com/rot").unwrap(),
    );
    let l = ledger(&dir, &k0);
    l.rotate_key(&k0, &k1, "trailseal").unwrap();
    l.append_batch_unchecked(&[rotation(&k1, &mallory)])
        .unwrap();
    let e = l.verify(&VerifyOptions::default()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Tampered);
    assert!(e.to_string().contains("signed by both"), "{e}");
    let in_force = k1.verifier().to_key_string();
    assert_eq!(l.verifier_key_in_force().unwrap(), Some(in_force));
    // A checkpoint by the forger's key is refused: it was never put in force.
    assert!(l.checkpoint(&mallory, None).is_err());
    // A rotation naming another key as the old one is tampering too.
    let dir2 = tempfile::tempdir().unwrap();
    let l = ledger(&dir2, &k0);
    l.append_batch_unchecked(&[rotation(&mallory, &k1)])
        .unwrap();
    let e = l.verify(&VerifyOptions::default()).unwrap_err();
    assert!(e.to_string().contains("but the key in force was"), "{e}");
}
