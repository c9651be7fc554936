from django.db import migrations

from catalogue.dbcode import UNITS, InstallDatabaseCode


class Migration(migrations.Migration):
    """Install every unit of database code as catalogue/dbcode.py defines it now."""

    dependencies = [
        ("catalogue", "0008_category_product_counts"),
    ]

    operations = [InstallDatabaseCode(*UNITS, setup=False)]
