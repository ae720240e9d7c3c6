#!/usr/bin/env bash
# Fails when lua/release_dequeue.lua (composed) or Sources/RelQ/Generated/LuaScripts+generated.swift
# is out of date with lua/*.lua.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GEN=$ROOT/Sources/RelQ/Generated/LuaScripts+generated.swift
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$ROOT/scripts/compose-lua.sh" "$tmp"
if ! diff -u "$ROOT/lua/release_dequeue.lua" "$tmp" > /dev/null 2>&1; then
  diff -u "$ROOT/lua/release_dequeue.lua" "$tmp" | head -40 || true
  echo "check-generated.sh: lua/release_dequeue.lua is out of date with release.lua and dequeue.lua." >&2
  echo "Fix: run scripts/generate-lua.sh and commit the result." >&2
  exit 1
fi
"$ROOT/scripts/generate-lua.sh" "$tmp"
if ! diff -u "$GEN" "$tmp" > /dev/null 2>&1; then
  diff -u "$GEN" "$tmp" | head -40 || true
  echo "check-generated.sh: $GEN is out of date with lua/*.lua." >&2
  echo "Fix: run scripts/generate-lua.sh and commit the result." >&2
  exit 1
fi
echo "check-generated.sh: generated Lua embedding is up to date."
