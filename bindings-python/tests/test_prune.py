"""Pruning from Python (SPEC section 8.1): what retention allows goes, a read of it says where
it went, the rest reads as before, and compact gives the space back. What may go is the
core's; the shared case table checks the answers agree across front ends."""

from __future__ import annotations

from pathlib import Path

import pytest

import trailseal

AUTHZ = {"decision": "allow", "policy": "records-management"}
AT = "2100-01-01T00:00:00Z"


def test_prune_pruned_and_compact(tmp_path: Path) -> None:
    path = tmp_path / "l.redb"
    led = trailseal.Ledger.create(path, origin="example.com/prune")
    led.publish_retention_rules(
        {"version": "v1", "default": "P1Y", "rules": [{"action": "deploy.*", "keep": "P100Y"}]},
        "records-officer",
        AUTHZ,
    )
    led.append_batch(
        [
            {
                "actor": {"id": "ci"},
                "action": "deploy.succeeded" if i == 10 else "build.finished",
                "subject": {"type": "build", "id": str(i)},
            }
            for i in range(200)
        ]
    )
    dry = led.prune(AT, "records-officer", AUTHZ, dry_run=True)
    assert dry["dry_run"] is True and dry["count"] > 0 and dry["records"] == []
    assert led.get(5)["action"] == "build.finished"

    r = led.prune(AT, "records-officer", AUTHZ)
    assert r["count"] == dry["count"] and len(r["records"]) == 1
    assert r["kept"]["in_retention"] == 1 and r["rules"]["version"] == "v1"
    with pytest.raises(trailseal.OutOfRangeError, match="pruned on"):
        led.get(5)
    p = led.pruned(5)
    assert p is not None and p["pruned"]["by"] == r["records"][0]
    assert p["pruned"]["rules_version"] == "v1" and len(p["leaf_hash"]) == 64
    assert led.pruned(11) is None
    assert led.get(11)["action"] == "deploy.succeeded"
    assert led.verify()["ok"] is True
    with pytest.raises(trailseal.MalformedError):
        led.prune("not a time", "records-officer", AUTHZ)

    with pytest.raises(trailseal.LedgerLockedError):
        trailseal.compact(path)
    led.close()
    assert trailseal.compact(path) is True
    with trailseal.Ledger.open(path) as again:
        assert again.pruned(5) is not None
