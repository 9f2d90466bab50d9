#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# check-since.py P2PSIG.H P2PSIG.SYM VERSION
#
# Checks the header's version marks against the library's version and its
# symbol nodes:
#  - every exported function (P2PSIG_API) has its gtk-doc comment, named
#    after it, with a "Since: MAJOR.MINOR" line;
#  - no "Since:" anywhere in the header (functions, types, fields) is newer
#    than VERSION, so that P2PSIG_CHECK_VERSION() of the installed header
#    is true for everything it declares;
#  - a function marked Since: X.Y is listed in P2PSIG.SYM under the node
#    P2PSIG_X.Y, and every listed name is declared.
# Prints every mismatch; exits 1 if there is one.
import re
import sys

if len(sys.argv) != 4:
    sys.exit('usage: check-since.py P2PSIG.H P2PSIG.SYM VERSION')
header = open(sys.argv[1]).read()
version = tuple(int(x) for x in sys.argv[3].split('.')[:2])

nodes = {}
node = None
for line in open(sys.argv[2]):
    line = line.strip()
    if not line or line.startswith('#'):
        continue
    if line.endswith(':'):
        node = line[:-1]
    else:
        nodes[line] = node

problems = []

for m in re.finditer(r'Since:\s*(\d+)\.(\d+)', header):
    since = (int(m.group(1)), int(m.group(2)))
    if since > version:
        line = header.count('\n', 0, m.start()) + 1
        problems.append('line %d: Since: %d.%d is newer than the version %s'
                        % (line, since[0], since[1], sys.argv[3]))

declared = set()
for m in re.finditer(r'\bP2PSIG_API\b[^;(]*?\b(p2psig_\w+)\s*\(', header):
    name = m.group(1)
    declared.add(name)
    start = header.rfind('/**', 0, m.start())
    block = header[start:header.find('*/', start)] if start >= 0 else ''
    title = re.match(r'/\*\*\s*\*\s*(\w+):', block)
    if not title or title.group(1) != name:
        problems.append('%s: no gtk-doc comment "%s:" right before it'
                        % (name, name))
        continue
    since = re.search(r'^\s*\*\s*Since:\s*(\d+)\.(\d+)', block, re.M)
    if not since:
        problems.append('%s: its comment has no "Since: MAJOR.MINOR" line'
                        % name)
        continue
    want = 'P2PSIG_%s.%s' % (since.group(1), since.group(2))
    if nodes.get(name) != want:
        problems.append('%s: Since: %s.%s, but listed under %s in %s'
                        % (name, since.group(1), since.group(2),
                           nodes.get(name, 'no node'), sys.argv[2]))

for name in sorted(set(nodes) - declared):
    problems.append('%s: listed in %s but not declared P2PSIG_API'
                    % (name, sys.argv[2]))

for p in problems:
    print('check-since: ' + p)
if problems:
    sys.exit(1)
print('check-since: %d functions, each at its Since: node, none newer than %s'
      % (len(declared), sys.argv[3]))
