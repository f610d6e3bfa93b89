//! Target `proof_json`: arbitrary text as an inclusion and as a consistency proof in SPEC JSON.
//!
//! Parsing never panics; a proof that parses survives a JSON round trip unchanged, and
//! trailseal's verdict on it (accepted, or the error code) is the verdict of the independent
//! reference in [`crate::reference`].

use trailseal::{ConsistencyProof, InclusionProof};

use crate::reference;

/// Check trailseal's verdict on an inclusion proof against the reference.
pub fn check_inclusion(p: &InclusionProof) {
    let ours = p.verify();
    let theirs =
        reference::verify_inclusion(p.hash, &p.leaf_hash, p.index, p.tree_size, &p.path, &p.root);
    match (&ours, theirs) {
        (Ok(()), Ok(())) => {}
        (Err(e), Err(r)) => assert_eq!(e.code(), reference::code(r), "{p:?}: {e}"),
        _ => {
            panic!("inclusion verdicts differ: trailseal {ours:?}, reference {theirs:?} for {p:?}")
        }
    }
    // The leaf-bytes check agrees with hashing the bytes.
    let leaf = b"fuzz leaf";
    let with_leaf = p.verify_leaf(leaf);
    if p.hash.leaf_hash(leaf) == p.leaf_hash {
        assert_eq!(with_leaf.is_ok(), ours.is_ok());
    } else {
        assert!(with_leaf.is_err());
    }
}

/// Check trailseal's verdict on a consistency proof against the reference.
pub fn check_consistency(p: &ConsistencyProof) {
    let ours = p.verify();
    let theirs = reference::verify_consistency(
        p.hash,
        p.old_size,
        p.new_size,
        &p.old_root,
        &p.new_root,
        &p.path,
    );
    match (&ours, theirs) {
        (Ok(()), Ok(())) => {}
        (Err(e), Err(r)) => assert_eq!(e.code(), reference::code(r), "{p:?}: {e}"),
        _ => panic!(
            "consistency verdicts differ: trailseal {ours:?}, reference {theirs:?} for {p:?}"
        ),
    }
}

/// The target.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match InclusionProof::from_json(&text) {
        Ok(p) => {
            let again = InclusionProof::from_json(&p.to_json()).expect("own JSON parses");
            assert_eq!(again, p, "inclusion proof JSON round trip");
            check_inclusion(&p);
        }
        Err(e) => assert_eq!(e.code(), trailseal::ErrorCode::Malformed, "{e}"),
    }
    match ConsistencyProof::from_json(&text) {
        Ok(p) => {
            let again = ConsistencyProof::from_json(&p.to_json()).expect("own JSON parses");
            assert_eq!(again, p, "consistency proof JSON round trip");
            check_consistency(&p);
        }
        Err(e) => assert_eq!(e.code(), trailseal::ErrorCode::Malformed, "{e}"),
    }
}
