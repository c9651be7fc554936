"""Bulk upsert and delete of products, set-based, on the shared bulk engine."""

from collections import defaultdict

from django.conf import settings
from django.db import connection

from catalogue.errors import CatalogueError, Code
from catalogue.localized import localized_fields
from catalogue.models import Category, CategorySource, Product, ProductCategory, ProductSource
from catalogue.models.base import default_language, now_ms
from catalogue.search import record_words, search_document
from catalogue.services import sql
from catalogue.services.bulk import BulkItem, Directives, mark_duplicate_keys, run_bulk
from catalogue.services.product import SEARCHED_CODES
from catalogue.services.slugs import allocate_slugs

ENTITY = "Product"
SKIPPED_COLUMNS = {"id", "search_vector"}


def _columns() -> list[str]:
    return [f.column for f in Product._meta.concrete_fields if f.column not in SKIPPED_COLUMNS]


def _defaults() -> dict:
    row = {}
    for f in Product._meta.concrete_fields:
        if f.column in SKIPPED_COLUMNS:
            continue
        row[f.column] = f.get_default()
    row["language"] = default_language()
    return row


def _describe(lookup_key: str, key) -> str:
    if lookup_key == "sourceId":
        return f"sourceId [{key[1]}] and source [{key[0]}]"
    if lookup_key == "supplierCode":
        return f"supplierCode [{key[1]}] and supplier [{key[0]}]"
    return f"{lookup_key} [{key}]"


def _match(items: list[BulkItem], lookup_key: str) -> dict:
    """Map each item key to the ids of the products it names (one query)."""
    keys = [item.key for item in items if item.pending]
    found: dict = defaultdict(list)
    if not keys:
        return found
    if lookup_key == "id":
        for pk in Product.objects.filter(pk__in=keys).values_list("pk", flat=True):
            found[pk].append(pk)
    elif lookup_key == "sourceId":
        rows = ProductSource.objects.filter(
            source__in={k[0] for k in keys}, source_id__in=[k[1] for k in keys]
        ).values_list("source", "source_id", "owner_id")
        for source, source_id, owner in rows:
            found[(source, source_id)].append(owner)
    elif lookup_key == "sku":
        for sku, pk in Product.objects.filter(sku__in=keys).values_list("sku", "pk"):
            found[sku].append(pk)
    else:
        rows = Product.objects.filter(
            supplier__in={k[0] for k in keys}, supplier_code__in=[k[1] for k in keys]
        ).values_list("supplier", "supplier_code", "pk")
        for supplier, code, pk in rows:
            found[(supplier, code)].append(pk)
    return found


