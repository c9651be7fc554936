"""The configurator of a cluster (its variant chooser), and the number of queries cluster
reads take."""

import pytest

from tests.api.test_products import count_queries
from tests.assertions import assert_error
from tests.factories import (
    ls,
    make_category,
    make_cluster,
    make_cluster_config,
    make_option,
    make_product,
)


def variant(name: str, cluster, **attributes) -> object:
    return make_product(
        name,
        parent={"clusterId": cluster.pk},
        attributes=[{"name": key, "value": value} for key, value in attributes.items()],
    )


@pytest.fixture(scope="module")
def built(module_db):
    """A config with three settings and an empty cluster; and categories of small and large
    clusters for the query counts."""
    config = make_cluster_config(
        "Shirts", [("COLOR", "color", 2), ("SIZE", "radio", 1), ("FIT", "dropdown", 3)]
    )
    cluster = make_cluster("Shirt", config=config, code="SH-1")
    small = make_category("Small")
    large = make_category("Large")
    return {
        "config": config,
        "cluster": cluster,
        "small": _grow(config, small, 2, 2),
        "large": _grow(config, large, 6, 8),
        "small_category": small,
        "large_category": large,
    }


@pytest.fixture
def shirt(db, built):
    return built["config"], built["cluster"]


def test_configurator_shape(api, shirt):
    config, cluster = shirt
    a = variant("A", cluster, SIZE="S", COLOR="red", FIT="slim", EXTRA="x")
    b = variant("B", cluster, SIZE="M", COLOR="red", FIT="slim")
    c = variant("C", cluster, SIZE="S", COLOR="blue", FIT="slim")
    d = variant("D", cluster, SIZE="S", COLOR="red")  # no FIT
    e = variant("E", cluster, SIZE="S", COLOR="red", FIT="slim")  # same as A
    api.patch(f"/v2/clusters/id/{cluster.pk}", {"defaultProductId": a.pk})
    care = make_product("Care")
    late = make_option("Late", cluster=cluster, sort_order=5)
    warranty = make_option(
        "Warranty",
        cluster=cluster,
        products=[care],
        sort_order=1,
        is_required=True,
        default_product_id=care.pk,
    )

    response = api.get("/v2/clusters/code/SH-1/configurator")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "data": {
            "clusterId": cluster.pk,
            "clusterConfigId": config.pk,
            "defaultProductId": a.pk,
            "settings": [
                {
                    "attributeName": "SIZE",
                    "displayType": "radio",
                    "priority": 1,
                    "values": [
                        {"value": "M", "productIds": [b.pk]},
                        {"value": "S", "productIds": [a.pk, c.pk, d.pk, e.pk]},
                    ],
                },
                {
                    "attributeName": "COLOR",
                    "displayType": "color",
                    "priority": 2,
                    "values": [
                        {"value": "blue", "productIds": [c.pk]},
                        {"value": "red", "productIds": [a.pk, b.pk, d.pk, e.pk]},
                    ],
                },
                {
                    "attributeName": "FIT",
                    "displayType": "dropdown",
                    "priority": 3,
                    "values": [{"value": "slim", "productIds": [a.pk, b.pk, c.pk, e.pk]}],
                },
            ],
            "variants": [
                {"productId": a.pk, "attributes": {"SIZE": "S", "COLOR": "red", "FIT": "slim"}},
                {"productId": b.pk, "attributes": {"SIZE": "M", "COLOR": "red", "FIT": "slim"}},
                {"productId": c.pk, "attributes": {"SIZE": "S", "COLOR": "blue", "FIT": "slim"}},
                {"productId": d.pk, "attributes": {"SIZE": "S", "COLOR": "red"}},
                {"productId": e.pk, "attributes": {"SIZE": "S", "COLOR": "red", "FIT": "slim"}},
            ],
            "options": [
                {
                    "id": warranty.pk,
                    "names": ls(EN="Warranty"),
                    "isRequired": True,
                    "sortOrder": 1,
                    "defaultProductId": care.pk,
                    "productIds": [care.pk],
                },
                {
                    "id": late.pk,
                    "names": ls(EN="Late"),
                    "isRequired": False,
                    "sortOrder": 5,
                    "defaultProductId": None,
                    "productIds": [],
                },
            ],
            "problems": [
                {"type": "missingAttribute", "productIds": [d.pk], "attributeName": "FIT"},
                {"type": "duplicateCombination", "productIds": [a.pk, e.pk]},
            ],
        },
        "messages": ["Cluster configurator"],
        "total": 1,
    }


def test_configurator_of_an_empty_cluster(api, shirt):
    _, cluster = shirt

    data = api.get(f"/v2/clusters/id/{cluster.pk}/configurator").json()["data"]

    assert [s["values"] for s in data["settings"]] == [[], [], []]
    assert (data["variants"], data["options"], data["problems"]) == ([], [], [])


