"""Malformed input at every operation of the published document: every string field or
parameter gets NUL, a lone surrogate, 10k characters and non-ASCII digits; every integer a
huge, negative, fractional or textual value; every timestamp an impossible date or offset;
arrays and strings swap places; a body repeats a key. None of it may reach PostgreSQL as a
500: each answer is below 500, and every 4xx is the error envelope with a numeric code.

Cases are generated from the document, so a new resource or field is covered without a change
here. Path parameters name real records (created through the API) so that bodies are read and
validated, not refused at the lookup.
"""

import json
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings

from tests.factories import ApiCaller, ls, make_category, make_product
from tests.fuzz.openapi import bulk_items, flatten, json_body_schema, kind, operations

LANGUAGE = settings.CATALOGUE_LANGUAGES[0]

BAD_TEXT = {
    "NUL": "a\u0000b",
    "lone surrogate": "a\ud800b",
    "10k characters": "x" * 10_000,
    "non-ASCII digits": "\u0661\u0662\u0663",  # Arabic-Indic 123: isdigit() is true
}
BAD_INTEGERS = {
    "10**20": 10**20,
    "2**63": 2**63,
    "2**31": 2**31,
    "negative": -1,
    "float": 1.5,
    "string": "1",
}
BAD_INTEGER_TEXT = {
    "10**20": str(10**20),
    "2**63": str(2**63),
    "negative": "-1",
    "float": "1.5",
    "exponent": "1e3",
    "non-ASCII digits": "\u0661\u0662\u0663",
    "word": "many",
}
BAD_DATES = {
    "year 0": "0000-01-01T00:00:00Z",
    "year 10000": "10000-01-01T00:00:00Z",
    "month 13": "2024-13-01T00:00:00Z",
    "offset +24:00": "2024-01-01T00:00:00+24:00",
    "offset -23:59 at the start": "0001-01-01T00:00:00+23:59",
    "offset at the end": "9999-12-31T23:59:59-23:59",
    "odd offset": "2024-01-01T00:00:00+05:17:33",
}


@dataclass
class World:
    """Records the sweep's paths point at, by the resource segment of the path."""

    ids: dict[str, int] = field(default_factory=dict)
    source_ids: dict[str, str] = field(default_factory=dict)  # all with source "fuzz"
    product_in_cluster: int = 0
    setting_id: int = 0


def created_id(response) -> int:
    assert response.status_code == 201, response.content
    return response.json()["data"]["id"]


@pytest.fixture
def world(api: ApiCaller) -> World:
    category = make_category("Fuzz category", sources=[("fuzz", "category-1")])
    product = make_product("Fuzz product", sku="FUZZ-1", source="fuzz", sourceId="product-1")
    config = created_id(
        api.post(
            "/v2/clusterconfigs",
            {
                "name": "Fuzz_config",
                "settings": [{"attributeName": "COLOUR", "displayType": "radio"}],
            },
        )
    )
    setting_id = api.get(f"/v2/clusterconfigs/id/{config}").json()["data"]["settings"][0]["id"]
    cluster = created_id(
        api.post(
            "/v2/clusters",
            {
                "source": "fuzz",
                "sourceId": "cluster-1",
                "code": "FUZZ-CLUSTER",
                "names": ls(**{LANGUAGE: "Fuzz cluster"}),
                "clusterConfigId": config,
            },
        )
    )
    member = created_id(
        api.post(
            f"/v2/clusters/id/{cluster}/products",
            {"names": ls(**{LANGUAGE: "Member"}), "sku": "FUZZ-2"},
        )
    )
    option = created_id(
        api.post(
            f"/v2/clusters/id/{cluster}/options",
            {"source": "fuzz", "sourceId": "option-1", "names": ls(**{LANGUAGE: "Fuzz option"})},
        )
    )
    return World(
        ids={
            "categories": category.pk,
            "products": product.pk,
            "clusterconfigs": config,
            "clusters": cluster,
            "clusteroptions": option,
        },
        source_ids={
            "categories": "category-1",
            "products": "product-1",
            "clusters": "cluster-1",
            "clusteroptions": "option-1",
        },
        product_in_cluster=member,
        setting_id=setting_id,
    )


