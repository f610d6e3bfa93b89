"""DuckDB over a Parquet export of several ledgers answers what `trailseal query` answers.

Usage: check.py TRAILSEAL LAKE LEDGER...

Reads every file under LAKE as one table (hive partitions), then for each ledger asks both
the same questions (actor, subject, action, time range, combinations of them) and requires
the same entries in the same order, row for row. Also checks what every row promises: its
leaf hash is RFC 9162's SHA-256 leaf hash of its `entry` bytes, its `date` partition is its
time's UTC day, and each ledger contributes each of its entries exactly once.
"""

import datetime
import hashlib
import json
import subprocess
import sys

import duckdb

trailseal, lake, ledgers = sys.argv[1], sys.argv[2], sys.argv[3:]
checks = 0


def ok(what):
    global checks
    checks += 1
    print(f"ok {checks} - {what}")


def run(*args):
    return subprocess.run([trailseal, *args], check=True, capture_output=True, text=True).stdout


def query(ledger, *filters):
    """`trailseal query` oldest first, every page: [(index, entry)]."""
    out = run("query", ledger, *filters, "--oldest", "--limit", "1000000", "--json")
    return [(r["index"], r["entry"]) for r in map(json.loads, out.splitlines())]


def ns(rfc3339):
    """Nanoseconds since the epoch of a ledger time (always UTC, nine fractional digits)."""
    whole, frac = rfc3339.rstrip("Z").split(".")
    t = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp()) * 10**9 + int(frac.ljust(9, "0"))


db = duckdb.connect()
db.execute(
    f"CREATE VIEW entries AS SELECT * FROM read_parquet('{lake}/*/*.parquet', hive_partitioning = true)"
)


def sql(origin, where, params):
    rows = db.execute(
        f'SELECT "index", entry FROM entries WHERE origin = ? AND {where} ORDER BY "index"',
        [origin, *params],
    ).fetchall()
    return [(i, json.loads(e)) for i, e in rows]


def same(ledger, origin, what, filters, where, params):
    want = query(ledger, *filters)
    got = sql(origin, where, params)
    assert got == want, f"{ledger}: {what}: duckdb {len(got)} rows, query {len(want)}\n{got[:3]}\n{want[:3]}"
    return len(want)


total = 0
for ledger in ledgers:
    everything = query(ledger)
    size = len(everything)
    # The ledger's origin: the one whose row 0 holds this ledger's first leaf, byte for byte.
    origin = db.execute(
        'SELECT origin FROM entries WHERE "index" = 0 AND entry::VARCHAR = ?',
        [run("show", ledger, "0", "--raw")],
    ).fetchone()[0]

    # Every entry exactly once, and what each row promises.
    n, distinct = db.execute(
        'SELECT count(*), count(DISTINCT "index") FROM entries WHERE origin = ?', [origin]
    ).fetchone()
    assert (n, distinct) == (size, size), (ledger, n, distinct, size)
    for index, leaf_hash, entry, day in db.execute(
        'SELECT "index", leaf_hash, entry::VARCHAR, date FROM entries WHERE origin = ?', [origin]
    ).fetchall():
        assert hashlib.sha256(b"\x00" + entry.encode()).hexdigest() == leaf_hash, index
        assert str(day) == json.loads(entry)["time"][:10], (index, day)
    days = db.execute(
        "SELECT count(DISTINCT date) FROM entries WHERE origin = ?", [origin]
    ).fetchone()[0]
    assert days >= 2, days
    ok(f"{origin}: {size} entries, once each, over {days} days; leaf hashes and days hold")

    actors = sorted({e["actor"]["id"] for _, e in everything})
    actions = sorted({e["action"] for _, e in everything})
    subjects = sorted({(e["subject"]["type"], e["subject"]["id"]) for _, e in everything})
    asked = 0
    for a in actors:
        asked += same(ledger, origin, f"actor {a}", ["--actor", a], "actor_id = ?", [a])
    for a in actions:
        asked += same(ledger, origin, f"action {a}", ["--action", a], "action = ?", [a])
    for t, i in subjects:
        asked += same(
            ledger, origin, f"subject {t}:{i}", ["--subject", f"{t}:{i}"],
            "subject_type = ? AND subject_id = ?", [t, i],
        )
    # Time ranges: since is inclusive, until exclusive, to the nanosecond: bounds on entries'
    # own times, and on day boundaries.
    times = [e["time"] for _, e in everything]
    ranges = [
        (times[5], times[50]),
        (times[0], times[-1]),
        (times[17], times[17]),
        ("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"),
        ("2026-02-01T00:00:00Z", "2026-03-01T12:00:00Z"),
    ]
    for since, until in ranges:
        s = ns(since) if "." in since else ns(since.replace("Z", ".0Z"))
        u = ns(until) if "." in until else ns(until.replace("Z", ".0Z"))
        asked += same(
            ledger, origin, f"time {since}..{until}", ["--since", since, "--until", until],
            "time_ns >= ? AND time_ns < ?", [s, u],
        )
    # Combinations.
    asked += same(
        ledger, origin, "actor, action and a time range",
        ["--actor", actors[1], "--action", actions[0], "--since", times[10], "--until", times[-3]],
        "actor_id = ? AND action = ? AND time_ns >= ? AND time_ns < ?",
        [actors[1], actions[0], ns(times[10]), ns(times[-3])],
    )
    asked += same(
        ledger, origin, "subject and decision",
        ["--subject", f"{subjects[0][0]}:{subjects[0][1]}", "--decision", "allow"],
        "subject_type = ? AND subject_id = ? AND authz_decision = ?",
        [subjects[0][0], subjects[0][1], "allow"],
    )
    assert asked > size, (asked, size)
    ok(f"{origin}: duckdb and trailseal query agree on {len(actors)} actors, {len(actions)} "
       f"actions, {len(subjects)} subjects, {len(ranges)} time ranges and 2 combinations "
       f"({asked} rows compared)")
    total += size

# The prefix is one table: the ledgers' rows side by side, one schema.
n = db.execute("SELECT count(*) FROM entries").fetchone()[0]
origins = db.execute("SELECT count(DISTINCT origin) FROM entries").fetchone()[0]
assert (n, origins) == (total, len(ledgers)), (n, origins)
by_actor = db.execute(
    "SELECT actor_id, count(*) FROM entries GROUP BY actor_id ORDER BY actor_id"
).fetchall()
per_ledger = {}
for ledger in ledgers:
    for _, e in query(ledger):
        per_ledger[e["actor"]["id"]] = per_ledger.get(e["actor"]["id"], 0) + 1
assert by_actor == sorted(per_ledger.items()), (by_actor, per_ledger)
ok(f"one table of {n} rows from {origins} ledgers; a question across them sums theirs")
