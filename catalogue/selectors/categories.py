"""Category reads: emptiness, child counts, ancestor paths, subtree filters."""

from collections import defaultdict

from django.conf import settings
from django.db import connection
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from catalogue.errors import CatalogueError, Code
from catalogue.models import Category, ClusterCategory, ProductCategory


def non_empty_categories(category_ids: list[int]) -> dict[int, str]:
    """Why each of these categories cannot be deleted (children, products, clusters); empty
    ones are absent."""
    if not category_ids:
        return {}
    categories = Category._meta.db_table
    products = ProductCategory._meta.db_table
    clusters = ClusterCategory._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT c.id,
                   EXISTS (SELECT 1 FROM {categories} k WHERE k.parent_id = c.id),
                   EXISTS (SELECT 1 FROM {products} m WHERE m.category_id = c.id),
                   EXISTS (SELECT 1 FROM {clusters} m WHERE m.category_id = c.id)
            FROM unnest(%s::bigint[]) AS c(id)
            """,
            [list(category_ids)],
        )
        rows = cursor.fetchall()
    reasons = {}
    for category_id, has_children, has_products, has_clusters in rows:
        if has_children:
            reasons[category_id] = "it has child categories"
        elif has_products:
            reasons[category_id] = "it contains products"
        elif has_clusters:
            reasons[category_id] = "it contains clusters"
    return reasons


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


def category_forest(
    *, root_id: int | None = None, depth: int | None = None, language: str | None = None
) -> list[dict]:
    """The category forest (or one subtree) from one query, as nested rows.

    Each node is a row of `id`, `parent_id`, `language`, `hidden`, `priority`, `level` and
    the names and slugs in every language, with its `children`: siblings ordered by priority,
    then name (in `language` or the category's own), then id; roots by id. `depth` counts
    levels below the roots (or below `root_id`).
    """
    queryset = Category.objects.all()
    base_level = 0
    if root_id is not None:
        root = Category.objects.filter(pk=root_id).values("tree_id", "lft", "rght", "level")
        root = root.first()
        if root is None:
            raise CatalogueError(Code.CATEGORY_NOT_FOUND, f"Category with id [{root_id}] not found")
        queryset = queryset.filter(
            tree_id=root["tree_id"], lft__gte=root["lft"], rght__lte=root["rght"]
        )
        base_level = root["level"]
    if depth is not None:
        queryset = queryset.filter(level__lte=base_level + depth)
    codes = [code for code, _ in settings.LANGUAGES]
    rows = queryset.order_by("tree_id", "lft").values(
        "id",
        "parent_id",
        "language",
        "hidden",
        "priority",
        "level",
        *(f"name_{code}" for code in codes),
        *(f"slug_{code}" for code in codes),
    )
    nodes: dict[int, dict] = {}
    roots: list[dict] = []
    for row in rows:
        node = {**row, "children": []}
        nodes[row["id"]] = node
        parent = nodes.get(row["parent_id"])
        (parent["children"] if parent is not None else roots).append(node)

    def order(node: dict) -> tuple:
        preferred = [language.lower()] if language else []
        name = next(
            (
                node[f"name_{code}"]
                for code in [*preferred, node["language"].lower(), *codes]
                if node.get(f"name_{code}")
            ),
            "",
        )
        return (node["priority"], name.lower(), node["id"])

    for node in nodes.values():
        node["children"].sort(key=order)
    roots.sort(key=lambda node: node["id"])
    return roots
