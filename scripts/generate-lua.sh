#!/usr/bin/env bash
# Generates Sources/RelQ/Generated/LuaScripts+generated.swift from lua/*.lua (after
# composing lua/release_dequeue.lua with scripts/compose-lua.sh).
#
#   scripts/generate-lua.sh            # write the generated file
#   scripts/generate-lua.sh OUTPUT     # write elsewhere (used by check-generated.sh)
#
# Each script is embedded byte-exact as a raw string literal (#""" … """#): the file
# bytes, then one newline, then the closing delimiter in column 0 (a multi-line
# literal drops the newline before its closing delimiter). The SHA1 is sha1sum of
# the file, which is what SCRIPT LOAD returns for the same bytes.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/Sources/RelQ/Generated/LuaScripts+generated.swift}
# Composed scripts first (lua/release_dequeue.lua), unless only checking into OUTPUT.
[[ $# -gt 0 ]] || "$ROOT/scripts/compose-lua.sh"

die() { echo "generate-lua.sh: $*" >&2; exit 1; }

camel() { # dead_list -> deadList
  awk -F_ '{ s = $1; for (i = 2; i <= NF; i++) s = s toupper(substr($i, 1, 1)) substr($i, 2); print s }' <<< "$1"
}

shopt -s nullglob
files=("$ROOT"/lua/*.lua)
[[ ${#files[@]} -gt 0 ]] || die "no lua/*.lua files"
mapfile -t files < <(printf '%s\n' "${files[@]}" | sort)

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
  echo "// GENERATED FILE: DO NOT EDIT."
  echo "// Source: lua/*.lua. Regenerate with: scripts/generate-lua.sh"
  echo "// Checked by: scripts/check-generated.sh and Tests/RelQTests/LuaEmbeddingTests.swift"
  echo ""
  echo "// swift-format-ignore-file"
  echo ""
  echo "/// The queue protocol scripts, embedded byte-exact from \`lua/\`."
  echo "enum LuaScripts {"
  names=()
  for f in "${files[@]}"; do
    base=$(basename "$f" .lua)
    [[ "$base" =~ ^[a-z][a-z0-9_]*$ ]] || die "$f: file name must match [a-z][a-z0-9_]*.lua"
    grep -q '"""#' "$f" && die "$f contains \"\"\"# (would end the raw string)"
    grep -qF '\#' "$f" && die "$f contains \\# (an escape in a #-raw string)"
    grep -q $'\r' "$f" && die "$f contains a carriage return (Swift literals normalise line endings)"
    LC_ALL=C grep -q '[^[:print:][:space:]]' "$f" && die "$f contains non-ASCII or control bytes"
    keys=$(sed -n 's/^-- KEYS:[[:space:]]*//p' "$f")
    [[ $(grep -c '^-- KEYS:' "$f") -eq 1 && -n "$keys" ]] || die "$f needs exactly one '-- KEYS: part part …' header line"
    # Key parts must be known and in the canonical relative order.
    canon=(pending delayed leases dead tasks state errors meta rate signal working groups)
    last=-1
    for k in $keys; do
      idx=-1
      for i in "${!canon[@]}"; do [[ ${canon[$i]} == "$k" ]] && idx=$i; done
      [[ $idx -ge 0 ]] || die "$f: unknown key part '$k'"
      [[ $idx -gt $last ]] || die "$f: key parts not in canonical order (${canon[*]})"
      last=$idx
    done
    readOnly=false
    [[ "$(head -n 1 "$f")" == '#!lua flags=no-writes' ]] && readOnly=true
    sha=$(sha1sum "$f" | cut -d' ' -f1)
    prop=$(camel "$base")
    names+=("$prop")
    keyList=$(printf '"%s", ' $keys); keyList=${keyList%, }
    echo ""
    echo "    static let $prop = LuaScript("
    echo "        name: \"$base\","
    echo "        sha1: \"$sha\","
    echo "        keys: [$keyList],"
    echo "        readOnly: $readOnly,"
    echo "        source: #\"\"\""
    cat "$f"
    echo ""
    echo "\"\"\"#"
    echo "    )"
  done
  echo ""
  echo "    /// Every script, sorted by file name."
  echo "    static let all: [LuaScript] = ["
  for p in "${names[@]}"; do echo "        $p,"; done
  echo "    ]"
  echo "}"
} > "$tmp"
mkdir -p "$(dirname "$OUT")"
mv "$tmp" "$OUT"
trap - EXIT
