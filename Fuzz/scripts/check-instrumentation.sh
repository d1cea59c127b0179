#!/usr/bin/env bash
# Checks that a fuzz build carries both libFuzzer coverage and AddressSanitizer, on the objects and
# on the executables. Fuzz/run.sh runs it after every build; see Docs/fuzzing.md.
#
#   Fuzz/scripts/check-instrumentation.sh BIN_DIR EXECUTABLE...
#
# Why on the objects: swiftc honours only the last `-sanitize=` flag it is given, so a build can link
# the ASan runtime (the executable has `__asan_init`) while no object is instrumented for it, or
# carry `__sancov_*` sections with no ASan check in them. Each compiled object must show both:
# a reference to the ASan runtime (`__asan_*`: every instrumented module calls `__asan_init` from
# its constructor) and a SanitizerCoverage section (`__sancov_cntrs`, libFuzzer's 8-bit counters,
# or `__sancov_guards`, listed by objdump -h). Assembly (BoringSSL's .S files) cannot be
# instrumented and is skipped, as are objects that define no function (nothing to instrument).
set -euo pipefail

bin=${1:?usage: check-instrumentation.sh BIN_DIR EXECUTABLE...}
shift
[ $# -gt 0 ] || { echo "check-instrumentation: no executable named" >&2; exit 64; }
for tool in nm objdump; do
  command -v "$tool" >/dev/null 2>&1 || { echo "check-instrumentation: $tool is missing (binutils)" >&2; exit 1; }
done

# Symbol lists are read into variables before grep: with pipefail, `nm | grep -q` fails when grep
# stops reading early and nm gets SIGPIPE.
status=0
for exe in "$@"; do
  [ -x "$bin/$exe" ] || { echo "FAIL $exe: no executable at $bin/$exe" >&2; status=1; continue; }
  symbols=$(nm "$bin/$exe" 2>/dev/null || true)
  if ! grep -qw '__asan_init' <<<"$symbols"; then
    echo "FAIL $exe: the executable lacks __asan_init (not linked with AddressSanitizer)" >&2; status=1
  fi
  if ! grep -qw 'LLVMFuzzerRunDriver\|__sanitizer_cov_8bit_counters_init' <<<"$symbols"; then
    echo "FAIL $exe: the executable lacks libFuzzer's coverage runtime" >&2; status=1
  fi
done

# Every object of the build (the fuzz targets, Tollgate and its dependencies), found through the
# build directory so a module added later is checked too. One nm and one objdump over all of them
# (a process per object takes minutes on a loaded machine). An object counts as having code when it
# defines a function besides the sanitizers' own constructors, which every instrumented object has.
objects=$(mktemp); trap 'rm -f "$objects"' EXIT
cd "$bin"
find . -name '*.o' ! -name '*.S.o' ! -name '*.s.o' -print0 >"$objects"
report=$(
  {
    xargs -0 nm -A 2>/dev/null <"$objects" | awk '{
      split($0, parts, ":"); file = parts[1]; n = split($0, words, " ")
      type = words[n - 1]; name = words[n]
      if (type == "U" && name ~ /^__asan_/) print "asan", file
      if ((type == "T" || type == "t") && name !~ /^(asan|sancov)\.module_(c|d)tor/) print "code", file
    }'
    # objdump, not readelf: readelf names the file only when given more than one.
    xargs -0 objdump -h 2>/dev/null <"$objects" | awk '
      / file format / { file = $1; sub(/:$/, "", file) }
      /__sancov_(cntrs|guards)/ { print "cov", file }'
  } | sort -u | awk '
    { seen[$2] = seen[$2] " " $1 }
    END {
      for (file in seen) {
        if (seen[file] !~ /code/) continue
        missing = ""
        if (seen[file] !~ /asan/) missing = missing " AddressSanitizer"
        if (seen[file] !~ /cov/) missing = missing " coverage"
        print (missing == "" ? "ok" : "bad"), file, missing
      }
    }'
)
checked=$(grep -c '^\(ok\|bad\) ' <<<"$report" || true)
mapfile -t bad < <(grep '^bad ' <<<"$report" | sed 's|^bad \./||; s| \(.*\)| (no\1)|' | sort)

if [ "$checked" -eq 0 ]; then
  echo "FAIL: no object file under $bin to check" >&2; status=1
fi
if [ ${#bad[@]} -gt 0 ]; then
  echo "FAIL: ${#bad[@]} of $checked objects are not instrumented for both libFuzzer and AddressSanitizer:" >&2
  printf '  %s\n' "${bad[@]:0:20}" >&2
  [ ${#bad[@]} -le 20 ] || echo "  … and $(( ${#bad[@]} - 20 )) more" >&2
  status=1
fi
[ $status -ne 0 ] || echo "check-instrumentation: $# executables and $checked objects carry both libFuzzer coverage and AddressSanitizer" >&2
exit $status
