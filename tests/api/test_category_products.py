"""The products of a category: listing, adding, removing, and deletion rules."""

import pytest

from catalogue.models import Category, Product, ProductCategory
from catalogue.services.products import category_add_products
from tests.assertions import EMPTY_PAGE, LIST_KEYS, assert_error, category_snapshot, listed_ids
from tests.factories import ls, make_category, make_product, make_products


def memberships() -> list[tuple[int, int, bool]]:
    return list(
        ProductCategory.objects.order_by("product_id", "category_id").values_list(
            "product_id", "category_id", "is_primary"
        )
    )


def snapshot() -> tuple:
    return (
        category_snapshot(),
        memberships(),
        list(Product.objects.order_by("pk").values("pk", "last_modified_at")),
    )


def product_data(api, product: Product) -> dict:
    response = api.get(f"/v2/products/id/{product.pk}")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def category_data(api, category: Category) -> dict:
    response = api.get(f"/v2/categories/id/{category.pk}")
    assert response.status_code == 200, response.content
    return response.json()["data"]


@pytest.fixture
def shop(db) -> dict:
    """tools > drills > bits, and garden; products placed across them."""
    tools = make_category("Tools", sources=[("erp", "CAT-T")])
    drills = make_category("Drills", parent=tools)
    bits = make_category("Bits", parent=drills)
    garden = make_category("Garden")
    hammer = make_product("Hammer", parent={"id": tools.pk})
    drill = make_product(
        "Drill", parent={"id": drills.pk}, sources=[{"source": "erp", "sourceId": "P-DRILL"}]
    )
    bit = make_product("Bit", parent={"id": bits.pk})
    hose = make_product(
        "Hose", parent={"id": garden.pk}, sources=[{"source": "erp", "sourceId": "P-HOSE"}]
    )
    loose = make_product("Loose", sources=[{"source": "pim", "sourceId": "L-1"}])
    # The hose is also sold under tools, and the bit also directly in drills.
    category_add_products(category_id=tools.pk, product_ids=[hose.pk])
    category_add_products(category_id=drills.pk, product_ids=[bit.pk])
    return {
        "tools": tools,
        "drills": drills,
        "bits": bits,
        "garden": garden,
        "hammer": hammer,
        "drill": drill,
        "bit": bit,
        "hose": hose,
        "loose": loose,
    }


# Listing ---------------------------------------------------------------------------------------


def test_products_of_a_category(api, shop):
    response = api.get(f"/v2/categories/id/{shop['tools'].pk}/products")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == LIST_KEYS
    assert {key: value for key, value in body.items() if key != "data"} == {
        "messages": [],
        "start": 1,
        "end": 2,
        "page": 1,
        "pages": 1,
        "total": 2,
        "offset": 12,
        "itemsFound": 2,
    }
    assert body["data"] == [
        {**product_data(api, shop["hammer"]), "class": "product", "isPrimary": True},
        {**product_data(api, shop["hose"]), "class": "product", "isPrimary": False},
    ]


def test_is_primary_is_relative_to_the_category(api, shop):
    drills = api.get(f"/v2/categories/id/{shop['drills'].pk}/products").json()["data"]
    bits = api.get(f"/v2/categories/id/{shop['bits'].pk}/products").json()["data"]

    assert [(row["id"], row["isPrimary"]) for row in drills] == [
        (shop["drill"].pk, True),
        (shop["bit"].pk, False),
    ]
    assert [(row["id"], row["isPrimary"]) for row in bits] == [(shop["bit"].pk, True)]


@pytest.mark.parametrize(
    ("category", "descendants", "expected"),
    [
        ("tools", None, ["hammer", "hose"]),
        ("tools", "false", ["hammer", "hose"]),
        ("tools", "true", ["hammer", "drill", "bit", "hose"]),
        ("tools", "TRUE", ["hammer", "drill", "bit", "hose"]),
        ("drills", "true", ["drill", "bit"]),
        ("bits", "true", ["bit"]),
        ("garden", "true", ["hose"]),
    ],
)
def test_descendants_include_the_subtree_once(api, shop, category, descendants, expected):
    params = {} if descendants is None else {"descendants": descendants}

    response = api.get(f"/v2/categories/id/{shop[category].pk}/products", params=params)

    ids = listed_ids(response)
    assert ids == sorted(shop[name].pk for name in expected)
    assert response.json()["itemsFound"] == len(expected)
    assert {row["class"] for row in response.json()["data"]} == {"product"}


