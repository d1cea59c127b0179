#!/usr/bin/env python3
"""Writes Docs/benchmarks.md and its latency chart (SVG, no dependencies) from the results that
Benchmarks/run.sh collected in one run. Every number comes from those files; nothing is typed in.

Usage: report.py RESULTS_DIR OUTPUT_MD OUTPUT_SVG
Fails (exit 1) when a result the report needs is missing or malformed."""
import csv
import html
import json
import math
import os
import re
import sys

results_dir, output_md, output_svg = sys.argv[1:4]


def fail(message):
    sys.exit(f"report.py: {message}")


def path(name):
    return os.path.join(results_dir, name)


def load_json(name):
    try:
        with open(path(name)) as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        fail(f"cannot read {name}: {error}")


environment = {}
with open(path("environment.txt")) as handle:
    for line in handle:
        key, _, value = line.rstrip("\n").partition("=")
        environment[key] = value
quick = environment["mode"] == "quick"

engine = load_json("engine.json")
engine_rows = {row["id"]: row for row in engine["rows"]}
allocations = {row["id"]: row for row in load_json("allocations.json")}
scale = load_json("scale.json")
limits = load_json("limits.json")
profile = load_json("profile.json")
strategies = load_json("strategies.json")
strategy_rows = {row["id"]: row for row in strategies["rows"]}


def redis_csv(name):
    with open(path(f"redis-{name}.csv")) as handle:
        rows = list(csv.DictReader(handle))
    if len(rows) != 1:
        fail(f"redis-{name}.csv: expected one result row")
    row = rows[0]
    return {
        "rps": float(row["rps"]),
        "p50": float(row["p50_latency_ms"]) * 1000,
        "p99": float(row["p99_latency_ms"]) * 1000,
        "avg": float(row["avg_latency_ms"]) * 1000,
    }


redis = {name: redis_csv(name) for name in ["memory-1", "memory-50", "aof-1", "aof-50"]}

UNITS = {"us": 1.0, "ms": 1000.0, "s": 1_000_000.0}


def wrk(name):
    file = path(f"wrk-{name}.txt")
    if not os.path.exists(file):
        return None
    text = open(file).read()

    def duration(value):
        match = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
        if not match:
            fail(f"wrk-{name}.txt: cannot read the duration {value!r}")
        return float(match.group(1)) * UNITS[match.group(2)]

    percentiles = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", text, re.M))
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    total = re.search(r"^\s+(\d+) requests in ([\d.]+)(\w+),", text, re.M)
    if not (rps and total and "50" in percentiles and "99" in percentiles):
        fail(f"wrk-{name}.txt: no requests/s or latency distribution")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "rps": float(rps.group(1)),
        "p50": duration(percentiles["50"]),
        "p99": duration(percentiles["99"]),
        "requests": int(total.group(1)),
        "errors": "none" if not errors else ", ".join(
            f"{kind} {count}" for kind, count in zip(["connect", "read", "write", "timeout"], errors.groups()) if count != "0") or "none",
    }


fastapi = {workers: wrk(f"fastapi-{workers}") for workers in (1, 2)}
if None in fastapi.values():
    fail("the FastAPI wrk results are missing")
demo = {durability: wrk(f"tollgate-{durability}") for durability in ("periodic", "durable")}
have_demo = environment.get("demo") == "yes"
if have_demo and None in demo.values():
    fail("tollgate-demo ran but its wrk results are missing")
best_workers = max(fastapi, key=lambda workers: fastapi[workers]["rps"])
best_fastapi = fastapi[best_workers]


def us(value):
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def rate(value):
    return f"{value:,.0f}"


def ratio(value):
    return f"{value:.2f}×" if value < 10 else f"{value:.1f}×"


# ---------------------------------------------------------------------------------------------
# Targets
targets = []


def target(what, measured_text, goal_text, met, how):
    targets.append((what, measured_text, goal_text, None if met is None else ("met" if met else "**missed**"), how))


periodic = engine_rows["authorize_periodic"]
floor = engine_rows["floor"]
group = engine_rows["durable_group64"]
latency_ratio = redis["memory-1"]["p50"] / periodic["medianMicroseconds"]
target("Tollgate periodic, 1 caller vs Redis + fastapi-limiter script, 1 client (median latency)",
       f"{ratio(latency_ratio)} lower ({us(periodic['medianMicroseconds'])} µs vs {us(redis['memory-1']['p50'])} µs)",
       "≥ 10×", latency_ratio >= 10,
       "Redis p50 of one EVALSHA (one limit) / Tollgate median of one decision (two limits)")
