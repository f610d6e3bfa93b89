"""The shared case table (tests/vectors/cases.json, format in tests/vectors/README.md), replayed
through the Python API: every front end answers each row the same, or the binding grew logic."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest

import trailseal

from conftest import VECTORS

TABLE: Dict[str, Any] = json.loads((VECTORS / "cases.json").read_text(encoding="utf-8"))

# Rows the Python API cannot express, each with the reason. The table's arguments are JSON;
# Python takes a query's filters and a bundle's selection as keyword arguments, so a misspelt
# or mistyped one is refused by Python itself (TypeError) before trailseal sees it.
SKIP: Dict[str, str] = {
    "query: an unknown filter is refused": "a filter is a keyword: Python raises TypeError",
    "bundle: an unknown key": "the selection is keywords: Python raises TypeError",
    "bundle: a negative index": "indexes= is converted to u64 by PyO3: OverflowError",
    "bundle: an index that is not a number": "index= is converted to u64 by PyO3: TypeError",
    "prune: a ledger with committed indexes is refused": "Ledger.create has no committed indexes option",
}

Fixture = Tuple[trailseal.Ledger, trailseal.Ledger, trailseal.Signer]


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    f = TABLE["fixture"]
    d: Path = tmp_path_factory.mktemp("cases")
    entries = trailseal.Ledger.create(d / "entries.redb", origin=f["origin"], hash=f["hash"])
    entries.append_batch(f["entries"])
    raw = trailseal.Ledger.create(d / "raw.redb", origin=f["origin"], hash=f["hash"], raw=True)
    raw.append_raw_batch([leaf.encode() for leaf in f["raw_leaves"]])
    yield entries, raw, trailseal.Signer.from_string(f["signer_key"])
    entries.close()
    raw.close()


def outside(a: Dict[str, Any]) -> Dict[str, Any]:
    """The checkpoint keywords, only the halves the row gives."""
    return {k: a[k] for k in ("checkpoint", "verifier_key") if k in a}


def query(fx: Fixture, a: Dict[str, Any]) -> Any:
    page = fx[0].query(**a["filter"])
    return {"indexes": [f["index"] for f in page["entries"]]}


def bundle(fx: Fixture, a: Dict[str, Any]) -> Any:
    text = fx[0].bundle(**a["selection"], signer=fx[2])
    return {"indexes": [e["index"] for e in json.loads(text)["entries"]]}


def gate(fx: Fixture, a: Dict[str, Any]) -> Any:
    r = fx[0].gate(a["subject"], a["policy"])
    return {"passed": r["passed"], "missed": [q["name"] for q in r["requirements"] if not q["met"]]}


def report(fx: Fixture, a: Dict[str, Any]) -> Any:
    return fx[0].report(**a)


def verify(fx: Fixture, a: Dict[str, Any]) -> Any:
    r = fx[1].verify(**outside(a))
    return {"size": r["size"], "consistent_with_checkpoint": r["consistent_with_checkpoint"]}


def verify_inclusion(fx: Fixture, a: Dict[str, Any]) -> Any:
    leaf = a["leaf"].encode() if "leaf" in a else None
    trailseal.verify_inclusion(a["proof"], leaf, **outside(a))
    return {}


def verify_consistency(fx: Fixture, a: Dict[str, Any]) -> Any:
    trailseal.verify_consistency(a["proof"], **outside(a))
    return {}


def verify_cosigned(fx: Fixture, a: Dict[str, Any]) -> Any:
    c = trailseal.verify_cosigned(a["note"], a["verifier_key"], a["witness_keys"], a.get("quorum"))
    return {"size": c["checkpoint"]["size"], "witnesses": [w["witness"] for w in c["cosignatures"]]}


def verify_timestamp_token(fx: Fixture, a: Dict[str, Any]) -> Any:
    return dict(trailseal.verify_timestamp_token(bytes.fromhex(a["token_hex"]), a["note"], a["ca_pem"]))


def open_(fx: Fixture, a: Dict[str, Any]) -> Any:
    """A new ledger holding the fixture's first entry, opened as the row says, then the first
    entry appended again or every entry queried through the new handle."""
    f = TABLE["fixture"]
    first = f["entries"][0]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "open.redb"
        with trailseal.Ledger.create(path, origin=f["origin"], hash=f["hash"]) as made:
            made.append(first)
        with trailseal.Ledger.open(
            path,
            share=a.get("share"),
            read_only=a.get("read_only", False),
            durable=a.get("durable", True),
        ) as led:
            if a["then"] == "append":
                indexes = [led.append(first).index]
            else:
                indexes = [e["index"] for e in led.query()["entries"]]
            return {"sharing": led.sharing, "read_only": led.read_only, "indexes": indexes}


def rules(fx: Fixture, a: Dict[str, Any]) -> Any:
    """A new ledger: the document published, then each entry appended alone; each entry's
    index or error code, the size after and the version in force."""
    f = TABLE["fixture"]
    with tempfile.TemporaryDirectory() as d:
        with trailseal.Ledger.create(Path(d) / "rules.redb", origin=f["origin"], hash=f["hash"]) as led:
            led.record_refusals = a.get("record_refusals", False)
            led.publish_rules(a["document"], a["publisher"])
            results: List[Any] = []
            for e in a["entries"]:
                try:
                    results.append(led.append(e).index)
                except trailseal.TrailsealError as err:
                    results.append(err.code)
            in_force = led.rules_at()
            return {"results": results, "size": len(led), "version": in_force and in_force["version"]}


def retention(fx: Fixture, a: Dict[str, Any]) -> Any:
    """A new ledger: the retention rules published (if given), the entries appended, each hold
    placed or released in turn, then the plan at `at`."""
    f = TABLE["fixture"]
    with tempfile.TemporaryDirectory() as d:
        with trailseal.Ledger.create(Path(d) / "retention.redb", origin=f["origin"], hash=f["hash"]) as led:
            by = {"actor": a["actor"], "authz": a["authz"]}
            if "document" in a:
                led.publish_retention_rules(a["document"], **by)
            led.append_batch(a["entries"])
            for step in a["holds"]:
                if "place" in step:
                    led.place_hold(step["place"], step["covers"], **by)
                else:
                    led.release_hold(step["release"], **by)
            in_force = led.retention_rules_at()
            return {
                "version": in_force and in_force["version"],
                "holds": led.legal_holds(),
                "plan": led.retention_plan(a["at"]),
            }


def _erase_read(e: Dict[str, Any]) -> Dict[str, Any]:
    erased = e["erased"]["by"] if "erased" in e else None
    return {
        "actor": None if erased is not None else e["actor"]["id"],
        "erased": erased,
        "sealed": e.get("sealed"),
    }


def erase(fx: Fixture, a: Dict[str, Any]) -> Any:
    """A new ledger with the row's personal fields holding its entries (and holds), erased as
    the row selects; the report, what each index in `read` reads as, and the size after."""
    f = TABLE["fixture"]
    with tempfile.TemporaryDirectory() as d:
        with trailseal.Ledger.create(
            Path(d) / "erase.redb", origin=f["origin"], hash=f["hash"], personal=a["personal"]
        ) as led:
            led.append_batch(a["entries"])
            for h in a.get("holds", []):
                led.place_hold(h["place"], h["covers"], actor=a["actor"], authz=a["authz"])
            report = led.erase(
                a["select"],
                reason=a["reason"],
                actor=a["actor"],
                authz=a["authz"],
                legal_basis=a.get("legal_basis"),
                dry_run=a.get("dry_run", False),
            )
            reads = [_erase_read(led.get(i)) for i in a["read"]]
            return {"report": report, "reads": reads, "size": len(led)}


def check_opening(fx: Fixture, a: Dict[str, Any]) -> Any:
    return trailseal.check_opening(a["commitment"], a["salt"], a["value"])


def pruned_message(m: str) -> str:
    """A read error's message as a prune row gives it: from its first "entry ", the time after
    "pruned on " and the 64 hex digits after "leaf hash " replaced by TIME and HASH."""
    m = m[max(m.find("entry "), 0) :]
    at = m.find("pruned on ")
    if at >= 0:
        start = at + len("pruned on ")
        end = m.find(" ", start)
        m = m[:start] + "TIME" + (m[end:] if end >= 0 else "")
    at = m.find("leaf hash ")
    if at >= 0:
        start = at + len("leaf hash ")
        m = m[:start] + "HASH" + m[start + 64 :]
    return m


def prune(fx: Fixture, a: Dict[str, Any]) -> Any:
    """A new ledger: the retention rules published, the entries appended (copies times, then
    `then`), each hold placed or released, pruned at `at`; then a read of each index of `read`."""
    f = TABLE["fixture"]
    with tempfile.TemporaryDirectory() as d:
        with trailseal.Ledger.create(Path(d) / "prune.redb", origin=f["origin"], hash=f["hash"]) as led:
            by = {"actor": a["actor"], "authz": a["authz"]}
            led.publish_retention_rules(a["document"], **by)
            led.append_batch(a["entries"] * a.get("copies", 1))
            if "then" in a:
                led.append_batch(a["then"])
            for step in a.get("holds", []):
                if "place" in step:
                    led.place_hold(step["place"], step["covers"], **by)
                else:
                    led.release_hold(step["release"], **by)
            r = led.prune(a["at"], dry_run=a.get("dry_run", False), **by)
            reads: List[Any] = []
            for i in a.get("read", []):
                try:
                    reads.append({"index": i, "action": led.get(i)["action"]})
                except trailseal.TrailsealError as e:
                    reads.append({"index": i, "error": e.code, "message": pruned_message(str(e))})
            return {
                "count": r["count"],
                "pruned": r["pruned"],
                "records": len(r["records"]),
                "kept": r["kept"],
                "reads": reads,
            }


def rules_check(fx: Fixture, a: Dict[str, Any]) -> Any:
    return trailseal.check_rules(a["document"], a["entry"])


def delivery_report(fx: Fixture, a: Dict[str, Any]) -> Any:
    return fx[0].delivery_report(**a)


CALLS: Dict[str, Callable[[Fixture, Dict[str, Any]], Any]] = {
    "query": query,
    "bundle": bundle,
    "gate": gate,
    "report": report,
    "verify": verify,
    "verify_inclusion": verify_inclusion,
    "verify_consistency": verify_consistency,
    "verify_cosigned": verify_cosigned,
    "verify_timestamp_token": verify_timestamp_token,
    "open": open_,
    "rules": rules,
    "retention": retention,
    "erase": erase,
    "check_opening": check_opening,
    "prune": prune,
    "rules_check": rules_check,
    "delivery_report": delivery_report,
}

ROWS: List[Dict[str, Any]] = TABLE["cases"]


def test_the_lists_name_rows_of_the_table() -> None:
    names = {r["name"] for r in ROWS}
    assert set(SKIP) <= names


@pytest.mark.parametrize("row", ROWS, ids=[r["name"] for r in ROWS])
def test_case(fixture: Fixture, row: Dict[str, Any]) -> None:
    if row["name"] in SKIP:
        pytest.skip(SKIP[row["name"]])
    try:
        got: Dict[str, Any] = {"ok": CALLS[row["call"]](fixture, row["args"])}
    except trailseal.TrailsealError as e:
        got = {"error": e.code}
    assert got == row["expect"]
