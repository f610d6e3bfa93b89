"""query, trace and why: the auditor's questions, one call each."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest

import trailseal

HISTORY: List[Dict[str, Any]] = [
    {"id": "git:abc", "actor": {"id": "alice"}, "action": "commit.pushed",
     "subject": {"type": "commit", "id": "abc"}},
    {"actor": {"id": "ci", "via": ["alice"]}, "action": "build.succeeded",
     "subject": {"type": "artifact", "id": "api:1"},
     "links": [{"rel": "built_from", "ref": "git:abc"}]},
    {"actor": {"id": "carol"}, "action": "policy.published",
     "subject": {"type": "policy", "id": "two-person"}, "attrs": {"version": "3"},
     "payload": {"rule": "two approvers"}},
    {"actor": {"id": "dave"}, "action": "approval.granted",
     "subject": {"type": "policy", "id": "two-person"}, "attrs": {"version": "3"},
     "links": [{"rel": "approves", "index": 2}]},
    {"actor": {"id": "bob"}, "action": "approval.granted",
     "subject": {"type": "release", "id": "r1"}, "links": [{"rel": "evidence", "index": 1}],
     "authz": {"decision": "allow", "policy": "two-person", "policy_version": "3"}},
    {"actor": {"id": "bot"}, "action": "deploy.succeeded",
     "subject": {"type": "service", "id": "api"}, "links": [{"rel": "approved_by", "index": 4},
     {"rel": "ticket", "ref": "jira:OPS-1"}],
     "authz": {"decision": "break_glass", "policy": "freeze", "reason": "INC-1"},
     "attrs": {"env": "prod"}},
]


@pytest.fixture
def led(ledger_path: Path) -> trailseal.Ledger:
    led = trailseal.Ledger.create(ledger_path, origin="example.com/audit")
    led.append_batch(HISTORY)
    return led


def indexes(page: Any) -> List[int]:
    return [f["index"] for f in page["entries"]]


def test_query_filters_and_pages(led: trailseal.Ledger) -> None:
    page = led.query(decision="break_glass")
    assert indexes(page) == [5] and page["next_cursor"] is None
    assert page["entries"][0]["entry"] == led.get(5)
    assert indexes(led.query(actor="alice")) == [0]
    assert indexes(led.query(via="alice")) == [1]
    assert indexes(led.query(action="approval.granted")) == [4, 3]
    assert indexes(led.query(action="approval.granted", order="oldest")) == [3, 4]
    assert indexes(led.query(subject="artifact:api:1")) == [1]
    assert indexes(led.query(attrs={"env": "prod"})) == [5]
    assert indexes(led.query(refs=["git:abc"])) == [1]
    assert indexes(led.query(links_to=4)) == [5]
    assert indexes(led.query(policy="two-person", action="approval.granted")) == [4]
    t = led.get(3)["time"]
    assert indexes(led.query(since=t, order="oldest")) == [3, 4, 5]
    assert indexes(led.query(until=t, order="oldest")) == [0, 1, 2]
    assert indexes(led.query(actor="nobody")) == []

    first = led.query(order="oldest", limit=2)
    assert indexes(first) == [0, 1] and first["next_cursor"]
    rest = led.query(order="oldest", cursor=first["next_cursor"])
    assert indexes(rest) == [2, 3, 4, 5] and rest["next_cursor"] is None

    with pytest.raises(trailseal.MalformedError):
        led.query(subject="nocolon")
    with pytest.raises(trailseal.MalformedError):
        led.query(order="sideways")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        led.query(actr="alice")  # type: ignore[call-arg]


def test_trace_backward_and_forward(led: trailseal.Ledger) -> None:
    t = led.trace(5)
    assert t["root"] == 5
    assert [n["index"] for n in t["nodes"]] == [0, 1, 2, 4, 5]
    assert t["unresolved"] == ["jira:OPS-1"]
    node5 = next(n for n in t["nodes"] if n["index"] == 5)
    assert node5["entry"] == led.get(5) and 4 in node5["links"]
    fwd = led.trace(0, forward=True)
    assert [n["index"] for n in fwd["nodes"]] == [0, 1, 4, 5]
    with pytest.raises(trailseal.OutOfRangeError):
        led.trace(6)


def test_why(led: trailseal.Ledger) -> None:
    w = led.why(4)
    assert w["index"] == 4 and w["entry"] == led.get(4)
    assert w["authz"] == HISTORY[4]["authz"]
    assert w["policy"] is not None and w["policy"]["index"] == 2
    assert [a["index"] for a in w["approvals"]] == [3]
    w5 = led.why(5)
    assert w5["authz"] is not None and w5["authz"]["decision"] == "break_glass"
    assert w5["policy"] is None and w5["approvals"] == []
    with pytest.raises(trailseal.OutOfRangeError):
        led.why(9)


def test_raw_ledgers_have_no_index(ledger_path: Path) -> None:
    raw = trailseal.Ledger.create(ledger_path, origin="o", raw=True)
    raw.append_raw(b"x")
    for call in (lambda: raw.query(), lambda: raw.trace(0), lambda: raw.why(0)):
        with pytest.raises(trailseal.WrongKindError):
            call()
