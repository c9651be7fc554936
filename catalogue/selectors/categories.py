"""Category reads: emptiness, child counts, ancestor paths, subtree filters."""

from collections import defaultdict

from django.db import connection
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from catalogue.models import Category, ProductCategory


def category_is_empty_reason(category: Category) -> str | None:
    """Say why a category cannot be deleted, or None when it is an empty leaf."""
    if Category.objects.filter(parent_id=category.pk).exists():
        return "it has child categories"
    if ProductCategory.objects.filter(category_id=category.pk).exists():
        return "it contains products"
    return None


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
