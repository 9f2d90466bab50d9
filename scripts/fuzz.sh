#!/bin/bash
# SPDX-License-Identifier: MIT
#
# fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Builds the libFuzzer targets of tests/fuzz/ with clang in build-fuzz
# (FUZZ_BUILDDIR overrides it) and runs each for SECONDS_PER_TARGET
# (default 60), one after another, on a scratch copy of its seed corpus
# (tests/fuzz/corpus/<name>/ is never written).  TARGETs are names such as
# "sdp" or "fuzz-sdp"; all of them by default.  Installs clang and the
# libFuzzer runtime (libclang-rt-14-dev on Debian 12) when missing and run
# as root.
#
# Prints one line per target.  A crash, a hang (over 10 s on one input), a
# leak or running out of memory fails the target; its reproducer is kept in
# BUILDDIR/fuzz-artifacts/<target>/ and its path printed.  Exits non-zero if
# any target failed.  Replay one with: BUILDDIR/tests/fuzz/fuzz-NAME FILE
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
fi
shift $(($# > 0 ? 1 : 0))

all_targets=(sdp candidate signal-json http dcep mdns reassembly)
if (($# == 0)); then
  set -- "${all_targets[@]}"
fi
targets=()
for t in "$@"; do
  t="${t#fuzz-}"
  if [[ ! -d "tests/fuzz/corpus/$t" ]]; then
    echo "fuzz: unknown target '$t' (known: ${all_targets[*]})" >&2
    exit 2
  fi
  targets+=("$t")
done

builddir="${FUZZ_BUILDDIR:-build-fuzz}"
export CC=clang

# --- packages -----------------------------------------------------------------

# The libFuzzer runtime comes with the compiler-rt package of Debian's
# default clang (14 on Debian 12).
packages=(clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
    grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} > 0)); then
  if [[ "$(id -u)" != 0 ]]; then
    echo "fuzz: missing packages (install as root): ${missing[*]}" >&2
    exit 1
  fi
  echo "fuzz: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    "${missing[@]}" </dev/null
fi

# --- build --------------------------------------------------------------------

options=(-Dfuzzing=true -Dtests=disabled -Dtools=false -Dinterop=disabled)
if [[ -f "$builddir/meson-private/coredata.dat" ]]; then
  meson setup --reconfigure "$builddir" "${options[@]}" >/dev/null
else
  meson setup "$builddir" "${options[@]}" >/dev/null
fi
meson compile -C "$builddir" "${targets[@]/#/tests/fuzz/fuzz-}" >/dev/null

# --- runs ---------------------------------------------------------------------

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
artifacts="$builddir/fuzz-artifacts"
failed=0

for t in "${targets[@]}"; do
  exe="$builddir/tests/fuzz/fuzz-$t"
  corpus="$scratch/corpus-$t"
  log="$scratch/$t.log"
  cp -r "tests/fuzz/corpus/$t" "$corpus"
  mkdir -p "$artifacts/$t"
  # GLib debug output is dropped by the targets themselves; ASan's leak
  # check runs after each input that allocated more than it freed.
  status=0
  # A full unwind through GLib (no frame pointers) lets the suppressions
  # see json-glib's frames.
  ASAN_OPTIONS="fast_unwind_on_malloc=0:${ASAN_OPTIONS:-}" \
  LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0" \
  "$exe" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$t/" \
    "$corpus" >"$log" 2>&1 || status=$?

  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  cov="$(sed -n 's/.*\(cov: [0-9]*\).*/\1/p' "$log" | tail -1)"
  ncorpus="$(find "$corpus" -type f | wc -l)"
  crash="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)"
  if ((status == 0)) && [[ -z "$crash" ]]; then
    printf 'fuzz-%s: ok: %s s, %s runs, %s exec/s, %s, corpus %s\n' \
      "$t" "$seconds" "${runs:-?}" "${rate:-?}" "${cov:-cov: ?}" "$ncorpus"
  else
    failed=1
    kept="$artifacts/$t/fuzz-$t.log"
    cp "$log" "$kept"
    reason="$(grep -m1 -oE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer): [^ ]+( [^ ]+)?|runtime error: .*|check failed: .*' "$log" || true)"
    printf 'fuzz-%s: FAILED (exit %d): %s; reproducer: %s; log: %s\n' \
      "$t" "$status" "${reason:-see log}" "${crash:-none written}" "$kept"
  fi
done

exit "$failed"
