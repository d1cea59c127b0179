#!/usr/bin/env bash
# The README's main-job command: installs what is missing, builds the demo server and starts it on
# an embedded store in ./tollgate-data (created and seeded on first run; the two seeded keys are
# printed once, with curl lines to try). Serves http://127.0.0.1:8080 until Ctrl-C.
#
#   scripts/demo.sh [--port N] [--host ADDR] [--data DIR] [--durability durable|periodic] [--trusted-proxy CIDR]… [--proxy-header x-forwarded-for|forwarded|none] [--proxy-hops N]
#   TOLLGATE_BUILD=release scripts/demo.sh     # a release build (slower to build, faster to serve)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
configuration="${TOLLGATE_BUILD:-debug}"
echo "Building tollgate-demo ($configuration; the first build fetches and compiles Hummingbird, a few minutes)…" >&2
swift build -c "$configuration" --product tollgate-demo >&2
exec ".build/$configuration/tollgate-demo" "$@"
