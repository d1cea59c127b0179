#!/usr/bin/env bash
# Every benchmark of Docs/benchmarks.md, in one run, in release mode; then writes
# Docs/benchmarks.md and Docs/benchmarks-latency.svg from what it measured.
#
#   Benchmarks/run.sh            the documented full run (1M keys and 10M counters in the scale row)
#   Benchmarks/run.sh --quick    a fast check with smaller numbers (writes the report too; it says so)
#
# Installs what is missing (Debian: liblmdb-dev, pkg-config, redis-server, redis-tools, wrk, valgrind; a
# Python venv under Benchmarks/.work with pinned FastAPI, uvicorn, redis, limits and
# fastapi-limiter 0.1.6 from PyPI), starts every server on 127.0.0.1 on a free port, and stops each
# one again by its PID when it ends, fails or is interrupted. No traffic leaves loopback.
# Every step is bounded by `timeout`. Any failure stops the run with a message and a non-zero exit.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
WORK="$HERE/.work"
RESULTS="$WORK/results"
QUICK=""
[[ "${1:-}" == "--quick" ]] && QUICK="--quick"
MODE=$([[ -n "$QUICK" ]] && echo quick || echo full)

# Sizes and durations.
if [[ -n "$QUICK" ]]; then
    REDIS_N=20000; REDIS_AOF_N=2000; REDIS_AOF_1_N=300; WRK_SECONDS=5; WRK_WARMUP=2; LIMITS_N=20000
else
    REDIS_N=100000; REDIS_AOF_N=20000; REDIS_AOF_1_N=1000; WRK_SECONDS=12; WRK_WARMUP=3; LIMITS_N=100000
fi
WRK_THREADS=2
WRK_CONNECTIONS=32
# The route both HTTP servers are measured on: key check with a scope, cost 5 on the key's two
# limits. (tollgate-demo's /items also carries a 120/minute per-client-IP limit, which a load test
# from one address exhausts at once; /reports has the same semantics on both sides.)
ROUTE=/reports

PIDS=()
TMP="$(mktemp -d "${TMPDIR:-/tmp}/tollgate-bench-run.XXXXXX")"

step() { printf '\n== %s\n' "$*"; }
die() { printf 'Benchmarks/run.sh: FAILED: %s\n' "$*" >&2; exit 1; }

cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP" "$WORK/scale"
    if [[ $status -ne 0 ]]; then echo "Benchmarks/run.sh: stopped with status $status (servers stopped)" >&2; fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stops one server started by this script (by PID) and forgets it.
