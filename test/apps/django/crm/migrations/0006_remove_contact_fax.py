from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0005_alter_types'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='contact',
            name='fax',
        ),
    ]
