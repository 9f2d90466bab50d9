#!/usr/bin/env python3
# Turns p2psig.sym (one public symbol a line) into a GNU ld version script.
import sys

names = [l.strip() for l in open(sys.argv[1]) if l.strip() and not l.startswith('#')]
with open(sys.argv[2], 'w') as out:
    out.write('P2PSIG_0.1 {\nglobal:\n')
    for n in names:
        out.write('  %s;\n' % n)
    out.write('local:\n  *;\n};\n')
