import orjson
from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema

from api.envelope import paged, parse_page
from api.export import export_sql_response
from api.filters import (
    ProductFilterSet,
    apply_search,
    cleaned_filters,
    params_from_query,
    with_descendants,
)
from api.lookups import PRODUCT_LOOKUP
from api.schema import (
    BODY_ERRORS,
    IF_MATCH,
    IF_NONE_MATCH,
    LOOKUP_ERRORS,
    bulk_actions,
    envelope_responses,
    etag_header,
    expands_parameter,
    export_responses,
    extend_schema_actions,
    language_parameter,
    list_parameters,
    lookup_parameters,
    page_parameters,
    search_body,
    struct_body,
)
from api.serializers.category import category_queryset, present_categories
from api.serializers.product import (
    PLAIN_FIELDS,
    PRODUCT_EXPANDS,
    ProductWrite,
    present_products,
    product_changes,
    product_queryset,
)
from api.serializers.product_sql import product_json_by_id, product_json_sql
from api.serializers.read import response_language
from api.views.base import RecordViewSet
from api.views.bulk import BulkKey, BulkViewSet, directive_fields
from catalogue.errors import Code
from catalogue.models import Product, ProductCategory
from catalogue.selectors.counts import table_row_count, time_range_count
from catalogue.selectors.products import category_product_page, search_product_page
from catalogue.services import product as services
from catalogue.services.product_bulk import product_bulk_delete, product_bulk_upsert

# Filters answered from category memberships alone, and the date ranges with hour counts.
MEMBERSHIP_FILTERS = {"categoryIds", "categoryDescendants", "statuses"}
DATE_RANGE_FILTERS = (("createdAt", "created_at"), ("lastModifiedAt", "last_modified_at"))


def by_id_only(sort: list[tuple[str, bool]]) -> bool:
    return not sort or [field for field, _ in sort] == ["id"]


# Errors of resolving /products/<lookupKey>/<value>.
PRODUCT_LOOKUP_ERRORS = (
    *LOOKUP_ERRORS,
    Code.PRODUCT_MULTIPLE_FOUND,
    Code.PRODUCT_NOT_FOUND,
)


