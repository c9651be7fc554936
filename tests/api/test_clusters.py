"""Clusters: create, read, change, delete; categories; lists, searches, expands, ETags, export."""

import json
from datetime import timedelta

import pytest

from catalogue.models import Cluster, ClusterCategory, ClusterOption, Product, ProductCategory
from catalogue.services.clusters import category_add_clusters
from catalogue.services.products import category_add_products
from tests.api.test_products import at
from tests.assertions import (
    LIST_KEYS,
    TIMESTAMP,
    assert_error,
    cluster_snapshot,
    listed_ids,
    ndjson_lines,
)
from tests.factories import (
    ls,
    make_category,
    make_cluster,
    make_cluster_config,
    make_option,
    make_product,
)

URL = "/v2/clusters"


@pytest.fixture(scope="module")
def built(module_db):
    """A config, two categories and a cluster in one of them with two products and an
    option."""
    config = make_cluster_config("Shirts", [("SIZE", "radio", 1)])
    tools = make_category("Tools")
    sale = make_category("Sale")
    shirt = make_cluster(
        "Shirt", config=config, parent=tools, code="SH-1", sources=[("erp", "C-1")]
    )
    small = make_product("Small", sku="S-1", parent={"clusterId": shirt.pk})
    large = make_product("Large", sku="L-1", parent={"clusterId": shirt.pk})
    option = make_option("Warranty", cluster=shirt, products=[small])
    return {
        "config": config,
        "tools": tools,
        "sale": sale,
        "shirt": shirt,
        "small": small,
        "large": large,
        "option": option,
    }


@pytest.fixture
def api(db, module_api):
    """The module's caller (logged in once; see module_db)."""
    return module_api


def detail(cluster) -> str:
    return f"{URL}/id/{cluster.pk}"


def fetch(api, cluster, **params) -> dict:
    response = api.get(detail(cluster), params=params)
    assert response.status_code == 200, response.content
    return response.json()["data"]


# Create ----------------------------------------------------------------------------------------


def test_create_with_defaults(api, world):
    body = {"names": ls(EN="Trousers"), "clusterConfigId": world["config"].pk}

    response = api.post(URL, body)

    assert response.status_code == 201, response.content
    payload = response.json()
    assert set(payload) == {"data", "messages", "total"}
    assert payload["messages"] == ["Cluster created"]
    record = Cluster.objects.get(code="")
    data = payload["data"]
    assert data == {
        "id": record.pk,
        "language": "EN",
        "names": ls(EN="Trousers"),
        "descriptions": [],
        "shortDescriptions": [],
        "slugs": ls(EN="trousers"),
        "metadataTitles": [],
        "metadataDescriptions": [],
        "metadataKeywords": [],
        "metadataCanonicalUrls": [],
        "code": "",
        "clusterConfigId": world["config"].pk,
        "defaultProductId": None,
        "hidden": "N",
        "priority": 0,
        "source": None,
        "sourceId": None,
        "sources": [],
        "parent": None,
        "productIds": [],
        "optionIds": [],
        "categoryIds": [],
        "createdAt": data["createdAt"],
        "lastModifiedAt": data["createdAt"],
    }
    assert TIMESTAMP.match(data["createdAt"])
    assert response["ETag"]


def test_create_with_parent_by_source_and_every_field(api, world):
    tools = world["tools"]
    make_category("Erp", sources=[("erp", "CAT-9")])
    body = {
        "names": ls(EN="Jacket", NL="Jas"),
        "descriptions": ls(EN="Warm"),
        "code": "JK-1",
        "clusterConfigId": world["config"].pk,
        "hidden": "Y",
        "priority": 4,
        "parent": {"id": tools.pk},
        "sources": [{"source": "erp", "sourceId": "C-2"}, {"source": "pim", "sourceId": "7"}],
    }

    data = api.post(URL, body).json()["data"]

    assert (data["code"], data["hidden"], data["priority"]) == ("JK-1", "Y", 4)
    assert data["parent"] == {"id": tools.pk}
    assert data["categoryIds"] == [tools.pk]
    assert data["names"] == ls(EN="Jacket", NL="Jas")
    assert (data["source"], data["sourceId"]) == ("erp", "C-2")
    assert len(data["sources"]) == 2
    by_source = api.post(
        URL,
        {
            "names": ls(EN="Coat"),
            "clusterConfigId": world["config"].pk,
            "source": "erp",
            "sourceId": "C-3",
            "parent": {"sourceId": "CAT-9"},
        },
    )
    assert by_source.status_code == 201, by_source.content
    assert by_source.json()["data"]["categoryIds"] != []


