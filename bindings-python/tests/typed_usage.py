"""A typed program using trailseal; test_stubs.py checks it with `mypy --strict` and runs it."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

import trailseal


def record(led: trailseal.Ledger, actor: str, service: str) -> trailseal.Receipt:
    entry: Dict[str, Any] = {
        "actor": {"id": actor},
        "action": "deploy.succeeded",
        "subject": {"type": "service", "id": service},
    }
    return led.append(entry)


def main(directory: Path) -> int:
    signer: trailseal.Signer = trailseal.Signer.generate("example.com/typed")
    with trailseal.Ledger.create(
        directory / "t.redb", origin="example.com/typed", hash="sha256", verifier_key=signer.verifier_key
    ) as led:
        recorded_key: Optional[str] = led.verifier_key
        assert recorded_key == signer.verifier_key
        r = record(led, "alice", "payments-api")
        index: int = r.index
        root: str = r.root
        when: Optional[str] = r.time
        batch: List[trailseal.Receipt] = led.append_batch([{"actor": {"id": "bob"}, "action": "a.b", "subject": {"type": "t", "id": "i"}}])
        proof = led.prove_inclusion(index)
        path: List[str] = proof["path"]
        size: int = proof["tree_size"]
        trailseal.verify_inclusion(proof, leaf=led.get(index))
        trailseal.verify_consistency(led.prove_consistency(1))
        note: str = led.checkpoint(signer)
        cp: trailseal.Checkpoint = trailseal.verify_checkpoint(note, signer.verifier_key)
        report = led.verify(checkpoint=note, verifier_key=signer.verifier_key)
        external: Optional[int] = report["consistent_with_checkpoint"]
        checked: int = report["nodes_checked"] + report["checkpoints_checked"] + report["postings_checked"]
        deep: bool = led.verify(indexes=True)["indexes_checked"]
        trailseal.verify_inclusion(led.prove_inclusion(0, 2), leaf=led.get_json(0), checkpoint=note, verifier_key=signer.verifier_key)
        trailseal.verify_consistency(led.prove_consistency(1), checkpoint=note, verifier_key=signer.verifier_key)
        cp_origin: str = cp.to_dict()["origin"]
        gate = led.gate("t:i", {"require": ["a.b"], "forbid_self_approval": False})
        passed: bool = gate["passed"]
        evidence: List[int] = gate["requirements"][0]["evidence"]
        gated: trailseal.Receipt = led.record_gate("t:i", '{"require": ["a.b"], "forbid_self_approval": false}', gate, "gate-bot")
        text: str = led.bundle(subject="t:i", signer=signer)
        bundle = trailseal.verify_bundle(text, signer.verifier_key)
        bundled: List[int] = [e["index"] for e in bundle["entries"]]
        rep = led.report(since="2000-01-01T00:00:00Z", change_actions=["deploy.succeeded"])
        median: Optional[float] = rep["approval_latency"]["median_seconds"]
        weeks: List[str] = [w["week"] for w in rep["weeks"]]
        assert passed and evidence == [1] and gated.index == 2 and bundled == [1, 2]
        assert median is None and len(weeks) == 1 and checked >= 1 and cp_origin == "example.com/typed"
        kept: int = led.checkpoints()[0]["size"]
        hash_name: str = led.hash
        page = led.query(actor="alice", order="oldest", limit=10)
        found: List[int] = [f["index"] for f in page["entries"]]
        cursor: Optional[str] = page["next_cursor"]
        traced: List[int] = [node["index"] for node in led.trace(index)["nodes"]]
        policy = led.why(index)["policy"]
        assert found == [0] and cursor is None and traced == [0] and policy is None
        n: int = len(led)
        with trailseal.Ledger.open(directory / "t.redb", share="multi-writer", read_only=True) as reader:
            mode: str = reader.sharing
            assert reader.read_only and mode == "multi-writer" and len(reader) == n
        try:
            led.get(99)
        except trailseal.OutOfRangeError as e:
            code: str = e.code
            status: int = e.status
            assert (code, status) == ("out_of_range", 7)
        except trailseal.TrailsealError:
            return 1
        assert root and when and batch and path is not None and size == 2
        assert cp.size == 2 and n == 3 and external == 2 and kept == 2 and hash_name == "sha256"
    with trailseal.Ledger.open(directory / "t.redb", wait=1.0, durable=False) as again:
        again.sync()
        raw: bytes = again.get_raw(0)
        assert raw.startswith(b"{")
    return capture(directory)


def capture(directory: Path) -> int:
    env: Dict[str, str] = {
        "GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octocat", "GITHUB_REPOSITORY": "octo-org/api",
        "GITHUB_RUN_ID": "1658821493", "GITHUB_SHA": "ffac537e6cbbf934b08745a378932722df287a53",
        "GITHUB_JOB": "build",
    }
    ctx = trailseal.detect_ci(env)
    system: str = ctx["system"]
    commit: Optional[str] = ctx["commit"]
    extra: Dict[str, str] = ctx["extra"]
    with trailseal.Ledger.create(directory / "c.redb", origin="example.com/capture") as led:
        rec = led.record_ci("build.succeeded", attrs={"suite": "unit"}, refs=[("artifact", "oci:sha256:ab")], payload={"ok": True}, env=env)
        again: bool = led.record_ci("build.succeeded", attrs={"suite": "unit"}, refs={"artifact": "oci:sha256:ab"}, payload={"ok": True}, env=env)["already_recorded"]
        first: int = rec["index"]
        event = '{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "a", "digest": {"sha256": "ab"}}], "predicateType": "https://example.com/p", "predicate": {}}'
        imported: List[trailseal.Receipt] = led.import_events("intoto", event.encode())
        try:
            report = led.import_git(directory / "no-repo", progress=lambda done, total: None, batch=10)
            recorded: int = report["recorded"]
        except trailseal.InvalidArgumentError:
            recorded = 0
        assert system == "github-actions" and commit and not extra and again and first == 0
        assert imported[0].index == 1 and recorded == 0
    return 0


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        sys.exit(main(Path(d)))
