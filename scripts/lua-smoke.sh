#!/usr/bin/env bash
# Smoke test of the queue protocol in lua/ against a running redis-server.
#
#   scripts/lua-smoke.sh PORT            # functional checks, exit 1 on any mismatch
#   scripts/lua-smoke.sh PORT --measure  # also memory per task and script CPU/throughput
#
# Uses its own queue names (relq:{smoke-<pid>-*}) and UNLINKs them at the end; never
# flushes the server. Start a private server first, e.g.
#   redis-server --port 6420 --save '' --appendonly no --daemonize yes --dir /tmp/x
set -euo pipefail
export LC_ALL=C

PORT=${1:?usage: scripts/lua-smoke.sh PORT [--measure]}
MEASURE=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
R=(redis-cli -p "$PORT")
PARTS=(pending delayed leases working dead tasks state errors meta rate signal groups)
Q="smoke-$$"
FAILS=0
CHECKS=0

"${R[@]}" PING | grep -q PONG || { echo "no redis-server on port $PORT" >&2; exit 2; }

declare -A SHA KEYSOF
for f in "$ROOT"/lua/*.lua; do
  name=$(basename "$f" .lua)
  # -x sends the file byte-exact (\$(cat f) would drop the final newline: other SHA)
  sha=$("${R[@]}" -x SCRIPT LOAD < "$f")
  want=$(sha1sum "$f" | cut -d' ' -f1)
  [[ "$sha" == "$want" ]] || { echo "FAIL sha1 $name: SCRIPT LOAD $sha, sha1sum $want"; FAILS=$((FAILS + 1)); }
  SHA[$name]=$sha
  KEYSOF[$name]=$(sed -n 's/^-- KEYS: //p' "$f")
done

# call QUEUE SCRIPT ARGS... → EVALSHA with the script's keys for QUEUE, one reply line per element
callq() {
  local q=$1 name=$2; shift 2
  local keys=() p
  for p in ${KEYSOF[$name]}; do keys+=("relq:{$q}:$p"); done
  # shellcheck disable=SC2086  # CLI_FLAGS: optional redis-cli flags (calld)
  "${R[@]}" ${CLI_FLAGS:-} EVALSHA "${SHA[$name]}" "${#keys[@]}" "${keys[@]}" "$@"
}
call() { callq "$Q" "$@"; }
# calld SCRIPT ARGS...: like call, for replies holding binary task values (dequeue returns the
# stored value, whose 7-byte header may contain a newline): redis-cli quotes and escapes them.
calld() { calldq "$Q" "$@"; }
calldq() { # calldq QUEUE SCRIPT ARGS...: calld for another queue
  CLI_FLAGS=--no-raw callq "$@" | sed -E 's/^ *[0-9]+\) //; s/^\(integer\) //; s/^"(.*)"$/\1/'
}
line() { tr '\n' ' ' | sed 's/ $//'; }
attempt() { # attempt ARRAY BASE K: the attempt of task K of the dequeue reply at ${ARRAY[BASE]}
  local -n a=$1; local n=${a[$(( $2 + 4 ))]}; local p=$(( $2 + 5 + 2 * n ))
  local i=$(( p + 1 + 2 * a[p] ))
  while (( i < ${#a[@]} )); do [[ ${a[i]} == "$3" ]] && { echo "${a[i + 1]}"; return; }; i=$(( i + 2 )); done
  echo 1
}

# expect DESCRIPTION WANT GOT  (WANT may be a glob pattern)
expect() {
  CHECKS=$((CHECKS + 1))
  # shellcheck disable=SC2053
  if [[ "$3" == $2 ]]; then :; else echo "FAIL $1: want [$2] got [$3]"; FAILS=$((FAILS + 1)); fi
}
field() { # field NAME < stats reply lines
  awk -v n="$1" 'NR > 1 && (NR % 2 == 0) { k = $0; next } NR > 1 && k == n { print; exit }'
}
cleanup_q() { local q=$1 p; for p in "${PARTS[@]}"; do "${R[@]}" UNLINK "relq:{$q}:$p" > /dev/null; done; }
trap 'cleanup_q "$Q"' EXIT

# --- enqueue, duplicate, delayed ------------------------------------------------
expect "enqueue server id + caller id + duplicate" "1 1 1 a 1 a 0" \
  "$(call enqueue 3 '' p1 0 '' '' a p2 0 '' 2 a dup 0 '' '' | line)"
expect "enqueue delayed" "1 d1 1" "$(call enqueue 1 d1 p3 60000 '' '' | line)"
expect "server ids only → {2, first, n}" "2 2 2" "$(call enqueue 2 '' pa '' pb | line)"
call remove 2 > /dev/null; call remove 3 > /dev/null
expect "duplicate kept the first payload" "1 pending 0 -1 *  p2" "$(call inspect a | line)"
expect "signal holds one token" "1" "$("${R[@]}" LLEN "relq:{$Q}:signal")"

# --- dequeue FIFO ---------------------------------------------------------------
mapfile -t D < <(calld dequeue 10 30000 5)
expect "dequeue status" "1" "${D[0]}"
# reply: 1, now, first token, shared deadline, n, then id, value per task, then d, the (task,
# deadline) pairs, then (task, attempt) pairs for tasks past their first delivery
expect "dequeue FIFO first (value = header + payload)" "1 *p1 1" "${D[5]} ${D[6]} $(attempt D 0 1)"
expect "dequeue FIFO second" "a *p2 1" "${D[7]} ${D[8]} $(attempt D 0 2)"
expect "dequeue 2 tasks" "2 10" "${D[4]} ${#D[@]}"
T1=${D[2]}; TA=$((D[2] + 1))
expect "deadline = now + lease" "30000" "$((D[3] - D[1]))"
mapfile -t E < <(calld dequeue 10 30000 5)
expect "empty → 2 with next due" "2" "${E[0]}"
expect "next_due_in_ms in 50000..60000" "1" "$(( E[2] >= 50000 && E[2] <= 60000 ))"

# --- release --------------------------------------------------------------------
expect "release ok (all released: short reply)" "2 1" "$(call release 1 1 "$T1" | line)"
expect "release again → not found" "1 -3" "$(call release 1 1 "$T1" | line)"
expect "release wrong token → stale" "1 -2" "$(call release 1 a 999999 | line)"
expect "release batch mixed" "1 -3 -2" "$(call release 2 nope 1 a 0 | line)"

# --- release_dequeue (composed: release, then dequeue, in one call) -----------------
Q2="$Q-rd"
trap 'cleanup_q "$Q"; cleanup_q "$Q2"' EXIT
# rdq SCRIPT ARGS: calld for queue Q2, nested replies flattened (one element per line)
rdq() { CLI_FLAGS=--no-raw callq "$Q2" "$@" | sed -E 's/^ *([0-9]+\) )+//; s/^\(integer\) //; s/^"(.*)"$/\1/'; }
callq "$Q2" enqueue 3 x px 0 '' '' y py 0 '' '' z pz 0 '' '' > /dev/null
mapfile -t D < <(rdq dequeue 1 30000 5)
TX=${D[2]}
mapfile -t E < <(rdq release_dequeue 1 30000 5 1 x "$TX")
# {1, {2, 1}, {1, now, token, deadline, 1, y, value, 1}}
expect "release_dequeue: released + next" "1 2 1 1 y *py 1" "${E[*]:0:4} ${E[8]} ${E[9]} $(attempt E 3 1)"
expect "release_dequeue: next token" "$((TX + 1))" "${E[5]}"
expect "release_dequeue: x gone" "-3" "$(callq "$Q2" inspect x | line)"
mapfile -t E < <(rdq release_dequeue 1 30000 5 1 x "$TX")
expect "release_dequeue: retried ack → not found, next still leased" "1 1 -3 1 z" "${E[*]:0:4} ${E[8]}"
deq=$("${R[@]}" HGET "relq:{$Q2}:meta" dequeued)
expect "release_dequeue: bad release args → -1" "-1 *" "$(callq "$Q2" release_dequeue 1 30000 5 abc | line)"
expect "release_dequeue: nothing dequeued on -1" "$deq" "$("${R[@]}" HGET "relq:{$Q2}:meta" dequeued)"
mapfile -t E < <(rdq release_dequeue 1 30000 5 1 y "$((TX + 1))")
expect "release_dequeue: empty → {2, now, -1}" "1 2 1 2 -1" "${E[*]:0:4} ${E[5]}"
expect "release_dequeue: z still working" "1" "$("${R[@]}" ZCOUNT "relq:{$Q2}:leases" -inf '(inf')"

# --- ids and tokens across tens (their texts are built from a tens prefix + last digit) ---
Q3="$Q-ids"
trap 'cleanup_q "$Q"; cleanup_q "$Q2"; cleanup_q "$Q3"' EXIT
args=(); for i in $(seq 1 25); do args+=('' "p$i"); done
expect "25 server ids" "2 1 25" "$(callq "$Q3" enqueue 25 "${args[@]}" | line)"
ok=1; for i in 1 9 10 11 19 20 25; do
  [[ "$("${R[@]}" HGET "relq:{$Q3}:tasks" "$i" | tail -c +8)" == "p$i" ]] || ok=0
done
expect "server id i holds payload i (1..25)" "1" "$ok"
expect "26 fields (25 tasks + anchor)" "26" "$("${R[@]}" HLEN "relq:{$Q3}:tasks")"
callq "$Q3" dequeue 25 30000 5 > /dev/null
ok=1; for i in 1 9 10 11 19 20 25; do
  [[ -n "$("${R[@]}" ZSCORE "relq:{$Q3}:leases" "$i:$i")" ]] || ok=0
done
expect "task i leased with token i (1..25)" "1" "$ok"
expect "first deliveries with the defaults write no state" "0" "$("${R[@]}" HLEN "relq:{$Q3}:state")"
expect "the defaults recorded in meta" "30000 5" "$("${R[@]}" HMGET "relq:{$Q3}:meta" lease_ms max_attempts | line)"
# The fence compares the whole token: neither a prefix, an extension nor a token with ':' passes.
expect "release token prefix / extension / with ':' → stale" "1 -2 -2 -2 -2" \
  "$(callq "$Q3" release 4 12 1 12 120 12 12:5 12 ':12' | line)"
expect "release the same pair twice: released once, the repeat not found" "1 1 -3" \
  "$(callq "$Q3" release 2 12 12 12 12 | line)"
expect "released once" "1" "$("${R[@]}" HGET "relq:{$Q3}:meta" released)"
expect "stale pair of a task released in the same call → not found" "1 1 -3" \
  "$(callq "$Q3" release 2 13 13 13 99 | line)"

# --- a server id taken by a caller id, mid-batch: the long reply, every id listed ---
Q4="$Q-taken"
trap 'cleanup_q "$Q"; cleanup_q "$Q2"; cleanup_q "$Q3"; cleanup_q "$Q4"' EXIT
callq "$Q4" enqueue 1 2 mine > /dev/null
expect "ids 1, (2 taken →) 4, 3" "1 1 1 4 1 3 1" "$(callq "$Q4" enqueue 3 '' x '' y '' z | line)"
expect "the caller's task 2 kept" "mine" "$("${R[@]}" HGET "relq:{$Q4}:tasks" 2 | tail -c +8)"
expect "task 4 holds y" "y" "$("${R[@]}" HGET "relq:{$Q4}:tasks" 4 | tail -c +8)"
# the payloads form (n payloads, server ids): 5 and 6 are free, 7 taken by a caller → 5 6 8
callq "$Q4" enqueue 1 7 mine7 > /dev/null
expect "payloads form, server id 7 taken" "1 5 1 6 1 8 1" "$(callq "$Q4" enqueue 3 pa pb pc | line)"
expect "payloads form, consecutive → {2, first, n}" "2 9 2" "$(callq "$Q4" enqueue 2 pd pe | line)"
expect "task 8 holds pc, 7 kept" "pc mine7" "$("${R[@]}" HGET "relq:{$Q4}:tasks" 8 | tail -c +8) $("${R[@]}" HGET "relq:{$Q4}:tasks" 7 | tail -c +8)"

# --- leases are members "id:token": ids with ':' and glob characters, tokens with ':' ---
Q5="$Q-lease"
trap 'cleanup_q "$Q"; cleanup_q "$Q2"; cleanup_q "$Q3"; cleanup_q "$Q4"; cleanup_q "$Q5"' EXIT
G='a*[b]?\'
callq "$Q5" enqueue 4 'a:1' p1 a p2 "$G" p3 'a*' p4 > /dev/null
T=$(callq "$Q5" dequeue 4 30000 5 | sed -n 3p)
expect "4 leases" "4" "$("${R[@]}" ZCOUNT "relq:{$Q5}:leases" -inf '(inf')"
expect "token with ':' names no lease (a + 1:T spells the lease of a:1)" "1 -2" "$(callq "$Q5" release 1 a "1:$T" | line)"
expect "another task's token → stale" "1 -2" "$(callq "$Q5" release 1 a "$((T + 2))" | line)"
expect "the lease check leaves no trace" "0 4" "$("${R[@]}" ZCOUNT "relq:{$Q5}:leases" -1 -1) $("${R[@]}" ZCOUNT "relq:{$Q5}:leases" -inf '(inf')"
expect "inspect a glob id: its own lease" "1 working 1" "$(callq "$Q5" inspect "$G" | head -3 | line)"
expect "inspect a (a prefix of others)" "1 working 1" "$(callq "$Q5" inspect a | head -3 | line)"
expect "remove a* (a glob matching others)" "1 working" "$(callq "$Q5" remove 'a*' | line)"
expect "the other leases kept" "3" "$("${R[@]}" ZCOUNT "relq:{$Q5}:leases" -inf '(inf')"
expect "release the rest" "2 3" "$(callq "$Q5" release 3 'a:1' "$T" a "$((T + 1))" "$G" "$((T + 2))" | line)"
expect "nothing left" "0 0" "$("${R[@]}" ZCOUNT "relq:{$Q5}:leases" -inf '(inf') $("${R[@]}" HLEN "relq:{$Q5}:state")"

# --- lease groups: dequeue's 4th argument '1' leases the call's tasks as one group ----------
Q6="$Q-group"
trap 'cleanup_q "$Q"; cleanup_q "$Q2"; cleanup_q "$Q3"; cleanup_q "$Q4"; cleanup_q "$Q5"; cleanup_q "$Q6"' EXIT
gk() { printf 'relq:{%s}:%s' "$Q6" "$1"; }
callq "$Q6" enqueue 5 g1 p g2 p g3 p g4 p g5 p > /dev/null
mapfile -t D < <(calldq "$Q6" dequeue 5 30000 5 1)
GT=${D[2]}
expect "group token negative" "1" "$(( GT < 0 ))"
expect "one member + the anchor, one groups field" "2 1 5" "$("${R[@]}" ZCARD "$(gk leases)") $("${R[@]}" HLEN "$(gk groups)") $("${R[@]}" HGET "$(gk meta)" grouped)"
expect "stats: 5 working" "5" "$(callq "$Q6" stats | field working)"
expect "release 2 of the group" "2 2" "$(callq "$Q6" release 2 g1 "$GT" g2 "$GT" | line)"
expect "grouped 3" "3" "$("${R[@]}" HGET "$(gk meta)" grouped)"
expect "released again → not found; other token → stale" "1 -3 -2" "$(callq "$Q6" release 2 g1 "$GT" g3 "$((GT - 1))" | line)"
expect "a positive token for a grouped task → stale" "1 -2" "$(callq "$Q6" release 1 g3 "$(( -GT ))" | line)"
expect "extend g3: taken out of the group" "1" "$(callq "$Q6" extend g3 "$GT" 60000 | head -1)"
expect "the group and g3's own member" "2 2" "$("${R[@]}" ZCOUNT "$(gk leases)" -inf '(inf' | line) $("${R[@]}" HGET "$(gk meta)" grouped)"
expect "g3 member" "1" "$("${R[@]}" ZSCORE "$(gk leases)" "g3:$GT" | grep -c .)"
expect "inspect g4 (in the group)" "1 working 1" "$(callq "$Q6" inspect g4 | head -3 | line)"
expect "requeue g4 with the group token" "1" "$(callq "$Q6" requeue g4 "$GT" 0 '' 0 '' '' | line)"
expect "g4 pending again, grouped 1" "g4 1" "$("${R[@]}" LINDEX "$(gk pending)" 0) $("${R[@]}" HGET "$(gk meta)" grouped)"
expect "remove g5 (the last of the group)" "1 working" "$(callq "$Q6" remove g5 | line)"
expect "group gone: only g3's member" "1 0 0" "$("${R[@]}" ZCOUNT "$(gk leases)" -inf '(inf') $("${R[@]}" HLEN "$(gk groups)") $("${R[@]}" HGET "$(gk meta)" grouped)"
expect "release g3 (its own member, the group token)" "2 1" "$(callq "$Q6" release 1 g3 "$GT" | line)"
mapfile -t D < <(calldq "$Q6" dequeue 5 30000 5 1)
expect "g4 redelivered alone (a group of one), attempt 2" "1 g4 2" "${D[4]} ${D[5]} $(attempt D 0 1)"
expect "release it" "2 1" "$(callq "$Q6" release 1 g4 "${D[2]}" | line)"
# the whole-group release: n and the group token, only while the group holds exactly n tasks
callq "$Q6" enqueue 3 w1 p w2 p w3 p > /dev/null
mapfile -t D < <(calldq "$Q6" dequeue 3 30000 5 1)
WT=${D[2]}
expect "whole-group release, wrong count: nothing changes" "3 3" "$(callq "$Q6" release 2 "$WT" | line)"
expect "whole-group release, a positive token is refused" "-1 *" "$(callq "$Q6" release 3 "$(( -WT ))" | line)"
expect "whole-group release" "2 3" "$(callq "$Q6" release 3 "$WT" | line)"
expect "group, member, tasks and grouped gone" "0 0 0 0" "$("${R[@]}" ZCOUNT "$(gk leases)" -inf '(inf') $("${R[@]}" HLEN "$(gk groups)") $("${R[@]}" HGET "$(gk meta)" grouped) $("${R[@]}" HEXISTS "$(gk tasks)" w2)"
expect "retried: the group is gone" "3 0" "$(callq "$Q6" release 3 "$WT" | line)"
# release_dequeue takes the whole-group form too (its release part is release.lua's body)
callq "$Q6" enqueue 3 v1 p v2 p v3 p > /dev/null
mapfile -t D < <(calldq "$Q6" dequeue 2 30000 5 1)
mapfile -t E < <(CLI_FLAGS=--no-raw callq "$Q6" release_dequeue 1 30000 5 2 "${D[2]}" | sed -E 's/^ *([0-9]+\) )+//; s/^\(integer\) //; s/^"(.*)"$/\1/')
expect "release_dequeue, whole group: released 2, next v3" "1 2 2 1 v3" "${E[*]:0:4} ${E[8]}"
expect "release_dequeue, whole group: the group gone" "0" "$("${R[@]}" HLEN "$(gk groups)")"
expect "release v3" "2 1" "$(callq "$Q6" release 1 v3 "${E[5]}" | line)"
# the id fence in the tasks anchor (lua/README.md, enqueue, "Server ids")
expect "fence holds, no numeric caller id" "~relq fence 0~" "$("${R[@]}" HGET "$(gk tasks)" '' | cut -c1-14)"
callq "$Q6" enqueue 1 77 p > /dev/null
expect "a numeric caller id raises the bound" "~relq fence 77~" "$("${R[@]}" HGET "$(gk tasks)" '' | cut -c1-15)"
expect "the anchor stays over 64 bytes" "1" "$(( $("${R[@]}" HSTRLEN "$(gk tasks)" '') > 64 ))"
callq "$Q6" remove 77 > /dev/null
# sweep: an expired group is recovered task by task, within the limit
callq "$Q6" enqueue 3 s1 p s2 p s3 p > /dev/null
callq "$Q6" dequeue 3 1 5 1 > /dev/null
sleep 0.05
expect "sweep limit 2: 2 of the expired group, more" "1 2 0 0 0 1" "$(callq "$Q6" sweep 2 0 '' '' | line)"
expect "sweep the rest" "1 1 0 0 0 0" "$(callq "$Q6" sweep 2 0 '' '' | line)"
expect "nothing leased, no groups" "0 0 0" "$("${R[@]}" ZCOUNT "$(gk leases)" -inf '(inf') $("${R[@]}" HLEN "$(gk groups)") $("${R[@]}" HGET "$(gk meta)" grouped)"
expect "bad group flag" "-1 *" "$(callq "$Q6" dequeue 5 30000 5 2 | line)"

# --- extend ---------------------------------------------------------------------
expect "extend ok" "1 *" "$(call extend a "$TA" 60000 | line)"
expect "extend stale" "-2" "$(call extend a 12345 '' | line)"
expect "extend not found" "-3" "$(call extend zzz 1 '' | line)"

# --- requeue → dead after max attempts (a: max 2) ------------------------------
expect "requeue stale" "-2" "$(call requeue a 777 0 '' 0 '' '' | line)"
expect "requeue attempt 1" "1" "$(call requeue a "$TA" 0 boom 0 '' '' | line)"
mapfile -t D < <(calld dequeue 1 30000 5)
expect "redelivered a, attempt 2" "a *p2 2" "${D[5]} ${D[6]} $(attempt D 0 1)"
TA=${D[2]}
expect "inspect working has last error" "1 working 2 * * boom p2" "$(call inspect a | line)"
expect "requeue at max → dead" "2" "$(call requeue a "$TA" 0 boom2 0 '' '' | line)"
expect "dead list" "1 1 a p2 2 boom2 *" "$(call dead_list 0 10 | line)"
expect "late ack of dead task → stale" "1 -2" "$(call release 1 a "$TA" | line)"

# --- give back does not count the attempt ---------------------------------------
call enqueue 1 g pg 0 '' 1 > /dev/null
mapfile -t D < <(calld dequeue 1 30000 5)
expect "dequeue g" "g 1" "${D[5]} $(attempt D 0 1)"
expect "give back (max 1, not dead)" "1" "$(call requeue g "${D[2]}" 0 '' 1 '' '' | line)"
expect "g back in pending, attempts 0" "1 pending 0 -1 *" "$(call inspect g | line)"
expect "remove pending g" "1 pending" "$(call remove g | line)"
expect "remove again" "-3" "$(call remove g | line)"

# --- dead retry / purge -----------------------------------------------------------
expect "dead_retry a" "1 1 0" "$(call dead_retry ids a nope | line)"
expect "a pending, attempts reset" "1 pending 0 -1 * boom2 p2" "$(call inspect a | line)"
mapfile -t D < <(calld dequeue 1 30000 5)
expect "a redelivered attempt 1" "a 1" "${D[5]} $(attempt D 0 1)"
expect "requeue → ok" "1" "$(call requeue a "${D[2]}" 0 x 0 '' '' | line)"
mapfile -t D < <(calld dequeue 1 30000 5)
expect "requeue at max 2 → dead again" "2" "$(call requeue a "${D[2]}" 0 x 0 '' '' | line)"
expect "dead_purge all" "1 1 0" "$(call dead_purge all 10 | line)"
expect "purged task gone" "-3" "$(call inspect a | line)"

# --- sweep of an expired 1 ms lease -------------------------------------------------
expect "enqueue s (lease 1 ms) + d2 (delay 100 ms)" "1 s 1 d2 1" "$(call enqueue 2 s ps 0 1 3 d2 p4 100 '' '' | line)"
mapfile -t D < <(calld dequeue 1 30000 5)
expect "dequeue s" "s 1" "${D[5]} $(attempt D 0 1)"
expect "own lease → (task 1, deadline now + 1)" "1 1" "${D[8]} $((D[9] - D[1]))"
TS=${D[2]}
sleep 0.15
expect "sweep recovers 1, promotes 1" "1 1 0 1 0 0" "$(call sweep 100 0 '' '' | line)"
expect "s pending with lease error" "1 pending 1 -1 * lease expired ps" "$(call inspect s | line)"
expect "late ack after sweep → stale" "1 -2" "$(call release 1 s "$TS" | line)"
expect "d1 still delayed" "1 delayed 0 * *  p3" "$(call inspect d1 | line)"
expect "peek oldest first" "1 2 d2 p4 * 0 s ps * 1" "$(call peek 0 10 | line)"
expect "peek offset" "1 2 s ps * 1" "$(call peek 1 10 | line)"

# --- stats ------------------------------------------------------------------------
mapfile -t S < <(call stats)
ST=$(printf '%s\n' "${S[@]}")
expect "stats status" "1" "${S[0]}"
expect "stats pending" "2" "$(field pending <<< "$ST")"
expect "stats delayed" "1" "$(field delayed <<< "$ST")"
expect "stats dead" "0" "$(field dead <<< "$ST")"
expect "stats enqueued" "8" "$(field enqueued <<< "$ST")"
expect "stats timed_out" "1" "$(field timed_out <<< "$ST")"
expect "stats dead_lettered" "2" "$(field dead_lettered <<< "$ST")"
expect "stats working_limit unset" "-1" "$(field working_limit <<< "$ST")"
expect "stats oldest age >= 100" "1" "$(( $(field oldest_pending_age_ms <<< "$ST") >= 100 ))"
expect "stats via EVALSHA_RO" "1" "$("${R[@]}" EVALSHA_RO "${SHA[stats]}" 9 $(for p in pending delayed leases dead tasks meta rate working groups; do printf 'relq:{%s}:%s ' "$Q" $p; done) | head -1)"

# --- configure: working limit, paused, rate limit -------------------------------------
expect "configure working_limit 1" "1" "$(call configure working_limit 1 | line)"
mapfile -t D < <(calld dequeue 10 30000 5)
expect "limit 1 → one task" "8" "${#D[@]}"
mapfile -t E < <(calld dequeue 10 30000 5)
expect "limit reached → 4" "4 * 1 1" "$(printf '%s ' "${E[@]}" | sed 's/ $//')"
"${R[@]}" DEL "relq:{$Q}:signal" > /dev/null
expect "release at the limit" "2 1" "$(call release 1 "${D[5]}" "${D[2]}" | line)"
expect "release at the limit signals" "1" "$("${R[@]}" LLEN "relq:{$Q}:signal")"
expect "configure paused" "1" "$(call configure paused 1 working_limit '' | line)"
expect "paused → 3" "3 *" "$(call dequeue 10 30000 5 | line)"
expect "configure rate" "1" "$(call configure paused 0 rate_limit 1 rate_window_ms 60000 | line)"
mapfile -t D < <(calld dequeue 10 30000 5)
expect "rate 1 → one task (own lease and attempt 2: a deadline pair, an attempt pair)" "1 12 2" "${D[4]} ${#D[@]} $(attempt D 0 1)"
call enqueue 1 r pr 0 '' '' > /dev/null
mapfile -t E < <(calld dequeue 10 30000 5)
expect "rate limited → 5" "5" "${E[0]}"
expect "retry_after in 1..60000" "1" "$(( E[2] > 0 && E[2] <= 60000 ))"
expect "configure clear" "1" "$(call configure rate_limit '' rate_window_ms '' | line)"

# --- bad ARGV → -1, nothing changed --------------------------------------------------
before=$("${R[@]}" HGET "relq:{$Q}:meta" enqueued)
for bad in nan inf 0x10 ' 5' -1 1.5 1e3 ''; do
  expect "enqueue delay [$bad]" "-1 *" "$(call enqueue 1 bad x "$bad" '' '' | line)"
done
expect "enqueue n=0" "-1 *" "$(call enqueue 0 | line)"
expect "enqueue n=1001" "-1 *" "$(call enqueue 1001 | line)"
expect "enqueue wrong arity" "-1 *" "$(call enqueue 2 x y 0 '' '' | line)"
expect "enqueue lease 0" "-1 *" "$(call enqueue 1 bad x 0 0 '' | line)"
expect "enqueue 2nd task bad (atomic)" "-1 *" "$(call enqueue 2 ok1 x 0 '' '' ok2 y 0 '' 0x5 | line)"
expect "nothing enqueued" "$before" "$("${R[@]}" HGET "relq:{$Q}:meta" enqueued)"
expect "ok1 not written" "-3" "$(call inspect ok1 | line)"
expect "dequeue max 0" "-1 *" "$(call dequeue 0 30000 5 | line)"
expect "dequeue lease nan" "-1 *" "$(call dequeue 1 nan 5 | line)"
expect "release n=abc" "-1 *" "$(call release abc | line)"
expect "requeue give_back 2" "-1 *" "$(call requeue s 1 0 '' 2 '' '' | line)"
expect "requeue delay -5" "-1 *" "$(call requeue s 1 -5 '' 0 '' '' | line)"
expect "extend lease inf" "-1 *" "$(call extend s 1 inf | line)"
expect "sweep limit 1001" "-1 *" "$(call sweep 1001 0 '' '' | line)"
expect "configure unknown" "-1 *" "$(call configure bogus 1 | line)"
expect "configure atomic" "-1 *" "$(call configure paused 1 working_limit 0 | line)"
expect "configure left paused unset" "" "$("${R[@]}" HGET "relq:{$Q}:meta" paused)"
expect "peek count 0" "-1 *" "$(call peek 0 0 | line)"
expect "dead_retry mode" "-1 *" "$(call dead_retry some 1 | line)"
expect "signal never above 1" "1" "$(( $("${R[@]}" LLEN "relq:{$Q}:signal") <= 1 ))"

echo "lua-smoke: $CHECKS checks, $FAILS failures"
[[ $FAILS -eq 0 ]] || exit 1

[[ "$MEASURE" == "--measure" ]] || exit 0

# ============================ measurements ============================
PAY=$(printf 'x%.0s' $(seq 100))
resp() { printf '*%d\r\n' $#; local a; for a; do printf '$%d\r\n%s\r\n' ${#a} "$a"; done; }
keysfor() { local p; for p in ${KEYSOF[$2]}; do printf 'relq:{%s}:%s\n' "$1" "$p"; done; }
evalpipe() { "${R[@]}" --pipe > /dev/null; }
cpu_us() { "${R[@]}" INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_evalsha:.*usec_per_call=\([0-9.]*\).*/\1/p'; }

