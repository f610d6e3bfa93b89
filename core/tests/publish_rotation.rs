//! A published log whose checkpoint key was rotated: the rotation chain is published beside
//! the tiles, so a monitor (or a bundle made from the log) that trusts only the first key
//! follows it to the key in force; a link that is not signed by the key it replaces, or that
//! forks from the published tree, is refused.

use serde_json::json;
use trailseal::evidence::verify_bundle;
use trailseal::publish::bundle::bundle_published;
use trailseal::publish::monitor::monitor;
use trailseal::publish::rotations::rotation_path;
use trailseal::publish::{Destination, DirDestination, PublishCheckpoint, Source};
use trailseal::{CreateOptions, ErrorCode, Ledger, Signer};

const ORIGIN: &str = "example.com/rotated";

fn key(seed: u8) -> Signer {
    Signer::from_seed(ORIGIN, [seed; 32]).unwrap()
}

fn ledger(dir: &tempfile::TempDir, name: &str, first: &Signer) -> Ledger {
    Ledger::create(
        dir.path().join(name),
        &CreateOptions::new(ORIGIN).verifier(&first.verifier()),
    )
    .unwrap()
}

fn append(l: &Ledger, n: usize, tag: &str) {
    let entries: Vec<_> = (0..n)
        .map(|i| json!({"actor": {"id": "a"}, "action": "x.y", "subject": {"type": "t", "id": format!("{tag}{i}")}}))
        .collect();
    l.append_batch(&entries).unwrap();
}

#[test]
fn a_monitor_trusting_the_first_key_follows_published_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let (k0, k1, k2) = (key(1), key(2), key(3));
    let l = ledger(&dir, "l.redb", &k0);
    let dest = DirDestination::new(dir.path().join("pub")).unwrap();
    append(&l, 300, "a");
    l.publish(&dest, PublishCheckpoint::Sign(&k0)).unwrap();
    let (_, seen) = monitor(&dest, &k0.verifier(), None, None, false).unwrap();

    let r1 = l.rotate_key(&k0, &k1, "ops").unwrap();
    append(&l, 20, "b");
    let report = l.publish(&dest, PublishCheckpoint::Sign(&k1)).unwrap();
    assert!(dest
        .get(&rotation_path(&k0.verifier().to_key_string()))
        .unwrap()
        .is_some());
    assert_eq!(report.size, 321);

    // Before: a monitor trusting k0 would refuse a checkpoint signed by k1 alone.
    let (report, seen) = monitor(&dest, &k0.verifier(), None, Some(&seen), false).unwrap();
    assert_eq!(
        (report.previous, report.size, report.key_rotations),
        (300, 321, 1)
    );

    let r2 = l.rotate_key(&k1, &k2, "ops").unwrap();
    append(&l, 5, "c");
    l.publish(&dest, PublishCheckpoint::Sign(&k2)).unwrap();
    let (report, _) = monitor(&dest, &k0.verifier(), None, Some(&seen), false).unwrap();
    assert_eq!(report.key_rotations, 2);
    // From scratch, and trusting the middle key: one link to follow.
    let (report, _) = monitor(&dest, &k0.verifier(), None, None, true).unwrap();
    assert_eq!((report.size, report.key_rotations), (327, 2));
    let (report, _) = monitor(&dest, &k1.verifier(), None, None, true).unwrap();
    assert_eq!(report.key_rotations, 1);
    // A stranger's key leads nowhere.
    let e = monitor(&dest, &key(9).verifier(), None, None, true).unwrap_err();
    assert_eq!(e.code(), ErrorCode::VerificationFailed);

    // A bundle made from the published log carries the chain: whoever trusts k0 checks it.
    let b = bundle_published(
        &dest,
        &[r1.rotation.index, 310, r2.rotation.index],
        &k0.verifier(),
    )
    .unwrap();
    assert_eq!(b.key_rotations.len(), 2);
    verify_bundle(&b.to_text(), &k0.verifier()).unwrap();
    verify_bundle(&b.to_text(), &k2.verifier()).unwrap();

    // A retired key is never put back in force.
    let e = l.rotate_key(&k2, &k0, "ops").unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert!(e.to_string().contains("retired"), "{e}");
}

#[test]
fn a_link_that_does_not_hold_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (k0, k1) = (key(1), key(2));
    let l = ledger(&dir, "l.redb", &k0);
    let dest = DirDestination::new(dir.path().join("pub")).unwrap();
    append(&l, 40, "a");
    l.rotate_key(&k0, &k1, "ops").unwrap();
    append(&l, 3, "b");
    l.publish(&dest, PublishCheckpoint::Sign(&k1)).unwrap();
    monitor(&dest, &k0.verifier(), None, None, true).unwrap();
    let path = rotation_path(&k0.verifier().to_key_string());
    let good = dest.get(&path).unwrap().unwrap();

    // The same keys over another history: every signature holds, but the rotation's
    // checkpoint is not of this published tree. A signed fork.
    let other = ledger(&dir, "other.redb", &k0);
    append(&other, 40, "z");
    other.rotate_key(&k0, &k1, "ops").unwrap();
    let elsewhere = DirDestination::new(dir.path().join("other")).unwrap();
    other
        .publish(&elsewhere, PublishCheckpoint::Sign(&k1))
        .unwrap();
    dest.put(&path, &elsewhere.get(&path).unwrap().unwrap())
        .unwrap();
    let e = monitor(&dest, &k0.verifier(), None, None, true).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Inconsistent);
    assert!(
        e.to_string().contains("key rotation checkpoint at leaf 40"),
        "{e}"
    );

    // A link whose checkpoint lacks the old key's signature: the chain does not hold.
    let mut link: serde_json::Value = serde_json::from_slice(&good).unwrap();
    let note = link["checkpoint"].as_str().unwrap().to_owned();
    let sigs: Vec<&str> = note.lines().filter(|l| l.starts_with('\u{2014}')).collect();
    assert_eq!(sigs.len(), 2, "{note}");
    link["checkpoint"] = note.replace(&format!("{}\n", sigs[0]), "").into();
    dest.put(&path, link.to_string().as_bytes()).unwrap();
    let e = monitor(&dest, &k0.verifier(), None, None, true).unwrap_err();
    assert_eq!(e.code(), ErrorCode::VerificationFailed);

    // A link that is not a link at all is tampering, named by its path.
    dest.put(&path, b"not json").unwrap();
    let e = monitor(&dest, &k0.verifier(), None, None, true).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Tampered);
    assert!(e.to_string().contains("key-rotation"), "{e}");

    // The link gone: the log reads as signed by a key nobody trusting k0 can accept.
    std::fs::remove_file(dir.path().join("pub").join(&path)).unwrap();
    let e = monitor(&dest, &k0.verifier(), None, None, true).unwrap_err();
    assert_eq!(e.code(), ErrorCode::VerificationFailed);
    // Publishing again puts the missing link back.
    l.publish(&dest, PublishCheckpoint::Newest).unwrap();
    monitor(&dest, &k0.verifier(), None, None, true).unwrap();
}
