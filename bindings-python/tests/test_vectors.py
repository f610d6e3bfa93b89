"""Every shared conformance vector in tests/vectors, through the Python API."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

import trailseal
from conftest import VECTORS


def load(name: str) -> Dict[str, Any]:
    with open(VECTORS / name, encoding="utf-8") as f:
        return json.load(f)


MERKLE = ["merkle-sha256.json", "merkle-blake3.json"]


@pytest.fixture(scope="module", params=MERKLE)
def merkle(request: pytest.FixtureRequest) -> Dict[str, Any]:
    return load(request.param)


@pytest.fixture(scope="module")
def merkle_ledger(
    merkle: Dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[trailseal.Ledger]:
    """A raw ledger holding the vector's leaves."""
    path = tmp_path_factory.mktemp("merkle") / "leaves.redb"
    with trailseal.Ledger.create(
        path, origin="vectors.test/log", hash=merkle["hash"], raw=True
    ) as led:
        led.append_raw_batch([bytes.fromhex(h) for h in merkle["leaves_hex"]])
        yield led


def test_merkle_vectors_are_complete(merkle: Dict[str, Any]) -> None:
    n = len(merkle["leaves_hex"])
    assert n == 20 and len(merkle["roots"]) == n
    assert len(merkle["inclusion"]) == n * (n + 1) // 2
    assert len(merkle["consistency"]) == n * (n + 1) // 2


def test_inclusion_vectors_verify(merkle: Dict[str, Any]) -> None:
    leaves = [bytes.fromhex(h) for h in merkle["leaves_hex"]]
    for proof in merkle["inclusion"]:
        trailseal.verify_inclusion(proof)
        trailseal.verify_inclusion(json.dumps(proof))
        trailseal.verify_inclusion(proof, leaf=leaves[proof["index"]])
        with pytest.raises(trailseal.VerificationError):
            trailseal.verify_inclusion(proof, leaf=leaves[proof["index"]] + b"x")


def test_inclusion_vectors_with_a_wrong_root_fail(merkle: Dict[str, Any]) -> None:
    for proof in merkle["inclusion"]:
        bad = dict(proof, root=merkle["empty_root"])
        with pytest.raises(trailseal.VerificationError):
            trailseal.verify_inclusion(bad)


def test_consistency_vectors_verify(merkle: Dict[str, Any]) -> None:
    for proof in merkle["consistency"]:
        trailseal.verify_consistency(proof)
        trailseal.verify_consistency(json.dumps(proof))
        if proof["old_size"] != proof["new_size"]:
            bad = dict(proof, old_root=merkle["empty_root"])
            with pytest.raises(trailseal.VerificationError):
                trailseal.verify_consistency(bad)


def test_ledger_roots_match_for_every_size(
    merkle: Dict[str, Any], merkle_ledger: trailseal.Ledger
) -> None:
    assert len(merkle_ledger) == len(merkle["leaves_hex"])
    assert merkle_ledger.root(0) == merkle["empty_root"]
    for size, root in enumerate(merkle["roots"], start=1):
        assert merkle_ledger.root(size) == root, size
    assert merkle_ledger.root() == merkle["roots"][-1]


def test_ledger_proofs_equal_the_vectors(
    merkle: Dict[str, Any], merkle_ledger: trailseal.Ledger
) -> None:
    for want in merkle["inclusion"]:
        got = merkle_ledger.prove_inclusion(want["index"], want["tree_size"])
        assert got == want
        # SPEC field order, so json.dumps writes the SPEC form.
        assert list(got) == ["hash", "index", "tree_size", "leaf_hash", "root", "path"]
        assert json.loads(json.dumps(got)) == want
    for want in merkle["consistency"]:
        got2 = merkle_ledger.prove_consistency(want["old_size"], want["new_size"])
        assert got2 == want
        assert list(got2) == ["hash", "old_size", "new_size", "old_root", "new_root", "path"]


def test_ledger_leaf_hashes_match_the_vectors(
    merkle: Dict[str, Any], merkle_ledger: trailseal.Ledger
) -> None:
    for i, h in enumerate(merkle["leaves_hex"]):
        assert merkle_ledger.get_raw(i) == bytes.fromhex(h)
        assert merkle_ledger.leaf_hash(i) == merkle_ledger.prove_inclusion(i)["leaf_hash"]
    # A single-leaf tree's root is its leaf hash.
    assert merkle_ledger.leaf_hash(0) == merkle["roots"][0]


def test_rfc6962_classic_roots(tmp_path: Path) -> None:
    v = load("rfc6962-classic.json")
    assert v["hash"] == "sha256"
    led = trailseal.Ledger.create(tmp_path / "r.redb", origin="rfc6962.test", hash="sha256", raw=True)
    receipts = led.append_raw_batch([bytes.fromhex(h) for h in v["leaves_hex"]])
    for size_text, root in v["roots_by_size"].items():
        size = int(size_text)
        assert led.root(size) == root, size
        if size:
            assert receipts[size - 1].root == root
            assert receipts[size - 1].tree_size == size


