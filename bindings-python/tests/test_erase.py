"""Personal fields and their erasure from Python (SPEC section 10): values read back as
recorded, erased with the record saying why, every proof intact, the file holding nothing."""

from pathlib import Path

import pytest

import trailseal

ALICE = "alice.python@example.com"
AUTHZ = {"decision": "allow", "policy": "gdpr-erasure"}


def entry(actor: str, i: int) -> dict:
    return {
        "actor": {"id": actor},
        "action": "access.granted",
        "subject": {"type": "role", "id": f"r{i}"},
        "change": {"before": {"note": f"{actor} private {i}"}},
    }


def test_values_sealed_read_and_erased(tmp_path: Path) -> None:
    path = tmp_path / "l.redb"
    with trailseal.Ledger.create(
        path, origin="example.com/py-erase", personal=["actor.id", "change.before"]
    ) as led:
        assert led.personal_fields == ["actor.id", "change.before"]
        led.append_batch([entry(ALICE, i) for i in range(3)] + [entry("bob", 9)])
        assert led.get(1)["actor"]["id"] == ALICE
        raw = led.get_json(1)
        assert ALICE not in raw and "commitment:" in raw
        kept = led.openings(1)
        assert kept["actor.id"]["value"] == ALICE
        leaf_hash = led.leaf_hash(1)

        dry = led.erase({"actor": ALICE}, reason="DSR-1", actor="dpo", authz=AUTHZ, dry_run=True)
        assert dry["erased"] == [0, 1, 2] and dry["records"] == []
        report = led.erase(
            {"actor": ALICE},
            reason="DSR-1",
            actor="dpo",
            authz=AUTHZ,
            legal_basis="GDPR Art. 17(1)(a)",
            request="DSR-1",
        )
        assert report["count"] == 3
        record = report["records"][0]
        assert led.get(record)["payload"]["legal_basis"] == "GDPR Art. 17(1)(a)"
        assert led.get(1)["erased"] == {"by": record}
        assert led.openings(1) is None
        assert led.leaf_hash(1) == leaf_hash
        assert led.query(actor=ALICE)["entries"] == []
        led.verify()
        commitment = __import__("json").loads(led.get_json(1))["actor"]["id"]
        trailseal.check_opening(commitment, kept["actor.id"]["salt"], ALICE)
        with pytest.raises(trailseal.VerificationError):
            trailseal.check_opening(commitment, kept["actor.id"]["salt"], "mallory")
        with pytest.raises(trailseal.InvalidArgumentError):
            led.erase({"actor": ALICE}, reason="again", actor="dpo", authz=AUTHZ)
        led.scrub_free_pages()
    data = path.read_bytes()
    assert ALICE.encode() not in data and b"private 0" not in data


def test_refusals(tmp_path: Path) -> None:
    with trailseal.Ledger.create(tmp_path / "p.redb", origin="p") as led:
        led.append(entry("bob", 1))
        with pytest.raises(trailseal.InvalidArgumentError):
            led.erase({"indexes": [0]}, reason="r", actor="dpo", authz=AUTHZ)
        assert led.personal_fields == []
    with pytest.raises(trailseal.InvalidArgumentError):
        trailseal.Ledger.create(tmp_path / "bad.redb", origin="b", personal=["actor"])
