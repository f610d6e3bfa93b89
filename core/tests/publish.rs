//! Publishing as a static tlog-tiles log: the library's rules (what is refused, what is
//! kept), monitoring what was published, and publishing in the background without making an
//! append wait. Tessera's and a real S3 server's side are in tests/publish/*.sh.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use trailseal::publish::monitor::monitor;
use trailseal::publish::{
    open_destination, DestinationOptions, DirDestination, PublishCheckpoint, Source,
};
use trailseal::{CreateOptions, ErrorCode, HashAlg, Ledger, Signer};

fn ledger(dir: &tempfile::TempDir, hash: HashAlg) -> (Arc<Ledger>, Signer) {
    let signer = Signer::from_seed("example.com/published", [5; 32]).unwrap();
    let l = Ledger::create(
        dir.path().join("p.redb"),
        &CreateOptions::new("example.com/published")
            .hash(hash)
            .verifier(&signer.verifier()),
    )
    .unwrap();
    (Arc::new(l), signer)
}

fn append(l: &Ledger, n: usize) {
    let entries: Vec<_> = (0..n)
        .map(|i| json!({"actor": {"id": "a"}, "action": "x.y", "subject": {"type": "t", "id": format!("s{i}")}}))
        .collect();
    l.append_batch(&entries).unwrap();
}

#[test]
fn publish_is_incremental_refuses_blake3_and_is_monitored() {
    let dir = tempfile::tempdir().unwrap();
    let (l, signer) = ledger(&dir, HashAlg::Sha256);
    let dest = DirDestination::new(dir.path().join("pub")).unwrap();
    append(&l, 300);
    let first = l.publish(&dest, PublishCheckpoint::Sign(&signer)).unwrap();
    assert_eq!((first.from, first.size), (0, 300));
    assert_eq!(l.published(&dest.name()).unwrap().unwrap().size, 300);
    append(&l, 10);
    let second = l.publish(&dest, PublishCheckpoint::Sign(&signer)).unwrap();
    assert_eq!((second.from, second.size), (300, 310));
    // Only bundle 1 (44 entries, now 54) and its level-0 tile changed; level 1 still has the
    // one node.
    assert_eq!(second.objects, 2);
    let (report, state) = monitor(&dest, &signer.verifier(), None, None, true).unwrap();
    assert_eq!((report.size, report.entries_checked), (310, 310));
    assert_eq!(state.size, 310);
    // Published objects are readable as the layout names them.
    assert!(dest.get("tile/entries/001.p/54").unwrap().is_some());
    assert!(dest.get("tile/1/000.p/1").unwrap().is_some());

    // Nothing new: the kept checkpoint is published again, no object and no new checkpoint.
    let kept = l.checkpoints().unwrap().len();
    let again = l.publish(&dest, PublishCheckpoint::Sign(&signer)).unwrap();
    assert_eq!((again.from, again.size, again.objects), (310, 310, 0));
    assert_eq!(l.checkpoints().unwrap().len(), kept);

    // Another log's destination is refused.
    let dir2 = tempfile::tempdir().unwrap();
    let other_signer = Signer::from_seed("example.com/other", [6; 32]).unwrap();
    let other = Ledger::create(
        dir2.path().join("o.redb"),
        &CreateOptions::new("example.com/other").verifier(&other_signer.verifier()),
    )
    .unwrap();
    append(&other, 2);
    let e = other
        .publish(&dest, PublishCheckpoint::Sign(&other_signer))
        .unwrap_err();
    assert!(e.to_string().contains("example.com/published"), "{e}");

    // An emptied destination is published whole again.
    let fresh = DirDestination::new(dir.path().join("elsewhere")).unwrap();
    assert_eq!(
        l.publish(&fresh, PublishCheckpoint::Newest).unwrap().from,
        0
    );

    let dir3 = tempfile::tempdir().unwrap();
    let (b, bsigner) = ledger(&dir3, HashAlg::Blake3);
    append(&b, 3);
    let e = b
        .publish(&dest, PublishCheckpoint::Sign(&bsigner))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    assert!(open_destination(
        dir.path().to_str().unwrap(),
        &DestinationOptions { lock_days: Some(1) }
    )
    .is_err());
}

#[test]
fn background_publishing_follows_commits_and_retries_failures() {
    let dir = tempfile::tempdir().unwrap();
    let (l, signer) = ledger(&dir, HashAlg::Sha256);
    let root = dir.path().join("pub");
    std::fs::create_dir_all(&root).unwrap();
    // A file where the tiles directory must go: every publish fails until it is removed.
    std::fs::write(root.join("tile"), b"in the way").unwrap();
    let dest = DirDestination::new(&root).unwrap();
    let publisher = l
        .publish_in_background(Box::new(dest), signer.clone(), Duration::from_millis(50))
        .unwrap();
    append(&l, 40);
    // The first attempt's time depends on the machine's load: wait for it, bounded.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut status = publisher.status();
    while status.failures == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        status = publisher.status();
    }
    assert_eq!(status.published_size, 0);
    assert!(status.failures >= 1, "{status:?}");
    assert!(status.last_error.is_some(), "{status:?}");
    // Appends went on while publishing failed; once the way is clear a retry publishes all.
    append(&l, 260);
    std::fs::remove_file(root.join("tile")).unwrap();
    let status = publisher.wait_published(300, Duration::from_secs(20));
    assert_eq!(status.published_size, 300, "{status:?}");
    assert_eq!((status.failures, status.last_error.clone()), (0, None));
    // And each later commit is published without being asked.
    append(&l, 5);
    let status = publisher.wait_published(305, Duration::from_secs(10));
    assert_eq!(status.published_size, 305, "{status:?}");
    let src = DirDestination::new(&root).unwrap();
    let (report, _) = monitor(&src, &signer.verifier(), None, None, true).unwrap();
    assert_eq!(report.size, 305);
    publisher.stop();
}

#[test]
fn an_append_never_waits_for_a_publish_stuck_on_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let (l, signer) = ledger(&dir, HashAlg::Sha256);
    // An S3 endpoint that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in silent.incoming().take(4).flatten() {
            conns.push(c);
        }
        std::thread::sleep(Duration::from_secs(30));
    });
    // Only this test of the binary reads AWS_* variables.
    std::env::set_var("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"));
    std::env::set_var("AWS_ALLOW_HTTP", "true");
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_ACCESS_KEY_ID", "k");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "s");
    let dest = open_destination("s3://bucket/log", &DestinationOptions::default()).unwrap();
    let publisher = l
        .publish_in_background(dest, signer, Duration::from_millis(10))
        .unwrap();
    let started = Instant::now();
    for i in 0..50 {
        let t = Instant::now();
        l.append(&json!({"actor": {"id": "a"}, "action": "x.y", "subject": {"type": "t", "id": format!("n{i}")}}))
            .unwrap();
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "append {i} took {:?}",
            t.elapsed()
        );
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(l.size().unwrap(), 50);
    assert_eq!(publisher.status().published_size, 0);
    // Stopping does not wait for the stuck attempt either.
    let t = Instant::now();
    publisher.stop();
    assert!(t.elapsed() < Duration::from_secs(1));
    drop(held);
}
