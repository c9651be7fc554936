"""Products run the shared resource contract (tests/api/contract.py)."""

from api.resources.products import PRODUCTS_RESOURCE
from catalogue.models import ProductCategory, ProductSearch, SearchWord
from tests.api.contract import ResourceContract
from tests.factories import ls, make_product, make_products


class TestProductContract(ResourceContract):
    resource = PRODUCTS_RESOURCE
    sub_list = "/categories"
    other_scopes = [["category.read"], ["category.write"], ["cluster.write"]]

    def make_record(self):
        return make_product(
            None,
            names=ls(EN="Brass valve", DE="Messingventil", NL="Messing klep"),
            descriptions=ls(DE="Aus Messing"),
            sku="BV-100",
            supplier="Acme",
            supplierCode="AC-100",
            sources=[{"source": "erp", "sourceId": "K-1"}, {"source": "pim", "sourceId": "K-2"}],
        )

    def make_records(self, count):
        return make_products([{"name": f"Item {number:02d}"} for number in range(count)])

    def extra_lookups(self, record):
        return [("sku", "BV-100", {}), ("supplierCode", "AC-100", {"supplier": "Acme"})]

    def missing_lookups(self):
        return [
            ("sku", "NOPE", {}, "Product with sku [NOPE]"),
            ("sku", "bv-100", {}, "Product with sku [bv-100]"),
            (
                "supplierCode",
                "AC-100",
                {"supplier": "Other"},
                "Product with supplierCode [AC-100] and supplier [Other]",
            ),
        ]

    def snapshot(self):
        return (
            super().snapshot(),
            list(ProductCategory.objects.order_by("pk").values()),
            list(ProductSearch.objects.order_by("pk").values("product_id", "vector")),
            list(SearchWord.objects.order_by("word").values_list("word", flat=True)),
        )
