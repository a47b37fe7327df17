from django.db import migrations


class Migration(migrations.Migration):
    """ALTER TABLE crm_activity RENAME TO crm_interaction: the trash keeps its
    name (crm_trash.public__crm_activity)."""

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('crm', '0006_remove_contact_fax'),
    ]

    operations = [
        migrations.RenameModel(
            old_name='Activity',
            new_name='Interaction',
        ),
    ]
