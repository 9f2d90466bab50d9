#!/bin/bash
# SPDX-License-Identifier: MIT
#
# mdns.sh, NAT lab case (f): mDNS host candidates.  Both hosts on one link
# (lab_up --one-link), no STUN or TURN server.  The offer (hosta) runs with
# -mdns: its host candidates carry <uuid>.local names and its responder
# answers for them; the answer (hostb) resolves them.  Then the other way
# round (the answer hides).  Each run must connect over a host pair
# between the two hosts' addresses, with 3 messages each way, and the
# hiding side's candidates (the "local candidate" debug lines of the
# domain p2psig-ice, on stderr, which are the strings on_candidate and the
# SDP carry) must hold no address of its host
# (its LAN, signaling and loopback addresses), only .local names.
# Skipped (77) without root, ip netns, iptables, openssl or coturn.
# Topology and environment: lab.sh.
# shellcheck source-path=SCRIPTDIR disable=SC2016,SC2119,SC2154 # PAIR_* are set by lab_pair
. "$(dirname "$0")/lab.sh"
lab_require
lab_up --one-link
# The candidates each side gathers and the names it resolves.
export P2PSIG_LOG=debug,ice

# check_hidden NAME SIDE IP...: SIDE's local candidates in run NAME name
# no IP given, and its host ones are .local names.
check_hidden() {
  local name="$1" side="$2" err ip n
  shift 2
  err="$LAB_DIR/$name.$side.err" # the library's log
  n=$(grep -c 'local candidate candidate:' "$err" || true)
  lab_expect "$name: $side reported candidates ($n)" "$n -gt 0"
  for ip in "$@"; do
    lab_expect "$name: no $ip in $side's candidates" \
      "\$(grep 'local candidate candidate:' '$err' | grep -cF ' $ip ' || true) == 0"
  done
  lab_expect "$name: $side's host candidates are .local names" \
    "\$(grep 'local candidate candidate:' '$err' | grep ' typ host' | grep -vcE ' [0-9a-f-]{36}\.local ' || true) == 0"
}

check_pair() {
  local name="$1" resolver="$2" side lt rt
  lab_expect "$name: offer's remote is hostb" "$(lab_ip "$PAIR_offer_RADDR") == $LAB_HB_IP"
  lab_expect "$name: answer's remote is hosta" "$(lab_ip "$PAIR_answer_RADDR") == $LAB_HA_IP"
  for side in offer answer; do
    lt=PAIR_${side}_LTYPE rt=PAIR_${side}_RTYPE
    lab_expect "$name: $side: UDP pair" "\$PAIR_${side}_LPROTO == udp && \$PAIR_${side}_RPROTO == udp"
    lab_expect "$name: $side: local host (${!lt})" "${!lt} == host"
  done
  rt=PAIR_${resolver}_RTYPE
  # prflx when the hiding side's check arrived before the name resolved
  # (libnice learns the address from the check); the name still resolves.
  lab_expect "$name: $resolver: remote host or prflx (${!rt})" "${!rt} == host || ${!rt} == prflx"
  lab_expect "$name: $resolver resolved a name" \
    "\$(grep -c 'resolved to $( [[ $resolver == answer ]] && echo "$LAB_HA_IP" || echo "$LAB_HB_IP")' '$LAB_DIR/$name.$resolver.err' || true) -gt 0"
}

LAB_OFFER_CMD=("$P2PSIG_OFFER" -mdns) LAB_ANSWER_CMD=()
lab_pair offer-hides || lab_fail "offer-hides did not connect"
check_hidden offer-hides offer "$LAB_HA_IP" "$LAB_SIG_A" 127.0.0.1
check_pair offer-hides answer
t1=$LAB_PAIR_SECONDS

LAB_OFFER_CMD=() LAB_ANSWER_CMD=("$P2PSIG_ANSWER" -mdns)
lab_pair answer-hides || lab_fail "answer-hides did not connect"
check_hidden answer-hides answer "$LAB_HB_IP" "$LAB_SIG_B" 127.0.0.1
check_pair answer-hides offer

lab_say "time: connect and 3 messages each way in $t1 s and $LAB_PAIR_SECONDS s"
lab_done