@pytest.mark.parametrize(
    ("change", "status", "code", "type_name"),
    [
        ({"clusterConfigId": None}, 400, 10007, "SchemaValidationException"),
        ({"clusterConfigId": 999999}, 404, 21005, "ClusterConfigNotFound"),
        ({"code": "SH-1"}, 409, 20004, "ClusterExists"),
        ({"sourceId": "C-1", "source": "erp"}, 409, 20004, "ClusterExists"),
        ({"parent": {"id": 999999}}, 404, 30007, "ParentCategoryNotFound"),
        ({"names": ls(NL="Alleen NL")}, 400, 10017, "PayloadValidationError"),
        ({"names": ls(XX="?")}, 400, 10007, "SchemaValidationException"),
        ({"defaultProductId": "small"}, 400, 10017, "PayloadValidationError"),
        ({"sourceId": "X"}, 400, 10017, "PayloadValidationError"),
        ({"colour": "red"}, 400, 10007, "SchemaValidationException"),
        ({"slugs": ls(EN="shirt")}, 409, 20004, "ClusterExists"),
    ],
    ids=[
        "no-config",
        "unknown-config",
        "taken-code",
        "taken-source",
        "unknown-parent",
        "no-default-name",
        "unknown-language",
        "default-not-in-cluster",
        "source-id-alone",
        "unknown-field",
        "taken-slug",
    ],
)
def test_create_rejections_change_nothing(api, world, change, status, code, type_name):
    body = {"names": ls(EN="New"), "clusterConfigId": world["config"].pk, **change}
    if body.get("clusterConfigId") is None:
        del body["clusterConfigId"]
    if body.get("defaultProductId") == "small":
        body["defaultProductId"] = world["small"].pk
    before = cluster_snapshot()

    response = api.post(URL, body)

    assert_error(response, status, code, type_name)
    assert cluster_snapshot() == before


# Read ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params"),
    [("id/{pk}", {}), ("code/SH-1", {}), ("sourceId/C-1", {"source": "erp"})],
)
def test_get_by_every_lookup_key(api, world, path, params):
    shirt = world["shirt"]

    response = api.get(f"{URL}/{path.format(pk=shirt.pk)}", params=params)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["messages"] == ["Cluster found"]
    assert body["data"]["id"] == shirt.pk
    assert body["data"]["productIds"] == [world["small"].pk, world["large"].pk]
    assert body["data"]["optionIds"] == [world["option"].pk]
    assert body["data"]["parent"] == {"id": world["tools"].pk}


@pytest.mark.parametrize(
    ("path", "params", "status", "code", "type_name", "message"),
    [
        ("id/999999", {}, 404, 20006, "ClusterNotFound", "Cluster with id [999999] not found"),
        ("id/x", {}, 404, 20006, "ClusterNotFound", None),
        ("code/NOPE", {}, 404, 20006, "ClusterNotFound", "Cluster with code [NOPE] not found"),
        ("sourceId/C-1", {}, 400, 10017, "PayloadValidationError", None),
        (
            "sourceId/C-9",
            {"source": "erp"},
            404,
            20006,
            "ClusterNotFound",
            "Cluster with sourceId [C-9] and source [erp] not found",
        ),
        ("sku/SH-1", {}, 400, 10006, "InvalidLookupKey", None),
    ],
)
def test_get_errors(api, world, path, params, status, code, type_name, message):
    response = api.get(f"{URL}/{path}", params=params)

    assert_error(response, status, code, type_name, [message] if message else None)


