"""Search documents written again from the records: `manage.py reindex_search`."""

import pytest
from django.core.management import CommandError, call_command

from catalogue.models import CategorySearch, ClusterOptionSearch, ProductSearch, SearchWord
from tests.factories import ls, make_category, make_product

pytestmark = pytest.mark.django_db


def test_documents_lost_or_stale_are_written_again(capsys):
    product = make_product("Stroomkabel", sku="SK-1")
    category = make_category("Kabels")
    written = ProductSearch.objects.get(pk=product.pk).vector
    ProductSearch.objects.filter(pk=product.pk).update(vector="")
    CategorySearch.objects.all().delete()
    SearchWord.objects.all().delete()

    call_command("reindex_search")

    assert ProductSearch.objects.get(pk=product.pk).vector == written
    assert CategorySearch.objects.filter(pk=category.pk).exists()
    assert SearchWord.objects.filter(word="stroomkabel").exists()
    assert capsys.readouterr().out.splitlines() == [
        "products: 1 search documents rewritten",
        "clusters: 0 search documents rewritten",
        "options: 0 search documents rewritten",
        "categories: 1 search documents rewritten",
    ]


def test_documents_as_written_are_left_alone(capsys):
    make_product("Valve", names=ls(EN="Valve", NL="Kraan"))

    call_command("reindex_search", "products")

    assert capsys.readouterr().out == "products: 0 search documents rewritten\n"
    assert not ClusterOptionSearch.objects.exists()


def test_an_unknown_kind_is_refused():
    with pytest.raises(CommandError, match="Unknown kind valves: choose from products, "):
        call_command("reindex_search", "valves")
