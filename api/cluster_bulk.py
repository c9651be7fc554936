"""Nested cluster items: clusters with their `products` and `options` (options with `products`),
read from raw request items and answered with nested per-item results. The cluster bulk endpoint
and the import command share them."""

from api.bulk import BulkKey, build_items, item_results
from api.resources.clusters import CLUSTERS_RESOURCE, OPTIONS_RESOURCE
from api.resources.products import PRODUCTS_RESOURCE
from catalogue.errors import CatalogueError, Code
from catalogue.services.clusters import NESTED_OPTION_KEY, NESTED_PRODUCT_KEY, NestedCluster


def nested_clusters(raw_items: list, key: str, bulk_key: BulkKey) -> list[NestedCluster]:
    """Bulk items for each raw cluster and the products and options nested in it.

    Nested products and options are keyed like the clusters (`code` names products by `sku`
    and options by `sourceId`).
    """
    product_key = NESTED_PRODUCT_KEY[key]
    option_key = NESTED_OPTION_KEY[key]
    raw_clusters = []
    nested_raw = []
    for raw in raw_items:
        products, options, problem = _split_nested(raw, ("products", "options"))
        raw_clusters.append(_without(raw, ("products", "options")))
        nested_raw.append((products, options, problem))
    clusters = _items(raw_clusters, key, CLUSTERS_RESOURCE, bulk_key)
    result = []
    for item, (products, options, problem) in zip(clusters, nested_raw, strict=True):
        if problem:
            item.fail(CatalogueError(Code.SCHEMA_VALIDATION, problem))
        option_products = {}
        option_items_raw = []
        option_problems: dict[int, str] = {}
        for index, raw_option in enumerate(options):
            option_nested, _, option_problem = _split_nested(raw_option, ("products",))
            option_items_raw.append(_without(raw_option, ("products",)))
            if option_problem:
                option_problems[index] = option_problem
            option_products[index] = _items(option_nested, product_key, PRODUCTS_RESOURCE)
        option_items = _items(option_items_raw, option_key, OPTIONS_RESOURCE)
        for index, option_problem in option_problems.items():
            option_items[index].fail(CatalogueError(Code.SCHEMA_VALIDATION, option_problem))
        result.append(
            NestedCluster(
                item,
                _items(products, product_key, PRODUCTS_RESOURCE),
                option_items,
                option_products,
            )
        )
    return result


def nested_results(clusters: list[NestedCluster], key: str, dry_run: bool) -> list[dict]:
    """Each cluster's result with its products' and options' results (options with their
    products') nested in it."""
    product_key = NESTED_PRODUCT_KEY[key]
    option_key = NESTED_OPTION_KEY[key]
    results = []
    for nested, result in zip(
        clusters, item_results([n.item for n in clusters], key, dry_run), strict=True
    ):
        result["products"] = item_results(nested.products, product_key, dry_run)
        result["options"] = item_results(nested.options, option_key, dry_run)
        for index, option_result in enumerate(result["options"]):
            option_result["products"] = item_results(
                nested.option_products.get(index, []), product_key, dry_run
            )
        results.append(result)
    return results


def _items(raw_items: list, key: str, resource, bulk_key: BulkKey | None = None):
    return build_items(
        raw_items,
        lookup_key=key,
        key=bulk_key or BulkKey(resource.bulk_keys[key]),
        struct=resource.write_struct,
        to_changes=resource.changes,
    )


def _split_nested(raw, names: tuple[str, ...]) -> tuple[list, list, str | None]:
    """The nested arrays of a raw item (`names[0]`, `names[1]`), or why they are malformed."""
    if not isinstance(raw, dict):
        return [], [], None
    found = []
    for name in names:
        value = raw.get(name, [])
        if value is None:
            value = []
        if not isinstance(value, list):
            return [], [], f"{name}: must be an array"
        found.append(value)
    while len(found) < 2:
        found.append([])
    return found[0], found[1], None


def _without(raw, names: tuple[str, ...]):
    """The item less its nested arrays (an item that is not an object stays as it is)."""
    if not isinstance(raw, dict):
        return raw
    return {k: v for k, v in raw.items() if k not in names}
