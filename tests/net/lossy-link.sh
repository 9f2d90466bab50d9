#!/bin/bash
# SPDX-License-Identifier: MIT
#
# lossy-link.sh LOSS...: two namespaces joined by a veth pair, each
# dropping the given fraction of incoming UDP packets (iptables statistic),
# so that the link loses that much in both directions.  For each loss rate,
# lossy-peer sends 2000 numbered messages over a reliable ordered channel
# (all must arrive, once, in order) and over an unordered channel with
# max_retransmits 0 (loss shows as loss, never as corruption).
# Skipped (77) without root, ip netns or iptables' statistic match.
# Environment: P2PSIG_LOSSY_PEER (the lossy-peer program).
set -euo pipefail
export LC_ALL=C

say() { printf 'lossy-link: %s\n' "$*"; }
skip() { say "SKIP: $*"; exit 77; }
[[ "$(id -u)" == 0 ]] || skip "needs root for network namespaces"
command -v iptables > /dev/null || skip "iptables is not installed"
count="${P2PSIG_LOSSY_COUNT:-2000}"
a="p2psig-loss-a-$$"
b="p2psig-loss-b-$$"
dir="$(mktemp -d)"
cleanup() {
  ip netns pids "$a" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns pids "$b" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns del "$a" 2>/dev/null || true
  ip netns del "$b" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
ip netns add "$a" 2>/dev/null || skip "ip netns add failed"
ip netns add "$b"
ip link add "lla$$" netns "$a" type veth peer name "llb$$" netns "$b"
ip -n "$a" addr add 198.18.0.1/24 dev "lla$$"
ip -n "$b" addr add 198.18.0.2/24 dev "llb$$"
for ns in "$a" "$b"; do
  ip -n "$ns" link set lo up
done
ip -n "$a" link set "lla$$" up
ip -n "$b" link set "llb$$" up
# libnice gathers only interfaces that are running: wait for the carrier.
for _ in $(seq 100); do
  if ip -n "$a" link show "lla$$" | grep -q LOWER_UP &&
     ip -n "$b" link show "llb$$" | grep -q LOWER_UP; then
    break
  fi
  sleep 0.05
done

for loss in "$@"; do
  for ns in "$a" "$b"; do
    ip netns exec "$ns" iptables -F INPUT
    ip netns exec "$ns" iptables -A INPUT -p udp -m statistic \
      --mode random --probability "$loss" -j DROP ||
      skip "iptables statistic match unavailable"
  done
  say "loss $loss in each direction, $count messages"
  start=$SECONDS
  for attempt in 1 2; do
    ip netns exec "$b" "$P2PSIG_LOSSY_PEER" answer 198.18.0.2:60000 \
      198.18.0.1:50000 "$count" > "$dir/answer.log" 2>&1 &
    answer=$!
    ip netns exec "$a" "$P2PSIG_LOSSY_PEER" offer 198.18.0.1:50000 \
      198.18.0.2:60000 "$count" > "$dir/offer.log" 2>&1 &
    offer=$!
    status=0
    wait "$answer" || status=$?
    wait "$offer" || status=$?
    [[ "$status" == 0 ]] && break
    # libnice's connectivity checks back off (0.5 s, doubling): at 30 %
    # loss each way the controlling side's check sometimes gets no answer
    # before the DTLS client gives up (doc/overview.md, "Liveness and
    # consent").  That setup is tried once more; a connection that came up
    # and then lost or corrupted a message is never retried.
    if [[ "$attempt" == 1 ]] &&
       ! grep -q "^offer: state connected" "$dir/offer.log"; then
      say "the offer never connected (ICE under loss): trying the setup again"
      grep "^answer: state\|^offer: state" "$dir/answer.log" "$dir/offer.log" || true
      continue
    fi
    say "FAIL at loss $loss"
    say "--- answer"; cat "$dir/answer.log"
    say "--- offer"; cat "$dir/offer.log"
    exit 1
  done
  grep "^answer:" "$dir/answer.log"; grep "^offer:" "$dir/offer.log"
  say "loss $loss passed in $((SECONDS - start)) s"
done