throughput_ratio = group["operationsPerSecond"] / redis["aof-50"]["rps"]
target("Tollgate durable group commit (64 callers) vs Redis `appendfsync always`, 50 clients (throughput)",
       f"{ratio(throughput_ratio)} ({rate(group['operationsPerSecond'])} vs {rate(redis['aof-50']['rps'])} per s)",
       "≥ 2×", throughput_ratio >= 2, "decisions/s / EVALSHA calls/s")
overhead = periodic["medianMicroseconds"] / floor["medianMicroseconds"]
target("Overhead over the raw LMDB floor (median)",
       f"{ratio(overhead)} ({us(periodic['medianMicroseconds'])} µs vs {us(floor['medianMicroseconds'])} µs)",
       "≤ 1.5×", overhead <= 1.5, "authorize, periodic, 1 caller / floor, same flags, same run")
small, large = scale[0], scale[1]
scale_ratio = large["random"]["medianMicroseconds"] / small["random"]["medianMicroseconds"]
target(f"{large['label']} keys + {large['counters']:,} counters vs {small['label']} keys (median latency, random key)",
       f"{ratio(scale_ratio)} ({us(large['random']['medianMicroseconds'])} µs vs {us(small['random']['medianMicroseconds'])} µs)",
       "≤ 1.5×", scale_ratio <= 1.5, "authorize of a random key of all, periodic, 1 caller")
if have_demo:
    http = demo["periodic"]
    rps_ratio = http["rps"] / best_fastapi["rps"]
    p99_ratio = http["p99"] / best_fastapi["p99"]
    target(f"End to end: tollgate-demo (periodic) vs FastAPI + fastapi-limiter ({best_workers} worker{'s' if best_workers > 1 else ''}), requests/s",
           f"{ratio(rps_ratio)} ({rate(http['rps'])} vs {rate(best_fastapi['rps'])})", "≥ 10×", rps_ratio >= 10,
           "wrk, same connections and duration")
    target("End to end: p99 latency", f"{p99_ratio:.3f} of FastAPI's ({us(http['p99'])} µs vs {us(best_fastapi['p99'])} µs)",
           "≤ 1/10", p99_ratio <= 0.1, "wrk --latency")
else:
    target("End to end: tollgate-demo vs FastAPI + fastapi-limiter (requests/s, p99)", "not run: no tollgate-demo in this checkout",
           "≥ 10×, ≤ 1/10", None, "")

# ---------------------------------------------------------------------------------------------
# Chart: median latency per system (log scale), p99 as a whisker.
chart = [
    ("in process", "LMDB floor: key lookup + 2 counter RMW", floor["medianMicroseconds"], floor["p99Microseconds"]),
    ("in process", "Tollgate authorize, periodic, 1 caller", periodic["medianMicroseconds"], periodic["p99Microseconds"]),
    ("in process", "Tollgate peek", engine_rows["peek"]["medianMicroseconds"], engine_rows["peek"]["p99Microseconds"]),
    ("Python", "Python limits, in memory, hit()", limits["hit"]["medianMicroseconds"], limits["hit"]["p99Microseconds"]),
    ("loopback", "Redis EVALSHA (fastapi-limiter script), 1 client", redis["memory-1"]["p50"], redis["memory-1"]["p99"]),
    ("loopback", "Redis EVALSHA, 50 clients", redis["memory-50"]["p50"], redis["memory-50"]["p99"]),
    ("durable", "Tollgate durable, 1 commit per request", engine_rows["durable_single"]["medianMicroseconds"],
     engine_rows["durable_single"]["p99Microseconds"]),
    ("durable", "Redis EVALSHA, appendfsync always, 1 client", redis["aof-1"]["p50"], redis["aof-1"]["p99"]),
    ("durable", "Tollgate durable, 64 callers, group commit", group["medianMicroseconds"], group["p99Microseconds"]),
    ("durable", "Redis EVALSHA, appendfsync always, 50 clients", redis["aof-50"]["p50"], redis["aof-50"]["p99"]),
]
if have_demo:
    chart.append(("HTTP", f"tollgate-demo {environment['route']} (periodic), 32 connections", demo["periodic"]["p50"], demo["periodic"]["p99"]))
    chart.append(("HTTP", f"tollgate-demo {environment['route']} (durable), 32 connections", demo["durable"]["p50"], demo["durable"]["p99"]))
