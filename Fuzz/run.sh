#!/usr/bin/env bash
# Builds Tollgate's fuzz targets (libFuzzer + AddressSanitizer) and runs them. See Docs/fuzzing.md.
#
#   Fuzz/run.sh                      build every target
#   Fuzz/run.sh --regressions        build, then replay Fuzz/FailCases/<target>/ and Fuzz/Corpus/<target>/
#                                    once each, without fuzzing (CI runs this)
#   Fuzz/run.sh --seconds N          build, then fuzz each target for N seconds, one after the other
#                                    (one worker each), and write executions and coverage to
#                                    Fuzz/last-run.md (or --summary FILE)
#   --target NAME                    only this target (repeatable): keys, limits, records, http, operations
#
# New inputs found while fuzzing go to Fuzz/.work/corpus/<target>/ (not committed); crashes to
# Fuzz/artifacts/<target>/. A crash makes the script exit non-zero after the remaining targets ran.
#
# A fuzzer that runs blind must not pass: every build is checked by scripts/check-instrumentation.sh
# (each object has both coverage and AddressSanitizer, each executable __asan_init), and in both
# --regressions and --seconds a target fails when the replay of its committed corpus reaches fewer
# edges than its floor in Fuzz/coverage-floors.txt, or when libFuzzer warns that it finds nothing.
set -euo pipefail
cd "$(dirname "$0")"
fuzz_dir=$PWD

all_targets=(keys limits records http operations)
mode=build
seconds=0
summary="$fuzz_dir/last-run.md"
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --regressions) mode=regressions ;;
    --seconds) mode=fuzz; seconds="${2:?--seconds needs a number}"; shift ;;
    --summary) summary="${2:?--summary needs a file}"; shift ;;
    --target) targets+=("${2:?--target needs a name}"); shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

executable() { # keys → FuzzKeys, http → FuzzHTTP
  local name=$1
  [ "$name" = http ] && { echo FuzzHTTP; return; }
  echo "Fuzz$(tr '[:lower:]' '[:upper:]' <<<"${name:0:1}")${name:1}"
}

options_for() { # libFuzzer options per target
  case "$1" in
    operations) echo "-max_len=512 -timeout=20" ;;
    limits) echo "-max_len=4096 -timeout=10" ;;
    *) echo "-max_len=1024 -timeout=10" ;;
  esac
}

../scripts/ensure-deps.sh
build_start=$(date +%s)
# TOLLGATE_FUZZ_SCRATCH: another build directory (default Fuzz/.build), e.g. for a clean build
# beside a fuzz run that is using the binaries of the default one.
# Both sanitizers in one flag: SwiftPM turns `--sanitize=fuzzer --sanitize=address` into two
# `-sanitize=` flags in an order that changes between builds, and swiftc keeps only the last one, so
# a build had either coverage or AddressSanitizer, never both. `--sanitize=fuzzer` alone is still
# given, for what SwiftPM does for fuzzing besides the flag (it links each executable without
# renaming its entry point, so libFuzzer's `main` runs); the -Xswiftc flag comes after SwiftPM's in
# every swiftc command, so it is the one that counts. C and C++ targets (BoringSSL) get the clang
# equivalent (clang adds `-fsanitize=` values up). scripts/check-instrumentation.sh verifies the result.
build=(swift build --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address)
[ -n "${TOLLGATE_FUZZ_SCRATCH:-}" ] && build+=(--scratch-path "$TOLLGATE_FUZZ_SCRATCH")
"${build[@]}" >&2
bin=$("${build[@]}" --show-bin-path)
echo "run.sh: built the fuzz targets in $(( $(date +%s) - build_start ))s" >&2
executables=()
for target in "${all_targets[@]}"; do executables+=("$(executable "$target")"); done
scripts/check-instrumentation.sh "$bin" "${executables[@]}" || {
  echo "run.sh: the fuzz build is not instrumented for both libFuzzer and AddressSanitizer" >&2; exit 1; }

# A crash must end the process, not hang in Swift's backtracer; Swift's runtime caches look like
# leaks to LeakSanitizer, so leak detection is off.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
# The same Set and Dictionary order in every process, so a crash input replays the same way.
export SWIFT_DETERMINISTIC_HASHING=1

blind_warning='no interesting inputs were found so far'

floor_for() { # the committed minimum of edges (cov) for a replay of Corpus/<target>
  local floor
  floor=$(awk -v t="$1" '$1 == t { print $2 }' coverage-floors.txt 2>/dev/null)
  [ -n "$floor" ] || { echo "run.sh: no coverage floor for $1 in Fuzz/coverage-floors.txt" >&2; return 1; }
  echo "$floor"
}

# Replays Corpus/<target> once (-runs=0) and checks the edges it reached against the floor: a build
# without coverage instrumentation, or one whose corpus no longer reaches the code, fails here.
# Prints the coverage reached; the log is in $2.
replay_corpus() {
  local target=$1 log=$2 exe floor cov
  exe="$bin/$(executable "$target")"
  floor=$(floor_for "$target") || return 1
  # -runs=0: load (run) every input of the corpus once, then stop.
  if ! "$exe" -runs=0 -detect_leaks=0 -artifact_prefix="artifacts/$target/" $(options_for "$target") "Corpus/$target" >"$log" 2>&1; then
    echo "FAIL $target: a corpus input crashes:" >&2; tail -30 "$log" >&2; return 1
  fi
  if grep -q "$blind_warning" "$log"; then
    echo "FAIL $target: libFuzzer says: $(grep -m1 "$blind_warning" "$log")" >&2; return 1
  fi
  cov=$(sed -n 's/^#[0-9]*[[:space:]]*INITED .*cov: \([0-9]*\).*/\1/p' "$log" | tail -1)
  if [ -z "$cov" ]; then
    echo "FAIL $target: the corpus replay printed no coverage (INITED ... cov:):" >&2; tail -10 "$log" >&2; return 1
  fi
  if [ "$cov" -lt "$floor" ]; then
    echo "FAIL $target: the corpus replay reached $cov edges, below the floor of $floor in Fuzz/coverage-floors.txt" >&2
    return 1
  fi
  echo "$cov"
}

