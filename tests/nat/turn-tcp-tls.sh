#!/bin/bash
# SPDX-License-Identifier: MIT
#
# turn-tcp-tls.sh, NAT lab case (c): the NATs let no UDP out, only TCP to
# coturn.  Three runs (each one even if the one before failed):
#   1. turn-tcp: only TCP to coturn's 3478 and 5349 leaves the LANs;
#      -ice-server turn:...:3478?transport=tcp.  Both local candidates must
#      be relay with relay-protocol tcp.
#   2. turn-tls, in a new lab: only TCP to coturn's 5349 leaves the LANs,
#      and coturn has no plaintext TCP listener (lab_up --strict-tls: a
#      client that sends plaintext TURN to 5349 fails, checked first);
#      -ice-server turns:...:5349 -ice-ca (the lab's CA).  Both local
#      candidates must be relay with relay-protocol tls.
#   3. turn-tls-wrong-ca: as 2, with -ice-ca a CA that did not sign
#      coturn's certificate: the TLS connection must be refused, so there
#      is no relay candidate and no connection (each tool runs at most
#      P2PSIG_NAT_FAIL_TIMEOUT seconds, default 10, and must not print
#      "connected").
# Skipped (77) without root, ip netns, iptables, openssl, python3 or coturn.
# Topology and environment: lab.sh.
# shellcheck source-path=SCRIPTDIR disable=SC2016,SC2119,SC2154 # PAIR_* are set by lab_pair
. "$(dirname "$0")/lab.sh"
lab_require

check_relays() { # check_relays PROTOCOL
  local side lt lr ra
  for side in offer answer; do
    lt=PAIR_${side}_LTYPE lr=PAIR_${side}_LRELAY ra=PAIR_${side}_RADDR
    lab_expect "$side: local relay over TURN/$1 (${!lt} ${!lr:-})" \
      "${!lt} == relay && ${!lr} == $1"
    lab_expect "$side: remote on coturn's relay address" "$(lab_ip "${!ra}") == $LAB_TURN_IP"
  done
}

# 1. TURN over TCP.
lab_up --turn-tcp-only
[[ "$(lab_mapping "$LAB_NS_HA")" == 0 ]] || lab_fail "lab: UDP is not blocked at rta"
out=$(lab_allocate "$LAB_NS_HA" tcp 3478) ||
  lab_fail "lab: TURN/TCP allocation from hosta failed: $out"
# shellcheck disable=SC2046
if lab_pair turn-tcp -ice-server "turn:$LAB_TURN_IP:3478?transport=tcp" $(lab_creds); then
  check_relays tcp
else
  lab_expect "turn-tcp: the pair connected" "no == yes"
fi
t_tcp=$LAB_PAIR_SECONDS
lab_down

# 2. TURN over TLS, coturn speaking only TLS on TCP.
lab_up --turn-tls-only --strict-tls
if out=$(lab_allocate "$LAB_NS_HA" tcp 5349); then
  lab_fail "lab: plaintext TURN to coturn's 5349 was accepted: $out"
fi
out=$(lab_allocate "$LAB_NS_HA" tls 5349 "$LAB_DIR/ca.pem") ||
  lab_fail "lab: TURN/TLS allocation from hosta failed: $out"
if out=$(lab_allocate "$LAB_NS_HA" tls 5349 "$LAB_DIR/other-ca.pem"); then
  lab_fail "lab: TLS verified against the wrong CA: $out"
fi
lab_say "lab: TCP only to 5349, which takes TLS only"
# shellcheck disable=SC2046
if lab_pair turn-tls -ice-server "turns:$LAB_TURN_IP:5349" -ice-ca "$LAB_DIR/ca.pem" \
  $(lab_creds); then
  check_relays tls
else
  lab_expect "turn-tls: the pair connected" "no == yes"
fi
t_tls=$LAB_PAIR_SECONDS

# 3. The same with a CA that did not sign coturn's certificate.
# shellcheck disable=SC2046
LAB_TIMEOUT="${P2PSIG_NAT_FAIL_TIMEOUT:-10}" lab_pair_fails turn-tls-wrong-ca \
  -ice-server "turns:$LAB_TURN_IP:5349" -ice-ca "$LAB_DIR/other-ca.pem" $(lab_creds)
t_bad=$LAB_PAIR_SECONDS
lab_say "time: turn-tcp $t_tcp s, turn-tls $t_tls s, turn-tls-wrong-ca $t_bad s"
lab_done