def test_products_of_a_category_by_source_id(api, shop):
    response = api.get("/v2/categories/sourceId/CAT-T/products", params={"source": "erp"})

    assert listed_ids(response) == [shop["hammer"].pk, shop["hose"].pk]


def test_products_of_an_empty_category(api, db):
    empty = make_category("Empty")

    response = api.get(f"/v2/categories/id/{empty.pk}/products", params={"descendants": "true"})

    assert response.json() == EMPTY_PAGE


def test_products_of_a_category_are_paginated(api, db):
    category = make_category("Many")
    products = make_products(
        [{"name": f"Item {n}", "parent": {"id": category.pk}} for n in range(25)]
    )
    path = f"/v2/categories/id/{category.pk}/products"

    second = api.get(path, params={"page": 2, "offset": 10})
    last = api.get(path, params={"page": 3, "offset": 10})
    past = api.get(path, params={"page": 9, "offset": 10})

    assert listed_ids(second) == [p.pk for p in products[10:20]]
    assert {k: v for k, v in second.json().items() if k != "data"} == {
        "messages": [],
        "start": 11,
        "end": 20,
        "page": 2,
        "pages": 3,
        "total": 10,
        "offset": 10,
        "itemsFound": 25,
    }
    assert (last.json()["start"], last.json()["end"], last.json()["total"]) == (21, 25, 5)
    assert past.json()["data"] == []
    assert (past.json()["start"], past.json()["end"], past.json()["itemsFound"]) == (0, 0, 25)


def test_products_of_a_category_in_one_language_with_expands(api, db):
    category = make_category("Tools", names={"NL": "Gereedschap"})
    product = make_product("Hammer", names=ls(EN="Hammer", NL="Hamer"), parent={"id": category.pk})

    response = api.get(
        f"/v2/categories/id/{category.pk}/products",
        params={"language": "NL", "expands": "parent,categories"},
    )

    row = response.json()["data"][0]
    assert row["id"] == product.pk
    assert row["names"] == ls(NL="Hamer")
    assert row["parent"]["names"] == ls(NL="Gereedschap")
    assert [(c["id"], c["isPrimary"]) for c in row["categories"]] == [(category.pk, True)]
    assert (row["class"], row["isPrimary"]) == ("product", True)


@pytest.mark.parametrize(
    ("params", "status", "code", "type_name", "message"),
    [
        (
            {"descendants": "yes"},
            400,
            10007,
            "SchemaValidationException",
            "descendants: must be true or false",
        ),
        (
            {"expands": "children"},
            400,
            10007,
            "SchemaValidationException",
            "expands: unknown value children (allowed: categories, cluster, parent, sources)",
        ),
        (
            {"language": "XX"},
            400,
            10007,
            "SchemaValidationException",
            'language: unknown language "XX"',
        ),
        ({"offset": 1001}, 400, 10015, "PaginatedResponseException", "offset must not exceed 1000"),
        ({"page": 0}, 400, 10015, "PaginatedResponseException", "page must be a positive integer"),
    ],
)
def test_bad_parameters_on_the_products_of_a_category(
    api, shop, params, status, code, type_name, message
):
    response = api.get(f"/v2/categories/id/{shop['tools'].pk}/products", params=params)

    assert_error(response, status, code, type_name, [message])


