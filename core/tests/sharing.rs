//! Several handles (in one process here; `cli/tests/processes.rs` uses several processes) on
//! one ledger file: readers beside writers, and writers that follow each other's commits.

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use trailseal::{
    CreateOptions, Durability, ErrorCode, HashAlg, Ledger, OpenOptions, Sharing, Signer,
    VerifyOptions,
};

fn entry(n: u64) -> Value {
    json!({"actor": {"id": format!("user-{n}")}, "action": "deploy.succeeded",
           "subject": {"type": "service", "id": format!("svc-{n}")}})
}

fn create(path: &Path) -> Ledger {
    Ledger::create(
        path,
        &CreateOptions::new("example.com/share").hash(HashAlg::Sha256),
    )
    .unwrap()
}

fn read_only() -> OpenOptions {
    OpenOptions {
        read_only: true,
        ..OpenOptions::default()
    }
}

#[test]
fn two_writers_follow_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let a = create(&path);
    let b = Ledger::open(&path).unwrap();
    let mut indexes = Vec::new();
    for n in 0..20 {
        let (l, other) = if n % 3 == 0 { (&b, &a) } else { (&a, &b) };
        let r = l.append(&entry(n)).unwrap();
        indexes.push(r.index);
        // The receipt holds against the other handle's view and its proofs.
        assert_eq!(other.root_at(r.tree_size).unwrap(), r.root);
        other
            .prove_inclusion(r.index, None)
            .unwrap()
            .verify()
            .unwrap();
    }
    assert_eq!(indexes, (0..20).collect::<Vec<_>>());
    // A batch through one, a checkpoint signed through the other, verified by the first.
    let batch: Vec<Value> = (20..60).map(entry).collect();
    let rs = b.append_batch(&batch).unwrap();
    assert_eq!(rs[0].index, 20);
    let signer = Signer::generate("example.com/share").unwrap();
    let note = a.checkpoint(&signer, None).unwrap();
    let report = b
        .verify(&VerifyOptions::default().against(&note, &signer.verifier()))
        .unwrap();
    assert_eq!(report.size, 60);
    // Times never go back across handles.
    let times: Vec<String> = (0..60)
        .map(|i| a.get(i).unwrap()["time"].as_str().unwrap().to_owned())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn threads_of_two_handles_store_every_entry_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let handles = [
        Arc::new(create(&path)),
        Arc::new(Ledger::open(&path).unwrap()),
    ];
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            let l = handles[(t % 2) as usize].clone();
            std::thread::spawn(move || {
                (0..50)
                    .map(|n| {
                        let mut e = entry(t * 1000 + n);
                        e["id"] = json!(format!("t{t}-{n}"));
                        l.append(&e).unwrap().index
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<u64> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..200).collect::<Vec<_>>());
    let l = &handles[0];
    l.verify(&VerifyOptions::default().indexes(true)).unwrap();
    // A retried id is found whichever handle wrote it.
    let mut again = entry(1000);
    again["id"] = json!("t1-0");
    let r = handles[0].append(&again).unwrap();
    assert!(r.index < 200);
}

#[test]
fn a_reader_beside_a_writer_sees_each_commit_and_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let w = create(&path);
    let r = Ledger::open_with(&path, &read_only()).unwrap();
    assert_eq!(r.size().unwrap(), 0);
    for n in 0..5 {
        let receipt = w.append(&entry(n)).unwrap();
        assert_eq!(r.size().unwrap(), n + 1);
        assert_eq!(r.root().unwrap(), receipt.root);
        r.prove_inclusion(n, None).unwrap().verify().unwrap();
    }
    r.verify(&VerifyOptions::default()).unwrap();
    let e = r.append(&entry(9)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    let signer = Signer::generate("example.com/share").unwrap();
    let e = r.checkpoint(&signer, None).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    assert_eq!(w.size().unwrap(), 5);
}

#[test]
fn reading_changes_no_byte_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    {
        let l = create(&path);
        l.append_batch(&(0..100).map(entry).collect::<Vec<_>>())
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    {
        let r = Ledger::open_with(&path, &read_only()).unwrap();
        r.verify(&VerifyOptions::default().indexes(true)).unwrap();
        r.get(7).unwrap();
        r.query(&trailseal::query::Query {
            actor: Some("user-3".into()),
            ..Default::default()
        })
        .unwrap();
        r.prove_consistency(10, None).unwrap();
    }
    assert!(
        std::fs::read(&path).unwrap() == before,
        "a read-only open changed the file"
    );

    // With read permission alone (not checkable as root, who may write any file).
    if unsafe { libc::geteuid() } != 0 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
        let r = Ledger::open_with(&path, &read_only()).unwrap();
        assert_eq!(r.size().unwrap(), 100);
    }
}

