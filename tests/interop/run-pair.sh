#!/bin/bash
# SPDX-License-Identifier: MIT
#
# run-pair.sh OFFER-IMPL ANSWER-IMPL [answer-first|offer-first]
#
# Runs one offer and one answer of the pion-to-pion example, each either our
# tool ("ours") or pion's own example ("pion"), and checks that messages flow
# both ways:
#   - each side printed "Peer Connection State has changed: connected" and
#     "Data channel 'data'-'N' open. ...";
#   - each side received at least 2 messages;
#   - what a side received is, in order, what the other side sent, and every
#     message one side sent before the other side stopped (ours: its last
#     message event; pion: never, it runs until killed) arrived.
#
# Our tools run with -count 2 and -interval 1 (0.2 when both sides are
# ours) and exit by themselves; pion's tools send every 5 s forever and are
# killed once their logs show what is needed (polled, with a deadline).
#
# The pair runs in a network namespace made here, with a veth pair carrying
# 198.18.0.1/24 and 198.18.0.2/24: pion gathers no loopback candidates.
# Without root or `ip netns`, pairs with pion are skipped (exit 77) and
# ours-ours runs on the host's loopback.
#
# Environment: P2PSIG_OFFER, P2PSIG_ANSWER (our tools), P2PSIG_BUILDDIR
# (scratch dir; pion's binaries are cached in $P2PSIG_BUILDDIR/pion/),
# P2PSIG_OFFER_FIRST=1 (same as the third argument offer-first),
# P2PSIG_INTEROP_TIMEOUT (overall deadline in seconds, default 60),
# P2PSIG_KEEP_LOGS=1 (keep the run directory even on success).
#
# Exit: 0 success, 1 failure, 77 skipped.
set -euo pipefail
export LC_ALL=C
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY \
  no_proxy NO_PROXY

readonly SKIP=77
ok=0
readonly COUNT=2
readonly GRACE=0.3
readonly PION_SRC=/usr/share/gocode/src/github.com/pion/webrtc
readonly OFFER_PORT=50000
readonly ANSWER_PORT=60000

say() { printf 'run-pair: %s\n' "$*"; }
skip() {
  say "SKIP: $*"
  ok=1 # nothing worth keeping
  exit "$SKIP"
}
die() { say "ERROR: $*" >&2; exit 1; }

usage() {
  echo "usage: $0 ours|pion ours|pion [answer-first|offer-first]" >&2
  exit 2
}

[[ $# -ge 2 && $# -le 3 ]] || usage
declare -A impl=([offer]="$1" [answer]="$2")
for role in offer answer; do
  case "${impl[$role]}" in
    ours | pion) ;;
    *) usage ;;
  esac
done
order="${3:-answer-first}"
if [[ "${P2PSIG_OFFER_FIRST:-0}" == 1 ]]; then
  order=offer-first
fi
case "$order" in
  answer-first | offer-first) ;;
  *) usage ;;
esac

builddir="${P2PSIG_BUILDDIR:-${TMPDIR:-/tmp}/p2psig-interop}"
mkdir -p "$builddir"
builddir="$(cd "$builddir" && pwd)"
timeout_s="${P2PSIG_INTEROP_TIMEOUT:-60}"

if [[ "$order" == offer-first && "${impl[offer]}" == pion ]]; then
  skip "pion's offer example panics when the answer is not listening yet;" \
    "offer-first needs our offer"
fi

if [[ "${impl[offer]}" == ours && "${impl[answer]}" == ours ]]; then
  interval=0.2
else
  interval=1
fi

declare -A tool=()
if [[ "${impl[offer]}" == ours ]]; then
  tool[offer]="${P2PSIG_OFFER:-}"
fi
if [[ "${impl[answer]}" == ours ]]; then
  tool[answer]="${P2PSIG_ANSWER:-}"
fi
for role in "${!tool[@]}"; do
  [[ -n "${tool[$role]}" ]] ||
    die "P2PSIG_${role^^} is not set (path to our $role tool)"
  [[ -x "${tool[$role]}" ]] || die "our $role tool ${tool[$role]} is not executable"
done

# --- pion's binaries, built once --------------------------------------------

piondir="$builddir/pion"

