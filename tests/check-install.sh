#!/bin/bash
# SPDX-License-Identifier: MIT
#
# check-install.sh BUILDDIR SOURCEDIR SANITIZE
#
# Uses the library as an application would once it is installed: installs
# BUILDDIR into a temporary DESTDIR (meson install --destdir), then, through
# pkg-config on the installed libp2psig.pc only:
#  - --cflags is exactly the installed include directory, and --modversion
#    the project's version;
#  - a program using a 0.2 function under P2PSIG_CHECK_VERSION(0, 2, 0)
#    builds with --cflags --libs against the shared library, and with
#    --static --libs against libp2psig.a alone (a copy of the installed
#    libdir without libp2psig.so), and both run;
#  - every program of SOURCEDIR/examples builds both ways too, and
#    examples/run.sh runs the built ones;
#  - the tools' manual pages are installed (P2PSIG_EXPECT_MAN=1), and the
#    API reference, with a page for every exported function
#    (P2PSIG_EXPECT_REFERENCE=1).
# SANITIZE is meson's b_sanitize ("none", "address,undefined", ...): the
# programs are built with the same -fsanitize, which an instrumented library
# needs.  Skipped (77) without meson, pkg-config or cc.
set -euo pipefail
export LC_ALL=C

say() { printf 'check-install: %s\n' "$*"; }
fail() { say "FAIL: $*" >&2; exit 1; }

