"""Products: the sellable records, in categories."""

from typing import Annotated

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef
from django.db.models.functions import JSONObject
from msgspec import UNSET, Meta, Struct, UnsetType

from api.filters import ProductFilterSet
from api.lookups import SOURCE_KEY, Lookup, LookupKind
from api.resources.base import Resource, _decoded, reference
from api.resources.categories import CATEGORIES_RESOURCE
from api.resources.fields import Attributes, Choice, Decimal, Field, Integer, Text, YesNo
from catalogue.errors import CatalogueError, Code
from catalogue.models import ProductCategory, ProductStatus, TaxCode
from catalogue.records import ClusterRef
from catalogue.services.products import PRODUCT_WRITES, PRODUCTS

SourceText = Annotated[str, Meta(min_length=1, max_length=255)]


class ProductParent(Struct, forbid_unknown_fields=True):
    """The primary category (`id`, or `sourceId` and `source`) — or `clusterId`."""

    id: int | UnsetType = UNSET
    source: SourceText | UnsetType = UNSET
    sourceId: SourceText | UnsetType = UNSET
    clusterId: int | UnsetType = UNSET


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


CODES = (
    ("sku", "sku"),
    ("supplier", "supplier"),
    ("supplierCode", "supplier_code"),
    ("manufacturer", "manufacturer"),
    ("oemCode", "oem_code"),
    ("eanCode", "ean_code"),
    ("barCode", "bar_code"),
    ("shortName", "short_name"),
    ("package", "package"),
    ("packageUnit", "package_unit"),
)