def test_language_restricts_localized_fields(api, world):
    api.patch(detail(world["shirt"]), {"names": ls(NL="Hemd")})

    assert fetch(api, world["shirt"], language="nl")["names"] == ls(NL="Hemd")
    assert fetch(api, world["shirt"], language="DE")["names"] == ls(EN="Shirt")


# Expands ---------------------------------------------------------------------------------------


def test_expands_inline_related_records(api, world):
    shirt = world["shirt"]
    api.patch(detail(shirt), {"defaultProductId": world["large"].pk})
    category_add_clusters(category_id=world["sale"].pk, cluster_ids=[shirt.pk])

    data = fetch(api, shirt, expands="products,options,clusterConfig,categories,defaultProduct")

    assert [p["id"] for p in data["products"]] == [world["small"].pk, world["large"].pk]
    assert data["products"][0]["clusterId"] == shirt.pk
    assert [o["id"] for o in data["options"]] == [world["option"].pk]
    assert data["options"][0]["productIds"] == [world["small"].pk]
    assert data["clusterConfig"]["name"] == "Shirts"
    assert data["clusterConfig"]["settings"][0]["attributeName"] == "SIZE"
    assert [(c["id"], c["isPrimary"]) for c in data["categories"]] == [
        (world["tools"].pk, True),
        (world["sale"].pk, False),
    ]
    assert data["defaultProduct"]["id"] == world["large"].pk
    assert data["categoryIds"] == [world["tools"].pk, world["sale"].pk]


def test_without_expands_related_records_are_ids(api, world):
    data = fetch(api, world["shirt"])

    assert not {"products", "options", "clusterConfig", "categories", "defaultProduct"} & set(data)


def test_unknown_expand_is_rejected(api, world):
    response = api.get(detail(world["shirt"]), params={"expands": "parent"})

    assert_error(response, 400, 10007, "SchemaValidationException")


# Update ----------------------------------------------------------------------------------------


