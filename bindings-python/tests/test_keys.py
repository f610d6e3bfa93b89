"""Checkpoint keys held outside the process, from Python: a key in a real ssh-agent (OpenSSH,
started here) signs through ``Signer.open``; the command-line suite (tests/keys/check.sh) runs
the same against SoftHSM2."""
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

import trailseal


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Path]:
    """An ssh-agent holding one Ed25519 key commented ``py-ci``; SSH_AUTH_SOCK points at it."""
    if not (shutil.which("ssh-agent") and shutil.which("ssh-keygen")):
        if os.environ.get("TRAILSEAL_KEY_TESTS"):
            pytest.fail("TRAILSEAL_KEY_TESTS is set but OpenSSH's ssh-agent is missing")
        pytest.skip("ssh-agent missing")
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "py-ci", "-f", str(key)], check=True)
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-a", str(sock), "-D"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    old = os.environ.get("SSH_AUTH_SOCK")
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert time.monotonic() < deadline, "ssh-agent did not start within 10 s"
            time.sleep(0.05)
        os.environ["SSH_AUTH_SOCK"] = str(sock)
        subprocess.run(["ssh-add", "-q", str(key)], check=True, stderr=subprocess.DEVNULL)
        yield key
    finally:
        proc.kill()
        proc.wait()
        if old is None:
            os.environ.pop("SSH_AUTH_SOCK", None)
        else:
            os.environ["SSH_AUTH_SOCK"] = old


def test_an_agent_key_signs_checkpoints(agent: Path, tmp_path: Path) -> None:
    signer = trailseal.Signer.open("ssh-agent:py-ci", "example.com/py-agent")
    fingerprint = subprocess.run(
        ["ssh-keygen", "-lf", f"{agent}.pub"], check=True, capture_output=True, text=True
    ).stdout.split()[1]
    same = trailseal.Signer.open(f"ssh-agent:{fingerprint}", "example.com/py-agent")
    assert same.verifier_key == signer.verifier_key
    with trailseal.Ledger.create(
        tmp_path / "a.redb", origin="example.com/py-agent", verifier_key=signer.verifier_key
    ) as led:
        led.append({"actor": {"id": "a"}, "action": "x.y", "subject": {"type": "t", "id": "1"}})
        note = led.checkpoint(signer)
        assert trailseal.verify_checkpoint(note, signer.verifier_key).size == 1
        assert led.verify()["checkpoints_checked"] == 1
    with pytest.raises(trailseal.InvalidArgumentError, match="never leaves"):
        signer.to_string_private()
    assert "py-ci" not in str(signer) and "PRIVATE" not in repr(signer)


def test_held_key_refusals(agent: Path) -> None:
    with pytest.raises(trailseal.InvalidArgumentError, match="holds no key"):
        trailseal.Signer.open("ssh-agent:nobody", "example.com/py-agent")
    with pytest.raises(trailseal.InvalidArgumentError, match="names no held key"):
        trailseal.Signer.open("file:/etc/key", "example.com/py-agent")
    with pytest.raises(trailseal.MalformedError):
        trailseal.Signer.open("pkcs11:objekt=k", "example.com/py-agent")


def test_a_ledger_rotated_twice_verifies_from_its_first_key(tmp_path: Path) -> None:
    keys = [trailseal.Signer.generate("example.com/py-rotate") for _ in range(3)]
    with trailseal.Ledger.create(
        tmp_path / "r.redb", origin="example.com/py-rotate", verifier_key=keys[0].verifier_key
    ) as led:
        led.append({"actor": {"id": "a"}, "action": "x.y", "subject": {"type": "t", "id": "1"}})
        led.checkpoint(keys[0])
        r = led.rotate_key(keys[0], keys[1], actor="alice")
        assert (r["index"], r["old_key"], r["new_key"]) == (1, keys[0].verifier_key, keys[1].verifier_key)
        for k in keys[:2]:
            assert trailseal.verify_checkpoint(r["note"], k.verifier_key).size == 2
        with pytest.raises(trailseal.InvalidArgumentError, match="not this ledger's signer key"):
            led.checkpoint(keys[0])
        led.rotate_key(keys[1], keys[2])
        led.checkpoint(keys[2])
        assert led.verifier_key == keys[0].verifier_key
        assert led.verifier_key_in_force() == keys[2].verifier_key
        assert led.verify()["checkpoints_checked"] == 4
        with pytest.raises(trailseal.InvalidArgumentError):
            led.rotate_key(keys[2], keys[2])
