#!/usr/bin/python3
"""Waits for a crm_purge request to end without polling it: listens to
NOTIFY crm_purge (sent at each status change) on an idle connection and
reads the status only when one arrives.  A poll that runs while a batch
ends counts as an application at work and makes the worker yield
(crm_purge.app_yield), which a benchmark must not cause.
Usage: wait_request.py HOST PORT DB REQUEST_ID; exit 0 on success."""
import select
import sys

import psycopg2

host, port, db, rid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = psycopg2.connect(host=host, port=port, dbname=db)
conn.autocommit = True
cur = conn.cursor()
cur.execute("LISTEN crm_purge")


def status():
    cur.execute("SELECT status FROM crm_purge.requests WHERE id = %s", (rid,))
    return cur.fetchone()[0]


s = status()
waited = 0
while s not in ('success', 'failed', 'cancelled'):
    if select.select([conn], [], [], 30) == ([], [], []):
        waited += 30
        if waited >= 3600:
            sys.exit("request %d did not finish within an hour" % rid)
        s = status()  # a notification cannot be missed, but look now and then
        continue
    conn.poll()
    conn.notifies.clear()
    s = status()
sys.exit(0 if s == 'success' else "request %d ended %s" % (rid, s))
