#!/usr/bin/env bash
# lua-profile.sh — instructions per task that redis-server spends in enqueue, dequeue and
# release, counted by valgrind's callgrind: deterministic for the same binary and inputs,
# whatever else the (shared, noisy) machine is doing. Use it to compare script versions.
#
#   scripts/lua-profile.sh [BATCH] [CALLS] [HELD]
#     BATCH  tasks per script call (default 100)
#     CALLS  calls of each script (default 20)
#     HELD   leases held during the run, as a busy queue has (default 0)
#   LUA_DIR=dir   scripts to profile (default lua/; e.g. an older version extracted with git show)
#   FULL=1        enqueue in the full form (5 arguments per task) instead of the short form
#   PAYLOADS=1    enqueue in the payloads form (1 argument per task, as ReliableQueue sends a batch
#                 of tasks without ids, delays or overrides) instead of the short form
#   GROUP=1       the measured dequeues lease each call's tasks as one lease group (dequeue's
#                 4th argument '1', as ReliableQueue.dequeue(max:) does), released by group token
#   WHOLE=1       with GROUP=1: each group is released whole, by its token and size (release's
#                 whole-group form, as ReliableQueue.release(_:) sends for a full batch)
#   COMBINED=1    consumers call release_dequeue (release the previous call's tasks and lease the
#                 next BATCH in one script) instead of dequeue and release: prints the two
#                 together as "dequeue+release" (the first dequeue and the last release are not
#                 measured, so CALLS - 1 combined calls are)
#   REDIS_SERVER=path  the redis-server binary (default: the one on PATH; e.g. one built from
#                 source with symbols, for a per-function callgrind_annotate of the KEEP dumps)
#   KEEP=dir      copy the callgrind dumps (one per measured phase, in order) to dir, for
#                 callgrind_annotate
#   FLOOR=1       also: instructions per task of the floor (`relq bench` row
#                 server_cpu_floor_batch100): the same data-structure work as plain multi-element
#                 commands, no scripts (HSET+LPUSH, RPOP, HMGET+ZADD, ZREM+HDEL; with GROUP=1 the
#                 lease is one member and one groups field per call), with the
#                 encoding anchors RelQ keeps (skiplist / hashtable) and without them (listpacks
#                 while small)
#   SWEEP=1       also: instructions per expired lease swept back (CALLS sweep calls of BATCH
#                 leases, in a second queue whose tasks were dequeued with a 1 ms lease)
#
# Starts its own redis-server under valgrind (hz 1, so little background work is counted) on a
# free port and removes it afterwards. Needs valgrind, redis-server and redis-cli.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BATCH=${1:-100}; CALLS=${2:-20}; HELD=${3:-0}
LUA_DIR=${LUA_DIR:-$ROOT/lua}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
for tool in valgrind callgrind_control "$REDIS_SERVER" redis-cli; do
  command -v "$tool" > /dev/null || { echo "lua-profile: $tool not found" >&2; exit 2; }
done

DIR=$(mktemp -d)
PORT=$(( 20000 + RANDOM % 20000 ))
valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.out" \
  "$REDIS_SERVER" --port "$PORT" --save '' --appendonly no --hz 1 --dir "$DIR" > "$DIR/valgrind.log" 2>&1 &
VG=$!
trap 'kill "$VG" 2> /dev/null; wait "$VG" 2> /dev/null
  if [[ -n ${KEEP:-} ]]; then mkdir -p "$KEEP"; cp "$DIR"/cg.out.* "$KEEP"/ 2> /dev/null || true; fi
  rm -rf "$DIR"' EXIT
R=(redis-cli -p "$PORT")
for _ in $(seq 1 300); do "${R[@]}" PING 2> /dev/null | grep -q PONG && break; sleep 0.1; done
"${R[@]}" PING | grep -q PONG || { echo "lua-profile: redis-server under valgrind did not start" >&2; exit 1; }

declare -A SHA KEYS
for name in enqueue dequeue release release_dequeue sweep; do
  [[ -f "$LUA_DIR/$name.lua" ]] || continue # release_dequeue: older script versions lack it
  SHA[$name]=$("${R[@]}" -x SCRIPT LOAD < "$LUA_DIR/$name.lua")
  KEYS[$name]=$(sed -n 's/^-- KEYS: //p' "$LUA_DIR/$name.lua")
