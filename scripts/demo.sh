#!/usr/bin/env bash
# The README's main-job command: installs what is missing, builds, and runs Tollgate on an
# embedded store in ./tollgate-data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build -c release --product tollgate-demo >&2
exec .build/release/tollgate-demo "$@"