chart.append(("HTTP", f"FastAPI + fastapi-limiter {environment['route']} ({best_workers} worker{'s' if best_workers > 1 else ''}), 32 conn.",
              best_fastapi["p50"], best_fastapi["p99"]))
colors = {"in process": "#2b6cb0", "Python": "#dd6b20", "loopback": "#c53030", "durable": "#2f855a", "HTTP": "#6b46c1"}


def write_svg():
    label_width, bar_left, bar_width, row_height, top = 390, 400, 470, 26, 58
    width = bar_left + bar_width + 30
    height = top + row_height * len(chart) + 60
    lowest = min(min(median for _, _, median, _ in chart), 0.1)
    highest = max(p99 for _, _, _, p99 in chart)
    low_exp, high_exp = math.floor(math.log10(lowest)), math.ceil(math.log10(highest))

    def x(value):
        return bar_left + bar_width * (math.log10(max(value, 10 ** low_exp)) - low_exp) / (high_exp - low_exp)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="20" font-size="15" font-weight="bold">Latency per decision or request: median (bar) and p99 (whisker), '
        f'µs, log scale</text>',
        f'<text x="10" y="38" fill="#555">{html.escape(environment["date"])} · {html.escape(environment["mode"])} run · '
        f'{html.escape(environment["cores"])} cores · one run of Benchmarks/run.sh</text>',
    ]
    for exponent in range(low_exp, high_exp + 1):
        gx = x(10 ** exponent)
        parts.append(f'<line x1="{gx:.1f}" y1="{top - 6}" x2="{gx:.1f}" y2="{top + row_height * len(chart)}" stroke="#ddd"/>')
        label = f"{10 ** exponent:,}" if exponent >= 0 else f"{10 ** exponent:.{-exponent}f}"
        parts.append(f'<text x="{gx:.1f}" y="{top + row_height * len(chart) + 16}" text-anchor="middle" fill="#444">{label}</text>')
    parts.append(f'<text x="{bar_left + bar_width / 2}" y="{top + row_height * len(chart) + 34}" text-anchor="middle" fill="#444">'
                 'microseconds</text>')
    for index, (group_name, label, median, p99) in enumerate(chart):
        y = top + index * row_height
        color = colors[group_name]
        parts.append(f'<text x="{label_width}" y="{y + 16}" text-anchor="end">{html.escape(label)}</text>')
        parts.append(f'<rect x="{bar_left}" y="{y + 5}" width="{max(x(median) - bar_left, 1):.1f}" height="{row_height - 10}" '
                     f'fill="{color}" opacity="0.85"/>')
        parts.append(f'<line x1="{x(median):.1f}" y1="{y + row_height / 2}" x2="{x(p99):.1f}" y2="{y + row_height / 2}" stroke="#222"/>')
        parts.append(f'<line x1="{x(p99):.1f}" y1="{y + 7}" x2="{x(p99):.1f}" y2="{y + row_height - 7}" stroke="#222"/>')
        parts.append(f'<text x="{min(x(p99) + 5, width - 40):.1f}" y="{y + 16}" fill="#333" font-size="11">{us(median)}</text>')
    legend_y = height - 14
    legend_x = 10
    for name, color in colors.items():
        parts.append(f'<rect x="{legend_x}" y="{legend_y - 10}" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{legend_x + 16}" y="{legend_y}">{name}</text>')
        legend_x += 100
    parts.append("</svg>")
    with open(output_svg, "w") as handle:
        handle.write("\n".join(parts) + "\n")


write_svg()

# ---------------------------------------------------------------------------------------------
# The document
out = []
w = out.append
w("# Benchmarks")
w("")
w("<!-- Generated by Benchmarks/run.sh (Benchmarks/report.py) from one run: edit those, not this file. -->")
w("")
w("Tollgate side by side with the LMDB floor, Redis running fastapi-limiter's script, and a FastAPI app, all measured in")
w("**one run** of one command on one machine. The machine is shared and noisy: compare the ratios measured within a run,")
w("not absolute times across runs.")
w("")
w("```sh")
w("Benchmarks/run.sh            # everything, release mode; writes this file and Docs/benchmarks-latency.svg")
w("Benchmarks/run.sh --quick    # a fast check with smaller sizes (10k vs 100k keys, 1M counters; shorter runs)")
w("```")
w("")
if quick:
    w("> **This is a `--quick` run** (smaller sizes and shorter runs): rerun without `--quick` for the documented numbers.")
    w("")
