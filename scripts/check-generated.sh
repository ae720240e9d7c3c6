#!/usr/bin/env bash
# Fails when lua/release_dequeue.lua (composed) or Sources/RelQ/Generated/LuaScripts+generated.swift
# is out of date with lua/*.lua.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# same CHECKED FRESH: fails with a diff when the checked-in file differs from a fresh generation.
same() {
  diff -u "$1" "$2" > /dev/null 2>&1 && return 0
  diff -u "$1" "$2" | head -40 || true
  echo "check-generated.sh: ${1#"$ROOT"/} is out of date with lua/*.lua." >&2
  echo "Fix: run scripts/generate-lua.sh and commit the result." >&2
  exit 1
}
"$ROOT/scripts/compose-lua.sh" "$tmp"
same "$ROOT/lua/release_dequeue.lua" "$tmp"
"$ROOT/scripts/generate-lua.sh" "$tmp"
same "$ROOT/Sources/RelQ/Generated/LuaScripts+generated.swift" "$tmp"
echo "check-generated.sh: generated Lua embedding is up to date."
