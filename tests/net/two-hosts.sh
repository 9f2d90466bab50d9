#!/bin/bash
# SPDX-License-Identifier: MIT
#
# two-hosts.sh: the topology of container/compose.yaml without a container
# engine.  Two network namespaces stand for the containers "offer" and
# "answer", joined by a link (198.18.77.1 and .2); each resolves the other
# by name through its own hosts file, /etc/netns/NS/hosts, which
# `ip netns exec` puts in place of /etc/hosts, as compose's DNS would.
# Then the compose file's commands run, with -count 3: both sides must
# connect over the link, exchange three messages each way and exit 0.
#
# Skipped (77) without root or ip netns.  Environment: P2PSIG_OFFER,
# P2PSIG_ANSWER (the tools).
set -euo pipefail
export LC_ALL=C

say() { printf 'two-hosts: %s\n' "$*"; }
[[ "$(id -u)" == 0 ]] || { say "SKIP: needs root for network namespaces"; exit 77; }
command -v ip >/dev/null 2>&1 || { say "SKIP: no ip (iproute2)"; exit 77; }

offer_ns="p2psig-offer-$$"
answer_ns="p2psig-answer-$$"
dir="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$offer_ns" 2>/dev/null || true
  ip netns del "$answer_ns" 2>/dev/null || true
  rm -rf "/etc/netns/$offer_ns" "/etc/netns/$answer_ns" "$dir"
}
trap cleanup EXIT

ip netns add "$offer_ns" 2>/dev/null || { say "SKIP: ip netns add failed"; exit 77; }
ip netns add "$answer_ns"
# Not veth*: libnice ignores interfaces with that name.
ip link add "p2po$$" netns "$offer_ns" type veth peer name "p2pa$$" \
  netns "$answer_ns"
ip -n "$offer_ns" addr add 198.18.77.1/24 dev "p2po$$"
ip -n "$answer_ns" addr add 198.18.77.2/24 dev "p2pa$$"
for ns in "$offer_ns" "$answer_ns"; do
  ip -n "$ns" link set lo up
  mkdir -p "/etc/netns/$ns"
  printf '127.0.0.1 localhost\n198.18.77.1 offer\n198.18.77.2 answer\n' \
    >"/etc/netns/$ns/hosts"
  # No name server: the tools' default STUN name fails at once.
  : >"/etc/netns/$ns/resolv.conf"
done
# Both ends up, with carrier: libnice gathers only on running interfaces,
# and this machine's kernel sometimes leaves the end brought up last
# without carrier (NO-CARRIER) until the pair is brought up again.
carrier() { ip -n "$1" -br link show dev "$2" | awk '{ print $2 }'; }
for try in $(seq 20); do
  ip -n "$offer_ns" link set "p2po$$" up
  ip -n "$answer_ns" link set "p2pa$$" up
  sleep 0.2
  if [[ "$(carrier "$offer_ns" "p2po$$")" == UP &&
        "$(carrier "$answer_ns" "p2pa$$")" == UP ]]; then
    break
  fi
  ((try < 20)) || { say "FAIL: the link has no carrier"; exit 1; }
  ip -n "$offer_ns" link set "p2po$$" down
  ip -n "$answer_ns" link set "p2pa$$" down
done

got="$(ip netns exec "$offer_ns" getent hosts answer || true)"
[[ "$got" == "198.18.77.2"* ]] ||
  { say "FAIL: 'answer' resolves to '$got' in the offer's namespace"; exit 1; }
got="$(ip netns exec "$answer_ns" getent hosts offer || true)"
[[ "$got" == "198.18.77.1"* ]] ||
  { say "FAIL: 'offer' resolves to '$got' in the answer's namespace"; exit 1; }
say "names resolve through the per-namespace hosts files"

# container/compose.yaml's commands, and -count.
ip netns exec "$answer_ns" timeout 60 "$P2PSIG_ANSWER" -answer-address :60000 \
  -offer-address offer:50000 -count 3 -interval 0.5 >"$dir/answer.log" 2>&1 &
answer_pid=$!
pids+=("$answer_pid")
ip netns exec "$offer_ns" timeout 60 "$P2PSIG_OFFER" -offer-address :50000 \
  -answer-address answer:60000 -count 3 -interval 0.5 >"$dir/offer.log" 2>&1 &
offer_pid=$!
pids+=("$offer_pid")

status=0
wait "$offer_pid" || status=$?
wait "$answer_pid" || status=$((status ? status : $?))
for side in offer answer; do
  n=$(grep -c "Message from DataChannel 'data'" "$dir/$side.log" || true)
  pair=$(grep 'Selected candidate pair' "$dir/$side.log" || true)
  if [[ "$status" != 0 || "$n" -lt 3 || "$pair" != *198.18.77.* ]]; then
    say "FAIL: exit $status, $side received $n messages, pair '$pair'"
    cat "$dir/offer.log" "$dir/answer.log" >&2
    exit 1
  fi
  say "$side: $n messages received over $pair"
done
say "OK"