w(f"Run on {environment['date']} ({environment['mode']} run, {int(environment['seconds']) // 60} min {int(environment['seconds']) % 60} s), "
  f"commit `{environment['commit']}`.")
w("")
w("| machine and versions | |")
w("|---|---|")
w(f"| CPU | {environment['cpu']}, {environment['cores']} cores, {environment['memory']} (load average at the end: {environment['load']}) |")
w(f"| OS | {environment['os']}, {environment['kernel']}, {environment['filesystem']} |")
w(f"| Swift | {environment['swift']} |")
w(f"| LMDB | {engine['lmdbVersion']} |")
w(f"| Redis | {environment['redis']} (Debian package) |")
w(f"| wrk | {environment['wrk']} (Debian package) |")
w(f"| Python | {environment['python']}; {environment['pip'].strip()} |")
w("")
w("## Summary")
w("")
w("| target | measured | target | result |")
w("|---|---|---|---|")
for what, measured_text, goal_text, verdict, how in targets:
    w(f"| {what} | {measured_text} | {goal_text} | {verdict or 'not measured'} |")
w("")
w("![Latency per system](benchmarks-latency.svg)")
w("")

w("## 1. Engine, in process")
w("")
w(f"`Benchmarks/.build/release/tollgate-bench` (allocations: `tollgate-bench-allocs`). A key on a tier with two limits (fixed window")
w(f"per second + UTC calendar day, both far too large to be reached, so every decision is allowed and writes both counters).")
w(f"{engine['samplesPerRow']:,} timed calls per row after 200 untimed ones; one commit per request: "
  f"{engine_rows['durable_single']['operations']:,}; group commit: {engine['groupCallers']} concurrent tasks × "
  f"{engine['groupPerCaller']} decisions (async API).")
w("")
w("| benchmark | median µs | p99 µs | ops/s | heap allocations per op | bytes allocated per op |")
w("|---|---:|---:|---:|---:|---:|")
for row_id in ["authorize_periodic", "authorize_periodic_async", "peek", "reject_malformed", "reject_over_limit",
               "durable_single", "durable_group64", "floor", "floor_sha256", "authorize_periodic_hourly"]:
    row = engine_rows[row_id]
    allocation = allocations.get(row_id)
    counted = (f"{allocation['mallocsPerOperation']:.1f} | {allocation['bytesPerOperation']:,.0f}" if allocation
               else "not counted | ")
    w(f"| {row['name']} | {us(row['medianMicroseconds'])} | {us(row['p99Microseconds'])} | {rate(row['operationsPerSecond'])} | "
      f"{counted} |")
w("")
w("- *periodic*: `MDB_NOSYNC`, a background sync every 100 ms. The synchronous `authorize` runs its own write transaction on")
w("  the calling thread; the async one hands the request to the group-commit writer thread and resumes the caller (the")
w("  difference is the thread hand-off, not storage work).")
w("- *durable, group commit*: 64 concurrent callers share transactions and fsyncs; the latency is each caller's wait.")
w(f"- Group commit: **{ratio(group['operationsPerSecond'] / engine_rows['durable_single']['operationsPerSecond'])}** the throughput of")
w("  one commit and fsync per request.")
w("- Heap allocations: every `malloc`/`calloc`/`realloc`/`posix_memalign` of the process (all threads) counted by")
w("  ordo-one's malloc-interposer 1.6.1 (`LD_PRELOAD`), in a separate run of the same workloads, so timings are taken")
w("  without it. The group-commit count includes the 64 tasks and the task group. Without counting LMDB's own: an empty")
w(f"  write transaction allocates {allocations['floor_empty_write']['mallocsPerOperation']:.1f} time(s).")
w("")

w("## 2. The floor")
w("")
w(f"The same storage work as one allowed decision, directly on `TollgateLMDB` (exported for this as a library product), same")
w(f"flags (`MDB_NOSYNC`): in one write transaction, look up the key record (stored under the SHA-256 of a real key,")
w(f"{engine['keyRecordBytes']} bytes, the size of Tollgate's record for the benchmark key) and read-modify-write two 26-byte")
w(f"counters (the size of Tollgate's window counter record) under Tollgate-shaped counter keys. It allocates nothing itself")
w(f"(raw buffers), decodes nothing, keeps no usage ledger and does not hash the presented key.")
w("")
w("| | median µs | ratio to authorize |")
w("|---|---:|---:|")
w(f"| LMDB floor | {us(floor['medianMicroseconds'])} | **{ratio(overhead)}** |")
floor_sha = engine_rows["floor_sha256"]
w(f"| LMDB floor + SHA-256 of the presented key | {us(floor_sha['medianMicroseconds'])} | "
  f"{ratio(periodic['medianMicroseconds'] / floor_sha['medianMicroseconds'])} |")
