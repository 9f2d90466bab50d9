#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test.sh [MESON-TEST-ARGS...]
#
# Installs the dependencies, configures ./build with -Dwerror=true, builds,
# and runs the whole test suite (unit, net, interop, nat).  Extra arguments go to
# `meson test` (e.g. --suite unit).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

if [[ -f build/meson-private/coredata.dat ]]; then
  meson setup --reconfigure build -Dwerror=true
else
  meson setup build -Dwerror=true
fi
meson compile -C build
meson test -C build --print-errorlogs "$@"
