#!/bin/bash
# SPDX-License-Identifier: MIT
#
# cone-stun.sh, NAT lab case (a): both hosts behind port-restricted cone
# NATs, STUN only (the lab's coturn, no TURN).  The pair must be
# server-reflexive (or peer-reflexive) on both sides, never relayed: each
# side's remote address is the other NAT's outside address.
# Skipped (77) without root, ip netns, iptables, openssl or coturn.
# Topology and environment: lab.sh.
# shellcheck source-path=SCRIPTDIR disable=SC2016,SC2119,SC2154 # PAIR_* are set by lab_pair
. "$(dirname "$0")/lab.sh"
lab_require
lab_up
# shellcheck disable=SC2046
lab_pair stun $(lab_stun) || lab_fail "the pair did not connect"
for side in offer answer; do
  lt=PAIR_${side}_LTYPE rt=PAIR_${side}_RTYPE
  lab_expect "$side: local candidate not relayed (${!lt})" "${!lt} != relay"
  lab_expect "$side: remote candidate srflx or prflx (${!rt})" "${!rt} == srflx || ${!rt} == prflx"
  lab_expect "$side: UDP pair" "\$PAIR_${side}_LPROTO == udp && \$PAIR_${side}_RPROTO == udp"
done
lab_expect "offer's remote is rtb's outside address" "$(lab_ip "$PAIR_offer_RADDR") == $LAB_RTB_OUT"
lab_expect "answer's remote is rta's outside address" "$(lab_ip "$PAIR_answer_RADDR") == $LAB_RTA_OUT"
lab_say "time: connect and 3 messages each way in $LAB_PAIR_SECONDS s"
lab_done