@pytest.mark.parametrize(
    ("path", "params", "status", "code", "type_name", "message"),
    [
        ("id/999999", {}, 404, 30006, "CategoryNotFound", "Category with id [999999] not found"),
        ("id/abc", {}, 404, 30006, "CategoryNotFound", "Category with id [abc] not found"),
        (
            "sourceId/NOPE",
            {"source": "erp"},
            404,
            30006,
            "CategoryNotFound",
            "Category with sourceId [NOPE] and source [erp] not found",
        ),
        (
            "sourceId/CAT-T",
            {},
            400,
            10017,
            "PayloadValidationError",
            "Query parameter [source] is required with lookup key [sourceId]",
        ),
        (
            "sku/CAT-T",
            {},
            400,
            10006,
            "InvalidLookupKey",
            "Lookup key [sku] is not supported for category records (use id, sourceId)",
        ),
    ],
)
@pytest.mark.parametrize(
    "action", ["products", "add-products-clusters", "remove-products-clusters"]
)
def test_unresolvable_category(api, shop, path, params, status, code, type_name, message, action):
    before = snapshot()

    if action == "products":
        response = api.get(f"/v2/categories/{path}/products", params=params)
    else:
        body = {"products": [{"id": shop["loose"].pk}]}
        response = api.post(f"/v2/categories/{path}/{action}", body, params=params)

    assert_error(response, status, code, type_name, [message])
    assert snapshot() == before


# Adding ----------------------------------------------------------------------------------------


def test_add_products_by_id_and_by_source_id(api, shop):
    garden = shop["garden"]
    loose, drill = shop["loose"], shop["drill"]

    response = api.post(
        f"/v2/categories/id/{garden.pk}/add-products-clusters",
        {"products": [{"id": loose.pk}, {"source": "erp", "sourceId": "P-DRILL"}]},
    )

    assert response.status_code == 200
    assert response.json() == {
        "data": [
            {
                "index": 0,
                "action": "move",
                "id": loose.pk,
                "key": loose.pk,
                "lookupKey": "id",
                "success": True,
                "class": "product",
            },
            {
                "index": 1,
                "action": "move",
                "id": drill.pk,
                "key": "P-DRILL",
                "lookupKey": "sourceId",
                "success": True,
                "class": "product",
            },
        ],
        "messages": ["Completed: 0 created, 0 updated, 2 moved, 0 skipped, 0 failed"],
    }
    assert ProductCategory.objects.get(product=loose, category=garden).is_primary is False
    assert ProductCategory.objects.get(product=drill, category=garden).is_primary is False
    # An added category is an extra one: the primary category stays first.
    assert product_data(api, drill)["categoryIds"] == [shop["drills"].pk, garden.pk]
    assert product_data(api, drill)["parent"] == {"id": shop["drills"].pk}
    assert product_data(api, loose)["parent"] is None
    assert listed_ids(api.get(f"/v2/categories/id/{garden.pk}/products")) == sorted(
        [shop["hose"].pk, loose.pk, drill.pk]
    )


def test_add_through_a_category_source_id(api, shop):
    response = api.post(
        "/v2/categories/sourceId/CAT-T/add-products-clusters",
        {"products": [{"id": shop["loose"].pk}]},
        params={"source": "erp"},
    )

    assert response.json()["data"][0]["success"] is True
    assert ProductCategory.objects.filter(product=shop["loose"], category=shop["tools"]).exists()


def test_adding_changes_the_products_last_modified_at(api, shop):
    loose = shop["loose"]
    before = product_data(api, loose)
    Product.objects.filter(pk=loose.pk).update(last_modified_at="2026-01-01T00:00:00Z")

    api.post(
        f"/v2/categories/id/{shop['garden'].pk}/add-products-clusters",
        {"products": [{"id": loose.pk}]},
    )

    after = product_data(api, loose)
    assert after["lastModifiedAt"] > "2026-01-01T00:00:00.000Z"
    assert after["categoryIds"] == [shop["garden"].pk]
    assert before["categoryIds"] == []


