#!/bin/bash
# SPDX-License-Identifier: MIT
#
# run.sh: runs the examples, each for real on loopback: local-pair alone;
# answer-server serving three offerers one after another; a 3 MiB file
# through file-transfer, compared byte for byte.  Signaling ports are
# picked free.
#
# Environment: P2PSIG_EXAMPLES_DIR, where the built examples are (default:
# this script's directory); P2PSIG_EXAMPLES_SUFFIX, appended to their
# names (check-install.sh runs the -static builds too).
set -euo pipefail
export LC_ALL=C

dir="${P2PSIG_EXAMPLES_DIR:-$(dirname "$0")}"
suffix="${P2PSIG_EXAMPLES_SUFFIX:-}"
say() { printf 'examples%s: %s\n' "$suffix" "$*"; }
fail() { say "FAIL: $*" >&2; exit 1; }
bin() { echo "$dir/$1$suffix"; }

tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# Two TCP ports free on 127.0.0.1 now (a race with other programs is
# possible but unlikely).
free_ports() {
  python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))'
}

# run NAME SECONDS CMD...: runs CMD with a deadline, its output in
# $tmp/NAME.log, shown on failure.
run() {
  local name="$1" seconds="$2"
  shift 2
  if ! timeout "$seconds" "$@" >"$tmp/$name.log" 2>&1; then
    cat "$tmp/$name.log" >&2
    fail "$name failed"
  fi
}

run local-pair 20 "$(bin local-pair)"
grep -q "offerer got 'pong'" "$tmp/local-pair.log" || fail "local-pair: no pong"
say "local-pair: ping and pong between two peers of one process"

read -r answer_port offer_port < <(free_ports)
"$(bin answer-server)" 3 "127.0.0.1:$answer_port" "127.0.0.1:$offer_port" \
  >"$tmp/answer-server.log" 2>&1 &
server=$!
pids+=("$server")
for i in 1 2 3; do
  run "offerer-$i" 40 "$(bin offerer)" "127.0.0.1:$answer_port" \
    "127.0.0.1:$offer_port"
  grep -q "reply 'hello from the offerer'" "$tmp/offerer-$i.log" ||
    fail "offerer $i: no echo"
done
if ! timeout 20 tail --pid="$server" -f /dev/null; then
  cat "$tmp/answer-server.log" >&2
  fail "answer-server did not end after its three sessions"
fi
wait "$server" || { cat "$tmp/answer-server.log" >&2; fail "answer-server exited $?"; }
[[ "$(grep -c ': over$' "$tmp/answer-server.log")" == 3 ]] ||
  fail "answer-server: not three sessions"
say "answer-server: three offers served one after another"

read -r answer_port offer_port < <(free_ports)
head -c $((3 * 1024 * 1024 + 12345)) /dev/urandom >"$tmp/in"
"$(bin file-transfer)" receive "$tmp/out" "127.0.0.1:$answer_port" \
  "127.0.0.1:$offer_port" >"$tmp/receive.log" 2>&1 &
receiver=$!
pids+=("$receiver")
run send 70 "$(bin file-transfer)" send "$tmp/in" "127.0.0.1:$answer_port" \
  "127.0.0.1:$offer_port"
wait "$receiver" || { cat "$tmp/receive.log" >&2; fail "receiver exited $?"; }
cmp "$tmp/in" "$tmp/out" || fail "file-transfer: the files differ"
say "file-transfer: $(stat -c %s "$tmp/in") bytes sent, received, identical"
