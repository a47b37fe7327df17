"""(c) Migrations on protected tables: rows trashed at migration 0002 (right
after crm_purge_protect) stay in the trash through 0003-0007 (add a NOT NULL
column with a default and a foreign key, rename a column, change two column
types, drop a column, rename the table) and are restored, with their links,
into the tables as they are now.

The test database was migrated to the latest state by the test runner; the
test migrates it back to 0002 (running each migration's reverse on the
protected tables, with earlier tests' rows in their trash), creates and
deletes rows with the historical models, and migrates forward again."""
from decimal import Decimal

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import TransactionTestCase

from crm.audit import crm_purge_audit
from crm.models import Account, Contact, Deal, Interaction

from .helpers import TRASH, query, restore_deletion, trash_count, value

PROTECTED_AT = ('crm', '0002_protect')


def trash_columns(kind):
    schema, table = TRASH[kind].split('.')
    return dict(query('SELECT column_name::text, data_type::text FROM information_schema.columns '
                      'WHERE table_schema = %s AND table_name = %s', [schema, table]))


def kept_values(kind, column, key):
    """The non-null values of the trash's other columns named after
    `column` (kept aside when it was dropped or changed type) for one row."""
    others = [c for c in trash_columns(kind) if c.startswith(column) and c != column]
    if not others:
        return []
    row = query('SELECT %s FROM %s WHERE id = %%s' % (', '.join('"%s"::text' % c for c in others), TRASH[kind]),
                [key])
    return [v for v in row[0] if v is not None]


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


class MigrationTests(TransactionTestCase):

    def setUp(self):
        self.latest = MigrationExecutor(connection).loader.graph.leaf_nodes('crm')[0]

    def tearDown(self):
        # whatever happened, leave the schema as the other tests expect it
        migrate(self.latest)

    def test_trash_survives_migrations_and_is_restored(self):
        old = migrate(PROTECTED_AT)
        OldAccount, OldContact = old.get_model('crm', 'Account'), old.get_model('crm', 'Contact')
        OldDeal, OldActivity = old.get_model('crm', 'Deal'), old.get_model('crm', 'Activity')
        acme = OldAccount.objects.create(name='Acme', employees='250')
        tiny = OldAccount.objects.create(name='Tiny', employees='a handful')
        ann = OldContact.objects.create(account=acme, name='Ann', email='ann@acme.example', fax='+1 555 0100')
        bob = OldContact.objects.create(account=tiny, name='Bob')
        renewal = OldDeal.objects.create(account=acme, title='Renewal', amount=1500)
        pilot = OldDeal.objects.create(account=tiny, title='Pilot', amount=20)
        call = OldActivity.objects.create(contact=ann, body='call')
        mail = OldActivity.objects.create(contact=bob, body='mail')
        with crm_purge_audit('ops@example.com', 'before the release'):
            OldAccount.objects.filter(id__in=[acme.id, tiny.id]).delete()
        deletion_id = value('SELECT deletion_id FROM %s WHERE id = %%s' % TRASH['account'], [acme.id])
        self.assertEqual([trash_count(k, deletion_id) for k in ('account', 'contact', 'interaction', 'deal')],
                         [2, 2, 2, 0])

        migrate(self.latest)

        # the trash followed every change
        contact = trash_columns('contact')
        self.assertIn('phone', contact)
        self.assertNotIn('fax', contact)
        # the dropped column's values, under another name (earlier tests'
        # down-and-up migrations left more such columns: one of them has it)
        self.assertEqual(kept_values('contact', 'fax', ann.id), ['+1 555 0100'])
        deal = trash_columns('deal')
        self.assertEqual((deal.get('name'), deal.get('amount'), 'title' in deal), ('character varying', 'numeric', False))
        self.assertIn('contact_id', deal)
        account = trash_columns('account')
        self.assertEqual(account.get('employees'), 'integer')
        # one value did not convert: the column's values are kept under
        # another name, and those that convert go on in the new column
        self.assertEqual(query('SELECT id, employees FROM %s WHERE id = ANY(%%s) ORDER BY id' % TRASH['account'],
                               [[acme.id, tiny.id]]), [(acme.id, 250), (tiny.id, None)])
        self.assertEqual(kept_values('account', 'employees', tiny.id), ['a handful'])
        self.assertEqual(kept_values('account', 'employees', acme.id), ['250'])
        # the renamed table keeps its trash
        self.assertEqual(value('SELECT count(*) FROM %s WHERE id = ANY(%%s)' % TRASH['interaction'],
                               [[call.id, mail.id]]), 2)

        # one restore into today's tables: Acme's 250 converted and comes
        # back; Tiny's 'a handful' did not (it stays aside in the trash column)
        self.assertEqual(restore_deletion(deletion_id, 'admin@example.com', 'after the release'), 6)
        self.assertEqual(list(Account.objects.filter(id__in=[acme.id, tiny.id]).order_by('id')
                              .values_list('name', 'employees')), [('Acme', 250), ('Tiny', None)])
        self.assertEqual(list(Contact.objects.filter(id__in=[ann.id, bob.id]).order_by('id')
                              .values_list('account_id', 'name', 'email', 'phone')),
                         [(acme.id, 'Ann', 'ann@acme.example', ''), (tiny.id, 'Bob', '', '')])
        self.assertEqual(list(Deal.objects.filter(id__in=[renewal.id, pilot.id]).order_by('id')
                              .values_list('account_id', 'contact_id', 'name', 'amount')),
                         [(acme.id, None, 'Renewal', Decimal('1500.00')), (tiny.id, None, 'Pilot', Decimal('20.00'))])
        self.assertEqual(list(Interaction.objects.filter(id__in=[call.id, mail.id]).order_by('id')
                              .values_list('contact_id', 'body')), [(ann.id, 'call'), (bob.id, 'mail')])
        self.assertEqual(sum(trash_count(k, deletion_id) for k in ('account', 'contact', 'interaction')), 0)

    def test_foreign_key_added_by_a_migration_is_relinked(self):
        """Deal.contact came with 0003, after protect: Django's SET_NULL on it
        is remembered and undone like the others (also after the schema went
        back to 0002 and forward again)."""
        migrate(PROTECTED_AT)
        migrate(self.latest)
        acme = Account.objects.create(name='Acme')
        ann = Contact.objects.create(account=acme, name='Ann')
        deal = Deal.objects.create(account=acme, contact=ann, name='Renewal', amount='5.00')
        Interaction.objects.create(contact=ann, body='call')
        with crm_purge_audit('ops@example.com', 'cleanup'):
            Contact.objects.get(pk=ann.pk).delete()
        self.assertIsNone(Deal.objects.get(id=deal.id).contact_id)
        deletion_id = value('SELECT deletion_id FROM %s WHERE id = %%s' % TRASH['contact'], [ann.id])
        self.assertEqual(restore_deletion(deletion_id), 2)
        self.assertEqual(Deal.objects.get(id=deal.id).contact_id, ann.id)
