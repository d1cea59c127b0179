#!/usr/bin/env bash
# The README's test command: installs what is missing, then builds (warnings are errors in every
# target of ours) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build --build-tests
swift test --skip-build "$@"
