"""The nested cluster bulk: clusters with their products and options (and the options'
products) in one request; delete; directives, dry run, atomic, idempotency, NDJSON; and
overlapping writers."""

import json
import random

import pytest

from catalogue.models import (
    Cluster,
    ClusterOption,
    ClusterOptionProduct,
    ClusterSource,
    Product,
    ProductSource,
)
from tests.api.test_bulk_products import run_together
from tests.assertions import BULK_RESULT_KEYS as RESULT_KEYS
from tests.assertions import assert_error, bulk_results, cluster_snapshot
from tests.factories import ls, make_category, make_cluster, make_cluster_config, make_product

URL = "/v2/clusters/bulk"
NESTED = frozenset({"products", "options"})


def nested_results(response, *messages: str) -> list[dict]:
    """Assert the nested bulk envelope; return the cluster results (nested ones checked)."""
    bulk_results(response, *messages, extra=NESTED)
    data = response.json()["data"]
    for result in data:
        assert set(result) >= NESTED, result
        for product in result["products"]:
            assert set(product) == RESULT_KEYS | ({"errors"} if not product["success"] else set())
        for option in result["options"]:
            assert set(option) >= RESULT_KEYS | {"products"}
    return data


def actions(results: list[dict]) -> list[str]:
    return [result["action"] for result in results]


@pytest.fixture
def config(db):
    return make_cluster_config("Shirts", [("SIZE", "radio")])


def cluster_item(source_id: str, config, **fields) -> dict:
    return {
        "source": "erp",
        "sourceId": source_id,
        "names": ls(EN=f"Cluster {source_id}"),
        "clusterConfigId": config.pk,
        **fields,
    }


def product_item(source_id: str, **fields) -> dict:
    return {"source": "erp", "sourceId": source_id, "names": ls(EN=f"P {source_id}"), **fields}


def test_nested_create_then_update(api, config):
    body = {
        "clusters": [
            cluster_item(
                "C-1",
                config,
                products=[product_item("P-1"), product_item("P-2")],
                options=[
                    {
                        "source": "erp",
                        "sourceId": "O-1",
                        "names": ls(EN="Warranty"),
                        "products": [product_item("W-1")],
                    }
                ],
            ),
            cluster_item("C-2", config),
        ]
    }

    data = nested_results(
        api.post(f"{URL}/sourceId", body), "Completed: 2 created, 0 updated, 0 skipped, 0 failed"
    )

    assert actions(data) == ["create", "create"]
    cluster = Cluster.objects.get(sources__source_id="C-1")
    assert data[0]["id"] == cluster.pk
    assert [(r["action"], r["key"], r["lookupKey"]) for r in data[0]["products"]] == [
        ("create", "P-1", "sourceId"),
        ("create", "P-2", "sourceId"),
    ]
    assert actions(data[0]["options"]) == ["create"]
    assert actions(data[0]["options"][0]["products"]) == ["create"]
    assert (data[1]["products"], data[1]["options"]) == ([], [])
    assert set(
        Product.objects.filter(cluster=cluster).values_list("sources__source_id", flat=True)
    ) == {"P-1", "P-2"}
    option = ClusterOption.objects.get(cluster=cluster)
    warranty_product = Product.objects.get(sources__source_id="W-1")
    assert list(option.selectable.values_list("product_id", flat=True)) == [warranty_product.pk]
    assert warranty_product.cluster_id is None

    again = nested_results(api.post(f"{URL}/sourceId", body))

    assert actions(again) == ["update", "update"]
    assert actions(again[0]["products"]) == ["update", "update"]
    assert actions(again[0]["options"]) == ["update"]
    assert actions(again[0]["options"][0]["products"]) == ["update"]
    assert Cluster.objects.count() == 2 and Product.objects.count() == 3


