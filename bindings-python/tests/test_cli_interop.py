"""A ledger written from Python is read by the `trailseal` command, and the other way round."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, List

import pytest

import trailseal
from conftest import make_entry


def run(cli: Path, *args: Any, input: str | None = None) -> str:
    done = subprocess.run(
        [str(cli), *map(str, args)],
        capture_output=True,
        text=True,
        input=input,
        timeout=300,
    )
    assert done.returncode == 0, (args, done.returncode, done.stderr)
    return done.stdout


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("hash", ["sha256", "blake3"])
def test_python_writes_cli_reads(cli: Path, tmp_path: Path, hash: str) -> None:
    path = tmp_path / "py.redb"
    signer = trailseal.Signer.generate("example.com/py")
    key = tmp_path / "py.key"
    key.write_text(signer.to_string_private() + "\n")
    key.chmod(0o600)  # the command refuses a key file others can read
    with trailseal.Ledger.create(path, origin="example.com/py", hash=hash) as led:  # type: ignore[arg-type]
        led.append_batch([make_entry(i) for i in range(9)])
        led.append(make_entry(9, id="evt-9", links=[{"rel": "follows", "index": 8}]))
        roots = [led.root(n) for n in range(11)]
        leaves = [led.get_raw(i) for i in range(10)]
        proof = led.prove_inclusion(4, 7)
        consistency = led.prove_consistency(3)
        py_note = led.checkpoint(signer, size=6)

    report = json.loads(run(cli, "verify", path))
    assert report["ok"] is True and report["size"] == 10 and report["root"] == roots[10]
    assert report["checkpoints_checked"] == 1
    for i in range(10):
        assert run(cli, "show", path, i).encode() == leaves[i] + b"\n"
    cli_proof = run(cli, "prove", "inclusion", path, 4, "--size", 7).strip()
    assert json.loads(cli_proof) == proof
    # Compact json.dumps of the dict is the command's SPEC JSON byte for byte.
    assert json.dumps(proof, separators=(",", ":")) == cli_proof
    assert json.loads(run(cli, "prove", "consistency", path, 3)) == consistency
    assert run(cli, "vkey", "--key", key).strip() == signer.verifier_key

    # The command signs with the same key; Python checks its note.
    note = run(cli, "checkpoint", path, "--key", key)
    cp = trailseal.verify_checkpoint(note, signer.verifier_key)
    assert (cp.origin, cp.size, cp.root) == ("example.com/py", 10, roots[10])

    # The command checks Python's proof and checkpoint offline.
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    (tmp_path / "leaf.json").write_bytes(leaves[4])
    (tmp_path / "six.note").write_text(py_note)
    (tmp_path / "seven.note").write_text(
        trailseal.Checkpoint("example.com/py", 7, roots[7]).sign(signer)
    )
    out = json.loads(
        run(
            cli,
            "verify-proof",
            "--inclusion",
            tmp_path / "proof.json",
            "--leaf",
            tmp_path / "leaf.json",
            "--checkpoint",
            tmp_path / "seven.note",
            "--vkey",
            signer.verifier_key,
        )
    )
    assert out["ok"] is True and out["leaf_checked"] is True
    out = json.loads(
        run(cli, "verify", path, "--checkpoint", tmp_path / "six.note", "--vkey", signer.verifier_key)
    )
    assert out["consistent_with_checkpoint"] == 6


@pytest.mark.parametrize("hash", ["sha256", "blake3"])
def test_cli_writes_python_reads(cli: Path, tmp_path: Path, hash: str) -> None:
    path = tmp_path / "cli.redb"
    init = json.loads(run(cli, "init", path, "--origin", "example.com/cli", "--hash", hash))
    vkey = init["verifier_key"]
    assert run(cli, "vkey", path).strip() == vkey
    lines = "\n".join(json.dumps(make_entry(i)) for i in range(7)) + "\n"
    receipts: List[Any] = [json.loads(x) for x in run(cli, "append", path, input=lines).splitlines()]
    receipts += [
        json.loads(x)
        for x in run(
            cli, "append", path, "--actor", "bob", "--action", "approval.granted",
            "--subject", "change:42", "--decision", "allow", "--policy", "two-person",
            "--link", "approves=3",
        ).splitlines()
    ]
    note = run(cli, "checkpoint", path)
    cli_root = json.loads(run(cli, "verify", path))["root"]
    proof = json.loads(run(cli, "prove", "inclusion", path, 7))
    cli_verified = json.loads(
        run(cli, "verify", path, "--checkpoint", _write(tmp_path / "c.note", note), "--vkey", vkey)
    )
    cli_deep = json.loads(run(cli, "verify", path, "--indexes"))

    with trailseal.Ledger.open(path) as led:
        assert (led.origin, led.hash, led.kind) == ("example.com/cli", hash, "entries")
        assert len(led) == 8 and led.root() == cli_root
        for r in receipts:
            assert led.root(r["tree_size"]) == r["root"]
            assert led.leaf_hash(r["index"]) == r["leaf_hash"]
            assert led.get(r["index"])["time"] == r["time"]
        assert led.get(7)["links"] == [{"rel": "approves", "index": 3}]
        assert led.get(0)["subject"] == make_entry(0)["subject"]
        assert led.prove_inclusion(7) == proof
        report = led.verify(checkpoint=note, verifier_key=vkey)
        # The same report, field for field, as the command's.
        assert report == cli_verified
        assert led.verify(indexes=True) == cli_deep and cli_deep["indexes_checked"] is True
        assert report["checkpoints_checked"] == 1 and report["consistent_with_checkpoint"] == 8
        trailseal.verify_inclusion(proof, leaf=led.get(7))
        # Python appends to the command's ledger; the command still verifies it.
        led.append(make_entry(100))
        new_root = led.root()
    (tmp_path / "cli.note").write_text(note)
    out = json.loads(run(cli, "verify", path, "--checkpoint", tmp_path / "cli.note", "--vkey", vkey))
    assert out["root"] == new_root and out["consistent_with_checkpoint"] == 8
    cp = trailseal.verify_checkpoint(note, vkey)
    assert cp.size == 8 and cp.root == cli_root