def _resolve_parents(items: list[BulkItem]) -> dict:
    """Map each parent reference used by the items to a category id (two queries)."""
    refs = {item.changes.relations["parent"] for item in items if item.extra.get("move")}
    refs.discard(None)
    ids = {ref.id for ref in refs if ref.id is not None}
    pairs = {(ref.source, ref.source_id) for ref in refs if ref.id is None}
    known = set(Category.objects.filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()
    by_pair = {}
    if pairs:
        rows = CategorySource.objects.filter(
            source__in={p[0] for p in pairs}, source_id__in=[p[1] for p in pairs]
        ).values_list("source", "source_id", "owner_id")
        by_pair = {(s, i): owner for s, i, owner in rows}
    resolved = {}
    for ref in refs:
        resolved[ref] = ref.id if ref.id in known else by_pair.get((ref.source, ref.source_id))
    return resolved


def _has_value(value) -> bool:
    return value not in (None, "", [], {})


def _merge(item: BulkItem, current: dict | None, directives: Directives) -> dict:
    """The row the item asks for: current values (or defaults) with the item's changes."""
    existing = current is not None
    row = dict(current) if existing else _defaults()
    skip = directives.skip_if_not_empty if existing else frozenset()
    for name, value in item.changes.fields.items():
        column = Product._meta.get_field(name).column
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
    for column in _localized_columns():
        if row.get(column) is None:
            row[column] = ""
    return row


def _localized_columns() -> list[str]:
    return [
        f"{name}_{code}" for name in localized_fields(Product) for code, _ in settings.LANGUAGES
    ]


def _wanted_sources(item: BulkItem, current: list[tuple]) -> list[tuple]:
    changes = item.changes
    if changes.sources is not None:
        return list(dict.fromkeys(changes.sources))
    return current + [pair for pair in dict.fromkeys(changes.add_sources) if pair not in current]


def plan_products(items: list[BulkItem], lookup_key: str, directives: Directives) -> None:
    """Decide each item's outcome (create, update, skip or error) without writing."""
    found = _match(items, lookup_key)
    for item in items:
        if not item.pending:
            continue
        ids = found.get(item.key, [])
        if len(ids) > 1:
            item.fail(
                CatalogueError(
                    Code.PRODUCT_MULTIPLE_FOUND,
                    f"More than one Product with {_describe(lookup_key, item.key)} found",
                )
            )
        elif ids:
            item.record_id = ids[0]
        elif directives.skip_create:
            item.action = "skip"
    pending = [item for item in items if item.pending]
    existing_ids = [item.record_id for item in pending if item.record_id]
    current_rows = {
        row["id"]: row
        for row in Product.objects.filter(pk__in=existing_ids).values("id", *_columns())
    }
    current_sources: dict[int, list[tuple]] = defaultdict(list)
    for owner, source, source_id in (
        ProductSource.objects.filter(owner_id__in=existing_ids)
        .order_by("owner_id", "position", "id")
        .values_list("owner_id", "source", "source_id")
    ):
        current_sources[owner].append((source, source_id))
    current_primary = dict(
        ProductCategory.objects.filter(product_id__in=existing_ids, is_primary=True).values_list(
            "product_id", "category_id"
        )
    )
    for item in pending:
        moving = "parent" in item.changes.relations
        if item.record_id and directives.skip_move_on_update:
            moving = False
        item.extra["move"] = moving
    parents = _resolve_parents(pending)

    for item in pending:
        current = current_rows.get(item.record_id)
        if item.record_id and current is None:  # deleted meanwhile
            item.record_id = None
        row = _merge(item, current, directives)
        item.extra["row"] = row
        if not row.get(f"name_{row['language'].lower()}"):
            item.fail(
                CatalogueError(
                    Code.PAYLOAD_VALIDATION,
                    f"names: a value in the product default language {row['language']} is required",
                )
            )
            continue
        old_sources = current_sources.get(item.record_id, []) if current else []
        item.extra["sources"] = _wanted_sources(item, old_sources)
        item.extra["sources_changed"] = item.extra["sources"] != old_sources
        primary = current_primary.get(item.record_id) if current else None
        if item.extra["move"]:
            ref = item.changes.relations["parent"]
            if ref is not None and parents.get(ref) is None:
                item.fail(
                    CatalogueError(
                        Code.PARENT_CATEGORY_NOT_FOUND,
                        f"Parent category with {ref.describe()} not found",
                    )
                )
                continue
            item.extra["primary"] = parents.get(ref) if ref is not None else None
            item.extra["primary_changed"] = item.extra["primary"] != primary
        else:
            item.extra["primary_changed"] = False
    _check_sources(pending)
    _plan_slugs(pending)
    for item in pending:
        if not item.pending:
            continue
        row = item.extra["row"]
        row["search_text"] = _document(row, item.extra["sources"])
        current = current_rows.get(item.record_id)
        if current is None:
            item.action = "create"
            continue
        item.action = "update"
        item.extra["row_changed"] = any(
            row[column] != current[column]
            for column in row
            if column not in ("last_modified_at", "search_text")
        )


def _document(row: dict, pairs: list[tuple]) -> str:
    names = [row.get(f"name_{code}") or "" for code, _ in settings.LANGUAGES]
    codes = [row[name] for name in SEARCHED_CODES]
    return search_document(*names, *codes, *(source_id for _, source_id in pairs))


def _check_sources(items: list[BulkItem]) -> None:
    """A source pair of another product (or of an earlier item) fails the item with 80004."""
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
        for source, source_id, owner in ProductSource.objects.filter(
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
                        Code.PRODUCT_EXISTS,
                        f"Product with sourceId [{pair[1]}] and source [{pair[0]}] already exists",
                    )
                )
                break
        else:
            for pair in item.extra["sources"]:
                claimed[pair] = item.index


