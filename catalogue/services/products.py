"""Product writes: one planner and one writer for single writes and bulk alike; memberships."""

from collections import defaultdict

from catalogue import rules
from catalogue.errors import CatalogueError, Code
from catalogue.models import (
    Cluster,
    ClusterOption,
    ClusterOptionProduct,
    Product,
    ProductCategory,
    ProductSource,
)
from catalogue.models.base import now_ms
from catalogue.records import ClusterRef, RecordSpec
from catalogue.services.bulk import BulkItem, Directives, deletes, upserts
from catalogue.services.categories import CATEGORIES
from catalogue.services.memberships import (
    Membership,
    category_add,
    category_remove,
    current_primaries,
    write_primary,
)
from catalogue.services.records import (
    RecordWrites,
    decide,
    match_keys,
    plan_deletes,
    plan_records,
    write_records,
    write_search_documents,
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
        """Where the product sits (`parent`): a primary category, or a cluster (then it has
        no primary category of its own); resolved, and whether it changes."""
        existing_ids = [item.record_id for item in pending if item.record_id]
        current_primary = current_primaries(PRODUCT_MEMBERSHIP, existing_ids)
        for item in pending:
            moving = "parent" in item.changes.relations
            item.extra["move"] = moving and not (item.record_id and directives.skip_move_on_update)
            item.extra["primary_changed"] = False
        refs = [item.changes.relations["parent"] for item in pending if item.extra["move"]]
        categories = rules.resolve_refs(CATEGORIES, (ref for ref in refs if not _to_cluster(ref)))
        clusters = set(
            Cluster.objects.filter(pk__in={ref.id for ref in refs if _to_cluster(ref)}).values_list(
                "pk", flat=True
            )
        )
        for item in pending:
            if not item.pending or not item.extra["move"]:
                continue
            ref = item.changes.relations["parent"]
            row = item.extra["row"]
            if _to_cluster(ref):
                if ref.id not in clusters:
                    item.fail(rules.parent_not_found(Code.PARENT_CLUSTER_NOT_FOUND, "cluster", ref))
                    continue
                primary, row["cluster_id"] = None, ref.id
            elif ref is not None and categories.get(ref) is None:
                item.fail(rules.parent_not_found(Code.PARENT_CATEGORY_NOT_FOUND, "category", ref))
                continue
            else:
                primary = categories.get(ref) if ref is not None else None
                row["cluster_id"] = None
            item.extra["primary"] = primary
            item.extra["primary_changed"] = primary != current_primary.get(item.record_id)

    pending, _ = plan_records(
        PRODUCTS,
        items,
        lookup_key,
        directives,
        match=lambda batch: _match(batch, lookup_key),
        relate=relate,
    )
    decide(pending)


def _to_cluster(ref) -> bool:
    return isinstance(ref, ClusterRef)


def write_products(items: list[BulkItem]) -> None:
    """Apply planned creates and updates: a few statements per table."""
    creates, updates = write_records(PRODUCTS, items, changed=("primary_changed",))
    touched = creates + updates
    write_primary(
        PRODUCT_MEMBERSHIP,
        {
            item.record_id: item.extra["primary"]
            for item in touched
            if item.extra["primary_changed"]
        },
    )
    _clusters_changed(
        [
            (
                item.record_id,
                (item.extra.get("current") or {}).get("cluster_id"),
                item.extra["row"]["cluster_id"],
            )
            for item in touched
        ]
    )
    write_search_documents("products", touched)


def _clusters_changed(moves: list[tuple[int, int | None, int | None]]) -> None:
    """Products (id, old cluster, new cluster) moved: a cluster left is no longer the default
    of its products' old cluster, and the clusters on both sides changed."""
    moved = [(product, old, new) for product, old, new in moves if old != new]
    if not moved:
        return
    left = [(old, product) for product, old, _ in moved if old is not None]
    if left:
        Cluster.objects.filter(
            pk__in={old for old, _ in left}, default_product_id__in={p for _, p in left}
        ).exclude(default_product_id__isnull=True).update(default_product=None)
    touched = {cluster for _, old, new in moved for cluster in (old, new) if cluster is not None}
    if touched:
        Cluster.objects.filter(pk__in=sorted(touched)).update(last_modified_at=now_ms())


def plan_product_deletes(items: list[BulkItem], lookup_key: str) -> None:
    plan_deletes(PRODUCTS, items, _match(items, lookup_key), lookup_key)


def delete_products(items: list[BulkItem]) -> None:
    """Delete products; the clusters they were in and the options they were selectable in
    change with them (their product lists do)."""
    ids = [item.record_id for item in items]
    clusters = set(
        Product.objects.filter(pk__in=ids, cluster_id__isnull=False).values_list(
            "cluster_id", flat=True
        )
    )
    options = set(
        ClusterOptionProduct.objects.filter(product_id__in=ids).values_list("option_id", flat=True)
    )
    Product.objects.filter(pk__in=ids).delete()
    stamp = now_ms()
    if clusters:
        Cluster.objects.filter(pk__in=sorted(clusters)).update(last_modified_at=stamp)
    if options:
        ClusterOption.objects.filter(pk__in=sorted(options)).update(last_modified_at=stamp)


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

PRODUCT_MEMBERSHIP = Membership(PRODUCTS, ProductCategory, "product_id")


def category_add_products(
    *, category_id: int, product_ids: list[int]
) -> dict[int, CatalogueError | None]:
    """Add products to a category as extra (non-primary) memberships; one outcome per id."""
    return category_add(PRODUCT_MEMBERSHIP, category_id=category_id, record_ids=product_ids)


def category_remove_products(
    *, category_id: int, product_ids: list[int]
) -> dict[int, CatalogueError | None]:
    """Remove products from a category; the primary category cannot be removed this way."""
    return category_remove(PRODUCT_MEMBERSHIP, category_id=category_id, record_ids=product_ids)
