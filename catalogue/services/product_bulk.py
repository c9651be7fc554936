"""Bulk upsert and delete of products, set-based, on the shared bulk engine."""

from collections import defaultdict

from django.conf import settings
from django.db import connection

from catalogue.errors import Code
from catalogue.models import Product, ProductCategory, ProductSearch, ProductSource
from catalogue.models.base import now_ms
from catalogue.search import record_words, search_document
from catalogue.services import sql
from catalogue.services.bulk import BulkItem, Directives, mark_duplicate_keys, run_bulk
from catalogue.services.bulk_records import (
    RecordSpec,
    apply_matches,
    check_sources,
    load_current,
    match_common,
    merge_row,
    plan_deletes,
    plan_slugs,
    require_default_name,
    resolve_category_refs,
    row_changed,
    wanted_sources,
)
from catalogue.services.product import SEARCHED_CODES

PRODUCTS = RecordSpec(
    model=Product,
    source_model=ProductSource,
    entity="Product",
    exists=Code.PRODUCT_EXISTS,
    not_found=Code.PRODUCT_NOT_FOUND,
    multiple_found=Code.PRODUCT_MULTIPLE_FOUND,
)


def _match(items: list[BulkItem], lookup_key: str) -> dict:
    """Map each item key to the ids of the products it names (one query)."""
    if lookup_key in ("id", "sourceId"):
        return match_common(PRODUCTS, items, lookup_key)
    keys = [item.key for item in items if item.pending]
    found: dict = defaultdict(list)
    if lookup_key == "sku":
        for sku, pk in Product.objects.filter(sku__in=keys).values_list("sku", "pk"):
            found[sku].append(pk)
    else:
        rows = Product.objects.filter(
            supplier__in={k[0] for k in keys}, supplier_code__in=[k[1] for k in keys]
        ).values_list("supplier", "supplier_code", "pk")
        for supplier, code, pk in rows:
            found[(supplier, code)].append(pk)
    return found


def plan_products(items: list[BulkItem], lookup_key: str, directives: Directives) -> None:
    """Decide each item's outcome (create, update, skip or error) without writing."""
    apply_matches(PRODUCTS, items, _match(items, lookup_key), lookup_key, directives)
    pending = [item for item in items if item.pending]
    existing_ids = [item.record_id for item in pending if item.record_id]
    current_rows, current_sources = load_current(PRODUCTS, existing_ids)
    current_primary = dict(
        ProductCategory.objects.filter(product_id__in=existing_ids, is_primary=True).values_list(
            "product_id", "category_id"
        )
    )
    for item in pending:
        if item.record_id not in current_rows:  # no match, or deleted meanwhile
            item.record_id = None
        moving = "parent" in item.changes.relations
        item.extra["move"] = moving and not (item.record_id and directives.skip_move_on_update)
    parents = resolve_category_refs(
        item.changes.relations["parent"] for item in pending if item.extra["move"]
    )
    for item in pending:
        current = current_rows.get(item.record_id)
        item.extra["row"] = merge_row(PRODUCTS, item, current, directives)
        if not require_default_name(PRODUCTS, item):
            continue
        old_sources = current_sources.get(item.record_id, [])
        item.extra["sources"] = wanted_sources(item, old_sources)
        item.extra["sources_changed"] = item.extra["sources"] != old_sources
        item.extra["primary_changed"] = False
        if item.extra["move"]:
            ref = item.changes.relations["parent"]
            if ref is not None and parents.get(ref) is None:
                item.fail(ref.not_found())
                continue
            item.extra["primary"] = parents.get(ref) if ref is not None else None
            item.extra["primary_changed"] = item.extra["primary"] != current_primary.get(
                item.record_id
            )
    check_sources(PRODUCTS, pending)
    plan_slugs(PRODUCTS, pending)
    for item in pending:
        if not item.pending:
            continue
        row = item.extra["row"]
        item.extra["search"] = _document(row, item.extra["sources"])
        current = current_rows.get(item.record_id)
        if current is None:
            item.action = "create"
        else:
            item.action = "update"
            item.extra["row_changed"] = row_changed(item, current)


def _document(row: dict, pairs: list[tuple]) -> str:
    names = [row.get(f"name_{code}") or "" for code, _ in settings.LANGUAGES]
    codes = [row[name] for name in SEARCHED_CODES]
    return search_document(*names, *codes, *(source_id for _, source_id in pairs))


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
    columns = PRODUCTS.columns()
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
    _write_search(
        [
            item
            for item in touched
            if item.action == "create" or item.extra["row_changed"] or item.extra["sources_changed"]
        ]
    )


def _write_search(items: list[BulkItem]) -> None:
    """Upsert the search documents of the written products."""
    if not items:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ProductSearch._meta.db_table} (product_id, text) "
            "SELECT * FROM unnest(%s::bigint[], %s::text[]) "
            "ON CONFLICT (product_id) DO UPDATE SET text = EXCLUDED.text "
            f"WHERE {ProductSearch._meta.db_table}.text IS DISTINCT FROM EXCLUDED.text",
            [[item.record_id for item in items], [item.extra["search"] for item in items]],
        )
    record_words([item.extra["search"] for item in items])


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
        plan_deletes(PRODUCTS, batch, _match(batch, lookup_key), lookup_key)

    def write(batch):
        Product.objects.filter(pk__in=[item.record_id for item in batch]).delete()

    return run_bulk(
        items, plan=plan, write=write, dry_run=dry_run, atomic=atomic, writes=("delete",)
    )
