"""The products of a cluster: list, create inside, read/change/delete, assign, unassign, bulk;
and the cluster side of products and categories (clusterId, parent.clusterId, clusterIds)."""

import pytest

from catalogue.models import Cluster, Product, ProductCategory
from tests.api.test_bulk_products import completed, results
from tests.assertions import LIST_KEYS, assert_error, cluster_snapshot, listed_ids
from tests.factories import ls, make_category, make_cluster, make_cluster_config, make_product

URL = "/v2/clusters"


@pytest.fixture(scope="module")
def built(module_db):
    config = make_cluster_config("Shirts", [("SIZE", "radio")])
    tools = make_category("Tools")
    sale = make_category("Sale")
    shirt = make_cluster(
        "Shirt", config=config, parent=tools, code="SH-1", sources=[("erp", "C-1")]
    )
    other = make_cluster("Other", config=config, code="OT-1")
    small = make_product(
        "Small",
        sku="S-1",
        sources=[{"source": "erp", "sourceId": "P-1"}],
        parent={"clusterId": shirt.pk},
    )
    large = make_product("Large", sku="L-1", parent={"clusterId": shirt.pk})
    loose = make_product("Loose", sku="X-1", parent={"id": sale.pk})
    foreign = make_product("Foreign", sku="F-1", parent={"clusterId": other.pk})
    return {
        "config": config,
        "tools": tools,
        "sale": sale,
        "shirt": shirt,
        "other": other,
        "small": small,
        "large": large,
        "loose": loose,
        "foreign": foreign,
    }


@pytest.fixture
def api(db, module_api):
    """The module's caller (logged in once; see module_db)."""
    return module_api


def products_url(cluster) -> str:
    return f"{URL}/id/{cluster.pk}/products"


def placement(product) -> tuple:
    """(cluster id, primary category id) of a product as stored."""
    product = Product.objects.get(pk=product.pk)
    primary = ProductCategory.objects.filter(product=product, is_primary=True).first()
    return product.cluster_id, primary.category_id if primary else None


# List ------------------------------------------------------------------------------------------


def test_list_products_of_a_cluster(api, world):
    response = api.get(f"{URL}/code/SH-1/products", params={"offset": 1, "page": 2})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == LIST_KEYS
    assert [row["id"] for row in body["data"]] == [world["large"].pk]
    assert (body["itemsFound"], body["pages"], body["start"]) == (2, 2, 2)
    assert body["data"][0]["clusterId"] == world["shirt"].pk
    expanded = api.get(products_url(world["shirt"]), params={"expands": "cluster"}).json()
    assert expanded["data"][0]["cluster"]["id"] == world["shirt"].pk


def test_list_of_an_unknown_cluster_is_404(api, world):
    assert_error(api.get(f"{URL}/id/999999/products"), 404, 20006, "ClusterNotFound")


# Create inside ---------------------------------------------------------------------------------


