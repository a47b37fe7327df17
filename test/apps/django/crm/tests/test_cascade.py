"""(a) Django's own cascade (Collector: UPDATE ... SET NULL, then DELETEs per
model, in one transaction) with crm_purge.deletion_scope = transaction is one
deletion, undone by one crm_purge_restore_deletion with every link back; the
actor and reason come from crm_purge_audit() or the middleware."""
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client, TransactionTestCase

from crm.audit import crm_purge_audit, set_audit
from crm.models import Account, Contact, Deal, Interaction, Lead, Note

from .helpers import TRASH, query, restore_deletion, role_settings, trash, trash_count, value

MODELS = [Account, Contact, Deal, Interaction, Note, Lead]


def snapshot():
    """Every row of every CRM model, every column (links included)."""
    return {m.__name__: list(m.objects.order_by('id').values()) for m in MODELS}


class CascadeDeleteRestoreTests(TransactionTestCase):

    def setUp(self):
        self.acme = Account.objects.create(name='Acme', employees=40)
        self.other = Account.objects.create(name='Other Inc', employees=7)
        self.ann = Contact.objects.create(account=self.acme, name='Ann', email='ann@acme.example', phone='+1 555 0101')
        self.bob = Contact.objects.create(account=self.acme, name='Bob', email='bob@acme.example')
        self.cyd = Contact.objects.create(account=self.other, name='Cyd', email='cyd@other.example')
        self.interactions = [Interaction.objects.create(contact=c, body='%s: call %d' % (c.name, i))
                             for c in (self.ann, self.bob) for i in range(2)]
        self.other_interaction = Interaction.objects.create(contact=self.cyd, body='Cyd: meeting')
        # deals: two on Acme (unlinked by SET_NULL), one on the other account
        # but with Acme's Bob, one with Ann only (their contacts are unlinked)
        self.d1 = Deal.objects.create(account=self.acme, name='Renewal', amount='1500.00')
        self.d2 = Deal.objects.create(account=self.acme, name='Upsell', amount='99.50')
        self.d3 = Deal.objects.create(account=self.other, contact=self.bob, name='Referral', amount='10.00')
        self.d4 = Deal.objects.create(contact=self.ann, name='Intro', amount='0.00')
        self.notes = [Note.objects.create(content_object=self.acme, text='VIP'),
                      Note.objects.create(content_object=self.acme, text='pays late')]
        self.other_note = Note.objects.create(content_object=self.other, text='new')
        self.acme_ids = {
            'account': [self.acme.id],
            'contact': [self.ann.id, self.bob.id],
            'interaction': [i.id for i in self.interactions],
            'note': [n.id for n in self.notes],
        }

    def deletion_ids(self):
        """Distinct deletion ids of the trashed rows of Acme's cascade."""
        ids = set()
        for kind, keys in self.acme_ids.items():
            ids |= {r[1] for r in trash(kind, keys)}
        return ids

    def test_deletion_scope_transaction_comes_from_the_role(self):
        self.assertEqual(value('SHOW crm_purge.deletion_scope'), 'transaction')
        self.assertIn('crm_purge.deletion_scope=transaction', role_settings())

    def test_account_delete_is_one_deletion_restored_by_one_call(self):
        before = snapshot()
        with crm_purge_audit('jane@example.com', 'customer closed the account'):
            # (a fresh instance: delete() clears the pk of the one it deletes)
            deleted, per_model = Account.objects.get(pk=self.acme.pk).delete()
        self.assertEqual(per_model, {'crm.Interaction': 4, 'crm.Contact': 2, 'crm.Note': 2, 'crm.Account': 1})
        self.assertEqual(deleted, 9)

        # live: Acme's rows gone, the deals unlinked by Django's SET_NULL
        self.assertFalse(Account.objects.filter(id=self.acme.id).exists())
        self.assertEqual(Contact.objects.filter(account_id=self.acme.id).count(), 0)
        self.assertEqual(list(Deal.objects.order_by('id').values_list('id', 'account_id', 'contact_id')),
                         [(self.d1.id, None, None), (self.d2.id, None, None), (self.d3.id, self.other.id, None),
                          (self.d4.id, None, None)])

        # the trash: every row under one deletion id, with actor and reason
        (deletion_id,) = self.deletion_ids()
        for kind, keys in self.acme_ids.items():
            rows = trash(kind, keys)
            self.assertEqual([r[0] for r in rows], sorted(keys), kind)
            self.assertEqual({(r[2], r[3]) for r in rows}, {('jane@example.com', 'customer closed the account')}, kind)
            self.assertEqual(trash_count(kind, deletion_id), len(keys), kind)
        self.assertEqual(value('SELECT deleted_by::text FROM %s WHERE id = %%s' % TRASH['account'], [self.acme.id]),
                         'crm_django')
        # the deal was unlinked, not deleted
        self.assertEqual(trash_count('deal', deletion_id), 0)
        # the settings were local to the transaction
        self.assertIn(value("SELECT current_setting('crm_purge.actor', true)"), ('', None))

        # one call, as an admin who owns nothing, brings back every row and link
        restored = restore_deletion(deletion_id, 'admin@example.com', 'deleted by mistake')
        self.assertEqual(restored, 9)
        self.assertEqual(snapshot(), before)
        self.assertEqual(self.deletion_ids(), set())
        for kind in self.acme_ids:
            self.assertEqual(trash_count(kind, deletion_id), 0)

        # history: who restored, for whom and why, per table
        history = query('SELECT "table"::text, rows, actor::text, app_actor, reason FROM crm_purge_history '
                        "WHERE action = 'restore' AND deletion_id = %s ORDER BY 1", [deletion_id])
        self.assertEqual(history, [
            ('public.crm_account', 1, 'crm_restorer', 'admin@example.com', 'deleted by mistake'),
            ('public.crm_contact', 2, 'crm_restorer', 'admin@example.com', 'deleted by mistake'),
            ('public.crm_interaction', 4, 'crm_restorer', 'admin@example.com', 'deleted by mistake'),
            ('public.crm_note', 2, 'crm_restorer', 'admin@example.com', 'deleted by mistake'),
        ])

    def test_statement_scope_needs_one_restore_per_statement(self):
        """The default scope, for contrast: each of Django's DELETEs is a
        deletion of its own, and the account's restore brings back only the
        account (and the deals it unlinked)."""
        before = snapshot()
        with transaction.atomic():
            query('SET LOCAL crm_purge.deletion_scope = statement')
            set_audit('jane@example.com', 'statement scope')
            Account.objects.get(pk=self.acme.pk).delete()
        ids = self.deletion_ids()
        # interactions, notes, contacts, account: four DELETE statements
        self.assertEqual(len(ids), 4, ids)
        account_deletion = trash('account', self.acme_ids['account'])[0][1]
        contact_deletion = trash('contact', self.acme_ids['contact'])[0][1]
        self.assertEqual(restore_deletion(account_deletion), 1)
        self.assertTrue(Account.objects.filter(id=self.acme.id).exists())
        self.assertEqual(Contact.objects.filter(account_id=self.acme.id).count(), 0)
        # the accounts' unlinks went with the account's deletion, the
        # contacts' with the contacts'
        self.assertEqual(list(Deal.objects.order_by('id').values_list('account_id', 'contact_id')),
                         [(self.acme.id, None), (self.acme.id, None), (self.other.id, None), (None, None)])
        self.assertEqual(restore_deletion(contact_deletion), 2)
        self.assertEqual(list(Deal.objects.order_by('id').values_list('contact_id', flat=True)),
                         [None, None, self.bob.id, self.ann.id])
        self.assertEqual(restore_deletion(trash('interaction', self.acme_ids['interaction'])[0][1]), 4)
        self.assertEqual(restore_deletion(trash('note', self.acme_ids['note'])[0][1]), 2)
        self.assertEqual(snapshot(), before)


