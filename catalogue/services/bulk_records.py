"""Record-level pieces of bulk planning that every entity shares.

A `RecordSpec` names an entity's model, its external-source table and its error codes; the
functions here read current rows, merge item changes into them, and check source pairs and
slugs for a whole batch in a few queries.
"""

from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings

from catalogue.errors import CatalogueError, Code
from catalogue.localized import localized_fields
from catalogue.models import Category, CategorySource
from catalogue.models.base import default_language
from catalogue.services.bulk import BulkItem, Directives
from catalogue.services.slugs import allocate_slugs


@dataclass(frozen=True)
class RecordSpec:
    model: type
    source_model: type
    entity: str
    exists: Code
    not_found: Code
    multiple_found: Code | None
    # Columns the engine never writes from item data (maintained elsewhere or generated).
    skipped_columns: frozenset = frozenset({"id"})

    def columns(self) -> list[str]:
        return [
            f.column
            for f in self.model._meta.concrete_fields
            if f.column not in self.skipped_columns
        ]

    def defaults(self) -> dict:
        row = {column: None for column in self.columns()}
        for f in self.model._meta.concrete_fields:
            if f.column in row:
                row[f.column] = f.get_default()
        row["language"] = default_language()
        return row

    def localized_columns(self) -> list[str]:
        return [
            f"{name}_{code}"
            for name in localized_fields(self.model)
            for code, _ in settings.LANGUAGES
        ]


def describe(lookup_key: str, key) -> str:
    if lookup_key == "sourceId":
        return f"sourceId [{key[1]}] and source [{key[0]}]"
    if lookup_key == "supplierCode":
        return f"supplierCode [{key[1]}] and supplier [{key[0]}]"
    return f"{lookup_key} [{key}]"


def match_common(spec: RecordSpec, items: list[BulkItem], lookup_key: str) -> dict:
    """Map item keys to record ids for the `id` and `sourceId` lookup keys (one query)."""
    keys = [item.key for item in items if item.pending]
    found: dict = defaultdict(list)
    if not keys:
        return found
    if lookup_key == "id":
        for pk in spec.model.objects.filter(pk__in=keys).values_list("pk", flat=True):
            found[pk].append(pk)
    elif lookup_key == "sourceId":
        rows = spec.source_model.objects.filter(
            source__in={k[0] for k in keys}, source_id__in=[k[1] for k in keys]
        ).values_list("source", "source_id", "owner_id")
        for source, source_id, owner in rows:
            found[(source, source_id)].append(owner)
    else:
        raise ValueError(lookup_key)
    return found


def apply_matches(
    spec: RecordSpec, items: list[BulkItem], found: dict, lookup_key: str, directives: Directives
) -> None:
    """Give each pending item its record id, or an error for several matches, or a skip."""
    for item in items:
        if not item.pending:
            continue
        ids = found.get(item.key, [])
        if len(ids) > 1:
            item.fail(
                CatalogueError(
                    spec.multiple_found,
                    f"More than one {spec.entity} with {describe(lookup_key, item.key)} found",
                )
            )
        elif ids:
            item.record_id = ids[0]
        elif directives.skip_create:
            item.action = "skip"


def plan_deletes(spec: RecordSpec, items: list[BulkItem], found: dict, lookup_key: str) -> None:
    for item in items:
        if not item.pending:
            continue
        ids = found.get(item.key, [])
        if not ids:
            item.fail(
                CatalogueError(
                    spec.not_found, f"{spec.entity} with {describe(lookup_key, item.key)} not found"
                )
            )
        elif len(ids) > 1:
            item.fail(
                CatalogueError(
                    spec.multiple_found,
                    f"More than one {spec.entity} with {describe(lookup_key, item.key)} found",
                )
            )
        else:
            item.record_id, item.action = ids[0], "delete"


def load_current(spec: RecordSpec, ids: list[int]) -> tuple[dict, dict]:
    """Current rows and source pairs of the records, two queries."""
    rows = {
        row["id"]: row
        for row in spec.model.objects.filter(pk__in=ids).values("id", *spec.columns())
    }
    sources: dict[int, list[tuple]] = defaultdict(list)
    for owner, source, source_id in (
        spec.source_model.objects.filter(owner_id__in=ids)
        .order_by("owner_id", "position", "id")
        .values_list("owner_id", "source", "source_id")
    ):
        sources[owner].append((source, source_id))
    return rows, sources


def _has_value(value) -> bool:
    return value not in (None, "", [], {})


