from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    """Adds a NOT NULL column with a default (Django adds it with the default
    and drops the default afterwards) and a new foreign key (SET_NULL in the
    application) to protected tables."""

    dependencies = [
        ('crm', '0002_protect'),
    ]

    operations = [
        migrations.AddField(
            model_name='contact',
            name='phone',
            field=models.CharField(default='', max_length=30),
        ),
        migrations.AddField(
            model_name='deal',
            name='contact',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='deals', to='crm.contact'),
        ),
    ]
