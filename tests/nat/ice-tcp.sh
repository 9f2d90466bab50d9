#!/bin/bash
# SPDX-License-Identifier: MIT
#
# ice-tcp.sh, NAT lab case (e): ICE-TCP (RFC 6544), on by default, so
# no flag is given.  No NAT: both hosts on one link (lab_up
# --one-link), with UDP between them dropped by iptables on both hosts.  The only server given is the lab's STUN
# server, reachable but irrelevant (no NAT to discover).  The pair must be
# a TCP pair between the two host addresses (the side whose passive socket
# was connected to may see the remote as prflx).
# Skipped (77) without root, ip netns, iptables, openssl or coturn.
# Topology and environment: lab.sh.
# shellcheck source-path=SCRIPTDIR disable=SC2016,SC2119,SC2154 # PAIR_* are set by lab_pair
. "$(dirname "$0")/lab.sh"
lab_require
lab_up --one-link --block-udp-between
# shellcheck disable=SC2046
lab_pair ice-tcp $(lab_stun) || lab_fail "the pair did not connect"
lab_expect "offer's remote is hostb" "$(lab_ip "$PAIR_offer_RADDR") == $LAB_HB_IP"
lab_expect "answer's remote is hosta" "$(lab_ip "$PAIR_answer_RADDR") == $LAB_HA_IP"
for side in offer answer; do
  lt=PAIR_${side}_LTYPE rt=PAIR_${side}_RTYPE lp=PAIR_${side}_LPROTO rp=PAIR_${side}_RPROTO
  lab_expect "$side: a TCP pair (${!lp} <-> ${!rp})" "${!lp} == tcp && ${!rp} == tcp"
  lab_expect "$side: local host or prflx (${!lt})" "${!lt} == host || ${!lt} == prflx"
  lab_expect "$side: remote host or prflx (${!rt})" "${!rt} == host || ${!rt} == prflx"
done
lab_say "time: connect and 3 messages each way in $LAB_PAIR_SECONDS s"
lab_done
