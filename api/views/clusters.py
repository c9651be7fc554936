"""Cluster configs with their settings; clusters with their products, options, nested bulk and
configurator; cluster options with their selectable products."""

import msgspec
from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from msgspec import UNSET, Struct, UnsetType
from rest_framework.decorators import action
from rest_framework.response import Response

from api.auth import require_scopes
from api.bulk import BulkKey, build_items, read_bulk_request, results_response
from api.cluster_bulk import nested_clusters, nested_results
from api.envelope import done, paged, parse_page, single
from api.etags import record_etag
from api.exceptions import ApiError
from api.filters import apply_search, params_from_query
from api.moves import move_results, resolve
from api.params import parse_expands, response_language
from api.resources.base import RecordReference, localized_array
from api.resources.clusters import (
    CLUSTERS_RESOURCE,
    CONFIGS_RESOURCE,
    OPTIONS_RESOURCE,
    SettingPatch,
    SettingWrite,
    present_setting,
    setting_changes,
)
from api.resources.products import PRODUCTS_RESOURCE
from api.results import summary
from api.schema import (
    BODY_ERRORS,
    BULK_ERRORS,
    IF_MATCH,
    NDJSON,
    bulk_body,
    bulk_parameters,
    closed_object,
    envelope_responses,
    etag_header,
    expands_parameter,
    language_parameter,
    list_parameters,
    lookup_errors,
    lookup_parameters,
    output_schema,
    page_parameters,
    ref,
    results_responses,
    struct_body,
    with_example,
)
from api.structs import convert
from api.views.base import BULK_PATH, RecordViewSet
from catalogue import rules
from catalogue.errors import CatalogueError, Code
from catalogue.models import Cluster, ClusterConfigSetting, Product
from catalogue.selectors.clusters import configurator
from catalogue.services import clusters as services
from catalogue.services.categories import CATEGORIES
from catalogue.services.products import PRODUCTS

MAX_MOVE_ITEMS = 100

# Request examples of the OpenAPI document.
PRODUCT_REFS_EXAMPLE = {"products": [{"id": 1205}, {"source": "erp", "sourceId": "P-1206"}]}
CLUSTER_PRODUCT_EXAMPLE = {
    "source": "erp",
    "sourceId": "P-RUNNER-42",
    "sku": "RUN-42-BLUE",
    "names": [{"language": "EN", "value": "Trail runner, size 42, blue"}],
    "attributes": [{"name": "SIZE", "value": "42"}, {"name": "COLOR", "value": "blue"}],
}
NESTED_BULK_EXAMPLE = {
    "clusters": [
        {
            "source": "erp",
            "sourceId": "CL-RUNNER",
            "code": "RUNNER",
            "clusterConfigId": 3,
            "names": [{"language": "EN", "value": "Trail runner"}],
            "parent": {"source": "erp", "sourceId": "CAT-SHOES"},
            "products": [
                CLUSTER_PRODUCT_EXAMPLE,
                {
                    "source": "erp",
                    "sourceId": "P-RUNNER-43",
                    "sku": "RUN-43-BLUE",
                    "names": [{"language": "EN", "value": "Trail runner, size 43, blue"}],
                    "attributes": [
                        {"name": "SIZE", "value": "43"},
                        {"name": "COLOR", "value": "blue"},
                    ],
                },
            ],
            "options": [
                {
                    "source": "erp",
                    "sourceId": "OPT-LACES",
                    "names": [{"language": "EN", "value": "Spare laces"}],
                    "products": [{"source": "erp", "sourceId": "P-LACES-BLUE", "sku": "LACE-B"}],
                }
            ],
        }
    ]
}
PRODUCT_KEY = r"(?P<product_key>[^/]+)/(?P<product_value>[^/]+)"


class ProductRefs(Struct, forbid_unknown_fields=True):
    """Products named by `{id}` or `{sourceId, source}`."""

    products: list[RecordReference]


class UnassignBody(Struct, forbid_unknown_fields=True):
    """Products to take out of the cluster, and exactly one destination."""

    products: list[RecordReference]
    category: RecordReference | UnsetType = UNSET
    cluster: RecordReference | UnsetType = UNSET


def _too_many(count: int) -> None:
    if count > MAX_MOVE_ITEMS:
        raise ApiError(Code.PAYLOAD_TOO_LARGE, f"At most {MAX_MOVE_ITEMS} products per request")


# Cluster configs ---------------------------------------------------------------------------


@output_schema("ClusterConfigSetting")
def setting_schema() -> dict:
    from api.resources.clusters import SETTING_SCHEMA

    return SETTING_SCHEMA


CONFIG_LOOKUP = CONFIGS_RESOURCE.lookup


