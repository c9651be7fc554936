"""Cluster configs, clusters and cluster options."""

from collections import defaultdict
from typing import Annotated

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef
from django.db.models.functions import JSONObject
from msgspec import UNSET, Meta, Struct, UnsetType

from api.filters import ClusterConfigFilterSet, ClusterFilterSet, ClusterOptionFilterSet
from api.lookups import SOURCE_KEY, Lookup, LookupKind
from api.resources.base import RecordReference, Resource, _decoded, reference
from api.resources.categories import CATEGORIES_RESOURCE
from api.resources.fields import Field, Flag, Integer, RecordId, Text, YesNo
from catalogue import rules
from catalogue.errors import Code
from catalogue.models import (
    ClusterCategory,
    ClusterConfigSetting,
    ClusterOption,
    ClusterOptionProduct,
    Product,
)
from catalogue.services.clusters import (
    CLUSTER_CONFIG_WRITES,
    CLUSTER_CONFIGS,
    CLUSTER_OPTION_WRITES,
    CLUSTER_OPTIONS,
    CLUSTER_WRITES,
    CLUSTERS,
    SettingChanges,
)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


DisplayTypeText = Annotated[str, Meta(max_length=16)]


class SettingWrite(Struct, forbid_unknown_fields=True, kw_only=True):
    """A driving attribute of a config."""

    attributeName: Annotated[str, Meta(pattern=rules.ATTRIBUTE_NAME)]
    displayType: DisplayTypeText
    priority: Annotated[int, Meta(ge=-(2**31), le=2**31 - 1)] = 0
    # Read-only fields a client may send back unchanged; ignored.
    id: int | UnsetType = UNSET
    clusterConfigId: int | UnsetType = UNSET


class SettingPatch(Struct, forbid_unknown_fields=True, kw_only=True):
    """What a setting change may send: its display type and priority (its attribute name
    only unchanged)."""

    attributeName: str | UnsetType = UNSET
    displayType: DisplayTypeText | UnsetType = UNSET
    priority: Annotated[int, Meta(ge=-(2**31), le=2**31 - 1)] | UnsetType = UNSET
    id: int | UnsetType = UNSET
    clusterConfigId: int | UnsetType = UNSET


def setting_changes(setting: SettingWrite) -> SettingChanges:
    return SettingChanges(
        attribute_name=setting.attributeName,
        display_type=setting.displayType.strip().lower(),
        priority=setting.priority,
    )


def present_setting(setting: ClusterConfigSetting) -> dict:
    return {
        "id": setting.pk,
        "clusterConfigId": setting.config_id,
        "attributeName": setting.attribute_name,
        "displayType": setting.display_type,
        "priority": setting.priority,
    }


SETTING_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "clusterConfigId": {"type": "integer"},
        "attributeName": {"type": "string", "pattern": rules.ATTRIBUTE_NAME},
        "displayType": {"type": "string", "enum": list(rules.DISPLAY_TYPES)},
        "priority": {"type": "integer", "description": "Lower is asked first."},
    },
    "required": ["id", "clusterConfigId", "attributeName", "displayType", "priority"],
    "additionalProperties": False,
}


