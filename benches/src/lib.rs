//! Shared pieces of the trailseal benchmarks: a deterministic generator of realistic audit
//! entries, the leaf bytes they encode to, and small process and file measurements.
//!
//! The comparison program (`src/bin/compare.rs`) and the micro-benchmarks
//! (`benches/hot_paths.rs`) both draw their data from [`entry_json`], so every system and every
//! benchmark sees the same entries.

use serde_json::{json, Map, Value};
use trailseal::entry::{self, Timestamp};

/// Entries per commit in the batch benchmarks.
pub const BATCH: usize = 1_000;

/// The `time` every leaf made by [`leaf_bytes`] carries: 2025-01-01T00:00:00Z plus `index`
/// microseconds. Its RFC 3339 form has the same length as any time trailseal assigns, so the
/// leaves given to redb and SQLite are exactly as long as trailseal's own.
pub fn fixed_time(index: u64) -> Timestamp {
    Timestamp::from_unix_nanos(1_735_689_600_000_000_000 + i128::from(index) * 1_000)
}

/// SplitMix64: a tiny, fast, deterministic generator (no dependency, same stream everywhere).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the tiny modulo bias does not matter here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// One element of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// `n` lowercase hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(n);
        let mut bits = 0u64;
        for i in 0..n {
            if i % 16 == 0 {
                bits = self.next_u64();
            }
            s.push(DIGITS[(bits & 15) as usize] as char);
            bits >>= 4;
        }
        s
    }
}

const ACTORS: &[&str] = &[
    "alice@example.com",
    "bob@example.com",
    "carol.nguyen@example.com",
    "dmitri@example.com",
    "deploy-bot",
    "svc:release-orchestrator",
    "erin.okafor@example.com",
    "frank@contractor.example.net",
];
const ROLES: &[&str] = &[
    "release-manager",
    "sre-oncall",
    "developer",
    "security-reviewer",
    "platform-admin",
];
const VIA: &[&str] = &[
    "github-actions:payments/deploy.yml",
    "okta:sso",
    "argo-cd",
    "jenkins:release-pipeline",
];
const ACTIONS: &[&str] = &[
    "deploy.succeeded",
    "deploy.started",
    "approval.granted",
    "build.completed",
    "config.changed",
    "secret.rotated",
    "access.granted",
    "release.created",
    "rollback.started",
    "policy.evaluated",
];
const SUBJECT_TYPES: &[&str] = &["service", "release", "repository", "environment", "secret"];
const SUBJECTS: &[&str] = &[
    "payments-api",
    "ledger-writer",
    "checkout-web",
    "fraud-scoring",
    "identity-gateway",
    "notifications",
];
const ENVS: &[&str] = &["prod", "staging", "dev"];
const POLICIES: &[&str] = &[
    "two-person-review",
    "change-window",
    "sox-segregation-of-duties",
];
const RELS: &[&str] = &["approved_by", "follows", "caused_by"];

/// The audit entry number `index` of the deterministic stream: about 400 bytes once encoded,
/// with an actor (role, sometimes a `via` chain), action, subject, `authz` on about a third of
/// the entries, links (an earlier index and a git ref), attrs and a small payload.
pub fn entry_json(index: u64) -> Value {
    let mut r = Rng::new(index ^ 0x7472_6169_6c73_6561);
    let mut actor = Map::new();
    actor.insert("id".into(), r.pick(ACTORS).into());
    actor.insert("role".into(), r.pick(ROLES).into());
    if r.below(3) == 0 {
        actor.insert("via".into(), json!([r.pick(VIA)]));
    }
    let mut e = Map::new();
    e.insert("actor".into(), Value::Object(actor));
    e.insert("action".into(), r.pick(ACTIONS).into());
    e.insert(
        "subject".into(),
        json!({"type": r.pick(SUBJECT_TYPES), "id": format!("{}-{}", r.pick(SUBJECTS), r.below(100))}),
    );
    if r.below(3) == 0 {
        let policy = r.pick(POLICIES);
        let authz = if r.below(10) == 0 {
            json!({"decision": "break_glass", "policy": policy, "reason": "sev1 incident INC-4711: payment retries stuck"})
        } else {
            json!({"decision": "allow", "policy": policy, "policy_version": format!("2025-{:02}", 1 + r.below(12))})
        };
        e.insert("authz".into(), authz);
    }
    let mut links = Vec::new();
    if index > 0 {
        let back = 1 + r.below(index.min(1_000));
        links.push(json!({"rel": r.pick(RELS), "index": index - back}));
    }
    links.push(json!({"rel": "built_from", "ref": format!("git:{}", r.hex(40))}));
    e.insert("links".into(), Value::Array(links));
    let mut attrs = Map::new();
    attrs.insert("env".into(), r.pick(ENVS).into());
    if r.below(2) == 0 {
        attrs.insert(
            "ticket".into(),
            format!("CHG-{}", 10_000 + r.below(90_000)).into(),
        );
    }
    e.insert("attrs".into(), Value::Object(attrs));
    e.insert(
        "payload".into(),
        json!({"duration_ms": r.below(600_000), "exit_code": r.below(2)}),
    );
    Value::Object(e)
}

/// The leaf bytes trailseal stores for [`entry_json`]`(index)`, with the `time`
/// [`fixed_time`]`(index)`: validated and canonically encoded exactly as the ledger does.
pub fn leaf_bytes(index: u64) -> Vec<u8> {
    encode(&entry_json(index), index)
}

/// Validate and encode `value` as leaf `index` with [`fixed_time`]`(index)`.
pub fn encode(value: &Value, index: u64) -> Vec<u8> {
    entry::validate(value, index)
        .and_then(|v| v.encode(&fixed_time(index), entry::DEFAULT_MAX_ENTRY_BYTES))
        .expect("generated entries are valid")
}

/// The entries `[start, start + n)` of the stream.
pub fn entries(start: u64, n: usize) -> Vec<Value> {
    (start..start + n as u64).map(entry_json).collect()
}

/// The leaves `[start, start + n)` of the stream.
pub fn leaves(start: u64, n: usize) -> Vec<Vec<u8>> {
    (start..start + n as u64).map(leaf_bytes).collect()
}

/// A field of `/proc/self/status` in MiB (`VmHWM` = peak resident set, `VmRSS` = current).
pub fn proc_status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Peak resident memory of this process so far, in MiB.
pub fn peak_rss_mib() -> f64 {
    proc_status_mib("VmHWM:").unwrap_or(f64::NAN)
}

/// The value in `p` (`0..=100`) percent of the way through `sorted` (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
