"""Categories: a tree of localized records."""

from collections import defaultdict

from django.conf import settings
from msgspec import UNSET

from api.filters import CategoryFilterSet
from api.lookups import SOURCE_KEY, Lookup, LookupKind
from api.resources.base import RecordReference, Resource, reference
from api.resources.fields import Field, Integer, YesNo
from catalogue.errors import Code
from catalogue.selectors.categories import ancestor_ids, with_child_counts
from catalogue.selectors.counts import subtree_item_counts
from catalogue.services.categories import CATEGORIES, CATEGORY_WRITES


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


class Categories(Resource):
    name = "categories"
    spec = CATEGORIES
    scope = "category"
    writes = CATEGORY_WRITES
    lookup = Lookup(
        entity="Category",
        keys={"id": LookupKind(field="pk"), "sourceId": SOURCE_KEY},
        not_found=Code.CATEGORY_NOT_FOUND,
        multiple_found=Code.CATEGORY_MULTIPLE_FOUND,
    )
    bulk_keys = {"id": ("id",), "sourceId": ("source", "sourceId")}
    bulk_limit = 1000
    filterset = CategoryFilterSet
    expands = frozenset({"parent", "children", "path"})
    fields = (
        Field("hidden", "hidden", YesNo()),
        Field("priority", "priority", Integer(), "Order among siblings."),
    )
    relation_fields = {"parent": RecordReference | None}
    computed = {
        "parent": {
            "oneOf": [_ref("IdReference"), _ref("Category"), {"type": "null"}],
            "description": "`{id}`, the whole parent with `expands=parent`, null for a root.",
        },
        "level": {"type": "integer", "minimum": 0, "description": "0 for roots."},
        "path": {
            "type": "array",
            "items": {"oneOf": [{"type": "integer"}, _ref("Category")]},
            "description": "Ancestors root-first: ids, or whole categories with `expands=path`.",
        },
        "childCount": {"type": "integer", "minimum": 0},
        "productCount": {
            "type": "integer",
            "minimum": 0,
            "description": "Products and clusters in the subtree.",
        },
    }
    expanded = {
        "children": {
            "type": "array",
            "items": _ref("Category"),
            "description": "Direct children; only with `expands=children`.",
        }
    }
    descriptions = {
        "create": "Without `parent` the category is a root.",
        "partial_update": (
            "Partial update. A new `parent` moves the whole subtree; `parent: null` makes it "
            "a root."
        ),
        "destroy": "Only an empty leaf: no children, products or clusters.",
    }
    extra_errors = {
        "create": (Code.PARENT_CATEGORY_NOT_FOUND,),
        "partial_update": (Code.PARENT_CATEGORY_NOT_FOUND, Code.CATEGORY_CYCLE),
        "destroy": (Code.CATEGORY_NOT_EMPTY,),
    }

    examples = {
        "create": {
            "source": "erp",
            "sourceId": "CAT-VALVES",
            "names": [
                {"language": "EN", "value": "Valves"},
                {"language": "NL", "value": "Kranen"},
                {"language": "DE", "value": "Ventile"},
            ],
            "parent": {"source": "erp", "sourceId": "CAT-PLUMBING"},
        },
        "partial_update": {"parent": {"id": 7}, "priority": 2},
        "search": {
            "filters": {"term": "valves", "parentIds": [7]},
            "sort": [{"field": "name", "order": "ASC"}],
            "language": "DE",
            "expands": ["path"],
        },
        "bulk_upsert": {
            "categories": [
                {
                    "source": "erp",
                    "sourceId": "CAT-PLUMBING",
                    "names": [{"language": "EN", "value": "Plumbing"}],
                },
                {
                    "source": "erp",
                    "sourceId": "CAT-VALVES",
                    "names": [{"language": "EN", "value": "Valves"}],
                    "parent": {"source": "erp", "sourceId": "CAT-PLUMBING"},
                },
            ]
        },
        "bulk_delete": {"categories": [{"source": "erp", "sourceId": "CAT-VALVES"}]},
    }

    def relation_changes(self, item, changes, prefix):
        if item.parent is not UNSET:
            own_source = item.source if item.source is not UNSET else None
            changes.relations["parent"] = reference(item.parent, f"{prefix}parent", own_source)

    def annotate(self, queryset):
        return with_child_counts(queryset)

    def present_computed(self, records, *, language, expands):
        ids = [record.pk for record in records]
        paths = ancestor_ids(ids)
        counts = subtree_item_counts(ids)
        related: dict[int, dict] = {}
        related_ids = set()
        if "parent" in expands:
            related_ids |= {record.parent_id for record in records if record.parent_id}
        if "path" in expands:
            related_ids |= {ancestor for path in paths.values() for ancestor in path}
        if related_ids:
            others = list(self.queryset().filter(pk__in=related_ids))
            related = {row["id"]: row for row in self.present(others, language=language)}
        children: dict[int, list[dict]] = defaultdict(list)
        if "children" in expands:
            kids = list(
                self.queryset()
                .filter(parent_id__in=ids)
                .order_by("priority", f"name_{settings.LANGUAGE_CODE}", "id")
            )
            for row in self.present(kids, language=language):
                children[row["parent"]["id"]].append(row)
        result = []
        for record in records:
            path = paths.get(record.pk, [])
            row = {
                "parent": {"id": record.parent_id} if record.parent_id else None,
                "level": record.level,
                "path": path,
                "childCount": getattr(record, "child_count", 0),
                "productCount": counts.get(record.pk, 0),
            }
            if "parent" in expands and record.parent_id:
                row["parent"] = related.get(record.parent_id)
            if "path" in expands:
                row["path"] = [related[ancestor] for ancestor in path if ancestor in related]
            if "children" in expands:
                row["children"] = children.get(record.pk, [])
            result.append(row)
        return result


CATEGORIES_RESOURCE = Categories()