class Products(Resource):
    name = "products"
    spec = PRODUCTS
    scope = "product"
    writes = PRODUCT_WRITES
    lookup = Lookup(
        entity="Product",
        keys={
            "id": LookupKind(field="pk"),
            "sourceId": SOURCE_KEY,
            "sku": LookupKind(field="sku", unique=False),
            "supplierCode": LookupKind(
                field="supplier_code",
                companion="supplier",
                companion_field="supplier",
                unique=False,
            ),
        },
        not_found=Code.PRODUCT_NOT_FOUND,
        multiple_found=Code.PRODUCT_MULTIPLE_FOUND,
    )
    bulk_keys = {
        "id": ("id",),
        "sourceId": ("source", "sourceId"),
        "sku": ("sku",),
        "supplierCode": ("supplier", "supplierCode"),
    }
    bulk_limit = 2000
    filterset = ProductFilterSet
    expands = frozenset({"sources", "categories", "parent", "cluster"})
    fields = (
        *(Field(api, model, Text(255)) for api, model in CODES),
        Field("status", "status", Choice(choices=tuple(ProductStatus.choices))),
        Field("taxCode", "tax_code", Choice(choices=tuple(TaxCode.choices))),
        Field("unit", "unit", Integer(minimum=1)),
        Field("minimumQuantity", "minimum_quantity", Integer(minimum=1)),
        Field("packageUnitQuantity", "package_unit_quantity", Integer(minimum=0)),
        Field("priority", "priority", Integer(minimum=0)),
        Field("hidden", "hidden", YesNo()),
        Field("orderable", "orderable", YesNo()),
        Field("returnable", "returnable", YesNo()),
        Field("physical", "physical", YesNo()),
        Field("width", "width", Decimal()),
        Field("height", "height", Decimal()),
        Field("depth", "depth", Decimal()),
        Field("weight", "weight", Decimal()),
        Field("attributes", "attributes", Attributes()),
    )
    relation_fields = {"parent": ProductParent | None}
    computed = {
        "parent": {
            "oneOf": [_ref("IdReference"), _ref("Category"), {"type": "null"}],
            "description": (
                "The primary category: `{id}`, the whole category with `expands=parent`, or null "
                "(a product in a cluster has none of its own)."
            ),
        },
        "categoryIds": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "Every category the product is in, the primary one first.",
        },
        "clusterId": {
            "type": ["integer", "null"],
            "description": "The cluster the product belongs to, or null.",
        },
    }
    expanded = {
        "categories": {
            "type": "array",
            "items": _ref("AssignedCategory"),
            "description": (
                "Every category the product is in, primary first; only with `expands=categories`."
            ),
        },
        "cluster": {
            "oneOf": [_ref("Cluster"), {"type": "null"}],
            "description": "The product's cluster; only with `expands=cluster`.",
        },
    }
    descriptions = {
        "create": (
            "`parent` names the primary category, or `{clusterId}` the cluster the product "
            "joins (it then has no primary category of its own); without it the product has "
            "neither."
        ),
        "partial_update": (
            "Partial update: fields not sent are left as they are. `parent` replaces the "
            "primary category (and takes the product out of its cluster) or, as `{clusterId}`, "
            "moves the product into a cluster; `parent: null` removes both."
        ),
        "destroy": "Removes it from its categories, its cluster and cluster options too.",
    }
    extra_errors = {
        "create": (Code.PARENT_CATEGORY_NOT_FOUND, Code.PARENT_CLUSTER_NOT_FOUND),
        "partial_update": (Code.PARENT_CATEGORY_NOT_FOUND, Code.PARENT_CLUSTER_NOT_FOUND),
    }

    examples = {
        "create": {
            "source": "erp",
            "sourceId": "P-1001",
            "sku": "BV-1001",
            "names": [
                {"language": "EN", "value": "Brass ball valve 1/2 inch"},
                {"language": "NL", "value": "Messing kogelkraan 1/2 inch"},
            ],
            "status": "A",
            "parent": {"source": "erp", "sourceId": "CAT-VALVES"},
            "attributes": [
                {"name": "SIZE", "value": "1/2"},
                {"name": "MATERIAL", "value": "brass"},
            ],
        },
        "partial_update": {"status": "T", "weight": 0.35},
        "search": {
            "filters": {"term": "brass valve", "statuses": ["A", "T"], "categoryIds": [12]},
            "sort": [{"field": "lastModifiedAt", "order": "DESC"}],
            "page": 1,
            "offset": 50,
            "language": "NL",
            "expands": ["categories"],
        },
        "bulk_upsert": {
            "products": [
                {
                    "source": "erp",
                    "sourceId": "P-1001",
                    "sku": "BV-1001",
                    "names": [{"language": "EN", "value": "Brass ball valve 1/2 inch"}],
                    "parent": {"source": "erp", "sourceId": "CAT-VALVES"},
                },
                {
                    "source": "erp",
                    "sourceId": "P-1002",
                    "names": [{"language": "EN", "value": "Brass ball valve 3/4 inch"}],
                    "status": "N",
                },
            ],
            "directives": [{"operation": "skipIfNotEmpty", "fields": ["names"]}],
        },
        "bulk_delete": {"products": [{"source": "erp", "sourceId": "P-1002"}]},
    }

    def relation_changes(self, item, changes, prefix):
        if item.parent is UNSET:
            return
        parent = item.parent
        if parent is not None and parent.clusterId is not UNSET:
            if parent.id is not UNSET or parent.sourceId is not UNSET or parent.source is not UNSET:
                raise CatalogueError(
                    Code.PAYLOAD_VALIDATION,
                    f"{prefix}parent: give a category (id, or sourceId and source) or clusterId, "
                    "not both",
                )
            changes.relations["parent"] = ClusterRef(parent.clusterId)
            return
        own_source = item.source if item.source is not UNSET else None
        changes.relations["parent"] = reference(parent, f"{prefix}parent", own_source)

    def annotate(self, queryset):
        return queryset.annotate(
            category_links=ArraySubquery(
                ProductCategory.objects.filter(product_id=OuterRef("pk"))
                .order_by("-is_primary", "category_id")
                .values_list(JSONObject(c="category_id", p="is_primary"))
            )
        )

    def present_computed(self, records, *, language, expands):
        categories: dict[int, dict] = {}
        if expands & {"categories", "parent"}:
            ids = {link["c"] for record in records for link in _decoded(record.category_links)}
            found = list(CATEGORIES_RESOURCE.queryset().filter(pk__in=ids))
            categories = {
                row["id"]: row for row in CATEGORIES_RESOURCE.present(found, language=language)
            }
        clusters: dict[int, dict] = {}
        if "cluster" in expands:
            from api.resources.clusters import CLUSTERS_RESOURCE

            found = list(
                CLUSTERS_RESOURCE.queryset().filter(
                    pk__in={record.cluster_id for record in records if record.cluster_id}
                )
            )
            clusters = {
                row["id"]: row for row in CLUSTERS_RESOURCE.present(found, language=language)
            }
        result = []
        for record in records:
            links = _decoded(record.category_links)
            primary = links[0]["c"] if links and links[0]["p"] else None
            row = {
                "parent": {"id": primary} if primary else None,
                "categoryIds": [link["c"] for link in links],
                "clusterId": record.cluster_id,
            }
            if "parent" in expands and primary:
                row["parent"] = categories.get(primary)
            if "categories" in expands:
                row["categories"] = [
                    {**categories[link["c"]], "isPrimary": link["p"]}
                    for link in links
                    if link["c"] in categories
                ]
            if "cluster" in expands:
                row["cluster"] = clusters.get(record.cluster_id)
            result.append(row)
        return result

    def sql_computed(self):
        links = ProductCategory._meta.db_table
        pairs = [
            (
                "parent",
                "CASE WHEN links.primary_id IS NULL THEN NULL ELSE "
                "json_build_object('id', links.primary_id) END",
            ),
            ("categoryIds", "coalesce(links.ids, '[]'::json)"),
            ("clusterId", "p.cluster_id"),
        ]
        joins = f"""
            LEFT JOIN LATERAL (
                SELECT json_agg(l.category_id ORDER BY l.is_primary DESC, l.category_id) AS ids,
                       min(l.category_id) FILTER (WHERE l.is_primary) AS primary_id
                FROM {links} l WHERE l.product_id = p.id
            ) links ON true
        """
        return pairs, joins


PRODUCTS_RESOURCE = Products()
