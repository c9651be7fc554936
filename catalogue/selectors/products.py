"""Product reads: exact code matches, category pages, counted pages of common searches."""

from collections.abc import Callable

from django.db import connection
from django.db.models.functions import Upper

from catalogue.models import Product, ProductAncestor, ProductCategory, ProductSource
from catalogue.selectors.counts import subtree_product_counts, table_row_count, time_range_count


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


# Filters answered from category memberships alone, and the date ranges with hour counts.
MEMBERSHIP_FILTERS = {"categoryIds", "categoryDescendants", "statuses"}
DATE_RANGE_FILTERS = (("createdAt", "created_at"), ("lastModifiedAt", "last_modified_at"))


def product_page(
    given: set[str],
    cleaned: Callable[[], dict],
    sort: list[tuple[str, bool]],
    start: int,
    size: int,
    ordered_ids: Callable[[int, int], list[int]],
) -> tuple[int, list[int]] | None:
    """Count and page the common product searches from structures made for them.

    `given` names the filters the caller sent, `cleaned()` returns their parsed values and
    `ordered_ids(start, size)` reads a page of ids in the requested order the general way.
    Returns None for a search these structures do not answer.
    """
    by_id_only = not sort or [field for field, _ in sort] == ["id"]

    def counted(total: int) -> tuple[int, list[int]]:
        return total, ([] if start >= total else ordered_ids(start, size))

    if not given:
        # The whole catalogue: the maintained row count, and the order's index to the page.
        return counted(table_row_count(Product))
    if given <= MEMBERSHIP_FILTERS and "categoryIds" in given and by_id_only:
        values = cleaned()
        if values["categoryIds"]:
            return category_product_page(
                [int(pk) for pk in values["categoryIds"]],
                descendants=values.get("categoryDescendants") not in ("N", "false"),
                statuses=values["statuses"],
                start=start,
                size=size,
                descending=bool(sort) and sort[0][1],
            )
    for prefix, column in DATE_RANGE_FILTERS:
        if given <= {f"{prefix}From", f"{prefix}To"}:
            # One date range: whole hours are counted from hour counts, not row by row.
            values = cleaned()
            return counted(
                time_range_count(Product, column, values[f"{prefix}From"], values[f"{prefix}To"])
            )
    return None
