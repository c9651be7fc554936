"""Cluster options: list and create under a cluster, read/change/delete, translations, bulk,
and their selectable products."""

import pytest

from catalogue.models import ClusterOption, ClusterOptionProduct, Product
from tests.api.test_bulk_products import completed, results
from tests.assertions import LIST_KEYS, TIMESTAMP, assert_error, cluster_snapshot, listed_ids
from tests.factories import ls, make_cluster, make_cluster_config, make_option, make_product

URL = "/v2/clusteroptions"


@pytest.fixture(scope="module")
def built(module_db):
    config = make_cluster_config("Laptops")
    laptop = make_cluster("Laptop", config=config, code="LT-1", sources=[("erp", "C-1")])
    care = make_product("Care pack", sku="W-1", sources=[{"source": "erp", "sourceId": "W-1"}])
    plus = make_product("Care plus", sku="W-2")
    mouse = make_product("Mouse", sku="M-1")
    warranty = make_option(
        "Warranty",
        cluster=laptop,
        products=[care, plus],
        sources=[("erp", "O-1")],
        sort_order=2,
    )
    extras = make_option("Extras", cluster=laptop, products=[mouse], sort_order=1, hidden=True)
    return {
        "laptop": laptop,
        "care": care,
        "plus": plus,
        "mouse": mouse,
        "warranty": warranty,
        "extras": extras,
    }


@pytest.fixture
def api(db, module_api):
    """The module's caller (logged in once; see module_db)."""
    return module_api


def options_url(cluster) -> str:
    return f"/v2/clusters/id/{cluster.pk}/options"


def detail(option) -> str:
    return f"{URL}/id/{option.pk}"


# Under the cluster -----------------------------------------------------------------------------


def test_list_options_by_sort_order(api, world):
    response = api.get("/v2/clusters/code/LT-1/options")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == LIST_KEYS
    assert [row["id"] for row in body["data"]] == [world["extras"].pk, world["warranty"].pk]
    assert body["itemsFound"] == 2
    expanded = api.get(options_url(world["laptop"]), params={"expands": "products"}).json()
    assert [p["id"] for p in expanded["data"][0]["products"]] == [world["mouse"].pk]


def test_list_options_of_a_cluster_with_filters_and_sort(api, world):
    path = options_url(world["laptop"])
    other = make_cluster("Other", config=world["laptop"].config)
    make_option("Elsewhere", cluster=other, hidden=True)

    assert listed_ids(api.get(path, params={"hidden": "Y"})) == [world["extras"].pk]
    assert listed_ids(api.get(path, params={"isRequired": "N", "sort": "-sortOrder"})) == [
        world["warranty"].pk,
        world["extras"].pk,
    ]
    assert listed_ids(api.get(path, params={"isRequired": "Y"})) == []
    assert_error(api.get(path, params={"colour": "x"}), 400, 10007, "SchemaValidationException")
    assert_error(api.get(path, params={"sort": "code"}), 400, 10007, "SchemaValidationException")
    assert_error(api.get(path, params={"offset": 0}), 400, 10015, "PaginatedResponseException")


def test_create_an_option(api, world):
    laptop, care = world["laptop"], world["care"]
    tag = api.get(f"/v2/clusters/id/{laptop.pk}")["ETag"]
    body = {
        "names": ls(EN="Bag", NL="Tas"),
        "isRequired": "Y",
        "hidden": "N",
        "sortOrder": 7,
        "productIds": [care.pk],
        "defaultProductId": care.pk,
        "source": "erp",
        "sourceId": "O-2",
        "clusterId": 999999,  # read-only: the URL names the cluster
    }

    response = api.post(options_url(laptop), body)

    assert response.status_code == 201, response.content
    payload = response.json()
    assert payload["messages"] == ["Cluster option created"]
    record = ClusterOption.objects.get(sources__source_id="O-2")
    data = payload["data"]
    assert data == {
        "id": record.pk,
        "language": "EN",
        "names": ls(EN="Bag", NL="Tas"),
        "descriptions": [],
        "shortDescriptions": [],
        "isRequired": True,
        "hidden": "N",
        "sortOrder": 7,
        "defaultProductId": care.pk,
        "source": "erp",
        "sourceId": "O-2",
        "sources": [{"source": "erp", "sourceId": "O-2"}],
        "clusterId": laptop.pk,
        "productIds": [care.pk],
        "createdAt": data["createdAt"],
        "lastModifiedAt": data["createdAt"],
    }
    assert TIMESTAMP.match(data["createdAt"])
    assert response["ETag"]
    cluster = api.get(f"/v2/clusters/id/{laptop.pk}", headers={"If-None-Match": tag})
    assert cluster.status_code == 200
    assert cluster.json()["data"]["optionIds"][-1] == record.pk
    # a product selectable in an option stays where it is
    assert Product.objects.get(pk=care.pk).cluster_id is None