def test_create_a_product_inside_the_cluster(api, world):
    shirt = world["shirt"]

    response = api.post(products_url(shirt), {"names": ls(EN="Medium"), "sku": "M-1"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["messages"] == ["Product created"]
    created = Product.objects.get(sku="M-1")
    assert body["data"]["id"] == created.pk
    assert (body["data"]["clusterId"], body["data"]["parent"]) == (shirt.pk, None)
    assert response["ETag"]
    assert created.pk in api.get(f"{URL}/id/{shirt.pk}").json()["data"]["productIds"]


def test_create_inside_rejections_change_nothing(api, world):
    before = cluster_snapshot()

    assert_error(
        api.post(products_url(world["shirt"]), {"sku": "N-1"}),
        400,
        10017,
        "PayloadValidationError",
    )
    assert_error(
        api.post(products_url(world["shirt"]), {"names": "x"}),
        400,
        10007,
        "SchemaValidationException",
    )
    assert_error(
        api.post(f"{URL}/id/999999/products", {"names": ls(EN="N")}),
        404,
        20006,
        "ClusterNotFound",
    )
    assert_error(
        api.post(
            products_url(world["shirt"]),
            {"names": ls(EN="N"), "source": "erp", "sourceId": "P-1"},
        ),
        409,
        80004,
        "ProductExists",
    )
    assert cluster_snapshot() == before


# One product -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params"),
    [("id/{pk}", {}), ("sku/S-1", {}), ("sourceId/P-1", {"source": "erp"})],
)
def test_get_a_product_of_the_cluster_by_its_keys(api, world, path, params):
    small = world["small"]

    response = api.get(f"{products_url(world['shirt'])}/{path.format(pk=small.pk)}", params=params)

    assert response.status_code == 200, response.content
    assert response.json()["messages"] == ["Product found"]
    assert response.json()["data"]["id"] == small.pk


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_a_product_of_another_cluster_or_none_is_not_found(api, world, method):
    before = cluster_snapshot()
    for product in (world["foreign"], world["loose"]):
        path = f"{products_url(world['shirt'])}/sku/{product.sku}"
        body = {"shortName": "x"} if method == "PATCH" else None

        response = api.request(method, path, *([body] if body else []))

        assert_error(
            response,
            404,
            80006,
            "ProductNotFound",
            [
                f"Product with sku [{product.sku}] not found in cluster with id [{world['shirt'].pk}]"
            ],
        )
    assert_error(
        api.request(method, f"{products_url(world['shirt'])}/id/999999"),
        404,
        80006,
        "ProductNotFound",
    )
    assert_error(
        api.request(method, f"{products_url(world['shirt'])}/code/S-1"),
        400,
        10006,
        "InvalidLookupKey",
    )
    assert cluster_snapshot() == before


def test_patch_a_product_of_the_cluster(api, world):
    small = world["small"]

    response = api.patch(f"{products_url(world['shirt'])}/id/{small.pk}", {"shortName": "S"})

    assert response.status_code == 200, response.content
    assert response.json()["messages"] == ["Product updated"]
    assert response.json()["data"]["shortName"] == "S"
    assert response.json()["data"]["clusterId"] == world["shirt"].pk


def test_if_match_on_a_product_of_the_cluster(api, world):
    path = f"{products_url(world['shirt'])}/sku/L-1"
    tag = api.get(path)["ETag"]
    assert tag == api.get(f"/v2/products/id/{world['large'].pk}")["ETag"]
    before = cluster_snapshot()

    for response in (
        api.patch(path, {"shortName": "x"}, headers={"If-Match": '"1-1"'}),
        api.delete(path, headers={"If-Match": '"1-1"'}),
    ):
        assert_error(response, 412, 10012, "PreconditionFailed")
    assert cluster_snapshot() == before

    changed = api.patch(path, {"shortName": "x"}, headers={"If-Match": tag})
    assert changed.status_code == 200, changed.content
    assert changed["ETag"] != tag
    assert api.delete(path, headers={"If-Match": changed["ETag"]}).status_code == 200


def test_delete_a_product_of_the_cluster_deletes_it(api, world):
    small, shirt = world["small"], world["shirt"]
    tag = api.get(f"{URL}/id/{shirt.pk}")["ETag"]

    response = api.delete(f"{products_url(shirt)}/sku/S-1")

    assert response.status_code == 200
    assert response.json() == {"data": {}, "messages": ["Product deleted"]}
    assert not Product.objects.filter(pk=small.pk).exists()
    assert api.get(f"{URL}/id/{shirt.pk}", headers={"If-None-Match": tag}).status_code == 200


# Assign ----------------------------------------------------------------------------------------


def test_assign_moves_products_in_from_a_category_and_from_another_cluster(api, world):
    shirt, loose, foreign = world["shirt"], world["loose"], world["foreign"]
    Cluster.objects.filter(pk=world["other"].pk).update(default_product=foreign)

    response = api.post(
        f"{products_url(shirt)}/assign",
        {"products": [{"id": loose.pk}, {"id": foreign.pk}, {"id": 999999}]},
    )

    data = results(response, "Completed: 0 created, 0 updated, 2 moved, 0 skipped, 1 failed")
    assert [(r["action"], r["id"], r["success"]) for r in data] == [
        ("move", loose.pk, True),
        ("move", foreign.pk, True),
        ("error", None, False),
    ]
    assert data[2]["errors"][0]["code"] == 80006
    assert placement(loose) == (shirt.pk, None)
    assert placement(foreign) == (shirt.pk, None)
    assert Cluster.objects.get(pk=world["other"].pk).default_product_id is None


def test_assign_names_a_product_once(api, world):
    loose = world["loose"]

    response = api.post(
        f"{products_url(world['other'])}/assign", {"products": [{"id": loose.pk}] * 2}
    )

    data = results(response)
    assert [(r["action"], r["success"]) for r in data] == [("move", True), ("error", False)]
    assert data[1]["errors"] == [
        {
            "code": 10017,
            "type": "PayloadValidationError",
            "messages": [f"Product with id [{loose.pk}] is named twice"],
        }
    ]
    assert placement(loose) == (world["other"].pk, None)


def test_assign_by_source_pair(api, world):
    make_product("Sourced", sources=[{"source": "pim", "sourceId": "Q-1"}])

    response = api.post(
        f"{products_url(world['other'])}/assign",
        {"products": [{"sourceId": "Q-1", "source": "pim"}]},
    )

    data = response.json()["data"]
    assert (data[0]["action"], data[0]["key"], data[0]["lookupKey"]) == ("move", "Q-1", "sourceId")


def test_assign_rejections_change_nothing(api, world):
    before = cluster_snapshot()
    path = f"{products_url(world['shirt'])}/assign"

    assert_error(api.post(path, {"products": "x"}), 400, 10007, "SchemaValidationException")
    assert_error(api.post(path, {}), 400, 10007, "SchemaValidationException")
    too_many = {"products": [{"id": world["loose"].pk}] * 101}
    assert_error(api.post(path, too_many), 413, 10011, "PayloadTooLarge")
    assert_error(
        api.post(f"{URL}/id/999999/products/assign", {"products": []}),
        404,
        20006,
        "ClusterNotFound",
    )
    assert cluster_snapshot() == before


# Unassign --------------------------------------------------------------------------------------


def test_unassign_to_a_category(api, world):
    shirt, small, sale = world["shirt"], world["small"], world["sale"]
    Cluster.objects.filter(pk=shirt.pk).update(default_product=small)

    response = api.post(
        f"{products_url(shirt)}/unassign",
        {"products": [{"id": small.pk}, {"id": world["loose"].pk}], "category": {"id": sale.pk}},
    )

    data = results(response)
    assert [(r["action"], r["success"]) for r in data] == [("move", True), ("error", False)]
    assert data[1]["errors"] == [
        {
            "code": 20009,
            "type": "ClusterProductNotAttached",
            "messages": [
                f"Product with id [{world['loose'].pk}] is not in cluster with id [{shirt.pk}]"
            ],
        }
    ]
    assert placement(small) == (None, sale.pk)
    assert Cluster.objects.get(pk=shirt.pk).default_product_id is None


def test_unassign_to_another_cluster(api, world):
    shirt, other, large = world["shirt"], world["other"], world["large"]

    response = api.post(
        f"{products_url(shirt)}/unassign",
        {"products": [{"id": large.pk}], "cluster": {"id": other.pk}},
    )

    assert results(response)[0]["action"] == "move"
    assert placement(large) == (other.pk, None)


@pytest.mark.parametrize(
    ("destination", "status", "code", "type_name"),
    [
        ({}, 400, 10017, "PayloadValidationError"),
        ({"category": {"id": 1}, "cluster": {"id": 1}}, 400, 10017, "PayloadValidationError"),
        ({"category": {"id": 999999}}, 404, 30006, "CategoryNotFound"),
        ({"cluster": {"id": 999999}}, 404, 20006, "ClusterNotFound"),
    ],
    ids=["none", "both", "unknown-category", "unknown-cluster"],
)
def test_unassign_needs_exactly_one_known_destination(
    api, world, destination, status, code, type_name
):
    before = cluster_snapshot()

    response = api.post(
        f"{products_url(world['shirt'])}/unassign",
        {"products": [{"id": world["small"].pk}], **destination},
    )

    assert_error(response, status, code, type_name)
    assert cluster_snapshot() == before


# Bulk ------------------------------------------------------------------------------------------


def test_products_bulk_by_sku_under_a_code_key(api, world):
    shirt = world["shirt"]
    path = f"{URL}/code/SH-1/products/bulk"
    body = {
        "products": [
            {"sku": "S-1", "shortName": "small"},
            {"sku": "X-1"},
            {"sku": "N-1", "names": ls(EN="New")},
            {"names": ls(EN="No key")},
        ]
    }

    data = results(api.post(path, body), completed(created=1, updated=2, failed=1))

    assert [(r["action"], r["key"], r["lookupKey"]) for r in data] == [
        ("update", "S-1", "sku"),
        ("update", "X-1", "sku"),
        ("create", "N-1", "sku"),
        ("error", None, "sku"),
    ]
    assert data[3]["errors"][0]["code"] == 10016
    for sku in ("S-1", "X-1", "N-1"):
        assert Product.objects.get(sku=sku).cluster_id == shirt.pk


def test_products_bulk_by_id_and_skip_move_on_update(api, world):
    shirt, loose = world["shirt"], world["loose"]
    body = {
        "products": [{"id": loose.pk, "shortName": "kept"}],
        "directives": {"skipMoveOnUpdate": []},
    }

    data = results(api.post(f"{products_url(shirt)}/bulk", body))

    assert data[0]["action"] == "update"
    assert placement(loose) == (None, world["sale"].pk)


def test_products_bulk_dry_run_writes_nothing(api, world):
    before = cluster_snapshot()
    body = {"products": [{"source": "erp", "sourceId": "P-9", "names": ls(EN="Nine")}]}

    response = api.post(
        f"{URL}/sourceId/C-1/products/bulk", body, params={"source": "erp", "dryRun": "true"}
    )

    assert results(response)[0]["action"] == "create"
    assert response.json()["messages"][-1] == "Dry run: nothing was written"
    assert cluster_snapshot() == before


# Products and categories see clusters ----------------------------------------------------------


def test_parent_cluster_id_on_product_writes(api, world):
    shirt = world["shirt"]

    created = api.post("/v2/products", {"names": ls(EN="In"), "parent": {"clusterId": shirt.pk}})
    assert created.status_code == 201, created.content
    data = created.json()["data"]
    assert (data["clusterId"], data["parent"]) == (shirt.pk, None)

    moved = api.patch(f"/v2/products/id/{data['id']}", {"parent": {"id": world["sale"].pk}})
    assert (moved.json()["data"]["clusterId"], moved.json()["data"]["parent"]) == (
        None,
        {"id": world["sale"].pk},
    )
    back = api.patch(f"/v2/products/id/{data['id']}", {"parent": {"clusterId": shirt.pk}})
    assert back.json()["data"]["clusterId"] == shirt.pk

    before = cluster_snapshot()
    unknown = api.post("/v2/products", {"names": ls(EN="X"), "parent": {"clusterId": 999999}})
    assert_error(unknown, 404, 20007, "ParentClusterNotFound")
    both = api.post(
        "/v2/products", {"names": ls(EN="X"), "parent": {"clusterId": shirt.pk, "id": 1}}
    )
    assert_error(both, 400, 10017, "PayloadValidationError")
    assert cluster_snapshot() == before


def test_parent_cluster_id_in_product_bulk(api, world):
    body = {
        "products": [
            {"sku": "B-1", "names": ls(EN="B"), "parent": {"clusterId": world["other"].pk}},
            {"sku": "B-2", "names": ls(EN="C"), "parent": {"clusterId": 999999}},
        ]
    }

    data = results(api.post("/v2/products/bulk/sku", body))

    assert data[0]["action"] == "create"
    assert data[1]["errors"][0]["code"] == 20007
    assert Product.objects.get(sku="B-1").cluster_id == world["other"].pk
    assert not Product.objects.filter(sku="B-2").exists()


def test_cluster_ids_filter_on_products(api, world):
    ids = f"{world['shirt'].pk},{world['other'].pk}"

    assert listed_ids(api.get("/v2/products", params={"clusterIds": world["shirt"].pk})) == [
        world["small"].pk,
        world["large"].pk,
    ]
    body = {"filters": {"clusterIds": [world["other"].pk]}}
    assert listed_ids(api.post("/v2/products/search", body)) == [world["foreign"].pk]
    assert len(listed_ids(api.get("/v2/products", params={"clusterIds": ids}))) == 3


def test_cluster_ids_filter_on_categories(api, world):
    assert listed_ids(api.get("/v2/categories", params={"clusterIds": world["shirt"].pk})) == [
        world["tools"].pk
    ]
    assert (
        listed_ids(
            api.post("/v2/categories/search", {"filters": {"clusterIds": [world["other"].pk]}})
        )
        == []
    )
