#!/usr/bin/env bash
# Tests check-instrumentation.sh on a one-function fuzz target built three ways: coverage only,
# ASan only, both. Only the last may pass. `Fuzz/run.sh --regressions` runs it, so a change that
# makes the check accept a half-instrumented build (the bug of `--sanitize=fuzzer
# --sanitize=address`, where swiftc keeps one of the two) fails CI.
set -euo pipefail
cd "$(dirname "$0")"
check=$PWD/check-instrumentation.sh
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

cat >"$work/target.swift" <<'EOF'
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    if size > 2, let data, data[0] == 0x54, data[1] == 0x47 { return 1 }
    return 0
}
EOF

status=0
# name, swiftc sanitizer flags, expected verdict of the check
for case in "coverage-only:-sanitize=fuzzer:fail" "asan-only:-sanitize=address:fail" \
            "both:-sanitize=fuzzer,address:pass"; do
  IFS=: read -r name flags expected <<<"$case"
  # Linked with both runtimes whatever the objects carry, as SwiftPM's link step did: the check
  # must judge the objects, not only the executable's symbols.
  mkdir -p "$work/$name/Target.build"
  swiftc -parse-as-library $flags -c "$work/target.swift" -o "$work/$name/Target.build/target.swift.o"
  swiftc -sanitize=fuzzer,address "$work/$name/Target.build/target.swift.o" -o "$work/$name/Target" \
    >"$work/$name.link.log" 2>&1 || { echo "test-check-instrumentation: cannot link $name:" >&2; cat "$work/$name.link.log" >&2; exit 1; }
  if "$check" "$work/$name" Target >"$work/$name.log" 2>&1; then verdict=pass; else verdict=fail; fi
  if [ "$verdict" != "$expected" ]; then
    echo "FAIL test-check-instrumentation: $name ($flags) should $expected the check, did $verdict:" >&2
    cat "$work/$name.log" >&2
    status=1
  fi
done
[ $status -ne 0 ] || echo "test-check-instrumentation: coverage-only and ASan-only objects refused, both accepted" >&2
exit $status
