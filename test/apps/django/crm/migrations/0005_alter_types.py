from django.db import migrations, models


class Migration(migrations.Migration):
    """integer -> numeric(12,2) (every value converts) and varchar -> integer
    (values in the trash may not convert: crm_purge keeps them aside)."""

    dependencies = [
        ('crm', '0004_rename_deal_title'),
    ]

    operations = [
        migrations.AlterField(
            model_name='deal',
            name='amount',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=12),
        ),
        migrations.AlterField(
            model_name='account',
            name='employees',
            field=models.IntegerField(blank=True, null=True),
        ),
    ]