class ClusterConfigViewSet(RecordViewSet):
    resource = CONFIGS_RESOURCE

    @extend_schema(
        operation_id="clusterconfigs_settings_create",
        summary="Add a setting to a cluster config",
        description=(
            "`attributeName` (like a product attribute name) must be new in the config (409, "
            "21006); `displayType` is dropdown, radio, image or color, in any case."
        ),
        request=with_example(
            struct_body(SettingWrite),
            {"attributeName": "WIDTH", "displayType": "radio", "priority": 3},
        ),
        parameters=lookup_parameters(CONFIG_LOOKUP),
        responses=envelope_responses(
            201,
            "ClusterConfigSetting",
            errors=[
                *BODY_ERRORS,
                *lookup_errors(CONFIG_LOOKUP),
                Code.CLUSTER_CONFIG_SETTING_EXISTS,
            ],
        ),
    )
    @action(detail=True, methods=["post"], url_path="settings")
    def add_setting(self, request, key, value):
        config_id = self.resolve_id(key, value)
        setting = setting_changes(convert(self.body(), SettingWrite))
        setting_id = services.cluster_config_setting_add(config_id=config_id, setting=setting)
        created = ClusterConfigSetting.objects.get(pk=setting_id)
        return single(present_setting(created), "Cluster config setting created", status=201)

    def _setting_id(self, config_id: int, setting_id: str) -> int:
        if not (setting_id.isascii() and setting_id.isdigit()) or len(setting_id) > 18:
            raise services._setting_not_found(config_id, setting_id)
        return int(setting_id)

    @extend_schema(
        operation_id="clusterconfigs_settings_partial_update",
        summary="Change a setting of a cluster config",
        description="`displayType` and `priority` change; `attributeName` cannot.",
        request=with_example(struct_body(SettingPatch), {"displayType": "image", "priority": 2}),
        parameters=[
            *lookup_parameters(CONFIG_LOOKUP),
            OpenApiParameter("setting_id", int, OpenApiParameter.PATH),
        ],
        responses=envelope_responses(
            200,
            "ClusterConfigSetting",
            errors=[
                *BODY_ERRORS,
                *lookup_errors(CONFIG_LOOKUP),
                Code.CLUSTER_CONFIG_SETTING_NOT_FOUND,
            ],
        ),
        methods=["PATCH"],
    )
    @extend_schema(
        operation_id="clusterconfigs_settings_destroy",
        summary="Delete a setting of a cluster config",
        parameters=[
            *lookup_parameters(CONFIG_LOOKUP),
            OpenApiParameter("setting_id", int, OpenApiParameter.PATH),
        ],
        responses=envelope_responses(
            200, errors=[*lookup_errors(CONFIG_LOOKUP), Code.CLUSTER_CONFIG_SETTING_NOT_FOUND]
        ),
        methods=["DELETE"],
    )
    @action(detail=True, methods=["patch", "delete"], url_path=r"settings/(?P<setting_id>[^/]+)")
    def change_setting(self, request, key, value, setting_id):
        config_id = self.resolve_id(key, value)
        pk = self._setting_id(config_id, setting_id)
        if request.method == "DELETE":
            services.cluster_config_setting_delete(config_id=config_id, setting_id=pk)
            return done("Cluster config setting deleted")
        patch = convert(self.body(), SettingPatch)
        fields = {}
        if patch.attributeName is not UNSET:
            fields["attribute_name"] = patch.attributeName
        if patch.displayType is not UNSET:
            display = patch.displayType.strip().lower()
            if display not in rules.DISPLAY_TYPES:
                raise ApiError(
                    Code.SCHEMA_VALIDATION,
                    f"displayType: one of {', '.join(rules.DISPLAY_TYPES)}",
                )
            fields["display_type"] = display
        if patch.priority is not UNSET:
            fields["priority"] = patch.priority
        services.cluster_config_setting_update(config_id=config_id, setting_id=pk, fields=fields)
        return single(
            present_setting(ClusterConfigSetting.objects.get(pk=pk)),
            "Cluster config setting updated",
        )


# Clusters ----------------------------------------------------------------------------------

CLUSTER_LOOKUP = CLUSTERS_RESOURCE.lookup
CLUSTER_ERRORS = lookup_errors(CLUSTER_LOOKUP)
PRODUCT_LOOKUP = PRODUCTS_RESOURCE.lookup


def _product_parameters() -> list[OpenApiParameter]:
    return [
        *lookup_parameters(CLUSTER_LOOKUP),
        OpenApiParameter(
            "product_key",
            str,
            OpenApiParameter.PATH,
            enum=list(PRODUCT_LOOKUP.keys),
            description="Lookup key of the product.",
        ),
        OpenApiParameter("product_value", str, OpenApiParameter.PATH),
    ]


