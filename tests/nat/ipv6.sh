#!/bin/bash
# SPDX-License-Identifier: MIT
#
# ipv6.sh, NAT lab case for item 8 (IPv6): one namespace with loopback
# only, IPv6 on, so the only IPv6 address is ::1 (the lab takes no other
# addresses than 198.18.0.0/15 and what the kernel gives).  coturn listens
# on [::1]:3478 and relays from ::1 (allocation-default-address-family=keep:
# libnice 0.1.21 sends no REQUESTED-ADDRESS-FAMILY, so the server picks
# the family of the client's connection; allow-loopback-peers, as the
# peers are on ::1).  The tools, given -ice-server turn:[::1]:3478:
#   1. relay-only: both local candidates relay on [::1], TURN over UDP;
#   2. all candidates: a host pair, on [::1] or on 127.0.0.1 (the pair
#      line writes IPv6 in brackets).  libnice ranks IPv6 above IPv4 (RFC
#      8421), but nominates aggressively: whichever pair answers first
#      wins, and the IPv4 one sometimes does (3 runs in 5 under load).
# Not covered: IPv6 server-reflexive candidates, which need an IPv6 NAT
# and addresses outside the lab's range.
# Skipped (77) without root, ip netns or coturn.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lab.sh"
lab_require
LAB_DIR="$(mktemp -d "${TMPDIR:-/tmp}/p2psig-nat-$LAB_CASE.XXXXXX")"
trap lab_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ns="$LAB_NAME-v6"
ip netns add "$ns" 2>"$LAB_DIR/netns.err" ||
  lab_skip "ip netns add failed: $(tr '\n' ' ' <"$LAB_DIR/netns.err")"
LAB_ALL_NS+=("$ns")
lab_nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.lo.disable_ipv6=0
ip -n "$ns" link set lo up
lab_nsx "$ns" ip -6 addr show dev lo | grep -q 'inet6 ::1/' || lab_skip "no ::1 in a namespace here"
cat >"$LAB_DIR/turnserver.conf" <<EOF
listening-ip=::1
relay-ip=::1
listening-port=3478
min-port=49152
max-port=49999
lt-cred-mech
realm=$LAB_TURN_REALM
user=$LAB_TURN_USER:$LAB_TURN_PASS
fingerprint
no-tls
no-dtls
no-cli
allow-loopback-peers
allocation-default-address-family=keep
userdb=$LAB_DIR/turndb.sqlite
pidfile=$LAB_DIR/turnserver.pid
log-file=$LAB_DIR/turnserver.log
simple-log
no-stdout-log
EOF
setsid ip netns exec "$ns" turnserver -c "$LAB_DIR/turnserver.conf" \
  >"$LAB_DIR/turnserver.stdout" 2>&1 </dev/null &
LAB_TURN_PID=$!
for _ in $(seq 100); do
  lab_nsx "$ns" ss -Hlun "sport = :3478" | grep -q . && break
  kill -0 "$LAB_TURN_PID" 2>/dev/null || lab_fail "coturn did not start"
  sleep 0.1
done

re='^Selected candidate pair: local (host|srflx|prflx|relay) (udp|tcp) (\[[0-9a-f:]+\]|[0-9.]+):[0-9]+( relay-protocol (udp|tcp|tls))? <-> remote (host|srflx|prflx|relay) (udp|tcp) (\[[0-9a-f:]+\]|[0-9.]+):[0-9]+$'
# run NAME FLAGS...: both tools in the namespace, signaling on loopback.
run() {
  local name="$1" pa rc_o=0 rc_a=0
  shift
  local f=(-offer-address 127.0.0.1:8000 -answer-address 127.0.0.1:8001
    -count 3 -interval 0.2 -ice-server "turn:[::1]:3478"
    -ice-username "$LAB_TURN_USER" -ice-credential "$LAB_TURN_PASS" "$@")
  lab_nsx "$ns" timeout -k 5 "$LAB_TIMEOUT" "$P2PSIG_ANSWER" "${f[@]}" \
    >"$LAB_DIR/$name.answer.out" 2>"$LAB_DIR/$name.answer.err" </dev/null &
  pa=$! && LAB_PIDS+=("$pa")
  lab_wait_listen "$ns" 8001 "$pa" || lab_fail "$name: the answer does not listen"
  lab_nsx "$ns" timeout -k 5 "$LAB_TIMEOUT" "$P2PSIG_OFFER" "${f[@]}" \
    >"$LAB_DIR/$name.offer.out" 2>"$LAB_DIR/$name.offer.err" </dev/null || rc_o=$?
  wait "$pa" || rc_a=$?
  lab_expect "$name: both exited 0 (offer $rc_o, answer $rc_a)" "$rc_o == 0 && $rc_a == 0"
  for side in offer answer; do
    local line n
    line=$(grep '^Selected candidate pair:' "$LAB_DIR/$name.$side.err" || true)
    n=$(grep -c "^Message from DataChannel 'data': '" "$LAB_DIR/$name.$side.out" || true)
    lab_say "$name: $side: ${line#Selected candidate pair: }"
    lab_expect "$name: $side received 3 messages ($n)" "$n == 3"
    if [[ "$line" =~ $re ]]; then
      printf -v "P_${side}_LTYPE" %s "${BASH_REMATCH[1]}"
      printf -v "P_${side}_LADDR" %s "${BASH_REMATCH[3]}"
      printf -v "P_${side}_RADDR" %s "${BASH_REMATCH[8]}"
    else
      lab_expect "$name: $side: a pair line that parses" "no == yes"
    fi
  done
}

run relay -relay-only
for side in offer answer; do
  lt=P_${side}_LTYPE la=P_${side}_LADDR ra=P_${side}_RADDR
  lab_expect "relay: $side: a local relay on [::1] (${!lt} ${!la})" "${!lt} == relay && ${!la} == '[::1]'"
  lab_expect "relay: $side: the remote on [::1] (${!ra})" "${!ra} == '[::1]'"
done
run all
for side in offer answer; do
  lt=P_${side}_LTYPE la=P_${side}_LADDR ra=P_${side}_RADDR
  lab_expect "all: $side: a host pair on one loopback (${!lt} ${!la} <-> ${!ra})" \
    "${!lt} == host && ${!la} == '${!ra}' && ( ${!la} == '[::1]' || ${!la} == 127.0.0.1 )"
done
lab_done
