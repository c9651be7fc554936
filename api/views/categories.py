from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from api.envelope import paged, parse_page
from api.exceptions import ApiError
from api.filters import CategoryFilterSet
from api.lookups import CATEGORY_LOOKUP
from api.schema import (
    BODY_ERRORS,
    IF_MATCH,
    IF_NONE_MATCH,
    LOOKUP_ERRORS,
    envelope_responses,
    etag_header,
    expands_parameter,
    export_responses,
    extend_schema_actions,
    integer_parameter,
    language_parameter,
    list_parameters,
    lookup_parameters,
    page_parameters,
    search_body,
    struct_body,
)
from api.serializers.category import (
    CATEGORY_EXPANDS,
    CategoryWrite,
    category_changes,
    category_queryset,
    present_categories,
)
from api.serializers.read import localized_array, response_language
from api.views.base import RecordViewSet
from catalogue.errors import Code
from catalogue.models import Category
from catalogue.services import category as services


@extend_schema_actions(
    list=extend_schema(
        operation_id="categories_list",
        summary="List categories",
        parameters=list_parameters(CategoryFilterSet, CATEGORY_EXPANDS),
        responses=envelope_responses(
            200,
            "Category",
            envelope="list",
            errors=[Code.SCHEMA_VALIDATION, Code.PAGINATION],
        ),
    ),
    search=extend_schema(
        operation_id="categories_search",
        summary="Search categories",
        description="The filters of the list endpoint in a JSON body. Needs the read scope.",
        request=search_body(CategoryFilterSet, CATEGORY_EXPANDS, "CategorySearch"),
        responses=envelope_responses(
            200, "Category", envelope="list", errors=[*BODY_ERRORS, Code.PAGINATION]
        ),
    ),
    export=extend_schema(
        operation_id="categories_export",
        summary="Export categories as NDJSON",
        description=(
            "Every category matching the list filters, one JSON object per line, streamed "
            "in id order: `sort`, `page` and `offset` are checked but do not apply."
        ),
        parameters=list_parameters(CategoryFilterSet, CATEGORY_EXPANDS),
        responses=export_responses("Category", errors=[Code.SCHEMA_VALIDATION, Code.PAGINATION]),
    ),
    retrieve=extend_schema(
        operation_id="categories_retrieve",
        summary="Read a category",
        parameters=[
            *lookup_parameters(CATEGORY_LOOKUP),
            language_parameter(),
            expands_parameter(CATEGORY_EXPANDS),
            IF_NONE_MATCH,
            etag_header(200, 304),
        ],
        responses=envelope_responses(
            200,
            "Category",
            not_modified=True,
            errors=[*LOOKUP_ERRORS, Code.SCHEMA_VALIDATION, Code.CATEGORY_NOT_FOUND],
        ),
    ),
    create=extend_schema(
        operation_id="categories_create",
        summary="Create a category",
        description="Without `parent` the category is a root.",
        request=struct_body(CategoryWrite),
        parameters=[etag_header(201)],
        responses=envelope_responses(
            201,
            "Category",
            errors=[*BODY_ERRORS, Code.PARENT_CATEGORY_NOT_FOUND, Code.CATEGORY_EXISTS],
        ),
    ),
    partial_update=extend_schema(
        operation_id="categories_partial_update",
        summary="Change a category",
        description=(
            "Partial update. A new `parent` moves the whole subtree; `parent: null` makes it "
            "a root."
        ),
        request=struct_body(CategoryWrite),
        parameters=[*lookup_parameters(CATEGORY_LOOKUP), IF_MATCH, etag_header(200)],
        responses=envelope_responses(
            200,
            "Category",
            errors=[
                *BODY_ERRORS,
                *LOOKUP_ERRORS,
                Code.CATEGORY_NOT_FOUND,
                Code.PARENT_CATEGORY_NOT_FOUND,
                Code.CATEGORY_EXISTS,
                Code.PRECONDITION_FAILED,
                Code.CATEGORY_CYCLE,
            ],
        ),
    ),
    destroy=extend_schema(
        operation_id="categories_destroy",
        summary="Delete a category",
        description="Only an empty leaf: no children, products or clusters.",
        parameters=[*lookup_parameters(CATEGORY_LOOKUP), IF_MATCH],
        responses=envelope_responses(
            200,
            errors=[
                *LOOKUP_ERRORS,
                Code.CATEGORY_NOT_FOUND,
                Code.CATEGORY_NOT_EMPTY,
                Code.PRECONDITION_FAILED,
            ],
        ),
    ),
    remove_translation=extend_schema(
        operation_id="categories_translation_destroy",
        summary="Delete a translation of a category",
        description=(
            "Clears the language in every localized field; the default language cannot be removed."
        ),
        parameters=[
            *lookup_parameters(CATEGORY_LOOKUP),
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
                *LOOKUP_ERRORS,
                Code.SCHEMA_VALIDATION,
                Code.CATEGORY_NOT_FOUND,
                Code.TRANSLATION_NOT_FOUND,
                Code.PRECONDITION_FAILED,
            ],
        ),
    ),
)
class CategoryViewSet(RecordViewSet):
    scope_entity = "category"
    entity = "Category"
    lookup = CATEGORY_LOOKUP
    filterset_class = CategoryFilterSet
    expands = CATEGORY_EXPANDS
    write_struct = CategoryWrite

    def get_queryset(self):
        return category_queryset()

    def present(self, records, *, language=None, expands=frozenset()):
        return present_categories(records, language=language, expands=expands)

    def changes(self, item):
        return category_changes(item)

    def perform_create(self, changes):
        return services.category_create(changes=changes)

    def perform_update(self, record_id, changes, if_match):
        return services.category_update(category_id=record_id, changes=changes, if_match=if_match)

    def perform_destroy(self, record_id, if_match):
        services.category_delete(category_id=record_id, if_match=if_match)

    def perform_remove_translation(self, record_id, language, if_match):
        services.category_remove_translation(
            category_id=record_id, language=language, if_match=if_match
        )

    @extend_schema(
        operation_id="categories_children_list",
        summary="List the direct children of a category",
        description="Ordered by priority, then name.",
        parameters=[
            *lookup_parameters(CATEGORY_LOOKUP),
            *page_parameters(),
            language_parameter(),
        ],
        responses=envelope_responses(
            200,
            "Category",
            envelope="list",
            errors=[
                *LOOKUP_ERRORS,
                Code.SCHEMA_VALIDATION,
                Code.PAGINATION,
                Code.CATEGORY_NOT_FOUND,
            ],
        ),
    )
    def children(self, request, key, value):
        language = response_language(request.query_params.get("language"))
        page = parse_page(request.query_params.get("page"), request.query_params.get("offset"))
        parent_id = CATEGORY_LOOKUP.resolve_id(Category.objects, key, value, request.query_params)
        queryset = category_queryset().filter(parent_id=parent_id)
        items_found = queryset.count()
        ordering = ("priority", f"name_{(language or settings.LANGUAGE_CODE).lower()}", "id")
        start = page.first_index
        records = list(queryset.order_by(*ordering)[start : start + page.size])
        return paged(present_categories(records, language=language), page, items_found)

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
    def tree(self, request):
        """The whole forest (or one tree) with nested children, from one query."""
        language = response_language(request.query_params.get("language"))
        depth = _optional_int(request.query_params.get("depth"), "depth", minimum=0)
        root_id = _optional_int(request.query_params.get("rootId"), "rootId", minimum=1)
        queryset = Category.objects.all()
        if root_id is not None:
            root = Category.objects.filter(pk=root_id).values("tree_id", "lft", "rght", "level")
            root = root.first()
            if root is None:
                raise ApiError(Code.CATEGORY_NOT_FOUND, f"Category with id [{root_id}] not found")
            queryset = queryset.filter(
                tree_id=root["tree_id"], lft__gte=root["lft"], rght__lte=root["rght"]
            )
            base_level = root["level"]
        else:
            base_level = 0
        if depth is not None:
            queryset = queryset.filter(level__lte=base_level + depth)
        name_columns = [f"name_{code.lower()}" for code in settings.CATALOGUE_LANGUAGES]
        slug_columns = [f"slug_{code.lower()}" for code in settings.CATALOGUE_LANGUAGES]
        rows = queryset.order_by("tree_id", "lft").values(
            "id",
            "parent_id",
            "language",
            "hidden",
            "priority",
            "level",
            *name_columns,
            *slug_columns,
        )
        nodes: dict[int, dict] = {}
        roots: list[dict] = []
        for row in rows:
            node = {
                "id": row["id"],
                "language": row["language"],
                "names": localized_array(row, "name", row["language"], language),
                "slugs": localized_array(row, "slug", row["language"], language),
                "hidden": "Y" if row["hidden"] else "N",
                "priority": row["priority"],
                "level": row["level"],
                "parentId": row["parent_id"],
                "children": [],
                "_sort": (row["priority"], _first_name(row, language), row["id"]),
            }
            nodes[row["id"]] = node
            parent = nodes.get(row["parent_id"])
            (parent["children"] if parent is not None else roots).append(node)
        for node in nodes.values():
            node["children"].sort(key=lambda child: child["_sort"])
        for node in nodes.values():
            del node["_sort"]
        roots.sort(key=lambda node: node["id"])
        return Response({"data": roots, "messages": [], "total": len(roots)})


def _first_name(row, language) -> str:
    codes = [language] if language else []
    codes += [row["language"], *settings.CATALOGUE_LANGUAGES]
    for code in codes:
        value = row.get(f"name_{code.lower()}")
        if value:
            return value.lower()
    return ""


def _optional_int(value, name, *, minimum):
    if value in (None, ""):
        return None
    if not value.isdigit() or int(value) < minimum:
        raise ApiError(Code.SCHEMA_VALIDATION, f"{name}: must be an integer >= {minimum}")
    return int(value)
