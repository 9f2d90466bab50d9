#!/bin/sh
# SPDX-License-Identifier: MIT
#
# gtkdoc.sh OUTDIR MAIN-XML HEADER-DIR...
#
# Runs gtk-doc on the public headers: OUTDIR gets the API reference.
# meson's gnome.gtkdoc() does the same, but only at install time or on
# request, and installs it by a script whose files `ninja uninstall` does
# not know; as a custom target the pages are built with the rest and
# installed like any other output.  gtk-doc's own output goes to
# OUTDIR/gtkdoc.log, its summary to standard output.
set -eu
out="$1"
main="$(realpath "$2")"
shift 2
src_dirs=""
for d in "$@"; do src_dirs="$src_dirs --source-dir=$(realpath "$d")"; done

work="$out.work"
rm -rf "$work" "$out"
mkdir -p "$work/html"
cd "$work"
# Sections follow the header, regenerated each time, so that a new
# declaration is never left out of the pages.
# shellcheck disable=SC2086  # one word a directory
gtkdoc-scan --module=libp2psig $src_dirs --ignore-decorators=P2PSIG_API \
  --rebuild-sections >gtkdoc.log 2>&1
# shellcheck disable=SC2086
gtkdoc-mkdb --module=libp2psig --output-format=xml $src_dirs \
  --main-sgml-file="$main" >>gtkdoc.log 2>&1
cp "$main" libp2psig-docs.xml
(cd html && gtkdoc-mkhtml --path="$work" libp2psig ../libp2psig-docs.xml) \
  >>gtkdoc.log 2>&1
gtkdoc-fixxref --module=libp2psig --module-dir=html >>gtkdoc.log 2>&1
sed -n 1,4p libp2psig-undocumented.txt
cd - >/dev/null
mv "$work/html" "$out"
mv "$work/gtkdoc.log" "$out.log"
rm -rf "$work"