class ClusterConfigs(Resource):
    name = "clusterconfigs"
    spec = CLUSTER_CONFIGS
    scope = "clusterconfig"
    writes = CLUSTER_CONFIG_WRITES
    lookup = Lookup(
        entity="ClusterConfig",
        keys={"id": LookupKind(field="pk"), "name": LookupKind(field="name")},
        not_found=Code.CLUSTER_CONFIG_NOT_FOUND,
    )
    filterset = ClusterConfigFilterSet
    actions = frozenset(
        {"list", "search", "export", "retrieve", "create", "partial_update", "destroy"}
    )
    fields = (
        Field(
            "name",
            "name",
            Text(35),
            "Letters, digits and underscores (2 to 35); unique; cannot be changed once created.",
        ),
    )
    relation_fields = {"settings": list[SettingWrite]}
    computed = {
        "settings": {
            "type": "array",
            "items": _ref("ClusterConfigSetting"),
            "description": "The driving attributes, lowest priority (asked first) first.",
        }
    }
    descriptions = {
        "create": "`settings` may be sent on create; later they change through `…/settings`.",
        "partial_update": "The name cannot change; settings change through `…/settings`.",
        "destroy": "A config that clusters use cannot be deleted (409, 21008).",
    }
    extra_errors = {
        "create": (Code.CLUSTER_CONFIG_SETTING_EXISTS,),
        "destroy": (Code.CLUSTER_CONFIG_IN_USE,),
    }

    examples = {
        "create": {
            "name": "shoes",
            "settings": [
                {"attributeName": "SIZE", "displayType": "dropdown", "priority": 1},
                {"attributeName": "COLOR", "displayType": "color", "priority": 2},
            ],
        },
        # The name cannot change: sending the stored one is accepted, another is refused.
        "partial_update": {"name": "shoes"},
        "search": {"filters": {"names": ["shoes"]}},
    }

    def relation_changes(self, item, changes, prefix):
        if item.settings is not UNSET:
            changes.relations["settings"] = [setting_changes(s) for s in item.settings]

    def present_computed(self, records, *, language, expands):
        settings: dict[int, list[dict]] = defaultdict(list)
        for setting in ClusterConfigSetting.objects.filter(
            config_id__in=[record.pk for record in records]
        ).order_by("priority", "id"):
            settings[setting.config_id].append(present_setting(setting))
        return [{"settings": settings.get(record.pk, [])} for record in records]


CONFIGS_RESOURCE = ClusterConfigs()


