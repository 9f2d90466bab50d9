#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/run.sh: builds our benchmark and pion's, runs the workloads of
# ../shared/BENCH.md on both stacks in the same run and prints
#
#   workload | ours | pion | ratio
#
# where ratio > 1 always means ours is better: ours/pion for throughput and
# message rate, pion/ours for times (setup, round trip).
#
# Builds (everything under build-bench/ at the top of the source tree):
#   - meson with -Dbench=true: bench/bench, bench/udpfloor, tools/p2psig-offer,
#     tools/p2psig-answer;
#   - go, in GOPATH mode against Debian's golang-github-pion-webrtc.v3-dev:
#     pion-bench (bench/pion/main.go) and pion's pion-to-pion offer and
#     answer examples.
# Runs everything in a network namespace made here (lo, and a veth pair
# 198.18.0.1/24 - 198.18.0.2/24: pion gathers no loopback candidates); ours
# uses 127.0.0.1 in it, pion the veth end p2psig0.  No other network is
# used.  The namespace is deleted on exit.
#
# Needs root, iproute2 (ip, ss), meson, ninja, a C compiler, golang-go and
# golang-github-pion-webrtc.v3-dev.  About 3 minutes with the defaults.
#
# Environment (defaults in brackets):
#   BENCH_SECONDS [10]      measured seconds of throughput and rate
#   BENCH_WARMUP [1]        warm-up seconds before them
#   BENCH_ROUNDTRIPS [10000] echo round trips
#   BENCH_SETUP_RUNS [20]   in-process setups per stack
#   BENCH_TOOL_RUNS [10]    tool setups per stack (offer + answer processes)
#   BENCH_PAIRS [2]         pairs sending at once in one process (pairs)
#   BENCH_EXTRA=1           also throughput of 1 KiB messages
#   BENCH_BUILDDIR [build-bench]  where to build
#   BENCH_KEEP=1            keep the raw results and logs (printed path)
#
# The raw figures ("ours throughput_16k_MBps 123.4", ...) are also kept in
# $BENCH_BUILDDIR/results.txt.
set -euo pipefail
export LC_ALL=C
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY \
  no_proxy NO_PROXY

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

readonly PION_SRC=/usr/share/gocode/src/github.com/pion/webrtc
readonly PION_IFACE=p2psig0

# =========================================================================
# Inside the namespace: the measurements.  Invoked by the outer part below
# as "run.sh --measure RESULTS RUNDIR"; the binaries come in the
# environment (BENCH_OURS, BENCH_PION, BENCH_OFFER, ...).
# =========================================================================

children=()

measure_cleanup() {
  local p
  set +e
  for p in "${children[@]}"; do
    kill -TERM "$p" 2>/dev/null
  done
  for p in "${children[@]}"; do
    wait "$p" 2>/dev/null
  done
}

# run_bench LOG CMD...: runs one benchmark process, appends its figure
# lines to $results, its stderr to LOG.
run_bench() {
  local log="$1" out rc=0
  shift
  out="$("$@" 2>>"$log")" || rc=$?
  if ((rc != 0)); then
    say "FAILED ($rc): $* (see $log)"
    tail -n 5 "$log" >&2 || true
    return 0
  fi
  printf '%s\n' "$out" | tee -a "$results" | sed 's/^/  /' >&2
}

