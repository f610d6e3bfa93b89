#!/usr/bin/env bash
# Smoke run of the benchmark programs for CI: the comparison (`compare`) and the sharing modes
# (`share`), each in quick mode with its JSON to a temp file, then a check that each JSON has
# every required key with a finite positive number. Times are not asserted (CI machines are
# shared and noisy); the runs only have to work and report everything.
#
#   bash benches/smoke.sh            # from anywhere; honours CARGO_TARGET_DIR
set -euo pipefail
cd "$(dirname "$0")/.."

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# --peers: Tessera and immudb beside trailseal's two hashes, so their Go programs are built
# (once per CI run, under target/; about 50 s from an empty Go module cache, 18 MB of modules)
# and run (about 40 s at 100k entries).
cargo run --release -p trailseal-benches --bin compare -- --quick --peers --json "$out/compare.json"
# Without Go, compare skips the peers (and says so); with it, they must have run.
if command -v go > /dev/null; then want_peers=1; else want_peers=0; fi
# About 25 s of run time (fsync-bound durable appends, four processes at once, a reader beside a
# writer).
cargo run --release -p trailseal-benches --bin share -- --quick --json "$out/share.json"
# About 10 s: a 100k-entry ledger exported in full and incrementally, mapped to OCSF, queried.
cargo run --release -p trailseal-benches --bin export -- --quick --json "$out/export.json"

# About 10 s: a 100k-entry ledger published whole and by increments, copied, monitored.
cargo run --release -p trailseal-benches --bin publish -- --quick --json "$out/publish.json"
python3 - "$out/publish.json" <<'EOF'
import json, math, sys
r = json.load(open(sys.argv[1]))
want = {"increment": ["small_objects", "large_objects", "large_vs_full"],
        "full": ["seconds", "cp_r_seconds", "throughput_vs_cp_r"],
        "monitor": ["entries_per_second", "verify_entries_per_second"]}
bad = [f"{g}.{k}" for g, ks in want.items() for k in ks
       if not (isinstance(r.get(g, {}).get(k), (int, float)) and math.isfinite(r[g][k]) and r[g][k] > 0)]
if bad:
    sys.exit(f"benches/smoke.sh: publish JSON lacks {bad}")
EOF

python3 - "$out/compare.json" "$out/share.json" "$out/export.json" "$want_peers" <<'EOF'
import json, math, sys

r = json.load(open(sys.argv[1]))
errors = []

def num(path, v):
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v <= 0:
        errors.append(f"{path}: expected a positive number, got {v!r}")

def need(obj, key, path=""):
    if not isinstance(obj, dict) or key not in obj:
        errors.append(f"missing key {path}{key}")
        return None
    return obj[key]

if r.get("mode") != "quick":
    errors.append(f"mode: expected 'quick', got {r.get('mode')!r}")
sizes = [str(s) for s in r.get("sizes", [])]
if len(sizes) < 2:
    errors.append(f"sizes: expected at least two, got {sizes!r}")

for key in ["append_batch", "append_durable", "append_durable_8_threads"]:
    obj = need(r, key)
    for system in ["trailseal", "redb", "sqlite"]:
        v = need(obj, system, key + ".")
        if v is not None:
            num(f"{key}.{system}", v)

for key in ["prove_inclusion_us", "prove_consistency_us", "verify_proof_us"]:
    obj = need(r, key)
    for s in sizes:
        per = need(obj, s, key + ".")
        for q in ["p50", "p99"]:
            v = need(per, q, f"{key}.{s}.")
            if v is not None:
                num(f"{key}.{s}.{q}", v)

for key in ["verify_eps", "leaf_bytes"]:
    v = need(r, key)
    if v is not None:
        num(key, v)

for key in ["bytes_per_entry", "peak_rss_mib"]:
    obj = need(r, key)
    for s in sizes:
        v = need(obj, s, key + ".")
        if v is not None:
            num(f"{key}.{s}", v)

ratios = need(r, "ratios")
for key in [
    "append_batch_vs_redb", "append_batch_vs_sqlite", "append_durable_vs_redb",
    "append_durable_8_threads_vs_single", "prove_inclusion_p50_growth",
    "prove_consistency_p50_growth", "verify_eps_vs_target", "bytes_per_entry_vs_budget",
    "peak_rss_growth_vs_smallest",
]:
    v = need(ratios, key, "ratios.")
    if v is not None:
        num(f"ratios.{key}", v)