def test_nested_items_under_code_match_products_by_sku(api, config):
    existing = make_cluster("Old", config=config, code="SH-1")
    body = {
        "clusters": [
            {
                "code": "SH-1",
                "priority": 5,
                "products": [{"sku": "S-1", "names": ls(EN="Small")}],
            },
            {"code": "SH-2", "names": ls(EN="New"), "clusterConfigId": config.pk},
        ]
    }

    data = nested_results(api.post(f"{URL}/code", body))

    assert [(r["action"], r["key"], r["lookupKey"]) for r in data] == [
        ("update", "SH-1", "code"),
        ("create", "SH-2", "code"),
    ]
    assert data[0]["id"] == existing.pk
    assert [(r["key"], r["lookupKey"]) for r in data[0]["products"]] == [("S-1", "sku")]
    assert Product.objects.get(sku="S-1").cluster_id == existing.pk


def test_a_failed_cluster_does_not_apply_its_nested_items(api, config):
    before = cluster_snapshot()
    body = {
        "clusters": [
            {
                "source": "erp",
                "sourceId": "C-9",
                "names": ls(EN="No config"),
                "products": [product_item("P-9")],
                "options": [{"source": "erp", "sourceId": "O-9", "names": ls(EN="O")}],
            }
        ]
    }

    data = nested_results(api.post(f"{URL}/sourceId", body))

    assert data[0]["success"] is False
    assert data[0]["errors"][0]["code"] == 10007
    assert data[0]["products"][0]["errors"][0]["code"] == 10017
    assert data[0]["options"][0]["errors"][0]["code"] == 10017
    assert cluster_snapshot() == before


def test_a_failed_nested_item_fails_alone(api, config):
    body = {
        "clusters": [
            cluster_item(
                "C-1",
                config,
                products=[product_item("P-1"), {"names": ls(EN="no key")}, product_item("P-1")],
            )
        ]
    }

    data = nested_results(api.post(f"{URL}/sourceId", body))

    assert data[0]["action"] == "create"
    assert actions(data[0]["products"]) == ["create", "error", "error"]
    assert data[0]["products"][1]["errors"][0]["code"] == 10016
    assert data[0]["products"][2]["errors"][0]["code"] == 10017
    assert Product.objects.count() == 1


def test_nested_products_may_be_the_default(api, config):
    product = make_product("Existing", sources=[{"source": "erp", "sourceId": "P-1"}])
    body = {
        "clusters": [
            cluster_item("C-1", config, defaultProductId=product.pk, products=[product_item("P-1")])
        ]
    }

    data = nested_results(api.post(f"{URL}/sourceId", body))

    assert data[0]["action"] == "create", data
    assert Cluster.objects.get().default_product_id == product.pk


def test_directives_skip_create_and_skip_if_not_empty(api, config):
    make_cluster("Kept", config=config, code="SH-1")
    body = {
        "clusters": [
            {"code": "SH-1", "names": ls(EN="Changed"), "priority": 3},
            {"code": "SH-2", "names": ls(EN="New"), "clusterConfigId": config.pk},
        ],
        "directives": [
            {"operation": "skipIfNotEmpty", "fields": ["names"]},
            {"operation": "skipCreate", "fields": []},
        ],
    }

    data = nested_results(api.post(f"{URL}/code", body))

    assert [(r["action"], r["success"]) for r in data] == [("update", True), ("skip", True)]
    kept = Cluster.objects.get(code="SH-1")
    assert (kept.name, kept.priority) == ("Kept", 3)
    assert not Cluster.objects.filter(code="SH-2").exists()


def test_unknown_directive_fails_the_whole_request(api, config):
    before = cluster_snapshot()
    body = {"clusters": [cluster_item("C-1", config)], "directives": {"skipEverything": []}}

    assert_error(api.post(f"{URL}/sourceId", body), 400, 10007, "SchemaValidationException")
    assert cluster_snapshot() == before