@pytest.mark.parametrize(
    ("change", "status", "code", "type_name"),
    [
        ({"names": ls(NL="Alleen")}, 400, 10017, "PayloadValidationError"),
        ({"defaultProductId": "mouse"}, 400, 10017, "PayloadValidationError"),
        ({"productIds": [999999]}, 404, 80006, "ProductNotFound"),
        ({"isRequired": "maybe"}, 400, 10007, "SchemaValidationException"),
        ({"source": "erp", "sourceId": "O-1"}, 409, 22004, "ClusterOptionExists"),
        ({"sortOrder": "first"}, 400, 10007, "SchemaValidationException"),
    ],
    ids=[
        "no-default-name",
        "default-not-selectable",
        "unknown-product",
        "is-required",
        "taken-source",
        "sort-order",
    ],
)
def test_create_rejections_change_nothing(api, world, change, status, code, type_name):
    body = {"names": ls(EN="New"), **change}
    if body.get("defaultProductId") == "mouse":
        body["defaultProductId"] = world["mouse"].pk
    before = cluster_snapshot()

    response = api.post(options_url(world["laptop"]), body)

    assert_error(response, status, code, type_name)
    assert cluster_snapshot() == before


def test_create_under_an_unknown_cluster_is_404(api, world):
    response = api.post("/v2/clusters/id/999999/options", {"names": ls(EN="X")})

    assert_error(response, 404, 20006, "ClusterNotFound")


def test_options_have_no_collection_create(api, world):
    assert_error(api.post(URL, {"names": ls(EN="X")}), 405, 10004, "MethodNotAllowed")


# One option ------------------------------------------------------------------------------------


def test_get_by_id_and_source(api, world):
    warranty = world["warranty"]

    by_id = api.get(detail(warranty))
    by_source = api.get(f"{URL}/sourceId/O-1", params={"source": "erp"})

    assert by_id.status_code == by_source.status_code == 200
    assert by_id.json() == by_source.json()
    assert by_id.json()["messages"] == ["Cluster option found"]
    assert by_id.json()["data"]["productIds"] == [world["care"].pk, world["plus"].pk]
    expanded = api.get(detail(warranty), params={"expands": "products,defaultProduct"})
    assert expanded.json()["data"]["defaultProduct"] is None
    assert len(expanded.json()["data"]["products"]) == 2


def test_get_errors(api, world):
    assert_error(
        api.get(f"{URL}/id/999999"),
        404,
        22006,
        "ClusterOptionNotFound",
        ["ClusterOption with id [999999] not found"],
    )
    assert_error(api.get(f"{URL}/code/x"), 400, 10006, "InvalidLookupKey")
    assert_error(api.get(f"{URL}/sourceId/O-1"), 400, 10017, "PayloadValidationError")


def test_patch_fields_and_products(api, world):
    warranty, care, mouse = world["warranty"], world["care"], world["mouse"]
    tag = api.get(detail(warranty))["ETag"]

    response = api.patch(
        detail(warranty),
        {
            "isRequired": True,
            "sortOrder": 0,
            "productIds": [mouse.pk, care.pk],
            "defaultProductId": mouse.pk,
        },
        headers={"If-Match": tag},
    )

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert response.json()["messages"] == ["Cluster option updated"]
    assert (data["isRequired"], data["sortOrder"], data["defaultProductId"]) == (
        True,
        0,
        mouse.pk,
    )
    assert data["productIds"] == sorted([mouse.pk, care.pk])
    assert response["ETag"] != tag
    assert api.patch(detail(warranty), {"isRequired": "N"}).json()["data"]["isRequired"] is False


