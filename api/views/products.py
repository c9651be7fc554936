from api.envelope import paged, parse_page
from api.exceptions import ApiError
from api.filters import ProductFilterSet
from api.lookups import PRODUCT_LOOKUP
from api.serializers.category import category_queryset, present_categories
from api.serializers.product import (
    PLAIN_FIELDS,
    PRODUCT_EXPANDS,
    ProductWrite,
    present_products,
    product_changes,
    product_queryset,
)
from api.serializers.read import response_language
from api.views.base import RecordViewSet, ResourceViewSet
from api.views.bulk import (
    BulkKey,
    build_items,
    directive_fields,
    read_bulk_request,
    results_response,
)
from catalogue.errors import Code
from catalogue.models import ProductCategory
from catalogue.services import product as services
from catalogue.services.product_bulk import product_bulk_delete, product_bulk_upsert


class ProductViewSet(RecordViewSet):
    scope_entity = "product"
    entity = "Product"
    lookup = PRODUCT_LOOKUP
    filterset_class = ProductFilterSet
    expands = PRODUCT_EXPANDS
    write_struct = ProductWrite
    read_actions = ("search",)

    def get_queryset(self):
        return product_queryset()

    def present(self, records, *, language=None, expands=frozenset()):
        return present_products(records, language=language, expands=expands)

    def changes(self, item):
        return product_changes(item)

    def perform_create(self, changes):
        return services.product_create(changes=changes)

    def perform_update(self, record_id, changes, if_match):
        return services.product_update(product_id=record_id, changes=changes, if_match=if_match)

    def perform_destroy(self, record_id, if_match):
        services.product_delete(product_id=record_id, if_match=if_match)

    def perform_remove_translation(self, record_id, language):
        services.product_remove_translation(product_id=record_id, language=language)

    def categories(self, request, key, value):
        """Every category the product is in, the primary one first and marked."""
        language = response_language(request.query_params.get("language"))
        page = parse_page(request.query_params.get("page"), request.query_params.get("offset"))
        product_id = self.resolve_id(key, value)
        links = dict(
            ProductCategory.objects.filter(product_id=product_id).values_list(
                "category_id", "is_primary"
            )
        )
        records = sorted(
            category_queryset().filter(pk__in=links), key=lambda c: (not links[c.pk], c.pk)
        )
        start = page.first_index
        rows = present_categories(records[start : start + page.size], language=language)
        for row in rows:
            row["isPrimary"] = links[row["id"]]
        return paged(rows, page, len(records))


PRODUCT_BULK_KEYS = {
    "id": BulkKey(("id",)),
    "sourceId": BulkKey(("source", "sourceId")),
    "sku": BulkKey(("sku",)),
    "supplierCode": BulkKey(("supplier", "supplierCode")),
}
PRODUCT_BULK_LIMIT = 2000
PRODUCT_DIRECTIVE_FIELDS = directive_fields(
    {**{api: model for api, (model, _) in PLAIN_FIELDS.items()}, "attributes": "attributes"}
)


def _bulk_key(lookup_key: str) -> BulkKey:
    key = PRODUCT_BULK_KEYS.get(lookup_key)
    if key is None:
        raise ApiError(
            Code.INVALID_LOOKUP_KEY,
            f"Lookup key [{lookup_key}] is not supported for product bulk "
            f"(use {', '.join(PRODUCT_BULK_KEYS)})",
        )
    return key


class ProductBulkViewSet(ResourceViewSet):
    scope_entity = "product"

    def upsert(self, request, key):
        bulk_key = _bulk_key(key)
        bulk = read_bulk_request(
            request,
            resource="products",
            limit=PRODUCT_BULK_LIMIT,
            field_names=PRODUCT_DIRECTIVE_FIELDS,
        )
        items = build_items(
            bulk.raw_items,
            lookup_key=key,
            key=bulk_key,
            struct=ProductWrite,
            to_changes=product_changes,
        )
        product_bulk_upsert(
            items=items,
            lookup_key=key,
            directives=bulk.directives,
            dry_run=bulk.dry_run,
            atomic=bulk.atomic,
        )
        return results_response(items, key, bulk.dry_run)

    def delete(self, request, key):
        bulk_key = _bulk_key(key)
        bulk = read_bulk_request(
            request,
            resource="products",
            limit=PRODUCT_BULK_LIMIT,
            field_names={},
            with_directives=False,
        )
        items = build_items(
            bulk.raw_items, lookup_key=key, key=bulk_key, struct=None, to_changes=None
        )
        product_bulk_delete(items=items, lookup_key=key, dry_run=bulk.dry_run, atomic=bulk.atomic)
        return results_response(items, key, bulk.dry_run)
