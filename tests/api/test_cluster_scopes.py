"""The scopes every cluster, cluster option and cluster config operation needs: exactly those
are enough, one fewer is a 403 naming it (and nothing changes), no token is a 401."""

import json

import pytest

from catalogue.records import RecordChanges
from catalogue.services.clusters import CLUSTER_WRITES, category_add_clusters
from tests.assertions import assert_error, cluster_snapshot
from tests.factories import (
    ls,
    make_api_caller,
    make_category,
    make_cluster,
    make_cluster_config,
    make_option,
    make_product,
)

C = "/v2/clusters/code/SH-1"
O = "/v2/clusteroptions/sourceId/O-1?source=erp"  # noqa: E741
OP = "/v2/clusteroptions/sourceId/O-1"

# (method, path, body, the scopes needed)
OPERATIONS = [
    ("GET", "/v2/clusterconfigs", None, ["clusterconfig.read"]),
    ("POST", "/v2/clusterconfigs/search", {}, ["clusterconfig.read"]),
    ("GET", "/v2/clusterconfigs/name/Shirts", None, ["clusterconfig.read"]),
    ("POST", "/v2/clusterconfigs", {"name": "New"}, ["clusterconfig.write"]),
    ("PATCH", "/v2/clusterconfigs/name/Shirts", {}, ["clusterconfig.write"]),
    ("DELETE", "/v2/clusterconfigs/name/Unused", None, ["clusterconfig.write"]),
    (
        "POST",
        "/v2/clusterconfigs/name/Shirts/settings",
        {"attributeName": "FIT", "displayType": "radio"},
        ["clusterconfig.write"],
    ),
    ("GET", "/v2/clusters", None, ["cluster.read"]),
    ("POST", "/v2/clusters/search", {}, ["cluster.read"]),
    ("GET", "/v2/clusters/export", None, ["cluster.read"]),
    ("GET", C, None, ["cluster.read"]),
    ("GET", f"{C}/configurator", None, ["cluster.read"]),
    ("GET", f"{C}/options", None, ["cluster.read"]),
    ("POST", "/v2/clusters", {"names": ls(EN="N"), "clusterConfigId": "config"}, ["cluster.write"]),
    ("PATCH", C, {"priority": 2}, ["cluster.write"]),
    ("DELETE", "/v2/clusters/code/SH-2", None, ["cluster.write"]),
    ("DELETE", f"{C}/translation/NL", None, ["cluster.write"]),
    ("POST", f"{C}/options", {"names": ls(EN="N")}, ["cluster.write"]),
    ("POST", f"{C}/options/bulk", {"clusteroptions": []}, ["cluster.write"]),
    ("POST", "/v2/clusters/bulk/code/delete", {"clusters": []}, ["cluster.write"]),
    ("POST", "/v2/clusters/bulk/code", {"clusters": []}, ["cluster.write"]),
    (
        "POST",
        "/v2/clusters/bulk/code",
        {"clusters": [{"code": "SH-1", "options": [{"sourceId": "O-1", "products": []}]}]},
        ["cluster.write"],
    ),
    (
        "POST",
        "/v2/clusters/bulk/code",
        {"clusters": [{"code": "SH-1", "products": [{"sku": "S-1"}]}]},
        ["cluster.write", "product.write"],
    ),
    (
        "POST",
        "/v2/clusters/bulk/code",
        {
            "clusters": [
                {"code": "SH-1", "options": [{"sourceId": "O-1", "products": [{"sku": "S-1"}]}]}
            ]
        },
        ["cluster.write", "product.write"],
    ),
    ("GET", f"{C}/products", None, ["cluster.read", "product.read"]),
    ("GET", f"{C}/products/sku/S-1", None, ["cluster.read", "product.read"]),
    (
        "POST",
        f"{C}/products",
        {"names": ls(EN="N")},
        ["cluster.write", "product.write"],
    ),
    ("PATCH", f"{C}/products/sku/S-1", {"shortName": "s"}, ["cluster.write", "product.write"]),
    ("DELETE", f"{C}/products/sku/S-1", None, ["cluster.write", "product.write"]),
    ("POST", f"{C}/products/bulk", {"products": []}, ["cluster.write", "product.write"]),
    (
        "POST",
        f"{C}/products/assign",
        {"products": [{"sourceId": "L-1", "source": "erp"}]},
        ["cluster.write", "product.read"],
    ),
    (
        "POST",
        f"{C}/products/unassign",
        {"products": [{"sourceId": "S-1", "source": "erp"}], "category": {"id": "tools"}},
        ["cluster.write", "product.read"],
    ),
    ("GET", "/v2/clusteroptions", None, ["cluster.read"]),
    ("GET", O, None, ["cluster.read"]),
    ("PATCH", O, {"sortOrder": 3}, ["cluster.write"]),
    ("DELETE", O, None, ["cluster.write"]),
    ("GET", f"{OP}/products?source=erp", None, ["cluster.read", "product.read"]),
    (
        "POST",
        f"{OP}/products/assign?source=erp",
        {"products": [{"sourceId": "L-1", "source": "erp"}]},
        ["cluster.write", "product.read"],
    ),
    (
        "POST",
        f"{OP}/products/unassign?source=erp",
        {"products": [{"sourceId": "S-1", "source": "erp"}]},
        ["cluster.write", "product.read"],
    ),
    (
        "POST",
        f"{OP}/products/bulk?source=erp",
        {"products": []},
        ["cluster.write", "product.write"],
    ),
    (
        "POST",
        "/v2/categories/id/outlet/add-products-clusters",
        {"clusters": [{"id": "shirt"}]},
        ["category.write", "cluster.read"],
    ),
    (
        "POST",
        "/v2/categories/id/sale/remove-products-clusters",
        {"clusters": [{"id": "shirt"}]},
        ["category.write", "cluster.read"],
    ),
    (
        "POST",
        "/v2/categories/id/outlet/add-products-clusters",
        {"products": [{"sourceId": "L-1", "source": "erp"}], "clusters": [{"id": "shirt"}]},
        ["category.write", "cluster.read", "product.read"],
    ),
]