def test_configurator_language(api, shirt):
    _, cluster = shirt
    option = make_option("Warranty", cluster=cluster)
    api.patch(f"/v2/clusteroptions/id/{option.pk}", {"names": ls(NL="Garantie")})

    nl = api.get(f"/v2/clusters/id/{cluster.pk}/configurator", params={"language": "NL"})
    de = api.get(f"/v2/clusters/id/{cluster.pk}/configurator", params={"language": "DE"})

    assert nl.json()["data"]["options"][0]["names"] == ls(NL="Garantie")
    assert de.json()["data"]["options"][0]["names"] == ls(EN="Warranty")


def test_configurator_errors(api, shirt):
    assert_error(api.get("/v2/clusters/id/999999/configurator"), 404, 20006, "ClusterNotFound")
    assert_error(
        api.get("/v2/clusters/code/SH-1/configurator", params={"language": "XX"}),
        400,
        10007,
        "SchemaValidationException",
    )
    assert_error(
        api.post("/v2/clusters/code/SH-1/configurator", {}), 405, 10004, "MethodNotAllowed"
    )


# Query counts ----------------------------------------------------------------------------------


def _grow(config, category, clusters: int, products: int) -> list:
    """`clusters` clusters in `category`, each with `products` variants and an option."""
    made = []
    for number in range(clusters):
        cluster = make_cluster(f"C{number}", config=config, parent=category)
        items = [
            variant(f"P{number}-{index}", cluster, SIZE=str(index), COLOR="red")
            for index in range(products)
        ]
        make_option("Option", cluster=cluster, products=items[:2])
        made.append(cluster)
    return made


@pytest.fixture
def grown(db, built):
    return built


# Pins (the token check and the rate counter are two of them): a list without expands, a list
# with every expand (each expanded kind is one page-wide query, the config two with settings),
# and the reads below one cluster.
ALL_EXPANDS = "products,options,clusterConfig,categories,defaultProduct"
LIST_QUERIES = {"": 4, ALL_EXPANDS: 11}
SUB_READ_QUERIES = {"products": 5, "options": 5, "configurator": 5}


@pytest.mark.parametrize("expands", list(LIST_QUERIES))
def test_cluster_list_runs_a_constant_number_of_queries(
    api, grown, django_assert_max_num_queries, expands
):
    def listing(category):
        return api.get(
            "/v2/clusters", params={"categoryIds": category.pk, "expands": expands, "offset": 100}
        )

    listing(grown["small_category"])
    small, response = count_queries(lambda: listing(grown["small_category"]))
    assert len(response.json()["data"]) == 2
    with django_assert_max_num_queries(LIST_QUERIES[expands]):
        response = listing(grown["large_category"])
    large, _ = count_queries(lambda: listing(grown["large_category"]))

    assert len(response.json()["data"]) == 6
    if expands:
        assert len(response.json()["data"][0]["products"]) == 8
    assert small == large


def test_cluster_detail_with_expands_runs_a_constant_number_of_queries(api, grown):
    expands = {"expands": ALL_EXPANDS}

    small, _ = count_queries(
        lambda: api.get(f"/v2/clusters/id/{grown['small'][0].pk}", params=expands)
    )
    large, _ = count_queries(
        lambda: api.get(f"/v2/clusters/id/{grown['large'][0].pk}", params=expands)
    )

    assert small == large


@pytest.mark.parametrize(
    "path",
    ["products", "options", "configurator"],
)
def test_cluster_sub_reads_run_a_constant_number_of_queries(
    api, grown, django_assert_max_num_queries, path
):
    params = {} if path == "configurator" else {"offset": 100, "expands": "categories"}
    if path == "options":
        params["expands"] = "products,defaultProduct"

    def read(cluster):
        return api.get(f"/v2/clusters/id/{cluster.pk}/{path}", params=params)

    read(grown["small"][0])
    small, _ = count_queries(lambda: read(grown["small"][0]))
    with django_assert_max_num_queries(SUB_READ_QUERIES[path]):
        response = read(grown["large"][0])
    large, _ = count_queries(lambda: read(grown["large"][0]))

    assert response.status_code == 200
    assert small == large


def test_option_products_run_a_constant_number_of_queries(api, grown):
    def read(cluster):
        option = cluster.options.get()
        return api.get(f"/v2/clusteroptions/id/{option.pk}/products", params={"offset": 100})

    small, _ = count_queries(lambda: read(grown["small"][0]))
    large, _ = count_queries(lambda: read(grown["large"][0]))

    assert small == large


def test_category_products_with_clusters_run_a_constant_number_of_queries(api, grown):
    def read(category):
        return api.get(f"/v2/categories/id/{category.pk}/products", params={"offset": 100})

    small, _ = count_queries(lambda: read(grown["small_category"]))
    large, response = count_queries(lambda: read(grown["large_category"]))

    assert response.json()["itemsFound"] == 6
    assert small == large
