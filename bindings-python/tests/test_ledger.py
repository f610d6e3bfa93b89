"""The Ledger, Signer and Checkpoint API, end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import trailseal
from conftest import make_entry

HEX64 = re.compile(r"^[0-9a-f]{64}$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


def test_create_append_get_reopen(ledger_path: Path) -> None:
    led = trailseal.Ledger.create(str(ledger_path), origin="example.com/audit", hash="sha256")
    assert (led.origin, led.hash, led.kind) == ("example.com/audit", "sha256", "entries")
    assert led.path == ledger_path
    assert led.max_entry_bytes == 1 << 20
    assert led.verifier_key is None
    assert len(led) == 0 and led  # a ledger is truthy even when empty
    empty_root = led.root()
    assert empty_root == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    r = led.append(make_entry(0))
    assert isinstance(r, trailseal.Receipt)
    assert (r.index, r.tree_size) == (0, 1)
    assert HEX64.match(r.leaf_hash) and HEX64.match(r.root)
    assert r.time is not None and TIME.match(r.time)
    assert r.root == led.root() == r.leaf_hash
    assert r.to_dict() == {
        "index": 0,
        "leaf_hash": r.leaf_hash,
        "tree_size": 1,
        "root": r.root,
        "time": r.time,
    }
    assert "Receipt(index=0" in repr(r)

    got = led.get(0)
    assert got == dict(make_entry(0), v=1, time=r.time)
    raw = led.get_raw(0)
    assert isinstance(raw, bytes) and json.loads(raw) == got
    assert led.get_json(0) == raw.decode()
    assert led.leaf_hash(0) == r.leaf_hash

    rs = led.append_batch([make_entry(1), make_entry(2)])
    assert [x.index for x in rs] == [1, 2] and len(led) == 3
    root3 = led.root()
    assert led.root(1) == r.root and led.root(0) == empty_root
    led.close()

    with trailseal.Ledger.open(ledger_path) as again:
        assert (again.origin, again.hash, again.kind) == ("example.com/audit", "sha256", "entries")
        assert len(again) == 3 and again.root() == root3
        assert again.get(2)["subject"]["id"] == "payments-api-2"
        assert again.verifier_key is None


def test_default_hash_is_sha256_and_paths_may_be_pathlike(ledger_path: Path) -> None:
    with trailseal.Ledger.create(ledger_path, origin="o") as led:
        assert led.hash == "sha256"
        assert led.root() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_batch_is_atomic_and_names_the_field(ledger_path: Path) -> None:
    led = trailseal.Ledger.create(ledger_path, origin="o")
    led.append(make_entry(0))
    bad = [make_entry(1), {"actor": {"id": "bob"}, "action": "Not Valid", "subject": {"type": "t", "id": "i"}}]
    with pytest.raises(trailseal.InvalidEntryError) as e:
        led.append_batch(bad)
    assert e.value.field == "[1].action"
    assert e.value.code == "invalid_entry" and e.value.status == 1
    assert len(led) == 1
    assert led.append_batch([]) == []
    with pytest.raises(TypeError):
        led.append_batch(make_entry(2))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        led.append_batch([{"actor": object()}])


def test_entries_are_checked_by_the_core_strictly(ledger_path: Path) -> None:
    led = trailseal.Ledger.create(ledger_path, origin="o")
    # Extra top-level field, non-object entry, unsafe integer, NaN (not JSON at all).
    for bad, err in [
        (dict(make_entry(0), extra=1), trailseal.InvalidEntryError),
        (["not", "an", "object"], trailseal.InvalidEntryError),
        (make_entry(0, payload={"n": 2**60}), trailseal.InvalidEntryError),
        (make_entry(0, payload={"n": float("nan")}), trailseal.MalformedError),
    ]:
        with pytest.raises(err):
            led.append(bad)  # type: ignore[arg-type]
    assert len(led) == 0
    # Any JSON in the payload round-trips.
    payload = {"s": "ünïcödé ✓", "f": 1.5, "i": -3, "b": True, "n": None, "l": [1, [2, {}]]}
    r = led.append(make_entry(1, payload=payload))
    assert led.get(r.index)["payload"] == payload


def test_id_is_idempotent_and_conflicts_are_refused(ledger_path: Path) -> None:
    led = trailseal.Ledger.create(ledger_path, origin="o")
    first = led.append(make_entry(0, id="evt-1"))
    again = led.append(make_entry(0, id="evt-1"))
    assert again == first and len(led) == 1
    with pytest.raises(trailseal.IdConflictError) as e:
        led.append(make_entry(5, id="evt-1"))
    assert (e.value.id, e.value.index) == ("evt-1", 0)
    times = [r.time for r in led.append_batch([make_entry(i) for i in range(20)])]
    assert times == sorted(times)  # never earlier than the previous entry's


def test_links_to_earlier_entries(ledger_path: Path) -> None:
    led = trailseal.Ledger.create(ledger_path, origin="o")
    led.append(make_entry(0))
    r = led.append(make_entry(1, links=[{"rel": "approved_by", "index": 0}, {"rel": "built_from", "ref": "git:4f2a9c1"}]))
    assert led.get(r.index)["links"][0] == {"rel": "approved_by", "index": 0}
    with pytest.raises(trailseal.InvalidEntryError):
        led.append(make_entry(2, links=[{"rel": "approved_by", "index": 99}]))


def test_raw_ledger(ledger_path: Path) -> None:
    led = trailseal.Ledger.create(ledger_path, origin="o", raw=True, hash="sha256")
    assert led.kind == "raw"
    r = led.append_raw(b"")
    assert r.time is None and r.to_dict() == {
        "index": 0,
        "leaf_hash": r.leaf_hash,
        "tree_size": 1,
        "root": r.root,
    }
    rs = led.append_raw_batch([b"\x00\xff", bytearray(b"abc")])
    assert [x.index for x in rs] == [1, 2]
    assert led.get_raw(1) == b"\x00\xff" and led.get_raw(2) == b"abc"
    trailseal.verify_inclusion(led.prove_inclusion(1), leaf=b"\x00\xff")
    # A raw ledger has no query indexes: indexes=True has nothing to check.
    report = led.verify(indexes=True)
    assert (report["size"], report["postings_checked"], report["indexes_checked"]) == (3, 0, False)
    with pytest.raises(trailseal.WrongKindError):
        led.get(0)
    with pytest.raises(trailseal.WrongKindError):
        led.append(make_entry(0))
    with pytest.raises(TypeError):
        led.append_raw("text is not bytes")  # type: ignore[arg-type]


def test_max_entry_bytes(ledger_path: Path) -> None:
    led = trailseal.Ledger.create(ledger_path, origin="o", max_entry_bytes=300)
    assert led.max_entry_bytes == 300
    led.append(make_entry(0))
    with pytest.raises(trailseal.InvalidEntryError):
        led.append(make_entry(1, payload="x" * 300))
    raw = trailseal.Ledger.create(ledger_path.with_name("raw.redb"), origin="o", raw=True, max_entry_bytes=4)
    raw.append_raw(b"1234")
    with pytest.raises(trailseal.InvalidArgumentError):
        raw.append_raw(b"12345")


def test_proofs_verify_ledger_free(ledger_path: Path) -> None:
    led = trailseal.Ledger.create(ledger_path, origin="o", hash="sha256")
    led.append_batch([make_entry(i) for i in range(13)])
    for i in range(13):
        p = led.prove_inclusion(i)
        trailseal.verify_inclusion(p, leaf=led.get(i))
        trailseal.verify_inclusion(p, leaf=led.get_raw(i))
        trailseal.verify_inclusion(p, leaf=led.get_json(i))
        trailseal.verify_inclusion(json.dumps(p))
        with pytest.raises(trailseal.VerificationError):
            trailseal.verify_inclusion(p, leaf=led.get((i + 1) % 13))
        with pytest.raises(trailseal.VerificationError):
            trailseal.verify_inclusion(p, leaf=led.get_json((i + 1) % 13))
    with pytest.raises(trailseal.VerificationError):
        trailseal.verify_inclusion(led.prove_inclusion(0), leaf="not the leaf")
    with pytest.raises(TypeError):
        trailseal.verify_inclusion(led.prove_inclusion(0), leaf=12345)  # type: ignore[arg-type]
    p7 = led.prove_inclusion(3, 7)
    assert (p7["tree_size"], p7["root"]) == (7, led.root(7))
    for old in range(14):
        c = led.prove_consistency(old)
        assert (c["old_root"], c["new_root"]) == (led.root(old), led.root())
        trailseal.verify_consistency(c)
    with pytest.raises(trailseal.OutOfRangeError):
        led.prove_inclusion(13)
    with pytest.raises(trailseal.OutOfRangeError):
        led.prove_consistency(5, 4)
    with pytest.raises(trailseal.OutOfRangeError):
        led.root(14)


def test_a_proof_path_of_the_wrong_length_does_not_verify(ledger_path: Path) -> None:
    """A path cut or padded by one hash, or a consistency proof with old_size off by one, is a
    proof that fails (as in Go's tlog), not input that fails to parse."""
    led = trailseal.Ledger.create(ledger_path, origin="o", hash="sha256")
    led.append_batch([make_entry(i) for i in range(13)])
    p = led.prove_inclusion(3)
    assert len(p["path"]) >= 2
    for path in (p["path"][:-1], p["path"] + [p["path"][0]]):
        with pytest.raises(trailseal.VerificationError):
            trailseal.verify_inclusion(dict(p, path=path))
        with pytest.raises(trailseal.VerificationError):
            trailseal.verify_inclusion(dict(p, path=path), leaf=led.get_json(3))
    c = led.prove_consistency(5)
    trailseal.verify_consistency(c)
    for bad in (dict(c, old_size=6), dict(c, path=c["path"][:-1]), dict(c, path=c["path"] + [c["path"][0]])):
        with pytest.raises(trailseal.VerificationError):
            trailseal.verify_consistency(bad)


def test_a_recorded_verifier_key_refuses_another_signer(ledger_path: Path) -> None:
    signer = trailseal.Signer.from_seed("example.com/audit", bytes(32))
    other = trailseal.Signer.from_seed("example.com/audit", bytes([1] * 32))
    led = trailseal.Ledger.create(ledger_path, origin="example.com/audit", verifier_key=signer.verifier_key)
    assert led.verifier_key == signer.verifier_key
    led.append_batch([make_entry(i) for i in range(3)])
    with pytest.raises(trailseal.InvalidArgumentError):
        led.checkpoint(other)
    with pytest.raises(trailseal.InvalidArgumentError):
        led.bundle(indexes=[0], signer=other)
    assert led.checkpoints() == []  # nothing kept
    note = led.checkpoint(signer)
    assert trailseal.verify_checkpoint(note, signer.verifier_key).size == 3
    assert [c["size"] for c in led.checkpoints()] == [3]
    with pytest.raises(AttributeError):
        led.verifier_key = other.verifier_key  # type: ignore[misc]
    led.close()
    with trailseal.Ledger.open(ledger_path) as again:
        assert again.verifier_key == signer.verifier_key
        with pytest.raises(trailseal.InvalidArgumentError):
            again.checkpoint(other, size=2)
        assert [c["size"] for c in again.checkpoints()] == [3]
    with pytest.raises(trailseal.MalformedError):
        trailseal.Ledger.create(ledger_path.with_name("bad.redb"), origin="o", verifier_key="not a key")
    assert not ledger_path.with_name("bad.redb").exists()


def test_proofs_against_a_signed_checkpoint(ledger_path: Path) -> None:
    """verify_inclusion / verify_consistency with checkpoint= and verifier_key=, as the
    command's `verify-proof --checkpoint --vkey`."""
    led = trailseal.Ledger.create(ledger_path, origin="example.com/audit", hash="sha256")
    signer = trailseal.Signer.from_seed("example.com/audit", bytes(32))
    vkey = signer.verifier_key
    led.append_batch([make_entry(i) for i in range(9)])
    note6 = led.checkpoint(signer, size=6)
    note9 = led.checkpoint(signer)
    # inclusion: the proof must be for the checkpoint's tree (size and root)
    trailseal.verify_inclusion(led.prove_inclusion(4, 6), leaf=led.get_json(4), checkpoint=note6, verifier_key=vkey)
    trailseal.verify_inclusion(led.prove_inclusion(4), checkpoint=note9, verifier_key=vkey)
    with pytest.raises(trailseal.VerificationError):
        trailseal.verify_inclusion(led.prove_inclusion(4), checkpoint=note6, verifier_key=vkey)
    # consistency: either end may be the checkpoint's tree, but one must be
    c = led.prove_consistency(6)
    trailseal.verify_consistency(c, checkpoint=note6, verifier_key=vkey)
    trailseal.verify_consistency(c, checkpoint=note9, verifier_key=vkey)
    with pytest.raises(trailseal.VerificationError):
        trailseal.verify_consistency(led.prove_consistency(3, 5), checkpoint=note9, verifier_key=vkey)
    # the note is checked too: another key, a changed note, half the pair
    other = trailseal.Signer.from_seed("example.com/audit", bytes([1] * 32)).verifier_key
    with pytest.raises(trailseal.VerificationError):
        trailseal.verify_inclusion(led.prove_inclusion(4), checkpoint=note9, verifier_key=other)
    with pytest.raises(trailseal.VerificationError):
        trailseal.verify_consistency(c, checkpoint=note9.replace("\n9\n", "\n8\n"), verifier_key=vkey)
    with pytest.raises(trailseal.InvalidArgumentError):
        trailseal.verify_inclusion(led.prove_inclusion(4), checkpoint=note9)
    with pytest.raises(trailseal.InvalidArgumentError):
        trailseal.verify_consistency(c, verifier_key=vkey)


def test_signer_keys() -> None:
    s = trailseal.Signer.generate("example.com/audit")
    assert s.name == "example.com/audit"
    skey = s.to_string_private()
    assert skey.startswith("PRIVATE+KEY+example.com/audit+")
    secret = skey.split("+", 4)[4]
    for shown in (str(s), repr(s)):
        assert secret not in shown and "PRIVATE" not in shown
    assert str(s) == f"example.com/audit+{s.key_hash:08x}"
    back = trailseal.Signer.from_string(skey + "\n")
    assert back.verifier_key == s.verifier_key
    assert s.verifier_key.startswith(f"example.com/audit+{s.key_hash:08x}+")
    assert trailseal.Signer.generate("example.com/audit").verifier_key != s.verifier_key
    with pytest.raises(trailseal.MalformedError):
        trailseal.Signer.generate("has space")
    with pytest.raises(trailseal.MalformedError):
        trailseal.Signer.from_string(s.verifier_key)
    with pytest.raises(trailseal.InvalidArgumentError):
        trailseal.Signer.from_seed("n", b"short")


def test_checkpoints_and_full_verify(ledger_path: Path) -> None:
    led = trailseal.Ledger.create(ledger_path, origin="example.com/audit", hash="sha256")
    signer = trailseal.Signer.generate("example.com/audit")
    led.append_batch([make_entry(i) for i in range(10)])
    note5 = led.checkpoint(signer, size=5)
    note = led.checkpoint(signer)
    cp = trailseal.verify_checkpoint(note, signer.verifier_key)
    assert (cp.origin, cp.size, cp.root, cp.extensions) == ("example.com/audit", 10, led.root(), [])
    assert trailseal.verify_checkpoint(note5, signer.verifier_key).root == led.root(5)
    assert note.startswith(cp.to_body() + "\n— example.com/audit ")
    assert "Checkpoint(origin=" in repr(cp)
    assert led.checkpoints() == [
        {"size": 5, "note": note5, "verifier_key": signer.verifier_key},
        {"size": 10, "note": note, "verifier_key": signer.verifier_key},
    ]

    report = led.verify()
    assert report == {
        "ok": True,
        "size": 10,
        "root": led.root(),
        "nodes_checked": report["nodes_checked"],
        "checkpoints_checked": 2,
        "cosignatures_checked": 0,
        "witnessed_size": None,
        "consistent_with_checkpoint": None,
        "postings_checked": report["postings_checked"],
        "indexes_checked": False,
    }
    # Node hashes are stored a complete 64-leaf tile at a time: under 64 entries there are
    # none to compare (the recomputed root is checked against the stored one instead).
    assert report["nodes_checked"] == 0
    # Under 64 entries, every entry is in the query indexes' unindexed tail (queries read
    # those entries directly): no stored postings to check yet.
    assert report["postings_checked"] == 0
    # indexes=True also checks every posting against its entry: the same report otherwise.
    assert led.verify(indexes=True) == {**report, "indexes_checked": True}
    led.append(make_entry(10))
    deep = led.verify(checkpoint=note, verifier_key=signer.verifier_key, indexes=True)
    assert (deep["consistent_with_checkpoint"], deep["indexes_checked"]) == (10, True)
    assert deep["postings_checked"] == 0
    assert led.verify(checkpoint=note, verifier_key=signer.verifier_key)["indexes_checked"] is False
    with pytest.raises(TypeError):
        led.verify(indexes="yes")  # type: ignore[arg-type]

    with pytest.raises(trailseal.InvalidArgumentError):
        led.verify(checkpoint=note)
    with pytest.raises(trailseal.OutOfRangeError):
        led.checkpoint(signer, size=99)
    other = trailseal.Signer.generate("example.com/audit")
    with pytest.raises(trailseal.VerificationError):
        led.verify(checkpoint=note, verifier_key=other.verifier_key)

    # A fork: the same origin with other content, checked against our checkpoint.
    fork = trailseal.Ledger.create(ledger_path.with_name("fork.redb"), origin="example.com/audit", hash="sha256")
    fork.append_batch([make_entry(100 + i) for i in range(12)])
    with pytest.raises(trailseal.InconsistentError):
        fork.verify(checkpoint=note, verifier_key=signer.verifier_key)
    # A rollback: fewer entries than the checkpoint commits to.
    short = trailseal.Ledger.create(ledger_path.with_name("short.redb"), origin="example.com/audit", hash="sha256")
    with pytest.raises(trailseal.InconsistentError):
        short.verify(checkpoint=note, verifier_key=signer.verifier_key)


def test_checkpoint_objects_sign_and_refuse_bad_fields() -> None:
    s = trailseal.Signer.from_seed("example.com/log", bytes(range(32)))
    cp = trailseal.Checkpoint("example.com/log", 3, "ab" * 32, ["ext one"])
    note = cp.sign(s)
    assert trailseal.verify_checkpoint(note, s.verifier_key) == cp
    assert cp.to_body().endswith("\next one\n")
    assert cp.to_dict() == {"origin": "example.com/log", "size": 3, "root": "ab" * 32, "extensions": ["ext one"]}
    with pytest.raises(trailseal.MalformedError):
        trailseal.Checkpoint("a\nb", 1, "00" * 32).sign(s)
    with pytest.raises(trailseal.MalformedError):
        trailseal.Checkpoint("o", 1, "zz")


def test_durability_opt_out_and_sync(ledger_path: Path) -> None:
    led = trailseal.Ledger.create(ledger_path, origin="o", durable=False)
    led.append_batch([make_entry(i) for i in range(50)])
    led.sync()
    root = led.root()
    led.close()
    led = trailseal.Ledger.open(ledger_path, durable=False)
    led.append(make_entry(50))
    led.sync()
    led.close()
    with trailseal.Ledger.open(ledger_path) as again:
        assert len(again) == 51 and again.root(50) == root
        again.verify()


def test_close_and_context_manager(ledger_path: Path) -> None:
    with trailseal.Ledger.create(ledger_path, origin="o") as led:
        led.append(make_entry(0))
        assert not led.closed
    assert led.closed and "closed" in repr(led)
    # Metadata stays readable; every call raises a clear error.
    assert led.origin == "o"
    calls = [
        lambda: len(led),
        lambda: led.append(make_entry(1)),
        lambda: led.get(0),
        lambda: led.root(),
        lambda: led.prove_inclusion(0),
        lambda: led.verify(),
        lambda: led.sync(),
        lambda: led.checkpoints(),
        lambda: led.get_json(0),
        lambda: led.gate("release:1", {"min_approvals": 1}),
        lambda: led.bundle(indexes=[0], signer=trailseal.Signer.generate("o")),
        lambda: led.report(),
    ]
    for call in calls:
        with pytest.raises(trailseal.ClosedError, match="the ledger is closed") as info:
            call()
        assert (info.value.code, info.value.status) == ("closed", 17)
    led.close()  # closing twice is fine
    # The file was released: it opens again at once, even while an exception unwinds a with.
    with pytest.raises(RuntimeError):
        with trailseal.Ledger.open(ledger_path) as led2:
            raise RuntimeError("boom")
    assert led2.closed
    with trailseal.Ledger.open(ledger_path) as led3:
        assert len(led3) == 1


HOLDER = textwrap.dedent(
    """
    import sys, time, trailseal
    led = trailseal.Ledger.open(sys.argv[1], share="exclusive")
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    led.close()
    """
)


def test_locked_by_another_process_and_wait(ledger_path: Path) -> None:
    trailseal.Ledger.create(ledger_path, origin="o").close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(ledger_path), "1.5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(trailseal.LedgerLockedError) as e:
            trailseal.Ledger.open(ledger_path, share="exclusive")
        assert e.value.code == "locked" and e.value.status == 13
        start = time.monotonic()
        with pytest.raises(trailseal.LedgerLockedError):
            trailseal.Ledger.open(ledger_path, wait=0.2, share="exclusive")
        assert time.monotonic() - start >= 0.15
        with trailseal.Ledger.open(ledger_path, wait=30, share="exclusive") as led:
            assert len(led) == 0 and led.sharing == "exclusive"
    finally:
        holder.wait(timeout=30)
    with pytest.raises(trailseal.InvalidArgumentError):
        trailseal.Ledger.open(ledger_path, wait=-1)


def test_two_default_handles_append_and_follow_each_other(ledger_path: Path) -> None:
    with trailseal.Ledger.create(ledger_path, origin="o") as a, trailseal.Ledger.open(
        ledger_path
    ) as b:
        assert (a.sharing, b.sharing) == ("auto", "auto")
        # b found the file held by a and asked: both have it shared now.
        assert (a.sharing_now, b.sharing_now) == ("multi-writer", "multi-writer")
        assert a.append(make_entry(0)).index == 0
        assert b.append(make_entry(1)).index == 1
        assert a.append(make_entry(2)).index == 2
        assert len(a) == len(b) == 3
        assert a.get(1) == b.get(1) and b.get(2) == a.get(2)
        assert a.root() == b.root()


def test_a_read_only_handle_reads_beside_a_writer_and_refuses_writes(ledger_path: Path) -> None:
    with trailseal.Ledger.create(ledger_path, origin="o") as w:
        w.append(make_entry(0))
        with trailseal.Ledger.open(ledger_path, read_only=True) as r:
            assert r.read_only and not w.read_only
            assert len(r) == 1
            w.append(make_entry(1))
            assert len(r) == 2 and r.get(1) == w.get(1)
            with pytest.raises(trailseal.InvalidArgumentError, match="read-only"):
                r.append(make_entry(2))
            with pytest.raises(trailseal.InvalidArgumentError):
                r.sync()
            with pytest.raises(trailseal.InvalidArgumentError):
                r.checkpoint(trailseal.Signer.generate("o"))
        assert len(w) == 2


def test_sharing_modes_by_name_and_refused_ones(ledger_path: Path) -> None:
    with trailseal.Ledger.create(ledger_path, origin="o", share="single-writer") as led:
        assert led.sharing == "single-writer"
    with trailseal.Ledger.open(ledger_path, share="single_writer") as led:  # type: ignore[arg-type]
        assert led.sharing == "single-writer"
    with trailseal.Ledger.open(ledger_path, durable=False) as led:
        assert led.sharing == "exclusive"
    with pytest.raises(trailseal.MalformedError, match="shared"):
        trailseal.Ledger.open(ledger_path, share="shared")  # type: ignore[arg-type]
    with pytest.raises(trailseal.InvalidArgumentError):
        trailseal.Ledger.open(ledger_path, durable=False, share="multi-writer")
