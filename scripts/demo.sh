#!/bin/bash
# SPDX-License-Identifier: MIT
#
# demo.sh
#
# Installs the dependencies, builds ./build, then runs the pion-to-pion
# example with our tools on loopback: `answer` first, then `offer`, each with
# -count 3 -interval 1, their output prefixed with [answer] / [offer].
# Exits 0 when both tools exited 0 within 60 seconds.
#
# Like pion's example, the tools use a public STUN server.  To keep the demo
# off the network, it runs them in a network namespace of its own that has
# nothing but loopback (when it can: as root, with `ip netns`).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# Build output only when something goes wrong.
quiet() {
  if ! "$@" >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log"
    echo "demo: FAIL: $*" >&2
    exit 1
  fi
}
echo "demo: building in ./build"
if [[ -f build/meson-private/coredata.dat ]]; then
  quiet meson setup --reconfigure build -Dwerror=true
else
  quiet meson setup build -Dwerror=true
fi
quiet meson compile -C build

offer=build/tools/p2psig-offer
answer=build/tools/p2psig-answer
for t in "$offer" "$answer"; do
  [[ -x "$t" ]] || { echo "demo: $t was not built" >&2; exit 1; }
done

offer_addr=127.0.0.1:50000
answer_addr=127.0.0.1:60000
flags=(-offer-address "$offer_addr" -answer-address "$answer_addr"
  -count 3 -interval 1)

declare -A pid=() prefix_pid=()
ns=""
cleanup() {
  local role p
  set +e
  for role in "${!pid[@]}"; do
    p="${pid[$role]}"
    if kill -0 "$p" 2>/dev/null; then kill -TERM "$p" 2>/dev/null; fi
  done
  for role in "${!pid[@]}"; do wait "${pid[$role]}" 2>/dev/null; done
  for role in "${!prefix_pid[@]}"; do wait "${prefix_pid[$role]}" 2>/dev/null; done
  if [[ -n "$ns" ]]; then ip netns delete "$ns" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ns_exec=()
name="p2psig-demo-$$"
if [[ "$(id -u)" == 0 ]] && ip netns add "$name" 2>/dev/null; then
  ns="$name"
  if ip -n "$ns" link set lo up && ip netns exec "$ns" true; then
    ns_exec=(ip netns exec "$ns")
    echo "demo: in network namespace $ns (loopback only)"
  else
    echo "demo: cannot use network namespace $ns"
    exit 1
  fi
else
  echo "demo: no network namespace (needs root and ip netns): on the host's" \
    "loopback; the tools will also try pion's public STUN server"
fi

# Line-buffered output through stdbuf, so that the two streams interleave as
# they happen.
start() {
  local role="$1" bin="$2"
  mkfifo "$tmp/$role"
  sed -u "s/^/[$role] /" <"$tmp/$role" &
  prefix_pid[$role]=$!
  echo "demo: $bin ${flags[*]}"
  "${ns_exec[@]}" stdbuf -oL -eL "$bin" "${flags[@]}" \
    >"$tmp/$role" 2>&1 </dev/null &
  pid[$role]=$!
}

deadline=$((SECONDS + 60))

start answer "$answer"
# The answer first: wait (10 s at most) until it listens.
limit=$((SECONDS + 10))
until "${ns_exec[@]}" ss -Hltn "sport = :${answer_addr##*:}" 2>/dev/null | grep -q .; do
  kill -0 "${pid[answer]}" 2>/dev/null || break
  ((SECONDS < limit)) || break
  sleep 0.05
done
start offer "$offer"

declare -A rc=()
while [[ ${#rc[@]} -lt 2 ]]; do
  for role in answer offer; do
    [[ -z "${rc[$role]:-}" ]] || continue
    if ! kill -0 "${pid[$role]}" 2>/dev/null; then
      r=0
      wait "${pid[$role]}" || r=$?
      rc[$role]=$r
    fi
  done
  [[ ${#rc[@]} -lt 2 ]] || break
  if ((SECONDS >= deadline)); then
    echo "demo: FAIL: still running after 60 s" \
      "(answer: ${rc[answer]:-running}, offer: ${rc[offer]:-running})"
    exit 1
  fi
  sleep 0.1
done
wait "${prefix_pid[answer]}" "${prefix_pid[offer]}" 2>/dev/null || true

if [[ "${rc[answer]}" == 0 && "${rc[offer]}" == 0 ]]; then
  echo "demo: OK: answer and offer exited 0"
  exit 0
fi
echo "demo: FAIL: answer exited ${rc[answer]}, offer exited ${rc[offer]}"
exit 1
