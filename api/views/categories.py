from functools import partial

import msgspec
from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from msgspec import Struct
from rest_framework.decorators import action
from rest_framework.response import Response

from api.auth import require_scopes
from api.envelope import paged, parse_page
from api.exceptions import ApiError
from api.moves import move_results, resolve
from api.params import parse_expands, response_language
from api.resources.base import RecordReference, localized_array
from api.resources.categories import CATEGORIES_RESOURCE
from api.resources.clusters import CLUSTERS_RESOURCE
from api.resources.products import PRODUCTS_RESOURCE
from api.results import summary
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
    ref,
    resource_properties,
    results_responses,
    struct_body,
    with_example,
)
from api.structs import convert
from api.views.base import RecordViewSet
from catalogue.errors import Code
from catalogue.models import ClusterCategory, ProductCategory
from catalogue.selectors.categories import category_forest
from catalogue.selectors.clusters import category_cluster_page
from catalogue.selectors.products import category_product_page
from catalogue.services.clusters import CLUSTER_MEMBERSHIP, CLUSTERS
from catalogue.services.memberships import category_add, category_remove
from catalogue.services.products import PRODUCT_MEMBERSHIP, PRODUCTS

MAX_MEMBERSHIP_ITEMS = 100
LOOKUP = CATEGORIES_RESOURCE.lookup


class MembershipBody(Struct, forbid_unknown_fields=True):
    products: list[RecordReference] = msgspec.field(default_factory=list)
    clusters: list[RecordReference] = msgspec.field(default_factory=list)


@output_schema("CategoryItem")
def category_item_schema() -> dict:
    return {
        "oneOf": [ref("CategoryProduct"), ref("ClusterItem")],
        "description": "A product or a cluster of a category (see `class`).",
    }


@output_schema("CategoryProduct")
def category_product_schema() -> dict:
    return closed_object(
        {
            **resource_properties(PRODUCTS_RESOURCE),
            "class": {
                "type": "string",
                "enum": ["product"],
                "description": "What the item is.",
            },
            "isPrimary": {
                "type": "boolean",
                "description": "Whether this category is the product's primary category.",
            },
        },
        optional=PRODUCTS_RESOURCE.expanded,
        description="A product of a category, with its membership.",
    )


MEMBERSHIP_EXAMPLE = {
    "products": [{"id": 1205}, {"source": "erp", "sourceId": "P-1001"}],
    "clusters": [{"source": "erp", "sourceId": "CL-RUNNER"}],
}
MEMBER_SCOPES = {"product.read": "products", "cluster.read": "clusters"}
MEMBER_SCOPE_NOTE = (
    " Needs product.read too when products are named, cluster.read when clusters are."
)


