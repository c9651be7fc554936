"""Product searches counted from maintained structures stay exact through every kind of write.

A single date range is counted from hour counts plus the partial hours at its ends; categories
and statuses are counted from memberships, which carry their product's status.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from catalogue.models import (
    Category,
    CategoryProductDelta,
    HourCountDelta,
    Product,
    ProductCategory,
)
from catalogue.selectors.counts import subtree_product_counts, time_range_count
from catalogue.services.products import category_add_products
from tests.api.test_products import page_meta, set_stamps
from tests.assertions import listed_ids
from tests.factories import ls, make_category, make_product

BASE = datetime(2026, 3, 1, 10, tzinfo=UTC)


def stamp(text: str) -> str:
    return text.replace("+00:00", "Z")


def at(hours: float, ms: int = 0) -> datetime:
    return BASE + timedelta(hours=hours, milliseconds=ms)


# Stamps on, just before and just after whole hours, and inside them.
OFFSETS = [
    (0, 0),
    (0, 1),
    (0.5, 0),
    (1, -1),
    (1, 0),
    (1, 0),
    (1.25, 7),
    (2, 0),
    (2.75, 999),
    (3, -1),
    (5, 0),
    (5.5, 0),
    (26, 0),
]


@pytest.fixture
def spread(db) -> list[Product]:
    products = [make_product(f"Spread {n}") for n in range(len(OFFSETS))]
    for product, (hours, ms) in zip(products, OFFSETS, strict=True):
        # Modified a day after creation, so the two columns count different hours.
        set_stamps(product, created=at(hours, ms), modified=at(hours + 24, ms))
    return products


RANGES = [
    (None, None),
    (at(0), at(1)),  # whole hours
    (at(0), at(3)),
    (at(0, 1), at(1, -1)),  # inside one hour
    (at(0, 1), at(2, 1)),  # partial hours at both ends
    (at(0.5), at(5.5)),
    (at(1), at(1)),  # empty: to is exclusive
    (at(1), at(1, 1)),
    (at(3), at(0)),  # reversed: empty
    (at(1), None),
    (None, at(1)),
    (at(0.25), None),
    (None, at(2.75, 999)),
    (at(-100), at(100)),
    (at(30), None),
]


def expected_ids(column: str, start, end) -> list[int]:
    rows = Product.objects.all()
    if start is not None:
        rows = rows.filter(**{f"{column}__gte": start})
    if end is not None:
        rows = rows.filter(**{f"{column}__lt": end})
    return sorted(rows.values_list("pk", flat=True))


def search_range(api, field: str, start, end, **params):
    query = {**params}
    if start is not None:
        query[f"{field}From"] = stamp(start.isoformat(timespec="milliseconds"))
    if end is not None:
        query[f"{field}To"] = stamp(end.isoformat(timespec="milliseconds"))
    return api.get("/v2/products", params=query)


@pytest.mark.parametrize(
    ("field", "column", "shift"),
    [("createdAt", "created_at", 0), ("lastModifiedAt", "last_modified_at", 24)],
)
@pytest.mark.parametrize(("start", "end"), RANGES)
def test_date_range_counts_are_exact(api, spread, field, column, shift, start, end):
    start = start and start + timedelta(hours=shift)
    end = end and end + timedelta(hours=shift)
    expected = expected_ids(column, start, end)

    response = search_range(api, field, start, end, offset=100)

    assert page_meta(response)["itemsFound"] == len(expected)
    assert listed_ids(response) == expected


def test_a_date_range_sorted_by_its_column_pages_in_order(api, spread):
    start, end = at(24.5), at(29.5)
    expected = sorted(
        Product.objects.filter(last_modified_at__gte=start, last_modified_at__lt=end),
        key=lambda p: (p.last_modified_at, p.pk),
        reverse=True,
    )

    first = search_range(api, "lastModifiedAt", start, end, sort="-lastModifiedAt", offset=3)
    last = search_range(api, "lastModifiedAt", start, end, sort="-lastModifiedAt", offset=3, page=3)
    beyond = search_range(
        api, "lastModifiedAt", start, end, sort="-lastModifiedAt", offset=3, page=9
    )

    assert listed_ids(first) == [p.pk for p in expected[:3]]
    assert listed_ids(last) == [p.pk for p in expected[6:9]]
    assert listed_ids(beyond) == []
    assert page_meta(beyond)["itemsFound"] == len(expected) == 9


def range_count(api, field: str, start, end) -> int:
    return page_meta(search_range(api, field, start, end))["itemsFound"]


def test_hour_counts_follow_creates_updates_and_deletes(api, spread):
    now = datetime.now(UTC)
    recent = now - timedelta(hours=2)
    before = range_count(api, "lastModifiedAt", recent, None)

    created = api.post("/v2/products", {"names": ls(EN="Fresh")}).json()["data"]
    assert range_count(api, "lastModifiedAt", recent, None) == before + 1
    assert range_count(api, "createdAt", recent, None) == before + 1

    # An update moves the product's lastModifiedAt to this hour, not its createdAt.
    api.patch(f"/v2/products/id/{spread[0].pk}", {"sku": "MOVED"})
    assert range_count(api, "lastModifiedAt", recent, None) == before + 2
    # Four products were modified in the hour from at(24), four created in the one from at(0).
    assert range_count(api, "lastModifiedAt", at(24), at(25)) == 3
    assert range_count(api, "createdAt", at(0), at(1)) == 4

    api.delete(f"/v2/products/id/{created['id']}")
    api.delete(f"/v2/products/id/{spread[1].pk}")
    assert range_count(api, "lastModifiedAt", recent, None) == before + 1
    assert range_count(api, "createdAt", at(0), at(1)) == 3
    assert range_count(api, "createdAt", None, None) == Product.objects.count()


def test_hour_counts_follow_bulk_writes(api, spread):
    recent = datetime.now(UTC) - timedelta(hours=2)
    items = [{"sourceId": f"B-{n}", "source": "erp", "names": ls(EN=f"Bulk {n}")} for n in range(5)]
    # Two existing products join through their ids in a second request.
    api.post("/v2/products/bulk/sourceId", {"products": items})
    api.post(
        "/v2/products/bulk/id",
        {"products": [{"id": p.pk, "sku": f"S-{p.pk}"} for p in spread[:2]]},
    )
    api.post("/v2/products/bulk/sourceId/delete", {"products": items[:2]})

    assert range_count(api, "lastModifiedAt", recent, None) == 5
    assert range_count(api, "createdAt", recent, None) == 3
    assert range_count(api, "createdAt", None, None) == Product.objects.count()


def delta_rows(column: str) -> int:
    return HourCountDelta.objects.filter(table_name="catalogue_product", column_name=column).count()


def test_reading_a_range_folds_its_deltas_into_one_row_per_hour(spread):
    for product in spread:
        Product.objects.filter(pk=product.pk).update(last_modified_at=at(40))
        Product.objects.filter(pk=product.pk).update(last_modified_at=at(41))
    pieces = delta_rows("last_modified_at")

    count = time_range_count(Product, "last_modified_at", None, None, compact_after=0)

    assert count == len(spread)
    # Hours whose deltas sum to nothing go; one row stays for the hour all products are in.
    assert delta_rows("last_modified_at") == 1 < pieces
    assert time_range_count(Product, "last_modified_at", at(41), at(42)) == len(spread)
    assert time_range_count(Product, "last_modified_at", None, None) == len(spread)


def test_truncating_products_clears_their_hour_counts(spread):
    with connection.cursor() as cursor:
        # Deferred foreign-key checks of the fixture's writes would block the TRUNCATE.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE catalogue_product CASCADE")

    assert not HourCountDelta.objects.filter(table_name="catalogue_product").exists()
    assert time_range_count(Product, "created_at", None, None) == 0


def test_a_date_range_runs_a_fixed_number_of_queries(api, spread, django_assert_num_queries):
    search_range(api, "createdAt", at(0.5), at(5.5))

    # Token check, count, page ids, page rows (with sources and memberships).
    with django_assert_num_queries(4):
        response = search_range(api, "createdAt", at(0.5), at(5.5))

    assert page_meta(response)["itemsFound"] == 9


# Categories and statuses ---------------------------------------------------------------------


@pytest.fixture
def tree(db) -> dict:
    """tools > drills > bits, and garden; some products in several categories of a subtree."""
    tools = make_category("Tools")
    drills = make_category("Drills", parent=tools)
    bits = make_category("Bits", parent=drills)
    garden = make_category("Garden")
    products = {
        "valve": make_product("Valve", parent={"id": drills.pk}, status="A"),
        "pipe": make_product("Pipe", parent={"id": bits.pk}, status="T"),
        "bolt": make_product("Bolt", parent={"id": tools.pk}, status="A"),
        "hose": make_product("Hose", parent={"id": garden.pk}, status="P"),
        "tap": make_product("Tap", parent={"id": bits.pk}, status="S"),
        "loose": make_product("Loose", status="A"),
    }
    # In three categories of the tools subtree, and in garden too.
    category_add_products(
        category_id=tools.pk, product_ids=[products["valve"].pk, products["pipe"].pk]
    )
    category_add_products(category_id=bits.pk, product_ids=[products["valve"].pk])
    category_add_products(category_id=garden.pk, product_ids=[products["pipe"].pk])
    return {"tools": tools, "drills": drills, "bits": bits, "garden": garden, **products}


def pks(tree: dict, *names: str) -> list[int]:
    return sorted(tree[name].pk for name in names)


def category_search(api, tree, category: str, **params):
    return api.get("/v2/products", params={"categoryIds": tree[category].pk, **params})


@pytest.mark.parametrize(
    ("category", "params", "expected"),
    [
        ("tools", {}, ["valve", "pipe", "bolt", "tap"]),
        ("tools", {"statuses": "A,T"}, ["valve", "pipe", "bolt"]),
        ("tools", {"statuses": "T"}, ["pipe"]),
        ("tools", {"statuses": "N"}, []),
        ("tools", {"categoryDescendants": "N"}, ["valve", "pipe", "bolt"]),
        ("tools", {"categoryDescendants": "N", "statuses": "A"}, ["valve", "bolt"]),
        ("bits", {}, ["valve", "pipe", "tap"]),
        ("garden", {"statuses": "T,P"}, ["pipe", "hose"]),
    ],
)
def test_category_and_status_searches_count_each_product_once(
    api, tree, category, params, expected
):
    response = category_search(api, tree, category, **params)

    assert listed_ids(response) == pks(tree, *expected)
    assert page_meta(response)["itemsFound"] == len(expected)


def test_category_searches_page_by_id_both_ways(api, tree):
    ascending = pks(tree, "valve", "pipe", "bolt", "tap")

    first = category_search(api, tree, "tools", offset=3)
    second = category_search(api, tree, "tools", offset=3, page=2)
    backwards = category_search(api, tree, "tools", sort="-id", offset=3)
    beyond = category_search(api, tree, "tools", offset=3, page=3)

    assert listed_ids(first) + listed_ids(second) == ascending
    assert listed_ids(backwards) == ascending[::-1][:3]
    assert listed_ids(beyond) == []
    assert page_meta(beyond) | {"messages": []} == {
        "messages": [],
        "start": 0,
        "end": 0,
        "page": 3,
        "pages": 2,
        "total": 0,
        "offset": 3,
        "itemsFound": 4,
    }


def membership_statuses(product: Product) -> set[str]:
    return set(
        ProductCategory.objects.filter(product=product).values_list("product_status", flat=True)
    )


def test_memberships_follow_status_changes(api, tree):
    api.patch(f"/v2/products/id/{tree['valve'].pk}", {"status": "N"})
    api.post(
        "/v2/products/bulk/id",
        {"products": [{"id": tree["bolt"].pk, "status": "T"}, {"id": tree["tap"].pk}]},
    )

    assert membership_statuses(tree["valve"]) == {"N"}
    assert membership_statuses(tree["bolt"]) == {"T"}
    assert membership_statuses(tree["tap"]) == {"S"}
    assert listed_ids(category_search(api, tree, "tools", statuses="T")) == pks(
        tree, "pipe", "bolt"
    )
    assert listed_ids(category_search(api, tree, "tools", statuses="N")) == pks(tree, "valve")


def test_new_memberships_take_the_products_status(api, tree):
    api.patch(f"/v2/products/id/{tree['loose'].pk}", {"status": "R"})

    added = api.post(
        f"/v2/categories/id/{tree['garden'].pk}/add-products-clusters",
        {"products": [{"id": tree["loose"].pk}]},
    )
    moved = api.patch(f"/v2/products/id/{tree['hose'].pk}", {"parent": {"id": tree["bits"].pk}})

    assert added.status_code == moved.status_code == 200
    assert membership_statuses(tree["loose"]) == {"R"}
    assert membership_statuses(tree["hose"]) == {"P"}
    assert listed_ids(category_search(api, tree, "garden", statuses="R,P")) == pks(tree, "loose")


def test_category_search_runs_a_fixed_number_of_queries(api, tree, django_assert_num_queries):
    category_search(api, tree, "tools", statuses="A,T")

    # Token check, count, page ids, page rows.
    with django_assert_num_queries(4):
        response = category_search(api, tree, "tools", statuses="A,T")

    assert page_meta(response)["itemsFound"] == 3


# Products below categories ---------------------------------------------------------------------


def ancestor_rows() -> set[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT category_id, product_id, product_status, paths FROM catalogue_productancestor"
        )
        return set(cursor.fetchall())


def expected_ancestor_rows() -> set[tuple]:
    """Every (category at or above a membership, product) with the product's status."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.id, m.product_id, p.status, count(*)
            FROM catalogue_productcategory m
            JOIN catalogue_product p ON p.id = m.product_id
            JOIN catalogue_category c ON c.id = m.category_id
            JOIN catalogue_category a
              ON a.tree_id = c.tree_id AND a.lft <= c.lft AND a.rght >= c.rght
            GROUP BY a.id, m.product_id, p.status
            """
        )
        return set(cursor.fetchall())


def below_counts() -> dict[tuple, int]:
    """(category, status) -> products, from the maintained deltas."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT category_id, product_status, sum(delta) FROM catalogue_categoryproductdelta "
            "GROUP BY 1, 2 HAVING sum(delta) <> 0"
        )
        return {(category, status): n for category, status, n in cursor.fetchall()}