hourly = engine_rows["authorize_periodic_hourly"]
w(f"| authorize with the background sync only hourly (vs the floor) | {us(hourly['medianMicroseconds'])} | "
  f"{ratio(hourly['medianMicroseconds'] / floor['medianMicroseconds'])} |")
w("")
w("The four rows are measured in alternating blocks of equal size (50 rounds), so the machine's changing load falls on")
w("them alike. The last row is a diagnostic: the same decisions on a store whose background `fdatasync` runs hourly")
w("instead of every 100 ms, to show how much of the overhead the periodic sync's contention with the writer explains.")
w("")
w("What a decision does beyond the floor: parse and checksum the key, SHA-256 it, decode the key record and tier (both")
w("cached), evaluate the limits, encode the counter records, a third read-modify-write (the daily usage ledger), and build")
w("the `Decision` (statuses per limit, key identity, receipt).")
w("")
w("### Where the instructions go (callgrind)")
w("")
instruction_ratio = profile["authorizeInstructions"] / profile["floorInstructions"]
w(f"Instructions per decision counted by `valgrind --tool=callgrind` (`Benchmarks/profile.py`: {profile['decisions']:,} decisions,")
w("setup subtracted). Unlike times, these counts do not move with the machine's load; they leave out what the kernel does")
w("(LMDB's `pwrite` at commit) and memory stalls, which is why the time ratio is smaller than the instruction ratio.")
w("")
w(f"| | instructions per decision | ratio to the floor |")
w("|---|---:|---:|")
w(f"| authorize, periodic, 1 caller | {profile['authorizeInstructions']:,.0f} | **{ratio(instruction_ratio)}** |")
w(f"| LMDB floor | {profile['floorInstructions']:,.0f} | 1.00× |")
w(f"| LMDB floor + SHA-256 | {profile['floorSha256Instructions']:,.0f} | "
  f"{ratio(profile['floorSha256Instructions'] / profile['floorInstructions'])} |")
w("")
w("Inside one authorize (inclusive counts: a function's callees are in its number, so the rows overlap and do not add up):")
w("")
w("| part of authorize | instructions per decision | in the floor |")
w("|---|---:|---:|")
floor_parts = {part["what"]: part["instructions"] for part in profile["floorParts"]}
for part in profile["parts"]:
    in_floor = floor_parts.get(part["what"])
    seen = f"{part['instructions']:,.0f}" if part["instructions"] > 0 else "not seen (inlined or renamed)"
    w(f"| {part['what']} | {seen} | {'' if in_floor is None else f'{in_floor:,.0f}'} |")
w("")

w("## 3. Peer 1: Redis with fastapi-limiter's script")
w("")
w("The rate-limit Lua script of `fastapi-limiter` 0.1.6, extracted at run time from the wheel downloaded from PyPI")
w("(`FastAPILimiter.lua_script`; not committed), loaded with `SCRIPT LOAD` into a `redis-server` started by the script on")
w("127.0.0.1, and driven by `redis-benchmark` with `EVALSHA` (the same call fastapi-limiter makes per limit per request).")
w("One `EVALSHA` checks **one** limit: a request with two limits, as fastapi-limiter runs them, makes two sequential round")
w("trips. The ratios below compare one Tollgate decision (two limits) against **one** `EVALSHA`, Redis's best case.")
w("")
w("| Redis configuration | clients | requests | EVALSHA/s | p50 µs | p99 µs |")
w("|---|---:|---:|---:|---:|---:|")
for name, label, clients, count in [("memory-1", "no persistence", 1, "redis_n"), ("memory-50", "no persistence", 50, "redis_n"),
                                    ("aof-1", "`appendonly yes`, `appendfsync always`", 1, "redis_aof_1_n"),
                                    ("aof-50", "`appendonly yes`, `appendfsync always`", 50, "redis_aof_n")]:
    r = redis[name]
    w(f"| {label} | {clients} | {int(environment[count]):,} | {rate(r['rps'])} | {us(r['p50'])} | {us(r['p99'])} |")