class CategoryViewSet(RecordViewSet):
    resource = CATEGORIES_RESOURCE
    extra_scopes = {
        "products": ["product.read"],
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
        parse_expands(request.query_params.get("expands"), ())  # none here: any is unknown
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
        parse_expands(request.query_params.get("expands"), ())  # none here: any is unknown
        depth = _optional_int(request.query_params.get("depth"), "depth", minimum=0)
        root_id = _optional_int(request.query_params.get("rootId"), "rootId", minimum=1)
        roots = category_forest(root_id=root_id, depth=depth, language=language)
        data = [_tree_node(node, language) for node in roots]
        return Response({"data": data, "messages": [], "total": len(data)})

    @extend_schema(
        operation_id="categories_products_list",
        summary="List the products of a category",
        description=(
            "Products by id, then clusters by id; each item carries `class` (`product` or "
            "`cluster`) and `isPrimary` (whether this category is its primary one). `expands` "
            "applies to the products."
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
            "CategoryItem",
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
        below = descendants == "true"
        start, size = page.first_index, page.size
        # Products first, then clusters, each by id; counted and paged from memberships alone,
        # and only the page's records are read.
        products_found, product_ids = category_product_page(
            [category_id], descendants=below, statuses=None, start=start, size=size
        )
        cluster_start = max(0, start - products_found)
        clusters_found, cluster_ids = category_cluster_page(
            category_id,
            descendants=below,
            start=cluster_start,
            size=size - len(product_ids),
        )
        rows = self._members(
            PRODUCTS_RESOURCE,
            ProductCategory,
            "product_id",
            category_id,
            product_ids,
            language,
            expands,
        )
        cluster_expands = set()  # clusters inline ids; their products are a request away
        rows += self._members(
            CLUSTERS_RESOURCE,
            ClusterCategory,
            "cluster_id",
            category_id,
            cluster_ids,
            language,
            cluster_expands,
        )
        return paged(rows, page, products_found + clusters_found)

    @staticmethod
    def _members(resource, membership_model, owner, category_id, ids, language, expands):
        by_id = resource.queryset().in_bulk(ids) if ids else {}
        records = [by_id[pk] for pk in ids if pk in by_id]
        primary = (
            set(
                membership_model.objects.filter(
                    category_id=category_id, **{f"{owner}__in": ids}, is_primary=True
                ).values_list(owner, flat=True)
            )
            if ids
            else set()
        )
        rows = resource.present(records, language=language, expands=expands)
        kind = "product" if resource is PRODUCTS_RESOURCE else "cluster"
        for row in rows:
            row["class"] = kind
            row["isPrimary"] = row["id"] in primary
        return rows

    @extend_schema(
        operation_id="categories_products_add",
        summary="Add products and clusters to a category",
        description=(
            f"At most {MAX_MEMBERSHIP_ITEMS} references in all, each `{{id}}` or "
            "`{sourceId, source}`. Products and clusters join as extra (non-primary) members. "
            "One result per reference, products first (each result carries `class`): `move` "
            "on success, else `error` with 80006 / 20006 (no such product / cluster), 30004 "
            "(already in the category) or 10017 (bad or repeated reference)." + MEMBER_SCOPE_NOTE
        ),
        request=with_example(struct_body(MembershipBody), MEMBERSHIP_EXAMPLE),
        parameters=lookup_parameters(LOOKUP),
        responses=results_responses(errors=[*BODY_ERRORS, *lookup_errors(LOOKUP)]),
    )
    @action(detail=True, methods=["post"], url_path="add-products-clusters")
    def add_products_clusters(self, request, key, value):
        return self._change_members(
            key,
            value,
            partial(category_add, PRODUCT_MEMBERSHIP),
            partial(category_add, CLUSTER_MEMBERSHIP),
        )

    @extend_schema(
        operation_id="categories_products_remove",
        summary="Remove products and clusters from a category",
        description=(
            f"At most {MAX_MEMBERSHIP_ITEMS} references in all, each `{{id}}` or "
            "`{sourceId, source}`. One result per reference, products first (each result "
            "carries `class`): `move` on success, else `error` with 80006 / 20006 (no such "
            "product / cluster), 30006 (not in the category), 30010 (it is the primary "
            "category) or 10017 (bad or repeated reference)." + MEMBER_SCOPE_NOTE
        ),
        request=with_example(struct_body(MembershipBody), MEMBERSHIP_EXAMPLE),
        parameters=lookup_parameters(LOOKUP),
        responses=results_responses(errors=[*BODY_ERRORS, *lookup_errors(LOOKUP)]),
    )
    @action(detail=True, methods=["post"], url_path="remove-products-clusters")
    def remove_products_clusters(self, request, key, value):
        return self._change_members(
            key,
            value,
            partial(category_remove, PRODUCT_MEMBERSHIP),
            partial(category_remove, CLUSTER_MEMBERSHIP),
        )

    def _change_members(self, key, value, products_operation, clusters_operation):
        body = convert(self.body(), MembershipBody)
        # Each kind of record named needs its own read scope (products, clusters).
        require_scopes(
            self.request,
            [scope for scope, named in MEMBER_SCOPES.items() if getattr(body, named)],
        )
        category_id = self.resolve_id(key, value)
        if len(body.products) + len(body.clusters) > MAX_MEMBERSHIP_ITEMS:
            raise ApiError(
                Code.PAYLOAD_TOO_LARGE,
                f"At most {MAX_MEMBERSHIP_ITEMS} products and clusters per request",
            )
        results = move_results(
            body.products,
            resolve(PRODUCTS, body.products),
            lambda ids: products_operation(category_id=category_id, record_ids=ids),
            **{"class": "product"},
        )
        results += move_results(
            body.clusters,
            resolve(CLUSTERS, body.clusters),
            lambda ids: clusters_operation(category_id=category_id, record_ids=ids),
            entity="Cluster",
            **{"class": "cluster"},
        )
        return Response({"data": results, "messages": [summary(results)]})


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