case "$mode" in
build) exit 0 ;;

regressions)
  status=0
  # The check above must itself refuse a half-instrumented build (a few seconds: three tiny builds).
  scripts/test-check-instrumentation.sh || status=1
  for target in "${targets[@]}"; do
    exe="$bin/$(executable "$target")"
    mkdir -p "artifacts/$target"
    replayed=0
    start=$(date +%s)
    if [ -d "FailCases/$target" ] && [ -n "$(ls -A "FailCases/$target" 2>/dev/null)" ]; then
      files=("FailCases/$target"/*)
      # Given files (not directories), libFuzzer runs each once and exits.
      if ! "$exe" -detect_leaks=0 -artifact_prefix="artifacts/$target/" "${files[@]}" >"/tmp/tollgate-fuzz-$target.log" 2>&1; then
        echo "FAIL $target: a FailCases input crashes again:" >&2; tail -30 "/tmp/tollgate-fuzz-$target.log" >&2; status=1
      fi
      replayed=$((replayed + ${#files[@]}))
    fi
    cov='?'
    if cov=$(replay_corpus "$target" "/tmp/tollgate-fuzz-$target.log"); then :; else status=1; cov='?'; fi
    replayed=$((replayed + $(ls "Corpus/$target" | wc -l)))
    echo "regressions $target: $replayed inputs replayed in $(( $(date +%s) - start ))s, corpus cov $cov (floor $(floor_for "$target" || echo '?'))"
  done
  if [ $status -eq 0 ]; then echo "fuzz regressions: all replayed, none crashed, every corpus above its coverage floor"; fi
  exit $status
  ;;

fuzz)
  status=0
  rows=()
  for target in "${targets[@]}"; do
    exe="$bin/$(executable "$target")"
    mkdir -p ".work/corpus/$target" "artifacts/$target"
    log=".work/$target.log"
    dict=()
    [ -f "Dictionaries/$target.dict" ] && dict=(-dict="Dictionaries/$target.dict")
    echo "run.sh: fuzzing $target for ${seconds}s" >&2
    result=ok
    # The committed corpus first, alone: its coverage against the floor (the fuzzing run below
    # reads .work too, so its INITED figure is not comparable).
    if ! replay_corpus "$target" ".work/$target.replay.log" >/dev/null; then
      rows+=("| $target | $seconds | - | - | - | - | - | - | blind or below the coverage floor: not fuzzed | $(date -u +%Y-%m-%dT%H:%MZ) |")
      status=1
      continue
    fi
    # One worker; new inputs go to the first corpus directory (.work), the committed seeds are read.
    if ! "$exe" -max_total_time="$seconds" -print_final_stats=1 -detect_leaks=0 $(options_for "$target") "${dict[@]}" \
        -artifact_prefix="artifacts/$target/" ".work/corpus/$target" "Corpus/$target" >"$log" 2>&1; then
      result="crash: $(ls -t "artifacts/$target" | head -1)"
      status=1
      tail -40 "$log" >&2
    fi
    if grep -q "$blind_warning" "$log"; then
      echo "FAIL $target: libFuzzer says: $(grep -m1 "$blind_warning" "$log")" >&2
      result="blind: libFuzzer found no interesting input (coverage missing?)"
      status=1
    fi
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corpus=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$last")
    rows+=("| $target | $seconds | ${executions:-?} | ${per_second:-?} | ${cov:-?} | ${ft:-?} | ${corpus:-?} | ${rss:-?} | $result | $(date -u +%Y-%m-%dT%H:%MZ) |")
    echo "run.sh: $target: ${executions:-?} executions, cov ${cov:-?}, ft ${ft:-?}, $result" >&2
  done
  # Rows of targets not run this time are kept from the previous summary, so one target can be
  # run again (--target) without losing the others' numbers.
  for target in "${all_targets[@]}"; do
    if ! printf '%s\n' "${rows[@]}" | grep -q "^| $target |" && [ -f "$summary" ]; then
      old=$(grep "^| $target |" "$summary" || true)
      [ -n "$old" ] && rows+=("$old")
    fi
  done
  {
    echo "# Last fuzz run"
    echo
    echo "Written by \`Fuzz/run.sh --seconds N\` (last: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'),"
    echo "$(nproc) cores, $(swift --version 2>/dev/null | head -1 | sed 's/ (.*//')). One target at a time, one worker each; debug build"
    echo "with \`-sanitize=fuzzer,address\` (checked on every object). cov: code edges reached, ft: libFuzzer's features"
    echo "(edges with hit counts), corpus: inputs/bytes kept (committed seeds + new ones)."
    echo
    echo "| target | seconds | executions | exec/s | cov | ft | corpus | peak RSS MB | result | finished (UTC) |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for target in "${all_targets[@]}"; do printf '%s\n' "${rows[@]}" | grep "^| $target |" || true; done
  } >"$summary"
  echo "run.sh: summary in $summary" >&2
  exit $status
  ;;
esac