build_pion() {
  command -v go >/dev/null 2>&1 ||
    skip "go not found (apt-get install golang-go)"
  [[ -d "$PION_SRC/examples/pion-to-pion" ]] ||
    skip "$PION_SRC not found (apt-get install golang-github-pion-webrtc.v3-dev)"
  mkdir -p "$piondir/gopath" "$piondir/gocache"
  local role bin src
  (
    # Serialise concurrent builds of the cache.
    flock 9
    for role in offer answer; do
      bin="$piondir/$role"
      src="$PION_SRC/examples/pion-to-pion/$role/main.go"
      if [[ -x "$bin" && "$bin" -nt "$src" ]]; then
        continue
      fi
      say "building pion's $role example into $bin"
      if ! env GO111MODULE=off GOPATH="$piondir/gopath:/usr/share/gocode" \
        GOCACHE="$piondir/gocache" GOENV=off GOFLAGS= GOPROXY=off \
        GOTOOLCHAIN=local CGO_ENABLED=0 \
        go build -o "$bin.tmp" \
        "github.com/pion/webrtc/examples/pion-to-pion/$role" \
        >"$piondir/build-$role.log" 2>&1; then
        cat "$piondir/build-$role.log" >&2
        rm -f "$bin.tmp"
        die "building pion's $role example failed"
      fi
      mv -f "$bin.tmp" "$bin"
    done
  ) 9>"$piondir/.lock"
}

# --- state and cleanup ------------------------------------------------------

ns=""
rundir=""
declare -A pid=() stamp_pid=() rc=() exited=() exit_time=()

alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

cleanup() {
  local role p i
  set +e
  # Stop what is still running: pion always, ours on failure.
  for role in offer answer; do
    p="${pid[$role]:-}"
    if alive "$p"; then kill -TERM "$p" 2>/dev/null; fi
  done
  for role in offer answer; do
    p="${pid[$role]:-}"
    for ((i = 0; i < 30; i++)); do
      alive "$p" || break
      sleep 0.1
    done
    if alive "$p"; then kill -KILL "$p" 2>/dev/null; fi
    if [[ -n "$p" ]]; then wait "$p" 2>/dev/null; fi
    p="${stamp_pid[$role]:-}"
    if [[ -n "$p" ]]; then wait "$p" 2>/dev/null; fi
  done
  if [[ -n "$ns" ]]; then
    ip netns delete "$ns" 2>/dev/null || say "could not delete namespace $ns"
  fi
  if [[ -n "$rundir" ]]; then
    if [[ "$ok" == 1 && "${P2PSIG_KEEP_LOGS:-0}" != 1 ]]; then
      rm -rf "$rundir"
    else
      say "logs kept in $rundir"
    fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rundir="$(mktemp -d "$builddir/run-pair.XXXXXX")"

# --- network namespace ------------------------------------------------------

ns_exec=()
ns_error=""

setup_ns() {
  if [[ "$(id -u)" != 0 ]]; then
    ns_error="not root (network namespaces need root)"
    return 1
  fi
  if ! command -v ip >/dev/null 2>&1; then
    ns_error="ip not found (apt-get install iproute2)"
    return 1
  fi
  local name="p2psig-$$-$RANDOM"
  if ! ip netns add "$name" 2>"$rundir/netns.err"; then
    ns_error="ip netns add failed: $(tr '\n' ' ' <"$rundir/netns.err")"
    return 1
  fi
  ns="$name"
  if ! {
    ip -n "$ns" link set lo up &&
      ip -n "$ns" link add p2psig0 type veth peer name p2psig1 &&
      ip -n "$ns" addr add 198.18.0.1/24 dev p2psig0 &&
      ip -n "$ns" addr add 198.18.0.2/24 dev p2psig1 &&
      ip -n "$ns" link set p2psig0 up &&
      ip -n "$ns" link set p2psig1 up &&
      ip netns exec "$ns" true
  } 2>"$rundir/netns.err"; then
    ns_error="setting up namespace $ns failed: $(tr '\n' ' ' <"$rundir/netns.err")"
    return 1
  fi
  # IPv4 only on the veth pair: no link-local candidates still in DAD.
  ip netns exec "$ns" sh -c \
    'for d in p2psig0 p2psig1; do
       echo 1 >/proc/sys/net/ipv6/conf/$d/disable_ipv6
     done' 2>/dev/null || true
  ns_exec=(ip netns exec "$ns")
  return 0
}

if setup_ns; then
  say "namespace $ns: lo up, p2psig0 198.18.0.1/24, p2psig1 198.18.0.2/24"
elif [[ "${impl[offer]}" == ours && "${impl[answer]}" == ours ]]; then
  say "no network namespace ($ns_error): running ours-ours on loopback"
else
  skip "no network namespace for pion: $ns_error"
fi

if [[ "${impl[offer]}" == pion || "${impl[answer]}" == pion ]]; then
  build_pion
  if [[ "${impl[offer]}" == pion ]]; then tool[offer]="$piondir/offer"; fi
  if [[ "${impl[answer]}" == pion ]]; then tool[answer]="$piondir/answer"; fi
fi

# --- running the pair -------------------------------------------------------

# Prefixes each line with the time it was read, so that the checks know what
# was sent before what.
stamp() {
  local line
  while IFS= read -r line || [[ -n "$line" ]]; do
    printf '%s %s\n' "$EPOCHREALTIME" "$line"
  done
}

start_side() {
  local role="$1" fifo="$rundir/$1.fifo" cmd
  if [[ "${impl[$role]}" == ours ]]; then
    cmd=()
    # Line-buffered output, whatever the tool does, so the time stamps are
    # right.  ASan refuses a preloaded library before its runtime unless told.
    if command -v stdbuf >/dev/null 2>&1; then
      cmd=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
        stdbuf -oL -eL)
    fi
    cmd+=("${tool[$role]}" -count "$COUNT" -interval "$interval")
  else
    cmd=("${tool[$role]}")
  fi
  mkfifo "$fifo"
  : >"$rundir/$role.log"
  stamp <"$fifo" >"$rundir/$role.log" &
  stamp_pid[$role]=$!
  say "starting $role (${impl[$role]}): ${cmd[*]}"
  "${ns_exec[@]}" "${cmd[@]}" >"$fifo" 2>&1 </dev/null &
  pid[$role]=$!
}

