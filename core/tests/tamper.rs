//! Tampering behind the library's back: `verify` must fail and name what it found.

use serde_json::json;
use trailseal::merkle::NodeId;
use trailseal::storage::tamper;
use trailseal::{CreateOptions, Error, ErrorCode, Ledger, Signer, VerifyOptions};

/// Four complete tier-0 tiles (leaves 0..256) and a partial one: only complete tiles are stored.
const N: u64 = 300;

fn build(dir: &tempfile::TempDir) -> (std::path::PathBuf, Signer) {
    let path = dir.path().join("t.redb");
    let l = Ledger::create(&path, &CreateOptions::new("example.com/tamper")).unwrap();
    let entries: Vec<_> = (0..N)
        .map(|n| {
            json!({"actor": {"id": "alice"}, "action": "deploy.succeeded",
                        "subject": {"type": "service", "id": marker(n)}})
        })
        .collect();
    l.append_batch(&entries).unwrap();
    let signer = Signer::generate("example.com/tamper").unwrap();
    l.checkpoint(&signer, Some(50)).unwrap();
    l.checkpoint(&signer, None).unwrap();
    l.verify(&VerifyOptions::default()).unwrap();
    (path, signer)
}

/// A subject id with 16 hex digits unlike any other entry's: closed bundles are stored
/// compressed, and these digits stay literal bytes in the file.
fn marker(n: u64) -> String {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    format!("marker-{n:05}-{:016x}", z ^ (z >> 31))
}

fn verify_fails(path: &std::path::Path) -> Error {
    let l = match Ledger::open(path) {
        Ok(l) => l,
        Err(e) => return e,
    };
    l.verify(&VerifyOptions::default())
        .expect_err("verify must catch the tampering")
}

fn tampered_at(err: &Error) -> String {
    match err {
        Error::Tampered { location, .. } => location.clone(),
        other => panic!("expected Tampered, got {other:?}"),
    }
}

/// `verify`'s error after leaf `index` of a fresh ledger is rewritten behind its back.
fn verify_after_forging_leaf(index: u64) -> Error {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = build(&dir);
    tamper::edit(&path, |t| t.set_leaf(index, br#"{"forged":true}"#)).unwrap();
    verify_fails(&path)
}

#[test]
fn changed_leaf_is_named() {
    let err = verify_after_forging_leaf(137);
    assert_eq!(err.code(), ErrorCode::Tampered);
    assert_eq!(tampered_at(&err), "leaf 137", "{err}");
}

#[test]
fn changed_recent_leaf_is_caught_by_the_root() {
    // Leaf 290 is in the partial tile at the right edge (never stored): no stored leaf hash
    // to compare with, so the recomputed root disagrees with the state record's.
    let err = verify_after_forging_leaf(290);
    assert_eq!(tampered_at(&err), "state record", "{err}");
    assert!(err.to_string().contains("leaves 256.."), "{err}");
}

#[test]
fn damaged_compressed_bundle_is_named_by_its_first_leaf() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = build(&dir);
    let mut start = 0;
    tamper::edit(&path, |t| {
        let (last, open) = t.stored_bundle(N - 1)?;
        assert!(
            last < N && open[0] == 0,
            "the open last bundle is stored plain"
        );
        let (first, mut bytes) = t.stored_bundle(137)?;
        assert_eq!(bytes[0], 1, "a closed bundle is stored compressed");
        // Claim one byte more than the compressed bytes produce.
        let len = u32::from_le_bytes(bytes[1..5].try_into().unwrap());
        bytes[1..5].copy_from_slice(&(len + 1).to_le_bytes());
        start = first;
        t.put_stored_bundle(first, &bytes)
    })
    .unwrap();
    let err = verify_fails(&path);
    assert_eq!(tampered_at(&err), format!("leaf {start}"), "{err}");
    assert!(err.to_string().contains("decompress"), "{err}");
    let err = Ledger::open(&path).unwrap().get(137).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Tampered, "{err}");
}

/// The id index is checked against the entries: each entry's id filed under its own index,
/// and no id more than the entries carry.
#[test]
fn id_index_changes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ids.redb");
    {
        let l = Ledger::create(&path, &CreateOptions::new("example.com/ids")).unwrap();
        let entries: Vec<_> = (0..200)
            .map(|n| {
                let mut e = json!({"actor": {"id": "alice"}, "action": "deploy.succeeded",
                                   "subject": {"type": "service", "id": "api"}});
                if n % 3 == 0 {
                    e["id"] = json!(format!("req-{n}"));
                }
                e
            })
            .collect();
        l.append_batch(&entries).unwrap();
        l.append(
            &json!({"id": "quote\"d", "actor": {"id": "bob"}, "action": "approve",
                          "subject": {"type": "change", "id": "c-1"}}),
        )
        .unwrap();
        l.verify(&VerifyOptions::default()).unwrap();
    }
    let copy = dir.path().join("copy.redb");
    let cases: [(&str, Option<u64>, &str, &str); 4] = [
        (
            "req-30",
            Some(31),
            r#"id index entry "req-30""#,
            "points at 31, but entry 30",
        ),
        (
            "req-60",
            None,
            r#"id index entry "req-60""#,
            "missing, but entry 60",
        ),
        (
            "quote\"d",
            None,
            "id index entry \"quote\\\"d\"",
            "entry 200",
        ),
        (
            "never-used",
            Some(7),
            "id index",
            "holds 69 ids, but the entries carry 68",
        ),
    ];
    for (id, index, location, detail) in cases {
        std::fs::copy(&path, &copy).unwrap();
        tamper::edit(&copy, |t| t.set_id(id, index)).unwrap();
        let err = verify_fails(&copy);
        assert_eq!(tampered_at(&err), location, "{id}: {err}");
        assert!(err.to_string().contains(detail), "{id}: {err}");
    }
}

