#!/bin/bash
# SPDX-License-Identifier: MIT
#
# check-header.sh INCLUDE-SRC-DIR INCLUDE-BUILD-DIR
#
# Checks that <p2psig/p2psig.h> compiles on its own, with nothing but the
# two include directories (the source one, and the build one that holds the
# generated p2psig-version.h): as C11 with cc, and as C++11 with c++ when
# there is one.  No GLib or other dependency may be needed.  Exits 1 on
# failure.
set -euo pipefail
export LC_ALL=C
# Nothing may come in through the environment.
unset CPATH C_INCLUDE_PATH CPLUS_INCLUDE_PATH OBJC_INCLUDE_PATH

if [[ $# -ne 2 ]]; then
  echo "usage: $0 INCLUDE-SRC-DIR INCLUDE-BUILD-DIR" >&2
  exit 2
fi
src_inc="$1"
build_inc="$2"
for d in "$src_inc" "$build_inc"; do
  [[ -d "$d" ]] || { echo "check-header: no directory $d" >&2; exit 1; }
done
[[ -f "$src_inc/p2psig/p2psig.h" ]] ||
  { echo "check-header: no $src_inc/p2psig/p2psig.h" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/use.c" <<'EOF'
#include <p2psig/p2psig.h>

#if !P2PSIG_CHECK_VERSION(0, 1, 0)
#error "P2PSIG_CHECK_VERSION(0, 1, 0) is false"
#endif

static void on_message(p2psig_channel *channel, const void *data, size_t len,
                       p2psig_kind kind, void *user_data)
{
  (void)channel;
  (void)data;
  (void)len;
  (void)kind;
  (void)user_data;
}

int main(void)
{
#ifdef __cplusplus
  p2psig_peer_config config = p2psig_peer_config();
  config.size = sizeof config;
#else
  p2psig_peer_config config = {P2PSIG_PEER_CONFIG_INIT};
  p2psig_channel_config channel_config = {P2PSIG_CHANNEL_CONFIG_INIT};
  p2psig_signaling_config signaling_config = {P2PSIG_SIGNALING_CONFIG_INIT};
  (void)channel_config;
  (void)signaling_config;
#endif
  int error = P2PSIG_OK;
  p2psig_peer *peer;

  config.on_message = on_message;
  peer = p2psig_peer_new(&config, &error);
  p2psig_peer_free(peer);
  return p2psig_version() >= P2PSIG_VERSION_HEX &&
                 p2psig_strerror(error) != NULL &&
                 p2psig_state_name(P2PSIG_STATE_CONNECTED)[0] != '\0'
             ? 0
             : 1;
}
EOF

status=0
cc_cmd=(cc -std=c11 -Wall -Wextra -pedantic -Werror -fsyntax-only
  -I"$src_inc" -I"$build_inc" -x c "$tmp/use.c")
echo "check-header: ${cc_cmd[*]}"
if ! command -v cc >/dev/null 2>&1; then
  echo "check-header: cc not found" >&2
  exit 1
fi
if ! "${cc_cmd[@]}"; then
  echo "check-header: FAIL: p2psig.h does not compile alone as C11" >&2
  status=1
fi

if command -v c++ >/dev/null 2>&1; then
  cxx_cmd=(c++ -std=c++11 -Wall -Wextra -pedantic -Werror -fsyntax-only
    -I"$src_inc" -I"$build_inc" -x c++ "$tmp/use.c")
  echo "check-header: ${cxx_cmd[*]}"
  if ! "${cxx_cmd[@]}"; then
    echo "check-header: FAIL: p2psig.h does not compile alone as C++11" >&2
    status=1
  fi
else
  echo "check-header: c++ not found: C++ part skipped"
fi

if [[ "$status" == 0 ]]; then
  echo "check-header: OK"
fi
exit "$status"
