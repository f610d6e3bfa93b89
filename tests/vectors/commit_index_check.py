#!/usr/bin/env python3
"""Recompute the committed-index vectors (docs/SPEC.md section 9) from the SPEC's definitions
alone, with hashlib, and compare with tests/vectors/commit-index.json. Exits 1 on a mismatch."""
import hashlib
import json
import struct
import sys


def H(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def key(term):
    kind = term["kind"]
    if kind == "links_to":
        return b"l" + struct.pack(">Q", term["index"])
    byte, names = {
        "actor": (b"a", ["value"]), "via": (b"v", ["value"]), "action": (b"c", ["value"]),
        "subject": (b"s", ["type", "id"]), "attr": (b"t", ["key", "value"]),
        "ref": (b"r", ["value"]), "decision": (b"d", ["value"]), "policy": (b"p", ["value"]),
    }[kind]
    out = byte
    for n in names:
        b = term[n].encode()
        out += struct.pack(">I", len(b)) + b
    return out


def mth(leaves):
    if not leaves:
        return H(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return H(b"\x01", mth(leaves[:k]), mth(leaves[k:]))


def bit(i, d):
    return (i[d // 8] >> (7 - d % 8)) & 1


def smt(pairs, d=0):
    if not pairs:
        return bytes(32)
    if len(pairs) == 1:
        return H(b"\x11", pairs[0][0], pairs[0][1])
    left = [p for p in pairs if bit(p[0], d) == 0]
    right = [p for p in pairs if bit(p[0], d) == 1]
    return H(b"\x12", smt(left, d + 1), smt(right, d + 1))


def main():
    v = json.load(open(sys.argv[1]))
    bad = []
    pairs = []
    for row in v["terms"]:
        k = key(row["term"])
        tid = H(b"\x10", k)
        root = mth([H(b"\x00", struct.pack(">Q", i)) for i in row["list"]])
        value = H(b"\x13", struct.pack(">Q", len(row["list"])), root)
        for name, got in [("key", k), ("term_id", tid), ("list_root", root), ("value", value)]:
            if got.hex() != row[name]:
                bad.append(f"{row['term']}: {name} {got.hex()} != {row[name]}")
        pairs.append((tid, value))
    root = smt(sorted(pairs))
    if root.hex() != v["map_root"]:
        bad.append(f"map_root {root.hex()} != {v['map_root']}")
    print("\n".join(bad) or "ok")
    sys.exit(1 if bad else 0)


main()
