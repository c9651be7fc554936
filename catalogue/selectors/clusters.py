"""Cluster reads: the configurator, and the products and clusters of a category page."""

from collections import defaultdict

from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection
from django.db.models.functions import Upper

from catalogue.models import (
    Cluster,
    ClusterAncestor,
    ClusterCategory,
    ClusterConfigSetting,
    ClusterOption,
    ClusterSource,
    Product,
)
from catalogue.selectors.counts import subtree_cluster_counts


def configurator(cluster: Cluster) -> dict:
    """The variant chooser of a cluster, in three queries whatever its size.

    Settings in ascending priority, each value with the products that have it (values sorted);
    variants with their driving attributes; options by sort order with their selectable
    products; and problems: products missing a driving attribute, and products sharing one
    combination of driving attributes.
    """
    settings = list(
        ClusterConfigSetting.objects.filter(config_id=cluster.config_id)
        .order_by("priority", "id")
        .values("attribute_name", "display_type", "priority")
    )
    products = list(
        Product.objects.filter(cluster_id=cluster.pk).order_by("pk").values_list("pk", "attributes")
    )
    options = list(
        ClusterOption.objects.filter(cluster_id=cluster.pk)
        .order_by("sort_order", "pk")
        .annotate(selectable_ids=ArrayAgg("selectable__product_id", default=None))
        .values(
            "pk",
            "language",
            "is_required",
            "sort_order",
            "default_product_id",
            "selectable_ids",
            *(f"name_{code}" for code in _codes()),
        )
    )
    driving = [setting["attribute_name"] for setting in settings]
    values: dict[str, dict[str, list[int]]] = {name: defaultdict(list) for name in driving}
    variants, missing = [], defaultdict(list)
    combinations: dict[tuple, list[int]] = defaultdict(list)
    for product_id, attributes in products:
        given = {
            entry.get("name"): entry.get("value")
            for entry in attributes or []
            if isinstance(entry, dict)
        }
        chosen = {name: given[name] for name in driving if name in given}
        variants.append({"productId": product_id, "attributes": chosen})
        for name in driving:
            if name in given:
                values[name][given[name]].append(product_id)
            else:
                missing[name].append(product_id)
        if len(chosen) == len(driving) and driving:
            combinations[tuple(chosen[name] for name in driving)].append(product_id)
    problems = [
        {"type": "missingAttribute", "productIds": ids, "attributeName": name}
        for name, ids in missing.items()
    ]
    problems += [
        {"type": "duplicateCombination", "productIds": ids}
        for ids in combinations.values()
        if len(ids) > 1
    ]
    return {
        "clusterId": cluster.pk,
        "clusterConfigId": cluster.config_id,
        "defaultProductId": cluster.default_product_id,
        "settings": [
            {
                "attributeName": setting["attribute_name"],
                "displayType": setting["display_type"],
                "priority": setting["priority"],
                "values": [
                    {"value": value, "productIds": ids}
                    for value, ids in sorted(values[setting["attribute_name"]].items())
                ],
            }
            for setting in settings
        ],
        "variants": variants,
        "options": options,
        "problems": problems,
    }


def _codes() -> list[str]:
    from django.conf import settings

    return [code for code, _ in settings.LANGUAGES]


def category_cluster_page(
    category_id: int, *, descendants: bool, start: int, size: int
) -> tuple[int, list[int]]:
    """Count and page (by id) the clusters in a category or below it."""
    if descendants:
        total = subtree_cluster_counts([category_id]).get(category_id, 0)
        table = ClusterAncestor._meta.db_table
    else:
        total = ClusterCategory.objects.filter(category_id=category_id).count()
        table = ClusterCategory._meta.db_table
    if start >= total or size <= 0:
        return total, []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT cluster_id FROM {table} WHERE category_id = %s "
            "ORDER BY cluster_id LIMIT %s OFFSET %s",
            [category_id, size, start],
        )
        return total, [row[0] for row in cursor.fetchall()]


def cluster_ids_with_code(code: str, limit: int = 100) -> list[int]:
    """Ids of clusters whose code (any case) or a source id equals `code` exactly."""
    if not code or len(code) > 255:
        return []
    by_code = (
        Cluster.objects.annotate(code_upper=Upper("code"))
        .filter(code_upper=code.upper())
        .values("pk")
        .union(ClusterSource.objects.filter(source_id=code).values("owner_id"))
    )
    return [row["pk"] for row in by_code[:limit]]
