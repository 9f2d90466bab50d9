#!/bin/bash
# SPDX-License-Identifier: MIT
#
# relay-only.sh, NAT lab case (d): cone NATs on both sides, where a
# server-reflexive pair would work, but both tools run with -relay-only
# (W3C iceTransportPolicy "relay") and get STUN and TURN/UDP servers: both
# local candidates must be relay (relay-protocol udp, on coturn), and so
# must both remote ends.
# Skipped (77) without root, ip netns, iptables, openssl or coturn.
# Topology and environment: lab.sh.
# shellcheck source-path=SCRIPTDIR disable=SC2016,SC2119,SC2154 # PAIR_* are set by lab_pair
. "$(dirname "$0")/lab.sh"
lab_require
lab_up
# shellcheck disable=SC2046
lab_pair relay-only $(lab_stun) -ice-server "turn:$LAB_TURN_IP:3478?transport=udp" \
  $(lab_creds) -relay-only || lab_fail "the pair did not connect"
for side in offer answer; do
  lt=PAIR_${side}_LTYPE lr=PAIR_${side}_LRELAY la=PAIR_${side}_LADDR
  rt=PAIR_${side}_RTYPE ra=PAIR_${side}_RADDR
  lab_expect "$side: local relay over TURN/UDP (${!lt} ${!lr})" "${!lt} == relay && ${!lr} == udp"
  lab_expect "$side: local address on coturn" "$(lab_ip "${!la}") == $LAB_TURN_IP"
  lab_expect "$side: remote is the peer's relay candidate (${!rt})" \
    "(${!rt} == relay || ${!rt} == prflx) && $(lab_ip "${!ra}") == $LAB_TURN_IP"
done
lab_say "time: connect and 3 messages each way in $LAB_PAIR_SECONDS s"
lab_done