def test_patch_rejections(api, world):
    warranty = world["warranty"]
    before = cluster_snapshot()

    assert_error(
        api.patch(detail(warranty), {"defaultProductId": world["mouse"].pk}),
        400,
        10017,
        "PayloadValidationError",
        [
            f"defaultProductId: product with id [{world['mouse'].pk}] is not selectable in "
            "this option"
        ],
    )
    assert_error(
        api.patch(detail(warranty), {"productIds": [999999]}), 404, 80006, "ProductNotFound"
    )
    assert_error(
        api.patch(detail(warranty), {"hidden": "y"}), 400, 10007, "SchemaValidationException"
    )
    assert_error(
        api.patch(detail(warranty), {"names": ls(EN="")}), 400, 10017, "PayloadValidationError"
    )
    assert_error(
        api.patch(detail(warranty), {"sortOrder": 1}, headers={"If-Match": '"1-1"'}),
        412,
        10012,
        "PreconditionFailed",
    )
    assert cluster_snapshot() == before


def test_delete_keeps_the_products(api, world):
    warranty, laptop = world["warranty"], world["laptop"]
    tag = api.get(f"/v2/clusters/id/{laptop.pk}")["ETag"]

    response = api.delete(f"{URL}/sourceId/O-1", params={"source": "erp"})

    assert response.status_code == 200
    assert response.json() == {"data": {}, "messages": ["Cluster option deleted"]}
    assert not ClusterOption.objects.filter(pk=warranty.pk).exists()
    assert Product.objects.filter(pk__in=[world["care"].pk, world["plus"].pk]).count() == 2
    assert (
        api.get(f"/v2/clusters/id/{laptop.pk}", headers={"If-None-Match": tag}).status_code == 200
    )
    assert_error(api.delete(detail(warranty)), 404, 22006, "ClusterOptionNotFound")


def test_translation_removal(api, world):
    warranty = world["warranty"]
    api.patch(detail(warranty), {"names": ls(DE="Garantie"), "descriptions": ls(DE="Zwei Jahre")})

    response = api.delete(f"{detail(warranty)}/translation/de")

    assert response.status_code == 200
    assert response.json() == {"data": {}, "messages": ["Translation deleted"]}
    data = api.get(detail(warranty)).json()["data"]
    assert (data["names"], data["descriptions"]) == (ls(EN="Warranty"), [])
    before = cluster_snapshot()
    assert_error(
        api.delete(f"{detail(warranty)}/translation/DE"), 404, 10018, "TranslationNotFound"
    )
    assert_error(
        api.delete(f"{detail(warranty)}/translation/en"), 400, 10017, "PayloadValidationError"
    )
    assert cluster_snapshot() == before


def test_list_and_search_options(api, world):
    hidden = api.get(URL, params={"hidden": "Y"})
    assert listed_ids(hidden) == [world["extras"].pk]
    by_cluster = api.post(
        f"{URL}/search",
        {"filters": {"clusterIds": [world["laptop"].pk]}, "sort": [{"field": "sortOrder"}]},
    )
    assert listed_ids(by_cluster) == [world["extras"].pk, world["warranty"].pk]
    assert listed_ids(api.get(URL, params={"isRequired": "Y"})) == []
    assert_error(api.get(URL, params={"sort": "code"}), 400, 10007, "SchemaValidationException")


# Options bulk ----------------------------------------------------------------------------------


def test_options_bulk_matches_by_the_cluster_key_kind(api, world):
    laptop = world["laptop"]
    body = {
        "clusteroptions": [
            {"source": "erp", "sourceId": "O-1", "sortOrder": 9},
            {"source": "erp", "sourceId": "O-3", "names": ls(EN="Dock"), "isRequired": "Y"},
            {"names": ls(EN="No key")},
        ]
    }

    response = api.post("/v2/clusters/sourceId/C-1/options/bulk", body, params={"source": "erp"})

    data = results(response, completed(created=1, updated=1, failed=1))
    assert [(r["action"], r["key"], r["lookupKey"]) for r in data] == [
        ("update", "O-1", "sourceId"),
        ("create", "O-3", "sourceId"),
        ("error", None, "sourceId"),
    ]
    assert data[2]["errors"][0]["code"] == 10016
    dock = ClusterOption.objects.get(sources__source_id="O-3")
    assert (dock.cluster_id, dock.is_required) == (laptop.pk, True)
    assert ClusterOption.objects.get(pk=world["warranty"].pk).sort_order == 9


