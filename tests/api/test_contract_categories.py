"""Categories run the shared resource contract (tests/api/contract.py)."""

from api.resources.categories import CATEGORIES_RESOURCE
from tests.api.contract import ResourceContract
from tests.factories import make_categories, make_category


class TestCategoryContract(ResourceContract):
    resource = CATEGORIES_RESOURCE
    sub_list = "/children"
    other_scopes = [["product.read"], ["product.write"], ["cluster.write"]]

    def make_record(self):
        return make_category(
            "Drills",
            names={"DE": "Bohrer", "NL": "Boren"},
            localized={"description": {"EN": "Drilling", "DE": "Bohren"}},
            sources=[("erp", "K-1"), ("pim", "K-2")],
        )

    def make_records(self, count):
        return make_categories([{"name": f"Category {number:02d}"} for number in range(count)])
