#!/usr/bin/env python3
# Turns p2psig.sym into a GNU ld version script.  p2psig.sym holds one
# public symbol a line, grouped under lines "NODE:" (P2PSIG_0.1:,
# P2PSIG_0.2:, ...), oldest first; each node inherits the one before, so a
# program linked against 0.1 still finds its symbols at P2PSIG_0.1.
import sys

nodes = []
for line in open(sys.argv[1]):
    line = line.strip()
    if not line or line.startswith('#'):
        continue
    if line.endswith(':'):
        nodes.append((line[:-1], []))
    elif not nodes:
        sys.exit('%s: %s comes before any "NODE:" line' % (sys.argv[1], line))
    else:
        nodes[-1][1].append(line)

with open(sys.argv[2], 'w') as out:
    previous = None
    for i, (node, names) in enumerate(nodes):
        out.write('%s {\nglobal:\n' % node)
        for n in names:
            out.write('  %s;\n' % n)
        if i == 0:
            out.write('local:\n  *;\n')
        out.write('}%s;\n\n' % (' ' + previous if previous else ''))
        previous = node