done
keysof() { local p; for p in ${KEYS[$1]:-}; do printf 'relq:{profile}:%s\n' "$p"; done; }
mapfile -t KE < <(keysof enqueue); mapfile -t KD < <(keysof dequeue); mapfile -t KR < <(keysof release)
mapfile -t KS < <(keysof sweep); mapfile -t KRD < <(keysof release_dequeue)
resp() { printf '*%d\r\n' $#; local a; for a; do printf '$%d\r\n%s\r\n' ${#a} "$a"; done; }
PAY=$(printf 'x%.0s' $(seq 100))
enqueue_cmd() { # enqueue_cmd N: N server-id tasks with a 100-byte payload
  local args=() i
  for i in $(seq 1 "$1"); do
    if [[ -n ${FULL:-} ]]; then args+=('' "$PAY" 0 '' '')
    elif [[ -n ${PAYLOADS:-} ]]; then args+=("$PAY")
    else args+=('' "$PAY"); fi
  done
  resp EVALSHA "${SHA[enqueue]}" "${#KE[@]}" "${KE[@]}" "$1" "${args[@]}"
}

# Held leases first: ids and tokens 1..HELD (a fresh queue numbers both from 1), taken with the
# same defaults as the measured calls (as a queue's consumers share a configuration; nothing
# sweeps during the run, so they stay held).
if (( HELD > 0 )); then
  { enqueue_cmd "$HELD"; resp EVALSHA "${SHA[dequeue]}" "${#KD[@]}" "${KD[@]}" "$HELD" 30000 5; } |
    "${R[@]}" --pipe > /dev/null
fi
# The measured calls, generated before measuring; task k of the run has id = token = HELD + k.
for c in $(seq 1 "$CALLS"); do enqueue_cmd "$BATCH"; done > "$DIR/e"
pairs() { # pairs C: the (id, token) pairs of the tasks of measured call C (0-based)
  local i k t; for i in $(seq 1 "$BATCH"); do
    k=$((HELD + $1 * BATCH + i)); t=$k
    [[ -n ${GROUP:-} ]] && t=$(( -(HELD + $1 * BATCH + 1) )) # the call's group token
    printf '%s\n%s\n' "$k" "$t"
  done
}
if [[ -n ${COMBINED:-} ]]; then
  # Unmeasured: the first dequeue (before "d") and the last release (after "r").
  resp EVALSHA "${SHA[dequeue]}" "${#KD[@]}" "${KD[@]}" "$BATCH" 30000 5 > "$DIR/first"
  for c in $(seq 0 $((CALLS - 2))); do
    mapfile -t args < <(pairs "$c")
    resp EVALSHA "${SHA[release_dequeue]}" "${#KRD[@]}" "${KRD[@]}" "$BATCH" 30000 5 "$BATCH" "${args[@]}"
  done > "$DIR/d"
  mapfile -t args < <(pairs $((CALLS - 1)))
  resp EVALSHA "${SHA[release]}" "${#KR[@]}" "${KR[@]}" "$BATCH" "${args[@]}" > "$DIR/last"
else
  for c in $(seq 1 "$CALLS"); do resp EVALSHA "${SHA[dequeue]}" "${#KD[@]}" "${KD[@]}" "$BATCH" 30000 5 ${GROUP:+1}; done > "$DIR/d"
  for c in $(seq 0 $((CALLS - 1))); do
    if [[ -n ${GROUP:-} && -n ${WHOLE:-} ]]; then args=("$(( -(HELD + c * BATCH + 1) ))"); else mapfile -t args < <(pairs "$c"); fi
    resp EVALSHA "${SHA[release]}" "${#KR[@]}" "${KR[@]}" "$BATCH" "${args[@]}"
  done > "$DIR/r"
fi

# instructions FILE: zero the counters, pipe FILE, dump, print the dump's total.
instructions() {
  callgrind_control -z "$VG" > /dev/null 2>&1
  "${R[@]}" --pipe < "$1" > /dev/null
  callgrind_control -d "$VG" > /dev/null 2>&1
  local dump; dump=$(ls -t "$DIR"/cg.out.* | head -1)
  awk '/^(summary|totals):/ { print $2; exit }' "$dump"
}
ie=$(instructions "$DIR/e")
if [[ -n ${COMBINED:-} ]]; then
  "${R[@]}" --pipe < "$DIR/first" > /dev/null
  id=$(instructions "$DIR/d")
  "${R[@]}" --pipe < "$DIR/last" > /dev/null
else
  id=$(instructions "$DIR/d"); ir=$(instructions "$DIR/r")
fi
released=$("${R[@]}" HGET 'relq:{profile}:meta' released)
[[ "$released" == $((BATCH * CALLS)) ]] || { echo "lua-profile: released ${released:-0} of $((BATCH * CALLS)) tasks" >&2; exit 1; }
if [[ -n ${COMBINED:-} ]]; then
  awk -v n=$((BATCH * CALLS)) -v m=$((BATCH * (CALLS - 1))) -v b="$BATCH" -v h="$HELD" -v e="$ie" -v d="$id" 'BEGIN {
    printf "instructions per task, batch %d, %d leases held: enqueue %.1fk, dequeue+release (release_dequeue) %.1fk; cycle %.1fk\n",
      b, h, e / n / 1000, d / m / 1000, e / n / 1000 + d / m / 1000 }'