@output_schema("ClusterConfigurator")
def configurator_schema() -> dict:
    ids = {"type": "array", "items": {"type": "integer"}}
    return closed_object(
        {
            "clusterId": {"type": "integer"},
            "clusterConfigId": {"type": "integer"},
            "defaultProductId": {"type": ["integer", "null"]},
            "settings": {
                "type": "array",
                "items": closed_object(
                    {
                        "attributeName": {"type": "string"},
                        "displayType": {"type": "string"},
                        "priority": {"type": "integer"},
                        "values": {
                            "type": "array",
                            "items": closed_object(
                                {"value": {"type": "string"}, "productIds": ids}
                            ),
                        },
                    }
                ),
                "description": "By ascending priority; values sorted by value.",
            },
            "variants": {
                "type": "array",
                "items": closed_object(
                    {
                        "productId": {"type": "integer"},
                        "attributes": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        },
                    }
                ),
            },
            "options": {
                "type": "array",
                "items": closed_object(
                    {
                        "id": {"type": "integer"},
                        "names": {"type": "array", "items": ref("LocalizedValue")},
                        "isRequired": {"type": "boolean"},
                        "sortOrder": {"type": "integer"},
                        "defaultProductId": {"type": ["integer", "null"]},
                        "productIds": ids,
                    }
                ),
                "description": "By sort order.",
            },
            "problems": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "type": {"enum": ["missingAttribute", "duplicateCombination"]},
                        "productIds": ids,
                        "attributeName": {"type": "string"},
                    },
                    "required": ["type", "productIds"],
                    "additionalProperties": False,
                },
                "description": (
                    "missingAttribute: products without a driving attribute; "
                    "duplicateCombination: products with the same driving attributes."
                ),
            },
        }
    )


@output_schema("ClusterItem")
def cluster_item_schema() -> dict:
    from api.schema import resource_properties

    return closed_object(
        {
            **resource_properties(CLUSTERS_RESOURCE),
            "class": {"type": "string", "enum": ["cluster"]},
            "isPrimary": {"type": "boolean"},
        },
        optional=CLUSTERS_RESOURCE.expanded,
        description="A cluster of a category, with its membership.",
    )


@output_schema("NestedItemResult")
def nested_result_schema() -> dict:
    return {
        "allOf": [
            ref("ItemResult"),
            {
                "type": "object",
                "properties": {
                    "products": {"type": "array", "items": ref("ItemResult")},
                    "options": {"type": "array", "items": ref("NestedItemResult")},
                },
            },
        ],
        "description": "A cluster's (or option's) result with those of its nested items.",
    }


def product_list_schema(operation_id: str, summary: str, lookup) -> dict:
    """The OpenAPI operation of a list of products below a record, ordered by id."""
    return {
        "operation_id": operation_id,
        "summary": summary,
        "description": "Ordered by id.",
        "parameters": [
            *lookup_parameters(lookup),
            *page_parameters(),
            language_parameter(),
            expands_parameter(PRODUCTS_RESOURCE.expands),
        ],
        "responses": envelope_responses(
            200,
            "Product",
            envelope="list",
            errors=[*lookup_errors(lookup), Code.SCHEMA_VALIDATION, Code.PAGINATION],
        ),
    }


def product_page(request, ids: list[int]):
    """One page of these products (ids in order) in the list envelope."""
    params = request.query_params
    language = response_language(params.get("language"))
    expands = parse_expands(params.get("expands"), PRODUCTS_RESOURCE.expands)
    page = parse_page(params.get("page"), params.get("offset"))
    chunk = ids[page.first_index : page.first_index + page.size]
    by_id = PRODUCTS_RESOURCE.queryset().in_bulk(chunk) if chunk else {}
    records = [by_id[pk] for pk in chunk if pk in by_id]
    rows = PRODUCTS_RESOURCE.present(records, language=language, expands=expands)
    return paged(rows, page, len(ids))


