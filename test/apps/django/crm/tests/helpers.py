"""Shared by the crm_purge Django tests."""
from contextlib import closing

import psycopg2
from django.conf import settings
from django.db import connection

# the trash of each protected table (the trash keeps the name of the table
# it was made for: crm_activity was renamed crm_interaction by 0007)
TRASH = {
    'account': 'crm_trash.public__crm_account',
    'contact': 'crm_trash.public__crm_contact',
    'deal': 'crm_trash.public__crm_deal',
    'interaction': 'crm_trash.public__crm_activity',
    'note': 'crm_trash.public__crm_note',
    'lead': 'crm_trash.public__crm_lead',
}


def query(sql, params=None):
    """Rows of a statement on Django's connection (None if it returns none)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def value(sql, params=None):
    rows = query(sql, params)
    assert rows is not None and len(rows) == 1 and len(rows[0]) == 1, rows
    return rows[0][0]


def trash(kind, ids, columns='deletion_id, deletion_actor, deletion_reason'):
    """Trash rows of the given live ids, ordered by id."""
    return query('SELECT id, %s FROM %s WHERE id = ANY(%%s) ORDER BY id' % (columns, TRASH[kind]),
                 [list(ids)])


def trash_count(kind, deletion_id):
    return value('SELECT count(*) FROM %s WHERE deletion_id = %%s' % TRASH[kind], [deletion_id])


def restorer_connection():
    """A connection as the restoring admin (member of crm_purge_admin, owns
    nothing; SELECT and INSERT on the tables through default privileges)."""
    s = connection.settings_dict
    return psycopg2.connect(host=s['HOST'], port=s['PORT'], dbname=s['NAME'],
                            user=settings.CRM_PURGE_RESTORER)


def restore_deletion(deletion_id, actor=None, reason=None, notices=None):
    """crm_purge_restore_deletion as the restoring admin, in a transaction of
    its own with its actor and reason; returns the rows restored (and adds
    the server's NOTICEs to the list `notices`, if given)."""
    with closing(restorer_connection()) as conn:
        if notices is not None:
            conn.notices = notices
        with conn:   # commits, or rolls back on an exception
            with conn.cursor() as cursor:
                if actor or reason:
                    cursor.execute("SELECT set_config('crm_purge.actor', %s, true), "
                                   "set_config('crm_purge.reason', %s, true)", [actor or '', reason or ''])
                cursor.execute('SELECT crm_purge_restore_deletion(%s)', [deletion_id])
                return cursor.fetchone()[0]


def role_settings():
    """The settings ALTER ROLE gave the current role (any database)."""
    rows = query('SELECT unnest(setconfig) FROM pg_db_role_setting '
                 'WHERE setrole = current_user::regrole AND setdatabase = 0')
    return {r[0] for r in rows}