def test_patch_changes_fields_and_merges_names(api, world):
    shirt = world["shirt"]

    response = api.patch(
        f"{URL}/code/SH-1", {"names": ls(NL="Hemd"), "code": "SH-2", "priority": 3}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["messages"] == ["Cluster updated"]
    assert body["data"]["names"] == ls(EN="Shirt", NL="Hemd")
    assert (body["data"]["code"], body["data"]["priority"]) == ("SH-2", 3)
    assert response["ETag"] == api.get(detail(shirt))["ETag"]


def test_patch_parent_replaces_the_primary_category(api, world):
    shirt = world["shirt"]

    data = api.patch(detail(shirt), {"parent": {"id": world["sale"].pk}}).json()["data"]

    assert data["parent"] == {"id": world["sale"].pk}
    assert data["categoryIds"] == [world["sale"].pk]
    cleared = api.patch(detail(shirt), {"parent": None}).json()["data"]
    assert (cleared["parent"], cleared["categoryIds"]) == (None, [])


def test_default_product_must_be_one_of_its_products(api, world):
    shirt = world["shirt"]
    stranger = make_product("Stranger")
    before = cluster_snapshot()

    response = api.patch(detail(shirt), {"defaultProductId": stranger.pk})

    assert_error(
        response,
        400,
        10017,
        "PayloadValidationError",
        [f"defaultProductId: product with id [{stranger.pk}] is not a product of this cluster"],
    )
    assert cluster_snapshot() == before
    ok = api.patch(detail(shirt), {"defaultProductId": world["small"].pk})
    assert ok.json()["data"]["defaultProductId"] == world["small"].pk


def test_changing_the_config_to_an_unknown_one_is_404(api, world):
    before = cluster_snapshot()

    response = api.patch(detail(world["shirt"]), {"clusterConfigId": 999999})

    assert_error(response, 404, 21005, "ClusterConfigNotFound")
    assert cluster_snapshot() == before


def test_if_match(api, world):
    shirt = world["shirt"]
    tag = api.get(detail(shirt))["ETag"]
    before = cluster_snapshot()

    stale = api.patch(detail(shirt), {"priority": 1}, headers={"If-Match": '"0-0"'})
    assert_error(stale, 412, 10012, "PreconditionFailed")
    assert cluster_snapshot() == before

    fresh = api.patch(detail(shirt), {"priority": 1}, headers={"If-Match": tag})
    assert fresh.status_code == 200
    assert fresh["ETag"] != tag
    assert api.get(detail(shirt), headers={"If-None-Match": tag}).status_code == 200
    assert api.get(detail(shirt), headers={"If-None-Match": fresh["ETag"]}).status_code == 304


def test_put_is_405(api, world):
    response = api.put(detail(world["shirt"]), {"priority": 1})

    assert_error(response, 405, 10004, "MethodNotAllowed")


def test_options_request_is_answered(api, world):
    for path in (URL, detail(world["shirt"]), f"{detail(world['shirt'])}/options"):
        assert api.request("OPTIONS", path).status_code == 200, path


# ETags follow the products and options -----------------------------------------------------


def test_etag_changes_when_a_product_of_the_cluster_is_deleted(api, world):
    tag = api.get(detail(world["shirt"]))["ETag"]
    option_tag = api.get(f"/v2/clusteroptions/id/{world['option'].pk}")["ETag"]

    assert api.delete(f"/v2/products/id/{world['small'].pk}").status_code == 200

    response = api.get(detail(world["shirt"]), headers={"If-None-Match": tag})
    assert response.status_code == 200
    assert response.json()["data"]["productIds"] == [world["large"].pk]
    option = api.get(
        f"/v2/clusteroptions/id/{world['option'].pk}", headers={"If-None-Match": option_tag}
    )
    assert option.status_code == 200
    assert option.json()["data"]["productIds"] == []


def test_etag_changes_when_products_move_in_or_out(api, world):
    shirt = world["shirt"]
    tag = api.get(detail(shirt))["ETag"]

    api.post(
        f"{detail(shirt)}/products/unassign",
        {
            "products": [{"id": world["large"].pk}],
            "category": {"id": world["sale"].pk},
        },
    )

    assert api.get(detail(shirt), headers={"If-None-Match": tag}).status_code == 200


def test_etag_changes_when_its_options_are_reordered(api, world):
    shirt = world["shirt"]
    second = make_option("Case", cluster=shirt, sort_order=5)
    tag = api.get(detail(shirt))["ETag"]

    api.patch(f"/v2/clusteroptions/id/{second.pk}", {"sortOrder": -1})

    response = api.get(detail(shirt), headers={"If-None-Match": tag})
    assert response.status_code == 200
    assert response.json()["data"]["optionIds"] == [second.pk, world["option"].pk]


# Delete ----------------------------------------------------------------------------------------


def test_delete_moves_products_to_the_primary_category_and_deletes_options(api, world):
    shirt, tools = world["shirt"], world["tools"]

    response = api.delete(f"{URL}/sourceId/C-1", params={"source": "erp"})

    assert response.status_code == 200
    assert response.json() == {"data": {}, "messages": ["Cluster deleted"]}
    assert not Cluster.objects.filter(pk=shirt.pk).exists()
    assert not ClusterOption.objects.exists()
    for product in (world["small"], world["large"]):
        data = api.get(f"/v2/products/id/{product.pk}").json()["data"]
        assert (data["clusterId"], data["parent"]) == (None, {"id": tools.pk})
    assert set(
        ProductCategory.objects.filter(is_primary=True).values_list("product_id", flat=True)
    ) == {world["small"].pk, world["large"].pk}


def test_delete_without_a_primary_category_leaves_products_without_one(api, world):
    bare = make_cluster("Bare", config=world["config"])
    product = make_product("Loose", parent={"clusterId": bare.pk})

    assert api.delete(detail(bare)).status_code == 200

    product.refresh_from_db()
    assert product.cluster_id is None
    assert not ProductCategory.objects.filter(product=product).exists()


def test_delete_unknown_is_404(api, world):
    before = cluster_snapshot()

    assert_error(api.delete(f"{URL}/id/999999"), 404, 20006, "ClusterNotFound")
    assert cluster_snapshot() == before


# Translations ----------------------------------------------------------------------------------


def test_translation_removal(api, world):
    shirt = world["shirt"]
    api.patch(detail(shirt), {"names": ls(NL="Hemd"), "descriptions": ls(NL="Katoen")})

    response = api.delete(f"{detail(shirt)}/translation/nl")

    assert response.status_code == 200
    assert response.json() == {"data": {}, "messages": ["Translation deleted"]}
    data = fetch(api, shirt)
    assert (data["names"], data["descriptions"]) == (ls(EN="Shirt"), [])
    before = cluster_snapshot()
    assert_error(api.delete(f"{detail(shirt)}/translation/NL"), 404, 10018, "TranslationNotFound")
    assert_error(
        api.delete(f"{detail(shirt)}/translation/EN"), 400, 10017, "PayloadValidationError"
    )
    assert_error(
        api.delete(f"{detail(shirt)}/translation/XX"), 400, 10007, "SchemaValidationException"
    )
    assert cluster_snapshot() == before


# Categories ------------------------------------------------------------------------------------


def test_add_and_remove_clusters_in_a_category(api, world):
    shirt, sale, tools = world["shirt"], world["sale"], world["tools"]
    path = f"/v2/categories/id/{sale.pk}"

    added = api.post(f"{path}/add-products-clusters", {"clusters": [{"id": shirt.pk}]})

    assert added.status_code == 200, added.content
    assert added.json()["data"] == [
        {
            "index": 0,
            "action": "move",
            "id": shirt.pk,
            "key": shirt.pk,
            "lookupKey": "id",
            "success": True,
            "class": "cluster",
        }
    ]
    assert fetch(api, shirt)["categoryIds"] == [tools.pk, sale.pk]
    again = api.post(f"{path}/add-products-clusters", {"clusters": [{"id": shirt.pk}]})
    assert again.json()["data"][0]["errors"][0]["code"] == 30004
    primary = api.post(
        f"/v2/categories/id/{tools.pk}/remove-products-clusters",
        {"clusters": [{"sourceId": "C-1", "source": "erp"}]},
    )
    assert primary.json()["data"][0]["errors"][0]["code"] == 30010
    removed = api.post(f"{path}/remove-products-clusters", {"clusters": [{"id": shirt.pk}]})
    assert removed.json()["data"][0]["action"] == "move"
    assert fetch(api, shirt)["categoryIds"] == [tools.pk]
    missing = api.post(f"{path}/remove-products-clusters", {"clusters": [{"id": shirt.pk}]})
    assert missing.json()["data"][0]["errors"][0]["code"] == 30006
    unknown = api.post(f"{path}/add-products-clusters", {"clusters": [{"id": 999999}]})
    assert unknown.json()["data"][0]["errors"][0]["code"] == 20006


def test_category_lists_and_counts_include_clusters(api, world):
    tools = world["tools"]
    loose = make_product("Hammer", parent={"id": tools.pk})

    listing = api.get(f"/v2/categories/id/{tools.pk}/products")
    category = api.get(f"/v2/categories/id/{tools.pk}").json()["data"]

    rows = listing.json()["data"]
    assert [(row["class"], row["id"], row["isPrimary"]) for row in rows] == [
        ("product", loose.pk, True),
        ("cluster", world["shirt"].pk, True),
    ]
    assert listing.json()["itemsFound"] == 2
    assert category["productCount"] == 2


def test_deleting_a_category_with_a_cluster_is_409(api, world):
    before = cluster_snapshot()

    response = api.delete(f"/v2/categories/id/{world['tools'].pk}")

    assert_error(response, 409, 30008, "CategoryNotEmpty")
    assert cluster_snapshot() == before


# Lists and searches ----------------------------------------------------------------------------


@pytest.fixture
def catalogue(world):
    """Four clusters in two configs and categories, with spread timestamps."""
    other = make_cluster_config("Shoes", [("SIZE", "dropdown")])
    boots = make_cluster("Boots", config=other, parent=world["sale"], code="BT-1", priority=2)
    socks = make_cluster("Socks", config=world["config"], code="SK-1", hidden=True, priority=1)
    sandals = make_cluster(
        "Sandals", config=other, parent=world["tools"], sources=[("pim", "S-7")], priority=3
    )
    clusters = [world["shirt"], boots, socks, sandals]
    start = Cluster.objects.get(pk=world["shirt"].pk).created_at
    for offset, cluster in enumerate(clusters):
        stamp = start + timedelta(days=offset)
        Cluster.objects.filter(pk=cluster.pk).update(created_at=stamp, last_modified_at=stamp)
    return {"other": other, "clusters": clusters, **world}


def test_list_envelope_and_paging(api, catalogue):
    response = api.get(URL, params={"offset": 3, "page": 2})

    body = response.json()
    assert set(body) == LIST_KEYS
    assert {k: v for k, v in body.items() if k not in ("data", "messages")} == {
        "start": 4,
        "end": 4,
        "page": 2,
        "pages": 2,
        "total": 1,
        "offset": 3,
        "itemsFound": 4,
    }
    assert [row["id"] for row in body["data"]] == [catalogue["clusters"][3].pk]
    assert_error(api.get(URL, params={"page": 0}), 400, 10015, "PaginatedResponseException")


def _ids(catalogue, *indexes):
    return [catalogue["clusters"][index].pk for index in indexes]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"codes": "BT-1,SK-1"}, (1, 2)),
        ({"hidden": "Y"}, (2,)),
        ({"hidden": "N"}, (0, 1, 3)),
        ({"clusterConfigIds": "other"}, (1, 3)),
        ({"categoryIds": "tools"}, (0, 3)),
        ({"source": "pim", "sourceIds": "S-7"}, (3,)),
        ({"sort": "-priority"}, (3, 1, 2, 0)),
        ({"sort": "name"}, (1, 3, 0, 2)),
        ({"sort": "-code"}, (2, 0, 1, 3)),
    ],
    ids=lambda value: json.dumps(value) if isinstance(value, dict) else None,
)
def test_list_filters_and_sorts(api, catalogue, params, expected):
    params = dict(params)
    if params.get("clusterConfigIds") == "other":
        params["clusterConfigIds"] = catalogue["other"].pk
    if params.get("categoryIds") == "tools":
        params["categoryIds"] = catalogue["tools"].pk

    assert listed_ids(api.get(URL, params=params)) == _ids(catalogue, *expected)
    filters = {k: v for k, v in params.items() if k not in ("sort", "source", "sourceIds")}
    if "sort" not in params and "source" not in params:
        body = {
            "filters": {
                key: (value.split(",") if key == "codes" else [value])
                if key.endswith("s")
                else value
                for key, value in filters.items()
            }
        }
        assert listed_ids(api.post(f"{URL}/search", body)) == _ids(catalogue, *expected)