def test_add_reports_each_item_and_applies_the_good_ones(api, shop):
    tools = shop["tools"]
    hammer, loose, hose = shop["hammer"], shop["loose"], shop["hose"]

    response = api.post(
        f"/v2/categories/id/{tools.pk}/add-products-clusters",
        {
            "products": [
                {"id": hammer.pk},  # its primary category
                {"id": 999999},
                {"id": loose.pk},
                {"source": "erp", "sourceId": "P-HOSE"},  # already an extra member
                {"source": "erp", "sourceId": "NOPE"},
                {"source": "pim", "sourceId": "L-1"},  # the same product as index 2
            ]
        },
    )

    assert response.status_code == 200
    assert response.json() == {
        "data": [
            {
                "index": 0,
                "action": "error",
                "id": hammer.pk,
                "key": hammer.pk,
                "lookupKey": "id",
                "success": False,
                "class": "product",
                "errors": [
                    {
                        "code": 30004,
                        "type": "CategoryExists",
                        "messages": [
                            f"Product with id [{hammer.pk}] is already in category "
                            f"with id [{tools.pk}]"
                        ],
                    }
                ],
            },
            {
                "index": 1,
                "action": "error",
                "id": None,
                "key": 999999,
                "lookupKey": "id",
                "success": False,
                "class": "product",
                "errors": [
                    {
                        "code": 80006,
                        "type": "ProductNotFound",
                        "messages": ["Product with id [999999] not found"],
                    }
                ],
            },
            {
                "index": 2,
                "action": "move",
                "id": loose.pk,
                "key": loose.pk,
                "lookupKey": "id",
                "success": True,
                "class": "product",
            },
            {
                "index": 3,
                "action": "error",
                "id": hose.pk,
                "key": "P-HOSE",
                "lookupKey": "sourceId",
                "success": False,
                "class": "product",
                "errors": [
                    {
                        "code": 30004,
                        "type": "CategoryExists",
                        "messages": [
                            f"Product with id [{hose.pk}] is already in category "
                            f"with id [{tools.pk}]"
                        ],
                    }
                ],
            },
            {
                "index": 4,
                "action": "error",
                "id": None,
                "key": "NOPE",
                "lookupKey": "sourceId",
                "success": False,
                "class": "product",
                "errors": [
                    {
                        "code": 80006,
                        "type": "ProductNotFound",
                        "messages": ["Product with sourceId [NOPE] and source [erp] not found"],
                    }
                ],
            },
            {
                "index": 5,
                "action": "error",
                "id": loose.pk,
                "key": "L-1",
                "lookupKey": "sourceId",
                "success": False,
                "class": "product",
                "errors": [
                    {
                        "code": 10017,
                        "type": "PayloadValidationError",
                        "messages": [f"Product with id [{loose.pk}] is named twice"],
                    }
                ],
            },
        ],
        "messages": ["Completed: 0 created, 0 updated, 1 moved, 0 skipped, 5 failed"],
    }
    assert ProductCategory.objects.get(product=loose, category=tools).is_primary is False
    assert ProductCategory.objects.filter(category=tools).count() == 3


@pytest.mark.parametrize(
    ("ref", "key", "lookup_key"),
    [
        ({"sourceId": "P-DRILL"}, "P-DRILL", "sourceId"),
        ({"source": "erp"}, None, "sourceId"),
        ({}, None, "sourceId"),
    ],
)
@pytest.mark.parametrize("action", ["add-products-clusters", "remove-products-clusters"])
def test_incomplete_reference_fails_that_item(api, shop, ref, key, lookup_key, action):
    before = snapshot()

    response = api.post(
        f"/v2/categories/id/{shop['garden'].pk}/{action}",
        {"products": [ref, {"id": 999999}]},
    )

    assert response.status_code == 200, response.content
    first = response.json()["data"][0]
    assert first == {
        "index": 0,
        "action": "error",
        "id": None,
        "key": key,
        "lookupKey": lookup_key,
        "success": False,
        "class": "product",
        "errors": [
            {
                "code": 10017,
                "type": "PayloadValidationError",
                "messages": ["give id, or sourceId and source"],
            }
        ],
    }
    assert response.json()["data"][1]["errors"][0]["code"] == 80006
    assert snapshot() == before


@pytest.mark.parametrize("action", ["add-products-clusters", "remove-products-clusters"])
def test_cluster_references_report_cluster_not_found(api, shop, action):
    before = snapshot()

    response = api.post(
        f"/v2/categories/id/{shop['tools'].pk}/{action}",
        {"clusters": [{"id": 5}, {"source": "erp", "sourceId": "CL-1"}]},
    )

    assert response.status_code == 200
    assert [
        (row["index"], row["class"], row["success"], row["errors"][0]["code"], row["key"])
        for row in response.json()["data"]
    ] == [(0, "cluster", False, 20006, 5), (1, "cluster", False, 20006, "CL-1")]
    assert snapshot() == before


