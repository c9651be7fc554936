"""Assertions shared by the API tests: the error envelope and "nothing changed"."""

import re

from django.db import connection

from catalogue.models import (
    Category,
    CategorySource,
    Cluster,
    ClusterCategory,
    ClusterConfig,
    ClusterConfigSetting,
    ClusterOption,
    ClusterOptionProduct,
    ClusterOptionSource,
    ClusterSource,
    Product,
    ProductCategory,
)

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
LIST_KEYS = {"data", "messages", "start", "end", "page", "pages", "total", "offset", "itemsFound"}
# Per-client request counters of the rate limit: every request writes them, by design.
BOOKKEEPING_TABLES = {"api_ratewindow"}
BULK_RESULT_KEYS = {"index", "action", "id", "key", "lookupKey", "success"}
# A list that found nothing, with the default paging.
EMPTY_PAGE = {
    "data": [],
    "messages": [],
    "start": 0,
    "end": 0,
    "page": 1,
    "pages": 0,
    "total": 0,
    "offset": 12,
    "itemsFound": 0,
}


def assert_error(
    response, status: int, code: int, type_name: str, messages: list[str] | None = None
) -> dict:
    """Assert the error envelope; `messages` None skips comparing them."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "status", "type", "messages", "moreInfo"}
    assert (error["code"], error["status"], error["type"]) == (code, status, type_name)
    assert error["moreInfo"] == f"/v2/docs/errors#{code}"
    assert isinstance(error["messages"], list)
    assert error["messages"]
    assert all(isinstance(message, str) for message in error["messages"])
    if messages is not None:
        assert error["messages"] == messages
    return error


def category_snapshot() -> tuple[list[dict], list[dict]]:
    """Every category row (tree columns included) and every source pair."""
    return (
        list(Category.objects.order_by("pk").values()),
        list(CategorySource.objects.order_by("pk").values()),
    )


def expected_placement() -> dict[int, tuple[int, list[int]]]:
    """Recompute every category's (level, ancestor ids root-first) from parent links alone."""
    parents = dict(Category.objects.values_list("id", "parent_id"))
    placement: dict[int, tuple[int, list[int]]] = {}

    def place(node_id: int) -> tuple[int, list[int]]:
        if node_id not in placement:
            parent = parents[node_id]
            if parent is None:
                placement[node_id] = (0, [])
            else:
                level, path = place(parent)
                placement[node_id] = (level + 1, [*path, parent])
        return placement[node_id]

    for node_id in parents:
        place(node_id)
    return placement


def assert_tree_consistent() -> None:
    """Assert the stored nested sets agree with the parent links, for every category."""
    expected = expected_placement()
    rows = list(Category.objects.values("id", "parent_id", "tree_id", "lft", "rght", "level"))
    trees: dict[int, list[dict]] = {}
    for row in rows:
        trees.setdefault(row["tree_id"], []).append(row)
    for members in trees.values():
        # lft/rght of one tree are exactly 1..2n, and a tree has one root.
        bounds = sorted(value for row in members for value in (row["lft"], row["rght"]))
        assert bounds == list(range(1, 2 * len(members) + 1))
        assert [row["parent_id"] for row in members].count(None) == 1
        # Walk the tree in lft order; the open nodes are the ancestors of the current one.
        open_nodes: list[dict] = []
        for row in sorted(members, key=lambda member: member["lft"]):
            while open_nodes and open_nodes[-1]["rght"] < row["lft"]:
                open_nodes.pop()
            level, path = expected[row["id"]]
            assert row["level"] == level, row
            assert [node["id"] for node in open_nodes] == path, row
            assert row["parent_id"] == (path[-1] if path else None)
            open_nodes.append(row)


def cluster_snapshot() -> tuple[list[dict], ...]:
    """Every row of configs, settings, clusters, options, their sources and memberships, and
    the products' placement."""
    models = (
        ClusterConfig,
        ClusterConfigSetting,
        Cluster,
        ClusterSource,
        ClusterCategory,
        ClusterOption,
        ClusterOptionSource,
        ClusterOptionProduct,
        ProductCategory,
        Product,
    )
    return tuple(list(model.objects.order_by("pk").values()) for model in models)


def bulk_completed(created=0, updated=0, skipped=0, failed=0, deleted=0) -> str:
    parts = [f"{created} created", f"{updated} updated"]
    if deleted:
        parts.append(f"{deleted} deleted")
    return "Completed: " + ", ".join([*parts, f"{skipped} skipped", f"{failed} failed"])


def bulk_results(response, *messages: str, extra: frozenset = frozenset()) -> list[dict]:
    """Assert the bulk envelope and return its per-item results (checked to be in order);
    `extra` names result keys a resource may add (nested results): they are left out."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"data", "messages"}
    if messages:
        assert body["messages"] == list(messages)
    data = body["data"]
    assert [result["index"] for result in data] == list(range(len(data)))
    for result in data:
        errors = {"errors"} if not result["success"] else set()
        assert set(result) - extra == BULK_RESULT_KEYS | errors, result
    return [{key: value for key, value in result.items() if key not in extra} for result in data]


def listed_ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["data"]]


def ndjson_lines(response):
    """Yield the lines of a streamed NDJSON response as they arrive."""
    pending = b""
    for chunk in response.streaming_content:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from lines
    assert pending == b"", "the stream must end with a newline"


def bulk_ok(index: int, action: str, record_id, key, lookup_key: str) -> dict:
    return {
        "index": index,
        "action": action,
        "id": record_id,
        "key": key,
        "lookupKey": lookup_key,
        "success": True,
    }


def table_counts() -> dict[str, int]:
    """The number of rows in every table except rate-limit bookkeeping."""
    with connection.cursor() as cursor:
        counts = {}
        for table in connection.introspection.table_names(cursor):
            if table not in BOOKKEEPING_TABLES:
                cursor.execute(f'SELECT count(*) FROM "{table}"')
                counts[table] = cursor.fetchone()[0]
    return counts


def bulk_failed(index, key, lookup_key, code, type_name, message, record_id=None) -> dict:
    return {
        "index": index,
        "action": "error",
        "id": record_id,
        "key": key,
        "lookupKey": lookup_key,
        "success": False,
        "errors": [{"code": code, "type": type_name, "messages": [message]}],
    }