class Clusters(Resource):
    name = "clusters"
    spec = CLUSTERS
    scope = "cluster"
    writes = CLUSTER_WRITES
    lookup = Lookup(
        entity="Cluster",
        keys={
            "id": LookupKind(field="pk"),
            "sourceId": SOURCE_KEY,
            "code": LookupKind(field="code"),
        },
        not_found=Code.CLUSTER_NOT_FOUND,
        multiple_found=Code.CLUSTER_MULTIPLE_FOUND,
    )
    bulk_keys = {"id": ("id",), "sourceId": ("source", "sourceId"), "code": ("code",)}
    bulk_limit = 1000
    filterset = ClusterFilterSet
    expands = frozenset({"products", "options", "clusterConfig", "categories", "defaultProduct"})
    fields = (
        Field("code", "code", Text(255), "Unique when set."),
        Field("clusterConfigId", "config_id", RecordId(nullable=False), "Required on create."),
        Field(
            "defaultProductId",
            "default_product_id",
            RecordId(),
            "The variant chosen first; one of the cluster's products.",
        ),
        Field("hidden", "hidden", YesNo()),
        Field("priority", "priority", Integer()),
    )
    relation_fields = {"parent": RecordReference | None}
    computed = {
        "parent": {
            "oneOf": [_ref("IdReference"), _ref("Category"), {"type": "null"}],
            "description": (
                "The primary category: `{id}`, the whole category with `expands=categories`, "
                "or null."
            ),
        },
        "productIds": {"type": "array", "items": {"type": "integer"}},
        "optionIds": {"type": "array", "items": {"type": "integer"}},
        "categoryIds": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "Every category the cluster is in, the primary one first.",
        },
    }
    expanded = {
        "products": {"type": "array", "items": _ref("Product")},
        "options": {"type": "array", "items": _ref("ClusterOption")},
        "clusterConfig": _ref("ClusterConfig"),
        "categories": {"type": "array", "items": _ref("AssignedCategory")},
        "defaultProduct": {"oneOf": [_ref("Product"), {"type": "null"}]},
    }
    descriptions = {
        "create": (
            "`clusterConfigId` is required; `parent` names the primary category. "
            "`defaultProductId` must be one of the cluster's products."
        ),
        "partial_update": "Partial update; `parent` replaces the primary category.",
        "destroy": (
            "Its products move to the cluster's primary category (without one they have none); "
            "its options are deleted."
        ),
    }
    extra_errors = {
        "create": (Code.PARENT_CATEGORY_NOT_FOUND, Code.CLUSTER_CONFIG_NOT_FOUND),
        "partial_update": (Code.PARENT_CATEGORY_NOT_FOUND, Code.CLUSTER_CONFIG_NOT_FOUND),
    }

    examples = {
        "create": {
            "source": "erp",
            "sourceId": "CL-RUNNER",
            "code": "RUNNER",
            "clusterConfigId": 3,
            "names": [
                {"language": "EN", "value": "Trail runner"},
                {"language": "NL", "value": "Trailschoen"},
            ],
            "parent": {"source": "erp", "sourceId": "CAT-SHOES"},
        },
        "partial_update": {"defaultProductId": 1205, "hidden": "N"},
        "search": {
            "filters": {"term": "runner", "clusterConfigIds": [3]},
            "sort": [{"field": "code", "order": "ASC"}],
            "expands": ["products"],
        },
        "bulk_delete": {"clusters": [{"source": "erp", "sourceId": "CL-RUNNER"}]},
    }

    def relation_changes(self, item, changes, prefix):
        if item.parent is not UNSET:
            own_source = item.source if item.source is not UNSET else None
            changes.relations["parent"] = reference(item.parent, f"{prefix}parent", own_source)

    def annotate(self, queryset):
        return queryset.annotate(
            category_links=ArraySubquery(
                ClusterCategory.objects.filter(cluster_id=OuterRef("pk"))
                .order_by("-is_primary", "category_id")
                .values_list(JSONObject(c="category_id", p="is_primary"))
            ),
            product_ids=ArraySubquery(
                Product.objects.filter(cluster_id=OuterRef("pk")).order_by("pk").values("pk")
            ),
            option_ids=ArraySubquery(
                ClusterOption.objects.filter(cluster_id=OuterRef("pk"))
                .order_by("sort_order", "pk")
                .values("pk")
            ),
        )

    def present_computed(self, records, *, language, expands):
        from api.resources.products import PRODUCTS_RESOURCE

        related = _Related(language)
        if "categories" in expands:
            related.load(
                "categories",
                CATEGORIES_RESOURCE,
                {link["c"] for r in records for link in _decoded(r.category_links)},
            )
        if "products" in expands or "defaultProduct" in expands:
            ids = set()
            if "products" in expands:
                ids |= {pk for r in records for pk in r.product_ids}
            if "defaultProduct" in expands:
                ids |= {r.default_product_id for r in records if r.default_product_id}
            related.load("products", PRODUCTS_RESOURCE, ids)
        if "options" in expands:
            related.load("options", OPTIONS_RESOURCE, {pk for r in records for pk in r.option_ids})
        if "clusterConfig" in expands:
            related.load("configs", CONFIGS_RESOURCE, {r.config_id for r in records})
        result = []
        for record in records:
            links = _decoded(record.category_links)
            primary = links[0]["c"] if links and links[0]["p"] else None
            row = {
                "parent": {"id": primary} if primary else None,
                "productIds": list(record.product_ids),
                "optionIds": list(record.option_ids),
                "categoryIds": [link["c"] for link in links],
            }
            if "products" in expands:
                row["products"] = related.pick("products", record.product_ids)
            if "options" in expands:
                row["options"] = related.pick("options", record.option_ids)
            if "clusterConfig" in expands:
                row["clusterConfig"] = related.get("configs", record.config_id)
            if "defaultProduct" in expands:
                row["defaultProduct"] = related.get("products", record.default_product_id)
            if "categories" in expands:
                row["categories"] = [
                    {**related.get("categories", link["c"]), "isPrimary": link["p"]}
                    for link in links
                    if related.get("categories", link["c"])
                ]
            result.append(row)
        return result


