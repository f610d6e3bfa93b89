"""Retention and legal hold from Python (SPEC section 8): rules recorded as an entry and read
back, a hold that keeps what it covers until released, and the plan of what retention allows.
The rules are the core's; the shared case table checks the answers agree across front ends."""

from __future__ import annotations

from pathlib import Path

import pytest

import trailseal

AUTHZ = {"decision": "allow", "policy": "records-schedule", "reason": "SOX 802"}


def test_rules_holds_and_the_plan(tmp_path: Path) -> None:
    with trailseal.Ledger.create(tmp_path / "l.redb", origin="example.com/retention") as led:
        assert led.retention_rules_at() is None
        r = led.publish_retention_rules(
            {"version": "sox-2026", "default": "P1Y", "rules": [{"action": "deploy.*", "keep": "P100Y"}]},
            "records-officer",
            AUTHZ,
        )
        v = led.retention_rules_at()
        assert v is not None and (v["index"], v["version"]) == (r.index, "sox-2026")
        assert v["rules"]["rules"][0]["keep"] == "P100Y"
        assert led.get(r.index)["authz"]["reason"] == "SOX 802"
        led.append_batch(
            [
                {"actor": {"id": "dave"}, "action": "deploy.succeeded", "subject": {"type": "svc", "id": "api"}},
                {"actor": {"id": "bob"}, "action": "access.granted", "subject": {"type": "db", "id": "payroll"}},
            ]
        )
        plan = led.retention_plan("2100-01-01T00:00:00Z")
        assert plan["eligible"] == [[2, 3]]
        assert plan["counts"]["in_retention"] == 1 and plan["counts"]["protected"] == 1

        led.place_hold("LIT-7", {"subject": "db:payroll"}, "counsel", AUTHZ)
        with pytest.raises(trailseal.InvalidArgumentError):
            led.place_hold("LIT-7", {"actor": "bob"}, "counsel", AUTHZ)
        assert led.retention_plan("2100-01-01T00:00:00Z")["counts"]["held"] == 1
        assert [h["id"] for h in led.legal_holds()] == ["LIT-7"]
        led.release_hold("LIT-7", "counsel", AUTHZ)
        assert led.legal_holds()[0]["released"] == 4
        assert led.retention_plan("2100-01-01T00:00:00Z")["eligible"] == [[2, 3]]
        with pytest.raises(trailseal.InvalidArgumentError):
            led.release_hold("LIT-7", "counsel", AUTHZ)


def test_refusals_write_nothing(tmp_path: Path) -> None:
    with trailseal.Ledger.create(tmp_path / "l.redb", origin="example.com/retention") as led:
        with pytest.raises(trailseal.MalformedError):
            led.publish_retention_rules({"version": "x", "default": "one year", "rules": []}, "r", AUTHZ)
        with pytest.raises(trailseal.MalformedError):
            led.place_hold("H", {}, "counsel", AUTHZ)
        with pytest.raises(trailseal.MalformedError):
            led.retention_plan("next year")
        with pytest.raises(trailseal.InvalidEntryError):
            led.publish_retention_rules({"version": "x", "default": "P1Y", "rules": []}, "r", {"why": "no"})
        assert len(led) == 0
