"""Planning pieces every entity shares, and single-record writes as batches of one.

A planner matches items to records, reads the current rows (locked, in id order, so
concurrent writers never deadlock), merges each item's changes into its row and applies the
rules of catalogue/rules.py. A single create, update, delete or translation removal is the
same plan and write for one item: there is one path into the data.
"""

import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from catalogue import rules
from catalogue.errors import CatalogueError, Code
from catalogue.indexed import INDEXED
from catalogue.localized import localized_fields
from catalogue.models.base import now_ms
from catalogue.records import RecordChanges, RecordSpec, describe_key
from catalogue.services import sql
from catalogue.services.bulk import BulkItem, Directives
from catalogue.services.search import write_documents


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


# Keys of records about to be created are locked by bucket: few enough locks per transaction
# for PostgreSQL's shared lock table, whatever the batch size.
KEY_BUCKETS = 128


def lock_keys(spec: RecordSpec, lookup_key: str, keys: list) -> bool:
    """Hold, until commit, locks covering these keys of records not found yet, taken in one
    order, so concurrent writers creating the same keys go one after the other (the second
    then finds and updates what the first created) and never deadlock. Returns whether it
    had to wait for any."""
    prefix = zlib.crc32(f"{spec.model._meta.db_table}:{lookup_key}".encode()) << 8
    buckets = sorted({zlib.crc32(repr(key).encode()) % KEY_BUCKETS for key in keys})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bool_or(NOT pg_try_advisory_xact_lock(%s + b)) FROM unnest(%s::bigint[]) AS b",
            [prefix, buckets],
        )
        (busy,) = cursor.fetchone()
        if busy:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s + b) FROM unnest(%s::bigint[]) AS b",
                [prefix, buckets],
            )
    return bool(busy)


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


# The shared plan and write ----------------------------------------------------------------


def plan_records(
    spec: RecordSpec,
    items: list[BulkItem],
    lookup_key: str,
    directives: Directives,
    *,
    match: Callable[[list[BulkItem]], dict],
    relate: Callable[[list[BulkItem], dict], None] | None = None,
) -> tuple[list[BulkItem], dict]:
    """The plan every entity shares, up to deciding the action.

    Items are matched (`match(items)`: key -> ids), their records locked and read, their
    changes merged into rows; then the rules: default-language name, source pairs, slugs.
    `relate` (pending items, current rows) resolves the entity's own relations in between, so
    an item whose relation fails goes no further. Returns the pending items and the current
    rows.
    """
    apply_matches(spec, items, match(items), lookup_key, directives)
    unmatched = [
        item for item in items if item.pending and item.record_id is None and item.key is not None
    ]
    if unmatched:
        lock_keys(spec, lookup_key, [item.key for item in unmatched])
        # A concurrent writer may have created some of them before we held the locks.
        apply_matches(spec, unmatched, match(unmatched), lookup_key, directives)
    pending = [item for item in items if item.pending]
    current_rows, current_sources = load_current(
        spec, [item.record_id for item in pending if item.record_id]
    )
    for item in pending:
        if item.record_id not in current_rows:  # no match, or deleted meanwhile
            if item.must_exist:
                item.fail(spec.not_found_error(describe_key(lookup_key, item.key)))
            item.record_id = None
        else:
            item.extra["current"] = current_rows[item.record_id]
        if item.pending:
            item.extra["row"] = merge_row(spec, item, current_rows.get(item.record_id), directives)
    if "name" in localized_fields(spec.model):
        rules.require_default_name(spec, pending)
    for item in pending:
        if item.pending and spec.source_model is not None:
            old_sources = current_sources.get(item.record_id, [])
            item.extra["sources"] = rules.wanted_sources(item, old_sources)
            item.extra["sources_changed"] = item.extra["sources"] != old_sources
        else:
            item.extra.setdefault("sources_changed", False)
    if relate is not None:
        relate(pending, current_rows)
    if spec.source_model is not None:
        rules.check_source_pairs(spec, pending)
    if "slug" in localized_fields(spec.model):
        rules.plan_slugs(spec, pending)
    return pending, current_rows


def decide(items: list[BulkItem]) -> None:
    """Create what has no current row, update the rest (noting whether the row changed)."""
    for item in items:
        if not item.pending:
            continue
        current = item.extra.get("current")
        if current is None:
            item.action = "create"
        else:
            item.action = "update"
            item.extra["row_changed"] = row_changed(item, current)