def test_category_ids_include_descendants_unless_asked_not_to(api, catalogue):
    child = make_category("Child", parent=catalogue["tools"])
    nested = make_cluster("Nested", config=catalogue["config"], parent=child)
    tools = catalogue["tools"].pk

    assert nested.pk in listed_ids(api.get(URL, params={"categoryIds": tools}))
    direct = api.post(
        f"{URL}/search",
        {"filters": {"categoryIds": [tools], "categoryDescendants": False}},
    )
    assert nested.pk not in listed_ids(direct)


def test_date_ranges_are_half_open(api, catalogue):
    created = [
        at(api.get(f"{URL}/id/{pk}").json()["data"]["createdAt"])
        for pk in _ids(catalogue, 0, 1, 2, 3)
    ]
    bounds = {
        "createdAtFrom": created[1].isoformat().replace("+00:00", "Z"),
        "createdAtTo": created[3].isoformat().replace("+00:00", "Z"),
    }

    assert listed_ids(api.get(URL, params=bounds)) == _ids(catalogue, 1, 2)
    body = {
        "filters": {
            "lastModifiedAt": {"from": bounds["createdAtFrom"], "to": bounds["createdAtTo"]}
        }
    }
    assert listed_ids(api.post(f"{URL}/search", body)) == _ids(catalogue, 1, 2)


