import orjson
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action

from api.envelope import paged, parse_page
from api.export import export_sql_response
from api.filters import apply_search, cleaned_filters, params_from_query
from api.params import parse_expands, response_language
from api.resources.categories import CATEGORIES_RESOURCE
from api.resources.products import PRODUCTS_RESOURCE
from api.schema import (
    array_of,
    closed_object,
    envelope_responses,
    language_parameter,
    lookup_errors,
    lookup_parameters,
    output_schema,
    page_parameters,
    ref,
    resource_properties,
)
from api.views.base import RecordViewSet
from catalogue.errors import Code
from catalogue.models import Product, ProductCategory
from catalogue.selectors.products import product_page


@output_schema("AssignedCategory")
def assigned_category_schema() -> dict:
    properties = resource_properties(CATEGORIES_RESOURCE)
    del properties["children"]
    return closed_object(
        {
            **properties,
            "parent": {
                "oneOf": [ref("IdReference"), {"type": "null"}],
                "description": "`{id}` of the parent, null for a root.",
            },
            "path": array_of({"type": "integer"}, "Ancestor ids, root-first."),
            "isPrimary": {
                "type": "boolean",
                "description": "Whether this is the product's primary category.",
            },
        },
        description="A category a product is in; listed primary first.",
    )


class ProductViewSet(RecordViewSet):
    resource = PRODUCTS_RESOURCE

    def page_ids(self, params):
        """Common searches are counted and paged from structures made for them; the rest,
        and every other order, through the general query."""
        filterset = self.resource.filterset

        def ordered_ids(start: int, size: int) -> list[int]:
            queryset = apply_search(Product.objects.all(), params, filterset)
            return list(queryset.values_list("pk", flat=True)[start : start + size])

        page = product_page(
            set(params.filters),
            lambda: cleaned_filters(Product.objects.none(), params, filterset),
            params.sort,
            params.page.first_index,
            params.page.size,
            ordered_ids,
        )
        return page if page is not None else super().page_ids(params)

    def page_rows(self, ids, params):
        if params.expands or not ids:
            return super().page_rows(ids, params)
        # Without expands PostgreSQL builds each product's JSON, as for exports (a test holds
        # the two representations equal); the envelope embeds it as it is.
        by_id = self.resource.json_by_id(ids, params.language)
        return [orjson.Fragment(by_id[pk]) for pk in ids if pk in by_id]

    @action(detail=False, methods=["get"])
    def export(self, request):
        params = params_from_query(
            request.query_params, self.resource.filterset, self.resource.expands
        )
        if params.expands:
            return super().export(request)
        # Without expands PostgreSQL builds each line: an order of magnitude faster.
        filtered = None
        if params.filters:
            filtered = apply_search(Product.objects.all(), params, self.resource.filterset)
        return export_sql_response(self.resource.json_sql(params.language), filtered)

    @extend_schema(
        operation_id="products_categories_list",
        summary="List the categories of a product",
        description="Every category the product is in, the primary one first, with `isPrimary`.",
        parameters=[
            *lookup_parameters(PRODUCTS_RESOURCE.lookup),
            *page_parameters(),
            language_parameter(),
        ],
        responses=envelope_responses(
            200,
            "AssignedCategory",
            envelope="list",
            errors=[
                *lookup_errors(PRODUCTS_RESOURCE.lookup),
                Code.SCHEMA_VALIDATION,
                Code.PAGINATION,
            ],
        ),
    )
    @action(detail=True, methods=["get"])
    def categories(self, request, key, value):
        """Every category the product is in, the primary one first and marked."""
        language = response_language(request.query_params.get("language"))
        parse_expands(request.query_params.get("expands"), ())  # none here: any is unknown
        page = parse_page(request.query_params.get("page"), request.query_params.get("offset"))
        product_id = self.resolve_id(key, value)
        links = dict(
            ProductCategory.objects.filter(product_id=product_id).values_list(
                "category_id", "is_primary"
            )
        )
        records = sorted(
            CATEGORIES_RESOURCE.queryset().filter(pk__in=links),
            key=lambda c: (not links[c.pk], c.pk),
        )
        start = page.first_index
        rows = CATEGORIES_RESOURCE.present(records[start : start + page.size], language=language)
        for row in rows:
            row["isPrimary"] = links[row["id"]]
        return paged(rows, page, len(records))