class ClusterViewSet(RecordViewSet):
    resource = CLUSTERS_RESOURCE
    bulk_actions = (*RecordViewSet.bulk_actions, "products_bulk", "options_bulk")
    extra_scopes = {
        "products": ["product.read"],
        "create_product": ["product.write"],
        "product": ["product.read"],
        "update_product": ["product.write"],
        "delete_product": ["product.write"],
        "assign_products": ["product.read"],
        "unassign_products": ["product.read"],
        "products_bulk": ["product.write"],
    }

    def cluster_id(self, key, value) -> int:
        return self.resolve_id(key, value)

    # Products ------------------------------------------------------------------------------
    @extend_schema(
        **product_list_schema(
            "clusters_products_list", "List the products of a cluster", CLUSTER_LOOKUP
        )
    )
    @action(detail=True, methods=["get"])
    def products(self, request, key, value):
        cluster_id = self.cluster_id(key, value)
        return product_page(request, services.cluster_product_ids(cluster_id))

    @extend_schema(
        operation_id="clusters_products_create",
        summary="Create a product inside a cluster",
        description="The product body; the product joins this cluster. Needs product.write too.",
        request=with_example(struct_body(PRODUCTS_RESOURCE.write_struct), CLUSTER_PRODUCT_EXAMPLE),
        parameters=lookup_parameters(CLUSTER_LOOKUP),
        responses=envelope_responses(
            201, "Product", errors=[*BODY_ERRORS, *CLUSTER_ERRORS, Code.PRODUCT_EXISTS]
        ),
    )
    @products.mapping.post
    def create_product(self, request, key, value):
        from catalogue.records import ClusterRef

        cluster_id = self.cluster_id(key, value)
        changes = PRODUCTS_RESOURCE.changes(convert(self.body(), PRODUCTS_RESOURCE.write_struct))
        changes.relations["parent"] = ClusterRef(cluster_id)
        product_id = PRODUCTS_RESOURCE.writes.create(changes=changes)
        return self.product_written(product_id, "Product created", status=201)

    def product_written(self, product_id: int, message: str, status: int = 200):
        record = PRODUCTS_RESOURCE.queryset().get(pk=product_id)
        row = PRODUCTS_RESOURCE.present([record])[0]
        return single(row, message, status=status, headers={"ETag": record_etag(record)})

    def attached_product(self, key, value, product_key, product_value) -> tuple[int, int]:
        cluster_id = self.cluster_id(key, value)
        record = PRODUCT_LOOKUP.resolve(
            Product.objects.only("pk", "cluster_id"),
            product_key,
            product_value,
            self.request.query_params,
        )
        if record.cluster_id != cluster_id:
            described = PRODUCT_LOOKUP.describe(
                product_key,
                product_value,
                self.request.query_params.get(PRODUCT_LOOKUP.keys[product_key].companion or ""),
            )
            raise CatalogueError(
                Code.PRODUCT_NOT_FOUND, f"{described} not found in cluster with id [{cluster_id}]"
            )
        return cluster_id, record.pk

    @extend_schema(
        operation_id="clusters_products_retrieve",
        summary="Read a product of a cluster",
        parameters=[
            *_product_parameters(),
            etag_header(200),
            language_parameter(),
            expands_parameter(PRODUCTS_RESOURCE.expands),
        ],
        responses=envelope_responses(
            200,
            "Product",
            errors=[*CLUSTER_ERRORS, *lookup_errors(PRODUCT_LOOKUP), Code.SCHEMA_VALIDATION],
        ),
    )
    @action(detail=True, methods=["get"], url_path=f"products/{PRODUCT_KEY}")
    def product(self, request, key, value, product_key, product_value):
        language = response_language(request.query_params.get("language"))
        expands = parse_expands(request.query_params.get("expands"), PRODUCTS_RESOURCE.expands)
        _, product_id = self.attached_product(key, value, product_key, product_value)
        record = PRODUCTS_RESOURCE.queryset().get(pk=product_id)
        row = PRODUCTS_RESOURCE.present([record], language=language, expands=expands)[0]
        return single(row, "Product found", headers={"ETag": record_etag(record)})

    @extend_schema(
        operation_id="clusters_products_partial_update",
        summary="Change a product of a cluster",
        request=with_example(
            struct_body(PRODUCTS_RESOURCE.write_struct),
            PRODUCTS_RESOURCE.examples["partial_update"],
        ),
        parameters=[*_product_parameters(), IF_MATCH, etag_header(200)],
        responses=envelope_responses(
            200,
            "Product",
            errors=[
                *BODY_ERRORS,
                *CLUSTER_ERRORS,
                *lookup_errors(PRODUCT_LOOKUP),
                Code.PRODUCT_EXISTS,
                Code.PRECONDITION_FAILED,
            ],
        ),
    )
    @product.mapping.patch
    def update_product(self, request, key, value, product_key, product_value):
        _, product_id = self.attached_product(key, value, product_key, product_value)
        changes = PRODUCTS_RESOURCE.changes(convert(self.body(), PRODUCTS_RESOURCE.write_struct))
        with self.precondition(product_id, PRODUCTS):
            PRODUCTS_RESOURCE.writes.update(record_id=product_id, changes=changes)
        return self.product_written(product_id, "Product updated")

    @extend_schema(
        operation_id="clusters_products_destroy",
        summary="Delete a product of a cluster",
        description="The product is deleted from the catalogue.",
        parameters=[*_product_parameters(), IF_MATCH],
        responses=envelope_responses(
            200,
            errors=[*CLUSTER_ERRORS, *lookup_errors(PRODUCT_LOOKUP), Code.PRECONDITION_FAILED],
        ),
    )
    @product.mapping.delete
    def delete_product(self, request, key, value, product_key, product_value):
        _, product_id = self.attached_product(key, value, product_key, product_value)
        with self.precondition(product_id, PRODUCTS):
            PRODUCTS_RESOURCE.writes.delete(record_id=product_id)
        return done("Product deleted")

    @extend_schema(
        operation_id="clusters_products_assign",
        summary="Move products into a cluster",
        description=(
            f"At most {MAX_MOVE_ITEMS} references, each `{{id}}` or `{{sourceId, source}}`. "
            "Products leave their category or cluster. One result per reference: `move`, or "
            "`error` with 80006 (no such product) or 10017 (a reference named twice)."
        ),
        request=with_example(struct_body(ProductRefs), PRODUCT_REFS_EXAMPLE),
        parameters=lookup_parameters(CLUSTER_LOOKUP),
        responses=results_responses(errors=[*BODY_ERRORS, *CLUSTER_ERRORS]),
    )
    @action(detail=True, methods=["post"], url_path="products/assign")
    def assign_products(self, request, key, value):
        cluster_id = self.cluster_id(key, value)
        body = convert(self.body(), ProductRefs)
        _too_many(len(body.products))
        results = move_results(
            body.products,
            resolve(PRODUCTS, body.products),
            lambda ids: services.cluster_assign_products(cluster_id=cluster_id, product_ids=ids),
        )
        return Response({"data": results, "messages": [summary(results)]})

    @extend_schema(
        operation_id="clusters_products_unassign",
        summary="Move products out of a cluster",
        description=(
            "Give exactly one destination: `category` (the products' new primary category) or "
            "`cluster`; none or both is a 400 (10017). One result per reference: `move`, or "
            "`error` with 80006 (no such product) or 20009 (not in this cluster)."
        ),
        request=with_example(
            struct_body(UnassignBody),
            {"products": [{"id": 1205}], "category": {"source": "erp", "sourceId": "CAT-SHOES"}},
        ),
        parameters=lookup_parameters(CLUSTER_LOOKUP),
        responses=results_responses(
            errors=[
                *BODY_ERRORS,
                *CLUSTER_ERRORS,
                Code.CATEGORY_NOT_FOUND,
            ]
        ),
    )
    @action(detail=True, methods=["post"], url_path="products/unassign")
    def unassign_products(self, request, key, value):
        cluster_id = self.cluster_id(key, value)
        body = convert(self.body(), UnassignBody)
        if (body.category is UNSET) == (body.cluster is UNSET):
            raise ApiError(
                Code.PAYLOAD_VALIDATION, "give exactly one destination: category or cluster"
            )
        _too_many(len(body.products))
        to_category = to_cluster = None
        if body.category is not UNSET:
            ((to_category, error),) = resolve(CATEGORIES, [body.category])
        else:
            ((to_cluster, error),) = resolve(services.CLUSTERS, [body.cluster])
        if error is not None:
            raise error
        results = move_results(
            body.products,
            resolve(PRODUCTS, body.products),
            lambda ids: services.cluster_unassign_products(
                cluster_id=cluster_id,
                product_ids=ids,
                to_category=to_category,
                to_cluster=to_cluster,
            ),
        )
        return Response({"data": results, "messages": [summary(results)]})

    def nested_bulk_key(self, key: str) -> str:
        """Products nested in (or bulked into) a cluster are matched by the cluster key's kind."""
        return services.NESTED_PRODUCT_KEY[key]

    @extend_schema(
        operation_id="clusters_products_bulk",
        summary="Create or update products in a cluster",
        description=(
            "Items are matched by the kind of the cluster's lookup key: `id` by id, `sourceId` "
            "by source and sourceId, `code` by sku. Every product written joins this cluster "
            "(unless skipMoveOnUpdate keeps an existing one where it is). One result per item."
        ),
        request=with_example(
            bulk_body(PRODUCTS_RESOURCE), PRODUCTS_RESOURCE.examples["bulk_upsert"]
        ),
        parameters=lookup_parameters(CLUSTER_LOOKUP),
        responses=results_responses(
            errors=[*BODY_ERRORS, *CLUSTER_ERRORS, Code.INVALID_LOOKUP_KEY]
        ),
    )
    @action(detail=True, methods=["post"], url_path="products/bulk")
    def products_bulk(self, request, key, value):
        from catalogue.records import ClusterRef

        cluster_id = self.cluster_id(key, value)
        return self.nested_bulk(
            request,
            PRODUCTS_RESOURCE,
            self.nested_bulk_key(key),
            lambda changes: changes.relations.__setitem__("parent", ClusterRef(cluster_id)),
        )

    def nested_bulk(self, request, resource, item_key: str, place):
        bulk = read_bulk_request(
            request,
            resource=resource.name,
            limit=resource.bulk_limit,
            field_names=resource.directive_fields,
        )

        def to_changes(item):
            changes = resource.changes(item)
            place(changes)
            return changes

        items = build_items(
            bulk.raw_items,
            lookup_key=item_key,
            key=BulkKey(resource.bulk_keys[item_key]),
            struct=resource.write_struct,
            to_changes=to_changes,
        )
        resource.writes.bulk_upsert(
            items=items,
            lookup_key=item_key,
            directives=bulk.directives,
            dry_run=bulk.dry_run,
            atomic=bulk.atomic,
        )
        return results_response(items, item_key, bulk.dry_run)

    # Options -------------------------------------------------------------------------------
    @extend_schema(
        operation_id="clusters_options_list",
        summary="List the options of a cluster",
        description=(
            "Ordered by sortOrder, then id, unless `sort` says otherwise. With the `sourceId` "
            "lookup, `source` names the cluster and does not filter the options."
        ),
        parameters=[
            *lookup_parameters(CLUSTER_LOOKUP),
            *list_parameters(OPTIONS_RESOURCE.filterset, OPTIONS_RESOURCE.expands),
        ],
        responses=envelope_responses(
            200,
            "ClusterOption",
            envelope="list",
            errors=[*CLUSTER_ERRORS, Code.SCHEMA_VALIDATION, Code.PAGINATION],
        ),
    )
    # Named apart from `options`, which is the view's handler of the OPTIONS method.
    @action(detail=True, methods=["get"], url_path="options")
    def option_list(self, request, key, value):
        resource = OPTIONS_RESOURCE
        query = request.query_params
        lookup = CLUSTER_LOOKUP.keys.get(key)
        if lookup is not None and lookup.companion:
            # `?source=` completes the cluster's lookup here; it is not a filter of the options.
            query = query.copy()
            query.pop(lookup.companion, None)
        params = params_from_query(query, resource.filterset, resource.expands)
        cluster_id = self.cluster_id(key, value)
        if not params.sort:
            params.sort = [("sortOrder", False)]
        queryset = apply_search(
            resource.queryset().filter(cluster_id=cluster_id), params, resource.filterset
        )
        total = queryset.count()
        start = params.page.first_index
        records = list(queryset[start : start + params.page.size]) if start < total else []
        rows = resource.present(records, language=params.language, expands=params.expands)
        return paged(rows, params.page, total)

    @extend_schema(
        operation_id="clusters_options_create",
        summary="Create an option in a cluster",
        description="`productIds` are the selectable products; `defaultProductId` one of them.",
        request=with_example(
            struct_body(OPTIONS_RESOURCE.write_struct),
            {
                "source": "erp",
                "sourceId": "OPT-WARRANTY",
                "names": [{"language": "EN", "value": "Extended warranty"}],
                "isRequired": "N",
                "productIds": [1310, 1311],
                "defaultProductId": 1310,
            },
        ),
        parameters=lookup_parameters(CLUSTER_LOOKUP),
        responses=envelope_responses(
            201,
            "ClusterOption",
            errors=[
                *BODY_ERRORS,
                *CLUSTER_ERRORS,
                Code.CLUSTER_OPTION_EXISTS,
                Code.PRODUCT_NOT_FOUND,
            ],
        ),
    )
    @option_list.mapping.post
    def create_option(self, request, key, value):
        cluster_id = self.cluster_id(key, value)
        changes = OPTIONS_RESOURCE.changes(convert(self.body(), OPTIONS_RESOURCE.write_struct))
        changes.relations["cluster"] = cluster_id
        option_id = OPTIONS_RESOURCE.writes.create(changes=changes)
        record = OPTIONS_RESOURCE.queryset().get(pk=option_id)
        row = OPTIONS_RESOURCE.present([record])[0]
        return single(
            row, "Cluster option created", status=201, headers={"ETag": record_etag(record)}
        )

    @extend_schema(
        operation_id="clusters_options_bulk",
        summary="Create or update options of a cluster",
        description=(
            "Items are matched by the kind of the cluster's lookup key: `id` by id, `sourceId` "
            "(and `code`) by source and sourceId. One result per item."
        ),
        request=with_example(bulk_body(OPTIONS_RESOURCE), OPTIONS_RESOURCE.examples["bulk_upsert"]),
        parameters=lookup_parameters(CLUSTER_LOOKUP),
        responses=results_responses(errors=[*BODY_ERRORS, *CLUSTER_ERRORS]),
    )
    @action(detail=True, methods=["post"], url_path="options/bulk")
    def options_bulk(self, request, key, value):
        cluster_id = self.cluster_id(key, value)
        return self.nested_bulk(
            request,
            OPTIONS_RESOURCE,
            services.NESTED_OPTION_KEY[key],
            lambda changes: changes.relations.__setitem__("cluster", cluster_id),
        )

    # Configurator --------------------------------------------------------------------------
    @extend_schema(
        operation_id="clusters_configurator",
        summary="The variant chooser of a cluster",
        description=(
            "The config's settings by priority with each value's products, the variants with "
            "their driving attributes, the options with their selectable products, and "
            "problems: products missing a driving attribute, products sharing a combination."
        ),
        parameters=[*lookup_parameters(CLUSTER_LOOKUP), language_parameter()],
        responses=envelope_responses(
            200, "ClusterConfigurator", errors=[*CLUSTER_ERRORS, Code.SCHEMA_VALIDATION]
        ),
    )
    @action(detail=True, methods=["get"])
    def configurator(self, request, key, value):
        language = response_language(request.query_params.get("language"))
        cluster = CLUSTER_LOOKUP.resolve(
            Cluster.objects.only("pk", "config_id", "default_product_id"),
            key,
            value,
            request.query_params,
        )
        data = configurator(cluster)
        data["options"] = [
            {
                "id": option["pk"],
                "names": localized_array(option, "name", option["language"], language),
                "isRequired": option["is_required"],
                "sortOrder": option["sort_order"],
                "defaultProductId": option["default_product_id"],
                "productIds": sorted(pk for pk in option["selectable_ids"] or [] if pk is not None),
            }
            for option in data["options"]
        ]
        return single(data, "Cluster configurator")

    # Nested bulk ---------------------------------------------------------------------------
    @extend_schema(
        operation_id="clusters_bulk_upsert",
        summary="Create or update clusters in bulk, with their products and options",
        description=(
            "Up to 1000 clusters, matched by the lookup key; each may carry `products` (they "
            "join the cluster) and `options` (each may carry `products`, made selectable). "
            "Nested items are matched by the kind of the lookup key: `id` by id, `sourceId` by "
            "source and sourceId, `code` by sku (products) or source and sourceId (options). "
            "One result per cluster with its nested results under `products` and `options`; an "
            "item fails alone, and the items below a failed cluster or option are not applied. "
            "More than 1000 clusters: 413. Needs product.write too when products are nested."
        ),
        request=with_example(
            {
                "application/json": ref("ClusterNestedBulk"),
                NDJSON: {"type": "string", "description": "NDJSON: one cluster item per line."},
            },
            NESTED_BULK_EXAMPLE,
        ),
        parameters=bulk_parameters(CLUSTERS_RESOURCE, upsert=True),
        responses=results_responses(errors=BULK_ERRORS, envelope="ClusterResultsEnvelope"),
    )
    @action(detail=False, methods=["post"], url_path=BULK_PATH)
    def bulk_upsert(self, request, key):
        return self.cluster_bulk(request, key)

    def cluster_bulk(self, request, key):
        """Clusters with nested `products` and `options` (options with `products`)."""
        resource = self.resource
        bulk_key = self.bulk_key(key)
        bulk = read_bulk_request(
            request,
            resource=resource.name,
            limit=resource.bulk_limit,
            field_names=resource.directive_fields,
        )
        nested = nested_clusters(bulk.raw_items, key, bulk_key)
        if any(n.products or any(n.option_products.values()) for n in nested):
            require_scopes(request, ["product.write"])  # products are written too
        with transaction.atomic():
            services.cluster_bulk_upsert(
                clusters=nested,
                lookup_key=key,
                directives=bulk.directives,
                dry_run=bulk.dry_run,
                atomic=bulk.atomic,
            )
        results = nested_results(nested, key, bulk.dry_run)
        messages = [summary(results)]
        if bulk.dry_run:
            messages.append("Dry run: nothing was written")
        return Response({"data": results, "messages": messages})


