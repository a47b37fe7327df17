from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0003_contact_phone_deal_contact'),
    ]

    operations = [
        migrations.RenameField(
            model_name='deal',
            old_name='title',
            new_name='name',
        ),
    ]