# --- transparency-dev/merkle ----------------------------------------------------------------

TD_ROOT = VECTORS / "transparency-dev-merkle"
# tests/vectors/README.md, deviation 1: wantErr false, but its roots are 12-byte placeholders,
# which trailseal (every hash is 32 bytes) rejects as malformed.
TD_DEVIATION = "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"
TD_CASES = sorted(p.relative_to(TD_ROOT).as_posix() for p in TD_ROOT.rglob("*.json"))


def td_hex(b64: str) -> str:
    return base64.b64decode(b64).hex()


def td_path(proof: List[str] | None) -> List[str]:
    return [td_hex(h) for h in proof or []]


def td_check(kind: str, v: Dict[str, Any]) -> None:
    if kind == "inclusion":
        trailseal.verify_inclusion(
            {
                "hash": "sha256",
                "index": v["leafIdx"],
                "tree_size": v["treeSize"],
                "leaf_hash": td_hex(v["leafHash"]),
                "root": td_hex(v["root"]),
                "path": td_path(v["proof"]),
            }
        )
    else:
        trailseal.verify_consistency(
            {
                "hash": "sha256",
                "old_size": v["size1"],
                "new_size": v["size2"],
                "old_root": td_hex(v["root1"]),
                "new_root": td_hex(v["root2"]),
                "path": td_path(v["proof"]),
            }
        )


def test_transparency_dev_case_count() -> None:
    assert len(TD_CASES) >= 190
    assert TD_DEVIATION in TD_CASES


@pytest.mark.parametrize("case", TD_CASES)
def test_transparency_dev(case: str) -> None:
    kind = case.split("/")[0]
    assert kind in ("inclusion", "consistency")
    v = json.loads((TD_ROOT / case).read_text(encoding="utf-8"))
    if case == TD_DEVIATION:
        assert v["wantErr"] is False, "the deviation case changed upstream"
        with pytest.raises(trailseal.MalformedError):
            td_check(kind, v)
    elif v["wantErr"]:
        with pytest.raises(
            (trailseal.MalformedError, trailseal.VerificationError, trailseal.OutOfRangeError)
        ):
            td_check(kind, v)
    else:
        td_check(kind, v)


# --- signed notes -----------------------------------------------------------------------------

NOTES = load("signed-note.json")["vectors"]


def seed_of(skey: str) -> bytes:
    raw = base64.b64decode(skey.split("+", 4)[4])
    assert raw[0] == 1 and len(raw) == 33
    return raw[1:]


@pytest.mark.parametrize("v", NOTES, ids=lambda v: v["body"].split("\n")[0] + "/" + v["verifier_key"][:12])
def test_signed_note_vector(v: Dict[str, Any]) -> None:
    signer = trailseal.Signer.from_string(v["signer_key"])
    assert signer.verifier_key == v["verifier_key"]
    assert signer.to_string_private() == v["signer_key"]
    assert signer.name == v["verifier_key"].split("+")[0]
    assert signer.key_hash == int(v["verifier_key"].split("+")[1], 16)
    # The secret never shows in str() or repr().
    secret = v["signer_key"].split("+", 4)[4]
    assert secret not in str(signer) and secret not in repr(signer)
    assert "PRIVATE" not in str(signer) and "PRIVATE" not in repr(signer)

    # The same key from its seed.
    again = trailseal.Signer.from_seed(signer.name, seed_of(v["signer_key"]))
    assert again.to_string_private() == v["signer_key"]

    cp = trailseal.verify_checkpoint(v["signed_note"], v["verifier_key"])
    assert cp.to_body() == v["body"]
    lines = v["body"].split("\n")
    assert cp.origin == lines[0]
    assert cp.size == int(lines[1])
    assert cp.root == base64.b64decode(lines[2]).hex()
    assert cp.extensions == [line for line in lines[3:] if line]

    # Ed25519 is deterministic: signing the same checkpoint reproduces the note byte for byte.
    rebuilt = trailseal.Checkpoint(cp.origin, cp.size, cp.root, cp.extensions)
    assert rebuilt == cp
    assert rebuilt.sign(signer) == v["signed_note"]
    assert rebuilt.sign(again) == v["signed_note"]


def test_signed_note_vectors_refuse_the_wrong_key_and_edits() -> None:
    keys = sorted({v["verifier_key"] for v in NOTES})
    assert len(keys) == 2
    for v in NOTES:
        other = keys[1] if v["verifier_key"] == keys[0] else keys[0]
        with pytest.raises(trailseal.VerificationError):
            trailseal.verify_checkpoint(v["signed_note"], other)
        lines = v["signed_note"].split("\n")
        lines[1] = str(int(lines[1]) + 1)
        with pytest.raises(trailseal.VerificationError):
            trailseal.verify_checkpoint("\n".join(lines), v["verifier_key"])
        with pytest.raises(trailseal.MalformedError):
            trailseal.verify_checkpoint(v["body"], v["verifier_key"])
        with pytest.raises(trailseal.MalformedError):
            trailseal.verify_checkpoint(v["signed_note"], v["verifier_key"][:-4])