# Building requests -------------------------------------------------------------------------


def good_path_values(path: str, operation: dict, world: World) -> dict[str, str]:
    """Path parameters that name real records: `key` id (sourceId for bulk), real ids."""
    resource = path.split("/")[2]
    values = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] != "path":
            continue
        name = parameter["name"]
        keys = flatten(parameter.get("schema", {})).get("enum", [])
        if name == "key":
            values[name] = "sourceId" if "/bulk/" in path and "sourceId" in keys else "id"
        elif name == "value":
            values[name] = str(world.ids[resource])
        elif name == "product_key":
            values[name] = "id"
        elif name == "product_value":
            values[name] = str(world.product_in_cluster)
        elif name == "setting_id":
            values[name] = str(world.setting_id)
        elif name == "language":
            values[name] = LANGUAGE
        else:
            raise AssertionError(f"{path}: no good value for path parameter {name}")
    return values


def url(path: str, values: dict[str, str], query: dict | None = None) -> str:
    for name, value in values.items():
        encoded = quote(value.encode("utf-8", "surrogatepass"), safe="")
        path = path.replace("{" + name + "}", encoded)
    if query:
        pairs = {
            key: value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
            for key, value in query.items()
        }
        path += "?" + urlencode(pairs)
    return path


def sample(schema: dict, world: World, depth: int = 0):
    """A plausible valid value for a schema (enough for the field next to it to be read)."""
    schema = flatten(schema)
    found = kind(schema)
    if found == "enum":
        return schema["enum"][0]
    if found == "date-time":
        return "2024-01-01T00:00:00.000Z"
    if found == "string":
        return LANGUAGE if "language" in json.dumps(schema).lower() else "fuzz"
    if found in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    if found == "boolean":
        return True
    if found == "array":
        return [] if depth else [sample(schema.get("items", {}), world, depth + 1)]
    if found == "object":
        properties = schema.get("properties", {})
        return {
            name: sample(properties[name], world, depth + 1) for name in schema.get("required", [])
        }
    return "fuzz"


_serial = iter(range(1, 10**9))


def good_fields(schema: dict, world: World) -> dict:
    """Fields that make a create valid, for the ones this schema has: a new source pair, a
    name, the cluster config a cluster needs."""
    known = {
        "source": "fuzz",
        "sourceId": f"good-{next(_serial)}",
        "names": ls(**{LANGUAGE: "Good"}),
        "clusterConfigId": world.ids["clusterconfigs"],
    }
    properties = schema.get("properties", {})
    return {name: value for name, value in known.items() if name in properties}


def bad_values(schema: dict) -> dict[str, object]:
    """Wrong values for a field of this schema, by name."""
    found = kind(schema)
    values: dict[str, object] = {}
    if found in ("string", "enum", "date-time", "any"):
        values.update(BAD_TEXT)
        values["list instead of a string"] = ["a", "b"]
    if found == "date-time":
        values.update(BAD_DATES)
    if found in ("integer", "number"):
        values.update(BAD_INTEGERS)
        values["list instead of a number"] = [1]
        values["NUL text"] = BAD_TEXT["NUL"]
    if found == "boolean":
        values.update({"string": "yes", "integer": 2, "NUL text": BAD_TEXT["NUL"]})
    if found == "array":
        items = flatten(schema.get("items", {}))
        values["string instead of a list"] = "a,b"
        values["object instead of a list"] = {"a": 1}
        for name, value in bad_values(items).items():
            values[f"[{name}]"] = [value]
    if found == "object":
        values["string instead of an object"] = "x"
        values["list instead of an object"] = [{}]
        for name, sub in flatten(schema).get("properties", {}).items():
            if kind(sub) in ("object", "array"):
                continue  # one level of nesting is enough
            for bad_name, value in bad_values(sub).items():
                values[f".{name} {bad_name}"] = {name: value}
    return values


@dataclass
class Case:
    label: str
    method: str
    url: str
    body: object = None
    raw: bytes | None = None


