//! No command ever prints a signer key's secret: every command that reads, makes or signs with
//! a key is run, on success and on each kind of failure, and its output and error are searched
//! for the seed in every encoding a leak could take (hex, base64 with and without padding,
//! URL-safe base64, the key string's `0x01 || seed` form, the key string itself).

use std::path::Path;
use std::process::Command;

use base64::Engine as _;

const BIN: &str = env!("CARGO_BIN_EXE_trailseal");
const ORIGIN: &str = "example.com/secrets";
const SEED: [u8; 32] = [
    0x5e, 0xc2, 0xe7, 0x00, 0x11, 0xa9, 0x42, 0x17, 0xd3, 0x6b, 0x88, 0x01, 0xfe, 0x3c, 0x72, 0x9d,
    0x04, 0xb5, 0x6e, 0x21, 0xc8, 0x9a, 0x33, 0x5f, 0x10, 0xe4, 0x7d, 0xa2, 0x68, 0x0b, 0xf1, 0x96,
];

/// Every encoding of the seed a careless message could carry.
fn leaks() -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let mut tagged = vec![0x01];
    tagged.extend_from_slice(&SEED);
    let mut out = vec![hex::encode(SEED), hex::encode_upper(SEED)];
    for bytes in [&SEED[..], &tagged[..]] {
        for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
            // A prefix long enough to be the secret and nothing else.
            out.push(engine.encode(bytes)[..40].to_owned());
        }
    }
    out.push(format!("{:?}", SEED));
    out
}

/// Environment variables set for one run.
type Env<'a> = [(&'a str, &'a str)];

fn run(args: &[&str], env: &Env) -> (i32, String) {
    let mut c = Command::new(BIN);
    c.args(args).env_remove("TRAILSEAL_KEY_FILE");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run trailseal");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn no_command_prints_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    let signer = trailseal::Signer::from_seed(ORIGIN, SEED).unwrap();
    let skey = signer.to_key_string().unwrap();
    let key = p("k.key");
    private(Path::new(&key), &format!("{skey}\n"));
    // The same seed under another name: its key hash does not match, so it is refused.
    let renamed = p("renamed.key");
    private(
        Path::new(&renamed),
        &skey.replacen(ORIGIN, "example.com/other", 1),
    );
    // A key string with one character of its data changed.
    let mangled = p("mangled.key");
    let mut m = skey.clone();
    m.pop();
    m.push(if skey.ends_with('A') { 'B' } else { 'A' });
    private(Path::new(&mangled), &m);
    let open_key = p("open.key");
    std::fs::write(&open_key, &skey).unwrap();
    let entries = p("e.jsonl");
    std::fs::write(
        &entries,
        r#"{"actor":{"id":"a"},"action":"change.requested","subject":{"type":"release","id":"1"}}
{"actor":{"id":"b"},"action":"approval.granted","subject":{"type":"release","id":"1"},"links":[{"rel":"approves","index":0}]}
"#,
    )
    .unwrap();
    let policy = p("policy.json");
    std::fs::write(&policy, r#"{"min_approvals":1}"#).unwrap();
    let l = p("l.redb");
    let other = p("other.redb");
    let key_env = [("TRAILSEAL_KEY_FILE", key.as_str())];
    let (x, b, c) = (p("x.redb"), p("b.json"), p("c.json"));

    let runs: Vec<(Vec<&str>, &Env)> = vec![
        (vec!["init", &l, "--origin", ORIGIN, "--key", &key], &[]),
        (vec!["init", &other, "--origin", ORIGIN], &[]),
        (vec!["append", &l, &entries], &[]),
        (vec!["vkey", "--key", &key], &[]),
        (vec!["vkey", &l], &[]),
        (vec!["checkpoint", &l, "--key", &key], &[]),
        (vec!["checkpoint", &l], &key_env),
        (vec!["checkpoint", &l, "--key", &renamed], &[]),
        (vec!["checkpoint", &l, "--key", &mangled], &[]),
        (vec!["checkpoint", &l, "--key", &open_key], &[]),
        (
            vec!["checkpoint", &l, "--key", &open_key, "--insecure-key-file"],
            &[],
        ),
        (vec!["checkpoint", &other, "--key", &key], &[]),
        (vec!["init", &x, "--origin", ORIGIN, "--key", &mangled], &[]),
        (
            vec![
                "bundle",
                &l,
                "--subject",
                "release:1",
                "-o",
                &b,
                "--key",
                &key,
            ],
            &[],
        ),
        (
            vec![
                "bundle",
                &l,
                "--subject",
                "release:1",
                "-o",
                &c,
                "--key",
                &renamed,
            ],
            &[],
        ),
        (
            vec![
                "gate",
                &l,
                "--subject",
                "release:1",
                "--policy",
                &policy,
                "--record",
                "--sign",
            ],
            &key_env,
        ),
        (
            vec![
                "witness",
                &l,
                "--witness",
                "http://127.0.0.1:9",
                "--witness-key",
                "w.example+00000000+BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "--key",
                &key,
            ],
            &[],
        ),
        (
            vec![
                "timestamp",
                &l,
                "--tsa",
                "http://127.0.0.1:9",
                "--tsa-ca",
                &policy,
                "--key",
                &key,
            ],
            &[],
        ),
        (vec!["verify", &l], &[]),
    ];
    let leaks = leaks();
    let mut seen_failure = false;
    for (args, env) in &runs {
        let (status, text) = run(args, env);
        seen_failure |= status != 0;
        for leak in &leaks {
            assert!(
                !text.contains(leak.as_str()),
                "trailseal {args:?} printed the secret ({leak}):\n{text}"
            );
        }
    }
    assert!(seen_failure, "the failure paths were not reached");
    // The commands above did sign with the key: the secret was in use, not absent.
    let (status, text) = run(&["verify", &l], &[]);
    assert_eq!(status, 0, "{text}");
    assert!(!text.contains("\"checkpoints_checked\":0"), "{text}");
}