def write_records(
    spec: RecordSpec,
    items: list[BulkItem],
    *,
    changed: tuple[str, ...] = (),
    insert_defaults: dict | None = None,
    update_columns: tuple[str, ...] = (),
    prepare: Callable[[list[BulkItem], list[BulkItem], dict], None] | None = None,
) -> tuple[list[BulkItem], list[BulkItem]]:
    """Insert the created rows and update the changed ones, a statement each; replace the
    source sets that changed. An update is written when its row, its sources or one of the
    `changed` flags in its extra changed; unchanged items keep their lastModifiedAt.

    `prepare(creates, updates, new_ids)` fixes rows up once ids are known (`new_ids` maps
    ("new", index) to the id given to that item). Returns (creates, updates).
    """
    now = now_ms()
    creates = [item for item in items if item.action == "create"]
    updates = [
        item
        for item in items
        if item.action == "update"
        and (
            item.extra["row_changed"]
            or item.extra["sources_changed"]
            or any(item.extra.get(flag) for flag in changed)
        )
    ]
    ids = sql.allocate_ids(spec.model, len(creates))
    new_ids = {("new", item.index): pk for item, pk in zip(creates, ids, strict=True)}
    for item, pk in zip(creates, ids, strict=True):
        item.record_id = pk
        item.extra["row"].update(id=pk, created_at=now, last_modified_at=now)
        item.extra["row"].update(insert_defaults or {})
    for item in updates:
        item.extra["row"].update(id=item.record_id, last_modified_at=now)
    if prepare is not None:
        prepare(creates, updates, new_ids)
    columns = spec.columns()
    sql.insert_rows(
        spec.model,
        ["id", *columns, *(insert_defaults or {})],
        [item.extra["row"] for item in creates],
    )
    sql.update_rows(
        spec.model,
        [c for c in columns if c != "created_at"] + list(update_columns),
        [item.extra["row"] for item in updates],
    )
    if spec.source_model is not None:
        touched = creates + updates
        sql.replace_sources(
            spec.source_model,
            [item.record_id for item in touched if item.extra["sources_changed"]],
            {item.record_id: item.extra["sources"] for item in touched},
        )
    return creates, updates


def write_search_documents(kind: str, items: list[BulkItem]) -> None:
    """Write the search documents of written records of a kind (see INDEXED) whose names,
    codes or sources may have changed; the others keep theirs."""
    indexed = INDEXED[kind]
    changed = [
        item
        for item in items
        if item.action == "create" or item.extra["row_changed"] or item.extra["sources_changed"]
    ]
    write_documents(
        indexed.search_model,
        indexed.owner,
        [
            (item.record_id, indexed.document(item.extra["row"], item.extra["sources"]))
            for item in changed
        ],
    )


# Single-record writes ------------------------------------------------------------------------

Upsert = Callable[..., list[BulkItem]]


def plan_one(
    upsert: Upsert, *, changes: RecordChanges, record_id: int | None = None, dry_run: bool
) -> BulkItem:
    """Plan (and unless `dry_run`, write) a create (no `record_id`) or update of one record
    through the entity's bulk planner; the item carries the outcome."""
    item = BulkItem(
        index=0,
        key=record_id,
        key_value=record_id,
        changes=changes,
        must_exist=record_id is not None,
    )
    upsert(items=[item], lookup_key="id", directives=Directives(), dry_run=dry_run)
    return item


def write_one(upsert: Upsert, *, changes: RecordChanges, record_id: int | None = None) -> int:
    """Create or update one record; raises the item's error, so a single write fails exactly
    as that item of a bulk would."""
    item = plan_one(upsert, changes=changes, record_id=record_id, dry_run=False)
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

    def check(self, *, changes: RecordChanges, record_id: int | None = None):
        """The error a create or update would end in, without writing; None when it would
        succeed."""
        return plan_one(self.bulk_upsert, changes=changes, record_id=record_id, dry_run=True).error

    def create(self, *, changes: RecordChanges) -> int:
        return write_one(self.bulk_upsert, changes=changes)

    def update(self, *, record_id: int, changes: RecordChanges) -> int:
        return write_one(self.bulk_upsert, changes=changes, record_id=record_id)

    def delete(self, *, record_id: int) -> None:
        delete_one(self.bulk_delete, record_id=record_id)

    def remove_translation(self, *, record_id: int, language: str) -> None:
        remove_translation(self.spec, self.bulk_upsert, record_id=record_id, language=language)
