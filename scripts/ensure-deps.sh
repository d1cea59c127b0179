#!/usr/bin/env bash
# Installs what Tollgate needs from Debian when it is missing: liblmdb-dev (the LMDB library and
# its pkg-config file) and pkg-config. Called by the README's commands and by .ci/run.
set -euo pipefail

missing=()
command -v swift >/dev/null 2>&1 || { echo "error: Swift is not installed (https://swift.org/install); Tollgate needs Swift 6.2 or later." >&2; exit 1; }
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if ! pkg-config --exists lmdb 2>/dev/null; then missing+=(liblmdb-dev); fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing ${missing[*]} from Debian's packages..." >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
    echo "error: ${missing[*]} missing and not running as root (no sudo): run 'apt-get install -y ${missing[*]}' as root." >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: ${missing[*]} missing and this is not a Debian/Ubuntu machine: install LMDB's development files and pkg-config." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq >&2 || { echo "error: apt-get update failed" >&2; exit 1; }
"${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >&2 || { echo "error: could not install ${missing[*]}" >&2; exit 1; }
pkg-config --exists lmdb || { echo "error: liblmdb-dev installed but pkg-config still finds no lmdb" >&2; exit 1; }
