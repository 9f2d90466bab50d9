#!/bin/bash
# SPDX-License-Identifier: MIT
#
# mdns-loopback.sh TEST [ARGS...]: runs the mDNS net test (test-mdns-net)
# in a network namespace of its own, p2psig-mdns-PID, whose loopback is up
# and takes multicast (lo has no MULTICAST flag by default), so that the
# test's mDNS queries and answers on 224.0.0.251:5353 stay inside it.  The
# namespace is deleted on exit.  Without root or ip netns: skipped (a TAP
# "1..0 # SKIP" line).
set -euo pipefail
test_exe="$1"
shift
skip() { echo "1..0 # SKIP $*"; exit 0; }
[[ "$(id -u)" == 0 ]] || skip "needs root for a network namespace"
command -v ip >/dev/null 2>&1 || skip "ip is not installed"
ns="p2psig-mdns-$$"
ip netns add "$ns" 2>/dev/null || skip "ip netns add failed"
trap 'ip netns del "$ns" 2>/dev/null || echo "# could not delete namespace $ns"' EXIT
ip -n "$ns" link set lo up
ip -n "$ns" link set lo multicast on
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
status=0
ip netns exec "$ns" "$test_exe" "$@" || status=$?
exit "$status"
