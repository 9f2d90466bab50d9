#!/bin/bash
# SPDX-License-Identifier: MIT
#
# run-options.sh [ours-offer|pion-offer]
#
# Data channel options against pion: our options-peer (tests/interop/
# options-peer.c) and the Go test peer (tests/interop/pion-peer/main.go,
# built here against Debian's pion v3.1.56) run in a fresh network
# namespace.
#
#   ours-offer (default): options-peer opens "reliable", "unordered",
#     "rexmit0" (max_retransmits 0), "lifetime500" (max_packet_lifetime
#     500), "chat" (protocol "chat"), "closer" and the negotiated "neg9"
#     (id 9, which the Go peer creates too) against the Go peer in answer
#     mode.
#   pion-offer: the Go peer (offer mode) opens them, options-peer answers;
#     pion also opens 600 more channels at once (P2PSIG_OPTIONS_MANY), each
#     of which pion reports open only once our DCEP ACK has arrived.
#
# options-peer checks the echoes of text, binary, empty and 65535-byte
# messages, closes every channel but "closer" and waits for on_close, then
# has pion close "closer".  This script checks options-peer's exit status
# and what the Go peer reports: each channel with its options as pion
# decoded them (ordered=false, maxRetransmits=0, maxPacketLifeTime=500,
# protocol "chat", negotiated id 9), the six messages on each, CLOSE for
# each, and no error.
#
# Environment: P2PSIG_OPTIONS_PEER (path of options-peer, required),
# P2PSIG_BUILDDIR (scratch dir; the Go peer is cached in
# $P2PSIG_BUILDDIR/pion-peer/), P2PSIG_INTEROP_TIMEOUT (overall deadline in
# seconds, default 60), P2PSIG_KEEP_LOGS=1 (keep the run directory),
# P2PSIG_OPTIONS_BURST=1 (options-peer sends on all channels at once: a
# stress variant, in which partially reliable channels lose messages).
#
# Exit: 0 success, 1 failure, 77 skipped (no root, no network namespaces,
# no go or no pion).
set -euo pipefail
export LC_ALL=C
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY \
  no_proxy NO_PROXY

readonly SKIP=77
readonly PION_SRC=/usr/share/gocode/src/github.com/pion/webrtc
readonly OURS_ADDR=198.18.0.1
readonly PION_ADDR=198.18.0.2
ok=0

say() { printf 'run-options: %s\n' "$*"; }
skip() {
  say "SKIP: $*"
  ok=1
  exit "$SKIP"
}
die() { say "ERROR: $*" >&2; exit 1; }

mode="${1:-ours-offer}"
case "$mode" in
  ours-offer | pion-offer) ;;
  *) echo "usage: $0 [ours-offer|pion-offer]" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gosrc="$here/pion-peer/main.go"
ours="${P2PSIG_OPTIONS_PEER:-}"
[[ -n "$ours" ]] || die "P2PSIG_OPTIONS_PEER is not set (path of options-peer)"
[[ -x "$ours" ]] || die "options-peer $ours is not executable"
builddir="${P2PSIG_BUILDDIR:-${TMPDIR:-/tmp}/p2psig-interop}"
mkdir -p "$builddir"
builddir="$(cd "$builddir" && pwd)"
timeout_s="${P2PSIG_INTEROP_TIMEOUT:-60}"

[[ "$(id -u)" == 0 ]] || skip "not root (network namespaces need root)"
command -v ip >/dev/null 2>&1 || skip "ip not found (apt-get install iproute2)"
command -v go >/dev/null 2>&1 || skip "go not found (apt-get install golang-go)"
[[ -d "$PION_SRC" ]] ||
  skip "$PION_SRC not found (apt-get install golang-github-pion-webrtc.v3-dev)"

# --- the Go peer, built once ------------------------------------------------

gocache="$builddir/pion-peer"
gobin="$gocache/pion-peer"

