"""Category writes: one planner and one writer for single writes and bulk alike.

Parents may be created earlier in the same request. Rows are written set-based and the
nested-set columns of the forest are renumbered once per request, under the tree lock.
"""

from collections import defaultdict
from collections.abc import Hashable

from django.db import connection

from catalogue import rules
from catalogue.dbcode import lock_category_tree
from catalogue.errors import CatalogueError, Code
from catalogue.models import Category, CategorySearch, CategorySource
from catalogue.records import RecordSpec
from catalogue.selectors.categories import non_empty_categories
from catalogue.services.bulk import BulkItem, Directives, deletes, upserts
from catalogue.services.records import (
    RecordWrites,
    decide,
    match_keys,
    plan_deletes,
    plan_records,
    write_records,
    write_search_documents,
)

CATEGORIES = RecordSpec(
    model=Category,
    source_model=CategorySource,
    entity="Category",
    exists=Code.CATEGORY_EXISTS,
    not_found=Code.CATEGORY_NOT_FOUND,
    multiple_found=Code.CATEGORY_MULTIPLE_FOUND,
    skipped_columns=frozenset({"id", "parent_id", "tree_id", "lft", "rght", "level"}),
)


def _node(item: BulkItem) -> Hashable:
    """The tree node an item stands for: its record id, or ("new", index) before creation."""
    return item.record_id if item.record_id else ("new", item.index)


def _stored_parents(existing_ids: list[int], moving: bool) -> dict:
    """Parent links: of the whole forest when something moves (to find cycles), else of the
    records themselves."""
    queryset = Category.objects.all() if moving else Category.objects.filter(pk__in=existing_ids)
    return dict(queryset.values_list("id", "parent_id"))


def plan_categories(items: list[BulkItem], lookup_key: str, directives: Directives) -> None:
    """Decide each item's outcome in request order; earlier items may be later items' parents."""
    lock_category_tree()

    def relate(pending: list[BulkItem], current_rows: dict) -> None:
        """The parent: resolved (an earlier item of the request may be it), and no cycles."""
        existing_ids = [item.record_id for item in pending if item.record_id]
        moving = any("parent" in item.changes.relations for item in pending)
        stored_parents = _stored_parents(existing_ids, moving)
        parents: dict[Hashable, Hashable] = dict(stored_parents)
        in_database = rules.resolve_refs(
            CATEGORIES, (item.changes.relations.get("parent") for item in pending)
        )
        claimed_pairs: dict[tuple, BulkItem] = {}
        for item in pending:
            if not item.pending:
                continue
            current = current_rows.get(item.record_id)
            node = _node(item)
            old_parent = stored_parents.get(item.record_id) if current else None
            new_parent = old_parent
            if "parent" in item.changes.relations and not (
                current and directives.skip_move_on_update
            ):
                ref = item.changes.relations["parent"]
                if ref is None:
                    new_parent = None
                else:
                    earlier = (
                        claimed_pairs.get((ref.source, ref.source_id)) if ref.id is None else None
                    )
                    new_parent = _node(earlier) if earlier else in_database.get(ref)
                    if new_parent is None:
                        item.fail(
                            rules.parent_not_found(Code.PARENT_CATEGORY_NOT_FOUND, "category", ref)
                        )
                        continue
                    if rules.creates_cycle(node, new_parent, parents):
                        item.fail(rules.tree_cycle(CATEGORIES, lookup_key, item.key))
                        continue
            item.extra["parent"] = new_parent
            item.extra["parent_changed"] = current is None or new_parent != old_parent
            parents[node] = new_parent
            for pair in item.extra["sources"]:
                claimed_pairs[pair] = item

    pending, _ = plan_records(
        CATEGORIES,
        items,
        lookup_key,
        directives,
        match=lambda batch: match_keys(CATEGORIES, batch, lookup_key),
        relate=relate,
    )
    _fail_orphans(pending)
    decide(pending)


def _fail_orphans(items: list[BulkItem]) -> None:
    """An item whose parent is a failed item of the same request fails too."""
    failed = {("new", item.index) for item in items if item.error is not None}
    changed = True
    while changed:
        changed = False
        for item in items:
            if item.pending and item.extra.get("parent") in failed:
                item.fail(
                    CatalogueError(
                        Code.PARENT_CATEGORY_NOT_FOUND,
                        f"Parent category of {item.key_value} failed earlier in this request",
                    )
                )
                failed.add(("new", item.index))
                changed = True


