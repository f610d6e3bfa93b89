"""Capture from Python: CI environments, git history and the standard event formats.

The fixtures are the core's, in `tests/capture/` (its README names where each file comes from).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

import trailseal
from conftest import REPO

FIXTURES = REPO / "tests" / "capture"


def env_file(name: str) -> Dict[str, str]:
    """KEY=VALUE lines (comments and blank lines skipped), as core/tests/capture.rs reads them."""
    env: Dict[str, str] = {}
    for line in (FIXTURES / "ci" / name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        k, _, v = line.partition("=")
        env[k] = v
    return env


@pytest.fixture
def led(ledger_path: Path):
    with trailseal.Ledger.create(ledger_path, origin="example.com/capture") as led:
        yield led


# ---- CI ---------------------------------------------------------------------------------

# file, system, actor, repository, commit, run_id, job, (a variable a retry changes, its value)
CI_CASES: List[Tuple[str, str, str, str, str, str, str, Tuple[str, str]]] = [
    ("github-actions.env", "github-actions", "octocat", "github.com/octocat/Hello-World",
     "ffac537e6cbbf934b08745a378932722df287a53", "1658821493", "build",
     ("GITHUB_RUN_ATTEMPT", "3")),
    ("gitlab-ci.env", "gitlab-ci", "root", "gitlab.example.com/gitlab-org/gitlab-foss",
     "dd648b2e48ce6518303b0bb580b2ee32fadaf045", "1000", "test-job", ("CI_JOB_ID", "51")),
    ("azure-pipelines.env", "azure-pipelines", "jamal@fabrikam.com",
     "dev.azure.com/fabrikam/Fabrikam%20Fiber/_git/payments-api",
     "3a5f9d1c4b2e8f7a6d5c4b3a2f1e0d9c8b7a6f5e", "4711", "Build job",
     ("SYSTEM_JOBATTEMPT", "2")),
    ("jenkins.env", "jenkins", "alice", "github.com/acme/payments-api",
     "7be01d2c6a3f0e2c4d9b8a7f6e5d4c3b2a190817", "payments-api/main#42", "main",
     ("NODE_NAME", "agent-7")),
    ("buildkite.env", "buildkite", "keith@buildkite.com", "github.com/acme-inc/my-project",
     "83a20ec058e2fb00e7fa4558c4c6e81e2dcf253d", "f62a1b4d-10f9-4790-bc1c-e2c3a0c80983",
     ":hammer: Tests", ("BUILDKITE_JOB_ID", "b2f7a1c0-1111-4b93-a21d-f41fd5869db9")),
    ("circleci.env", "circleci", "jeff", "github.com/circleci/frontend",
     "cf49b55b0a4a3f1e2c8d4b0e9d7a6c5b4a3f2e1d", "9f0c3a12-3c45-4a5e-8f9b-0c1d2e3f4a5b", "test",
     ("CIRCLE_WORKFLOW_ID", "0a1b2c3d-0000-4a5e-8f9b-0c1d2e3f4a5b")),
]

MARKERS = ["GITHUB_ACTIONS", "GITLAB_CI", "TF_BUILD", "JENKINS_URL", "BUILDKITE", "CIRCLECI"]


def test_ci_fixture_files_are_all_covered() -> None:
    assert sorted(p.name for p in (FIXTURES / "ci").glob("*.env")) == sorted(c[0] for c in CI_CASES)


@pytest.mark.parametrize("case", CI_CASES, ids=[c[0] for c in CI_CASES])
def test_detect_ci_from_each_systems_environment(case: Tuple[Any, ...]) -> None:
    file, system, actor, repository, commit, run_id, job, _ = case
    ctx = trailseal.detect_ci(env_file(file))
    assert ctx["system"] == system
    assert ctx["actor"] == actor
    assert len(ctx["via"]) == 1
    assert ctx["repository"] == repository
    assert ctx["commit"] == commit
    assert ctx["ref"] == "refs/heads/main"
    assert ctx["run_id"] == run_id
    assert ctx["job"] == job
    assert ctx["run_url"].startswith("https://")
    assert set(ctx) == {
        "system", "actor", "via", "repository", "commit", "ref", "workflow", "job", "step",
        "shard", "run_id", "run_number", "run_url", "extra",
    }
    assert all(isinstance(v, str) for v in ctx["extra"].values())
    # Credentials in clone URLs never come out.
    text = json.dumps(ctx)
    for secret in ("ghp_secret", "MASKED", "fabrikam@dev"):
        assert secret not in text, (file, secret)


def test_detect_ci_details_of_github() -> None:
    ctx = trailseal.detect_ci(env_file("github-actions.env"))
    assert ctx["via"] == ["github-actions[bot]"]
    assert ctx["step"] == "__run_2"
    assert ctx["extra"]["attempt"] == "2"
    assert ctx["extra"]["triggered_by"] == "mona"


def test_detect_ci_outside_a_ci_names_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(trailseal.InvalidArgumentError) as e:
        trailseal.detect_ci({"CI": "true"})
    assert e.value.code == "invalid_argument"
    for var in MARKERS:
        assert var in str(e.value)
    # In a CI, but without the variable the run id needs.
    gh = env_file("github-actions.env")
    del gh["GITHUB_RUN_ID"]
    with pytest.raises(trailseal.InvalidArgumentError, match="GITHUB_RUN_ID"):
        trailseal.detect_ci(gh)
    # The default is os.environ (whatever CI this test itself runs in is hidden first).
    for var in MARKERS:
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(trailseal.InvalidArgumentError):
        trailseal.detect_ci()
    with pytest.raises(trailseal.InvalidArgumentError):
        trailseal.detect_ci(None)
    for k, v in env_file("gitlab-ci.env").items():
        monkeypatch.setenv(k, v)
    assert trailseal.detect_ci()["system"] == "gitlab-ci"


def test_detect_ci_argument_types() -> None:
    with pytest.raises(TypeError):
        trailseal.detect_ci("GITHUB_ACTIONS=true")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        trailseal.detect_ci({"GITHUB_ACTIONS": True})  # type: ignore[dict-item]
    # Any mapping, or a list of pairs, will do.
    pairs = list(env_file("buildkite.env").items())
    assert trailseal.detect_ci(pairs)["system"] == "buildkite"  # type: ignore[arg-type]


@pytest.mark.parametrize("case", CI_CASES, ids=[c[0] for c in CI_CASES])
def test_record_ci_twice_and_retried_is_one_entry(led: trailseal.Ledger, case: Tuple[Any, ...]) -> None:
    file, system, actor, _, commit, run_id, _, (retry_var, retry_value) = case
    env = env_file(file)
    first = led.record_ci(
        "test.passed",
        attrs={"suite": "unit"},
        refs={"artifact": "oci:sha256:0b31b1c0"},
        payload={"tests": 42, "failed": 0},
        env=env,
    )
    assert first["already_recorded"] is False
    assert set(first) == {"index", "leaf_hash", "tree_size", "root", "time", "already_recorded"}
    assert (first["index"], first["tree_size"]) == (0, 1)
    assert first["root"] == led.root() and first["leaf_hash"] == led.leaf_hash(0)
    assert first["time"] == led.get(0)["time"]

    e = led.get(0)
    assert e["id"].startswith(f"ci:{system}:{run_id}:")
    assert e["actor"]["id"] == actor
    assert e["subject"] == {"type": "commit", "id": commit}
    assert e["attrs"]["ci.system"] == system and e["attrs"]["suite"] == "unit"
    assert e["payload"] == {"tests": 42, "failed": 0}
    refs = [link["ref"] for link in e["links"]]
    # the OCI digest in the canonical artifact form (docs/CAPTURE.md, canonical ref forms)
    assert "sha256:0b31b1c0" in refs and f"git:{commit}" in refs

    # The same call again: nothing written, the stored receipt.
    again = led.record_ci(
        "test.passed",
        attrs={"suite": "unit"},
        refs=[("artifact", "oci:sha256:0b31b1c0")],
        payload={"failed": 0, "tests": 42},
        env=env,
    )
    assert again == {**first, "already_recorded": True}
    # The step retried (attempt details differ): still recorded once.
    retried = led.record_ci(
        "test.passed",
        attrs={"suite": "unit"},
        refs={"artifact": "oci:sha256:0b31b1c0"},
        payload={"tests": 42, "failed": 0},
        env={**env, retry_var: retry_value},
    )
    assert retried == {**first, "already_recorded": True}
    assert len(led) == 1

    # Something else recorded by the step is a new entry, on the subject given.
    other = led.record_ci("scan.passed", subject="artifact:api:1.2.3", env=env)
    assert other["already_recorded"] is False and other["index"] == 1
    assert led.get(1)["subject"] == {"type": "artifact", "id": "api:1.2.3"}
    assert len(led) == 2
    led.verify()


def test_record_ci_refusals_write_nothing(led: trailseal.Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    env = env_file("github-actions.env")
    with pytest.raises(trailseal.InvalidArgumentError, match="ci."):
        led.record_ci("test.passed", attrs={"ci.system": "x"}, env=env)
    with pytest.raises(trailseal.InvalidEntryError):
        led.record_ci("Deploy!", env=env)
    with pytest.raises(trailseal.MalformedError):
        led.record_ci("test.passed", subject="no-colon", env=env)
    with pytest.raises(trailseal.MalformedError):
        led.record_ci("test.passed", payload=float("nan"), env=env)
    with pytest.raises(TypeError):
        led.record_ci("test.passed", refs="artifact=x", env=env)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        led.record_ci("test.passed", attrs={"n": 1}, env=env)  # type: ignore[dict-item]
    for var in MARKERS:
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(trailseal.InvalidArgumentError, match="not running in a known CI"):
        led.record_ci("test.passed")
    assert len(led) == 0
    # With os.environ set as a job's, the default works.
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert led.record_ci("build.succeeded")["index"] == 0
    assert led.get(0)["attrs"]["ci.system"] == "github-actions"


# ---- git --------------------------------------------------------------------------------

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str, date: str = "2024-01-01T10:00:00Z") -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Alice Example",
        "GIT_AUTHOR_EMAIL": "alice@example.com",
        "GIT_COMMITTER_NAME": "Bob Builder",
        "GIT_COMMITTER_EMAIL": "bob@example.com",
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "HOME": str(repo),
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def commit(repo: Path, name: str, text: str, msg: str, day: int) -> str:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", msg, date=f"2024-01-{day:02d}T10:00:00Z")
    return git(repo, "rev-parse", "HEAD")


def made_repo(repo: Path) -> List[str]:
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    return [
        commit(repo, "a.txt", "one\n", "first", 1),
        commit(repo, "a.txt", "one\ntwo\n", "second", 2),
        commit(repo, "b.txt", "b\n", "third", 3),
    ]


@needs_git
def test_import_git_twice_adds_nothing_the_second_time(led: trailseal.Ledger, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shas = made_repo(repo)
    seen: List[Tuple[int, int]] = []
    report = led.import_git(repo, progress=lambda done, total: seen.append((done, total)))
    assert report["repository"] == "repo"
    assert report["head"] == shas[-1]
    assert (report["examined"], report["recorded"], report["already_recorded"]) == (3, 3, 0)
    assert (report["first_index"], report["last_index"]) == (0, 2)
    assert report["resumed_after"] is None and report["shallow"] is False
    assert report["conflicts"] == [] and report["conflicts_total"] == 0
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    assert [led.get(i)["id"] for i in range(3)] == [f"git:{s}" for s in shas]
    first = led.get(0)
    assert first["action"] == "git.commit"
    assert first["actor"] == {"id": "alice@example.com", "via": ["bob@example.com"]}
    assert first["payload"] == {"summary": "first"}
    assert led.get(1)["links"] == [{"rel": "parent", "ref": f"git:{shas[0]}"}]

    # Second run: nothing new.
    again = led.import_git(str(repo))
    assert (again["examined"], again["recorded"]) == (0, 0)
    assert again["resumed_after"] == shas[-1]
    assert again["first_index"] is None
    assert len(led) == 3

    # A new commit: only it is added.
    c4 = commit(repo, "a.txt", "changed\n", "fourth", 4)
    third = led.import_git(repo, progress=None)
    assert (third["examined"], third["recorded"]) == (1, 1)
    assert led.get(3)["id"] == f"git:{c4}"
    led.verify()


@needs_git
def test_import_git_options_and_refusals(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shas = made_repo(repo)
    with trailseal.Ledger.create(tmp_path / "a.redb", origin="example.com/a") as led:
        r = led.import_git(repo, since=shas[0], name="acme/api", signatures=False, batch=1)
        assert (r["recorded"], r["repository"]) == (2, "acme/api")
        assert led.get(0)["id"] == f"git:{shas[1]}"
        assert led.get(0)["attrs"]["git.repository"] == "acme/api"
        with pytest.raises(trailseal.InvalidArgumentError, match="not a git repository"):
            led.import_git(tmp_path / "nowhere")
        with pytest.raises(trailseal.InvalidArgumentError):
            led.import_git(repo, since="no-such-rev")
        with pytest.raises(trailseal.InvalidArgumentError):
            led.import_git(repo, batch=0)
        assert len(led) == 2
    with trailseal.Ledger.create(tmp_path / "b.redb", origin="example.com/b") as led:
        r = led.import_git(repo, rev=shas[1], batch=1)
        assert (r["recorded"], r["head"]) == (2, shas[1])


@needs_git
def test_import_git_progress_that_raises(led: trailseal.Ledger, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    made_repo(repo)
    calls: List[Tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if done > 0:
            raise KeyError("stop")

    with pytest.raises(KeyError, match="stop"):
        led.import_git(repo, progress=progress, batch=1)
    # Not called again after it raised; the import completed, and is resumable.
    assert calls == [(0, 3), (1, 3)]
    assert len(led) == 3
    assert led.import_git(repo)["recorded"] == 0


# ---- event formats ----------------------------------------------------------------------


def events_of(data: bytes) -> List[Any]:
    """The events of an input, as the core reads it: one document (an array is a list of
    events), or JSON Lines."""
    text = data.decode("utf-8-sig")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return doc if isinstance(doc, list) else [doc]


FORMAT_FILES = [
    (fmt, p.name)
    for fmt, sub in (("cdevents", "cdevents"), ("intoto", "intoto"), ("ocsf", "ocsf"))
    for p in sorted((FIXTURES / sub).iterdir())
    if p.suffix not in (".md", ".pem")
]


def test_every_format_has_fixtures() -> None:
    assert {f for f, _ in FORMAT_FILES} == {"cdevents", "intoto", "ocsf"}
    assert len(FORMAT_FILES) >= 20


@pytest.mark.parametrize("fmt,name", FORMAT_FILES, ids=[f"{f}/{n}" for f, n in FORMAT_FILES])
def test_import_events_of_each_fixture(led: trailseal.Ledger, fmt: str, name: str) -> None:
    data = (FIXTURES / fmt / name).read_bytes()
    originals = events_of(data)
    receipts = led.import_events(fmt, data)
    assert [r.index for r in receipts] == list(range(len(originals)))
    assert all(isinstance(r, trailseal.Receipt) for r in receipts)
    assert receipts[-1].root == led.root()
    for r, original in zip(receipts, originals):
        entry = led.get(r.index)
        assert entry["payload"] == original, "the payload is not the original event"
        assert entry["action"].startswith(fmt)
        assert r.time == entry["time"]


def test_import_events_mapping_and_argument_forms(led: trailseal.Ledger) -> None:
    text = (FIXTURES / "intoto" / "slsa-provenance-v1.statement.json").read_text(encoding="utf-8")
    [r] = led.import_events("in-toto", text)  # str is fine too; "in-toto" is an alias
    e = led.get(r.index)
    assert e["action"] == "intoto.provenance"
    assert e["subject"] == {
        "type": "artifact",
        "id": "sha256:fe4fe40ac7250263c5dbe1cf3138912f3f416140aa248637a60d65fe22c47da4",
    }
    ocsf = (FIXTURES / "ocsf" / "api_activity_cloudtrail_1.1.0.json").read_bytes()
    led.import_events("OCSF", bytearray(ocsf))
    assert len(led) == 2
    with pytest.raises(trailseal.InvalidArgumentError, match="cloudevents"):
        led.import_events("cloudevents", ocsf)
    with pytest.raises(TypeError):
        led.import_events("ocsf", json.loads(ocsf))  # type: ignore[arg-type]
    assert len(led) == 2


def malformed_cases() -> List[Tuple[str, str, str]]:
    good_cd = (FIXTURES / "cdevents" / "ticket_closed.json").read_text(encoding="utf-8")
    good_cd_line = json.dumps(json.loads(good_cd))
    good_ocsf = json.dumps(json.loads((FIXTURES / "ocsf" / "api_activity_cloudtrail_1.1.0.json").read_bytes()))
    return [
        ("cdevents", "", "no event"),
        ("cdevents", '{"context": ', "EOF"),
        ("cdevents", "[1, 2]", "object"),
        ("cdevents", '{"context": {}, "subject": {}}', "context.type"),
        ("cdevents", good_cd.replace("dev.cdevents.ticket.closed.0.1.0", "com.example.ticket"), "not a CDEvents type"),
        ("cdevents", good_cd.replace("2022-11-11T13:52:20.079Z", "yesterday"), "RFC 3339"),
        # One good event, then a broken one: the good one is not written either.
        ("cdevents", f'{good_cd_line}\n{{"context": 1\n', "line 2"),
        ("cdevents", f'{good_cd_line}\n{good_cd_line.replace(chr(34) + "subject" + chr(34), chr(34) + "subjekt" + chr(34))}\n', "event 2 of 2"),
        ("intoto", '{"hello": "world"}', "neither an in-toto Statement"),
        ("intoto", '{"payloadType": "application/vnd.in-toto+json", "payload": "%%%", "signatures": []}', "base64"),
        ("intoto", '{"_type": "https://in-toto.io/Statement/v1", "subject": [], "predicateType": "x"}', "subject"),
        ("ocsf", '{"class_uid": 3001}', "activity_id"),
        ("ocsf", f'[{good_ocsf}, {{"class_uid": 6003, "activity_id": 1}}]', "event 2 of 2"),
        ("ocsf", good_ocsf.replace("1695334972000", "9007199254740993"), "2^53"),
        ("ocsf", good_ocsf + good_ocsf, "trailing"),
    ]


@pytest.mark.parametrize("fmt,data,why", malformed_cases(), ids=[c[2] for c in malformed_cases()])
def test_malformed_events_are_refused_and_nothing_is_written(
    led: trailseal.Ledger, fmt: str, data: str, why: str
) -> None:
    with pytest.raises(trailseal.TrailsealError) as e:
        led.import_events(fmt, data.encode())
    assert isinstance(e.value, (trailseal.MalformedError, trailseal.InvalidEntryError, trailseal.InvalidArgumentError))
    assert why in str(e.value)
    assert len(led) == 0