def _ids(operation) -> str:
    method, path, body, _ = operation
    return f"{method} {path}" + (" +products" if body and '"sku"' in json.dumps(body) else "")


@pytest.fixture(scope="module")
def built(module_db):
    config = make_cluster_config("Shirts", [("SIZE", "radio")])
    make_cluster_config("Unused")
    tools = make_category("Tools")
    sale = make_category("Sale")
    outlet = make_category("Outlet")
    shirt = make_cluster("Shirt", config=config, code="SH-1", parent=tools)
    category_add_clusters(category_id=sale.pk, cluster_ids=[shirt.pk])
    make_cluster("Spare", config=config, code="SH-2")
    small = make_product(
        "Small",
        sku="S-1",
        sources=[{"source": "erp", "sourceId": "S-1"}],
        parent={"clusterId": shirt.pk},
    )
    make_product("Loose", sku="L-1", sources=[{"source": "erp", "sourceId": "L-1"}])
    make_option("Warranty", cluster=shirt, products=[small], sources=[("erp", "O-1")])
    # a translation to remove
    CLUSTER_WRITES.update(
        record_id=shirt.pk, changes=RecordChanges(localized={"name": {"NL": "Hemd"}})
    )
    # every caller the matrix needs, each logged in once
    scope_sets = {frozenset(op[3]) for op in OPERATIONS} | {
        frozenset(_without(op[3], missing)) for op in OPERATIONS for missing in op[3]
    }
    callers = {
        scopes: make_api_caller(sorted(scopes), name=f"scopes {index}")
        for index, scopes in enumerate(sorted(scope_sets, key=sorted))
    }
    return {
        "config": config,
        "tools": tools,
        "sale": sale,
        "outlet": outlet,
        "shirt": shirt,
        "callers": callers,
    }


def _fill(world, path: str, body):
    """Put the world's ids where the table names them."""
    path = path.replace("/id/sale/", f"/id/{world['sale'].pk}/")
    path = path.replace("/id/outlet/", f"/id/{world['outlet'].pk}/")
    if isinstance(body, dict):
        body = dict(body)
        if body.get("clusterConfigId") == "config":
            body["clusterConfigId"] = world["config"].pk
        if body.get("category") == {"id": "tools"}:
            body["category"] = {"id": world["tools"].pk}
        if body.get("clusters") == [{"id": "shirt"}]:
            body["clusters"] = [{"id": world["shirt"].pk}]
    return path, body


def _call(caller, world, operation):
    method, path, body, _ = operation
    path, body = _fill(world, path, body)
    params = None
    if "?" in path:
        path, query = path.split("?")
        params = dict([query.split("=")])
    if body is None:
        return caller.request(method, path, params=params)
    return caller.request(method, path, body, params=params)


def _without(scopes: list[str], missing: str) -> list[str]:
    """The scopes less `missing` (a write scope is replaced by its read scope)."""
    rest = [scope for scope in scopes if scope != missing]
    if missing.endswith(".write"):
        rest.append(missing.replace(".write", ".read"))
    return rest


@pytest.mark.parametrize("operation", OPERATIONS, ids=_ids)
def test_exactly_the_needed_scopes(world, operation):
    # given a caller lacking one needed scope: 403 naming it, and nothing changes
    before = cluster_snapshot()
    for missing in operation[3]:
        caller = world["callers"][frozenset(_without(operation[3], missing))]

        response = _call(caller, world, operation)

        assert_error(
            response,
            403,
            10003,
            "InsufficientScope",
            [f"This operation needs the scope {missing}"],
        )
    assert cluster_snapshot() == before

    # given a caller with exactly the needed scopes: it succeeds
    response = _call(world["callers"][frozenset(operation[3])], world, operation)

    assert response.status_code in (200, 201), response.content
    if response["Content-Type"] == "application/json" and operation[0] == "POST":
        data = response.json()["data"]
        assert all(r.get("success", True) for r in data) if isinstance(data, list) else data


@pytest.mark.parametrize("operation", OPERATIONS[::4], ids=_ids)
def test_without_a_token_is_401(anonymous, world, operation):
    before = cluster_snapshot()

    response = _call(anonymous, world, operation)

    assert_error(response, 401, 10001, "AuthenticationFailed")
    assert cluster_snapshot() == before