def cases_for(path: str, method: str, operation: dict, world: World) -> list[Case]:
    good = good_path_values(path, operation, world)
    base = url(path, good)
    found: list[Case] = []
    # Path parameters
    for parameter in operation.get("parameters", []):
        name, location = parameter["name"], parameter["in"]
        schema = parameter.get("schema", {})
        if location == "path":
            wrong = dict(BAD_TEXT)
            if kind(schema) == "integer" or name in ("value", "product_value", "setting_id"):
                wrong.update(BAD_INTEGER_TEXT)
            for label, value in wrong.items():
                found.append(
                    Case(f"path {name}: {label}", method, url(path, {**good, name: value}))
                )
        elif location == "query":
            wrong = dict(BAD_TEXT)
            found_kind = kind(schema)
            if found_kind in ("integer", "number") or name in ("ids", "page", "offset", "depth"):
                wrong.update(BAD_INTEGER_TEXT)
            if found_kind == "date-time" or name.endswith(("From", "To")):
                wrong.update(BAD_DATES)
            if found_kind == "array" or name.endswith("Ids") or name == "ids":
                wrong["list of 10k items"] = ",".join(["1"] * 10_000)
            for label, value in wrong.items():
                found.append(Case(f"query {name}: {label}", method, url(path, good, {name: value})))
    # JSON body
    body = json_body_schema(operation)
    if body is not None:
        found.append(Case("body: duplicate key", method, base, raw=b'{"a": 1, "a": 2}'))
        found.append(Case("body: list instead of an object", method, base, body=[{}]))
        found.append(Case("body: string instead of an object", method, base, body="x"))
        bulk = bulk_items(body)
        if bulk is not None:
            name, item = bulk
            for item_case in body_cases(item, world):
                found.append(
                    Case(f"{name}[0]{item_case.label}", method, base, body={name: [item_case.body]})
                )
        for body_case in body_cases(body, world):
            found.append(Case(f"body{body_case.label}", method, base, body=body_case.body))
    return found


def body_cases(schema: dict, world: World) -> list[Case]:
    """The schema's required fields with good values, and one field at a time made bad."""
    good = {**sample(schema, world), **good_fields(schema, world)}
    found = []
    for name, field_schema in schema.get("properties", {}).items():
        for label, value in bad_values(field_schema).items():
            found.append(Case(f".{name}: {label}", "", "", body={**good, name: value}))
    return found


def send(api: ApiCaller, case: Case):
    if case.raw is not None:
        return api.request(case.method.upper(), case.url, case.raw)
    if case.body is None:
        return api.request(case.method.upper(), case.url)
    return api.request(case.method.upper(), case.url, json.dumps(case.body).encode())


def problem(response) -> str | None:
    """Why a response breaks the rules (None when it does not)."""
    status = response.status_code
    if status >= 500:
        return f"{status}: {response.content[:300]!r}"
    if status < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        return f"{status} without a JSON body: {response.content[:200]!r}"
    error = body.get("error") if isinstance(body, dict) else None
    if set(body) != {"error"} or not isinstance(error, dict):
        return f"{status} without the error envelope: {body}"
    if set(error) != {"code", "status", "type", "messages", "moreInfo"}:
        return f"{status} error envelope with keys {sorted(error)}"
    code = error["code"]
    if not isinstance(code, int) or isinstance(code, bool) or error["status"] != status:
        return f"{status} error envelope with code {code!r}, status {error['status']!r}"
    messages = error["messages"]
    if not messages or not all(isinstance(m, str) for m in messages):
        return f"{status} error envelope with messages {messages!r}"
    if error["moreInfo"] != f"/v2/docs/errors#{code}" or not isinstance(error["type"], str):
        return (
            f"{status} error envelope with type {error['type']!r}, moreInfo {error['moreInfo']!r}"
        )
    return None


OPERATIONS = operations()


@pytest.mark.parametrize(
    ("path", "method", "operation"),
    OPERATIONS,
    ids=[f"{method.upper()} {path}" for path, method, _ in OPERATIONS],
)
def test_malformed_input_never_gets_a_server_error(api, world, path, method, operation):
    api.client.raise_request_exception = False  # a crash is a 500 to report, not the end
    cases = cases_for(path, method, operation, world)
    assert cases, f"{method.upper()} {path}: no case generated"
    failures = []
    for case in cases:
        response = send(api, case)
        if (why := problem(response)) is not None:
            failures.append(f"{case.label}: {why}")
    assert not failures, f"{method.upper()} {path}:\n" + "\n".join(failures)


