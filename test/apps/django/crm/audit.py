"""Who deleted, and why: crm_purge records crm_purge.actor and
crm_purge.reason, set for the current transaction only, with every row the
transaction moves to the trash (deletion_actor, deletion_reason) and with
restores in crm_purge_history (app_actor, reason)."""
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections, transaction

SET_AUDIT = ("SELECT set_config('crm_purge.actor', %s, true), "
             "set_config('crm_purge.reason', %s, true)")


def set_audit(actor, reason, using=DEFAULT_DB_ALIAS):
    """Sets actor and reason for the current transaction (must be inside
    transaction.atomic(): in autocommit a local setting ends with its own
    statement)."""
    conn = connections[using]
    if not conn.in_atomic_block:
        raise RuntimeError('crm_purge actor/reason need a transaction: use crm_purge_audit()')
    with conn.cursor() as cursor:
        cursor.execute(SET_AUDIT, [actor or '', reason or ''])


@contextmanager
def crm_purge_audit(actor, reason=None, using=DEFAULT_DB_ALIAS):
    """with crm_purge_audit('jane@example.com', 'customer asked'):
           account.delete()
    One transaction: with crm_purge.deletion_scope = transaction, everything
    it deletes is one deletion, undone by one crm_purge_restore_deletion."""
    with transaction.atomic(using=using):
        set_audit(actor, reason, using)
        yield
