#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# check-links.py SOURCEDIR
#
# Every Markdown file of the project (README.md, doc/, bench/, tests/...)
# refers only to files that exist: relative Markdown links, [text](path),
# and paths written in backticks that name a document (`doc/...`, or a
# .md file, or a path to a .1 or .xml file), relative to the file or to SOURCEDIR.
# Links to other sites and anchors within a page are not followed.
# Prints each broken reference; exits 1 if there is one.
import os
import re
import subprocess
import sys

root = sys.argv[1] if len(sys.argv) > 1 else '.'
try:
    files = subprocess.run(['git', '-C', root, 'ls-files', '*.md'],
                           capture_output=True, text=True,
                           check=True).stdout.split()
except (OSError, subprocess.CalledProcessError):
    files = [os.path.relpath(os.path.join(d, f), root)
             for d, _, fs in os.walk(root)
             if '/build' not in d and '/.git' not in d
             for f in fs if f.endswith('.md')]

link = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')
code = re.compile(r'`([A-Za-z0-9_./-]+)`')
document = re.compile(r'^(doc/.+|.+\.md|.+/.+\.(1|xml))$')
broken = 0
checked = 0
for name in sorted(files):
    path = os.path.join(root, name)
    here = os.path.dirname(path)
    in_fence = False
    for number, line in enumerate(open(path, encoding='utf-8'), 1):
        if line.lstrip().startswith('```'):
            in_fence = not in_fence
            continue
        targets = []
        if not in_fence:
            targets += [t for t in link.findall(line)
                        if not re.match(r'^[a-z]+:', t) and
                        not t.startswith('#')]
            targets += [t for t in code.findall(line) if document.match(t)]
        for target in targets:
            target = target.split('#')[0]
            checked += 1
            if not (os.path.exists(os.path.join(here, target)) or
                    os.path.exists(os.path.join(root, target))):
                print('check-links: %s:%d: %s does not exist'
                      % (name, number, target))
                broken += 1
if broken:
    sys.exit(1)
print('check-links: %d references in %d files, all resolve'
      % (checked, len(files)))
