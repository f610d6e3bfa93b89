"""Witness cosignatures from Python: the independent vectors, and the refusals of
``Ledger.witness`` that need no witness (the real one runs in tests/witness/check.sh)."""

import json
import socket
from pathlib import Path

import pytest
import trailseal
from conftest import VECTORS


def _vectors() -> dict:
    with open(VECTORS / "cosignature.json", encoding="utf-8") as f:
        return json.load(f)


def test_independent_cosignature_vectors() -> None:
    v = _vectors()
    for case in v["cases"]:
        if case["ok"]:
            got = trailseal.verify_cosigned(case["note"], v["log_vkey"], v["witness_vkeys"], case["quorum"])
            assert len(got["cosignatures"]) >= case["quorum"], case["name"]
            assert got["checkpoint"]["size"] == 5
        else:
            with pytest.raises(trailseal.VerificationError):
                trailseal.verify_cosigned(case["note"], v["log_vkey"], v["witness_vkeys"], case["quorum"])


def _dead_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def test_witness_refusals(tmp_path: Path) -> None:
    witness_key = _vectors()["witness_vkeys"][0]
    signer = trailseal.Signer.generate("example.com/py-witness")
    with trailseal.Ledger.create(
        tmp_path / "b3.redb", origin="example.com/py-witness", hash="blake3", verifier_key=signer.verifier_key
    ) as led:
        with pytest.raises(trailseal.InvalidArgumentError, match="SHA-256"):
            led.witness(signer, [(_dead_url(), witness_key)])
    with trailseal.Ledger.create(
        tmp_path / "w.redb", origin="example.com/py-witness", verifier_key=signer.verifier_key
    ) as led:
        led.append({"actor": {"id": "a"}, "action": "x.y", "subject": {"type": "t", "id": "i"}})
        report = led.witness(signer, [(_dead_url(), witness_key)], timeout=5)
        assert report["quorum_met"] is False and report["cosigned"] == 0
        assert report["quorum"] == 1, "the quorum defaults to every witness given"
        with pytest.raises(trailseal.InvalidArgumentError, match="positive number of seconds"):
            led.witness(signer, [(_dead_url(), witness_key)], timeout=-1)
        with pytest.raises(trailseal.InvalidArgumentError, match="quorum of 2"):
            led.witness(signer, [(_dead_url(), witness_key)], quorum=2)
        assert "connection refused" in report["witnesses"][0]["error"]
        with pytest.raises(trailseal.VerificationError):
            led.verify(witness_keys=[witness_key])
        assert led.verify()["cosignatures_checked"] == 0