# Cluster options ---------------------------------------------------------------------------

OPTION_LOOKUP = OPTIONS_RESOURCE.lookup
OPTION_ERRORS = lookup_errors(OPTION_LOOKUP)


class ClusterOptionViewSet(RecordViewSet):
    resource = OPTIONS_RESOURCE
    bulk_actions = (*RecordViewSet.bulk_actions, "products_bulk")
    extra_scopes = {
        "products": ["product.read"],
        "assign_products": ["product.read"],
        "unassign_products": ["product.read"],
        "products_bulk": ["product.write"],
    }

    @extend_schema(
        **product_list_schema(
            "clusteroptions_products_list",
            "List the selectable products of an option",
            OPTION_LOOKUP,
        )
    )
    @action(detail=True, methods=["get"])
    def products(self, request, key, value):
        option_id = self.resolve_id(key, value)
        ids = Product.objects.filter(selectable_in__option_id=option_id).order_by("pk")
        return product_page(request, list(ids.values_list("pk", flat=True)))

    def _change(self, key, value, operation):
        option_id = self.resolve_id(key, value)
        body = convert(self.body(), ProductRefs)
        _too_many(len(body.products))
        results = move_results(
            body.products,
            resolve(PRODUCTS, body.products),
            lambda ids: operation(option_id=option_id, product_ids=ids),
        )
        return Response({"data": results, "messages": [summary(results)]})

    @extend_schema(
        operation_id="clusteroptions_products_assign",
        summary="Make products selectable in an option",
        description="They stay where they are. One result per reference.",
        request=with_example(struct_body(ProductRefs), PRODUCT_REFS_EXAMPLE),
        parameters=lookup_parameters(OPTION_LOOKUP),
        responses=results_responses(errors=[*BODY_ERRORS, *OPTION_ERRORS]),
    )
    @action(detail=True, methods=["post"], url_path="products/assign")
    def assign_products(self, request, key, value):
        return self._change(key, value, services.option_assign_products)

    @extend_schema(
        operation_id="clusteroptions_products_unassign",
        summary="Make products no longer selectable in an option",
        description="They stay in the catalogue. One result per reference.",
        request=with_example(struct_body(ProductRefs), PRODUCT_REFS_EXAMPLE),
        parameters=lookup_parameters(OPTION_LOOKUP),
        responses=results_responses(errors=[*BODY_ERRORS, *OPTION_ERRORS]),
    )
    @action(detail=True, methods=["post"], url_path="products/unassign")
    def unassign_products(self, request, key, value):
        return self._change(key, value, services.option_unassign_products)

    @extend_schema(
        operation_id="clusteroptions_products_bulk",
        summary="Create or update products and make them selectable in an option",
        description=(
            "Items are matched by the kind of the option's lookup key (`id` by id, `sourceId` "
            "by source and sourceId). One result per item."
        ),
        request=with_example(
            bulk_body(PRODUCTS_RESOURCE), PRODUCTS_RESOURCE.examples["bulk_upsert"]
        ),
        parameters=lookup_parameters(OPTION_LOOKUP),
        responses=results_responses(errors=[*BODY_ERRORS, *OPTION_ERRORS]),
    )
    @action(detail=True, methods=["post"], url_path="products/bulk")
    def products_bulk(self, request, key, value):
        option_id = self.resolve_id(key, value)
        bulk = read_bulk_request(
            request,
            resource="products",
            limit=PRODUCTS_RESOURCE.bulk_limit,
            field_names=PRODUCTS_RESOURCE.directive_fields,
        )
        items = build_items(
            bulk.raw_items,
            lookup_key=key,
            key=BulkKey(PRODUCTS_RESOURCE.bulk_keys[key]),
            struct=PRODUCTS_RESOURCE.write_struct,
            to_changes=PRODUCTS_RESOURCE.changes,
        )
        with transaction.atomic():
            PRODUCTS_RESOURCE.writes.bulk_upsert(
                items=items,
                lookup_key=key,
                directives=bulk.directives,
                dry_run=bulk.dry_run,
                atomic=bulk.atomic,
            )
            if not bulk.dry_run:
                ids = [item.record_id for item in items if item.error is None and item.record_id]
                if ids:
                    services.option_assign_products(option_id=option_id, product_ids=ids)
        return results_response(items, key, bulk.dry_run)


