"""(d) TransactionTestCase empties every table between tests with one
TRUNCATE (Django's flush). crm_purge refuses TRUNCATE of a protected table
unless its owner sets crm_purge.allow_truncate; test/apps/run.sh gives the
test role that setting (ALTER ROLE crm_django SET crm_purge.allow_truncate
= on). Every TransactionTestCase of this suite depends on it."""
from contextlib import closing

import psycopg2
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import DatabaseError, connection, transaction
from django.test import TransactionTestCase

from crm.models import Account, Contact, Deal, Interaction, Lead, Note

from .helpers import TRASH, query, restorer_connection, role_settings, value

PROTECTED = ['crm_account', 'crm_contact', 'crm_deal', 'crm_interaction', 'crm_note', 'crm_lead']
QUALIFIED = ['public.' + t for t in PROTECTED]


def truncates():
    """Tables with a 'truncate' in crm_purge_history, and how many."""
    return dict(query('SELECT "table"::text, count(*) FROM crm_purge_history '
                      "WHERE action = 'truncate' GROUP BY 1"))


def trash_rows():
    return {k: value('SELECT count(*) FROM %s' % t) for k, t in TRASH.items()}


class TruncateTests(TransactionTestCase):

    def setUp(self):
        acme = Account.objects.create(name='Acme')
        ann = Contact.objects.create(account=acme, name='Ann')
        Interaction.objects.create(contact=ann, body='call')
        Deal.objects.create(account=acme, name='Renewal')
        Note.objects.create(content_object=acme, text='VIP')
        Lead.objects.create(email='lead@example.com', name='Lead')
        # something in a trash, to see that TRUNCATE leaves it alone
        Lead.objects.create(email='lead2@example.com', name='Lead 2').delete()

    def test_the_tables_are_protected(self):
        protected = {r[0] for r in query("SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                                         "WHERE t.tgname = 'crm_purge_trash'")}
        self.assertEqual(protected, set(PROTECTED))

    def test_allow_truncate_comes_from_the_test_role(self):
        self.assertEqual(value('SHOW crm_purge.allow_truncate'), 'on')
        self.assertIn('crm_purge.allow_truncate=on', role_settings())

    def test_teardown_flush_empties_protected_tables_and_is_recorded(self):
        before_history, before_trash = truncates(), trash_rows()
        # exactly what TransactionTestCase runs after each test
        self._fixture_teardown()
        for model in (Account, Contact, Deal, Interaction, Note, Lead):
            self.assertEqual(model.objects.count(), 0, model.__name__)
        # TRUNCATE bypasses the trash
        self.assertEqual(trash_rows(), before_trash)
        after = truncates()
        for table in QUALIFIED:
            self.assertEqual(after.get(table, 0), before_history.get(table, 0) + 1, table)
        actors = {r[0] for r in query("SELECT actor::text FROM crm_purge_history WHERE action = 'truncate'")}
        self.assertEqual(actors, {'crm_django'})

    def test_manage_py_flush(self):
        call_command('flush', interactive=False, verbosity=0)
        self.assertEqual(Account.objects.count(), 0)
        self.assertEqual(Lead.objects.count(), 0)

    def test_without_allow_truncate_the_flush_is_refused(self):
        statements = connection.ops.sql_flush(no_style(), connection.introspection.django_table_names(
            only_existing=True, include_views=False))
        self.assertTrue(any('TRUNCATE' in s for s in statements))
        with self.assertRaises(DatabaseError) as cm:
            with transaction.atomic():
                query('SET LOCAL crm_purge.allow_truncate = off')
                for sql in statements:
                    query(sql)
        self.assertEqual(cm.exception.__cause__.pgcode, '55000')
        self.assertRegex(str(cm.exception), r'cannot truncate table \S+: it is protected by crm_purge')
        self.assertEqual(Account.objects.count(), 1)
        self.assertEqual(Lead.objects.count(), 1)
        self.assertEqual(value('SHOW crm_purge.allow_truncate'), 'on')

    def test_another_admin_may_not_truncate_even_with_the_privilege(self):
        """allow_truncate is for the table's owner: an admin with TRUNCATE
        privilege and the setting on is still refused by crm_purge."""
        query('GRANT TRUNCATE ON crm_lead TO crm_restorer')
        try:
            with closing(restorer_connection()) as conn:
                with conn.cursor() as cursor:
                    cursor.execute('SET crm_purge.allow_truncate = on')
                    with self.assertRaises(psycopg2.Error) as cm:
                        cursor.execute('TRUNCATE crm_lead')
        finally:
            query('REVOKE TRUNCATE ON crm_lead FROM crm_restorer')
        self.assertEqual(cm.exception.pgcode, '42501')
        self.assertIn('protected by crm_purge', str(cm.exception))
        self.assertEqual(Lead.objects.count(), 1)
