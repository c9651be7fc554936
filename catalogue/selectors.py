"""Reusable reads: subtree filters, counts, ancestor paths, tree snapshots."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Upper

from catalogue.models import (
    Category,
    CategoryProductDelta,
    HourCountDelta,
    Product,
    ProductAncestor,
    ProductCategory,
    ProductSearch,
    ProductSource,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def fold_deltas(table: str, keys: list[str], where: str, params: list) -> None:
    """Replace the delta rows `where` selects by one row per key; keys that sum to zero go.

    One statement: writers appending meanwhile are neither lost nor counted twice.
    """
    columns = ", ".join(keys)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH gone AS (DELETE FROM {table} WHERE {where} RETURNING {columns}, delta) "
            f"INSERT INTO {table} ({columns}, delta) SELECT {columns}, sum(delta) FROM gone "
            f"GROUP BY {columns} HAVING sum(delta) <> 0",
            params,
        )


def category_is_empty_reason(category: Category) -> str | None:
    """Say why a category cannot be deleted, or None when it is an empty leaf."""
    if Category.objects.filter(parent_id=category.pk).exists():
        return "it has child categories"
    if ProductCategory.objects.filter(category_id=category.pk).exists():
        return "it contains products"
    return None


def subtree_product_counts(
    category_ids: list[int], statuses: list[str] | None = None, compact_after: int = 100
) -> dict[int, int]:
    """How many distinct products are in each category or below it (optionally only those
    with the given statuses), from the maintained counts (see CategoryProductDelta)."""
    if not category_ids:
        return {}
    table = CategoryProductDelta._meta.db_table
    ids = list(category_ids)
    counted = "sum(delta) FILTER (WHERE product_status = ANY(%s))" if statuses else "sum(delta)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT category_id, coalesce({counted}, 0), count(*) FROM {table} "
            "WHERE category_id = ANY(%s) GROUP BY category_id",
            [*([list(statuses)] if statuses else []), ids],
        )
        rows = cursor.fetchall()
        if sum(pieces for _, _, pieces in rows) > compact_after + 6 * len(rows):
            fold_deltas(table, ["category_id", "product_status"], "category_id = ANY(%s)", [ids])
    return {category: int(count) for category, count, _ in rows}


def with_child_counts(queryset):
    children = (
        Category.objects.filter(parent_id=OuterRef("pk"))
        .order_by()
        .values("parent_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return queryset.annotate(child_count=Coalesce(Subquery(children), 0))


def ancestor_ids(category_ids: list[int]) -> dict[int, list[int]]:
    """Return each category's ancestor ids root-first, in one query."""
    if not category_ids:
        return {}
    table = Category._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT c.id, a.id FROM {table} c
            JOIN {table} a ON a.tree_id = c.tree_id AND a.lft < c.lft AND a.rght > c.rght
            WHERE c.id = ANY(%s)
            ORDER BY c.id, a.lft
            """,
            [list(category_ids)],
        )
        paths: dict[int, list[int]] = defaultdict(list)
        for child, ancestor in cursor.fetchall():
            paths[child].append(ancestor)
    return paths


def subtree_filter(category_ids: list[int], *, prefix: str = "") -> Q:
    """Return a Q matching rows whose category (via `prefix`) lies in any of the subtrees."""
    nodes = Category.objects.filter(pk__in=category_ids).values_list("tree_id", "lft", "rght")
    condition = Q(pk__in=[])
    for tree_id, lft, rght in nodes:
        condition |= Q(
            **{f"{prefix}tree_id": tree_id, f"{prefix}lft__gte": lft, f"{prefix}rght__lte": rght}
        )
    return condition


def product_ids_with_code(code: str, limit: int = 100) -> list[int]:
    """Ids of products whose sku, supplier code, EAN or a source id equals `code` exactly.

    Codes compare case-insensitively (sku and supplier code through expression indexes).
    """
    if not code or len(code) > 255:
        return []
    upper = code.upper()
    by_code = (
        Product.objects.annotate(sku_upper=Upper("sku"))
        .filter(sku_upper=upper)
        .values("pk")
        .union(
            Product.objects.annotate(code_upper=Upper("supplier_code"))
            .filter(code_upper=upper)
            .values("pk"),
            Product.objects.filter(ean_code=code).values("pk"),
            ProductSource.objects.filter(source_id=code).values("owner_id"),
        )
    )
    return [row["pk"] for row in by_code[:limit]]


def table_row_count(model, compact_after: int = 500) -> int:
    """Exact number of rows of a counted table (see RowCountDelta), without scanning it."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(delta), 0), count(*) FROM catalogue_rowcountdelta "
            "WHERE table_name = %s",
            [table],
        )
        total, pieces = cursor.fetchone()
        if pieces > compact_after:
            fold_deltas("catalogue_rowcountdelta", ["table_name"], "table_name = %s", [table])
    return int(total)