build_go_peer() {
  mkdir -p "$gocache/gopath/src/github.com/pion/webrtc" "$gocache/gocache"
  (
    flock 9
    if [[ -x "$gobin" && "$gobin" -nt "$gosrc" ]]; then
      exit 0
    fi
    # GOPATH mode resolves github.com/pion/webrtc/v3 only through a link.
    ln -sfn "$PION_SRC" "$gocache/gopath/src/github.com/pion/webrtc/v3"
    say "building the Go peer into $gobin"
    if ! (cd "$here/pion-peer" &&
      env GO111MODULE=off GOPATH="$gocache/gopath:/usr/share/gocode" \
        GOCACHE="$gocache/gocache" GOENV=off GOFLAGS= GOPROXY=off \
        GOTOOLCHAIN=local CGO_ENABLED=0 \
        go build -o "$gobin.tmp" main.go) >"$gocache/build.log" 2>&1; then
      cat "$gocache/build.log" >&2
      rm -f "$gobin.tmp"
      exit 1
    fi
    mv -f "$gobin.tmp" "$gobin"
  ) 9>"$gocache/.lock" || die "building the Go peer failed"
}

# --- state and cleanup ------------------------------------------------------

ns=""
rundir=""
go_pid=""
ours_pid=""

alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

stop() {
  local p="$1" i
  alive "$p" || return 0
  kill -TERM "$p" 2>/dev/null || true
  for ((i = 0; i < 30; i++)); do
    alive "$p" || break
    sleep 0.1
  done
  if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
}