def _nested_bulk_structs():
    """The item shapes of a cluster bulk: a cluster with products and options, an option with
    products (the write shapes of each, plus the nested arrays)."""
    product = PRODUCTS_RESOURCE.write_struct
    option = msgspec.defstruct(
        "ClusterOptionBulkItem",
        [("products", list[product] | UnsetType, UNSET)],
        bases=(OPTIONS_RESOURCE.write_struct,),
        kw_only=True,
        forbid_unknown_fields=True,
    )
    cluster = msgspec.defstruct(
        "ClusterBulkItem",
        [
            ("products", list[product] | UnsetType, UNSET),
            ("options", list[option] | UnsetType, UNSET),
        ],
        bases=(CLUSTERS_RESOURCE.write_struct,),
        kw_only=True,
        forbid_unknown_fields=True,
    )
    return cluster


@output_schema("ClusterNestedBulk")
def nested_bulk_schema() -> dict:
    from api.schema import array_of, bulk_body, register_struct

    item = register_struct(_nested_bulk_structs())
    bulk_body(CLUSTERS_RESOURCE)  # the directives component
    return closed_object(
        {
            "clusters": array_of(item) | {"maxItems": CLUSTERS_RESOURCE.bulk_limit},
            "directives": ref("ClusterBulkDirectives"),
        },
        optional=("directives",),
    )