else
  awk -v n=$((BATCH * CALLS)) -v b="$BATCH" -v h="$HELD" -v e="$ie" -v d="$id" -v r="$ir" 'BEGIN {
    printf "instructions per task, batch %d, %d leases held: enqueue %.1fk, dequeue %.1fk, release %.1fk; cycle %.1fk\n",
      b, h, e / n / 1000, d / n / 1000, r / n / 1000, (e + d + r) / n / 1000 }'
fi

if [[ -n ${SWEEP:-} ]]; then
  # The same queue, now empty: BATCH * CALLS tasks leased for 1 ms, then swept back.
  for c in $(seq 1 "$CALLS"); do
    enqueue_cmd "$BATCH"; resp EVALSHA "${SHA[dequeue]}" "${#KD[@]}" "${KD[@]}" "$BATCH" 1 5 ${GROUP:+1}
  done | "${R[@]}" --pipe > /dev/null
  sleep 0.1
  for c in $(seq 1 "$CALLS"); do resp EVALSHA "${SHA[sweep]}" "${#KS[@]}" "${KS[@]}" "$BATCH" 0 '' ''; done > "$DIR/s"
  is=$(instructions "$DIR/s")
  timedOut=$("${R[@]}" HGET 'relq:{profile}:meta' timed_out)
  [[ "$timedOut" == $((BATCH * CALLS)) ]] || { echo "lua-profile: swept ${timedOut:-0} of $((BATCH * CALLS)) leases" >&2; exit 1; }
  awk -v n=$((BATCH * CALLS)) -v b="$BATCH" -v s="$is" 'BEGIN {
    printf "instructions per swept lease, %d per call: sweep %.1fk\n", b, s / n / 1000 }'
fi

if [[ -n ${FLOOR:-} ]]; then
  VALUE="1234567$PAY"
  ANCHOR="~relq anchor~$(printf '~%.0s' $(seq 120))"
  floor_cmds() { # floor_cmds PREFIX: BATCH * CALLS tasks through the plain-command cycle
    local p=$1 c i ids pairs lease members token
    for c in $(seq 0 $((CALLS - 1))); do
      ids=(); pairs=(); lease=(); members=()
      for i in $(seq 1 "$BATCH"); do
        local id=$((c * BATCH + i)); ids+=("$id"); pairs+=("$id" "$VALUE")
        lease+=(1790000000000 "$id:$id"); members+=("$id:$id")
      done
      resp HSET "$p:tasks" "${pairs[@]}"; resp LPUSH "$p:pending" "${ids[@]}"
      resp RPOP "$p:pending" "$BATCH"
      resp HMGET "$p:tasks" "${ids[@]}"
      if [[ -n ${GROUP:-} ]]; then # one lease group: one member, one groups field (the ids)
        token="-${ids[0]}"
        resp ZADD "$p:leases" 1790000000000 "$token"; resp HSET "$p:groups" "$token" "$(IFS=,; echo "${ids[*]}")"
        resp HGET "$p:groups" "$token"; resp ZREM "$p:leases" "$token"; resp HDEL "$p:groups" "$token"
      else
        resp ZADD "$p:leases" "${lease[@]}"; resp ZREM "$p:leases" "${members[@]}"
      fi
      resp HDEL "$p:tasks" "${ids[@]}"
    done
  }
  floor_cmds 'relq:{floor-plain}' > "$DIR/f1"
  { resp HSET 'relq:{floor-anchored}:tasks' '' "$ANCHOR"; resp ZADD 'relq:{floor-anchored}:leases' inf "$ANCHOR"; } |
    "${R[@]}" --pipe > /dev/null
  floor_cmds 'relq:{floor-anchored}' > "$DIR/f2"
  f1=$(instructions "$DIR/f1"); f2=$(instructions "$DIR/f2")
  awk -v n=$((BATCH * CALLS)) -v b="$BATCH" -v p="$f1" -v a="$f2" 'BEGIN {
    printf "floor (plain commands, batch %d): %.1fk per task with the encoding anchors, %.1fk without (listpacks while small)\n",
      b, a / n / 1000, p / n / 1000 }'
fi
