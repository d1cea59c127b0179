#!/usr/bin/env python3
"""Instructions per decision, with valgrind's callgrind: authorize (periodic, 1 caller) against the
LMDB floor, and where authorize's instructions go. Instruction counts do not depend on what else
the machine is doing, so this ratio is the noise-free companion of the timed one.

Usage: profile.py TOLLGATE_BENCH_BINARY OUTPUT_JSON [WORK_DIR]

Each workload runs twice (SMALL and LARGE decisions after the same setup); the difference divided by
LARGE - SMALL is the cost of one decision, setup excluded. valgrind 3.19 cannot read the DWARF 5
debug info of Swift 6 binaries, so it profiles a copy with the debug info stripped (symbols stay)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

binary, output = sys.argv[1], sys.argv[2]
work = sys.argv[3] if len(sys.argv) > 3 else tempfile.mkdtemp(prefix="tollgate-profile-")
os.makedirs(work, exist_ok=True)
SMALL, LARGE = 2_000, 12_000

stripped = os.path.join(work, "tollgate-bench.stripped")
shutil.copy(binary, stripped)
subprocess.run(["strip", "--strip-debug", stripped], check=True)


def callgrind(workload, count):
    out = os.path.join(work, f"callgrind.{workload}.{count}.out")
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", stripped, "--profile", workload, str(count)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
    annotated = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out], check=True,
                               capture_output=True, text=True).stdout
    demangled = subprocess.run(["swift", "demangle", "--simplified"], input=annotated, check=True, capture_output=True,
                               text=True).stdout
    totals = re.search(r"^\s*([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", demangled, re.M)
    if not totals:
        sys.exit(f"profile.py: no totals in the callgrind output of {workload}")
    functions = {}
    for match in re.finditer(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(?:\S*?:)?(.+?) \[(.+)\]$", demangled, re.M):
        cost, name = int(match.group(1).replace(",", "")), match.group(2)
        functions[name] = max(cost, functions.get(name, 0))  # recursion and duplicates: the largest inclusive cost
    return int(totals.group(1).replace(",", "")), functions


def per_decision(workload):
    small_total, small = callgrind(workload, SMALL)
    large_total, large = callgrind(workload, LARGE)
    scale = LARGE - SMALL
    names = set(small) | set(large)
    return (large_total - small_total) / scale, {name: (large.get(name, 0) - small.get(name, 0)) / scale for name in names}


floor_total, floor_functions = per_decision("floor")
floor_sha_total, _ = per_decision("floor-sha256")
authorize_total, functions = per_decision("authorize")


def cost(*patterns, of=None):
    """The largest per-decision inclusive cost among functions whose name matches one of the patterns."""
    best = 0.0
    for name, value in (of or functions).items():
        if any(re.search(pattern, name) for pattern in patterns):
            best = max(best, value)
    return best


def summed(*patterns):
    """Summed per-decision inclusive cost of every function whose name matches (for leaves only)."""
    return sum(value for name, value in functions.items() if any(re.fullmatch(pattern, name) for pattern in patterns))


parts = [
    ("key parse and checksum (KeyFormat.parse)", cost(r"KeyFormat\.parse")),
    ("SHA-256 of the key (KeyHasher.hash)", cost(r"^KeyHasher\.hash")),
    ("LMDB: mdb_get", cost(r"^mdb_get$")),
    ("LMDB: mdb_put", cost(r"^mdb_put$")),
    ("LMDB: mdb_txn_begin + mdb_txn_commit", cost(r"^mdb_txn_begin$") + cost(r"^mdb_txn_commit$")),
    ("Swift runtime: generic metadata look-ups at run time (swift_getCanonicalPrespecializedGenericMetadata, at least)",
     cost(r"^swift_getCanonicalPrespecializedGenericMetadata$", r"^_swift_getGenericMetadata\(")),
    ("limiter arithmetic (LimiterAlgorithm.evaluate)", cost(r"^LimiterAlgorithm\.evaluate")),
    ("decoded-record cache (DecodedRecordCache.value)", cost(r"DecodedRecordCache\.value")),
    ("recent-denial check (DenialMemo.isDenied)", cost(r"^DenialMemo\.isDenied")),
    ("dictionary look-ups (RawDictionaryStorage.find, hashing)", cost(r"RawDictionaryStorage\.find")),
    ("writes: encode and put counters, key, usage (Store.apply)", cost(r"^Store\.apply")),
    ("malloc + free (libc)", summed(r"malloc", r"free")),
    ("swift_retain + swift_release (with deallocation)", summed(r"swift_retain", r"swift_release")),
    ("destroying the Decision", cost(r"^destroy for Decision$")),
]
floor_parts = [
    ("LMDB: mdb_get", cost(r"^mdb_get$", of=floor_functions)),
    ("LMDB: mdb_put", cost(r"^mdb_put$", of=floor_functions)),
    ("LMDB: mdb_txn_begin + mdb_txn_commit", cost(r"^mdb_txn_begin$", of=floor_functions) + cost(r"^mdb_txn_commit$", of=floor_functions)),
    ("Swift runtime: generic metadata look-ups at run time (swift_getCanonicalPrespecializedGenericMetadata, at least)",
     cost(r"^swift_getCanonicalPrespecializedGenericMetadata$", r"^_swift_getGenericMetadata\(", of=floor_functions)),
]
result = {
    "decisions": LARGE - SMALL,
    "floorInstructions": floor_total,
    "floorSha256Instructions": floor_sha_total,
    "authorizeInstructions": authorize_total,
    "parts": [{"what": what, "instructions": value} for what, value in parts],
    "floorParts": [{"what": what, "instructions": value} for what, value in floor_parts],
}
with open(output, "w") as handle:
    json.dump(result, handle, indent=2)
print(f"instructions per decision: authorize {authorize_total:,.0f}, floor {floor_total:,.0f}, floor + SHA-256 {floor_sha_total:,.0f}"
      f" → {authorize_total / floor_total:.2f}× the floor")
floor_by_name = dict(floor_parts)
for what, value in parts:
    floor_value = floor_by_name.get(what)
    print(f"  {value:>10,.0f}  {'' if floor_value is None else f'(floor {floor_value:,.0f})  '}{what}")