def _plan_slugs(items: list[BulkItem]) -> None:
    """Check given slugs against other products and earlier items; generate missing ones."""
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
                Product.objects.filter(**{f"{column}__in": list(given)}).values_list(column, "pk")
            )
            for slug, claimants in given.items():
                for position, item in enumerate(claimants):
                    owner = owners.get(slug)
                    if (owner is not None and owner != item.record_id) or position > 0:
                        item.fail(
                            CatalogueError(
                                Code.PRODUCT_EXISTS,
                                f"Product with slug [{slug}] in language [{code.upper()}] "
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
            allocated = allocate_slugs(Product, code, missing)
            for item in items:
                if item.index in allocated:
                    item.extra["row"][column] = allocated[item.index]


def write_products(items: list[BulkItem]) -> None:
    """Apply planned creates and updates: a few statements per table."""
    now = now_ms()
    creates = [item for item in items if item.action == "create"]
    updates = [
        item
        for item in items
        if item.action == "update"
        and (
            item.extra["row_changed"]
            or item.extra["sources_changed"]
            or item.extra["primary_changed"]
        )
    ]
    ids = sql.allocate_ids(Product, len(creates))
    for item, pk in zip(creates, ids, strict=True):
        item.record_id = pk
        item.extra["row"].update(id=pk, created_at=now, last_modified_at=now)
    for item in updates:
        item.extra["row"].update(id=item.record_id, last_modified_at=now)
    columns = _columns()
    sql.insert_rows(Product, ["id", *columns], [item.extra["row"] for item in creates])
    sql.update_rows(
        Product,
        [c for c in columns if c != "created_at"],
        [item.extra["row"] for item in updates],
    )
    touched = creates + updates
    source_owners = [item.record_id for item in touched if item.extra["sources_changed"]]
    sql.replace_sources(
        ProductSource,
        source_owners,
        {item.record_id: item.extra["sources"] for item in touched},
    )
    moved = [item for item in touched if item.extra["primary_changed"]]
    _write_primary(moved)
    record_words([item.extra["row"]["search_text"] for item in touched])


def _write_primary(items: list[BulkItem]) -> None:
    if not items:
        return
    table = ProductCategory._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE product_id = ANY(%s) AND is_primary",
            [[item.record_id for item in items]],
        )
        rows = [(item.record_id, item.extra["primary"]) for item in items if item.extra["primary"]]
        if rows:
            cursor.execute(
                f"INSERT INTO {table} (product_id, category_id, is_primary) "
                "SELECT p, c, true FROM unnest(%s::bigint[], %s::bigint[]) AS v(p, c) "
                "ON CONFLICT (product_id, category_id) DO UPDATE SET is_primary = true",
                [[r[0] for r in rows], [r[1] for r in rows]],
            )


def product_bulk_upsert(
    *,
    items: list[BulkItem],
    lookup_key: str,
    directives: Directives,
    dry_run: bool = False,
    atomic: bool = False,
) -> list[BulkItem]:
    """Create or update many products; one outcome per item, in request order."""
    mark_duplicate_keys(items, lookup_key)
    return run_bulk(
        items,
        plan=lambda batch: plan_products(batch, lookup_key, directives),
        write=write_products,
        dry_run=dry_run,
        atomic=atomic,
    )


def product_bulk_delete(
    *, items: list[BulkItem], lookup_key: str, dry_run: bool = False, atomic: bool = False
) -> list[BulkItem]:
    """Delete many products by key; unknown keys fail with 80006."""
    mark_duplicate_keys(items, lookup_key)

    def plan(batch):
        found = _match(batch, lookup_key)
        for item in batch:
            if not item.pending:
                continue
            ids = found.get(item.key, [])
            if not ids:
                item.fail(
                    CatalogueError(
                        Code.PRODUCT_NOT_FOUND,
                        f"Product with {_describe(lookup_key, item.key)} not found",
                    )
                )
            elif len(ids) > 1:
                item.fail(
                    CatalogueError(
                        Code.PRODUCT_MULTIPLE_FOUND,
                        f"More than one Product with {_describe(lookup_key, item.key)} found",
                    )
                )
            else:
                item.record_id, item.action = ids[0], "delete"

    def write(batch):
        Product.objects.filter(pk__in=[item.record_id for item in batch]).delete()

    return run_bulk(
        items, plan=plan, write=write, dry_run=dry_run, atomic=atomic, writes=("delete",)
    )
