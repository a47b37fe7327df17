"""Puts the CRM tables under crm_purge: DELETE goes to the trash, and leads
(re-imported by a sync) are guarded against erased keys in 'error' mode,
the mode for ORMs (see test/apps/README.md). Needs the extension in the
database (a superuser's CREATE EXTENSION, or template1 for test databases)
and a migrating role that owns the tables and is a member of
crm_purge_admin."""
from django.db import migrations

TABLES = ['crm_account', 'crm_contact', 'crm_deal', 'crm_activity', 'crm_note', 'crm_lead']


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0001_initial'),
    ]

    operations = [
        migrations.RunSQL(
            sql=["SELECT crm_purge_protect(%s)" % "'%s'" % t for t in TABLES]
            + ["SELECT crm_purge_guard('crm_lead', 'error')"],
            reverse_sql=["SELECT crm_purge_unprotect(%s, drop_trash => true)" % "'%s'" % t
                         for t in reversed(TABLES)],
        ),
    ]