@extend_schema_actions(
    list=extend_schema(
        operation_id="products_list",
        summary="List products",
        parameters=list_parameters(ProductFilterSet, PRODUCT_EXPANDS),
        responses=envelope_responses(
            200, "Product", envelope="list", errors=[Code.SCHEMA_VALIDATION, Code.PAGINATION]
        ),
    ),
    search=extend_schema(
        operation_id="products_search",
        summary="Search products",
        description="The filters of the list endpoint in a JSON body. Needs the read scope.",
        request=search_body(ProductFilterSet, PRODUCT_EXPANDS, "ProductSearch"),
        responses=envelope_responses(
            200, "Product", envelope="list", errors=[*BODY_ERRORS, Code.PAGINATION]
        ),
    ),
    export=extend_schema(
        operation_id="products_export",
        summary="Export products as NDJSON",
        description=(
            "Every product matching the list filters, one JSON object per line, streamed "
            "in id order: `sort`, `page` and `offset` are checked but do not apply."
        ),
        parameters=list_parameters(ProductFilterSet, PRODUCT_EXPANDS),
        responses=export_responses("Product", errors=[Code.SCHEMA_VALIDATION, Code.PAGINATION]),
    ),
    retrieve=extend_schema(
        operation_id="products_retrieve",
        summary="Read a product",
        parameters=[
            *lookup_parameters(PRODUCT_LOOKUP),
            language_parameter(),
            expands_parameter(PRODUCT_EXPANDS),
            IF_NONE_MATCH,
            etag_header(200, 304),
        ],
        responses=envelope_responses(
            200,
            "Product",
            not_modified=True,
            errors=[*PRODUCT_LOOKUP_ERRORS, Code.SCHEMA_VALIDATION],
        ),
    ),
    create=extend_schema(
        operation_id="products_create",
        summary="Create a product",
        description="`parent` names the primary category; without it the product has none.",
        request=struct_body(ProductWrite),
        parameters=[etag_header(201)],
        responses=envelope_responses(
            201,
            "Product",
            errors=[*BODY_ERRORS, Code.PARENT_CATEGORY_NOT_FOUND, Code.PRODUCT_EXISTS],
        ),
    ),
    partial_update=extend_schema(
        operation_id="products_partial_update",
        summary="Change a product",
        description=(
            "Partial update: fields not sent are left as they are. `parent` replaces the "
            "primary category, `parent: null` removes it."
        ),
        request=struct_body(ProductWrite),
        parameters=[*lookup_parameters(PRODUCT_LOOKUP), IF_MATCH, etag_header(200)],
        responses=envelope_responses(
            200,
            "Product",
            errors=[
                *BODY_ERRORS,
                *PRODUCT_LOOKUP_ERRORS,
                Code.PARENT_CATEGORY_NOT_FOUND,
                Code.PRODUCT_EXISTS,
                Code.PRECONDITION_FAILED,
            ],
        ),
    ),
    destroy=extend_schema(
        operation_id="products_destroy",
        summary="Delete a product",
        description="Removes it from its categories too.",
        parameters=[*lookup_parameters(PRODUCT_LOOKUP), IF_MATCH],
        responses=envelope_responses(
            200, errors=[*PRODUCT_LOOKUP_ERRORS, Code.PRECONDITION_FAILED]
        ),
    ),
    remove_translation=extend_schema(
        operation_id="products_translation_destroy",
        summary="Delete a translation of a product",
        description=(
            "Clears the language in every localized field; the default language cannot be removed."
        ),
        parameters=[
            *lookup_parameters(PRODUCT_LOOKUP),
            OpenApiParameter(
                "language",
                {"type": "string", "enum": settings.CATALOGUE_LANGUAGES},
                OpenApiParameter.PATH,
                description="The language to remove (any case).",
            ),
            IF_MATCH,
        ],
        responses=envelope_responses(
            200,
            errors=[
                *PRODUCT_LOOKUP_ERRORS,
                Code.SCHEMA_VALIDATION,
                Code.TRANSLATION_NOT_FOUND,
                Code.PRECONDITION_FAILED,
            ],
        ),
    ),
)
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

    def page_ids(self, params):
        """Count and page the common searches from structures made for them; the rest, and
        every other order, through the general query."""
        start, size = params.page.first_index, params.page.size
        keys = set(params.filters)
        if not keys:
            # The whole catalogue: read the maintained row count instead of counting a
            # million rows, and walk the order's index to the page.
            return self.counted_page(params, table_row_count(Product))
        term = params.filters.get("term", "")
        if keys == {"term"} and term.strip() and not params.sort:
            # A plain text search is answered from the narrow search table alone.
            return search_product_page(term, start, size)
        if keys <= MEMBERSHIP_FILTERS and "categoryIds" in keys and by_id_only(params.sort):
            cleaned = cleaned_filters(Product.objects.none(), params, self.filterset_class)
            if cleaned["categoryIds"]:
                return category_product_page(
                    [int(pk) for pk in cleaned["categoryIds"]],
                    descendants=with_descendants(params.filters),
                    statuses=cleaned["statuses"],
                    start=start,
                    size=size,
                    descending=bool(params.sort) and params.sort[0][1],
                )
        for prefix, column in DATE_RANGE_FILTERS:
            if keys <= {f"{prefix}From", f"{prefix}To"}:
                # One date range: whole hours are counted from hour counts, not row by row.
                cleaned = cleaned_filters(Product.objects.none(), params, self.filterset_class)
                start_at, end_at = cleaned[f"{prefix}From"], cleaned[f"{prefix}To"]
                return self.counted_page(
                    params, time_range_count(Product, column, start_at, end_at)
                )
        return super().page_ids(params)

    def page_rows(self, ids, params):
        if params.expands or not ids:
            return super().page_rows(ids, params)
        # Without expands PostgreSQL builds each product's JSON, as for exports (a test holds
        # the two representations equal); the envelope embeds it as it is.
        by_id = product_json_by_id(ids, params.language)
        return [orjson.Fragment(by_id[pk]) for pk in ids if pk in by_id]

    def counted_page(self, params, total: int) -> tuple[int, list[int]]:
        start = params.page.first_index
        if start >= total:
            return total, []
        queryset = apply_search(Product.objects.all(), params, self.filterset_class)
        return total, list(queryset.values_list("pk", flat=True)[start : start + params.page.size])

    def export(self, request):
        params = params_from_query(request.query_params, self.filterset_class, self.expands)
        if params.expands:
            return super().export(request)
        # Without expands PostgreSQL builds each line: an order of magnitude faster.
        filtered = None
        if params.filters:
            filtered = apply_search(Product.objects.all(), params, self.filterset_class)
        return export_sql_response(product_json_sql(params.language), filtered)

    def perform_create(self, changes):
        return services.product_create(changes=changes)

    def perform_update(self, record_id, changes, if_match):
        return services.product_update(product_id=record_id, changes=changes, if_match=if_match)

    def perform_destroy(self, record_id, if_match):
        services.product_delete(product_id=record_id, if_match=if_match)

    def perform_remove_translation(self, record_id, language, if_match):
        services.product_remove_translation(
            product_id=record_id, language=language, if_match=if_match
        )

    @extend_schema(
        operation_id="products_categories_list",
        summary="List the categories of a product",
        description="Every category the product is in, the primary one first, with `isPrimary`.",
        parameters=[
            *lookup_parameters(PRODUCT_LOOKUP),
            *page_parameters(),
            language_parameter(),
        ],
        responses=envelope_responses(
            200,
            "AssignedCategory",
            envelope="list",
            errors=[*PRODUCT_LOOKUP_ERRORS, Code.SCHEMA_VALIDATION, Code.PAGINATION],
        ),
    )
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


@bulk_actions
class ProductBulkViewSet(BulkViewSet):
    scope_entity = "product"
    resource = "products"
    limit = 2000
    keys = {
        "id": BulkKey(("id",)),
        "sourceId": BulkKey(("source", "sourceId")),
        "sku": BulkKey(("sku",)),
        "supplierCode": BulkKey(("supplier", "supplierCode")),
    }
    struct = ProductWrite
    directive_fields = directive_fields(
        {**{api: model for api, (model, _) in PLAIN_FIELDS.items()}, "attributes": "attributes"}
    )

    def to_changes(self, item):
        return product_changes(item)

    def run_upsert(self, **kwargs):
        return product_bulk_upsert(**kwargs)

    def run_delete(self, **kwargs):
        return product_bulk_delete(**kwargs)
