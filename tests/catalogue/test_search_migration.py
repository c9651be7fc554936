"""The migration to per-language search documents, on a database that already holds records."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from catalogue.models import CategorySearch, ProductSearch, SearchWord
from catalogue.selectors.terms import CATEGORIES, PRODUCTS, term_page

BEFORE = [("catalogue", "0011_cluster_search")]
AFTER = [("catalogue", "0012_search_analysis")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_records_are_searched_the_new_way_after_the_migration():
    apps = _migrate(BEFORE)
    try:
        category = apps.get_model("catalogue", "Category").objects.create(
            name_en="Valves", name_nl="Kranen", tree_id=1, lft=1, rght=2, level=0
        )
        product = apps.get_model("catalogue", "Product").objects.create(
            name_en="Brass ball valve", name_nl="Messing kogelkraan", sku="BV-1", language="EN"
        )
        apps.get_model("catalogue", "ProductSearch").objects.create(
            product_id=product.pk, text="brass ball valve messing kogelkraan bv 1"
        )
    finally:
        _migrate(AFTER)
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    assert term_page(PRODUCTS, "kraan", "NL", 0, 10) == (1, [product.pk])
    assert term_page(PRODUCTS, "valves", None, 0, 10) == (1, [product.pk])
    assert term_page(CATEGORIES, "kraan", None, 0, 10) == (1, [category.pk])
    assert ProductSearch.objects.count() == CategorySearch.objects.count() == 1
    assert SearchWord.objects.filter(word="kogelkraan").exists()