class _Related:
    """Related records of a page, each kind loaded and presented once."""

    def __init__(self, language):
        self.language = language
        self.rows: dict[str, dict[int, dict]] = defaultdict(dict)

    def load(self, kind: str, resource: Resource, ids) -> None:
        ids = {pk for pk in ids if pk}
        if ids:
            records = list(resource.queryset().filter(pk__in=ids))
            for row in resource.present(records, language=self.language):
                self.rows[kind][row["id"]] = row

    def get(self, kind: str, pk):
        return self.rows[kind].get(pk) if pk else None

    def pick(self, kind: str, ids) -> list[dict]:
        return [self.rows[kind][pk] for pk in ids if pk in self.rows[kind]]


CLUSTERS_RESOURCE = Clusters()


class ClusterOptions(Resource):
    name = "clusteroptions"
    spec = CLUSTER_OPTIONS
    scope = "cluster"
    writes = CLUSTER_OPTION_WRITES
    lookup = Lookup(
        entity="ClusterOption",
        keys={"id": LookupKind(field="pk"), "sourceId": SOURCE_KEY},
        not_found=Code.CLUSTER_OPTION_NOT_FOUND,
    )
    bulk_keys = {"id": ("id",), "sourceId": ("source", "sourceId")}
    bulk_limit = 1000
    filterset = ClusterOptionFilterSet
    expands = frozenset({"products", "defaultProduct"})
    actions = frozenset(
        {"list", "search", "export", "retrieve", "partial_update", "destroy", "remove_translation"}
    )
    fields = (
        Field(
            "isRequired",
            "is_required",
            Flag(),
            'Whether the customer must pick a product; "Y"/"N" are accepted too.',
        ),
        Field("hidden", "hidden", YesNo()),
        Field("sortOrder", "sort_order", Integer(), "Position among the cluster's options."),
        Field(
            "defaultProductId",
            "default_product_id",
            RecordId(),
            "The product chosen first; one of the selectable products.",
        ),
    )
    relation_fields = {"productIds": list[Annotated[int, Meta(ge=1)]]}
    computed = {
        "clusterId": {"type": "integer", "description": "The cluster the option belongs to."},
        "productIds": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "The products a customer may pick; on write, the whole set.",
        },
    }
    expanded = {
        "products": {"type": "array", "items": _ref("Product")},
        "defaultProduct": {"oneOf": [_ref("Product"), {"type": "null"}]},
    }
    descriptions = {
        "partial_update": "Partial update; `productIds` replaces the selectable products.",
        "destroy": "Its products stay in the catalogue.",
    }
    extra_errors = {"partial_update": (Code.PRODUCT_NOT_FOUND,)}

    examples = {
        "partial_update": {"isRequired": "Y", "sortOrder": 2, "defaultProductId": 1310},
        "search": {"filters": {"hidden": "N"}, "sort": [{"field": "id", "order": "DESC"}]},
        "bulk_upsert": {
            "clusteroptions": [
                {
                    "source": "erp",
                    "sourceId": "OPT-WARRANTY",
                    "names": [{"language": "EN", "value": "Extended warranty"}],
                    "isRequired": "N",
                    "sortOrder": 1,
                }
            ]
        },
    }

    def relation_changes(self, item, changes, prefix):
        if item.productIds is not UNSET:
            changes.relations["products"] = list(item.productIds)

    def annotate(self, queryset):
        return queryset.annotate(
            product_ids=ArraySubquery(
                ClusterOptionProduct.objects.filter(option_id=OuterRef("pk"))
                .order_by("product_id")
                .values("product_id")
            )
        )

    def present_computed(self, records, *, language, expands):
        from api.resources.products import PRODUCTS_RESOURCE

        related = _Related(language)
        ids = set()
        if "products" in expands:
            ids |= {pk for r in records for pk in r.product_ids}
        if "defaultProduct" in expands:
            ids |= {r.default_product_id for r in records if r.default_product_id}
        related.load("products", PRODUCTS_RESOURCE, ids)
        result = []
        for record in records:
            row = {"clusterId": record.cluster_id, "productIds": list(record.product_ids)}
            if "products" in expands:
                row["products"] = related.pick("products", record.product_ids)
            if "defaultProduct" in expands:
                row["defaultProduct"] = related.get("products", record.default_product_id)
            result.append(row)
        return result


OPTIONS_RESOURCE = ClusterOptions()
