import msgspec
from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from msgspec import UNSET, Struct
from rest_framework.decorators import action
from rest_framework.response import Response

from api.envelope import paged, parse_page
from api.exceptions import ApiError
from api.params import parse_expands, response_language
from api.resources.base import RecordReference, localized_array
from api.resources.categories import CATEGORIES_RESOURCE
from api.resources.products import PRODUCTS_RESOURCE
from api.results import item_result, summary
from api.schema import (
    BODY_ERRORS,
    closed_object,
    envelope_responses,
    expands_parameter,
    integer_parameter,
    language_parameter,
    lookup_errors,
    lookup_parameters,
    output_schema,
    page_parameters,
    resource_properties,
    results_responses,
    struct_body,
)
from api.structs import convert
from api.views.base import RecordViewSet
from catalogue import rules
from catalogue.errors import CatalogueError, Code
from catalogue.models import ProductCategory
from catalogue.records import Ref
from catalogue.selectors.categories import category_forest
from catalogue.selectors.products import category_product_page
from catalogue.services.products import (
    PRODUCTS,
    category_add_products,
    category_remove_products,
)

MAX_MEMBERSHIP_ITEMS = 100
LOOKUP = CATEGORIES_RESOURCE.lookup


class MembershipBody(Struct, forbid_unknown_fields=True):
    products: list[RecordReference] = msgspec.field(default_factory=list)
    clusters: list[RecordReference] = msgspec.field(default_factory=list)


def _ref_key(ref: RecordReference) -> tuple[str, object]:
    if ref.id is not UNSET:
        return "id", ref.id
    return "sourceId", None if ref.sourceId is UNSET else ref.sourceId


@output_schema("CategoryProduct")
def category_product_schema() -> dict:
    return closed_object(
        {
            **resource_properties(PRODUCTS_RESOURCE),
            "class": {
                "type": "string",
                "enum": ["product"],
                "description": "What the item is; only products are listed so far.",
            },
            "isPrimary": {
                "type": "boolean",
                "description": "Whether this category is the product's primary category.",
            },
        },
        optional=PRODUCTS_RESOURCE.expanded,
        description="A product of a category, with its membership.",
    )