def test_term_searches_names_and_codes(api, catalogue):
    assert listed_ids(api.get(URL, params={"term": "sandal"})) == _ids(catalogue, 3)
    assert listed_ids(api.get(URL, params={"term": "BT-1"})) == _ids(catalogue, 1)
    assert listed_ids(api.post(f"{URL}/search", {"filters": {"term": "sokcs"}})) == _ids(
        catalogue, 2
    )


def test_unknown_filter_sort_or_expand_is_rejected(api, catalogue):
    for params in ({"colour": "red"}, {"sort": "sku"}, {"expands": "children"}):
        assert_error(api.get(URL, params=params), 400, 10007, "SchemaValidationException")


def test_list_expands(api, catalogue):
    rows = api.get(URL, params={"expands": "products,clusterConfig", "sort": "id"}).json()["data"]

    assert [p["id"] for p in rows[0]["products"]] == [catalogue["small"].pk, catalogue["large"].pk]
    assert rows[1]["clusterConfig"]["name"] == "Shoes"
    assert rows[1]["products"] == []


def test_export_streams_every_match_as_ndjson(api, catalogue):
    response = api.get(f"{URL}/export", params={"clusterConfigIds": catalogue["config"].pk})

    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == "application/x-ndjson"
    rows = [json.loads(line) for line in ndjson_lines(response)]
    assert [row["id"] for row in rows] == _ids(catalogue, 0, 2)
    assert rows[0] == fetch(api, catalogue["shirt"])


