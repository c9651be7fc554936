"""The products (and clusters) of a category: listing, adding and removing."""

from typing import Annotated

import msgspec
from drf_spectacular.utils import OpenApiParameter, extend_schema
from msgspec import UNSET, Meta, Struct, UnsetType
from rest_framework.response import Response

from api.envelope import paged, parse_page
from api.exceptions import ApiError
from api.lookups import CATEGORY_LOOKUP
from api.results import item_result, summary
from api.schema import (
    BODY_ERRORS,
    LOOKUP_ERRORS,
    envelope_responses,
    expands_parameter,
    language_parameter,
    lookup_parameters,
    page_parameters,
    results_responses,
    struct_body,
)
from api.serializers.common import convert
from api.serializers.product import PRODUCT_EXPANDS, present_products, product_queryset
from api.serializers.read import parse_expands, response_language
from api.views.base import ResourceViewSet
from catalogue.errors import CatalogueError, Code
from catalogue.models import Category, ProductCategory, ProductSource
from catalogue.selectors.categories import subtree_filter
from catalogue.selectors.products import category_product_page
from catalogue.services.product import category_add_products, category_remove_products

MAX_ITEMS = 100
Ref = Annotated[str, Meta(min_length=1, max_length=255)]


class RecordRef(Struct, forbid_unknown_fields=True):
    id: int | UnsetType = UNSET
    source: Ref | UnsetType = UNSET
    sourceId: Ref | UnsetType = UNSET


class MembershipBody(Struct, forbid_unknown_fields=True):
    products: list[RecordRef] = msgspec.field(default_factory=list)
    clusters: list[RecordRef] = msgspec.field(default_factory=list)


def _ref_key(ref: RecordRef) -> tuple[str, object]:
    if ref.id is not UNSET:
        return "id", ref.id
    return "sourceId", None if ref.sourceId is UNSET else ref.sourceId


def resolve_product_refs(refs: list[RecordRef]) -> list[tuple[int | None, CatalogueError | None]]:
    """Resolve product references in two queries; one (id, error) per reference."""
    ids = {ref.id for ref in refs if ref.id is not UNSET}
    pairs = {(ref.source, ref.sourceId) for ref in refs if ref.id is UNSET}
    from catalogue.models import Product

    known_ids = set(Product.objects.filter(pk__in=ids).values_list("pk", flat=True))
    by_pair = {}
    if pairs:
        sources = {source for source, _ in pairs if source is not UNSET}
        rows = ProductSource.objects.filter(
            source__in=sources, source_id__in=[sid for _, sid in pairs]
        ).values_list("source", "source_id", "owner_id")
        by_pair = {(source, source_id): owner for source, source_id, owner in rows}
    result = []
    for ref in refs:
        if ref.id is not UNSET:
            found = ref.id if ref.id in known_ids else None
            described = f"id [{ref.id}]"
        elif ref.sourceId is UNSET or ref.source is UNSET:
            result.append(
                (None, CatalogueError(Code.PAYLOAD_VALIDATION, "give id, or sourceId and source"))
            )
            continue
        else:
            found = by_pair.get((ref.source, ref.sourceId))
            described = f"sourceId [{ref.sourceId}] and source [{ref.source}]"
        error = (
            None
            if found
            else CatalogueError(Code.PRODUCT_NOT_FOUND, f"Product with {described} not found")
        )
        result.append((found, error))
    return result