def test_dry_run_reports_and_writes_nothing(api, config):
    before = cluster_snapshot()
    body = {"clusters": [cluster_item("C-1", config, products=[product_item("P-1")])]}

    response = api.post(f"{URL}/sourceId", body, params={"dryRun": "true"})

    data = nested_results(response)
    assert response.json()["messages"][-1] == "Dry run: nothing was written"
    assert (data[0]["action"], data[0]["products"][0]["action"]) == ("create", "create")
    assert cluster_snapshot() == before


def test_atomic_applies_nothing_when_one_item_fails(api, config):
    before = cluster_snapshot()
    body = {
        "clusters": [
            cluster_item("C-1", config, products=[product_item("P-1")]),
            cluster_item("C-2", config, clusterConfigId=999999),
        ]
    }

    data = nested_results(api.post(f"{URL}/sourceId", body, params={"atomic": "true"}))

    assert [r["success"] for r in data] == [False, False]
    assert data[0]["errors"][0]["messages"] == ["not applied: request is atomic"]
    assert data[0]["products"][0]["errors"][0]["code"] == 10017
    assert data[1]["errors"][0]["code"] == 21005
    assert cluster_snapshot() == before


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "type_name"),
    [
        ("/code", {"products": []}, 400, 10007, "SchemaValidationException"),
        ("/sku", {"clusters": []}, 400, 10006, "InvalidLookupKey"),
        ("/id", "{", 400, 10005, "InvalidJSONPayload"),
        ("/id", {"clusters": [{}] * 1001}, 413, 10011, "PayloadTooLarge"),
    ],
    ids=["no-array", "lookup-key", "not-json", "too-many"],
)
def test_malformed_requests_fail_whole(api, config, path, body, status, code, type_name):
    before = cluster_snapshot()

    assert_error(api.post(URL + path, body), status, code, type_name)
    assert cluster_snapshot() == before


def test_nested_arrays_must_be_arrays_and_items_objects(api, config):
    body = {
        "clusters": [
            cluster_item("C-1", config, products={"sku": "x"}),
            "not an object",
            cluster_item(
                "C-2",
                config,
                options=[
                    {"source": "erp", "sourceId": "O-1", "names": ls(EN="O"), "products": 5},
                    7,
                ],
            ),
        ]
    }

    data = nested_results(api.post(f"{URL}/sourceId", body))

    assert [r["action"] for r in data] == ["error", "error", "create"]
    assert data[0]["errors"][0]["messages"] == ["products: must be an array"]
    assert data[1]["errors"][0]["messages"] == ["item must be a JSON object"]
    options = data[2]["options"]
    assert [r["action"] for r in options] == ["error", "error"]
    assert options[0]["errors"][0]["messages"] == ["products: must be an array"]
    assert options[1]["errors"][0]["messages"] == ["item must be a JSON object"]
    assert list(Cluster.objects.values_list("sources__source_id", flat=True)) == ["C-2"]
    assert not ClusterOption.objects.exists()


def test_idempotency_key_replays_the_first_response(api, config):
    body = {"clusters": [cluster_item("C-1", config)]}
    headers = {"Idempotency-Key": "cluster-bulk-1"}

    first = api.post(f"{URL}/sourceId", body, headers=headers)
    again = api.post(f"{URL}/sourceId", body, headers=headers)
    other = api.post(f"{URL}/sourceId", {"clusters": []}, headers=headers)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert nested_results(first)[0]["action"] == "create"
    assert Cluster.objects.count() == 1
    assert_error(other, 422, 10017, "PayloadValidationError")


def test_ndjson_body(api, config):
    lines = [
        cluster_item("C-1", config, products=[product_item("P-1")]),
        cluster_item("C-2", config, names=ls(EN="Ignored")),
    ]
    make_cluster("Existing", config=config, sources=[("erp", "C-2")])
    payload = "\n".join(json.dumps(line) for line in lines) + "\n"

    response = api.post(
        f"{URL}/sourceId",
        payload,
        content_type="application/x-ndjson",
        params={"directives": json.dumps({"skipIfNotEmpty": ["names"]})},
    )

    data = nested_results(response)
    assert actions(data) == ["create", "update"]
    assert Cluster.objects.get(sources__source_id="C-2").name == "Existing"


