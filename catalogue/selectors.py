"""Reusable reads: subtree filters, counts, ancestor paths, tree snapshots."""

from collections import defaultdict

from django.db import connection
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Upper

from catalogue.models import Category, Product, ProductCategory, ProductSearch, ProductSource


def category_is_empty_reason(category: Category) -> str | None:
    """Say why a category cannot be deleted, or None when it is an empty leaf."""
    if Category.objects.filter(parent_id=category.pk).exists():
        return "it has child categories"
    if ProductCategory.objects.filter(category_id=category.pk).exists():
        return "it contains products"
    return None


def subtree_product_counts(category_ids: list[int]) -> dict[int, int]:
    """Count the distinct products in each category's whole subtree, in one query."""
    if not category_ids:
        return {}
    table = Category._meta.db_table
    membership = ProductCategory._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT c.id, count(DISTINCT m.product_id) FROM {table} c
            JOIN {table} d ON d.tree_id = c.tree_id AND d.lft BETWEEN c.lft AND c.rght
            JOIN {membership} m ON m.category_id = d.id
            WHERE c.id = ANY(%s)
            GROUP BY c.id
            """,
            [list(category_ids)],
        )
        return dict(cursor.fetchall())


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
            # Fold the deltas into one row; concurrent writers keep appending meanwhile.
            cursor.execute(
                "WITH gone AS (DELETE FROM catalogue_rowcountdelta WHERE table_name = %s "
                "RETURNING delta) INSERT INTO catalogue_rowcountdelta (table_name, delta) "
                "SELECT %s, coalesce(sum(delta), 0) FROM gone",
                [table, table],
            )
    return int(total)


def search_product_page(term: str, start: int, size: int) -> tuple[int, list[int]]:
    """Count and rank the products matching a search term on the narrow search table alone.

    The same matching and order as the term filter of a product list: exact code or
    source-id matches first, then words as typed, then typo corrections, then id.
    """
    from catalogue.search import term_queries

    queries = term_queries(term)
    code_ids = product_ids_with_code(term.strip())
    if queries is None and not code_ids:
        return 0, []
    where, params, order, order_params = [], [], [], []
    if code_ids:
        where.append("product_id = ANY(%s)")
        params.append(code_ids)
        order.append("product_id = ANY(%s) DESC")
        order_params.append(code_ids)
    if queries is not None:
        exact, tolerant = queries
        where.append("vector @@ to_tsquery('simple', %s)")
        params.append(tolerant)
        if exact != tolerant:
            order.append("vector @@ to_tsquery('simple', %s) DESC")
            order_params.append(exact)
    table = ProductSearch._meta.db_table
    condition = " OR ".join(where)
    with connection.cursor() as cursor:
        if not order:
            # Ordered by id alone: count apart, and the page comes off the primary key.
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {condition}", params)
            total = cursor.fetchone()[0]
            cursor.execute(
                f"SELECT product_id FROM {table} WHERE {condition} "
                "ORDER BY product_id LIMIT %s OFFSET %s",
                [*params, size, start],
            )
            return total, [row[0] for row in cursor.fetchall()]
        # Ranked: every match is read once, for the count and the order together.
        cursor.execute(
            f"SELECT product_id, count(*) OVER () FROM {table} WHERE {condition} "
            f"ORDER BY {', '.join([*order, 'product_id'])} LIMIT %s OFFSET %s",
            [*params, *order_params, size, start],
        )
        rows = cursor.fetchall()
        if rows:
            return rows[0][1], [row[0] for row in rows]
        cursor.execute(f"SELECT count(*) FROM {table} WHERE {condition}", params)
        return cursor.fetchone()[0], []
