from api.schema import bulk_actions
from api.serializers.category import CategoryWrite, category_changes
from api.views.bulk import BulkKey, BulkViewSet, directive_fields
from catalogue.services.category_bulk import category_bulk_delete, category_bulk_upsert


@bulk_actions
class CategoryBulkViewSet(BulkViewSet):
    scope_entity = "category"
    resource = "categories"
    limit = 1000
    keys = {"id": BulkKey(("id",)), "sourceId": BulkKey(("source", "sourceId"))}
    struct = CategoryWrite
    directive_fields = directive_fields({"hidden": "hidden", "priority": "priority"})

    def to_changes(self, item):
        return category_changes(item)

    def run_upsert(self, **kwargs):
        return category_bulk_upsert(**kwargs)

    def run_delete(self, **kwargs):
        return category_bulk_delete(**kwargs)