# Delete ----------------------------------------------------------------------------------------


def test_bulk_delete(api, config):
    kept = make_cluster("Kept", config=config, code="SH-1")
    gone = make_cluster("Gone", config=config, code="SH-2")
    product = make_product("In", parent={"clusterId": gone.pk})

    response = api.post(f"{URL}/code/delete", {"clusters": [{"code": "SH-2"}, {"code": "NOPE"}]})

    assert response.status_code == 200
    data = response.json()["data"]
    assert [(r["action"], r["key"]) for r in data] == [("delete", "SH-2"), ("error", "NOPE")]
    assert data[1]["errors"][0]["code"] == 20006
    assert list(Cluster.objects.values_list("pk", flat=True)) == [kept.pk]
    product.refresh_from_db()
    assert product.cluster_id is None


def test_bulk_delete_dry_run_and_atomic(api, config):
    make_cluster("Kept", config=config, code="SH-1")
    before = cluster_snapshot()
    body = {"clusters": [{"code": "SH-1"}, {"code": "NOPE"}]}

    dry = api.post(f"{URL}/code/delete", body, params={"dryRun": "true"})
    atomic = api.post(f"{URL}/code/delete", body, params={"atomic": "true"})

    assert [r["action"] for r in dry.json()["data"]] == ["delete", "error"]
    assert [r["success"] for r in atomic.json()["data"]] == [False, False]
    assert cluster_snapshot() == before


# Overlapping writers ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_overlapping_nested_bulks_end_with_one_record_per_key(api_client_factory):
    config = make_cluster_config("Shared", [("SIZE", "radio")])
    writers = 6
    callers = [api_client_factory(["cluster.write", "product.write"]) for _ in range(writers)]
    batches = []
    for writer in range(writers):
        numbers = random.Random(writer).sample(range(12), 8)
        batches.append(
            {
                "clusters": [
                    cluster_item(
                        f"C-{number}",
                        config,
                        products=[product_item(f"P-{number}-{size}") for size in range(3)],
                        options=[
                            {
                                "source": "erp",
                                "sourceId": f"O-{number}",
                                "names": ls(EN="Option"),
                                "products": [product_item(f"W-{number}")],
                            }
                        ],
                    )
                    for number in numbers
                ]
            }
        )

    responses = run_together(
        *(
            (lambda caller=caller, body=body: caller.post(f"{URL}/sourceId", body))
            for caller, body in zip(callers, batches, strict=True)
        )
    )

    assert [response.status_code for response in responses] == [200] * writers
    seen: dict[str, set[int]] = {}
    for response in responses:
        for result in response.json()["data"]:
            assert result["success"], result
            seen.setdefault(result["key"], set()).add(result["id"])
            for product in result["products"]:
                assert product["success"], product
    keys = set(seen)
    assert all(len(ids) == 1 for ids in seen.values())
    assert Cluster.objects.count() == ClusterSource.objects.count() == len(keys)
    assert ClusterOption.objects.count() == len(keys)
    assert Product.objects.count() == ProductSource.objects.count() == len(keys) * 4
    assert ClusterOptionProduct.objects.count() == len(keys)
    for cluster in Cluster.objects.all():
        assert Product.objects.filter(cluster=cluster).count() == 3


def test_id_items_without_a_match_are_created_with_new_ids(api, config):
    body = {
        "clusters": [
            {
                "id": 987654,
                "names": ls(EN="New"),
                "clusterConfigId": config.pk,
                "products": [{"id": 876543, "names": ls(EN="Variant")}],
            }
        ]
    }

    data = nested_results(api.post(f"{URL}/id", body))

    cluster = Cluster.objects.get()
    assert (data[0]["action"], data[0]["id"], data[0]["key"]) == ("create", cluster.pk, 987654)
    assert cluster.pk != 987654
    product = Product.objects.get()
    assert (data[0]["products"][0]["id"], product.cluster_id) == (product.pk, cluster.pk)
    assert product.pk != 876543