class CategoryViewSet(RecordViewSet):
    resource = CATEGORIES_RESOURCE
    extra_scopes = {
        "products": ["product.read"],
        "add_products_clusters": ["product.read"],
        "remove_products_clusters": ["product.read"],
    }

    @extend_schema(
        operation_id="categories_children_list",
        summary="List the direct children of a category",
        description="Ordered by priority, then name.",
        parameters=[*lookup_parameters(LOOKUP), *page_parameters(), language_parameter()],
        responses=envelope_responses(
            200,
            "Category",
            envelope="list",
            errors=[*lookup_errors(LOOKUP), Code.SCHEMA_VALIDATION, Code.PAGINATION],
        ),
    )
    @action(detail=True, methods=["get"])
    def children(self, request, key, value):
        language = response_language(request.query_params.get("language"))
        page = parse_page(request.query_params.get("page"), request.query_params.get("offset"))
        parent_id = self.resolve_id(key, value)
        queryset = self.resource.queryset().filter(parent_id=parent_id)
        items_found = queryset.count()
        ordering = ("priority", f"name_{(language or settings.LANGUAGE_CODE).lower()}", "id")
        start = page.first_index
        records = list(queryset.order_by(*ordering)[start : start + page.size])
        return paged(self.resource.present(records, language=language), page, items_found)

    @extend_schema(
        operation_id="categories_tree",
        summary="Read the category forest",
        parameters=[
            integer_parameter("depth", 0, "Levels below the roots to include (0 = roots only)."),
            integer_parameter("rootId", 1, "Only this category and its subtree."),
            language_parameter(),
        ],
        responses=envelope_responses(
            200,
            "CategoryTreeNode",
            envelope="collection",
            errors=[Code.SCHEMA_VALIDATION, Code.CATEGORY_NOT_FOUND],
        ),
    )
    @action(detail=False, methods=["get"])
    def tree(self, request):
        """The whole forest (or one tree) with nested children, from one query."""
        language = response_language(request.query_params.get("language"))
        depth = _optional_int(request.query_params.get("depth"), "depth", minimum=0)
        root_id = _optional_int(request.query_params.get("rootId"), "rootId", minimum=1)
        roots = category_forest(root_id=root_id, depth=depth, language=language)
        data = [_tree_node(node, language) for node in roots]
        return Response({"data": data, "messages": [], "total": len(data)})

    @extend_schema(
        operation_id="categories_products_list",
        summary="List the products of a category",
        description=(
            "Ordered by id; each item carries `class` and `isPrimary` (whether this category is "
            "the product's primary one)."
        ),
        parameters=[
            *lookup_parameters(LOOKUP),
            OpenApiParameter(
                "descendants",
                {"type": "boolean", "default": False},
                OpenApiParameter.QUERY,
                description="Include the products of every category in the subtree.",
            ),
            *page_parameters(),
            language_parameter(),
            expands_parameter(PRODUCTS_RESOURCE.expands),
        ],
        responses=envelope_responses(
            200,
            "CategoryProduct",
            envelope="list",
            errors=[*lookup_errors(LOOKUP), Code.SCHEMA_VALIDATION, Code.PAGINATION],
        ),
    )
    @action(detail=True, methods=["get"])
    def products(self, request, key, value):
        """Products in the category (or its subtree with ?descendants=true), by id."""
        params = request.query_params
        language = response_language(params.get("language"))
        expands = parse_expands(params.get("expands"), PRODUCTS_RESOURCE.expands)
        page = parse_page(params.get("page"), params.get("offset"))
        descendants = params.get("descendants", "false").lower()
        if descendants not in ("true", "false"):
            raise ApiError(Code.SCHEMA_VALIDATION, "descendants: must be true or false")
        category_id = self.resolve_id(key, value)
        # Counted and paged from memberships alone; only the page's products are read.
        items_found, ids = category_product_page(
            [category_id],
            descendants=descendants == "true",
            statuses=None,
            start=page.first_index,
            size=page.size,
        )
        by_id = PRODUCTS_RESOURCE.queryset().in_bulk(ids) if ids else {}
        records = [by_id[pk] for pk in ids if pk in by_id]
        primary = set(
            ProductCategory.objects.filter(
                category_id=category_id, product_id__in=ids, is_primary=True
            ).values_list("product_id", flat=True)
        )
        rows = PRODUCTS_RESOURCE.present(records, language=language, expands=expands)
        for row in rows:
            row["class"] = "product"
            row["isPrimary"] = row["id"] in primary
        return paged(rows, page, items_found)

    @extend_schema(
        operation_id="categories_products_add",
        summary="Add products and clusters to a category",
        description=(
            f"At most {MAX_MEMBERSHIP_ITEMS} references in all, each `{{id}}` or "
            "`{sourceId, source}`. Products join as extra (non-primary) members. One result "
            "per reference, products first: `move` on success, else `error` with 80006 (no "
            "such product), 30004 (already in the category), 10017 (bad or repeated reference) "
            "or 20006 (clusters are not available yet)."
        ),
        request=struct_body(MembershipBody),
        parameters=lookup_parameters(LOOKUP),
        responses=results_responses(errors=[*BODY_ERRORS, *lookup_errors(LOOKUP)]),
    )
    @action(detail=True, methods=["post"], url_path="add-products-clusters")
    def add_products_clusters(self, request, key, value):
        return self._change_members(key, value, category_add_products)

    @extend_schema(
        operation_id="categories_products_remove",
        summary="Remove products and clusters from a category",
        description=(
            f"At most {MAX_MEMBERSHIP_ITEMS} references in all, each `{{id}}` or "
            "`{sourceId, source}`. One result per reference, products first: `move` on "
            "success, else `error` with 80006 (no such product), 30006 (not in the category), "
            "30010 (it is the product's primary category), 10017 (bad or repeated reference) "
            "or 20006 (clusters are not available yet)."
        ),
        request=struct_body(MembershipBody),
        parameters=lookup_parameters(LOOKUP),
        responses=results_responses(errors=[*BODY_ERRORS, *lookup_errors(LOOKUP)]),
    )
    @action(detail=True, methods=["post"], url_path="remove-products-clusters")
    def remove_products_clusters(self, request, key, value):
        return self._change_members(key, value, category_remove_products)

    def _change_members(self, key, value, operation):
        category_id = self.resolve_id(key, value)
        body = convert(self.body(), MembershipBody)
        if len(body.products) + len(body.clusters) > MAX_MEMBERSHIP_ITEMS:
            raise ApiError(
                Code.PAYLOAD_TOO_LARGE,
                f"At most {MAX_MEMBERSHIP_ITEMS} products and clusters per request",
            )
        resolved = _resolve_products(body.products)
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


def _resolve_products(
    refs: list[RecordReference],
) -> list[tuple[int | None, CatalogueError | None]]:
    """Resolve product references in two queries; one (id, error) per reference."""
    domain_refs = []
    for ref in refs:
        if ref.id is not UNSET:
            domain_refs.append(Ref(id=ref.id))
        elif ref.sourceId is UNSET or ref.source is UNSET:
            domain_refs.append(None)
        else:
            domain_refs.append(Ref(source=ref.source, source_id=ref.sourceId))
    found = rules.resolve_refs(PRODUCTS, domain_refs)
    result = []
    for ref in domain_refs:
        if ref is None:
            error = CatalogueError(Code.PAYLOAD_VALIDATION, "give id, or sourceId and source")
            result.append((None, error))
        elif found.get(ref) is None:
            result.append((None, rules.reference_not_found(PRODUCTS, ref)))
        else:
            result.append((found[ref], None))
    return result


def _tree_node(node: dict, language: str | None) -> dict:
    return {
        "id": node["id"],
        "language": node["language"],
        "names": localized_array(node, "name", node["language"], language),
        "slugs": localized_array(node, "slug", node["language"], language),
        "hidden": "Y" if node["hidden"] else "N",
        "priority": node["priority"],
        "level": node["level"],
        "parentId": node["parent_id"],
        "children": [_tree_node(child, language) for child in node["children"]],
    }


def _optional_int(value, name, *, minimum):
    if value in (None, ""):
        return None
    if not (value.isascii() and value.isdigit()) or int(value) < minimum:
        raise ApiError(Code.SCHEMA_VALIDATION, f"{name}: must be an integer >= {minimum}")
    return int(value)
