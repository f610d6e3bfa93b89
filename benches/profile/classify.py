# Sorts `perf script` samples of a trailseal batch build into phases (see batch.sh): a sample
# belongs to the first phase, in the order below, any frame of its call chain matches.
import sys, re, collections
# Phases in priority order: the first whose pattern matches any frame of a sample takes it.
CATS = [
    ("benchmark input (entry_json, untimed)", r"trailseal_benches::entry_json|trailseal_benches::entries|trailseal_benches::leaf"),
    ("pre-pass: refuse_rotation_entries (action lookups)", r"refuse_rotation_entries"),
    ("pre-pass: repeats_an_id", r"repeats_an_id"),
    ("fsync / page write-out (kernel)", r"fdatasync|fsync|do_fsync|ext4_sync|file_write_and_wait|jbd2"),
    ("redb commit (B-tree pages, checksums, write-out)", r"redb::"),
    ("compression (LZ4 bundles)", r"lz4|bundles::"),
    ("index postings (runs, merges, ids)", r"postings|storage::runs|flush_postings|put_postings|put_id|index_with|terms"),
    ("tree hashing (leaf/node hashes, tiles, roots)", r"sha2::|blake3::|merkle::|Frontier|tiles::|push_hashed_leaf|push_leaf|receipt_roots|hash_leaf|hash_node"),
    ("validation", r"entry::validate|validate::"),
    ("canonical encoding", r"canonical|entry::stored|encode"),
    ("JSON values (serde_json maps, clone, drop)", r"serde_json|indexmap|drop_in_place<serde_json"),
]
def classify(frames):
    on_path = any(re.search(r"trailseal::|redb::", f) for f in frames)
    if not on_path and not any(re.search(CATS[0][1], f) for f in frames):
        return "unattributed (no trailseal frame: input dropped by the benchmark, or a broken stack)"
    for name, pat in CATS:
        for f in frames:
            if re.search(pat, f):
                return name
    if not on_path:
        return "other (not under trailseal)"
    return "other trailseal (allocation, copying, group commit, ...)"
counts = collections.Counter()
threads = collections.Counter()
frames, header = [], None
def flush():
    if header is not None:
        counts[classify(frames)] += 1
for line in sys.stdin:
    if not line.strip():
        flush(); frames, header = [], None; continue
    if not line.startswith((" ", "\t")):
        header = line; continue
    parts = line.strip().split(" ", 1)
    frames.append(parts[1] if len(parts) > 1 else parts[0])
flush()
total = sum(counts.values())
inp = counts.get("benchmark input (entry_json, untimed)", 0) + counts.get("unattributed (no trailseal frame: input dropped by the benchmark, or a broken stack)", 0)
print(f"samples {total}, of which benchmark input or unattributed {inp}; shares of the rest:")
for k, v in counts.most_common():
    if k.startswith(("benchmark input", "unattributed")):
        continue
    print(f"{100*v/(total-inp):5.1f}%  {k}")
if len(sys.argv) > 2:
    hz, entries = float(sys.argv[1]), float(sys.argv[2])
    rest = total - inp
    print(f"CPU on trailseal's path: {rest/hz/entries*1e6:.2f} us per entry ({rest/hz:.2f} s)")
    for k, v in counts.most_common():
        if k.startswith(("benchmark input", "unattributed")):
            continue
        print(f"  {v/hz/entries*1e6:5.2f} us/entry  {k}")