@pytest.mark.django_db(transaction=True)
def test_products_moving_both_ways_between_two_clusters_never_fail(api_client_factory):
    config = make_cluster_config("Shared")
    left = make_cluster("Left", config=config)
    right = make_cluster("Right", config=config)
    in_left = [make_product(f"L{n}", parent={"clusterId": left.pk}) for n in range(10)]
    in_right = [make_product(f"R{n}", parent={"clusterId": right.pk}) for n in range(10)]
    callers = [api_client_factory(["cluster.write", "product.read"]) for _ in range(6)]

    def move(caller, cluster, products):
        refs = {"products": [{"id": product.pk} for product in products]}
        return caller.post(f"/v2/clusters/id/{cluster.pk}/products/assign", refs)

    def unassign(caller, source, target, products):
        refs = {"products": [{"id": p.pk} for p in products], "cluster": {"id": target.pk}}
        return caller.post(f"/v2/clusters/id/{source.pk}/products/unassign", refs)

    for _ in range(3):
        responses = run_together(
            lambda: move(callers[0], left, in_right),
            lambda: move(callers[1], right, in_left),
            lambda: unassign(callers[2], left, right, in_left),
            lambda: unassign(callers[3], right, left, in_right),
            lambda: move(callers[4], left, in_right[::-1]),
            lambda: move(callers[5], right, in_left[::-1]),
        )

        assert [r.status_code for r in responses] == [200] * 6, [
            r.content[:300] for r in responses if r.status_code != 200
        ]
    assert Product.objects.filter(cluster__isnull=False).count() == 20


@pytest.mark.django_db(transaction=True)
def test_overlapping_nested_bulks_moving_products_between_clusters(api_client_factory):
    config = make_cluster_config("Shared")
    callers = [api_client_factory(["cluster.write", "product.write"]) for _ in range(6)]

    def body(writer: int) -> dict:
        """Four clusters; each writer deals the forty products out to them differently."""
        numbers = random.Random(writer).sample(range(40), 40)
        return {
            "clusters": [
                cluster_item(
                    f"C-{(number + writer) % 4}",
                    config,
                    products=[
                        product_item(f"P-{p}") for p in numbers[number * 10 : number * 10 + 10]
                    ],
                )
                for number in range(4)
            ]
        }

    responses = run_together(
        *(
            (lambda caller=caller, writer=writer: caller.post(f"{URL}/sourceId", body(writer)))
            for writer, caller in enumerate(callers)
        )
    )

    assert [response.status_code for response in responses] == [200] * len(callers)
    for response in responses:
        for result in response.json()["data"]:
            assert result["success"], result
            assert all(product["success"] for product in result["products"]), result
    assert Cluster.objects.count() == 4
    assert Product.objects.count() == Product.objects.filter(cluster__isnull=False).count() == 40


def test_merge_translations_and_skip_move_on_update(api, config):
    home = make_category("Home")
    away = make_category("Away")
    make_cluster("Shirt", config=config, code="SH-1", parent=home)
    api.patch("/v2/clusters/code/SH-1", {"names": ls(NL="Hemd", DE="Hemd")})
    body = {
        "clusters": [
            {"code": "SH-1", "names": ls(EN="Shirt 2", NL="Hemd 2"), "parent": {"id": away.pk}}
        ],
        "directives": {"mergeTranslationsOnUpdate": [], "skipMoveOnUpdate": []},
    }

    assert nested_results(api.post(f"{URL}/code", body))[0]["action"] == "update"

    data = api.get("/v2/clusters/code/SH-1").json()["data"]
    assert data["names"] == ls(EN="Shirt 2", NL="Hemd 2")
    assert data["parent"] == {"id": home.pk}
    del body["directives"]
    assert nested_results(api.post(f"{URL}/code", body))[0]["action"] == "update"
    assert api.get("/v2/clusters/code/SH-1").json()["data"]["categoryIds"] == [away.pk]