#[test]
fn exclusive_holds_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    drop(create(&path));
    let exclusive = OpenOptions {
        sharing: Some(Sharing::Exclusive),
        ..OpenOptions::default()
    };
    let l = Ledger::open_with(&path, &exclusive).unwrap();
    let e = Ledger::open_with(
        &path,
        &OpenOptions {
            read_only: true,
            ..exclusive.clone()
        },
    )
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Locked, "{e}");
    l.append(&entry(0)).unwrap();
    drop(l);
    // Closed cleanly: a read-only exclusive open reads it.
    let r = Ledger::open_with(
        &path,
        &OpenOptions {
            read_only: true,
            ..exclusive
        },
    )
    .unwrap();
    assert_eq!(r.size().unwrap(), 1);
}

#[test]
fn non_durable_handles_hold_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    drop(create(&path));
    let e = Ledger::open_with(
        &path,
        &OpenOptions {
            durability: Durability::NotDurableUntilSync,
            sharing: Some(Sharing::MultiWriter),
            ..OpenOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    let l = Ledger::open_with(
        &path,
        &OpenOptions {
            durability: Durability::NotDurableUntilSync,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    assert_eq!(l.sharing(), Sharing::Exclusive);
    l.append(&entry(0)).unwrap();
    l.sync().unwrap();
}

#[test]
fn a_handle_reports_how_it_was_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let w = create(&path);
    assert_eq!((w.sharing(), w.read_only()), (Sharing::Auto, false));
    assert_eq!(w.sharing_now(), Sharing::Exclusive);
    let r = Ledger::open_with(&path, &read_only()).unwrap();
    assert_eq!((r.sharing(), r.read_only()), (Sharing::Auto, true));
    assert_eq!(r.sharing_now(), Sharing::MultiWriter);
    // The reader asked the holder to share the file.
    assert_eq!(w.sharing_now(), Sharing::MultiWriter);
}

#[test]
fn auto_holds_the_file_alone_until_asked_then_shares_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    drop(create(&path));
    let a = Ledger::open(&path).unwrap();
    a.append(&entry(0)).unwrap();
    assert_eq!(a.sharing_now(), Sharing::Exclusive);
    // A writer asks and is let in; the holder goes on appending, now shared.
    let b = Ledger::open(&path).unwrap();
    assert_eq!(
        (a.sharing_now(), b.sharing_now()),
        (Sharing::MultiWriter, Sharing::MultiWriter)
    );
    a.append(&entry(1)).unwrap();
    b.append(&entry(2)).unwrap();
    assert_eq!(a.size().unwrap(), 3);
    drop((a, b));
    // Alone again: the next handle holds it exclusively, and an explicit multi-writer that
    // finds it held asks too.
    let c = Ledger::open(&path).unwrap();
    assert_eq!(c.sharing_now(), Sharing::Exclusive);
    let d = Ledger::open_with(
        &path,
        &OpenOptions {
            sharing: Some(Sharing::MultiWriter),
            ..OpenOptions::default()
        },
    )
    .unwrap();
    assert_eq!(c.sharing_now(), Sharing::MultiWriter);
    d.append(&entry(3)).unwrap();
    c.verify(&VerifyOptions::default()).unwrap();
    // An explicitly exclusive holder cannot be asked: others are refused as before.
    drop((c, d));
    let e = Ledger::open_with(
        &path,
        &OpenOptions {
            sharing: Some(Sharing::Exclusive),
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let refused = Ledger::open(&path).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Locked);
    drop(e);
}

#[test]
fn a_holder_shares_only_once_its_snapshots_and_commits_are_done() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let a = Arc::new(create(&path));
    let batch: Vec<Value> = (0..2_000).map(entry).collect();
    a.append_batch(&batch).unwrap();
    // Appends and reads go on in the holder while a reader asks to come in.
    let busy = {
        let a = a.clone();
        std::thread::spawn(move || {
            for n in 0..200 {
                a.append(&entry(10_000 + n)).unwrap();
                let _ = a.query(&trailseal::query::Query::default()).unwrap();
            }
        })
    };
    let r = Ledger::open_with(&path, &read_only()).unwrap();
    busy.join().unwrap();
    assert_eq!(a.sharing_now(), Sharing::MultiWriter);
    assert_eq!(r.size().unwrap(), 2_200);
    r.verify(&VerifyOptions::default()).unwrap();
}

#[test]
fn sharing_names_round_trip() {
    for s in [
        Sharing::Auto,
        Sharing::Exclusive,
        Sharing::SingleWriter,
        Sharing::MultiWriter,
    ] {
        assert_eq!(s.name().parse::<Sharing>().unwrap(), s);
    }
    assert_eq!(
        "single_writer".parse::<Sharing>().unwrap(),
        Sharing::SingleWriter
    );
    assert_eq!(
        "shared".parse::<Sharing>().unwrap_err().code(),
        ErrorCode::Malformed
    );
    assert_eq!(Sharing::default(), Sharing::Auto);
}
