#!/bin/bash
# SPDX-License-Identifier: MIT
#
# ice-restart.sh, NAT lab case (g): an ICE restart after the offer's NAT
# loses its mapping mid-session.  Both hosts are behind cone NATs with
# STUN (as cone-stun.sh), and restart-peer (P2PSIG_RESTART_PEER) runs on
# each: the offer sends 2,000 numbered messages on one reliable channel,
# one every 4 ms.  After the answer has 500 of them, rta's outside
# address changes (lab_renumber: the kernel drops the old mappings).  The
# offer must go disconnected, restart ICE through the signaling, and the
# answer must get all 2,000 once and in order, its remote now rta's new
# address, with DTLS, SCTP and the channel untouched.
# Skipped (77) without root, ip netns, iptables, openssl or coturn.
# Topology and environment: lab.sh.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lab.sh"
lab_require
[[ -x "${P2PSIG_RESTART_PEER:-}" ]] || lab_skip "P2PSIG_RESTART_PEER is not set"
lab_up
readonly count=2000 new_ip=198.18.0.21
timeout=$((LAB_TIMEOUT * 2))
peer() { # peer NS ROLE LISTEN REMOTE LOCAL_IP
  lab_nsx "$1" timeout -k 5 "$timeout" "$P2PSIG_RESTART_PEER" "$2" "$3" "$4" \
    "$count" "stun:$LAB_TURN_IP:3478" "$5" \
    >"$LAB_DIR/restart.$2.out" 2>"$LAB_DIR/restart.$2.err" </dev/null &
}
t0=$SECONDS
peer "$LAB_NS_HB" answer "$LAB_ANSWER_SIG" "$LAB_OFFER_SIG" "$LAB_HB_IP"
pa=$! && LAB_PIDS+=("$pa")
lab_wait_listen "$LAB_NS_HB" "${LAB_ANSWER_SIG##*:}" "$pa" ||
  lab_fail "the answer does not listen on $LAB_ANSWER_SIG"
peer "$LAB_NS_HA" offer "$LAB_OFFER_SIG" "$LAB_ANSWER_SIG" "$LAB_HA_IP"
po=$! && LAB_PIDS+=("$po")
if lab_wait_output "$LAB_DIR/restart.answer.out" '^answer: 500 messages' "$timeout" "$pa"; then
  lab_say "500 messages across: renumbering rta $LAB_RTA_OUT -> $new_ip"
  lab_renumber a "$new_ip"
  t_break=$SECONDS
else
  lab_say "the answer never had 500 messages"
fi
rc_offer=0 rc_answer=0
wait "$po" || rc_offer=$?
wait "$pa" || rc_answer=$?
lab_say "offer exited $rc_offer, answer exited $rc_answer after $((SECONDS - t0)) s"
out_o="$LAB_DIR/restart.offer.out" out_a="$LAB_DIR/restart.answer.out"
lab_expect "the offer exited 0" "$rc_offer == 0"
lab_expect "the answer exited 0" "$rc_answer == 0"
lab_expect "the NAT was renumbered" "-n '${t_break:-}'"
lab_expect "the offer went disconnected" "$(grep -c '^offer: state disconnected' "$out_o") -ge 1"
lab_expect "the offer restarted ICE" "$(grep -c '^offer: restarting ICE' "$out_o") -ge 1"
lab_expect "the offer never failed" "$(grep -c '^offer: state failed' "$out_o") == 0"
lab_expect "all $count messages once and in order" \
  "$(grep -c "^answer: all $count messages once and in order" "$out_a") == 1"
first=$(grep '^answer: pair ' "$out_a" | head -1) last=$(grep '^answer: pair ' "$out_a" | tail -1)
lab_say "answer's pair before: ${first#answer: pair }"
lab_say "answer's pair after:  ${last#answer: pair }"
lab_expect "before, the answer's remote was rta's old address" "'$first' == *' remote '*' $LAB_RTA_OUT:'*"
lab_expect "after, the answer's remote is rta's new address" "'$last' == *' remote '*' $new_ip:'*"
# The offer's own clock: from going disconnected to connected again.
outage=$(awk '/^offer: state disconnected at/ { d = $5 }
  /^offer: state connected at/ && d { printf "%.1f", $5 - d; exit }' "$out_o")
lab_say "time: disconnected to connected again in ${outage:-?} s, after the 5 s of silence that make it disconnected"
if ((LAB_EXPECT_FAILS)); then
  for f in "$out_o" "$LAB_DIR/restart.offer.err" "$out_a" "$LAB_DIR/restart.answer.err"; do
    lab_say "--- $f"; tail -n 30 "$f"
  done
fi
lab_done