def merge_row(
    spec: RecordSpec, item: BulkItem, current: dict | None, directives: Directives
) -> dict:
    """The row the item asks for: current values (or defaults) with the item's changes."""
    existing = current is not None
    row = dict(current) if existing else spec.defaults()
    skip = directives.skip_if_not_empty if existing else frozenset()
    for name, value in item.changes.fields.items():
        column = spec.model._meta.get_field(name).column
        if name in skip and _has_value(row[column]):
            continue
        row[column] = value
    for name, per_language in item.changes.localized.items():
        if existing and directives.merge_translations_on_update:
            for code, _ in settings.LANGUAGES:
                if code.upper() not in per_language:
                    row[f"{name}_{code}"] = ""
        for language, value in per_language.items():
            column = f"{name}_{language.lower()}"
            if name in skip and row.get(column):
                continue
            row[column] = value
    for column in spec.localized_columns():
        if row.get(column) is None:
            row[column] = ""
    return row


def require_default_name(spec: RecordSpec, item: BulkItem) -> bool:
    row = item.extra["row"]
    if row.get(f"name_{row['language'].lower()}"):
        return True
    item.fail(
        CatalogueError(
            Code.PAYLOAD_VALIDATION,
            f"names: a value in the {spec.entity.lower()} default language {row['language']} "
            "is required",
        )
    )
    return False


def wanted_sources(item: BulkItem, current: list[tuple]) -> list[tuple]:
    changes = item.changes
    if changes.sources is not None:
        return list(dict.fromkeys(changes.sources))
    return current + [pair for pair in dict.fromkeys(changes.add_sources) if pair not in current]


def resolve_category_refs(refs) -> dict:
    """Map category references (by id or source pair) to ids of existing categories."""
    refs = {ref for ref in refs if ref is not None}
    ids = {ref.id for ref in refs if ref.id is not None}
    pairs = {(ref.source, ref.source_id) for ref in refs if ref.id is None}
    known = set(Category.objects.filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()
    by_pair = {}
    if pairs:
        rows = CategorySource.objects.filter(
            source__in={p[0] for p in pairs}, source_id__in=[p[1] for p in pairs]
        ).values_list("source", "source_id", "owner_id")
        by_pair = {(s, i): owner for s, i, owner in rows}
    return {
        ref: ref.id if ref.id in known else by_pair.get((ref.source, ref.source_id)) for ref in refs
    }


def row_changed(item: BulkItem, current: dict, ignored=("last_modified_at",)) -> bool:
    row = item.extra["row"]
    return any(row[column] != current[column] for column in row if column not in ignored)


def check_sources(spec: RecordSpec, items: list[BulkItem]) -> None:
    """A source pair of another record (or of an earlier item) fails the item with Exists."""
    wanted = {
        pair: item
        for item in items
        if item.pending and item.extra["sources_changed"]
        for pair in item.extra["sources"]
    }
    if not wanted:
        return
    owners = {
        (source, source_id): owner
        for source, source_id, owner in spec.source_model.objects.filter(
            source__in={p[0] for p in wanted}, source_id__in=[p[1] for p in wanted]
        ).values_list("source", "source_id", "owner_id")
    }
    claimed: dict[tuple, int] = {}
    released = {
        pair
        for item in items
        if item.pending and item.extra["sources_changed"] and item.record_id
        for pair in owners
        if owners[pair] == item.record_id and pair not in item.extra["sources"]
    }
    for item in items:
        if not item.pending or not item.extra["sources_changed"]:
            continue
        for pair in item.extra["sources"]:
            owner = owners.get(pair)
            taken_by_other = owner is not None and owner != item.record_id and pair not in released
            if taken_by_other or claimed.get(pair, item.index) != item.index:
                item.fail(
                    CatalogueError(
                        spec.exists,
                        f"{spec.entity} with sourceId [{pair[1]}] and source [{pair[0]}] already exists",
                    )
                )
                break
        else:
            for pair in item.extra["sources"]:
                claimed[pair] = item.index


def plan_slugs(spec: RecordSpec, items: list[BulkItem]) -> None:
    """Check given slugs against other records and earlier items; generate missing ones."""
    for code, _ in settings.LANGUAGES:
        column = f"slug_{code}"
        given = {}
        for item in items:
            if not item.pending:
                continue
            slug = item.extra["row"].get(column)
            explicit = code.upper() in item.changes.localized.get("slug", {})
            if slug and explicit:
                given.setdefault(slug, []).append(item)
        if given:
            owners = dict(
                spec.model.objects.filter(**{f"{column}__in": list(given)}).values_list(
                    column, "pk"
                )
            )
            for slug, claimants in given.items():
                for position, item in enumerate(claimants):
                    owner = owners.get(slug)
                    if (owner is not None and owner != item.record_id) or position > 0:
                        item.fail(
                            CatalogueError(
                                spec.exists,
                                f"{spec.entity} with slug [{slug}] in language [{code.upper()}] "
                                "already exists",
                            )
                        )
        missing = [
            (item.index, item.extra["row"][f"name_{code}"])
            for item in items
            if item.pending
            and not item.extra["row"].get(column)
            and item.extra["row"].get(f"name_{code}")
        ]
        if missing:
            allocated = allocate_slugs(spec.model, code, missing)
            for item in items:
                if item.index in allocated:
                    item.extra["row"][column] = allocated[item.index]
