# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# tests/nat/pion.sh: builds the NAT lab's pion peer (tests/nat/pion-nat/
# main.go) against Debian's pion (golang-github-pion-webrtc.v3-dev,
# v3.1.56) in GOPATH mode, as tests/interop/run-options.sh builds its Go
# peer, and caches it in $P2PSIG_BUILDDIR/pion-nat/ (default
# ${TMPDIR:-/tmp}/p2psig-nat-pion).  Sourced after lab.sh, before lab_up:
# lab_pion_build skips (77) without go or pion, and sets LAB_PION to the
# binary.

readonly LAB_PION_SRC=/usr/share/gocode/src/github.com/pion/webrtc
LAB_PION=""

lab_pion_build() {
  command -v go >/dev/null 2>&1 || lab_skip "go is not installed (apt-get install golang-go)"
  [[ -d "$LAB_PION_SRC" ]] ||
    lab_skip "$LAB_PION_SRC not found (apt-get install golang-github-pion-webrtc.v3-dev)"
  local here src dir bin
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  src="$here/pion-nat/main.go"
  dir="${P2PSIG_BUILDDIR:-${TMPDIR:-/tmp}/p2psig-nat-pion}"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)/pion-nat"
  bin="$dir/pion-nat"
  mkdir -p "$dir/gopath/src/github.com/pion/webrtc" "$dir/gocache"
  (
    flock 9
    if [[ -x "$bin" && "$bin" -nt "$src" ]]; then
      exit 0
    fi
    # GOPATH mode resolves github.com/pion/webrtc/v3 only through a link.
    ln -sfn "$LAB_PION_SRC" "$dir/gopath/src/github.com/pion/webrtc/v3"
    lab_say "building the pion peer into $bin"
    if ! (cd "$here/pion-nat" &&
      env GO111MODULE=off GOPATH="$dir/gopath:/usr/share/gocode" \
        GOCACHE="$dir/gocache" GOENV=off GOFLAGS= GOPROXY=off \
        GOTOOLCHAIN=local CGO_ENABLED=0 \
        go build -o "$bin.tmp" main.go) >"$dir/build.log" 2>&1; then
      cat "$dir/build.log"
      rm -f "$bin.tmp"
      exit 1
    fi
    mv -f "$bin.tmp" "$bin"
  ) 9>"$dir/.lock" || lab_fail "building the pion peer failed"
  # shellcheck disable=SC2034 # for the cases
  LAB_PION="$bin"
}
