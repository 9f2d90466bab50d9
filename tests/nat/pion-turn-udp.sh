#!/bin/bash
# SPDX-License-Identifier: MIT
#
# pion-turn-udp.sh ours-offer|pion-offer, NAT lab case (h): interop with
# pion through the NATs.  As case (b) (symmetric-turn-udp.sh): hosta
# behind a symmetric NAT, hostb behind a port-restricted cone NAT, STUN
# and TURN over UDP on the lab's coturn given to both sides; but one side
# is pion (tests/nat/pion-nat/main.go, pion's pion-to-pion example with
# our tools' flags, built by tests/nat/pion.sh):
#   ours-offer: our offer in hosta (symmetric), pion's answer in hostb;
#   pion-offer: pion's offer in hosta (symmetric), our answer in hostb.
# Both must connect and get 3 messages each way; no direct pair can work,
# so our side's selected pair must name a relay (its local candidate or
# the remote one), and each side's pair must have an end on coturn.
# Skipped (77) without root, ip netns, iptables, openssl, python3, coturn,
# go or Debian's pion (golang-github-pion-webrtc.v3-dev).  Topology and
# environment: lab.sh; P2PSIG_BUILDDIR: where the pion peer is cached.
# shellcheck source-path=SCRIPTDIR disable=SC2016,SC2119,SC2154 # PAIR_* are set by lab_pair
mode="${1:-}"
case "$mode" in
  ours-offer) ours=offer pion=answer ;;
  pion-offer) ours=answer pion=offer ;;
  *) echo "usage: $0 ours-offer|pion-offer" >&2; exit 2 ;;
esac
LAB_CASE="pion-turn-udp-$mode"
. "$(dirname "$0")/lab.sh"
. "$(dirname "$0")/pion.sh"
lab_require
lab_pion_build
if [[ "$pion" == offer ]]; then
  LAB_OFFER_CMD=("$LAB_PION" -mode offer)
else
  LAB_ANSWER_CMD=("$LAB_PION" -mode answer)
fi
lab_up --symmetric=a
m=$(lab_mapping "$LAB_NS_HA")
[[ "$m" == 3 ]] || lab_fail "lab: hosta's NAT is not symmetric ($m mapped ports for 3 servers)"
m=$(lab_mapping "$LAB_NS_HB")
[[ "$m" == 1 ]] || lab_fail "lab: hostb's NAT is not a cone ($m mapped ports for 3 servers)"
lab_say "lab: hosta symmetric ($( [[ $ours == offer ]] && echo ours || echo pion)'s offer)," \
  "hostb cone ($( [[ $ours == answer ]] && echo ours || echo pion)'s answer)"
# shellcheck disable=SC2046
lab_pair "$mode" $(lab_stun) -ice-server "turn:$LAB_TURN_IP:3478?transport=udp" \
  $(lab_creds) || lab_fail "the pair did not connect"
lt=PAIR_${ours}_LTYPE rt=PAIR_${ours}_RTYPE
lab_expect "ours ($ours): a relay candidate on at least one side of its pair" \
  "${!lt} == relay || ${!rt} == relay"
for side in offer answer; do
  lt=PAIR_${side}_LTYPE la=PAIR_${side}_LADDR ra=PAIR_${side}_RADDR
  who=ours
  [[ "$side" == "$pion" ]] && who=pion
  lab_expect "$side ($who): the pair has an end on coturn's relay address" \
    "(${!lt} == relay && $(lab_ip "${!la}") == $LAB_TURN_IP) || $(lab_ip "${!ra}") == $LAB_TURN_IP"
  lab_expect "$side ($who): UDP pair" "\$PAIR_${side}_LPROTO == udp && \$PAIR_${side}_RPROTO == udp"
done
# What each side received is, in order, what the other sent.
for from in offer answer; do
  to=answer
  [[ "$from" == answer ]] && to=offer
  if cmp -s <(sed -n "s/^Sending '\(.*\)'\$/\1/p" "$LAB_DIR/$mode.$from.out") \
    <(sed -n "s/^Message from DataChannel 'data': '\(.*\)'\$/\1/p" "$LAB_DIR/$mode.$to.out"); then
    lab_expect "$to received, in order, the messages $from sent" "1 == 1"
  else
    lab_expect "$to received, in order, the messages $from sent" "0 == 1"
  fi
done
lab_say "time: connect and 3 messages each way in $LAB_PAIR_SECONDS s"
lab_done
