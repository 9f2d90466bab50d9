#!/bin/bash
# SPDX-License-Identifier: MIT
#
# dead-peer.sh: our offer and answer tools exchange messages; then the
# answer is killed with SIGKILL.  The offer must report "disconnected"
# within 10 s and "failed" within 40 s, and exit 0 as pion's example does.
#
# Runs in a network namespace of its own with only loopback (the tools use
# a public STUN server by default); skipped (77) without root or ip netns.
# Environment: P2PSIG_OFFER, P2PSIG_ANSWER (the tools).
set -euo pipefail
export LC_ALL=C

say() { printf 'dead-peer: %s\n' "$*"; }
[[ "$(id -u)" == 0 ]] || { say "SKIP: needs root for a network namespace"; exit 77; }
ns="p2psig-dead-$$"
ip netns add "$ns" 2>/dev/null || { say "SKIP: ip netns add failed"; exit 77; }
dir="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
ip -n "$ns" link set lo up


# Waits until file $1 has a line matching $2, for at most $3 seconds;
# prints the seconds it took.
wait_line() {
  local start=$SECONDS
  while ! grep -q -- "$2" "$1"; do
    if ((SECONDS - start > $3)); then
      say >&2 "FAIL: no '$2' in $1 after $3 s"
      cat "$dir/offer.log" >&2
      cat "$dir/answer.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo $((SECONDS - start))
}

ip netns exec "$ns" "$P2PSIG_ANSWER" -interval 0.5 -answer-address 127.0.0.1:60000 \
  -offer-address 127.0.0.1:50000 > "$dir/answer.log" 2>&1 &
pids+=($!)
answer_pid=$!
ip netns exec "$ns" "$P2PSIG_OFFER" -interval 0.5 -offer-address 127.0.0.1:50000 \
  -answer-address 127.0.0.1:60000 > "$dir/offer.log" 2>&1 &
pids+=($!)
offer_pid=$!

wait_line "$dir/offer.log" "Message from DataChannel" 20 > /dev/null
wait_line "$dir/answer.log" "Message from DataChannel" 20 > /dev/null
kill -9 "$answer_pid"
say "answer killed"
t=$(wait_line "$dir/offer.log" "State has changed: disconnected" 10)
say "offer reported disconnected after ~$t s"
t=$(wait_line "$dir/offer.log" "State has changed: failed" 40)
say "offer reported failed after ~$t s more"
for _ in $(seq 50); do
  kill -0 "$offer_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$offer_pid" 2>/dev/null; then
  say "FAIL: the offer did not exit after failed"
  exit 1
fi
status=0
wait "$offer_pid" || status=$?
[[ "$status" == 0 ]] || { say "FAIL: offer exited $status"; cat "$dir/offer.log"; exit 1; }
say "ok"