def assert_products_below_are_right() -> None:
    expected = expected_ancestor_rows()
    assert ancestor_rows() == expected
    counts: dict[tuple, int] = {}
    for category, _, status, _ in expected:
        counts[category, status] = counts.get((category, status), 0) + 1
    assert below_counts() == counts


def commit_time_work() -> None:
    """Run what PostgreSQL defers to commit (tests never commit)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def test_products_below_categories_start_right(tree):
    rows = ancestor_rows()

    assert_products_below_are_right()
    # Valve is in drills, bits and tools: three paths reach tools, two drills, one bits.
    valve = {row[0]: row[3] for row in rows if row[1] == tree["valve"].pk}
    assert valve == {tree["tools"].pk: 3, tree["drills"].pk: 2, tree["bits"].pk: 1}


def test_products_below_categories_follow_membership_writes(api, tree):
    tools, bits, garden = tree["tools"].pk, tree["bits"].pk, tree["garden"].pk
    api.post(
        f"/v2/categories/id/{tools}/remove-products-clusters",
        {"products": [{"id": tree["valve"].pk}, {"id": tree["pipe"].pk}]},
    )
    api.post(
        f"/v2/categories/id/{garden}/add-products-clusters", {"products": [{"id": tree["tap"].pk}]}
    )
    api.patch(f"/v2/products/id/{tree['bolt'].pk}", {"parent": {"id": bits}})
    api.patch(f"/v2/products/id/{tree['hose'].pk}", {"parent": None})
    api.delete(f"/v2/products/id/{tree['pipe'].pk}")

    assert_products_below_are_right()
    assert listed_ids(category_search(api, tree, "tools")) == pks(tree, "valve", "bolt", "tap")
    assert listed_ids(category_search(api, tree, "garden")) == pks(tree, "tap")


def test_products_below_categories_follow_bulk_writes(api, tree):
    drills, garden = tree["drills"].pk, tree["garden"].pk
    api.post(
        "/v2/products/bulk/id",
        {
            "products": [
                {"id": tree["loose"].pk, "parent": {"id": drills}, "status": "T"},
                {"id": tree["valve"].pk, "parent": {"id": garden}},
            ]
        },
    )
    api.post(
        "/v2/products/bulk/sourceId",
        {
            "products": [
                {
                    "source": "erp",
                    "sourceId": "N-1",
                    "names": ls(EN="New"),
                    "parent": {"id": drills},
                }
            ]
        },
    )
    api.post("/v2/products/bulk/id/delete", {"products": [{"id": tree["tap"].pk}]})

    assert_products_below_are_right()
    found = category_search(api, tree, "drills", statuses="T")
    assert page_meta(found)["itemsFound"] == 2  # pipe and loose


def test_products_below_categories_follow_moves(api, tree):
    # Drills (with bits) moves from tools to garden; bits then becomes a root of its own.
    api.patch(f"/v2/categories/id/{tree['drills'].pk}", {"parent": {"id": tree["garden"].pk}})
    commit_time_work()
    moved_once = ancestor_rows()
    api.post(
        "/v2/categories/bulk/id",
        {"categories": [{"id": tree["bits"].pk, "parent": None}]},
    )
    commit_time_work()

    assert moved_once != ancestor_rows()
    assert_products_below_are_right()
    assert listed_ids(category_search(api, tree, "tools")) == pks(tree, "valve", "pipe", "bolt")
    assert listed_ids(category_search(api, tree, "garden")) == pks(tree, "valve", "pipe", "hose")
    assert listed_ids(category_search(api, tree, "bits")) == pks(tree, "valve", "pipe", "tap")


def test_products_below_categories_follow_moves_in_the_admin(api, client, tree, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("staff", "s@example.com", "x"))

    # Drag-and-drop: drills (with bits) becomes the last child of garden.
    response = client.post(
        "/admin/catalogue/category/",
        {
            "cmd": "move_node",
            "cut_item": tree["drills"].pk,
            "pasted_on": tree["garden"].pk,
            "position": "last-child",
        },
    )
    commit_time_work()

    assert response.status_code == 200
    assert Category.objects.get(pk=tree["drills"].pk).parent_id == tree["garden"].pk
    assert_products_below_are_right()
    assert listed_ids(category_search(api, tree, "garden")) == pks(
        tree, "valve", "pipe", "hose", "tap"
    )


def test_product_counts_of_categories_count_products_below_them(api, tree):
    rows = api.get("/v2/categories", params={"ids": f"{tree['tools'].pk},{tree['garden'].pk}"})

    counts = {row["id"]: row["productCount"] for row in rows.json()["data"]}
    assert counts == {tree["tools"].pk: 4, tree["garden"].pk: 2}


def test_truncating_memberships_empties_products_below_categories(tree):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE catalogue_productcategory")

    assert ancestor_rows() == set()
    assert below_counts() == {}


def test_status_changes_move_products_between_counts(api, tree):
    api.patch(f"/v2/products/id/{tree['valve'].pk}", {"status": "R"})
    api.post(
        "/v2/products/bulk/id",
        {"products": [{"id": tree["pipe"].pk, "status": "R"}, {"id": tree["hose"].pk}]},
    )

    assert_products_below_are_right()
    restricted = category_search(api, tree, "tools", statuses="R")
    assert listed_ids(restricted) == pks(tree, "valve", "pipe")
    assert page_meta(restricted)["itemsFound"] == 2


def test_reading_counts_folds_their_deltas(api, tree):
    for status in ["T", "A", "T", "A"] * 10:
        Product.objects.filter(pk=tree["bolt"].pk).update(status=status)
    tools = tree["tools"].pk
    pieces = CategoryProductDelta.objects.filter(category_id=tools).count()

    counts = subtree_product_counts([tools], compact_after=0)

    assert counts == {tools: 4}
    after = CategoryProductDelta.objects.filter(category_id=tools)
    assert pieces > after.count() == len({row.product_status for row in after}) == 3
    assert subtree_product_counts([tools], ["A"]) == {tools: 2}
    assert_products_below_are_right()