@pytest.mark.parametrize("action", ["add-products-clusters", "remove-products-clusters"])
def test_more_than_100_items_is_413_and_applies_nothing(api, shop, action):
    extras = [make_product(f"Extra {n}") for n in range(3)]
    if action == "remove-products-clusters":
        category_add_products(category_id=shop["garden"].pk, product_ids=[p.pk for p in extras])
    before = snapshot()
    refs = [{"id": p.pk} for p in extras] + [{"id": 999999}] * 97

    too_many = api.post(
        f"/v2/categories/id/{shop['garden'].pk}/{action}",
        {"products": refs, "clusters": [{"id": 1}]},
    )

    assert_error(
        too_many,
        413,
        10011,
        "PayloadTooLarge",
        ["At most 100 products and clusters per request"],
    )
    assert snapshot() == before


@pytest.mark.parametrize("action", ["add-products-clusters", "remove-products-clusters"])
def test_exactly_100_items_is_accepted(api, shop, action):
    products = make_products([{"name": f"Item {n}"} for n in range(100)])
    if action == "remove-products-clusters":
        category_add_products(category_id=shop["garden"].pk, product_ids=[p.pk for p in products])

    response = api.post(
        f"/v2/categories/id/{shop['garden'].pk}/{action}",
        {"products": [{"id": p.pk} for p in products]},
    )

    assert response.status_code == 200, response.content
    assert len(response.json()["data"]) == 100
    assert all(row["success"] for row in response.json()["data"])
    expected = 101 if action == "add-products-clusters" else 1
    assert ProductCategory.objects.filter(category=shop["garden"]).count() == expected


@pytest.mark.parametrize(
    ("body", "status", "code", "type_name", "message"),
    [
        ([{"id": 1}], 400, 10005, "InvalidJSONPayload", "Request body must be a JSON object"),
        (
            {"products": {"id": 1}},
            400,
            10007,
            "SchemaValidationException",
            "products: Expected `array`, got `object`",
        ),
        (
            {"products": [{"id": "1"}]},
            400,
            10007,
            "SchemaValidationException",
            "products[0].id: Expected `int`, got `str`",
        ),
        (
            {"products": [{"sku": "X"}]},
            400,
            10007,
            "SchemaValidationException",
            "products[0].sku: unknown field",
        ),
        (
            {"product": [{"id": 1}]},
            400,
            10007,
            "SchemaValidationException",
            "product: unknown field",
        ),
        (
            {"products": [{"source": "erp", "sourceId": ""}]},
            400,
            10007,
            "SchemaValidationException",
            "products[0].sourceId: Expected `str` of length >= 1",
        ),
    ],
)
@pytest.mark.parametrize("action", ["add-products-clusters", "remove-products-clusters"])
def test_malformed_body_is_rejected_whole(
    api, shop, body, status, code, type_name, message, action
):
    before = snapshot()

    response = api.post(f"/v2/categories/id/{shop['garden'].pk}/{action}", body)

    assert_error(response, status, code, type_name, [message])
    assert snapshot() == before


@pytest.mark.parametrize("action", ["add-products-clusters", "remove-products-clusters"])
def test_an_empty_body_does_nothing(api, shop, action):
    before = snapshot()

    response = api.post(f"/v2/categories/id/{shop['garden'].pk}/{action}", {})

    assert response.json() == {
        "data": [],
        "messages": ["Completed: 0 created, 0 updated, 0 skipped, 0 failed"],
    }
    assert snapshot() == before


# Removing --------------------------------------------------------------------------------------