class CategoryProductsViewSet(ResourceViewSet):
    scope_entity = "category"
    extra_scopes = {
        "products": ["product.read"],
        "add": ["product.read"],
        "remove": ["product.read"],
    }

    @extend_schema(
        operation_id="categories_products_list",
        summary="List the products of a category",
        description=(
            "Ordered by id; each item carries `class` and `isPrimary` (whether this category is "
            "the product's primary one)."
        ),
        parameters=[
            *lookup_parameters(CATEGORY_LOOKUP),
            OpenApiParameter(
                "descendants",
                {"type": "boolean", "default": False},
                OpenApiParameter.QUERY,
                description="Include the products of every category in the subtree.",
            ),
            *page_parameters(),
            language_parameter(),
            expands_parameter(PRODUCT_EXPANDS),
        ],
        responses=envelope_responses(
            200,
            "CategoryProduct",
            envelope="list",
            errors=[
                *LOOKUP_ERRORS,
                Code.SCHEMA_VALIDATION,
                Code.PAGINATION,
                Code.CATEGORY_NOT_FOUND,
            ],
        ),
    )
    def products(self, request, key, value):
        """Products in the category (or its subtree with ?descendants=true), by id."""
        params = request.query_params
        language = response_language(params.get("language"))
        expands = parse_expands(
            params.get("expands"), {"categories", "parent", "cluster", "sources"}
        )
        page = parse_page(params.get("page"), params.get("offset"))
        descendants = params.get("descendants", "false").lower()
        if descendants not in ("true", "false"):
            raise ApiError(Code.SCHEMA_VALIDATION, "descendants: must be true or false")
        category_id = CATEGORY_LOOKUP.resolve_id(Category.objects, key, value, params)
        if descendants == "true":
            links = ProductCategory.objects.filter(
                subtree_filter([category_id], prefix="category__")
            )
        else:
            links = ProductCategory.objects.filter(category_id=category_id)
        # Counted and paged from memberships alone; only the page's products are read.
        items_found, ids = category_product_page(
            [category_id],
            descendants=descendants == "true",
            statuses=None,
            start=page.first_index,
            size=page.size,
        )
        by_id = product_queryset().in_bulk(ids) if ids else {}
        records = [by_id[pk] for pk in ids if pk in by_id]
        primary = set(
            links.filter(product_id__in=ids, is_primary=True).values_list("product_id", flat=True)
        )
        rows = present_products(records, language=language, expands=expands)
        for row in rows:
            row["class"] = "product"
            row["isPrimary"] = row["id"] in primary
        return paged(rows, page, items_found)

    @extend_schema(
        operation_id="categories_products_add",
        summary="Add products and clusters to a category",
        description=(
            f"At most {MAX_ITEMS} references in all, each `{{id}}` or `{{sourceId, source}}`. "
            "Products join as extra (non-primary) members. One result per reference, products "
            "first: `move` on success, else `error` with 80006 (no such product), 30004 (already "
            "in the category), 10017 (bad or repeated reference) or 20006 (clusters are not "
            "available yet)."
        ),
        request=struct_body(MembershipBody),
        parameters=lookup_parameters(CATEGORY_LOOKUP),
        responses=results_responses(errors=[*BODY_ERRORS, *LOOKUP_ERRORS, Code.CATEGORY_NOT_FOUND]),
    )
    def add(self, request, key, value):
        return self._change(key, value, category_add_products)

    @extend_schema(
        operation_id="categories_products_remove",
        summary="Remove products and clusters from a category",
        description=(
            f"At most {MAX_ITEMS} references in all, each `{{id}}` or `{{sourceId, source}}`. "
            "One result per reference, products first: `move` on success, else `error` with "
            "80006 (no such product), 30006 (not in the category), 30010 (it is the product's "
            "primary category), 10017 (bad or repeated reference) or 20006 (clusters are not "
            "available yet)."
        ),
        request=struct_body(MembershipBody),
        parameters=lookup_parameters(CATEGORY_LOOKUP),
        responses=results_responses(errors=[*BODY_ERRORS, *LOOKUP_ERRORS, Code.CATEGORY_NOT_FOUND]),
    )
    def remove(self, request, key, value):
        return self._change(key, value, category_remove_products)

    def _change(self, key, value, operation):
        category_id = CATEGORY_LOOKUP.resolve_id(
            Category.objects, key, value, self.request.query_params
        )
        body = convert(self.body(), MembershipBody)
        if len(body.products) + len(body.clusters) > MAX_ITEMS:
            raise ApiError(
                Code.PAYLOAD_TOO_LARGE, f"At most {MAX_ITEMS} products and clusters per request"
            )
        resolved = resolve_product_refs(body.products)
        found = [product_id for product_id, error in resolved if error is None]
        outcomes = operation(category_id=category_id, product_ids=list(dict.fromkeys(found)))
        results = []
        seen = set()
        for index, (ref, (product_id, error)) in enumerate(
            zip(body.products, resolved, strict=True)
        ):
            lookup_key, ref_value = _ref_key(ref)
            if error is None and product_id in seen:
                error = CatalogueError(
                    Code.PAYLOAD_VALIDATION, f"Product with id [{product_id}] is named twice"
                )
            elif error is None:
                seen.add(product_id)
                error = outcomes.get(product_id)
            results.append(
                item_result(
                    index,
                    "move",
                    record_id=product_id,
                    key=ref_value,
                    lookup_key=lookup_key,
                    error=error,
                    **{"class": "product"},
                )
            )
        for index, ref in enumerate(body.clusters):
            lookup_key, ref_value = _ref_key(ref)
            error = CatalogueError(
                Code.CLUSTER_NOT_FOUND, f"Cluster with {lookup_key} [{ref_value}] not found"
            )
            results.append(
                item_result(
                    index,
                    "move",
                    record_id=None,
                    key=ref_value,
                    lookup_key=lookup_key,
                    error=error,
                    **{"class": "cluster"},
                )
            )
        return Response({"data": results, "messages": [summary(results)]})
