//! The ledger records its checkpoint verifier key at creation and refuses any other signer.

use trailseal::{CreateOptions, Entry, ErrorCode, HashAlg, Ledger, Signer};

fn entry(n: u64) -> Entry {
    Entry::new(format!("actor{n}"), "deploy.succeeded", "service", "api")
}

#[test]
fn the_verifier_key_is_recorded_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let signer = Signer::generate("example.com/log").unwrap();
    let opts = CreateOptions::new("example.com/log")
        .hash(HashAlg::Sha256)
        .verifier(&signer.verifier());
    let l = Ledger::create(&path, &opts).unwrap();
    let want = signer.verifier().to_key_string();
    assert_eq!(l.verifier_key(), Some(want.as_str()));
    l.append_entry(&entry(0)).unwrap();
    drop(l);
    let l = Ledger::open(&path).unwrap();
    assert_eq!(l.verifier_key(), Some(want.as_str()));
    l.checkpoint(&signer, None).unwrap();
}

#[test]
fn a_checkpoint_by_another_key_is_refused_and_nothing_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::generate("example.com/log").unwrap();
    let other = Signer::generate("example.com/log").unwrap();
    let opts = CreateOptions::new("example.com/log").verifier(&signer.verifier());
    let l = Ledger::create(dir.path().join("l.redb"), &opts).unwrap();
    l.append_entry(&entry(0)).unwrap();
    let e = l.checkpoint(&other, None).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert!(
        e.to_string().contains(&signer.verifier().to_key_string()),
        "the message names the verifier key the ledger needs: {e}"
    );
    assert!(l.checkpoints().unwrap().is_empty());
}

#[test]
fn a_ledger_without_a_recorded_key_takes_any_signer() {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::create(dir.path().join("l.redb"), &CreateOptions::new("o")).unwrap();
    assert_eq!(l.verifier_key(), None);
    l.checkpoint(&Signer::generate("o").unwrap(), None).unwrap();
}

#[test]
fn a_malformed_verifier_key_is_refused_at_creation() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = CreateOptions::new("o");
    opts.verifier_key = Some("not a key".into());
    let e = Ledger::create(dir.path().join("l.redb"), &opts).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Malformed);
    assert!(!dir.path().join("l.redb").exists());
}

#[test]
fn a_bundle_against_a_checkpoint_of_another_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::generate("example.com/log").unwrap();
    let other = Signer::generate("example.com/log").unwrap();
    let l = Ledger::create(
        dir.path().join("l.redb"),
        &CreateOptions::new("example.com/log"),
    )
    .unwrap();
    l.append_entry(&entry(0)).unwrap();
    // Signed by `other` while the ledger had no recorded key: a checkpoint of this tree.
    let foreign = l.checkpoint(&other, None).unwrap();
    drop(l);
    let path = dir.path().join("k.redb");
    let opts = CreateOptions::new("example.com/log").verifier(&signer.verifier());
    let l = Ledger::create(&path, &opts).unwrap();
    let sel = trailseal::Selection::Indexes(vec![0]);
    l.append_entry(&entry(0)).unwrap();
    let e = l
        .bundle_with_checkpoint(&sel, &foreign, &other.verifier())
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    let own = l.checkpoint(&signer, None).unwrap();
    l.bundle_with_checkpoint(&sel, &own, &signer.verifier())
        .unwrap();
}
