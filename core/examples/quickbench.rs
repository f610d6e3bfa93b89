//! Rough append throughput on this machine (the real comparison lives in benches/).
use serde_json::json;
use std::time::Instant;
use trailseal::{CreateOptions, Ledger};

fn main() {
    let dir = std::env::temp_dir().join(format!("trailseal-quickbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("q.redb");
    let l = Ledger::create(&path, &CreateOptions::new("bench.example/q")).unwrap();
    let n_batches = 200;
    let batch: Vec<_> = (0..1000)
        .map(|i| {
            json!({"actor": {"id": format!("ci-bot-{}", i % 13), "role": "deployer"},
            "action": "deploy.succeeded", "subject": {"type": "service", "id": format!("svc-{i}")},
            "links": [{"rel": "built_from", "ref": "git:4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"}],
            "attrs": {"env": "prod", "region": "eu-west-1", "pipeline": "release-train"},
            "payload": {"run": "https://ci.example.com/acme/payments/runs/1234567", "n": i}})
        })
        .collect();
    let t = Instant::now();
    for b in 0..n_batches {
        l.append_batch(&batch).unwrap();
        if std::env::var("SIZES").is_ok() && b % 20 == 19 {
            let bytes = std::fs::metadata(&path).unwrap().len();
            println!(
                "{} entries: {} B/entry",
                (b + 1) * 1000,
                bytes / ((b as u64 + 1) * 1000)
            );
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let n = (n_batches * 1000) as f64;
    let bytes = std::fs::metadata(&path).unwrap().len() as f64;
    let leaf = l.get_raw(5).unwrap().len();
    println!(
        "batch append: {:.0} entries/s; leaf ~{leaf} B; file {:.0} B/entry",
        n / secs,
        bytes / n
    );
    let t = Instant::now();
    for i in 0..1000u64 {
        l.prove_inclusion(i * 199, None).unwrap();
    }
    println!(
        "prove_inclusion: {:.1} us",
        t.elapsed().as_secs_f64() * 1e6 / 1000.0
    );
    let t = Instant::now();
    l.verify(&Default::default()).unwrap();
    println!("verify: {:.0} entries/s", n / t.elapsed().as_secs_f64());
    let t = Instant::now();
    for e in &batch[..200] {
        l.append(e).unwrap();
    }
    println!(
        "durable single append: {:.0} /s",
        200.0 / t.elapsed().as_secs_f64()
    );
    let l = std::sync::Arc::new(l);
    let t = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|k| {
            let l = l.clone();
            let mine: Vec<_> = batch[k * 100..k * 100 + 100].to_vec();
            std::thread::spawn(move || {
                for e in &mine {
                    l.append(e).unwrap();
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    println!(
        "durable single appends from 8 threads: {:.0} /s",
        800.0 / t.elapsed().as_secs_f64()
    );
    drop(l);
    std::fs::remove_dir_all(&dir).unwrap();
}
