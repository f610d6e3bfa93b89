//! A ledger file with any 4 KiB page overwritten: every call answers with an error or a
//! result, never a panic (redb trusts its file; trailseal contains its panics).

use serde_json::json;
use trailseal::query::Query;
use trailseal::{CreateOptions, Ledger, Signer, VerifyOptions};

#[test]
fn overwritten_pages_never_panic_through_the_api() {
    // The storage engine's panics are caught; keep the test output quiet about them.
    std::panic::set_hook(Box::new(|_| {}));
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.redb");
    {
        let l = Ledger::create(&good, &CreateOptions::new("ex/corrupt")).unwrap();
        let entries: Vec<_> = (0..300)
            .map(|n| {
                json!({"actor": {"id": format!("u{}", n % 4)}, "action": "a.b",
                            "subject": {"type": "t", "id": format!("s{n}")}})
            })
            .collect();
        l.append_batch(&entries[..150]).unwrap();
        l.checkpoint(&Signer::generate("ex/corrupt").unwrap(), None)
            .unwrap();
        l.append_batch(&entries[150..]).unwrap();
    }
    let bytes = std::fs::read(&good).unwrap();
    let bad = dir.path().join("bad.redb");
    let mut outcomes = std::collections::BTreeMap::new();
    for page in 0..bytes.len() / 4096 {
        for fill in [0x00u8, 0xff, 0x55] {
            let mut b = bytes.clone();
            b[page * 4096..(page + 1) * 4096].fill(fill);
            std::fs::write(&bad, &b).unwrap();
            let outcome = std::panic::catch_unwind(|| {
                let l = match Ledger::open(&bad) {
                    Ok(l) => l,
                    Err(e) => return format!("open: {}", e.code()),
                };
                let _ = l.get_raw(7);
                let _ = l.query(&Query {
                    actor: Some("u1".into()),
                    ..Query::default()
                });
                let _ = l.prove_inclusion(100, None);
                match l.verify(&VerifyOptions::default()) {
                    Ok(_) => "verify: ok".to_string(),
                    Err(e) => format!("verify: {}", e.code()),
                }
            });
            let outcome = outcome
                .unwrap_or_else(|_| panic!("page {page} filled with {fill:#x}: a panic escaped"));
            *outcomes.entry(outcome).or_insert(0) += 1;
        }
    }
    let _ = std::panic::take_hook();
    eprintln!("{outcomes:?}");
    // Most pages matter: a change there is reported, not accepted.
    let reported: usize = outcomes
        .iter()
        .filter(|(k, _)| !k.ends_with("ok"))
        .map(|(_, n)| n)
        .sum();
    assert!(reported > 0, "{outcomes:?}");
}