def test_products_show_their_cluster(api, world):
    data = api.get(f"/v2/products/id/{world['small'].pk}", params={"expands": "cluster"}).json()[
        "data"
    ]

    assert data["clusterId"] == world["shirt"].pk
    assert data["parent"] is None
    assert data["cluster"]["id"] == world["shirt"].pk


def test_clusters_sit_in_a_category_like_products(db, world):
    assert ClusterCategory.objects.get(cluster=world["shirt"]).is_primary is True
    assert Product.objects.filter(cluster=world["shirt"]).count() == 2


def test_counts_follow_clusters_through_the_tree_and_their_delete(api, world):
    tools = world["tools"]
    child = make_category("Child", parent=tools)
    nested = make_cluster("Nested", config=world["config"], parent=child)
    variant = make_product("Variant", parent={"clusterId": nested.pk})
    category_add_products(category_id=child.pk, product_ids=[variant.pk])

    def count(category):
        return api.get(f"/v2/categories/id/{category.pk}").json()["data"]["productCount"]

    # tools: the shirt, and below it the nested cluster and its variant (an extra member)
    assert (count(tools), count(child)) == (3, 2)
    assert api.delete(detail(nested)).status_code == 200
    # the variant's extra membership of the child becomes its primary one
    assert list(
        ProductCategory.objects.filter(product=variant).values_list("category_id", "is_primary")
    ) == [(child.pk, True)]
    assert (count(tools), count(child)) == (2, 1)  # the cluster went, the variant stayed


def test_a_category_holding_a_cluster_as_an_extra_member_is_not_empty(api, world):
    sale = world["sale"]
    category_add_clusters(category_id=sale.pk, cluster_ids=[world["shirt"].pk])
    before = cluster_snapshot()

    response = api.delete(f"/v2/categories/id/{sale.pk}")

    assert_error(
        response,
        409,
        30008,
        "CategoryNotEmpty",
        [f"Category with id [{sale.pk}] is not empty: it contains clusters"],
    )
    assert cluster_snapshot() == before
