"""Exact counts from the delta tables the database maintains (see catalogue/dbcode.py)."""

from datetime import UTC, datetime, timedelta

from django.db import connection

from catalogue.models import (
    CategoryClusterDelta,
    CategoryProductDelta,
    HourCountDelta,
    RowCountDelta,
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


def table_row_count(model, compact_after: int = 500) -> int:
    """Exact number of rows of a counted table (see RowCountDelta), without scanning it."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT coalesce(sum(delta), 0), count(*) FROM {RowCountDelta._meta.db_table} "
            "WHERE table_name = %s",
            [table],
        )
        total, pieces = cursor.fetchone()
        if pieces > compact_after:
            fold_deltas(RowCountDelta._meta.db_table, ["table_name"], "table_name = %s", [table])
    return int(total)


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


def subtree_cluster_counts(category_ids: list[int], compact_after: int = 100) -> dict[int, int]:
    """How many distinct clusters are in each category or below it, from the maintained
    counts (see CategoryClusterDelta)."""
    if not category_ids:
        return {}
    table = CategoryClusterDelta._meta.db_table
    ids = list(category_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT category_id, coalesce(sum(delta), 0), count(*) FROM {table} "
            "WHERE category_id = ANY(%s) GROUP BY category_id",
            [ids],
        )
        rows = cursor.fetchall()
        if sum(pieces for _, _, pieces in rows) > compact_after + len(rows):
            fold_deltas(table, ["category_id"], "category_id = ANY(%s)", [ids])
    return {category: int(count) for category, count, _ in rows}


def subtree_item_counts(category_ids: list[int], compact_after: int = 100) -> dict[int, int]:
    """Products and clusters in each category or below it (a category's productCount), from
    both maintained counts in one statement."""
    if not category_ids:
        return {}
    products, clusters = CategoryProductDelta._meta.db_table, CategoryClusterDelta._meta.db_table
    ids = list(category_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 'p', category_id, sum(delta), count(*) FROM {products} "
            "WHERE category_id = ANY(%s) GROUP BY category_id UNION ALL "
            f"SELECT 'c', category_id, sum(delta), count(*) FROM {clusters} "
            "WHERE category_id = ANY(%s) GROUP BY category_id",
            [ids, ids],
        )
        rows = cursor.fetchall()
        pieces = {"p": 0, "c": 0}
        counts: dict[int, int] = {}
        for kind, category, count, parts in rows:
            pieces[kind] += parts
            counts[category] = counts.get(category, 0) + int(count or 0)
        if pieces["p"] > compact_after + 6 * len(ids):
            fold_deltas(products, ["category_id", "product_status"], "category_id = ANY(%s)", [ids])
        if pieces["c"] > compact_after + len(ids):
            fold_deltas(clusters, ["category_id"], "category_id = ANY(%s)", [ids])
    return counts