listening() {
  ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# stop_pid PID: TERM, then KILL after 3 s.
stop_pid() {
  local p="$1" i
  kill -TERM "$p" 2>/dev/null || true
  for ((i = 0; i < 30; i++)); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

# tool_setup_once IMPL N: the answer (IMPL's) running and listening, starts
# IMPL's offer and sets tool_ms to the ms until the offer prints "Data
# channel ... open", or to "fail".
tool_setup_once() {
  local impl="$1" n="$2" offer answer po pa apid opid fd line t0 t1="" i
  local dir="$rundir/tools-$impl-$n"
  if [[ "$impl" == ours ]]; then
    offer="$BENCH_OFFER" answer="$BENCH_ANSWER"
  else
    offer="$BENCH_PION_OFFER" answer="$BENCH_PION_ANSWER"
  fi
  # Fresh ports for every run: nothing left over from the run before.
  po=$((51000 + n)) pa=$((61000 + n))
  mkdir -p "$dir"
  "$answer" -offer-address "127.0.0.1:$po" -answer-address "127.0.0.1:$pa" \
    >"$dir/answer.log" 2>&1 </dev/null &
  apid=$!
  children+=("$apid")
  for ((i = 0; i < 200; i++)); do
    listening "$pa" && break
    kill -0 "$apid" 2>/dev/null || break
    sleep 0.05
  done
  if ! listening "$pa"; then
    stop_pid "$apid"
    children=()
    tool_ms=fail
    return 0
  fi
  mkfifo "$dir/offer.fifo"
  t0="$EPOCHREALTIME"
  "$offer" -offer-address "127.0.0.1:$po" -answer-address "127.0.0.1:$pa" \
    >"$dir/offer.fifo" 2>&1 </dev/null &
  opid=$!
  children+=("$opid")
  exec {fd}<"$dir/offer.fifo"
  printf '%s started\n' "$t0" >"$dir/offer.log"
  while IFS= read -r -t 10 -u "$fd" line; do
    printf '%s %s\n' "$EPOCHREALTIME" "$line" >>"$dir/offer.log"
    if [[ "$line" == "Data channel '"*"' open."* ]]; then
      t1="$EPOCHREALTIME"
      break
    fi
  done
  stop_pid "$opid"
  exec {fd}<&-
  stop_pid "$apid"
  children=()
  if [[ -n "$t1" ]]; then
    tool_ms="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) * 1000 }')"
  else
    tool_ms=fail
  fi
}

# Median, min, max (and failures) of the tool setups of one stack.
tool_setup_summary() {
  local impl="$1" file="$2"
  sort -n "$file" | awk -v impl="$impl" '
    $1 == "fail" { fail++; next }
    { v[n++] = $1 }
    END {
      if (n > 0) {
        printf "%s tools_setup_median_ms %.2f\n", impl, v[int((n + 1) / 2) - 1]
        printf "%s tools_setup_min_ms %.2f\n", impl, v[0]
        printf "%s tools_setup_max_ms %.2f\n", impl, v[n - 1]
        slow = 0
        for (i = 0; i < n; i++) if (v[i] > 500) slow++
        printf "%s tools_setup_over_500ms_runs %d\n", impl, slow
      }
      printf "%s tools_setup_failed_runs %d\n", impl, fail + 0
    }'
}

measure() {
  results="$1"
  rundir="$2"
  trap measure_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local s="${BENCH_SECONDS:-10}" w="${BENCH_WARMUP:-1}"
  local n="${BENCH_ROUNDTRIPS:-10000}" r="${BENCH_SETUP_RUNS:-20}"
  local tr="${BENCH_TOOL_RUNS:-10}" k="${BENCH_PAIRS:-2}" size i impl port=0
  local ours=("$BENCH_OURS" -a 127.0.0.1)
  local pion=("$BENCH_PION" -iface "$PION_IFACE")
  local log="$rundir/bench.log"
  local sizes=(16384 65535)
  if [[ "${BENCH_EXTRA:-0}" == 1 ]]; then sizes=(1024 "${sizes[@]}"); fi

  # The machine itself, under every figure: 1,200-byte UDP datagrams over
  # loopback, one process per side.
  say "floor: loopback UDP, 1200-byte datagrams, ${w} s + ${s} s, twice"
  run_bench "$log" "$BENCH_UDPFLOOR" -t "$s" -w "$w"

  # Ours then pion, workload by workload, so that both see the same load.
  say "setup in one process, $r runs each"
  run_bench "$log" "${ours[@]}" -r "$r" setup
  run_bench "$log" "${pion[@]}" -r "$r" setup
  say "echo round trip, $n round trips each"
  run_bench "$log" "${ours[@]}" -n "$n" echo
  run_bench "$log" "${pion[@]}" -n "$n" echo
  # pion sends at most 65535 bytes a message: both stacks at that size,
  # then ours alone at 1 MiB; ours with and without I-DATA each time.
  local hr="${BENCH_HOL_ROUNDS:-30}"
  say "head-of-line: 65535 B, then 1 MiB, on one channel, then 100 B on" \
    "another, $hr rounds each"
  run_bench "$log" "${ours[@]}" -n "$hr" -b 65535 hol
  run_bench "$log" "${ours[@]}" -I -n "$hr" -b 65535 hol
  run_bench "$log" "${pion[@]}" -n "$hr" -b 65535 hol
  run_bench "$log" "${ours[@]}" -n "$hr" hol
  run_bench "$log" "${ours[@]}" -I -n "$hr" hol
  for size in "${sizes[@]}"; do
    say "throughput, $size-byte messages, ${w} s + ${s} s each"
    run_bench "$log" "${ours[@]}" -t "$s" -w "$w" throughput "$size"
    run_bench "$log" "${pion[@]}" -t "$s" -w "$w" throughput "$size"
  done
  say "$k pairs at once in one process, 16384-byte messages, ${w} s + ${s} s each"
  run_bench "$log" "${ours[@]}" -p "$k" -t "$s" -w "$w" pairs 16384
  run_bench "$log" "${pion[@]}" -p "$k" -t "$s" -w "$w" pairs 16384
  say "message rate, 100-byte messages, ${w} s + ${s} s each"
  run_bench "$log" "${ours[@]}" -t "$s" -w "$w" rate
  run_bench "$log" "${pion[@]}" -t "$s" -w "$w" rate

  say "setup with the tools (answer listening, offer started -> offer's" \
    "'Data channel ... open'), $tr runs each, alternating"
  : >"$rundir/tools-ours.txt"
  : >"$rundir/tools-pion.txt"
  for ((i = 0; i < tr; i++)); do
    for impl in ours pion; do
      tool_setup_once "$impl" "$port"
      port=$((port + 1))
      printf '%s\n' "$tool_ms" >>"$rundir/tools-$impl.txt"
      if [[ "$tool_ms" == fail ]]; then
        say "  $impl tools setup run $((i + 1)): failed (logs: $rundir/tools-$impl-$((port - 1)))"
      else
        say "  $impl tools setup run $((i + 1)): $tool_ms ms"
      fi
    done
  done
  for impl in ours pion; do
    tool_setup_summary "$impl" "$rundir/tools-$impl.txt" | tee -a "$results" |
      sed 's/^/  /' >&2
  done

  # What every tool run pays before our code does anything: loading the
  # libraries (an empty main linked with libp2psig, against pion's offer
  # printing its usage) and OpenSSL's share (bench/floor.c).
  say "floors: process start (50 runs each), OpenSSL alone (200 runs)"
  floor_line ours process_start_ms "$BENCH_FLOOR" -r 50 -s "$BENCH_START"
  floor_line pion process_start_ms "$BENCH_FLOOR" -r 50 -s \
    "$BENCH_PION_OFFER" -h
  "$BENCH_FLOOR" -r 200 2>>"$log" | awk '
    $2 == "cert_first_us" { printf "ours openssl_first_cert_ms %.2f\n", $3 / 1000 }
    $2 == "handshake_us" { printf "ours openssl_handshake_ms %.2f\n", $3 / 1000 }
    $2 == "openssl" { printf "ours openssl_version %s\n", $3 }' |
    tee -a "$results" | sed 's/^/  /' >&2
}

# floor_line IMPL FIGURE CMD...: CMD prints "floor start_us N"; records
# "IMPL FIGURE N/1000".
floor_line() {
  local impl="$1" fig="$2" out
  shift 2
  out="$("$@" 2>>"$rundir/bench.log")" || { say "FAILED: $*"; return 0; }
  printf '%s\n' "$out" | awk -v i="$impl" -v f="$fig" \
    '$2 == "start_us" { printf "%s %s %.2f\n", i, f, $3 / 1000 }' |
    tee -a "$results" | sed 's/^/  /' >&2
}

if [[ "${1:-}" == --measure ]]; then
  measure "$2" "$3"
  exit 0
fi

# =========================================================================
# Outside: build, namespace, table.
# =========================================================================

[[ $# -eq 0 ]] || { echo "usage: $0 (no arguments; see the head of the script)" >&2; exit 2; }

srcdir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
builddir="${BENCH_BUILDDIR:-$srcdir/build-bench}"
mkdir -p "$builddir"
builddir="$(cd "$builddir" && pwd)"

[[ "$(id -u)" == 0 ]] || die "needs root (network namespace)"
for c in ip ss meson ninja go awk; do
  command -v "$c" >/dev/null 2>&1 || die "$c not found"
done
[[ -d "$PION_SRC/examples/pion-to-pion" ]] ||
  die "$PION_SRC not found (apt-get install golang-github-pion-webrtc.v3-dev)"
grep -q "option('bench'" "$srcdir/meson_options.txt" ||
  die "meson_options.txt has no 'bench' option; add" \
    "option('bench', type: 'boolean', value: false, ...) and" \
    "\"if get_option('bench') subdir('bench') endif\" to meson.build"

# --- build ----------------------------------------------------------------

say "building ours in $builddir (meson -Dbench=true)"
if [[ -f "$builddir/build.ninja" ]]; then
  meson configure "$builddir" -Dbench=true >/dev/null
else
  meson setup "$builddir" "$srcdir" -Dbench=true -Dbuildtype=debugoptimized \
    >"$builddir/meson-setup.log" 2>&1 ||
    { cat "$builddir/meson-setup.log" >&2; die "meson setup failed"; }
fi
ninja -C "$builddir" bench/bench bench/floor bench/start bench/udpfloor \
  tools/p2psig-offer tools/p2psig-answer \
  >"$builddir/ninja.log" 2>&1 ||
  { tail -n 30 "$builddir/ninja.log" >&2; die "ninja failed"; }

say "building pion's side in $builddir (go, GOPATH mode)"
gopath="$builddir/gopath"
mkdir -p "$gopath/src/github.com/pion/webrtc" "$builddir/gocache"
ln -sfn "$PION_SRC" "$gopath/src/github.com/pion/webrtc/v3"
goenv=(env GO111MODULE=off GOPATH="$gopath:/usr/share/gocode"
  GOCACHE="$builddir/gocache" GOENV=off GOFLAGS= GOPROXY=off
  GOTOOLCHAIN=local CGO_ENABLED=0)
(cd "$srcdir/bench/pion" &&
  "${goenv[@]}" go build -o "$builddir/pion-bench" main.go) ||
  die "building bench/pion/main.go failed"
for role in offer answer; do
  "${goenv[@]}" go build -o "$builddir/pion-$role" \
    "github.com/pion/webrtc/examples/pion-to-pion/$role" ||
    die "building pion's $role example failed"
done

# --- namespace ------------------------------------------------------------

ns=""
rundir=""
cleanup() {
  set +e
  if [[ -n "$ns" ]]; then
    ip netns delete "$ns" 2>/dev/null || say "could not delete namespace $ns"
  fi
  if [[ -n "$rundir" && "${BENCH_KEEP:-0}" != 1 ]]; then
    rm -rf "$rundir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rundir="$(mktemp -d "$builddir/run.XXXXXX")"
name="p2psig-bench-$$"
ip netns add "$name" || die "ip netns add failed"
ns="$name"
ip -n "$ns" link set lo up
ip -n "$ns" link add p2psig0 type veth peer name p2psig1
ip -n "$ns" addr add 198.18.0.1/24 dev p2psig0
ip -n "$ns" addr add 198.18.0.2/24 dev p2psig1
ip -n "$ns" link set p2psig0 up
ip -n "$ns" link set p2psig1 up
# IPv4 only on the veth pair: no link-local candidates still in DAD.
# shellcheck disable=SC2016 # $d is the inner shell's
ip netns exec "$ns" sh -c \
  'for d in p2psig0 p2psig1; do
     echo 1 >/proc/sys/net/ipv6/conf/$d/disable_ipv6
   done' 2>/dev/null || true
say "namespace $ns: lo, p2psig0 198.18.0.1/24, p2psig1 198.18.0.2/24"

# --- measure --------------------------------------------------------------

results="$builddir/results.txt"
: >"$results"
{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -r) $(nproc) CPUs" \
    "loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$results"
env BENCH_OURS="$builddir/bench/bench" BENCH_PION="$builddir/pion-bench" \
  BENCH_OFFER="$builddir/tools/p2psig-offer" BENCH_ANSWER="$builddir/tools/p2psig-answer" \
  BENCH_FLOOR="$builddir/bench/floor" BENCH_START="$builddir/bench/start" \
  BENCH_UDPFLOOR="$builddir/bench/udpfloor" \
  BENCH_PION_OFFER="$builddir/pion-offer" \
  BENCH_PION_ANSWER="$builddir/pion-answer" \
  ip netns exec "$ns" "$BASH" "${BASH_SOURCE[0]}" --measure "$results" "$rundir"
echo "# loadavg after $(cut -d' ' -f1-3 /proc/loadavg)" >>"$results"

# --- table ------------------------------------------------------------------

awk '
  /^#/ { next }
  { val[$1, $2] = $3; if (!($2 in seen)) { seen[$2] = 1; order[n++] = $2 } }
  function row(name, fig, better,   o, p, r) {
    o = (("ours", fig) in val) ? val["ours", fig] : "-"
    p = (("pion", fig) in val) ? val["pion", fig] : "-"
    r = "-"
    if (o != "-" && p != "-" && o + 0 > 0 && p + 0 > 0) {
      if (better == "higher") r = sprintf("%.2f", o / p)
      else if (better == "lower") r = sprintf("%.2f", p / o)
    }
    printf "| %-36s | %12s | %12s | %6s |\n", name, o, p, r
  }
  # A figure of each stack over another figure (scaled): of the floor
  # (stack "floor"), or of its own (den_impl "").
  function over(impl, fig, den_impl, den_fig, scale,   d) {
    if (den_impl == "") den_impl = impl
    if (!((impl, fig) in val) || !((den_impl, den_fig) in val)) return "-"
    d = val[den_impl, den_fig] + 0
    return d > 0 ? sprintf("%.2f", val[impl, fig] * scale / d) : "-"
  }
  function over_row(name, fig, den_impl, den_fig, scale) {
    printf "| %-36s | %12s | %12s | %6s |\n", name,
      over("ours", fig, den_impl, den_fig, scale),
      over("pion", fig, den_impl, den_fig, scale), "-"
  }
  function floor_row(name, fig, scale) {
    printf "| %-36s | %12s |\n", name,
      (("floor", fig) in val) ? sprintf("%.1f", val["floor", fig] * scale) : "-"
  }
  END {
    printf "| %-36s | %12s | %12s | %6s |\n", "workload", "ours", "pion", "ratio"
    printf "|%s|%s|%s|%s|\n", "--------------------------------------",
      "--------------", "--------------", "--------"
    if (("ours", "throughput_1k_MBps") in val || ("pion", "throughput_1k_MBps") in val) {
      row("throughput 1 KiB (MB/s)", "throughput_1k_MBps", "higher")
      row("  CPU % of 200", "throughput_1k_cpu_pct", "")
    }
    row("throughput 16 KiB (MB/s)", "throughput_16k_MBps", "higher")
    row("  CPU % of 200", "throughput_16k_cpu_pct", "")
    over_row("  / UDP floor bytes/s", "throughput_16k_MBps", "floor",
      "udp_Bps", 1e6)
    row("throughput 65535 B (MB/s)", "throughput_65535_MBps", "higher")
    row("  CPU % of 200", "throughput_65535_cpu_pct", "")
    pairs = "K"
    if (("ours", "pairs_count") in val)
      pairs = sprintf("%d", val["ours", "pairs_count"])
    row(pairs " pairs at once, 16 KiB (MB/s)", "pairs_16k_MBps", "higher")
    row("  CPU % of 200", "pairs_16k_cpu_pct", "")
    over_row("  / one pair (16 KiB MB/s)", "pairs_16k_MBps", "",
      "throughput_16k_MBps", 1)
    row("100-byte messages/s", "rate_100B_msgps", "higher")
    row("  CPU % of 200", "rate_100B_cpu_pct", "")
    over_row("  / UDP floor datagrams/s", "rate_100B_msgps", "floor",
      "udp_dgps", 1)
    row("  messages per datagram", "rate_100B_msgs_per_dgram", "")
    row("echo round trip median (us)", "echo_median_us", "lower")
    row("echo round trip p99 (us)", "echo_p99_us", "lower")
    row("100 B behind 65535 B, other channel (ms)", "hol_65535_small_median_ms", "lower")
    row("  p90 (ms)", "hol_65535_small_p90_ms", "lower")
    row("  ours without I-DATA, median (ms)", "hol_65535_noidata_small_median_ms", "")
    row("  the 65535 B message, median (ms)", "hol_65535_big_median_ms", "lower")
    row("100 B behind 1 MiB (ms), ours only", "hol_small_median_ms", "")
    row("  p90 (ms)", "hol_small_p90_ms", "")
    row("  without I-DATA, median (ms)", "hol_noidata_small_median_ms", "")
    row("  the 1 MiB message, median (ms)", "hol_big_median_ms", "")
    row("setup in one process, median (ms)", "setup_median_ms", "lower")
    row("  min (ms)", "setup_min_ms", "lower")
    row("  max (ms)", "setup_max_ms", "lower")
    row("setup with the tools, median (ms)", "tools_setup_median_ms", "lower")
    row("  min (ms)", "tools_setup_min_ms", "lower")
    row("  max (ms)", "tools_setup_max_ms", "lower")
    row("  runs over 500 ms", "tools_setup_over_500ms_runs", "")
    row("  failed runs", "tools_setup_failed_runs", "")
    row("process start, empty main (ms)", "process_start_ms", "lower")
    row("  OpenSSL first certificate (ms)", "openssl_first_cert_ms", "")
    row("  OpenSSL handshake in memory (ms)", "openssl_handshake_ms", "")
    print ""
    print "ratio > 1: ours is better (ours/pion for MB/s and messages/s," \
      " pion/ours for times).  Targets: throughput >= 2, setup >= 2," \
      " echo >= 2."
    print ""
    printf "| %-36s | %12s |\n", "floor: loopback UDP, 1200 B", "this machine"
    printf "|%s|%s|\n", "--------------------------------------", "--------------"
    floor_row("sendto/recvfrom (MB/s)", "udp_Bps", 1e-6)
    floor_row("  datagrams/s received", "udp_dgps", 1)
    floor_row("  datagrams/s sent", "udp_sent_dgps", 1)
    floor_row("sendmmsg/recvmmsg, 32 a call (MB/s)", "udp_mmsg_Bps", 1e-6)
    floor_row("  datagrams/s received", "udp_mmsg_dgps", 1)
    floor_row("  datagrams/s sent", "udp_mmsg_sent_dgps", 1)
    print ""
    print "Issue 12 targets: 16 KiB over the floor (bytes/s) >= 0.5;" \
      " 100-byte messages/s over the floor (datagrams/s) >= 2.5;" \
      " pairs over one pair >= 1.8."
  }' "$results"
say "raw figures in $results"
if [[ "${BENCH_KEEP:-0}" == 1 ]]; then say "logs kept in $rundir"; fi