w("")
w(f"- Latency: Tollgate periodic, 1 caller, median {us(periodic['medianMicroseconds'])} µs vs one EVALSHA from 1 client, p50")
w(f"  {us(redis['memory-1']['p50'])} µs: **{ratio(latency_ratio)}** lower (target ≥ 10×). Against two EVALSHAs, as a two-limit")
w(f"  request costs fastapi-limiter: about {ratio(2 * latency_ratio)}.")
w(f"- Durable throughput: Tollgate group commit {rate(group['operationsPerSecond'])} decisions/s vs Redis `appendfsync always`,")
w(f"  50 clients, {rate(redis['aof-50']['rps'])} EVALSHA/s: **{ratio(throughput_ratio)}** (target ≥ 2×).")
single = engine_rows["durable_single"]
w(f"- The durable rows of both systems ran minutes apart, and the fsync latency of this shared machine's disk moves by an")
w(f"  order of magnitude within minutes. The indicator, from this run: one Tollgate commit per request (an `fdatasync` of")
w(f"  the data plus the meta page written through LMDB's `O_DSYNC` descriptor: two device flushes) took a median of")
w(f"  {us(single['medianMicroseconds'])} µs; one Redis `appendfsync always` write from 1 client (one `fdatasync`) "
  f"{us(redis['aof-1']['p50'])} µs, i.e. {single['medianMicroseconds'] / redis['aof-1']['p50']:.1f}× (two flushes against one would be about 2×).")
w("- redis-benchmark reports latency in milliseconds with three decimals (1 µs resolution).")
w("")

w("## 4. Peer 2: end to end over HTTP")
w("")
w(f"`wrk -t{environment['wrk_threads']} -c{environment['wrk_connections']} -d{environment['wrk_seconds']}s --latency "
  f"-H 'X-API-Key: …' http://127.0.0.1:PORT{environment['route']}`, after a {environment['wrk_warmup']} s warm-up with the same settings.")
w("Both servers and wrk share the machine's cores. Every response must be a 2xx (the script fails otherwise), and before")
w("the load each server must answer 200 with the key and 400/401/403 without one.")
w("")
w(f"The route is `{environment['route']}` on both sides: the key from `X-API-Key`, the scope `reports:read`, a cost of 5 on the")
w("key's two limits (per second and per UTC day, far too large to be reached). tollgate-demo's `/items` is not used: it")
w("also carries a 120/minute limit per client IP, which a load test from one address exhausts at once.")
w("")
w("- **tollgate-demo** (`Sources/TollgateDemo`): Hummingbird + the Tollgate middleware; the tier and a key with both")
w("  scopes are made with the `tollgate` CLI in the demo's data directory before it starts; run once `periodic`, once")
w("  `durable` (the middleware uses the async API: concurrent requests share group commits).")
w("- **FastAPI** (`Benchmarks/python/fastapi_app.py`): API-key header check with scopes + fastapi-limiter 0.1.6 on Redis")
w("  (no persistence, 127.0.0.1), two `RateLimiter`s per route, per key (a cost of 5 of N is one hit of N/5: the same")
w("  admissions, one `EVALSHA` per limit); served by uvicorn with 1 and with 2 workers; the better one is compared.")
w("")
w("| server | requests/s | p50 µs | p99 µs | requests | socket errors |")
w("|---|---:|---:|---:|---:|---|")
if have_demo:
    for durability in ("periodic", "durable"):
        d = demo[durability]
        w(f"| tollgate-demo, {durability} | {rate(d['rps'])} | {us(d['p50'])} | {us(d['p99'])} | {d['requests']:,} | {d['errors']} |")
else:
    w("| tollgate-demo | not run: this checkout has no `tollgate-demo` product yet | | | | |")
for workers in (1, 2):
    f = fastapi[workers]
    best = " (better)" if workers == best_workers else ""
    w(f"| FastAPI + fastapi-limiter, uvicorn {workers} worker{'s' if workers > 1 else ''}{best} | {rate(f['rps'])} | {us(f['p50'])} | "
      f"{us(f['p99'])} | {f['requests']:,} | {f['errors']} |")
