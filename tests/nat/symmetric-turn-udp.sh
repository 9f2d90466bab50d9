#!/bin/bash
# SPDX-License-Identifier: MIT
#
# symmetric-turn-udp.sh, NAT lab case (b): hosta behind a symmetric NAT
# (MASQUERADE --random-fully), hostb behind a port-restricted cone NAT;
# STUN and TURN over UDP (the lab's coturn, long-term credentials).  No
# direct pair can work, so the selected pair must go through a TURN/UDP
# allocation: at least one side's local candidate is relay with
# relay-protocol udp, and each side's pair has a relay end on coturn.
# First checks that the lab's NATs map as intended (3 ports vs 1).
# Skipped (77) without root, ip netns, iptables, openssl, python3 or coturn.
# Topology and environment: lab.sh.
# shellcheck source-path=SCRIPTDIR disable=SC2016,SC2119,SC2154 # PAIR_* are set by lab_pair
. "$(dirname "$0")/lab.sh"
lab_require
lab_up --symmetric=a
m=$(lab_mapping "$LAB_NS_HA")
[[ "$m" == 3 ]] || lab_fail "lab: hosta's NAT is not symmetric ($m mapped ports for 3 servers)"
m=$(lab_mapping "$LAB_NS_HB")
[[ "$m" == 1 ]] || lab_fail "lab: hostb's NAT is not a cone ($m mapped ports for 3 servers)"
lab_say "lab: hosta symmetric, hostb cone"
# shellcheck disable=SC2046
lab_pair turn-udp $(lab_stun) -ice-server "turn:$LAB_TURN_IP:3478?transport=udp" \
  $(lab_creds) || lab_fail "the pair did not connect"
lab_expect "a local relay candidate over TURN/UDP on at least one side" \
  '($PAIR_offer_LTYPE == relay && $PAIR_offer_LRELAY == udp) ||
   ($PAIR_answer_LTYPE == relay && $PAIR_answer_LRELAY == udp)'
for side in offer answer; do
  lt=PAIR_${side}_LTYPE la=PAIR_${side}_LADDR ra=PAIR_${side}_RADDR
  lab_expect "$side: the pair has an end on coturn's relay address" \
    "(${!lt} == relay && $(lab_ip "${!la}") == $LAB_TURN_IP) || $(lab_ip "${!ra}") == $LAB_TURN_IP"
  lab_expect "$side: UDP pair" "\$PAIR_${side}_LPROTO == udp && \$PAIR_${side}_RPROTO == udp"
done
lab_say "time: connect and 3 messages each way in $LAB_PAIR_SECONDS s"
lab_done
