#!/bin/bash
# SPDX-License-Identifier: MIT
#
# install-deps.sh [--list]
#
# Installs (as root, on Debian 12) the packages needed to build libp2psig and
# run all its tests, unless they are all installed already.  With --list, only
# prints their names, one a line.
set -euo pipefail

packages=(
  meson ninja-build pkg-config gcc g++ python3
  # pkg-config --static --libs libp2psig names -lunistring (gnutls.pc,
  # through libnice) and -L.../mit-krb5 -lgssapi_krb5 -lkrb5 ... (libsoup's
  # .pc), whose -dev packages libnice-dev and libsoup-3.0-dev do not bring
  libunistring-dev libkrb5-dev
  libglib2.0-dev libnice-dev libsoup-3.0-dev libjson-glib-dev libssl-dev
  libusrsctp-dev
  # the API reference (meson option docs): gtk-doc reads the header's
  # comments
  gtk-doc-tools
  # interop tests against pion's pion-to-pion example
  golang-go golang-github-pion-webrtc.v3-dev iproute2 iptables
  # the NAT lab (tests/nat): coturn's turnserver, started by the tests
  # themselves (its system service stays off), openssl for its certificates
  coturn openssl
  valgrind
  # the browser suite (tests/browser): headless Chromium and Firefox ESR
  chromium firefox-esr
)

if [[ "${1:-}" == --list ]]; then
  printf '%s\n' "${packages[@]}"
  exit 0
elif [[ $# -ne 0 ]]; then
  echo "usage: $0 [--list]" >&2
  exit 2
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
    grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if [[ "$(id -u)" != 0 ]]; then
  echo "install-deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