cleanup() {
  set +e
  stop "$ours_pid"
  stop "$go_pid"
  [[ -z "$ours_pid" ]] || wait "$ours_pid" 2>/dev/null
  [[ -z "$go_pid" ]] || wait "$go_pid" 2>/dev/null
  if [[ -n "$ns" ]]; then
    ip netns delete "$ns" 2>/dev/null || say "could not delete namespace $ns"
  fi
  if [[ -n "$rundir" ]]; then
    if [[ "$ok" == 1 && "${P2PSIG_KEEP_LOGS:-0}" != 1 ]]; then
      rm -rf "$rundir"
    else
      say "logs kept in $rundir"
    fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

build_go_peer
rundir="$(mktemp -d "$builddir/run-options.XXXXXX")"

# --- network namespace ------------------------------------------------------

name="p2psig-opt-$$-$RANDOM"
ip netns add "$name" 2>"$rundir/netns.err" ||
  skip "ip netns add failed: $(tr '\n' ' ' <"$rundir/netns.err")"
ns="$name"
if ! {
  ip -n "$ns" link set lo up &&
    ip -n "$ns" link add p2psig0 type veth peer name p2psig1 &&
    ip -n "$ns" addr add "$OURS_ADDR/24" dev p2psig0 &&
    ip -n "$ns" addr add "$PION_ADDR/24" dev p2psig1 &&
    ip -n "$ns" link set p2psig0 up &&
    ip -n "$ns" link set p2psig1 up
} 2>"$rundir/netns.err"; then
  die "setting up namespace $ns failed: $(tr '\n' ' ' <"$rundir/netns.err")"
fi
ip netns exec "$ns" sh -c \
  'for d in p2psig0 p2psig1; do
     echo 1 >/proc/sys/net/ipv6/conf/$d/disable_ipv6
   done' 2>/dev/null || true
say "namespace $ns: p2psig0 $OURS_ADDR/24 (ours), p2psig1 $PION_ADDR/24 (pion)"
nsx=(ip netns exec "$ns")

listening() {
  "${nsx[@]}" ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

wait_listen() {
  local pid="$1" port="$2" limit=$((SECONDS + 15))
  until listening "$port"; do
    alive "$pid" || return 1
    ((SECONDS < limit)) || return 1
    sleep 0.05
  done
}

# --- running the pair -------------------------------------------------------

start_time="$EPOCHREALTIME"
deadline=$((SECONDS + timeout_s))
golog="$rundir/pion-peer.log"
ourlog="$rundir/options-peer.log"
ours_timeout=$((timeout_s > 15 ? timeout_s - 10 : 5))
# pion-offer: pion also opens this many more channels at once; each opens on
# pion's side only when our DCEP ACK arrives.
many=0
if [[ "$mode" == pion-offer ]]; then many="${P2PSIG_OPTIONS_MANY:-600}"; fi
if command -v stdbuf >/dev/null 2>&1; then
  ours_cmd=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
    stdbuf -oL -eL "$ours")
else
  ours_cmd=("$ours")
fi

if [[ "$mode" == ours-offer ]]; then
  go_cmd=("$gobin" -mode answer -answer-address "$PION_ADDR:60000"
    -offer-address "$OURS_ADDR:50000" -negotiated 9 -timeout "${timeout_s}s")
  ours_cmd+=(-role offer -offer-address "$OURS_ADDR:50000"
    -answer-address "$PION_ADDR:60000" -local-address "$OURS_ADDR"
    -timeout "$ours_timeout" -burst "${P2PSIG_OPTIONS_BURST:-0}")
  say "starting the Go peer: ${go_cmd[*]}"
  "${nsx[@]}" "${go_cmd[@]}" >"$golog" 2>&1 </dev/null &
  go_pid=$!
  wait_listen "$go_pid" 60000 || true
  say "starting options-peer: ${ours_cmd[*]}"
  "${nsx[@]}" "${ours_cmd[@]}" >"$ourlog" 2>&1 </dev/null &
  ours_pid=$!
else
  go_cmd=("$gobin" -mode offer -offer-address "$PION_ADDR:50000"
    -answer-address "$OURS_ADDR:60000" -negotiated 9 -timeout "${timeout_s}s"
    -many "$many")
  ours_cmd+=(-role answer -answer-address "$OURS_ADDR:60000"
    -offer-address "$PION_ADDR:50000" -local-address "$OURS_ADDR"
    -timeout "$ours_timeout" -burst "${P2PSIG_OPTIONS_BURST:-0}"
    -many "$many")
  say "starting options-peer: ${ours_cmd[*]}"
  "${nsx[@]}" "${ours_cmd[@]}" >"$ourlog" 2>&1 </dev/null &
  ours_pid=$!
  wait_listen "$ours_pid" 60000 || true
  say "starting the Go peer: ${go_cmd[*]}"
  "${nsx[@]}" "${go_cmd[@]}" >"$golog" 2>&1 </dev/null &
  go_pid=$!
fi

print_logs() {
  echo "----- UDP counters in the namespace -----"
  "${nsx[@]}" cat /proc/net/snmp 2>/dev/null | grep '^Udp:' || true
  echo "----- options-peer log -----"
  cat "$ourlog"
  echo "----- pion-peer log -----"
  cat "$golog"
  echo "----- end of logs -----"
}

reasons=()
fail() {
  local r
  say "FAIL ($mode): $1"
  for r in "${reasons[@]}"; do say "  - $r"; done
  print_logs
  exit 1
}

# options-peer exits by itself, within its own deadline.
ours_rc=""
while alive "$ours_pid"; do
  if ((SECONDS >= deadline)); then
    fail "options-peer still running after ${timeout_s} s"
  fi
  if ! alive "$go_pid"; then
    # Let options-peer see the loss and report, then give up.
    sleep 1
    alive "$ours_pid" && fail "the Go peer exited early"
  fi
  sleep 0.1
done
wait "$ours_pid" && ours_rc=0 || ours_rc=$?
ours_pid=""

# --- what the Go peer saw ---------------------------------------------------

if [[ "$mode" == ours-offer ]]; then
  origin=remote
else
  origin=local
fi
# label, then the rest of its CHANNEL line after the id.
declare -A expect=(
  [reliable]="origin=$origin ordered=true maxRetransmits=none maxPacketLifeTime=none protocol=\"\" negotiated=false"
  [unordered]="origin=$origin ordered=false maxRetransmits=none maxPacketLifeTime=none protocol=\"\" negotiated=false"
  [rexmit0]="origin=$origin ordered=true maxRetransmits=0 maxPacketLifeTime=none protocol=\"\" negotiated=false"
  [lifetime500]="origin=$origin ordered=true maxRetransmits=none maxPacketLifeTime=500 protocol=\"\" negotiated=false"
  [chat]="origin=$origin ordered=true maxRetransmits=none maxPacketLifeTime=none protocol=\"chat\" negotiated=false"
  [closer]="origin=$origin ordered=true maxRetransmits=none maxPacketLifeTime=none protocol=\"\" negotiated=false"
  [neg9]="origin=negotiated ordered=true maxRetransmits=none maxPacketLifeTime=none protocol=\"\" negotiated=true"
)
labels=(reliable unordered rexmit0 lifetime500 chat neg9 closer)
declare -A partial=([rexmit0]=1 [lifetime500]=1) lost=()
# The messages options-peer sends on each channel, as "kind len", sorted.
want_messages="$(printf '%s\n' "binary 0" "binary 300" "binary 65535" \
  "text 0" "text 11" "text 65535" | sort)"

evaluate() {
  local label line n got want extra
  reasons=()
  lost=()
  for label in "${labels[@]}"; do
    n="$(grep -Ec "^CHANNEL label=\"$label\" id=[0-9]+ ${expect[$label]}\$" "$golog" || true)"
    if [[ "$n" != 1 ]]; then
      line="$(grep -E "^CHANNEL label=\"$label\" " "$golog" | head -1 || true)"
      reasons+=("pion reported ${n}x 'CHANNEL label=\"$label\" id=N ${expect[$label]}'${line:+; it has: $line}")
    fi
    if [[ "$label" == neg9 ]] &&
      ! grep -Eq '^CHANNEL label="neg9" id=9 ' "$golog"; then
      reasons+=("pion's negotiated channel neg9 does not have id 9")
    fi
    got="$(awk -v l="label=\"$label\"" '$1 == "MESSAGE" && $2 == l {
        sub("kind=", "", $4); sub("len=", "", $5); print $4, $5 }' "$golog" |
      sort)"
    want="$want_messages"
    if [[ "$label" == closer ]]; then
      want="$(printf '%s\n%s\n' "$want" "text 8" | sort)"
    fi
    if [[ "${partial[$label]:-0}" == 1 ]]; then
      # Partially reliable: what arrived was sent, once; loss is allowed.
      extra="$(comm -13 <(echo "$want") <(echo "$got"))"
      if [[ -n "$extra" ]]; then
        reasons+=("pion received on $label what was not sent: $(echo $extra)")
      fi
      if [[ "$got" != "$want" ]]; then
        lost["$label"]="$(comm -23 <(echo "$want") <(echo "$got") | tr '\n' ',')"
      fi
    elif [[ "$got" != "$want" ]]; then
      reasons+=("pion received on $label: $(echo $got) (expected $(echo $want))")
    fi
    if ! grep -Eq "^CLOSE label=\"$label\" " "$golog"; then
      reasons+=("pion did not report CLOSE for $label")
    fi
  done
  if ! grep -Eq '^CLOSING label="closer" ' "$golog"; then
    reasons+=("pion did not close 'closer' on close-me")
  fi
  if grep -Eq '^(ERROR|FATAL|TIMEOUT)' "$golog"; then
    reasons+=("pion reported errors: $(grep -E '^(ERROR|FATAL|TIMEOUT)' "$golog" | head -3 | tr '\n' ';')")
  fi
  if ((many > 0)) && ! grep -Eq "^MANY opened=$many\$" "$golog"; then
    reasons+=("pion's $many extra channels did not all open (each needs our DCEP ACK)")
  fi
  n="$(grep -c '^CHANNEL ' "$golog" || true)"
  if [[ "$n" != "${#labels[@]}" ]]; then
    reasons+=("pion reported $n channels, expected ${#labels[@]}")
  fi
  ((${#reasons[@]} == 0))
}

# pion reports CLOSE after it answered the last reset, which may come just
# after options-peer has seen its on_close: poll a little.
close_deadline=$((SECONDS + 5))
until evaluate; do
  ((SECONDS < close_deadline && SECONDS < deadline)) || break
  sleep 0.1
done
if [[ "$ours_rc" != 0 ]]; then
  reasons=("options-peer exited with status $ours_rc:" \
    "$(grep -E '^FAIL' "$ourlog" | tr '\n' ';')" "${reasons[@]}")
fi
((${#reasons[@]} == 0)) || fail "checks failed"

grep -E '^(ok|FAIL)' "$ourlog" | sed 's/^/  options-peer: /'
for label in "${!lost[@]}"; do
  say "pion did not receive on $label (allowed: partially reliable): ${lost[$label]%,}"
done
ok=1
say "PASS ($mode): $(grep -c '^ok' "$ourlog") checks by options-peer, pion saw" \
  "every option, $(grep -c '^MESSAGE ' "$golog") messages and" \
  "$(grep -c '^CLOSE ' "$golog") closes;" \
  "$(awk -v a="$start_time" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }')"
exit 0