w("")
if have_demo:
    w(f"Ratios (tollgate-demo periodic vs FastAPI, {best_workers} worker{'s' if best_workers > 1 else ''}): requests/s "
      f"**{ratio(demo['periodic']['rps'] / best_fastapi['rps'])}** (target ≥ 10×), p99 "
      f"**{demo['periodic']['p99'] / best_fastapi['p99']:.3f}** of FastAPI's (target ≤ 0.1).")
    w("")
w(f"Reference, in process: the Python `limits` library ({limits['hit']['operations']:,} calls, `MemoryStorage`, fixed window):")
w("")
w("| limits, in memory | median µs | p99 µs | calls/s |")
w("|---|---:|---:|---:|")
w(f"| one `hit()` | {us(limits['hit']['medianMicroseconds'])} | {us(limits['hit']['p99Microseconds'])} | "
  f"{rate(limits['hit']['operationsPerSecond'])} |")
w(f"| two `hit()`s (two limits, as one decision) | {us(limits['twoLimits']['medianMicroseconds'])} | "
  f"{us(limits['twoLimits']['p99Microseconds'])} | {rate(limits['twoLimits']['operationsPerSecond'])} |")
w("")

w("## 5. Scale")
w("")
w("`Benchmarks/.build/release/tollgate-scale`: a small store against a large one, in one run. How they are filled:")
w("")
w("- keys through the public API (`Store.createKey`, one write transaction each with its audit event and indexes);")
w("- counters through `TollgateLMDB` with Tollgate's real record encodings, in write transactions of 50,000 puts, in random")
w("  key order: every key's own two counters, plus counters of a per-client limit (`client=<random>` subjects) up to the")
w("  total. A decision must then count the preloaded day counter, and `statistics()` must see every counter and key, or")
w("  the run fails;")
w("- the loaded store is compacted (`Store.backup(to:compact: true)`, page for page): the load's large transactions leave")
w("  a long LMDB free list that a store grown one decision at a time does not have, and that slows every later commit")
w("  (without this step, decisions in the large store were several times slower until the free list was used up);")
w("- every key then decides once, untimed (so each has its usage record); the timed decisions pick a key at random from")
w("  all of them (the decoded-record cache holds 16,384 keys: the large store misses it), then one key again and again.")
w("")
w("| store | keys | counters | authorize median µs (random key) | p99 µs | median µs (one key) | open ms | file MiB |")
w("|---|---:|---:|---:|---:|---:|---:|---:|")
for s in scale:
    w(f"| {s['label']} | {s['keys']:,} | {s['counters']:,} | {us(s['random']['medianMicroseconds'])} | "
      f"{us(s['random']['p99Microseconds'])} | {us(s['hot']['medianMicroseconds'])} | {s['openMilliseconds']:.2f} | "
      f"{s['fileBytes'] / 2**20:,.0f} |")
w("")
w("| store | bytes per key (keys + keyIDs + owners tables) | with its audit event and usage record | bytes per counter | "
  "load: keys s | counters s | compact s | every key once s |")
w("|---|---:|---:|---:|---:|---:|---:|---:|")
for s in scale:
    w(f"| {s['label']} | {s['bytesPerKey']:.0f} | {s['bytesPerKeyWithAuditAndUsage']:.0f} | {s['bytesPerCounter']:.1f} | "
      f"{s['loadKeysSeconds']:.1f} | {s['loadCountersSeconds']:.1f} | {s['compactSeconds']:.1f} | {s['warmSeconds']:.1f} |")
w("")
w(f"Latency ratio {large['label']} / {small['label']} (median, random key): **{ratio(scale_ratio)}** (target ≤ 1.5×); one key: "
  f"{ratio(large['hot']['medianMicroseconds'] / small['hot']['medianMicroseconds'])}. Bytes are B-tree pages × page size per table;")
w("open time is the median of five `Store(options:)` calls on the full store.")
w("")