if [[ $# -ne 3 ]]; then
  echo "usage: $0 BUILDDIR SOURCEDIR SANITIZE" >&2
  exit 2
fi
builddir="$1"
srcdir="$2"
sanitize="$3"
for t in meson pkg-config cc; do
  command -v "$t" >/dev/null 2>&1 || { say "SKIP: no $t"; exit 77; }
done

tmp="$(mktemp -d)"
dest="$tmp/dest"
# meson install rewrites the build's install log, which `ninja uninstall`
# reads: the user's own install must stay uninstallable after this test.
log="$builddir/meson-logs/install-log.txt"
if [[ -f "$log" ]]; then cp -p "$log" "$tmp/install-log.txt"; fi
cleanup() {
  if [[ -f "$tmp/install-log.txt" ]]; then
    cp -p "$tmp/install-log.txt" "$log"
  else
    rm -f "$log"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

meson install -C "$builddir" --no-rebuild --destdir "$dest" --quiet \
  >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "meson install"; }

# Where meson put things, from the build's own options.
read -r prefix libdir includedir mandir datadir < <(
  meson introspect --buildoptions "$builddir" | python3 -c '
import json, os, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
p = o["prefix"]
print(p, *(os.path.join(p, o[k]) for k in ("libdir", "includedir", "mandir", "datadir")))')
pcdir="$dest$libdir/pkgconfig"
[[ -f "$pcdir/libp2psig.pc" ]] || fail "no $pcdir/libp2psig.pc"

# The installed tree as if installed to the prefix $dest$prefix: every
# path in the .pc is under ${prefix}.  (PKG_CONFIG_SYSROOT_DIR would move
# the system's own -L paths too.)  Nothing of the host's own pkg-config
# path may answer for libp2psig.
grep -q '^prefix=' "$pcdir/libp2psig.pc" || fail "libp2psig.pc has no prefix="
sed -i "s|^prefix=.*|prefix=$dest$prefix|" "$pcdir/libp2psig.pc"
if grep -v '^prefix=' "$pcdir/libp2psig.pc" | grep -q "$prefix/"; then
  fail "libp2psig.pc has a path outside \${prefix}"
fi
export PKG_CONFIG_PATH="$pcdir"
pc() { pkg-config "$@" libp2psig; }

cflags="$(pc --cflags)"
cflags="${cflags% }"
[[ "$cflags" == "-I$dest$includedir" ]] ||
  fail "pkg-config --cflags libp2psig: '$cflags', not only -I$dest$includedir"
say "--cflags: $cflags"
version="$(meson introspect --projectinfo "$builddir" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')"
[[ "$(pc --modversion)" == "$version" ]] ||
  fail "pkg-config --modversion: $(pc --modversion), not $version"

extra=()
if [[ "$sanitize" != none && -n "$sanitize" ]]; then
  extra=(-fsanitize="$sanitize")
fi

# libdir without the shared library: -lp2psig then finds libp2psig.a.
static_libdir="$tmp/static-lib"
mkdir -p "$static_libdir"
[[ -e "$dest$libdir/libp2psig.a" ]] || fail "libp2psig.a is not installed"
cp "$dest$libdir/libp2psig.a" "$static_libdir/"

# build NAME SOURCE...: NAME (shared) and NAME-static in $tmp/bin.
build() {
  local name="$1"
  shift
  # shellcheck disable=SC2046  # pkg-config output is a list of flags
  cc -std=c11 -Wall -Wextra -Werror "${extra[@]}" $(pc --cflags) -o "$tmp/bin/$name" \
    "$@" $(pc --libs) || fail "$name does not build with --cflags --libs"
  # shellcheck disable=SC2046
  cc -std=c11 -Wall -Wextra -Werror "${extra[@]}" $(pc --cflags) \
    -o "$tmp/bin/$name-static" "$@" -L"$static_libdir" $(pc --static --libs) ||
    fail "$name does not build with --static --libs"
  if readelf -d "$tmp/bin/$name-static" | grep -q 'NEEDED.*libp2psig'; then
    fail "$name-static needs libp2psig.so"
  fi
}
mkdir -p "$tmp/bin"
export LD_LIBRARY_PATH="$dest$libdir"

cat >"$tmp/use.c" <<'EOF'
#include <p2psig/p2psig.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
#if P2PSIG_CHECK_VERSION(0, 2, 0)
  /* A 0.2 function: compiled in only when the header says 0.2. */
  p2psig_channel_unref(NULL);
#else
#error "P2PSIG_CHECK_VERSION(0, 2, 0) is false"
#endif
  printf("%s\n", p2psig_version_string());
  return strcmp(p2psig_version_string(), P2PSIG_VERSION_STRING) != 0;
}
EOF
build use "$tmp/use.c"
for v in use use-static; do
  out="$("$tmp/bin/$v")" || fail "$v exited $?"
  [[ "$out" == "$version" ]] || fail "$v printed '$out', not $version"
done
say "a program links with --libs and with --static --libs, and runs"

if [[ -d "$srcdir/examples" ]]; then
  n=0
  for src in "$srcdir"/examples/*.c; do
    build "$(basename "$src" .c)" "$src"
    n=$((n + 1))
  done
  say "$n examples build with --libs and with --static --libs"
  for variant in "" -static; do
    P2PSIG_EXAMPLES_DIR="$tmp/bin" P2PSIG_EXAMPLES_SUFFIX="$variant" \
      "$srcdir/examples/run.sh" || fail "examples/run.sh ($variant) failed"
  done
fi

if [[ "${P2PSIG_EXPECT_MAN:-0}" == 1 ]]; then
  for page in p2psig-offer p2psig-answer; do
    f="$dest$mandir/man1/$page.1"
    [[ -f "$f" ]] || fail "no manual page $mandir/man1/$page.1"
    if command -v man >/dev/null 2>&1; then
      man -l "$f" 2>&1 >/dev/null | grep . && fail "man -l $page.1 warns"
      MANWIDTH=80 man -l "$f" 2>/dev/null | grep -q -- '-answer-address' ||
        fail "man -l $page.1 does not show the flags"
    fi
  done
  say "manual pages p2psig-offer(1) and p2psig-answer(1) installed"
fi
if [[ "${P2PSIG_EXPECT_REFERENCE:-0}" == 1 ]]; then
  ref="$dest$datadir/gtk-doc/html/libp2psig"
  [[ -f "$ref/index.html" ]] || fail "no API reference in $datadir/gtk-doc/html/libp2psig"
  # Every exported function has its entry (an anchor named after it).
  missing=0
  while read -r fn; do
    anchor="${fn//_/-}"
    grep -q "name=\"$anchor\"" "$ref"/*.html || { say "reference lacks $fn"; missing=1; }
  done < <(nm -D --defined-only --format=posix "$dest$libdir/libp2psig.so" |
           awk '$2 == "T" { sub(/@.*/, "", $1); print $1 }')
  [[ "$missing" == 0 ]] || fail "the API reference lacks exported functions"
  say "API reference installed, an entry for every exported function"
fi
# The README's uninstall: every installed file goes.
if command -v ninja >/dev/null 2>&1; then
  ninja -C "$builddir" uninstall >"$tmp/uninstall.log" 2>&1 ||
    { cat "$tmp/uninstall.log" >&2; fail "ninja uninstall"; }
  left=""
  if [[ -d "$dest" ]]; then left="$(find "$dest" -type f -o -type l)"; fi
  [[ -z "$left" ]] || fail "ninja uninstall left: $left"
  say "ninja uninstall removed every installed file"
fi
say "OK"