#[test]
fn changed_node_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = build(&dir);
    let id = NodeId { level: 1, index: 9 };
    tamper::edit(&path, |t| t.set_node(id, [7u8; 32])).unwrap();
    let err = verify_fails(&path);
    assert_eq!(tampered_at(&err), "node level 1 index 9", "{err}");
}

#[test]
fn changed_leaf_with_matching_leaf_hash_is_caught_at_its_parent() {
    // A forger who also rewrites the stored leaf hash is caught one level up.
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = build(&dir);
    let forged = br#"{"forged":true}"#;
    let h = trailseal::HashAlg::default().leaf_hash(forged);
    tamper::edit(&path, |t| {
        t.set_leaf(20, forged)?;
        t.set_node(
            NodeId {
                level: 0,
                index: 20,
            },
            h,
        )
    })
    .unwrap();
    let err = verify_fails(&path);
    assert_eq!(tampered_at(&err), "node level 1 index 10", "{err}");
}

#[test]
fn changed_checkpoint_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (path, signer) = build(&dir);
    // a validly signed note for a root the ledger never had
    let forged = trailseal::Checkpoint::new("example.com/tamper", 50, [1u8; 32])
        .sign(&signer)
        .unwrap();
    tamper::edit(&path, |t| t.set_checkpoint_note(0, &forged)).unwrap();
    let err = verify_fails(&path);
    assert_eq!(tampered_at(&err), "checkpoint 0 (size 50)", "{err}");
    // and one whose signature no longer matches
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = build(&dir);
    let l = Ledger::open(&path).unwrap();
    let note = l.checkpoints().unwrap()[1]
        .note
        .replace(&format!("\n{N}\n"), &format!("\n{}\n", N - 1));
    drop(l);
    tamper::edit(&path, |t| t.set_checkpoint_note(1, &note)).unwrap();
    let err = verify_fails(&path);
    assert_eq!(
        tampered_at(&err),
        format!("checkpoint 1 (size {N})"),
        "{err}"
    );
}

#[test]
fn changed_state_root_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = build(&dir);
    let l = Ledger::open(&path).unwrap();
    let size = l.size().unwrap();
    drop(l);
    let state = trailseal::storage::State {
        size,
        root: [9u8; 32],
        last_time: trailseal::Timestamp::EPOCH,
    };
    tamper::edit(&path, |t| t.set_state(&state)).unwrap();
    let err = verify_fails(&path);
    assert_eq!(tampered_at(&err), "state record", "{err}");
}

#[test]
fn changed_byte_of_the_file_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = build(&dir);
    let mut bytes = std::fs::read(&path).unwrap();
    // A leaf of a closed (compressed) bundle whose marker digits LZ4 kept literal: most are,
    // unless four of the digits happen to repeat an earlier entry's.
    let (leaf, at) = (100..128)
        .find_map(|n| {
            let id = marker(n);
            let needle = &id.as_bytes()[id.len() - 16..];
            let at = bytes.windows(16).position(|w| w == needle)?;
            Some((n, at + 15))
        })
        .expect("marker digits are stored as they are");
    bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
    std::fs::write(&path, &bytes).unwrap();
    let err = verify_fails(&path);
    assert_eq!(tampered_at(&err), format!("leaf {leaf}"), "{err}");
}

/// Ledgers of 65,536 leaves and more are verified in two halves on two threads, the right one
/// starting from the left one's subtrees as stored: a change in either half is still named,
/// and progress still counts every leaf.
#[test]
fn both_halves_of_a_large_ledger_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.redb");
    {
        let l = Ledger::create(&path, &CreateOptions::new("example.com/large").raw()).unwrap();
        for batch in 0..7u64 {
            let leaves: Vec<Vec<u8>> = (batch * 10_000..(batch + 1) * 10_000)
                .map(|i| format!("leaf {i}").into_bytes())
                .collect();
            let refs: Vec<&[u8]> = leaves.iter().map(|v| v.as_slice()).collect();
            l.append_raw_batch(&refs).unwrap();
        }
        let mut seen = Vec::new();
        let mut progress = |done: u64, total: u64| seen.push((done, total));
        let report = l
            .verify_with(VerifyOptions::default().progress(&mut progress))
            .unwrap();
        assert_eq!(report.size, 70_000);
        assert_eq!(seen.last(), Some(&(70_000, 70_000)));
        assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{seen:?}");
    }
    type Doctor = Box<dyn Fn(&mut tamper::Tables<'_>) -> trailseal::Result<()>>;
    let cases: Vec<(&str, Doctor)> = vec![
        ("leaf 1000", Box::new(|t| t.set_leaf(1000, b"forged"))),
        ("leaf 60000", Box::new(|t| t.set_leaf(60_000, b"forged"))),
        (
            "node level 3 index 7500",
            Box::new(|t| {
                t.set_node(
                    NodeId {
                        level: 3,
                        index: 7500,
                    },
                    [7u8; 32],
                )
            }),
        ),
    ];
    for (want, doctor) in cases {
        let copy = dir.path().join("copy.redb");
        std::fs::copy(&path, &copy).unwrap();
        tamper::edit(&copy, |t| doctor(t)).unwrap();
        let err = verify_fails(&copy);
        assert_eq!(tampered_at(&err), want, "{err}");
    }
}
