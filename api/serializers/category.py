"""Category input Struct and output representation."""

from collections import defaultdict
from typing import Annotated, Any

from msgspec import UNSET, Meta, UnsetType

from api.envelope import iso
from api.serializers.common import (
    LocalizedWrite,
    ParentReference,
    YesNo,
    common_changes,
    flag,
    yes_no,
)
from api.serializers.read import localized_block, sources_block
from catalogue.errors import CatalogueError, Code
from catalogue.localized import localized_fields
from catalogue.models import Category, CategorySource
from catalogue.selectors.categories import ancestor_ids, with_child_counts
from catalogue.selectors.counts import subtree_product_counts
from catalogue.services.category import ParentRef
from catalogue.services.common import RecordChanges

CATEGORY_EXPANDS = {"parent", "children", "path"}


class CategoryWrite(LocalizedWrite, kw_only=True):
    hidden: YesNo | UnsetType = UNSET
    priority: Annotated[int, Meta(ge=-(2**31), le=2**31 - 1)] | UnsetType = UNSET
    parent: ParentReference | UnsetType | None = UNSET
    # Read-only fields a client may send back unchanged; they are ignored.
    level: Any = UNSET
    path: Any = UNSET
    childCount: Any = UNSET
    productCount: Any = UNSET


def parent_ref(value: ParentReference | None, prefix: str = "", own_source: str | None = None):
    if value is None:
        return None
    if value.id is not UNSET:
        return ParentRef(id=value.id)
    if value.sourceId is not UNSET:
        source = value.source if value.source is not UNSET else own_source
        if source is None:
            raise CatalogueError(
                Code.PAYLOAD_VALIDATION, f"{prefix}parent.source: required with parent.sourceId"
            )
        return ParentRef(source=source, source_id=value.sourceId)
    raise CatalogueError(
        Code.PAYLOAD_VALIDATION, f"{prefix}parent: give either id or sourceId and source"
    )


def category_changes(item: CategoryWrite, prefix: str = "") -> RecordChanges:
    changes = common_changes(item, prefix)
    if item.hidden is not UNSET:
        changes.fields["hidden"] = yes_no(item.hidden)
    if item.priority is not UNSET:
        changes.fields["priority"] = item.priority
    if item.parent is not UNSET:
        own_source = item.source if item.source is not UNSET else None
        changes.relations["parent"] = parent_ref(item.parent, prefix, own_source)
    return changes


def category_queryset():
    return with_child_counts(Category.objects.all())


def _sources_by_owner(ids) -> dict[int, list[tuple[str, str]]]:
    pairs: dict[int, list[tuple[str, str]]] = defaultdict(list)
    rows = (
        CategorySource.objects.filter(owner_id__in=list(ids))
        .order_by("owner_id", "position", "id")
        .values_list("owner_id", "source", "source_id")
    )
    for owner_id, source, source_id in rows:
        pairs[owner_id].append((source, source_id))
    return pairs


def present_categories(records: list[Category], *, language=None, expands=frozenset()) -> list:
    """Build the API representation of categories in a constant number of queries."""
    if not records:
        return []
    ids = [record.pk for record in records]
    sources = _sources_by_owner(ids)
    paths = ancestor_ids(ids)
    counts = subtree_product_counts(ids)
    related: dict[int, dict] = {}
    related_ids = set()
    if "parent" in expands:
        related_ids |= {record.parent_id for record in records if record.parent_id}
    if "path" in expands:
        related_ids |= {ancestor for path in paths.values() for ancestor in path}
    if related_ids:
        others = list(category_queryset().filter(pk__in=related_ids))
        related = {row["id"]: row for row in present_categories(others, language=language)}
    children: dict[int, list[dict]] = defaultdict(list)
    if "children" in expands:
        kids = list(
            category_queryset()
            .filter(parent_id__in=ids)
            .order_by("priority", "name_" + _default(), "id")
        )
        for row in present_categories(kids, language=language):
            children[row["parent"]["id"]].append(row)
    result = []
    for record in records:
        row = _present(
            record, language, sources.get(record.pk, []), paths.get(record.pk, []), counts
        )
        if "parent" in expands and record.parent_id:
            row["parent"] = related.get(record.parent_id)
        if "path" in expands:
            row["path"] = [related[ancestor] for ancestor in row["path"] if ancestor in related]
        if "children" in expands:
            row["children"] = children.get(record.pk, [])
        result.append(row)
    return result


def _default() -> str:
    from django.conf import settings

    return settings.LANGUAGE_CODE


def _present(record: Category, language, pairs, path, counts) -> dict:
    row = record.__dict__
    return {
        "id": record.pk,
        "language": record.language,
        **localized_block(row, localized_fields(Category), record.language, language),
        "hidden": flag(record.hidden),
        "priority": record.priority,
        "parent": {"id": record.parent_id} if record.parent_id else None,
        **sources_block(pairs),
        "level": record.level,
        "path": path,
        "childCount": getattr(record, "child_count", 0),
        "productCount": counts.get(record.pk, 0),
        "createdAt": iso(record.created_at),
        "lastModifiedAt": iso(record.last_modified_at),
    }