mem_run() { # mem_run LABEL IDPREFIX ('' = server ids)
  local q="$Q-mem" prefix=$2 b i args
  cleanup_q "$q"
  mapfile -t K < <(keysfor "$q" enqueue)
  local m0; m0=$("${R[@]}" INFO memory | tr -d '\r' | sed -n 's/^used_memory://p')
  for b in $(seq 0 99); do
    args=()
    for i in $(seq 1 1000); do
      if [[ -n $prefix ]]; then args+=("$(printf '%s%07d' "$prefix" $((b * 1000 + i)))"); else args+=(''); fi
      args+=("$PAY" 0 '' '')
    done
    resp EVALSHA "${SHA[enqueue]}" 6 "${K[@]}" 1000 "${args[@]}"
  done | evalpipe
  local m1; m1=$("${R[@]}" INFO memory | tr -d '\r' | sed -n 's/^used_memory://p')
  echo "memory/$1: $(( (m1 - m0) / 100000 )) bytes per pending 100-byte task (pending=$("${R[@]}" LLEN "relq:{$q}:pending"))"
  cleanup_q "$q"
}
if [[ -z ${SKIP_MEM:-} ]]; then
  mem_run "server ids" ''
  mem_run "12-char caller ids" 'task-'
fi

cycle_run() { # cycle_run BATCH CALLS: enqueue/dequeue/release BATCH tasks per call, CALLS calls
  local n=$1 calls=$2 q="$Q-cpu" c i args
  cleanup_q "$q"
  mapfile -t KE < <(keysfor "$q" enqueue); mapfile -t KD < <(keysfor "$q" dequeue)
  mapfile -t KR < <(keysfor "$q" release)
  args=(); for i in $(seq 1 "$n"); do args+=('' "$PAY" 0 '' ''); done
  # Commands are generated into files first, so bash does not compete with Redis for CPU.
  local dir; dir=$(mktemp -d)
  for c in $(seq 1 "$calls"); do resp EVALSHA "${SHA[enqueue]}" 6 "${KE[@]}" "$n" "${args[@]}"; done > "$dir/e"
  for c in $(seq 1 "$calls"); do resp EVALSHA "${SHA[dequeue]}" 8 "${KD[@]}" "$n" 30000 5; done > "$dir/d"
  # fresh queue: server ids 1..N are delivered in order with tokens 1..N
  for c in $(seq 0 $((calls - 1))); do
    args=(); for i in $(seq 1 "$n"); do args+=($((c * n + i)) $((c * n + i))); done
    resp EVALSHA "${SHA[release]}" 7 "${KR[@]}" "$n" "${args[@]}"
  done > "$dir/r"
  "${R[@]}" CONFIG RESETSTAT > /dev/null; evalpipe < "$dir/e"
  local ue; ue=$(cpu_us); "${R[@]}" CONFIG RESETSTAT > /dev/null; evalpipe < "$dir/d"
  local ud; ud=$(cpu_us); "${R[@]}" CONFIG RESETSTAT > /dev/null; evalpipe < "$dir/r"
  local ur; ur=$(cpu_us)
  rm -rf "$dir"
  # HLEN minus the encoding anchor (the empty field) when present
  local left; left=$(( $("${R[@]}" HLEN "relq:{$q}:tasks") - $("${R[@]}" HEXISTS "relq:{$q}:tasks" "") ))
  awk -v n="$n" -v e="$ue" -v d="$ud" -v r="$ur" -v left="$left" 'BEGIN {
    printf "cpu/batch %d: enqueue %.2f, dequeue %.2f, release %.2f us/task; cycle %.2f us/task (tasks left %d)\n",
      n, e / n, d / n, r / n, (e + d + r) / n, left }'
  cleanup_q "$q"
}
cycle_run 1 20000
cycle_run 100 200

# throughput, single tasks, one connection, no pipelining (round-trip bound)
q="$Q-bench"; cleanup_q "$q"
mapfile -t KE < <(keysfor "$q" enqueue); mapfile -t KD < <(keysfor "$q" dequeue)
for spec in "-c 1 -P 1" "-c 50 -P 16"; do
  # shellcheck disable=SC2086
  e=$(redis-benchmark -p "$PORT" -n 100000 $spec -q EVALSHA "${SHA[enqueue]}" 6 "${KE[@]}" 1 '' "$PAY" 0 '' '' | tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1)
  # shellcheck disable=SC2086
  d=$(redis-benchmark -p "$PORT" -n 100000 $spec -q EVALSHA "${SHA[dequeue]}" 8 "${KD[@]}" 1 30000 5 | tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1)
  echo "redis-benchmark $spec: enqueue $e; dequeue $d"
done
cleanup_q "$q"
