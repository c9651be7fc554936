import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models


def rebuild(apps, schema_editor):
    # The documents of the running code's analysis, for records of every kind. Foreign keys
    # checked as rows arrive: checks left pending until commit would forbid the indexes below.
    from catalogue.services.search import rebuild_search_documents

    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    rebuild_search_documents()


def vector():
    return django.contrib.postgres.search.SearchVectorField(default="")


def search_model(name: str, owner: str, to: str):
    return migrations.CreateModel(
        name=name,
        fields=[
            (
                owner,
                models.OneToOneField(
                    on_delete=django.db.models.deletion.CASCADE,
                    primary_key=True,
                    related_name="search",
                    serialize=False,
                    to=to,
                ),
            ),
            ("vector", vector()),
        ],
    )


def vector_index(model_name: str, name: str):
    return migrations.AddIndex(
        model_name=model_name,
        index=django.contrib.postgres.indexes.GinIndex(fields=["vector"], name=name),
    )


class Migration(migrations.Migration):
    """Search documents by language, with stems (see catalogue/search.py), for products,
    clusters, categories and cluster options.

    The old documents and their indexes go first, the documents are written again from the
    records, and the indexes are built once from them (about three minutes for a million
    products).
    """

    dependencies = [
        ("catalogue", "0011_cluster_search"),
    ]

    operations = [
        # Every document is written again below: emptied first, the tables are written once
        # instead of holding a dead copy of every row.
        migrations.RunSQL(
            "TRUNCATE catalogue_productsearch, catalogue_clustersearch", migrations.RunSQL.noop
        ),
        migrations.RemoveIndex(model_name="productsearch", name="product_search_vector"),
        migrations.RemoveIndex(model_name="clustersearch", name="cluster_search_vector"),
        migrations.RemoveField(model_name="productsearch", name="vector"),
        migrations.RemoveField(model_name="clustersearch", name="vector"),
        migrations.RemoveField(model_name="productsearch", name="text"),
        migrations.RemoveField(model_name="clustersearch", name="text"),
        migrations.AddField(model_name="productsearch", name="vector", field=vector()),
        migrations.AddField(model_name="clustersearch", name="vector", field=vector()),
        search_model("CategorySearch", "category", "catalogue.category"),
        search_model("ClusterOptionSearch", "option", "catalogue.clusteroption"),
        migrations.RunPython(rebuild, migrations.RunPython.noop),
        vector_index("productsearch", "product_search_vector"),
        vector_index("clustersearch", "cluster_search_vector"),
        vector_index("categorysearch", "category_search_vector"),
        vector_index("clusteroptionsearch", "cluster_option_search_vector"),
    ]
