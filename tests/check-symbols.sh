#!/bin/bash
# SPDX-License-Identifier: MIT
#
# check-symbols.sh LIBP2PSIG.SO P2PSIG.SYM
#
# Checks that the shared library exports exactly the functions and objects
# listed in P2PSIG.SYM, each at the version node it is listed under (one
# name a line after a "NODE:" line; blank lines and lines starting with '#'
# are ignored): NAME@@NODE.  The nodes themselves (absolute symbols such as
# P2PSIG_0.1) are not functions or objects and are left out.  Prints the
# differences; exits 1 if there are any.
set -euo pipefail
export LC_ALL=C

if [[ $# -ne 2 ]]; then
  echo "usage: $0 LIBP2PSIG.SO P2PSIG.SYM" >&2
  exit 2
fi
lib="$1"
sym="$2"
[[ -r "$lib" ]] || { echo "check-symbols: cannot read $lib" >&2; exit 1; }
[[ -r "$sym" ]] || { echo "check-symbols: cannot read $sym" >&2; exit 1; }
command -v nm >/dev/null 2>&1 ||
  { echo "check-symbols: nm not found (apt-get install binutils)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# POSIX format: "name type [value size]"; names carry @@VERSION (the
# default version) or @VERSION.  Type A is the version node.
nm -D --defined-only --format=posix "$lib" >"$tmp/nm"
awk '$2 != "A" && $2 != "a" { n = $1; sub(/@@/, "@", n); print n }' \
  "$tmp/nm" | sort -u >"$tmp/exported"
# As lib/gen-map.py reads it: NAME@NODE.
awk '/^#/ { next }
     { gsub(/[[:space:]]/, "") }
     /:$/ { node = substr($0, 1, length($0) - 1); next }
     $0 != "" { print $0 "@" node }' "$sym" |
  sort -u >"$tmp/listed"

status=0
extra="$(comm -23 "$tmp/exported" "$tmp/listed")"
missing="$(comm -13 "$tmp/exported" "$tmp/listed")"
if [[ -n "$extra" ]]; then
  echo "check-symbols: exported by $lib but not listed in $sym:"
  sed 's/^/  /' <<<"$extra"
  status=1
fi
if [[ -n "$missing" ]]; then
  echo "check-symbols: listed in $sym but not exported by $lib:"
  sed 's/^/  /' <<<"$missing"
  status=1
fi
if [[ "$status" == 0 ]]; then
  echo "check-symbols: $(wc -l <"$tmp/listed") symbols, as listed"
fi
exit "$status"
