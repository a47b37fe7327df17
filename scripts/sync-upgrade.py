#!/usr/bin/env python3
"""Developers' tool, run from the repository root after changing a function
in sql/ (test/regress/sql/upgrade.sql then checks the result).

Bring crm_purge--1.0--1.1.sql in line with sql/*.sql: every function whose
definition in sql/ differs from its last definition in the upgrade script
(or, when the upgrade script has none, from crm_purge--1.0.sql) is
(re)defined: in place when the upgrade script defines it, else added before
'-- (end of Citus)', followed by the ALTER FUNCTION statements of sql/ for it.
Prints what it changed.  It adds no GRANT or REVOKE, and removes no function
that sql/ no longer has: write those by hand."""
import re, glob
def defs(text):
    out = {}
    pat = re.compile(r'^CREATE (?:OR REPLACE )?FUNCTION (crm_purge\.\w+|\w+)\(([^)]*)\)', re.M)
    for m in pat.finditer(text):
        start = m.start()
        mo = re.compile(r'\$(\w*)\$').search(text, start)
        semi = text.find(';\n', start)
        if mo is None or semi < mo.start():
            end = semi + 2
        else:
            close = text.find(mo.group(0), mo.end())
            end = text.find(';\n', close) + 2
        name = m.group(1)
        # key by name + arg types (names stripped)
        args = re.sub(r'\s+', ' ', m.group(2)).strip()
        out.setdefault(name, []).append((start, end, args))
    return out
def norm(b):
    return re.sub(r'^CREATE (OR REPLACE )?FUNCTION', 'CREATE FUNCTION', b.strip())
src_files = sorted(glob.glob('sql/*.sql'))
src = ''.join(open(f).read() + '\n' for f in src_files)
v10 = open('crm_purge--1.0.sql').read()
up_path = 'crm_purge--1.0--1.1.sql'
up = open(up_path).read()
sd, vd = defs(src), defs(v10)
alters = re.findall(r'^ALTER FUNCTION [^;]*;\n', src, re.M)
changed = []
for name, lst in sd.items():
    for (s, e, args) in lst:
        body = src[s:e]
        ud = [d for d in defs(up).get(name, []) if d[2] == args]
        if ud:
            us, ue, _ = ud[-1]
            if norm(up[us:ue]) != norm(body):
                up = up[:us] + re.sub(r'^CREATE (OR REPLACE )?FUNCTION', 'CREATE OR REPLACE FUNCTION', body) + up[ue:]
                changed.append(name)
        else:
            old = [v10[d[0]:d[1]] for d in vd.get(name, []) if d[2] == args]
            if old and norm(old[-1]) == norm(body):
                continue
            marker = '-- (end of Citus)\n'
            extra = ''.join(a for a in alters if re.search(r'ALTER FUNCTION ' + re.escape(name) + r'\(', a))
            up = up.replace(marker, re.sub(r'^CREATE (OR REPLACE )?FUNCTION', 'CREATE OR REPLACE FUNCTION', body) + extra + '\n' + marker)
            changed.append(name + ' (added)')
open(up_path, 'w').write(up)
print('\n'.join(changed))