def _place(creates: list[BulkItem], updates: list[BulkItem], new_ids: dict) -> None:
    """Parents by id, created ones included; the nested sets are renumbered after."""
    for item in creates + updates:
        parent = item.extra["parent"]
        item.extra["row"]["parent_id"] = new_ids.get(parent, parent)


def write_categories(items: list[BulkItem]) -> None:
    creates, updates = write_records(
        CATEGORIES,
        items,
        changed=("parent_changed",),
        # Placeholder nested-set values; the forest is renumbered below.
        insert_defaults={"parent_id": None, "tree_id": 0, "lft": 0, "rght": 0, "level": 0},
        update_columns=("parent_id",),
        prepare=_place,
    )
    write_search_documents("categories", creates + updates)
    moved = [item.record_id for item in creates + updates if item.extra["parent_changed"]]
    if moved:
        renumber_forest(moved)


def renumber_forest(appended: list[int] = ()) -> None:
    """Recompute tree_id, lft, rght and level of every category from the parent links.

    Siblings keep their order; `appended` nodes (created or moved in this request) become
    the last children of their parents, in the given order. Only changed rows are written.
    """
    rows = list(
        Category.objects.order_by("tree_id", "lft", "id").values_list(
            "id", "parent_id", "tree_id", "lft", "rght", "level"
        )
    )
    late = {node: position for position, node in enumerate(appended)}
    order = {
        node: (1, late[node], 0) if node in late else (0, tree_id, lft)
        for node, _, tree_id, lft, *_ in rows
    }
    old = {row[0]: row[2:] for row in rows}
    children: dict[int | None, list[int]] = defaultdict(list)
    for node, parent, *_ in rows:
        children[parent].append(node)
    updates = []
    for tree_id, root in enumerate(sorted(children[None], key=order.get), start=1):
        counter = 0
        lefts: dict[int, int] = {}
        stack = [(root, 0, False)]
        while stack:
            node, level, closing = stack.pop()
            counter += 1
            if closing:
                numbers = (tree_id, lefts[node], counter, level)
                if old[node] != numbers:
                    updates.append((node, *numbers))
                continue
            lefts[node] = counter
            stack.append((node, level, True))
            for child in sorted(children[node], key=order.get, reverse=True):
                stack.append((child, level + 1, False))
    if updates:
        table = Category._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS t SET tree_id = v.tree_id, lft = v.lft, rght = v.rght, "
                "level = v.level FROM unnest(%s::bigint[], %s::int[], %s::int[], %s::int[], "
                "%s::int[]) AS v(id, tree_id, lft, rght, level) WHERE t.id = v.id",
                [list(column) for column in zip(*updates, strict=True)],
            )


def plan_category_deletes(items: list[BulkItem], lookup_key: str) -> None:
    """Only empty leaves go: a category with children or products fails with 30008."""
    lock_category_tree()
    plan_deletes(CATEGORIES, items, match_keys(CATEGORIES, items, lookup_key), lookup_key)
    reasons = non_empty_categories([item.record_id for item in items if item.action == "delete"])
    for item in items:
        if item.action == "delete" and item.record_id in reasons:
            item.fail(rules.not_empty(CATEGORIES, item.record_id, reasons[item.record_id]))


def delete_categories(items: list[BulkItem]) -> None:
    ids = [item.record_id for item in items]
    CategorySource.objects.filter(owner_id__in=ids).delete()
    CategorySearch.objects.filter(category_id__in=ids).delete()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Category._meta.db_table} WHERE id = ANY(%s)", [ids])
    renumber_forest()


# Create or update many categories; parents may be created earlier in the request.
category_bulk_upsert = upserts(plan_categories, write_categories)
category_bulk_delete = deletes(plan_category_deletes, delete_categories)
CATEGORY_WRITES = RecordWrites(CATEGORIES, category_bulk_upsert, category_bulk_delete)
category_create = CATEGORY_WRITES.create
category_update = CATEGORY_WRITES.update
category_delete = CATEGORY_WRITES.delete
category_remove_translation = CATEGORY_WRITES.remove_translation