class TwoUnlinksTests(TransactionTestCase):

    def test_deal_unlinked_from_account_and_contact_gets_both_links_back(self):
        """Django unlinks a deal of the deleted account that also points to
        one of its contacts with two UPDATEs of the same row (account_id,
        then contact_id) in the same transaction: one restore links both
        back (the second relink once failed on a deferred key check)."""
        acme = Account.objects.create(name='Acme')
        ann = Contact.objects.create(account=acme, name='Ann')
        deal = Deal.objects.create(account=acme, contact=ann, name='Renewal', amount='10.00')
        with crm_purge_audit('jane@example.com', 'two links'):
            Account.objects.get(pk=acme.pk).delete()
        self.assertEqual(Deal.objects.filter(id=deal.id).values_list('account_id', 'contact_id').get(), (None, None))
        deletion_id = trash('account', [acme.id])[0][1]
        notices = []
        self.assertEqual(restore_deletion(deletion_id, notices=notices), 2)
        self.assertEqual(Deal.objects.filter(id=deal.id).values_list('account_id', 'contact_id').get(),
                         (acme.id, ann.id), 'crm_purge_restore_deletion said: %r' % notices)


class MiddlewareTests(TransactionTestCase):

    def setUp(self):
        self.acme = Account.objects.create(name='Acme')
        self.ann = Contact.objects.create(account=self.acme, name='Ann')
        self.call = Interaction.objects.create(contact=self.ann, body='call')
        self.deal = Deal.objects.create(account=self.acme, name='Renewal')
        self.intro = Deal.objects.create(contact=self.ann, name='Intro')
        self.jane = User.objects.create_user('jane', 'jane@example.com', 'secret')

    def test_request_records_user_and_reason(self):
        client = Client()
        client.force_login(self.jane)
        response = client.post('/accounts/%d/delete/' % self.acme.id, HTTP_X_CRM_REASON='ticket 4711')
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()['deleted'], 3)
        rows = trash('account', [self.acme.id]) + trash('contact', [self.ann.id]) + trash('interaction', [self.call.id])
        self.assertEqual(len(rows), 3)
        self.assertEqual({r[1:] for r in rows}, {(rows[0][1], 'jane', 'ticket 4711')})
        # nothing leaks into the next transaction on the same connection
        self.assertIn(value("SELECT current_setting('crm_purge.actor', true)"), ('', None))
        self.assertIn(value("SELECT current_setting('crm_purge.reason', true)"), ('', None))
        # and it is undone in one call
        self.assertEqual(restore_deletion(rows[0][1]), 3)
        self.assertEqual(Deal.objects.get(id=self.deal.id).account_id, self.acme.id)
        self.assertEqual(Deal.objects.get(id=self.intro.id).contact_id, self.ann.id)

    def test_default_reason_is_method_and_path(self):
        client = Client()   # not signed in
        response = client.post('/accounts/%d/delete/' % self.acme.id)
        self.assertEqual(response.status_code, 200)
        (row,) = trash('account', [self.acme.id])
        self.assertEqual(row[2:], ('anonymous', 'POST /accounts/%d/delete/' % self.acme.id))

    def test_failed_request_is_rolled_back(self):
        client = Client(raise_request_exception=False)
        client.force_login(self.jane)
        response = client.post('/accounts/%d/delete/?fail=1' % self.acme.id)
        self.assertEqual(response.status_code, 500)
        self.assertTrue(Account.objects.filter(id=self.acme.id).exists())
        self.assertEqual(Deal.objects.get(id=self.deal.id).account_id, self.acme.id)
        self.assertEqual(trash('account', [self.acme.id]), [])
        self.assertEqual(trash('contact', [self.ann.id]), [])

    def test_set_audit_outside_a_transaction_is_refused(self):
        with self.assertRaises(RuntimeError):
            set_audit('jane', 'no transaction')
