"""Shared fixtures: the repository's vectors, entries, and the `trailseal` command."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict

import pytest

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "vectors"


def make_entry(n: int, **extra: Any) -> Dict[str, Any]:
    """A valid audit entry, distinct per n."""
    e: Dict[str, Any] = {
        "actor": {"id": "alice", "role": "release-manager"},
        "action": "deploy.succeeded",
        "subject": {"type": "service", "id": f"payments-api-{n}"},
        "attrs": {"env": "prod", "n": str(n)},
    }
    e.update(extra)
    return e


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.redb"


@pytest.fixture(scope="session")
def cli() -> Path:
    """The `trailseal` command: $TRAILSEAL_CLI, or built here with cargo (debug)."""
    given = os.environ.get("TRAILSEAL_CLI")
    if given:
        return Path(given)
    cargo = shutil.which("cargo") or str(Path.home() / ".cargo" / "bin" / "cargo")
    subprocess.run(
        [cargo, "build", "--quiet", "-p", "trailseal-cli"],
        cwd=REPO,
        check=True,
    )
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    if not target.is_absolute():
        target = REPO / target
    exe = target / "debug" / "trailseal"
    assert exe.exists(), exe
    return exe
