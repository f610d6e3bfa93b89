//! One rule for checking a proof offline against an outside checkpoint, for every front end.

use trailseal::{
    check_consistency, check_inclusion, CreateOptions, Entry, ErrorCode, HashAlg, Ledger, Outside,
    Selection, Signer,
};

fn ledger(n: u64) -> (tempfile::TempDir, Ledger, Signer) {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::create(
        dir.path().join("l.redb"),
        &CreateOptions::new("example.com/log").hash(HashAlg::Sha256),
    )
    .unwrap();
    for i in 0..n {
        l.append_entry(&Entry::new(format!("a{i}"), "x.y", "t", "1"))
            .unwrap();
    }
    (dir, l, Signer::generate("example.com/log").unwrap())
}

#[test]
fn checkpoint_and_key_go_together() {
    assert!(Outside::pair(None, None).unwrap().is_none());
    for (n, k) in [(Some("note"), None), (None, Some("key"))] {
        let e = Outside::pair(n, k).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
    }
}

#[test]
fn inclusion_against_the_checkpoint_of_its_tree() {
    let (_d, l, s) = ledger(5);
    let note = l.checkpoint(&s, None).unwrap();
    let vkey = s.verifier().to_key_string();
    let outside = Outside::pair(Some(&note), Some(&vkey)).unwrap();
    let proof = l.prove_inclusion(2, None).unwrap().to_json();
    let leaf = l.get_raw(2).unwrap();
    let checked = check_inclusion(&proof, Some(&leaf), outside).unwrap();
    assert_eq!(checked.checkpoint.unwrap().size, 5);
    assert_eq!(checked.proof.index, 2);

    // A proof of an older tree is sound, but not against this checkpoint.
    let old = l.prove_inclusion(2, Some(4)).unwrap().to_json();
    check_inclusion(&old, None, None).unwrap();
    let e = check_inclusion(&old, None, outside).unwrap_err();
    assert_eq!(e.code(), ErrorCode::VerificationFailed);

    // Another leaf's bytes.
    let e = check_inclusion(&proof, Some(&l.get_raw(3).unwrap()), None).unwrap_err();
    assert_eq!(e.code(), ErrorCode::VerificationFailed);

    // A checkpoint signed by another key, then a key that does not parse.
    let other = Signer::generate("example.com/log").unwrap();
    let other_key = other.verifier().to_key_string();
    let e = check_inclusion(
        &proof,
        None,
        Outside::pair(Some(&note), Some(&other_key)).unwrap(),
    )
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::VerificationFailed);
    let e = check_inclusion(
        &proof,
        None,
        Outside::pair(Some(&note), Some("k+1+x")).unwrap(),
    )
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Malformed);
}

#[test]
fn a_path_one_hash_short_or_long_does_not_verify() {
    let (_d, l, _s) = ledger(7);
    let p = l.prove_inclusion(3, None).unwrap();
    let mut short = p.clone();
    short.path.pop();
    let mut long = p.clone();
    long.path.push([7u8; 32]);
    for bad in [short, long] {
        let e = check_inclusion(&bad.to_json(), None, None).unwrap_err();
        assert_eq!(e.code(), ErrorCode::VerificationFailed, "{e}");
    }
    let c = l.prove_consistency(3, None).unwrap();
    let mut off = c.clone();
    off.old_size += 1;
    let e = check_consistency(&off.to_json(), None).unwrap_err();
    assert_eq!(e.code(), ErrorCode::VerificationFailed, "{e}");
    let mut short = c.clone();
    short.path.pop();
    let e = check_consistency(&short.to_json(), None).unwrap_err();
    assert_eq!(e.code(), ErrorCode::VerificationFailed, "{e}");
    // Input that does not parse is still malformed.
    let e = check_consistency("{", None).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Malformed);
}

#[test]
fn consistency_names_the_end_the_checkpoint_commits_to() {
    let (_d, l, s) = ledger(6);
    let old_note = l.checkpoint(&s, Some(2)).unwrap();
    let vkey = s.verifier().to_key_string();
    let proof = l.prove_consistency(2, None).unwrap().to_json();
    let (checked, end) =
        check_consistency(&proof, Outside::pair(Some(&old_note), Some(&vkey)).unwrap()).unwrap();
    assert_eq!(checked.checkpoint.unwrap().size, 2);
    assert!(end.is_some());
    let (_, end) = check_consistency(&proof, None).unwrap();
    assert!(end.is_none());
}

#[test]
fn a_bundle_of_a_query_with_no_filter_is_refused() {
    let (_d, l, s) = ledger(3);
    let sel = Selection::from_json(&serde_json::json!({"query": {}})).unwrap();
    let e = l.bundle(&sel, &s).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    let sel = Selection::from_json(&serde_json::json!({"query": {"actor": "a1"}})).unwrap();
    assert_eq!(l.bundle(&sel, &s).unwrap().entries.len(), 1);
}
