"""Product writes: one planner and one writer for single writes and bulk alike; memberships."""

from collections import defaultdict

from django.db import connection, transaction

from catalogue import rules
from catalogue.errors import CatalogueError, Code
from catalogue.models import Product, ProductCategory, ProductSearch, ProductSource
from catalogue.models.base import now_ms
from catalogue.records import RecordSpec
from catalogue.search import record_words
from catalogue.services.bulk import BulkItem, Directives, deletes, upserts
from catalogue.services.categories import CATEGORIES
from catalogue.services.records import (
    RecordWrites,
    decide,
    lock_rows,
    match_keys,
    plan_deletes,
    plan_records,
    write_records,
)

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
        return match_keys(PRODUCTS, items, lookup_key)
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

    def relate(pending: list[BulkItem], current_rows: dict) -> None:
        """The primary category (`parent`): resolved, and whether it changes."""
        existing_ids = [item.record_id for item in pending if item.record_id]
        current_primary = dict(
            ProductCategory.objects.filter(
                product_id__in=existing_ids, is_primary=True
            ).values_list("product_id", "category_id")
        )
        for item in pending:
            moving = "parent" in item.changes.relations
            item.extra["move"] = moving and not (item.record_id and directives.skip_move_on_update)
            item.extra["primary_changed"] = False
        parents = rules.resolve_refs(
            CATEGORIES,
            (item.changes.relations["parent"] for item in pending if item.extra["move"]),
        )
        for item in pending:
            if not item.pending or not item.extra["move"]:
                continue
            ref = item.changes.relations["parent"]
            if ref is not None and parents.get(ref) is None:
                item.fail(rules.parent_not_found(Code.PARENT_CATEGORY_NOT_FOUND, "category", ref))
                continue
            item.extra["primary"] = parents.get(ref) if ref is not None else None
            item.extra["primary_changed"] = item.extra["primary"] != current_primary.get(
                item.record_id
            )

    pending, _ = plan_records(
        PRODUCTS,
        items,
        lookup_key,
        directives,
        found=_match(items, lookup_key),
        relate=relate,
    )
    for item in pending:
        if item.pending:
            item.extra["search"] = rules.product_search_document(
                item.extra["row"], item.extra["sources"]
            )
    decide(pending)


def write_products(items: list[BulkItem]) -> None:
    """Apply planned creates and updates: a few statements per table."""
    creates, updates = write_records(PRODUCTS, items, changed=("primary_changed",))
    touched = creates + updates
    _write_primary([item for item in touched if item.extra["primary_changed"]])
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
    table = ProductSearch._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (product_id, text) "
            "SELECT * FROM unnest(%s::bigint[], %s::text[]) "
            "ON CONFLICT (product_id) DO UPDATE SET text = EXCLUDED.text "
            f"WHERE {table}.text IS DISTINCT FROM EXCLUDED.text",
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


def plan_product_deletes(items: list[BulkItem], lookup_key: str) -> None:
    plan_deletes(PRODUCTS, items, _match(items, lookup_key), lookup_key)


def delete_products(items: list[BulkItem]) -> None:
    Product.objects.filter(pk__in=[item.record_id for item in items]).delete()


# Create or update many products; one outcome per item, in request order.
product_bulk_upsert = upserts(plan_products, write_products)
# Delete many products by key; unknown keys fail with 80006.
product_bulk_delete = deletes(plan_product_deletes, delete_products)
PRODUCT_WRITES = RecordWrites(PRODUCTS, product_bulk_upsert, product_bulk_delete)
product_create = PRODUCT_WRITES.create
product_update = PRODUCT_WRITES.update
product_delete = PRODUCT_WRITES.delete
product_remove_translation = PRODUCT_WRITES.remove_translation


# Memberships -----------------------------------------------------------------------------------


def category_add_products(
    *, category_id: int, product_ids: list[int]
) -> dict[int, CatalogueError | None]:
    """Add products to a category as extra (non-primary) memberships; one outcome per id."""
    with transaction.atomic():
        lock_rows(PRODUCTS, product_ids)
        existing = set(
            ProductCategory.objects.filter(
                category_id=category_id, product_id__in=product_ids
            ).values_list("product_id", flat=True)
        )
        outcomes: dict[int, CatalogueError | None] = {}
        new = []
        for product_id in product_ids:
            if product_id in existing:
                outcomes[product_id] = CatalogueError(
                    Code.CATEGORY_EXISTS,
                    f"Product with id [{product_id}] is already in category with id [{category_id}]",
                )
            else:
                outcomes[product_id] = None
                new.append(ProductCategory(product_id=product_id, category_id=category_id))
                existing.add(product_id)
        ProductCategory.objects.bulk_create(new)
        if new:
            Product.objects.filter(pk__in=[m.product_id for m in new]).update(
                last_modified_at=now_ms()
            )
        return outcomes


def category_remove_products(
    *, category_id: int, product_ids: list[int]
) -> dict[int, CatalogueError | None]:
    """Remove products from a category; the primary category cannot be removed this way."""
    with transaction.atomic():
        lock_rows(PRODUCTS, product_ids)
        memberships = dict(
            ProductCategory.objects.filter(
                category_id=category_id, product_id__in=product_ids
            ).values_list("product_id", "is_primary")
        )
        outcomes: dict[int, CatalogueError | None] = {}
        removable = []
        for product_id in product_ids:
            if product_id not in memberships:
                outcomes[product_id] = CatalogueError(
                    Code.CATEGORY_NOT_FOUND,
                    f"Product with id [{product_id}] is not in category with id [{category_id}]",
                )
            elif memberships[product_id]:
                outcomes[product_id] = CatalogueError(
                    Code.PRIMARY_CATEGORY_REMOVAL,
                    f"Category with id [{category_id}] is the primary category of product "
                    f"with id [{product_id}]",
                )
            else:
                outcomes[product_id] = None
                removable.append(product_id)
                memberships.pop(product_id)
        ProductCategory.objects.filter(category_id=category_id, product_id__in=removable).delete()
        if removable:
            Product.objects.filter(pk__in=removable).update(last_modified_at=now_ms())
        return outcomes
