"""Trusted time (RFC 3161) from Python, against a real time-stamp authority: `openssl ts
-reply` behind tests/tsa/server.py on 127.0.0.1, with the PKI of tests/tsa/make_pki.sh. The
same calls as `trailseal timestamp` and `verify-bundle --tsa-ca` (cli/tests/timestamp.rs)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator, Tuple

import pytest

import trailseal

from conftest import REPO, make_entry

ORIGIN = "example.com/trailseal/python-tsa"


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[str, Path]]:
    """The test TSA's base URL and PKI folder; the server is killed afterwards."""
    if not (shutil.which("openssl") and shutil.which("python3")):
        if os.environ.get("TRAILSEAL_TSA_TESTS"):
            pytest.fail("TRAILSEAL_TSA_TESTS is set but openssl or python3 is missing")
        pytest.skip("openssl or python3 missing")
    work = tmp_path_factory.mktemp("tsa")
    pki = work / "pki"
    subprocess.run(["bash", str(REPO / "tests/tsa/make_pki.sh"), str(pki)], check=True)
    port_file = work / "port"
    server = subprocess.Popen(
        ["python3", str(REPO / "tests/tsa/server.py"), str(pki), str(port_file)]
    )
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            assert server.poll() is None, "the TSA server exited at startup"
            assert time.monotonic() < deadline, "the TSA server did not start within 20 s"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text()}", pki
    finally:
        server.kill()
        server.wait()


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_a_checkpoint_is_time_stamped_kept_and_checked(
    tsa: Tuple[str, Path], tmp_path: Path, kind: str
) -> None:
    url, pki = tsa
    ca = (pki / f"ca-{kind}.pem").read_bytes()
    signer = trailseal.Signer.generate(ORIGIN)
    with trailseal.Ledger.create(tmp_path / "audit.redb", origin=ORIGIN) as led:
        for n in range(3):
            led.append(make_entry(n, subject={"type": "release", "id": "r1"}))
        note = led.checkpoint(signer)
        got = led.timestamp_checkpoint(f"{url}/{kind}", ca.decode(), timeout=10)
        assert got["checkpoint"] == 0 and got["size"] == 3 and got["requested"] is True
        assert f"tsa-{kind}" in got["attested"]["tsa"]
        token = led.checkpoint_timestamp(0)
        assert token is not None and base64.b64decode(got["token"]) == token
        assert led.checkpoint_timestamp(1) is None
        # Asked again: the kept token stands, no request.
        assert led.timestamp_checkpoint(f"{url}/{kind}", ca)["requested"] is False
        text = led.bundle(subject="release:r1", signer=signer)

    attested = trailseal.verify_timestamp_token(token, note, ca)
    assert attested == got["attested"]
    other = (pki / "ca-other.pem").read_bytes()
    with pytest.raises(trailseal.VerificationError):
        trailseal.verify_timestamp_token(token, note, other)
    with pytest.raises(trailseal.VerificationError):
        trailseal.verify_timestamp_token(token, note.replace("\n3\n", "\n4\n"), ca)

    report = trailseal.verify_bundle_with_tsa(text, signer.verifier_key, ca)
    assert report["attested"] == got["attested"]
    assert "attested" not in trailseal.verify_bundle(text, signer.verifier_key)
    with pytest.raises(trailseal.VerificationError):
        trailseal.verify_bundle_with_tsa(text, signer.verifier_key, other)


def test_a_failing_tsa_stores_nothing(tsa: Tuple[str, Path], tmp_path: Path) -> None:
    url, pki = tsa
    ca = (pki / "ca-ec.pem").read_bytes()
    signer = trailseal.Signer.generate(ORIGIN)
    with trailseal.Ledger.create(tmp_path / "audit.redb", origin=ORIGIN) as led:
        led.append(make_entry(0))
        with pytest.raises(trailseal.IoError, match="not a TimeStampResp"):
            led.timestamp_checkpoint(f"{url}/garbage", ca, signer=signer)
        with pytest.raises(trailseal.IoError):
            led.timestamp_checkpoint(f"{url}/slow", ca, timeout=1)
        with pytest.raises(trailseal.VerificationError):
            led.timestamp_checkpoint(f"{url}/ec", (pki / "ca-other.pem").read_bytes())
        with pytest.raises(trailseal.InvalidArgumentError, match="positive number of seconds"):
            led.timestamp_checkpoint(f"{url}/ec", ca, timeout=0)
        assert led.checkpoint_timestamp(0) is None