def search_product_page(term: str, start: int, size: int) -> tuple[int, list[int]]:
    """Count and page the products matching a search term on the narrow search table alone.

    The same matching and order as the term filter of a product list: exact code or
    source-id matches first, then the other matches by id.
    """
    from catalogue.search import term_query

    query = term_query(term)
    code_ids = product_ids_with_code(term.strip())
    if query is None and not code_ids:
        return 0, []
    where, params = [], []
    if code_ids:
        where.append("product_id = ANY(%s)")
        params.append(code_ids)
    if query is not None:
        where.append("vector @@ to_tsquery('simple', %s)")
        params.append(query)
    table = ProductSearch._meta.db_table
    condition = " OR ".join(where)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE {condition}", params)
        total = cursor.fetchone()[0]
        if start >= total:
            return total, []
        # Code matches first, then the page comes off the primary key.
        ranked = sorted(code_ids)
        if query is None:
            return total, ranked[start : start + size]
        if start < len(ranked):
            head = ranked[start : start + size]
            rest_start, rest_size = 0, size - len(head)
        else:
            head, rest_start, rest_size = [], start - len(ranked), size
        if rest_size:
            cursor.execute(
                f"SELECT product_id FROM {table} WHERE vector @@ to_tsquery('simple', %s) "
                "AND NOT product_id = ANY(%s) ORDER BY product_id LIMIT %s OFFSET %s",
                [query, ranked, rest_size, rest_start],
            )
            head += [row[0] for row in cursor.fetchall()]
        return total, head


def time_range_count(
    model, column: str, start: datetime | None, end: datetime | None, compact_after: int = 200
) -> int:
    """Exact number of rows with start <= column < end, without reading every one of them.

    Whole hours come from the hour counts (see HourCountDelta); only the partial hours at
    either end are counted in the table, through the column's index. One statement, so one
    snapshot, reads both.
    """
    table = model._meta.db_table
    # Rows in [%s, %s), counted by an index-only scan.
    partial = f"(SELECT count(*) FROM {table} WHERE {column} >= %s AND {column} < %s)"
    first = None if start is None else -((EPOCH - start) // HOUR)  # first whole hour
    stop = None if end is None else (end - EPOCH) // HOUR  # the hour the range ends in
    if first is not None and stop is not None and first >= stop:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {partial}", [start, end])
            return cursor.fetchone()[0]
    hours, hour_params = ["table_name = %s", "column_name = %s"], [table, column]
    edge_params = []
    if first is not None:
        hours.append("hour >= %s")
        hour_params.append(first)
        edge_params += [start, EPOCH + first * HOUR]
    if stop is not None:
        hours.append("hour < %s")
        hour_params.append(stop)
        edge_params += [EPOCH + stop * HOUR, end]
    deltas = HourCountDelta._meta.db_table
    where = " AND ".join(hours)
    edge_count = " + ".join([partial] * (len(edge_params) // 2)) or "0"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT coalesce(sum(delta), 0) + {edge_count}, count(*), count(DISTINCT hour) "
            f"FROM {deltas} WHERE {where}",
            [*edge_params, *hour_params],
        )
        total, pieces, distinct_hours = cursor.fetchone()
        if pieces - distinct_hours > compact_after:
            fold_deltas(deltas, ["table_name", "column_name", "hour"], where, hour_params)
    return int(total)


def category_product_page(
    category_ids: list[int],
    *,
    descendants: bool,
    statuses: list[str] | None,
    start: int,
    size: int,
    descending: bool = False,
) -> tuple[int, list[int]]:
    """Count and page (by id) the products in some categories, without reading products.

    With descendants the products below a category come from ProductAncestor, one index
    range per category, and one category's count from the maintained counts; without, from
    memberships. Both carry the product's status.
    """
    table = (ProductAncestor if descendants else ProductCategory)._meta.db_table
    ids = sorted(set(category_ids))
    # One category by plain equality: its index range is then already in product order.
    where, params = (
        (["category_id = %s"], [ids[0]]) if len(ids) == 1 else (["category_id = ANY(%s)"], [ids])
    )
    if statuses:
        where.append("product_status = ANY(%s)")
        params.append(list(statuses))
    condition = " AND ".join(where)
    direction = "DESC" if descending else "ASC"
    # Below one category each product appears once; across several it may repeat.
    unique = descendants and len(ids) == 1
    with connection.cursor() as cursor:
        if unique:
            total = subtree_product_counts(ids, statuses).get(ids[0], 0)
        else:
            cursor.execute(
                f"SELECT count(DISTINCT product_id) FROM {table} WHERE {condition}", params
            )
            total = cursor.fetchone()[0]
        if start >= total:
            return total, []
        cursor.execute(
            f"SELECT {'' if unique else 'DISTINCT '}product_id FROM {table} WHERE {condition} "
            f"ORDER BY product_id {direction} LIMIT %s OFFSET %s",
            [*params, size, start],
        )
        return total, [row[0] for row in cursor.fetchall()]
