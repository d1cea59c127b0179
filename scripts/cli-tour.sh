#!/usr/bin/env bash
# A tour of the tollgate CLI: installs what is missing, builds the CLI, and runs a
# real session on an embedded store in ./tollgate-cli-data (created on first run): two tiers, a key,
# requests until the per-minute limit refuses, the usage ledger and the store's statistics.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build --product tollgate >&2
tollgate=.build/debug/tollgate
export TOLLGATE_STORE="${TOLLGATE_STORE:-$PWD/tollgate-cli-data}"

if [ ! -f "$TOLLGATE_STORE/data.mdb" ]; then
  "$tollgate" init
  "$tollgate" tier set free --limit 3/minute --limit day=1000/day
  "$tollgate" tier set pro --limit 50/second:token-bucket,burst=100 --limit day=100000/day
fi
echo "== tiers"; "$tollgate" tier list
echo "== a new key on the free tier (its secret is shown once)"
key=$("$tollgate" key create --tier free --owner demo --scope items:read 2>/dev/null)
echo "$key"
echo "== five requests: three pass, then the per-minute limit refuses"
for i in 1 2 3 4 5; do
  "$tollgate" authorize - <<<"$key" || echo "   (exit status $?)"
done
echo "== a key with a bad checksum is refused before any lookup"
last=${key: -1}; [ "$last" = x ] && typo=y || typo=x
"$tollgate" authorize "${key%?}$typo" || echo "   (exit status $?)"
id=$("$tollgate" key list --owner demo --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])' 2>/dev/null || true)
if [ -n "$id" ]; then echo "== usage of $id"; "$tollgate" usage "$id" --days 1; fi
echo "== store"; "$tollgate" stats
