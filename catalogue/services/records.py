"""Planning pieces every entity shares, and single-record writes as batches of one.

A planner matches items to records, reads the current rows (locked, in id order, so
concurrent writers never deadlock), merges each item's changes into its row and applies the
rules of catalogue/rules.py. A single create, update, delete or translation removal is the
same plan and write for one item: there is one path into the data.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from catalogue.errors import CatalogueError, Code
from catalogue.localized import localized_fields
from catalogue.records import RecordChanges, RecordSpec, describe_key
from catalogue.services.bulk import BulkItem, Directives


def match_keys(spec: RecordSpec, items: list[BulkItem], lookup_key: str) -> dict:
    """Map item keys to record ids for the `id` and `sourceId` lookup keys (one query)."""
    keys = [item.key for item in items if item.pending and item.key is not None]
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


def _several(spec: RecordSpec, lookup_key: str, key) -> CatalogueError:
    return CatalogueError(
        spec.multiple_found,
        f"More than one {spec.entity} with {describe_key(lookup_key, key)} found",
    )


def apply_matches(
    spec: RecordSpec, items: list[BulkItem], found: dict, lookup_key: str, directives: Directives
) -> None:
    """Give each pending item its record id, or an error for several matches, or a skip."""
    for item in items:
        if not item.pending:
            continue
        ids = found.get(item.key, []) if item.key is not None else []
        if len(ids) > 1:
            item.fail(_several(spec, lookup_key, item.key))
        elif ids:
            item.record_id = ids[0]
        elif item.must_exist:
            item.fail(spec.not_found_error(describe_key(lookup_key, item.key)))
        elif directives.skip_create:
            item.action = "skip"


def plan_deletes(spec: RecordSpec, items: list[BulkItem], found: dict, lookup_key: str) -> None:
    for item in items:
        if not item.pending:
            continue
        ids = found.get(item.key, [])
        if not ids:
            item.fail(spec.not_found_error(describe_key(lookup_key, item.key)))
        elif len(ids) > 1:
            item.fail(_several(spec, lookup_key, item.key))
        else:
            item.record_id, item.action = ids[0], "delete"
    existing = lock_rows(spec, [item.record_id for item in items if item.action == "delete"])
    for item in items:
        if item.action == "delete" and item.record_id not in existing:  # deleted meanwhile
            item.fail(spec.not_found_error(describe_key(lookup_key, item.key)))


def lock_rows(spec: RecordSpec, ids: list[int]) -> set[int]:
    """Lock the records' rows until commit, in id order; return the ids that still exist."""
    if not ids:
        return set()
    return set(
        spec.model.objects.filter(pk__in=ids)
        .order_by("pk")
        .select_for_update(no_key=True)
        .values_list("pk", flat=True)
    )


def load_current(spec: RecordSpec, ids: list[int]) -> tuple[dict, dict]:
    """Current rows (locked, in id order) and source pairs of the records; two queries."""
    rows = {
        row["id"]: row
        for row in spec.model.objects.filter(pk__in=ids)
        .order_by("pk")
        .select_for_update(no_key=True)
        .values("id", *spec.columns())
    }
    sources: dict[int, list[tuple]] = defaultdict(list)
    if spec.source_model is not None and rows:
        for owner, source, source_id in (
            spec.source_model.objects.filter(owner_id__in=list(rows))
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
    languages = [code for code, _ in settings.LANGUAGES]
    for name, per_language in item.changes.localized.items():
        if existing and directives.merge_translations_on_update:
            for code in languages:
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


def row_changed(item: BulkItem, current: dict, ignored=("last_modified_at",)) -> bool:
    row = item.extra["row"]
    return any(row[column] != current[column] for column in row if column not in ignored)


# Single-record writes ------------------------------------------------------------------------

Upsert = Callable[..., list[BulkItem]]


def write_one(upsert: Upsert, *, changes: RecordChanges, record_id: int | None = None) -> int:
    """Create (no `record_id`) or update one record through the entity's bulk planner.

    Raises the item's error, so a single write fails exactly as that item of a bulk would.
    """
    item = BulkItem(
        index=0,
        key=record_id,
        key_value=record_id,
        changes=changes,
        must_exist=record_id is not None,
    )
    upsert(items=[item], lookup_key="id", directives=Directives())
    if item.error is not None:
        raise item.error
    return item.record_id


def delete_one(delete: Upsert, *, record_id: int) -> None:
    """Delete one record through the entity's bulk delete."""
    item = BulkItem(index=0, key=record_id, key_value=record_id)
    delete(items=[item], lookup_key="id")
    if item.error is not None:
        raise item.error


def remove_translation(spec: RecordSpec, upsert: Upsert, *, record_id: int, language: str) -> None:
    """Clear `language` in every localized field of a record (never its default language)."""
    fields = localized_fields(spec.model)
    suffix = language.lower()
    with transaction.atomic():
        row = (
            spec.model.objects.filter(pk=record_id)
            .select_for_update(no_key=True)
            .values("language", *(f"{name}_{suffix}" for name in fields))
            .first()
        )
        if row is None:
            raise spec.not_found_error(describe_key("id", record_id))
        if language == row["language"]:
            raise CatalogueError(
                Code.PAYLOAD_VALIDATION,
                f"Cannot delete the default language {language} of this {spec.noun}",
            )
        cleared = {name: {language: ""} for name in fields if row[f"{name}_{suffix}"]}
        if not cleared:
            raise CatalogueError(
                Code.TRANSLATION_NOT_FOUND,
                f"{spec.entity} with id [{record_id}] has no translation in language [{language}]",
            )
        write_one(upsert, changes=RecordChanges(localized=cleared), record_id=record_id)


@dataclass(frozen=True)
class RecordWrites:
    """The single-record writes of an entity, all through its bulk planner and writer."""

    spec: RecordSpec
    bulk_upsert: Upsert
    bulk_delete: Upsert

    def create(self, *, changes: RecordChanges) -> int:
        return write_one(self.bulk_upsert, changes=changes)

    def update(self, *, record_id: int, changes: RecordChanges) -> int:
        return write_one(self.bulk_upsert, changes=changes, record_id=record_id)

    def delete(self, *, record_id: int) -> None:
        delete_one(self.bulk_delete, record_id=record_id)

    def remove_translation(self, *, record_id: int, language: str) -> None:
        remove_translation(self.spec, self.bulk_upsert, record_id=record_id, language=language)