def test_remove_an_extra_membership(api, shop):
    tools, hose = shop["tools"], shop["hose"]
    Product.objects.filter(pk=hose.pk).update(last_modified_at="2026-01-01T00:00:00Z")

    response = api.post(
        f"/v2/categories/id/{tools.pk}/remove-products-clusters",
        {"products": [{"source": "erp", "sourceId": "P-HOSE"}]},
    )

    assert response.status_code == 200
    assert response.json() == {
        "data": [
            {
                "index": 0,
                "action": "move",
                "id": hose.pk,
                "key": "P-HOSE",
                "lookupKey": "sourceId",
                "success": True,
                "class": "product",
            }
        ],
        "messages": ["Completed: 0 created, 0 updated, 1 moved, 0 skipped, 0 failed"],
    }
    assert not ProductCategory.objects.filter(product=hose, category=tools).exists()
    data = product_data(api, hose)
    assert data["categoryIds"] == [shop["garden"].pk]
    assert data["lastModifiedAt"] > "2026-01-01T00:00:00.000Z"
    assert listed_ids(api.get(f"/v2/categories/id/{tools.pk}/products")) == [shop["hammer"].pk]


def test_remove_reports_each_item_and_applies_the_good_ones(api, shop):
    drills = shop["drills"]
    drill, bit, hammer = shop["drill"], shop["bit"], shop["hammer"]
    before_drill = memberships()

    response = api.post(
        f"/v2/categories/id/{drills.pk}/remove-products-clusters",
        {
            "products": [
                {"id": drill.pk},  # drills is its primary category
                {"id": hammer.pk},  # not in drills (only in its parent)
                {"id": 999999},
                {"id": bit.pk},  # an extra member: removed
            ]
        },
    )

    body = response.json()
    assert response.status_code == 200
    assert body["data"] == [
        {
            "index": 0,
            "action": "error",
            "id": drill.pk,
            "key": drill.pk,
            "lookupKey": "id",
            "success": False,
            "class": "product",
            "errors": [
                {
                    "code": 30010,
                    "type": "PrimaryCategoryRemoval",
                    "messages": [
                        f"Category with id [{drills.pk}] is the primary category of product "
                        f"with id [{drill.pk}]"
                    ],
                }
            ],
        },
        {
            "index": 1,
            "action": "error",
            "id": hammer.pk,
            "key": hammer.pk,
            "lookupKey": "id",
            "success": False,
            "class": "product",
            "errors": [
                {
                    "code": 30006,
                    "type": "CategoryNotFound",
                    "messages": [
                        f"Product with id [{hammer.pk}] is not in category with id [{drills.pk}]"
                    ],
                }
            ],
        },
        {
            "index": 2,
            "action": "error",
            "id": None,
            "key": 999999,
            "lookupKey": "id",
            "success": False,
            "class": "product",
            "errors": [
                {
                    "code": 80006,
                    "type": "ProductNotFound",
                    "messages": ["Product with id [999999] not found"],
                }
            ],
        },
        {
            "index": 3,
            "action": "move",
            "id": bit.pk,
            "key": bit.pk,
            "lookupKey": "id",
            "success": True,
            "class": "product",
        },
    ]
    assert body["messages"] == ["Completed: 0 created, 0 updated, 1 moved, 0 skipped, 3 failed"]
    assert memberships() == [m for m in before_drill if m != (bit.pk, drills.pk, False)]


def test_remove_then_add_again(api, shop):
    path = f"/v2/categories/id/{shop['tools'].pk}"
    ref = {"products": [{"id": shop["hose"].pk}]}

    removed = api.post(f"{path}/remove-products-clusters", ref).json()["data"][0]
    again = api.post(f"{path}/remove-products-clusters", ref).json()["data"][0]
    added = api.post(f"{path}/add-products-clusters", ref).json()["data"][0]

    assert (removed["success"], again["errors"][0]["code"], added["success"]) == (
        True,
        30006,
        True,
    )


# Category deletion and counts ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bits", "garden"])
def test_deleting_a_category_with_products_is_409(api, shop, name):
    category = shop[name]
    before = snapshot()

    response = api.delete(f"/v2/categories/id/{category.pk}")

    assert_error(
        response,
        409,
        30008,
        "CategoryNotEmpty",
        [f"Category with id [{category.pk}] is not empty: it contains products"],
    )
    assert snapshot() == before


def test_an_extra_membership_also_blocks_deletion(api, db):
    primary, extra = make_category("Primary"), make_category("Extra")
    product = make_product("Valve", parent={"id": primary.pk})
    category_add_products(category_id=extra.pk, product_ids=[product.pk])
    before = snapshot()

    response = api.delete(f"/v2/categories/id/{extra.pk}")

    assert_error(response, 409, 30008, "CategoryNotEmpty")
    assert snapshot() == before