w("## 6. Sliding log against sliding window")
w("")
w("`tollgate-bench --strategies`: one key on a one-limit tier per row, `q` per minute, periodic durability; the clock moves")
w("`W / q` before each decision, so the sliding log holds `q` entries at every decision (one leaves, one enters) and every")
w(f"decision is admitted and writes its counter. Interleaved blocks, {strategies['samplesPerRow']:,} decisions per row. Record bytes are")
w("the counter's value in the `counters` table after the run (Docs/limits.md, \"Sliding log\"). The sliding window's limit is `2q`:")
w("under requests exactly `W / q` apart its estimate sits at `q` and would refuse; its state and cost do not depend on `q`.")
w("")
w("| strategy | q | authorize median µs | p99 µs | ops/s | counter record bytes | median vs sliding window |")
w("|---|---:|---:|---:|---:|---:|---:|")
for quantity in (100, 1000):
    window_row = strategy_rows[f"sliding_{quantity}"]
    for label, prefix in (("sliding window", "sliding"), ("sliding log", "sliding_log")):
        row = strategy_rows[f"{prefix}_{quantity}"]
        w(f"| {label} | {quantity:,} | {us(row['medianMicroseconds'])} | {us(row['p99Microseconds'])} | {rate(row['operationsPerSecond'])} | "
          f"{strategies['counterRecordBytes'][f'{prefix}_{quantity}']:,} | {ratio(row['medianMicroseconds'] / window_row['medianMicroseconds'])} |")
w("")

w("## Exact commands")
w("")
w("What `Benchmarks/run.sh` runs (ports are free ones picked at run time; every server is stopped by its PID at the end):")
w("")
w("```sh")
w("scripts/ensure-deps.sh; apt-get install -y redis-server redis-tools wrk      # only when missing")
w("python3 -m venv Benchmarks/.work/venv && Benchmarks/.work/venv/bin/pip install -r Benchmarks/python/requirements.txt")
w("swift build -c release --package-path Benchmarks")
w("swift build -c release --package-path Benchmarks --product tollgate" + ("   # and --product tollgate-demo" if have_demo else ""))
w(f"Benchmarks/.build/release/tollgate-bench{' --quick' if quick else ''} --json …/engine.json")
w(f"Benchmarks/.build/release/tollgate-bench --strategies{' --quick' if quick else ''} --json …/strategies.json")
w(f"LD_PRELOAD=Benchmarks/.build/release/libMallocInterposerSwift.so Benchmarks/.build/release/tollgate-bench-allocs{' --quick' if quick else ''}")
w("pip download --no-deps fastapi-limiter==0.1.6; python Benchmarks/python/extract_lua.py fastapi_limiter-0.1.6-*.whl > limiter.lua")
w("redis-server --bind 127.0.0.1 --port P --save '' --appendonly no        # then: --appendonly yes --appendfsync always")
w("redis-cli -p P SCRIPT LOAD \"$(cat limiter.lua)\"")
w(f"redis-benchmark -h 127.0.0.1 -p P -c 1 -n {int(environment['redis_n'])} --csv EVALSHA SHA 1 fastapi-limiter:bench-key:/items:1:1 1000000000 1000")
w(f"redis-benchmark … -c 50 -n {int(environment['redis_n'])} …; with appendfsync always: -c 1 -n {int(environment['redis_aof_1_n'])}, "
  f"-c 50 -n {int(environment['redis_aof_n'])}")
w(f"python Benchmarks/python/limits_bench.py {int(environment['limits_n'])}")
w("BENCH_REDIS_URL=redis://127.0.0.1:P/0 BENCH_API_KEY=… uvicorn fastapi_app:app --app-dir Benchmarks/python \\")
w("    --host 127.0.0.1 --port Q --workers 1   # and 2")
if have_demo:
    w("TOLLGATE_STORE=D tollgate init; tollgate tier set bench --limit second=1000000000/second --limit day=1000000000000/day")
    w("TOLLGATE_STORE=D tollgate key create --tier bench --owner bench --scope items:read --scope reports:read")
    w("tollgate-demo --data D --host 127.0.0.1 --port Q --durability periodic   # and durable")
w(f"wrk -t{environment['wrk_threads']} -c{environment['wrk_connections']} -d{environment['wrk_warmup']}s -H 'X-API-Key: …' URL   # warm-up")
w(f"wrk -t{environment['wrk_threads']} -c{environment['wrk_connections']} -d{environment['wrk_seconds']}s --latency -H 'X-API-Key: …' URL")
w(f"Benchmarks/.build/release/tollgate-scale{' --quick' if quick else ''} --dir Benchmarks/.work/scale --json …/scale.json")
w("```")
w("")
w("Raw outputs of the last run stay in `Benchmarks/.work/results/` (not committed).")

with open(output_md, "w") as handle:
    handle.write("\n".join(out) + "\n")

print("\n".join(["| target | measured | target | result |", "|---|---|---|---|"]
                + [f"| {a} | {b} | {c} | {d or 'not measured'} |" for a, b, c, d, _ in targets]))
