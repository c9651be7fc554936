from django.db import migrations

from catalogue.dbcode import InstallDatabaseCode


class Migration(migrations.Migration):
    """Install the units of database code of the earlier migrations as they are defined now."""

    dependencies = [
        ("catalogue", "0008_category_product_counts"),
    ]

    operations = [
        InstallDatabaseCode(
            "row_counts",
            "hour_counts",
            "membership_status",
            "product_ancestors",
            "category_counts",
            setup=False,
        )
    ]