BULK_OPERATIONS = [
    (path, method, operation)
    for path, method, operation in OPERATIONS
    if "/bulk" in path
    and not path.endswith("/delete")
    and (body := json_body_schema(operation)) is not None
    and bulk_items(body) is not None
]


def first_bad_value_per_field(item: dict) -> list[tuple[str, object]]:
    found = []
    for name, field_schema in item.get("properties", {}).items():
        if name in ("source", "sourceId"):
            continue  # the key: its item could not be told apart from the good ones
        values = bad_values(field_schema)
        if values:
            label, value = next(iter(values.items()))
            found.append((f"{name}: {label}", {name: value}))
    return found


@pytest.mark.parametrize(
    ("path", "method", "operation"),
    BULK_OPERATIONS,
    ids=[f"{method.upper()} {path}" for path, method, _ in BULK_OPERATIONS],
)
def test_one_bad_bulk_item_fails_alone(api, world, path, method, operation):
    api.client.raise_request_exception = False
    array, item = bulk_items(json_body_schema(operation))
    good = good_path_values(path, operation, world)
    if good.get("key") == "id":
        # Nested bulks match items by the kind of the parent's key: sourceId, so they create.
        good["key"], good["value"] = "sourceId", world.source_ids[path.split("/")[2]]
        target = url(path, good, {"source": "fuzz"})
    else:
        target = url(path, good)
    failures = []
    for label, bad in first_bad_value_per_field(item):
        items = [good_fields(item, world), {**good_fields(item, world), **bad}]
        items.append(good_fields(item, world))
        response = api.request(method.upper(), target, json.dumps({array: items}).encode())
        if response.status_code != 200:
            failures.append(f"{label}: {response.status_code} {response.content[:300]!r}")
            continue
        results = response.json()["data"]
        outcome = [(r["success"], r["action"]) for r in results]
        error = results[1].get("errors", [{}])[0]
        if outcome[0] != (True, "create") or outcome[2] != (True, "create"):
            failures.append(f"{label}: the good items were not created: {results}")
        elif outcome[1][0] or not isinstance(error.get("code"), int):
            failures.append(f"{label}: the bad item did not fail with a coded error: {results[1]}")
        else:
            for result in (results[0], results[2]):
                found = api.get(f"/v2/{array}/id/{result['id']}")
                if found.status_code != 200:
                    failures.append(f"{label}: created item {result['id']} not found")
            listed = api.get(
                f"/v2/{array}", params={"source": "fuzz", "sourceIds": items[1]["sourceId"]}
            )
            if listed.status_code != 200 or listed.json()["data"]:
                failures.append(f"{label}: the bad item was written: {listed.content[:300]!r}")
    assert not failures, f"{method.upper()} {path}:\n" + "\n".join(failures)


PATHS = sorted({path for path, _, _ in OPERATIONS})


@pytest.mark.parametrize("path", PATHS)
def test_options_method_is_answered_on_every_path(api, world, path):
    # A view method named like an HTTP method (`options`) once shadowed its handler: a 500.
    operation = next(op for p, _, op in OPERATIONS if p == path)
    response = api.request("OPTIONS", url(path, good_path_values(path, operation, world)))

    assert response.status_code == 200, response.content
    allowed = {method.strip() for method in response["Allow"].split(",")}
    documented = {method.upper() for p, method, _ in OPERATIONS if p == path}
    assert documented <= allowed, (path, allowed)


EXPORTS = [
    path
    for path, method, operation in OPERATIONS
    if method == "get"
    and path.endswith("/export")
    and any(parameter["name"] == "sourceIds" for parameter in operation["parameters"])
]


@pytest.mark.parametrize("path", EXPORTS)
def test_export_with_a_filter_that_matches_nothing_is_empty(api, world, path):
    # An empty sourceIds list makes Django prove the filter empty before any SQL exists.
    response = api.get(path, params={"source": "fuzz", "sourceIds": ","})

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/x-ndjson"
    assert b"".join(response.streaming_content) == b""