def test_a_category_emptied_of_products_can_be_deleted(api, shop):
    bits, bit = shop["bits"], shop["bit"]
    api.patch(f"/v2/products/id/{bit.pk}", {"parent": None})

    response = api.delete(f"/v2/categories/id/{bits.pk}")

    assert response.status_code == 200, response.content
    assert not Category.objects.filter(pk=bits.pk).exists()
    assert product_data(api, bit)["categoryIds"] == [shop["drills"].pk]


def test_product_count_counts_distinct_products_of_the_subtree(api, shop):
    counts = {
        name: category_data(api, shop[name])["productCount"]
        for name in ("tools", "drills", "bits", "garden")
    }

    # tools: hammer, hose (direct) + drill, bit (below); drills: drill, bit; bit counted once.
    assert counts == {"tools": 4, "drills": 2, "bits": 1, "garden": 1}


def test_product_count_follows_membership_changes(api, shop):
    garden = shop["garden"]

    api.post(
        f"/v2/categories/id/{garden.pk}/add-products-clusters",
        {"products": [{"id": shop["loose"].pk}, {"id": shop["bit"].pk}]},
    )
    after_add = category_data(api, garden)["productCount"]
    api.delete(f"/v2/products/id/{shop['hose'].pk}")
    after_delete = category_data(api, garden)["productCount"]

    assert (after_add, after_delete) == (3, 2)
    assert category_data(api, shop["tools"])["productCount"] == 3


# Scopes ----------------------------------------------------------------------------------------

ACTIONS = [
    ("GET", "products", None),
    ("POST", "add-products-clusters", {"products": [{"source": "pim", "sourceId": "L-1"}]}),
    ("POST", "remove-products-clusters", {"products": [{"source": "erp", "sourceId": "P-HOSE"}]}),
]


def call(caller, shop, method, action, body):
    path = f"/v2/categories/id/{shop['tools'].pk}/{action}"
    return caller.request(method, path, *([] if body is None else [body]))


@pytest.mark.parametrize(("method", "action", "body"), ACTIONS)
def test_without_a_token_is_401(anonymous, shop, method, action, body):
    before = snapshot()

    response = call(anonymous, shop, method, action, body)

    assert_error(response, 401, 10001, "AuthenticationFailed")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("scopes", "get_needs", "write_needs"),
    [
        (["product.write"], "category.read", "category.write"),
        (["category.read"], "product.read", "category.write"),
        (["category.write"], "product.read", "product.read"),
        (["category.read", "product.write"], None, "category.write"),
        (["cluster.write", "clusterconfig.write"], "category.read", "category.write"),
    ],
)
@pytest.mark.parametrize(("method", "action", "body"), ACTIONS)
def test_both_entities_scopes_are_needed(
    api_client_factory, shop, scopes, get_needs, write_needs, method, action, body
):
    caller = api_client_factory(scopes)
    before = snapshot()
    needed = get_needs if method == "GET" else write_needs

    response = call(caller, shop, method, action, body)

    if needed is None:
        assert response.status_code == 200, response.content
    else:
        assert_error(
            response,
            403,
            10003,
            "InsufficientScope",
            [f"This operation needs the scope {needed}"],
        )
        assert snapshot() == before


@pytest.mark.parametrize(
    "scopes",
    [
        ["category.write", "product.read"],
        ["category.write", "product.write"],
    ],
)
@pytest.mark.parametrize(("method", "action", "body"), ACTIONS)
def test_category_write_and_product_read_are_enough(
    api_client_factory, shop, scopes, method, action, body
):
    caller = api_client_factory(scopes)

    response = call(caller, shop, method, action, body)

    assert response.status_code == 200, response.content
    if method == "POST":
        assert response.json()["data"][0]["success"] is True


def test_reading_needs_category_read_and_product_read(api_client_factory, shop):
    caller = api_client_factory(["category.read", "product.read"])

    response = call(caller, shop, "GET", "products", None)

    assert listed_ids(response) == [shop["hammer"].pk, shop["hose"].pk]