stop_pid() {
    local pid=$1
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { kill -9 "$pid" 2>/dev/null || true; }
    wait "$pid" 2>/dev/null || true
    local kept=()
    for p in "${PIDS[@]}"; do [[ "$p" != "$pid" ]] && kept+=("$p"); done
    PIDS=("${kept[@]+"${kept[@]}"}")
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until `curl URL` answers (any HTTP status), for at most $2 seconds.
wait_http() {
    local url=$1 seconds=$2 pid=$3
    for _ in $(seq $((seconds * 10))); do
        kill -0 "$pid" 2>/dev/null || die "the server for $url exited (see its log in $RESULTS)"
        curl -s -o /dev/null --max-time 1 "$url" && return 0
        sleep 0.1
    done
    die "no answer from $url after ${seconds}s"
}

mkdir -p "$WORK" "$RESULTS"
rm -f "$RESULTS"/*.json "$RESULTS"/*.txt "$RESULTS"/*.csv "$RESULTS"/*.log
START_TIME=$(date +%s)

# ---------------------------------------------------------------------------------------------
step "Dependencies"
"$ROOT/scripts/ensure-deps.sh"
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-benchmark >/dev/null || missing+=(redis-tools)
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
command -v valgrind >/dev/null || missing+=(valgrind)
if ((${#missing[@]})); then
    echo "installing with apt-get: ${missing[*]}"
    [[ $(id -u) -eq 0 ]] || die "need root to apt-get install ${missing[*]}"
    timeout 600 apt-get update -qq || die "apt-get update"
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]}"
fi
VENV="$WORK/venv"
if ! "$VENV/bin/python" -c 'import fastapi, uvicorn, redis, limits, fastapi_limiter' 2>/dev/null \
    || ! cmp -s "$HERE/python/requirements.txt" "$VENV/requirements.installed"; then
    echo "creating the Python venv in $VENV (pinned: Benchmarks/python/requirements.txt)"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || die "python3 -m venv"
    timeout 600 "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/python/requirements.txt" || die "pip install"
    cp "$HERE/python/requirements.txt" "$VENV/requirements.installed"
fi

# ---------------------------------------------------------------------------------------------
step "Build (release)"
HAVE_DEMO=""
grep -q '"tollgate-demo"' "$ROOT/Package.swift" && HAVE_DEMO=yes
# One build folder (Benchmarks/.build) for the benchmarks and the root package's executables.
timeout 1800 swift build -c release --package-path "$HERE" || die "swift build (Benchmarks package)"
timeout 1800 swift build -c release --package-path "$HERE" --product tollgate || die "swift build --product tollgate"
if [[ -n "$HAVE_DEMO" ]]; then
    timeout 1800 swift build -c release --package-path "$HERE" --product tollgate-demo || die "swift build --product tollgate-demo"
fi
BIN="$HERE/.build/release"
TOLLGATE="$BIN/tollgate"

# ---------------------------------------------------------------------------------------------
step "Engine in process and the LMDB floor (tollgate-bench)"
timeout 600 "$BIN/tollgate-bench" $QUICK --json "$RESULTS/engine.json" | tee "$RESULTS/engine.txt" || die "tollgate-bench"

step "The sliding log against the sliding window (tollgate-bench --strategies)"
timeout 600 "$BIN/tollgate-bench" --strategies $QUICK --json "$RESULTS/strategies.json" | tee "$RESULTS/strategies.txt" \
    || die "tollgate-bench --strategies"

step "Heap allocations per decision (tollgate-bench-allocs, malloc interposer)"
LD_PRELOAD="$BIN/libMallocInterposerSwift.so" timeout 600 "$BIN/tollgate-bench-allocs" $QUICK --json "$RESULTS/allocations.json" \
    | tee "$RESULTS/allocations.txt" || die "tollgate-bench-allocs"

step "Instructions per decision (valgrind --tool=callgrind): authorize against the floor"
rm -rf "$WORK/profile"
timeout 1200 python3 "$HERE/profile.py" "$BIN/tollgate-bench" "$RESULTS/profile.json" "$WORK/profile" | tee "$RESULTS/profile.txt" \
    || die "profile.py"

# ---------------------------------------------------------------------------------------------
step "Redis + the Lua script of fastapi-limiter 0.1.6 (redis-benchmark, EVALSHA)"
rm -rf "$TMP/dl" && mkdir -p "$TMP/dl"
timeout 300 "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$TMP/dl" "fastapi-limiter==0.1.6" || die "pip download fastapi-limiter==0.1.6"
WHEEL="$(ls "$TMP"/dl/fastapi_limiter-0.1.6-*.whl)"
"$VENV/bin/python" "$HERE/python/extract_lua.py" "$WHEEL" > "$TMP/limiter.lua" || die "extract the Lua script"
cp "$TMP/limiter.lua" "$RESULTS/fastapi-limiter-0.1.6.lua"

# Starts redis-server on 127.0.0.1 with the given extra arguments; sets REDIS_PID and REDIS_PORT.
start_redis() {
    local name=$1; shift
    REDIS_PORT=$(free_port)
    mkdir -p "$TMP/redis-$name"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$TMP/redis-$name" --save "" --daemonize no \
        --protected-mode yes --logfile "$RESULTS/redis-$name.log" "$@" &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    for _ in $(seq 100); do
        redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0
        kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server ($name) exited; see $RESULTS/redis-$name.log"
        sleep 0.1
    done
    die "redis-server ($name) did not answer"
}

# redis-benchmark of the limiter script: run_evalsha NAME CLIENTS REQUESTS
run_evalsha() {
    local name=$1 clients=$2 requests=$3
    local sha
    sha=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" SCRIPT LOAD "$(cat "$TMP/limiter.lua")") || die "SCRIPT LOAD"
    [[ "$sha" =~ ^[0-9a-f]{40}$ ]] || die "SCRIPT LOAD answered '$sha'"
    # The script once by hand: it must admit (0) and count.
    local key="fastapi-limiter:bench-key:/items:1:1"
    [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" EVALSHA "$sha" 1 "$key" 1000000000 1000)" == "0" ]] || die "EVALSHA did not admit"
    local before after
    before=$(evalsha_calls)
    timeout 300 redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c "$clients" -n "$requests" --csv \
        EVALSHA "$sha" 1 "$key" 1000000000 1000 > "$RESULTS/redis-$name.csv" || die "redis-benchmark $name"
    cat "$RESULTS/redis-$name.csv"
    # Redis ran the script once per request, without errors.
    after=$(evalsha_calls)
    (( after - before == requests )) || die "redis-benchmark $name: $((after - before)) EVALSHA calls for $requests requests"
    ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" INFO commandstats | grep 'cmdstat_evalsha' | grep -Eq 'failed_calls=[1-9]|rejected_calls=[1-9]' \
        || die "redis-benchmark $name: failed EVALSHA calls"
}

evalsha_calls() {
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p'
}

start_redis memory --appendonly no
run_evalsha memory-1 1 "$REDIS_N"
run_evalsha memory-50 50 "$REDIS_N"
stop_pid "$REDIS_PID"

start_redis aof --appendonly yes --appendfsync always
[[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" CONFIG GET appendfsync | tail -1)" == "always" ]] || die "appendfsync is not always"
run_evalsha aof-1 1 "$REDIS_AOF_1_N"
run_evalsha aof-50 50 "$REDIS_AOF_N"
stop_pid "$REDIS_PID"

# ---------------------------------------------------------------------------------------------
step "Python limits library, in memory (reference)"
timeout 300 "$VENV/bin/python" "$HERE/python/limits_bench.py" "$LIMITS_N" > "$RESULTS/limits.json" || die "limits_bench.py"
cat "$RESULTS/limits.json"

# ---------------------------------------------------------------------------------------------
# wrk against URL with the key: run_wrk NAME URL KEY
run_wrk() {
    local name=$1 url=$2 key=$3
    [[ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $key" "$url")" == "200" ]] || die "$name: $url did not answer 200 with the key"
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$url")" =~ ^40[013]$ ]] || die "$name: $url did not refuse a request without a key"
    timeout $((WRK_WARMUP + 30)) wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${WRK_WARMUP}s" -H "X-API-Key: $key" "$url" > /dev/null \
        || die "wrk warm-up $name"
    timeout $((WRK_SECONDS + 30)) wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" --latency -H "X-API-Key: $key" "$url" \
        > "$RESULTS/wrk-$name.txt" || die "wrk $name"
    cat "$RESULTS/wrk-$name.txt"
    ! grep -q "Non-2xx or 3xx responses" "$RESULTS/wrk-$name.txt" || die "$name: some responses were not 2xx (see $RESULTS/wrk-$name.txt)"
}

step "End to end over HTTP: FastAPI + fastapi-limiter 0.1.6 on Redis (uvicorn), wrk"
start_redis http --appendonly no
API_KEY="bench-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
for workers in 1 2; do
    PORT=$(free_port)
    BENCH_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" BENCH_API_KEY="$API_KEY" \
        "$VENV/bin/uvicorn" fastapi_app:app --app-dir "$HERE/python" --host 127.0.0.1 --port "$PORT" \
        --workers "$workers" --no-access-log --log-level warning > "$RESULTS/uvicorn-$workers.log" 2>&1 &
    UVICORN_PID=$!
    PIDS+=("$UVICORN_PID")
    wait_http "http://127.0.0.1:$PORT/health" 60 "$UVICORN_PID"
    run_wrk "fastapi-$workers" "http://127.0.0.1:$PORT$ROUTE" "$API_KEY"
    stop_pid "$UVICORN_PID"
done
stop_pid "$REDIS_PID"

if [[ -n "$HAVE_DEMO" ]]; then
    step "End to end over HTTP: tollgate-demo (Hummingbird + Tollgate), wrk"
    DEMO_DATA="$TMP/demo-data"
    export TOLLGATE_STORE="$DEMO_DATA"
    "$TOLLGATE" init > /dev/null || die "tollgate init"
    # The same two limits as everywhere else: far too large to be reached.
    "$TOLLGATE" tier set bench --limit second=1000000000/second --limit day=1000000000000/day > /dev/null || die "tollgate tier set"
    DEMO_KEY=$("$TOLLGATE" key create --tier bench --owner bench --scope items:read --scope reports:read 2>/dev/null) \
        || die "tollgate key create"
    unset TOLLGATE_STORE
    for durability in periodic durable; do
        PORT=$(free_port)
        "$BIN/tollgate-demo" --data "$DEMO_DATA" --host 127.0.0.1 --port "$PORT" --durability "$durability" \
            > "$RESULTS/demo-$durability.log" 2>&1 &
        DEMO_PID=$!
        PIDS+=("$DEMO_PID")
        wait_http "http://127.0.0.1:$PORT/health" 60 "$DEMO_PID"
        run_wrk "tollgate-$durability" "http://127.0.0.1:$PORT$ROUTE" "$DEMO_KEY"
        stop_pid "$DEMO_PID"
    done
else
    echo "NOTE: this checkout has no tollgate-demo product yet: the Tollgate side of the HTTP row is not run." >&2
fi

# ---------------------------------------------------------------------------------------------
step "Scale: 10k keys against 1M keys and 10M counters (tollgate-scale)"
rm -rf "$WORK/scale" && mkdir -p "$WORK/scale"
timeout 2400 "$BIN/tollgate-scale" $QUICK --dir "$WORK/scale" --json "$RESULTS/scale.json" | tee "$RESULTS/scale.txt" \
    || die "tollgate-scale"
rm -rf "$WORK/scale"

# ---------------------------------------------------------------------------------------------
step "Report"
{
    echo "mode=$MODE"
    echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
    echo "seconds=$(( $(date +%s) - START_TIME ))"
    echo "kernel=$(uname -sr)"
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
    echo "cores=$(nproc)"
    echo "memory=$(free -g | awk '/Mem:/ {print $2}') GiB"
    echo "filesystem=$(df -T "$WORK" | awk 'NR==2 {print $2}')"
    echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "swift=$(swift --version 2>&1 | head -1)"
    echo "redis=$(redis-server --version | sed 's/ sha=.*//')"
    echo "wrk=$(wrk --version 2>&1 | head -1 | sed 's/ \[.*//')"
    echo "python=$("$VENV/bin/python" --version)"
    echo "pip=$("$VENV/bin/pip" freeze | grep -iE '^(fastapi|fastapi-limiter|uvicorn|redis|limits|starlette)==' | tr '\n' ' ')"
    echo "demo=${HAVE_DEMO:-no}"
    echo "wrk_threads=$WRK_THREADS"
    echo "wrk_connections=$WRK_CONNECTIONS"
    echo "wrk_seconds=$WRK_SECONDS"
    echo "wrk_warmup=$WRK_WARMUP"
    echo "route=$ROUTE"
    echo "redis_n=$REDIS_N"
    echo "redis_aof_n=$REDIS_AOF_N"
    echo "redis_aof_1_n=$REDIS_AOF_1_N"
    echo "limits_n=$LIMITS_N"
    echo "commit=$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- Sources Benchmarks Package.swift || echo '+changes')"
} > "$RESULTS/environment.txt"
python3 "$HERE/report.py" "$RESULTS" "$ROOT/Docs/benchmarks.md" "$ROOT/Docs/benchmarks-latency.svg" || die "report.py"
echo
echo "Wrote Docs/benchmarks.md and Docs/benchmarks-latency.svg ($MODE run, $(( $(date +%s) - START_TIME )) s)."
