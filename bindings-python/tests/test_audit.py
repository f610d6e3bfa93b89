"""Release gates, evidence bundles and the approvals report (issue 6, questions 4 to 6), asked
of the example delivery history (`examples/history.sh`, read as core/tests/audit.rs reads it)
with exact expected answers, and checked against the `trailseal` command's JSON."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest

import trailseal
from conftest import REPO

ORIGIN = "example.com/payments/audit"
POLICY_FILE = REPO / "examples" / "release-gate.json"


def history() -> List[Dict[str, Any]]:
    """The entries `examples/history.sh` records: every line of it that starts with `{`."""
    text = (REPO / "examples" / "history.sh").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


POLICY: Dict[str, Any] = json.loads(POLICY_FILE.read_text(encoding="utf-8"))


@pytest.fixture
def led(ledger_path: Path) -> trailseal.Ledger:
    led = trailseal.Ledger.create(ledger_path, origin=ORIGIN, hash="sha256")
    assert len(led.append_batch(history())) == 27
    return led


@pytest.fixture
def signer() -> trailseal.Signer:
    return trailseal.Signer.from_seed(ORIGIN, bytes([7] * 32))


def test_the_history_is_the_script() -> None:
    h = history()
    assert len(h) == 27
    assert h[0]["action"] == "policy.published" and h[19]["action"] == "deploy.rolled_back"
    assert h[0]["payload"]["gate"] == POLICY


# --- 4. "Was this release allowed to ship?" ---------------------------------------------------

GATE_2026_11_2 = {"passed": True, "requirements": [
    {"name": "min_approvals", "met": True, "evidence": [7, 8]},
    {"name": "forbid_self_approval", "met": True, "evidence": [2, 3, 6]},
    {"name": "test.passed", "met": True, "evidence": [4]},
    {"name": "scan.passed", "met": True, "evidence": [5]},
]}
# dave (a developer) approved too: his approval does not count, and is no violation.
GATE_2026_11_3 = {"passed": True, "requirements": [
    {"name": "min_approvals", "met": True, "evidence": [16, 17]},
    {"name": "forbid_self_approval", "met": True, "evidence": [10, 11, 14]},
    {"name": "test.passed", "met": True, "evidence": [12]},
    {"name": "scan.passed", "met": True, "evidence": [13]},
]}
# alice requested 2026.11.4 and approved it herself; nobody scanned it.
GATE_2026_11_4 = {"passed": False, "requirements": [
    {"name": "min_approvals", "met": False, "evidence": [26]},
    {"name": "forbid_self_approval", "met": False, "evidence": [20, 21, 24, 25]},
    {"name": "test.passed", "met": True, "evidence": [23]},
    {"name": "scan.passed", "met": False, "evidence": []},
]}


def test_gate_the_three_releases(led: trailseal.Ledger) -> None:
    assert led.gate("release:2026.11.2", POLICY) == GATE_2026_11_2
    assert led.gate("release:2026.11.3", POLICY) == GATE_2026_11_3
    assert led.gate("release:2026.11.4", POLICY) == GATE_2026_11_4
    # The policy file's text works as well as the dict.
    assert led.gate("release:2026.11.3", POLICY_FILE.read_text()) == GATE_2026_11_3


def test_gate_requirements_missed_one_by_one(led: trailseal.Ledger) -> None:
    def met(subject: str, policy: Dict[str, Any]) -> List[Any]:
        return [(r["name"], r["met"], r["evidence"]) for r in led.gate(subject, policy)["requirements"]]

    three = {"min_approvals": 3, "approver_roles": ["release-manager", "sre"]}
    assert met("release:2026.11.2", three) == [
        ("min_approvals", False, [7, 8]),
        ("forbid_self_approval", True, [2, 3, 6]),
    ]
    only_rm = {"min_approvals": 2, "approver_roles": ["release-manager"]}
    assert met("release:2026.11.3", only_rm)[0] == ("min_approvals", False, [16])
    lax = {"min_approvals": 2, "approver_roles": ["release-manager"], "forbid_self_approval": False,
           "require": ["test.passed"]}
    assert led.gate("release:2026.11.4", lax) == {"passed": True, "requirements": [
        {"name": "min_approvals", "met": True, "evidence": [25, 26]},
        {"name": "test.passed", "met": True, "evidence": [23]},
    ]}
    nothing = led.gate("release:1999.1.1", POLICY)
    assert nothing["passed"] is False
    assert [(r["met"], r["evidence"]) for r in nothing["requirements"]] == [
        (False, []), (True, []), (False, []), (False, []),
    ]


def test_gate_refuses_bad_policies_and_subjects(led: trailseal.Ledger) -> None:
    for bad in (
        {"min_approval": 2},  # a typo must not weaken a gate
        {"forbid_self_approval": False},  # requires nothing
        {"require": ["a", "a"]},
        {"min_approvals": -1},
        '{"min_approvals": 1, "min_approvals": 2}',
        "not json",
    ):
        with pytest.raises(trailseal.MalformedError):
            led.gate("release:2026.11.3", bad)
    with pytest.raises(trailseal.MalformedError):
        led.gate("no-colon", POLICY)
    with pytest.raises(TypeError):
        led.gate("release:2026.11.3", POLICY_FILE)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        led.gate("release:2026.11.3", [POLICY])  # type: ignore[arg-type]


def test_record_gate_and_evaluate_again_unchanged(led: trailseal.Ledger) -> None:
    normalized = {"min_approvals": 2, "approver_roles": ["release-manager", "sre"],
                  "forbid_self_approval": True, "require": ["test.passed", "scan.passed"]}
    # RFC 8785 canonical JSON of this policy is sorted compact JSON.
    digest = "sha256:" + hashlib.sha256(
        json.dumps(normalized, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    for subject, index in (("release:2026.11.3", 27), ("release:2026.11.4", 28)):
        before = led.gate(subject, POLICY)
        receipt = led.record_gate(subject, POLICY, before, "release-gate-bot")
        assert isinstance(receipt, trailseal.Receipt) and receipt.index == index
        e = led.get(index)
        assert e["action"] == ("gate.passed" if before["passed"] else "gate.failed")
        assert e["subject"] == {"type": "release", "id": subject.split(":", 1)[1]}
        assert e["actor"] == {"id": "release-gate-bot"}
        assert e["attrs"] == {"policy_digest": digest}
        assert e["payload"] == {"policy": normalized, "result": before}
        assert e["links"] == [
            {"rel": r["name"], "index": i} for r in before["requirements"] for i in r["evidence"]
        ]
        # The gate entry judges the change rather than being part of it.
        assert led.gate(subject, POLICY) == before
    assert [f["index"] for f in led.query(attrs={"policy_digest": digest})["entries"]] == [28, 27]
    assert led.get(27)["action"] == "gate.passed" and led.get(28)["action"] == "gate.failed"


def test_record_gate_refuses_a_result_that_is_not_the_ledgers(led: trailseal.Ledger) -> None:
    subject = "release:2026.11.4"
    failed = led.gate(subject, POLICY)
    forged = dict(failed, passed=True)
    with pytest.raises(trailseal.InconsistentError):
        led.record_gate(subject, POLICY, forged, "mallory")
    # the result of another subject, or of another policy
    with pytest.raises(trailseal.InconsistentError):
        led.record_gate(subject, POLICY, GATE_2026_11_3, "mallory")
    with pytest.raises(trailseal.InconsistentError):
        led.record_gate(subject, {"min_approvals": 1}, failed, "mallory")
    # stale: the missing scan arrives after the evaluation
    led.append({"actor": {"id": "scanner-bot"}, "action": "scan.passed",
                "subject": {"type": "release", "id": "2026.11.4"}})
    with pytest.raises(trailseal.InconsistentError):
        led.record_gate(subject, POLICY, failed, "release-gate-bot")
    assert len(led) == 28  # nothing recorded
    now = led.gate(subject, POLICY)
    assert now["requirements"][3] == {"name": "scan.passed", "met": True, "evidence": [27]}
    # its JSON text is a result too
    r = led.record_gate(subject, json.dumps(POLICY), json.dumps(now), "release-gate-bot")
    assert r.index == 28 and led.get(28)["action"] == "gate.failed"
    with pytest.raises(trailseal.MalformedError):
        led.record_gate(subject, POLICY, "{not json", "release-gate-bot")
    with pytest.raises(trailseal.InvalidEntryError):
        led.record_gate(subject, POLICY, led.gate(subject, POLICY), "")


# --- 5. "Give me the evidence, so I can check it without your system." -------------------------


def indexes_of(report: Dict[str, Any]) -> List[int]:
    return [e["index"] for e in report["entries"]]


def test_bundle_of_a_subject_verifies_without_the_ledger(
    led: trailseal.Ledger, signer: trailseal.Signer
) -> None:
    text = led.bundle(subject="release:2026.11.3", signer=signer)
    assert isinstance(text, str) and text.startswith('{\n  "format": "trailseal-bundle/1",\n')
    root = led.root()
    entries = {i: led.get(i) for i in range(12, 18)}
    leaves = {i: led.get_json(i) for i in range(12, 18)}
    # The bundle signed a fresh checkpoint of the whole tree and kept it.
    assert [c["size"] for c in led.checkpoints()] == [27]
    led.close()

    report = trailseal.verify_bundle(text, signer.verifier_key)
    assert report == {
        "ok": True,
        "origin": ORIGIN,
        "hash": "sha256",
        "tree_size": 27,
        "root": root,
        "key_name": ORIGIN,
        "entries": [{"index": i, "entry": entries[i]} for i in range(12, 18)],
    }
    assert report["entries"][2]["entry"]["action"] == "release.requested"
    # Each entry's line holds its exact leaf text; bytes are accepted as well as text.
    for leaf in leaves.values():
        assert '      "entry": ' + leaf + "\n" in text
    assert trailseal.verify_bundle(text.encode(), signer.verifier_key) == report
    other = trailseal.Signer.from_seed(ORIGIN, bytes([8] * 32))
    with pytest.raises(trailseal.VerificationError):
        trailseal.verify_bundle(text, other.verifier_key)
    with pytest.raises(trailseal.MalformedError):
        trailseal.verify_bundle(text, "not a key")
    with pytest.raises(trailseal.MalformedError):
        trailseal.verify_bundle(text.encode()[:-3] + b"\xff\n", signer.verifier_key)
    with pytest.raises(TypeError):
        trailseal.verify_bundle(json.loads(text), signer.verifier_key)  # type: ignore[arg-type]


def test_one_changed_character_anywhere_is_refused(
    led: trailseal.Ledger, signer: trailseal.Signer
) -> None:
    text = led.bundle(indexes=[23, 26], signer=signer)
    vkey = signer.verifier_key
    assert indexes_of(trailseal.verify_bundle(text, vkey)) == [23, 26]
    # The example: one digit of an entry's time, an approver's name, the tree size.
    for old, new in (('"2026-11-', '"2026-12-'), ('"bob"', '"bot"'), ('"tree_size": 27', '"tree_size": 26')):
        assert old in text
        with pytest.raises(trailseal.VerificationError):
            trailseal.verify_bundle(text.replace(old, new, 1), vkey)
    # And every character of the file, each changed once.
    caught = 0
    for at, c in enumerate(text):
        changed = text[:at] + chr(ord(c) ^ 1) + text[at + 1:]
        with pytest.raises((trailseal.VerificationError, trailseal.MalformedError)):
            trailseal.verify_bundle(changed, vkey)
        caught += 1
    assert caught == len(text) > 1500
    for extra in (text + "\n", text.replace("\n", "\r\n"), text[:-1], " " + text):
        with pytest.raises((trailseal.VerificationError, trailseal.MalformedError)):
            trailseal.verify_bundle(extra, vkey)


def test_bundles_of_a_trace_a_query_and_against_an_earlier_checkpoint(
    led: trailseal.Ledger, signer: trailseal.Signer
) -> None:
    vkey = signer.verifier_key

    def bundled(**how: Any) -> List[int]:
        return indexes_of(trailseal.verify_bundle(led.bundle(**how), vkey))

    assert bundled(index=18, signer=signer) == [0, 10, 11, 14, 16, 17, 18]
    assert bundled(index=10, forward=True, signer=signer) == [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 22, 24, 25, 26]
    assert bundled(query={"action": "deploy.succeeded"}, signer=signer) == [9, 18, 22]
    assert bundled(query={"action": "deploy.succeeded", "limit": 1}, signer=signer) == [22]
    assert bundled(query='{"decision": "break_glass"}', signer=signer) == [22]
    assert bundled(query={"via": "alice", "order": "oldest"}, signer=signer) == [11, 21]
    # Against a checkpoint signed earlier, at size 20: entries after it are refused.
    note = led.checkpoint(signer, size=20)
    kept = len(led.checkpoints())
    early = trailseal.verify_bundle(
        led.bundle(indexes=[19, 3], checkpoint=note, verifier_key=vkey), vkey
    )
    assert (early["tree_size"], indexes_of(early)) == (20, [3, 19])
    assert early["root"] == led.root(20)
    assert len(led.checkpoints()) == kept  # nothing written
    with pytest.raises(trailseal.OutOfRangeError):
        led.bundle(indexes=[22], checkpoint=note, verifier_key=vkey)
    other_log = trailseal.Checkpoint("other.example/log", 20, "00" * 32).sign(signer)
    with pytest.raises(trailseal.InconsistentError):
        led.bundle(indexes=[3], checkpoint=other_log, verifier_key=vkey)
    other_key = trailseal.Signer.from_seed(ORIGIN, bytes([8] * 32)).verifier_key
    with pytest.raises(trailseal.VerificationError):
        led.bundle(indexes=[3], checkpoint=note, verifier_key=other_key)


def test_bundle_arguments_are_checked(led: trailseal.Ledger, signer: trailseal.Signer, ledger_path: Path) -> None:
    # The selection is the core's (`Selection::from_json`): one that does not say what to
    # bundle is malformed, as in every front end.
    for how in (
        {},  # nothing selected
        {"subject": "release:2026.11.3", "index": 3},  # two selections
        {"query": {"actor": "alice"}, "indexes": [1]},
        {"subject": "release:2026.11.3", "forward": True},  # forward goes with index
    ):
        with pytest.raises(trailseal.MalformedError):
            led.bundle(signer=signer, **how)
    for how in (
        {"query": {}},  # a query without a filter would bundle every entry
        {"query": "{}"},
        {"query": {"order": "oldest"}},
        {"subject": "release:none"},  # matches nothing
    ):
        with pytest.raises(trailseal.InvalidArgumentError):
            led.bundle(signer=signer, **how)
    assert led.checkpoints() == []  # a refused bundle signs nothing
    with pytest.raises(trailseal.InvalidArgumentError):
        led.bundle(subject="release:2026.11.3")  # no signer, no checkpoint
    note = led.checkpoint(signer)
    with pytest.raises(trailseal.InvalidArgumentError):
        led.bundle(subject="release:2026.11.3", signer=signer, checkpoint=note, verifier_key=signer.verifier_key)
    with pytest.raises(trailseal.InvalidArgumentError):
        led.bundle(subject="release:2026.11.3", checkpoint=note)
    # An unknown query field is refused, not ignored (it would select every entry).
    with pytest.raises(trailseal.MalformedError):
        led.bundle(query={"actr": "alice"}, signer=signer)
    with pytest.raises(trailseal.MalformedError):
        led.bundle(subject="no-colon", signer=signer)
    with pytest.raises(trailseal.OutOfRangeError):
        led.bundle(indexes=[99], signer=signer)
    with pytest.raises(trailseal.OutOfRangeError):
        led.bundle(index=99, signer=signer)
    with pytest.raises(TypeError):
        led.bundle("release:2026.11.3", signer=signer)  # type: ignore[misc]
    raw = trailseal.Ledger.create(ledger_path.with_name("raw.redb"), origin=ORIGIN, raw=True)
    raw.append_raw(b"opaque")
    for call in (
        lambda: raw.bundle(indexes=[0], signer=signer),
        lambda: raw.gate("release:1", POLICY),
        lambda: raw.report(),
    ):
        with pytest.raises(trailseal.WrongKindError):
            call()


# --- 6. "Where do approvals wait?" ------------------------------------------------------------

REPORT = {
    "since": None,
    "approval_latency": {"waits": 7, "median_seconds": 5400, "p90_seconds": 86400},
    "waits": [
        {"subject": "release:2026.11.2", "request": 6, "approval": 7, "approver": "bob", "seconds": 3600},
        {"subject": "release:2026.11.2", "request": 6, "approval": 8, "approver": "carol", "seconds": 10800},
        {"subject": "release:2026.11.3", "request": 14, "approval": 15, "approver": "dave", "seconds": 1200},
        {"subject": "release:2026.11.3", "request": 14, "approval": 16, "approver": "bob", "seconds": 5400},
        {"subject": "release:2026.11.3", "request": 14, "approval": 17, "approver": "carol", "seconds": 86400},
        {"subject": "release:2026.11.4", "request": 24, "approval": 25, "approver": "alice", "seconds": 1800},
        {"subject": "release:2026.11.4", "request": 24, "approval": 26, "approver": "bob", "seconds": 14400},
    ],
    "approvals_by_approver": [
        {"approver": "bob", "approvals": 3},
        {"approver": "carol", "approvals": 2},
        {"approver": "alice", "approvals": 1},
        {"approver": "dana", "approvals": 1},
        {"approver": "dave", "approvals": 1},
    ],
    "weeks": [
        {"week": "2026-W44", "changes": 0, "break_glass": 0, "approvals": 1},
        {"week": "2026-W45", "changes": 1, "break_glass": 0, "approvals": 2},
        {"week": "2026-W46", "changes": 2, "break_glass": 1, "approvals": 3},
        {"week": "2026-W47", "changes": 0, "break_glass": 0, "approvals": 2},
    ],
}


def test_report_where_approvals_wait(led: trailseal.Ledger) -> None:
    assert led.report() == REPORT
    recent = led.report(since="2026-11-10T00:00:00Z")
    assert recent["since"] == "2026-11-10T00:00:00.000000000Z"
    assert recent["approval_latency"] == {"waits": 3, "median_seconds": 14400, "p90_seconds": 86400}
    assert recent["approvals_by_approver"] == [
        {"approver": "alice", "approvals": 1},
        {"approver": "bob", "approvals": 1},
        {"approver": "carol", "approvals": 1},
    ]
    assert recent["weeks"] == [
        {"week": "2026-W46", "changes": 2, "break_glass": 1, "approvals": 1},
        {"week": "2026-W47", "changes": 0, "break_glass": 0, "approvals": 2},
    ]
    # Rollbacks counted as changes too; no change action counts nothing.
    both = led.report(change_actions=["deploy.succeeded", "deploy.rolled_back"])
    assert [w["changes"] for w in both["weeks"]] == [0, 1, 3, 0]
    assert [w["changes"] for w in led.report(change_actions=[])["weeks"]] == [0, 0, 0, 0]
    # An even number of waits: the median is the mean of the middle two.
    late = led.report(since="2026-11-09T11:00:00Z")
    assert late["approval_latency"] == {"waits": 4, "median_seconds": 9900, "p90_seconds": 86400}
    future = led.report(since="2030-01-01T00:00:00Z")
    assert future["approval_latency"] == {"waits": 0, "median_seconds": None, "p90_seconds": None}
    assert future["weeks"] == [] and future["waits"] == []
    with pytest.raises(trailseal.MalformedError):
        led.report(since="last tuesday")
    with pytest.raises(TypeError):
        led.report(change_actions="deploy.succeeded")  # type: ignore[arg-type]


# --- the same answers as the command ---------------------------------------------------------


def run(cli: Path, *args: Any, status: int = 0) -> str:
    done = subprocess.run([str(cli), *map(str, args)], capture_output=True, text=True, timeout=300)
    assert done.returncode == status, (args, done.returncode, done.stderr)
    return done.stdout


def test_the_command_gives_the_same_answers(
    cli: Path, led: trailseal.Ledger, signer: trailseal.Signer, tmp_path: Path
) -> None:
    py_bundle = led.bundle(subject="release:2026.11.3", signer=signer)
    py_gate = {s: led.gate(s, POLICY) for s in ("release:2026.11.3", "release:2026.11.4")}
    py_report = led.report(since="2026-11-09T00:00:00Z")
    path = led.path
    led.close()
    key = tmp_path / "audit.key"
    key.write_text(signer.to_string_private() + "\n")
    key.chmod(0o600)  # the command refuses a key file others can read
    vkey = signer.verifier_key

    for subject, result in py_gate.items():
        out = run(cli, "gate", path, "--subject", subject, "--policy", POLICY_FILE, "--json",
                  status=0 if result["passed"] else 1)
        assert json.loads(out) == result
    assert json.loads(run(cli, "report", path, "--since", "2026-11-09T00:00:00Z", "--json")) == py_report

    # Python's bundle, checked by the command; the command's, checked by Python.
    (tmp_path / "py.json").write_bytes(py_bundle.encode())
    cli_report = json.loads(run(cli, "verify-bundle", tmp_path / "py.json", "--vkey", vkey, "--json"))
    assert cli_report == trailseal.verify_bundle(py_bundle, vkey)
    run(cli, "bundle", path, "--subject", "release:2026.11.3", "--key", key, "-o", tmp_path / "cli.json")
    cli_bundle = (tmp_path / "cli.json").read_bytes()
    assert trailseal.verify_bundle(cli_bundle, vkey) == cli_report
    changed = cli_bundle.replace(b'"bob"', b'"bop"', 1)
    assert changed != cli_bundle
    with pytest.raises(trailseal.VerificationError):
        trailseal.verify_bundle(changed, vkey)