machine = need(r, "machine")
for key in ["cpu", "cores", "ram_gib", "kernel"]:
    if not need(machine, key, "machine."):
        errors.append(f"machine.{key} is empty")

targets = need(r, "targets")
if not isinstance(targets, list) or not targets or not all("pass" in t for t in targets):
    errors.append("targets: expected a non-empty list of {target, measured, pass}")

# The side-by-side section: trailseal's two hashes always, the peers when Go is here.
side = need(r, "peers") or {}
systems = ["trailseal_blake3", "trailseal_sha256"]
if sys.argv[4] == "1":
    if side.get("skipped"):
        errors.append(f"peers skipped although Go is installed: {side['skipped']}")
    systems += ["tessera", "immudb"]
for fig in ["append_batch", "append_durable", "verify_eps", "bytes_per_entry", "peak_rss_mib"]:
    obj = need(side, fig, "peers.")
    for system in systems:
        v = need(obj, system, f"peers.{fig}.")
        if v is not None:
            num(f"peers.{fig}.{system}", v)
    ratio_keys = [f"{fig}_sha256_vs_blake3"] + ([f"{fig}_vs_tessera", f"{fig}_vs_immudb"] if len(systems) > 2 else [])
    for key in ratio_keys:
        v = need(side.get("ratios"), key, "peers.ratios.")
        if v is not None:
            num(f"peers.ratios.{key}", v)

passed = sum(1 for t in targets if t["pass"])
summary = f"compare: JSON complete ({len(sizes)} sizes, side by side with {', '.join(systems)}), targets met in this run: {passed} of {len(targets)}"

# share: every figure of the sharing modes.
r = json.load(open(sys.argv[2]))
if r.get("mode") != "quick":
    errors.append(f"share mode: expected 'quick', got {r.get('mode')!r}")

def figure(path, program="share"):
    obj = r
    for i, key in enumerate(path):
        if not isinstance(obj, dict) or key not in obj:
            errors.append(f"missing key {program} " + ".".join(path[: i + 1]))
            return
        obj = obj[key]
    num(f"{program} " + ".".join(path), obj)

for who in ["processes", "threads", "threads_shared"]:
    figure(["concurrent", who])
for kind in ["single", "batch"]:
    for mode in ["exclusive", "single_writer", "multi_writer", "auto"]:
        figure([kind, mode])
for run in ["idle", "idle_exclusive", "busy", "busy_elsewhere"]:
    for q in ["p50", "p99"]:
        figure(["reader_us", run, q])
for run in ["busy", "busy_elsewhere"]:
    figure(["reader_us", run, "writer_eps"])
for key in [
    "processes_vs_threads", "processes_vs_threads_shared", "single_default_vs_exclusive", "batch_default_vs_exclusive",
    "single_single_writer_vs_exclusive", "batch_single_writer_vs_exclusive",
    "single_multi_writer_vs_exclusive", "batch_multi_writer_vs_exclusive",
    "reader_p50_busy_vs_idle", "reader_p99_busy_vs_idle",
]:
    figure(["ratios", key])
share_targets = need(r, "targets", "share ")
if not isinstance(share_targets, list) or not share_targets or not all("pass" in t for t in share_targets):
    errors.append("share targets: expected a non-empty list of {target, measured, pass}")
    share_targets = []

# export: every rate and ratio.
r = json.load(open(sys.argv[3]))
if r.get("mode") != "quick":
    errors.append(f"export mode: expected 'quick', got {r.get('mode')!r}")
for path in [
    ["full_export", "entries_per_s"], ["full_export", "bytes"], ["incremental_export", "seconds"],
    ["incremental_export", "fraction_of_full"], ["ocsf", "entries_per_s"],
    ["scan_raw", "entries_per_s"], ["query_by_actor", "entries_per_s"],
    ["ratios", "export_vs_query"], ["ratios", "export_vs_scan"], ["ratios", "ocsf_vs_scan"],
]:
    figure(path, "export")

if errors:
    print("benches/smoke.sh: a benchmark's JSON is incomplete:", file=sys.stderr)
    for e in errors:
        print("  " + e, file=sys.stderr)
    sys.exit(1)
share_passed = sum(1 for t in share_targets if t["pass"])
print(f"benches/smoke.sh: {summary}; share: JSON complete, targets met in this run: {share_passed} of {len(share_targets)} (not asserted); export: JSON complete")
EOF