# Polls the exit of a side; sets exited[role] and rc[role] once it is gone
# and its log is complete.
poll_exit() {
  local role="$1" r=0
  [[ -z "${exited[$role]:-}" ]] || return 0
  if alive "${pid[$role]}"; then return 0; fi
  wait "${pid[$role]}" || r=$?
  wait "${stamp_pid[$role]}" || true
  rc[$role]=$r
  exited[$role]=1
  exit_time[$role]="$EPOCHREALTIME"
}

listening() {
  "${ns_exec[@]}" ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

wait_listen() {
  local role="$1" port="$2" limit=$((SECONDS + 15))
  until listening "$port"; do
    poll_exit "$role"
    [[ -z "${exited[$role]:-}" ]] || return 0
    ((SECONDS < limit)) || return 0
    sleep 0.05
  done
}

start_time="$EPOCHREALTIME"
deadline=$((SECONDS + timeout_s))

if [[ "$order" == answer-first ]]; then
  start_side answer
  wait_listen answer "$ANSWER_PORT"
  start_side offer
else
  start_side offer
  wait_listen offer "$OFFER_PORT"
  # Let the offer find no answer at least once: it must retry.
  sleep 1
  start_side answer
fi

# --- checks -----------------------------------------------------------------

q="'"
open_re="^[0-9.]+ Data channel 'data'-'[0-9]+' open\. Random messages will now be sent to any connected DataChannels every [0-9.]+ seconds\$"

# Time at which a side stopped taking messages: for an exited tool of ours,
# its last message event; for one still running, now.
stop_time() {
  local role="$1" t
  if [[ -n "${exited[$role]:-}" ]]; then
    t="$(awk -v q="$q" '
      $2 == "Sending" || ($2 == "Message" && $3 == "from") { t = $1 }
      END { print t }' "$rundir/$role.log")"
    echo "${t:-${exit_time[$role]}}"
  else
    echo "$EPOCHREALTIME"
  fi
}

# A side's log is complete once it has exited; pion's logs are unbuffered.
log_final() {
  [[ -n "${exited[$1]:-}" || "${impl[$1]}" == pion ]]
}

# Prints one line per unmet condition for messages from $1 to $2; lines that
# can no longer change start with "FATAL: ".
check_direction() {
  local from="$1" to="$2" stop why rfinal=0 sfinal=0
  stop="$(stop_time "$to")"
  if [[ -n "${exited[$to]:-}" ]]; then
    why="before it stopped"
    rfinal=1
  else
    why="so far"
  fi
  if log_final "$from"; then sfinal=1; fi
  awk -v q="$q" -v slog="$rundir/$from.log" -v rlog="$rundir/$to.log" \
    -v from="$from" -v to="$to" -v stop="$stop" -v grace="$GRACE" \
    -v min="$COUNT" -v why="$why" -v rfinal="$rfinal" -v sfinal="$sfinal" '
    BEGIN {
      spre = "Sending " q
      rpre = "Message from DataChannel " q "data" q ": " q
      ns = 0
      while ((getline line < slog) > 0) {
        sp = index(line, " ")
        t = substr(line, 1, sp - 1)
        rest = substr(line, sp + 1)
        if (substr(rest, 1, length(spre)) == spre && length(rest) > length(spre) && substr(rest, length(rest)) == q) {
          ns++
          st[ns] = t
          sm[ns] = substr(rest, length(spre) + 1, length(rest) - length(spre) - 1)
        }
      }
      nr = 0
      while ((getline line < rlog) > 0) {
        rest = substr(line, index(line, " ") + 1)
        if (substr(rest, 1, length(rpre)) == rpre && length(rest) > length(rpre) && substr(rest, length(rest)) == q) {
          nr++
          rm[nr] = substr(rest, length(rpre) + 1, length(rest) - length(rpre) - 1)
        }
      }
      # Once the receiver has exited, what it lacks stays lacking.
      fatal = rfinal ? "FATAL: " : ""
      for (i = 1; i <= nr; i++) {
        if (i > ns)
          printf "%s%s received %s%s%s as message %d, but %s has not logged sending it\n", (rfinal && sfinal) ? "FATAL: " : "", to, q, rm[i], q, i, from
        else if (rm[i] != sm[i]) {
          # Reliable and ordered: this cannot mend itself.
          printf "FATAL: %s received %s%s%s as message %d, but message %d %s sent was %s%s%s\n", to, q, rm[i], q, i, i, from, q, sm[i], q
          break
        }
      }
      req = 0
      for (i = 1; i <= ns; i++)
        if (st[i] + 0 < stop - grace)
          req = i
      if (nr < req) {
        list = ""
        for (i = nr + 1; i <= req; i++)
          list = list " " q sm[i] q
        printf "%s%s did not receive %d of the messages %s sent %s:%s\n", fatal, to, req - nr, from, why, list
      }
      if (nr < min)
        printf "%s%s received %d message(s) from %s, expected at least %d\n", fatal, to, nr, from, min
    }'
}

# Fills reasons[] with what is still missing; returns 0 when nothing is.
evaluate() {
  local role log line
  reasons=()
  fatal=0
  for role in offer answer; do
    log="$rundir/$role.log"
    if [[ "${impl[$role]}" == ours && -z "${exited[$role]:-}" ]]; then
      reasons+=("$role (ours) has not exited yet")
    fi
    if ! grep -Eq '^[0-9.]+ Peer Connection State has changed: connected$' "$log"; then
      reasons+=("$role (${impl[$role]}) did not print 'Peer Connection State has changed: connected'")
      if [[ -n "${exited[$role]:-}" ]]; then fatal=1; fi
    fi
    if ! grep -Eq "$open_re" "$log"; then
      reasons+=("$role (${impl[$role]}) did not print \"Data channel 'data'-'N' open. Random messages ...\"")
      if [[ -n "${exited[$role]:-}" ]]; then fatal=1; fi
    fi
  done
  while IFS= read -r line; do
    if [[ "$line" == FATAL:* ]]; then
      fatal=1
      line="${line#FATAL: }"
    fi
    reasons+=("$line")
  done < <(check_direction offer answer; check_direction answer offer)
  ((${#reasons[@]} == 0))
}

print_logs() {
  local role
  for role in offer answer; do
    echo "----- $role (${impl[$role]}) log, seconds since start -----"
    awk -v t0="$start_time" '{
      sp = index($0, " ")
      printf "%+8.3f %s\n", substr($0, 1, sp - 1) - t0, substr($0, sp + 1)
    }' "$rundir/$role.log"
  done
  echo "----- end of logs -----"
}

fail() {
  local r
  say "FAIL ($1): ${impl[offer]} offer, ${impl[answer]} answer, $order"
  for r in "${reasons[@]}"; do say "  - $r"; done
  print_logs
  exit 1
}

reasons=()
fatal=0
while :; do
  for role in offer answer; do
    poll_exit "$role"
    if [[ -n "${exited[$role]:-}" ]]; then
      if [[ "${impl[$role]}" == ours && "${rc[$role]}" != 0 ]]; then
        evaluate || true
        reasons=("our $role exited with status ${rc[$role]}" "${reasons[@]}")
        fail "our $role failed"
      fi
    fi
  done
  if evaluate; then
    break
  fi
  if [[ "$fatal" == 1 ]]; then
    fail "a side exited without doing its part, or messages were mixed up"
  fi
  if [[ -n "${exited[offer]:-}" && -n "${exited[answer]:-}" ]]; then
    fail "both sides exited"
  fi
  for role in offer answer; do
    if [[ "${impl[$role]}" == pion && -n "${exited[$role]:-}" ]]; then
      reasons=("pion's $role exited (status ${rc[$role]})" "${reasons[@]}")
      fail "pion's $role exited"
    fi
  done
  if ((SECONDS >= deadline)); then
    fail "no success within ${timeout_s} s"
  fi
  sleep 0.1
done

for role in offer answer; do
  sent="$(grep -c "^[0-9.]* Sending '" "$rundir/$role.log" || true)"
  got="$(grep -c "^[0-9.]* Message from DataChannel 'data': '" "$rundir/$role.log" || true)"
  say "$role (${impl[$role]}): connected, sent $sent, received $got"
done
ok=1
say "PASS: ${impl[offer]} offer, ${impl[answer]} answer, $order," \
  "$(awk -v a="$start_time" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }')"
exit 0