def test_options_bulk_by_id(api, world):
    body = {"clusteroptions": [{"id": world["extras"].pk, "hidden": "N"}]}

    data = results(api.post(f"{options_url(world['laptop'])}/bulk", body))

    assert data[0]["action"] == "update"
    assert ClusterOption.objects.get(pk=world["extras"].pk).hidden is False


def test_options_bulk_rejects_a_malformed_body(api, world):
    before = cluster_snapshot()
    path = f"{options_url(world['laptop'])}/bulk"

    assert_error(api.post(path, {"options": []}), 400, 10007, "SchemaValidationException")
    assert_error(api.post(path, "not json"), 400, 10005, "InvalidJSONPayload")
    too_many = {"clusteroptions": [{"id": 1}] * 1001}
    assert_error(api.post(path, too_many), 413, 10011, "PayloadTooLarge")
    assert cluster_snapshot() == before


# Option products -------------------------------------------------------------------------------


def test_list_option_products(api, world):
    response = api.get(f"{detail(world['warranty'])}/products", params={"offset": 1})

    body = response.json()
    assert set(body) == LIST_KEYS
    assert [row["id"] for row in body["data"]] == [world["care"].pk]
    assert (body["itemsFound"], body["pages"]) == (2, 2)


def test_assign_and_unassign_option_products(api, world):
    warranty, mouse, care = world["warranty"], world["mouse"], world["care"]
    path = detail(warranty)
    tag = api.get(path)["ETag"]

    assigned = api.post(
        f"{path}/products/assign",
        {"products": [{"id": mouse.pk}, {"sourceId": "W-1", "source": "erp"}, {"id": 999999}]},
    )

    data = results(assigned)
    assert [(r["action"], r["success"]) for r in data] == [
        ("move", True),
        ("error", False),
        ("error", False),
    ]
    assert data[1]["errors"][0]["code"] == 22004
    assert data[2]["errors"][0]["code"] == 80006
    assert mouse.pk in api.get(path).json()["data"]["productIds"]
    assert Product.objects.get(pk=mouse.pk).cluster_id is None
    assert api.get(path, headers={"If-None-Match": tag}).status_code == 200

    api.patch(path, {"defaultProductId": care.pk})
    unassigned = api.post(
        f"{path}/products/unassign", {"products": [{"id": care.pk}, {"id": care.pk + 1000}]}
    )
    data = results(unassigned)
    assert [(r["action"], r["success"]) for r in data] == [("move", True), ("error", False)]
    after = api.get(path).json()["data"]
    assert care.pk not in after["productIds"]
    assert after["defaultProductId"] is None
    assert Product.objects.filter(pk=care.pk).exists()


def test_option_product_changes_reject_bad_bodies(api, world):
    path = f"{detail(world['warranty'])}/products"
    before = cluster_snapshot()

    assert_error(api.post(f"{path}/assign", {}), 400, 10007, "SchemaValidationException")
    many = {"products": [{"id": world["mouse"].pk}] * 101}
    assert_error(api.post(f"{path}/unassign", many), 413, 10011, "PayloadTooLarge")
    assert_error(
        api.post(f"{URL}/id/999999/products/assign", {"products": []}),
        404,
        22006,
        "ClusterOptionNotFound",
    )
    assert cluster_snapshot() == before


def test_option_products_bulk_upserts_and_makes_selectable(api, world):
    extras = world["extras"]
    body = {
        "products": [
            {"id": world["care"].pk, "shortName": "care"},
            {"id": 0, "names": ls(EN="Keyboard")},
            {"names": ls(EN="No key")},
        ]
    }

    data = results(api.post(f"{detail(extras)}/products/bulk", body))

    assert [r["action"] for r in data] == ["update", "create", "error"]
    assert set(
        ClusterOptionProduct.objects.filter(option=extras).values_list("product_id", flat=True)
    ) == {world["mouse"].pk, world["care"].pk, data[1]["id"]}
    assert Product.objects.get(pk=data[1]["id"]).cluster_id is None
