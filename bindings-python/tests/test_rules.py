"""Decisions as code from Python (docs/RULES.md): a realistic rules document published with its
approval, enforced on append with the rule named, refusals recorded when asked, versions read
back at any index, the dry run, and the delivery report. The rules are the core's; this checks
that the binding carries them whole (the shared case table checks the answers agree)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import pytest

import trailseal

from conftest import REPO

SOX: Dict[str, Any] = json.loads((REPO / "tests" / "rules" / "sox.json").read_text(encoding="utf-8"))


def test_rules_published_enforced_and_read_back(tmp_path: Path) -> None:
    with trailseal.Ledger.create(tmp_path / "l.redb", origin="example.com/rules") as led:
        assert led.rules_at() is None
        assert led.record_refusals is False
        ask = led.append(
            {"actor": {"id": "dana"}, "action": "policy.change.requested", "subject": {"type": "rules", "id": "sox"}}
        )
        r = led.publish_rules(
            SOX,
            "ciso",
            authz={"decision": "allow", "policy": "rules-change"},
            links=[{"rel": "approved_by", "index": ask.index}],
        )
        assert r.index == 1
        v = led.rules_at()
        assert v is not None
        assert (v["version"], v["published_by"], v["index"]) == ("sox-2026.1", "ciso", 1)
        assert v["authz"]["policy"] == "rules-change"
        assert v["links"] == [{"rel": "approved_by", "index": 0}]
        assert led.rules_at(1) is None, "a version governs the entries after it, not its own"
        assert [x["version"] for x in led.rules_versions()] == ["sox-2026.1"]

        # Broken: a change request without its ticket. Named, nothing written.
        with pytest.raises(trailseal.RuleViolationError) as e:
            led.append({"actor": {"id": "alice"}, "action": "change.requested", "subject": {"type": "chg", "id": "1"}})
        assert "change-request" in str(e.value) and "attrs.ticket" in str(e.value)
        assert "sox-2026.1" in str(e.value)
        assert len(led) == 2

        # Recorded when asked: the refusal is raised and an audit.refused entry written.
        led.record_refusals = True
        assert led.record_refusals is True
        with pytest.raises(trailseal.RuleViolationError):
            led.append({"actor": {"id": "mallory"}, "action": "change.requested", "subject": {"type": "chg", "id": "2"}})
        assert len(led) == 3
        refused = led.get(2)
        assert refused["action"] == "audit.refused"
        assert refused["attrs"]["class"] == "change-request"

        ok = led.append(
            {"actor": {"id": "alice"}, "action": "change.requested", "subject": {"type": "chg", "id": "3"},
             "attrs": {"ticket": "CHG-3"}}
        )
        assert ok.index == 3
        report = led.delivery_report(threshold=0.9)
        assert report["approval_concentration"]["threshold"] == 0.9
        with pytest.raises(trailseal.InvalidArgumentError):
            led.delivery_report(threshold=2.0)


def test_a_document_that_is_not_rules_is_refused_whole(tmp_path: Path) -> None:
    with trailseal.Ledger.create(tmp_path / "l.redb", origin="example.com/rules") as led:
        with pytest.raises(trailseal.MalformedError):
            led.publish_rules({"version": "x", "classes": [{"name": "c"}]}, "ciso")
        with pytest.raises(trailseal.MalformedError):
            led.publish_rules("{not json", "ciso")
        assert len(led) == 0


def test_check_rules_is_a_dry_run() -> None:
    entry = {"actor": {"id": "sam"}, "action": "deploy.succeeded", "subject": {"type": "svc", "id": "api"},
             "authz": {"decision": "break_glass", "policy": "cab", "policy_version": "3", "reason": "INC-7"},
             "change": {"before": "1", "after": "2"}}
    v = trailseal.check_rules(json.dumps(SOX), entry)
    assert v == {"version": "sox-2026.1", "class": "production-deploy", "break_glass": True,
                 "retention": "sox-7y", "ai_output": False}
    with pytest.raises(trailseal.RuleViolationError) as e:
        trailseal.check_rules(SOX, dict(entry, actor={"id": "alice"}))
    assert "break-glass" in str(e.value)
