"""The published OpenAPI document: served, valid, and true to what the server really answers.

Every response below comes from a real request and is validated against the schema the
document declares for its path, method and status, so a field added, removed or retyped on
either side fails here.
"""

import json
import re
from dataclasses import dataclass, field

import pytest
import yaml
from django.conf import settings
from django.test import Client
from django.urls import resolve
from drf_spectacular.validation import validate_schema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tests.factories import make_category

DOCUMENT_URI = "urn:catalogue:openapi"
METHODS = ("get", "post", "patch", "put", "delete")

CATEGORY_OPERATIONS = {
    ("/v2/categories", "get"),
    ("/v2/categories", "post"),
    ("/v2/categories/search", "post"),
    ("/v2/categories/tree", "get"),
    ("/v2/categories/{key}/{value}", "get"),
    ("/v2/categories/{key}/{value}", "patch"),
    ("/v2/categories/{key}/{value}", "delete"),
    ("/v2/categories/{key}/{value}/children", "get"),
    ("/v2/categories/{key}/{value}/translation/{language}", "delete"),
}
PRODUCT_OPERATIONS = {
    ("/v2/products", "get"),
    ("/v2/products", "post"),
    ("/v2/products/search", "post"),
    ("/v2/products/export", "get"),
    ("/v2/products/{key}/{value}", "get"),
    ("/v2/products/{key}/{value}", "patch"),
    ("/v2/products/{key}/{value}", "delete"),
    ("/v2/products/{key}/{value}/categories", "get"),
    ("/v2/products/{key}/{value}/translation/{language}", "delete"),
}
CATEGORY_PRODUCT_OPERATIONS = {
    ("/v2/categories/{key}/{value}/products", "get"),
    ("/v2/categories/{key}/{value}/add-products-clusters", "post"),
    ("/v2/categories/{key}/{value}/remove-products-clusters", "post"),
}


def pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


@dataclass
class OpenApi:
    """The document plus the checks that hold a real response against it."""

    document: dict
    checked: set[tuple[str, str, int]] = field(default_factory=set)

    def __post_init__(self):
        resource = DRAFT202012.create_resource(self.document)
        self.registry = Registry().with_resource(DOCUMENT_URI, resource)
        self.templates = []
        for template in self.document["paths"]:
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            literal = len(re.sub(r"\{\w+\}", "", template))
            self.templates.append((literal, template, re.compile(f"^{pattern}/?$")))
        # When several templates match, the one with more literal text is the route.
        self.templates.sort(key=lambda item: -item[0])

    def template_for(self, path: str) -> str:
        for _, template, regex in self.templates:
            if regex.match(path):
                return template
        raise AssertionError(f"{path} matches no path of the document")

    def follow(self, node: dict) -> tuple[dict, str]:
        """Resolve a local $ref (responses, headers); return the node and its pointer."""
        target = node["$ref"]
        assert target.startswith("#/"), target
        resolved = self.document
        for part in target[2:].split("/"):
            resolved = resolved[part.replace("~1", "/").replace("~0", "~")]
        return resolved, target[1:]

    def validate(self, instance, schema_pointer: str) -> list:
        validator = Draft202012Validator(
            {"$ref": f"{DOCUMENT_URI}#{schema_pointer}"},
            registry=self.registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        return list(validator.iter_errors(instance))

    def assert_valid(self, instance, schema_pointer: str, what: str) -> None:
        errors = self.validate(instance, schema_pointer)
        if errors:
            error = best_match(errors)
            raise AssertionError(
                f"{what} does not match {schema_pointer}: {error.message} "
                f"at {list(error.absolute_path)} (schema path {list(error.absolute_schema_path)})"
                f"\n{json.dumps(instance, indent=1)[:3000]}"
            )

    def request_schema(self, method: str, path: str) -> str:
        template = self.template_for(path)
        return pointer(
            "paths",
            template,
            method.lower(),
            "requestBody",
            "content",
            "application/json",
            "schema",
        )

    def assert_request_accepted(self, method: str, path: str, body) -> None:
        """The document accepts a body the server accepted."""
        self.assert_valid(body, self.request_schema(method, path), f"{method} {path} body")

    def assert_request_rejected(self, method: str, path: str, body) -> None:
        assert self.validate(body, self.request_schema(method, path)), (
            f"the document accepts a {method} {path} body the server rejected: {body}"
        )

    def documented_response(self, response) -> tuple[dict, str]:
        """The documented response for a real one (headers checked); its node and pointer."""
        method = response.request["REQUEST_METHOD"].lower()
        path = response.request["PATH_INFO"]
        status = response.status_code
        template = self.template_for(path)
        operation = self.document["paths"][template].get(method)
        assert operation is not None, f"{method.upper()} {template} is not documented"
        documented = operation["responses"].get(str(status))
        content = b"<stream>" if response.streaming else response.content[:500]
        assert documented is not None, (
            f"{method.upper()} {template} answered {status}, which is not documented "
            f"(documented: {sorted(operation['responses'])}): {content!r}"
        )
        base = pointer("paths", template, method, "responses", str(status))
        if "$ref" in documented:
            documented, base = self.follow(documented)
        for name, header in documented.get("headers", {}).items():
            if "$ref" in header:
                header, _ = self.follow(header)
            if header.get("required"):
                assert response.has_header(name), f"{status} of {template} lacks header {name}"
        self.checked.add((template, method, status))
        return documented, base

    def check_ndjson(self, response, item_schema: str) -> list:
        """Validate a streamed NDJSON response: every line is one `item_schema` object."""
        documented, _ = self.documented_response(response)
        assert response["Content-Type"].split(";")[0] == "application/x-ndjson"
        media = documented["content"].get("application/x-ndjson")
        assert media is not None, f"application/x-ndjson is not documented: {documented}"
        assert f"#/components/schemas/{item_schema}" in media["schema"]["description"]
        lines = b"".join(response.streaming_content).decode().splitlines()
        items = [json.loads(line) for line in lines]
        for index, item in enumerate(items):
            self.assert_valid(item, pointer("components", "schemas", item_schema), f"line {index}")
        return items

    def check(self, response):
        """Validate a real response against the document; return its decoded body."""
        method = response.request["REQUEST_METHOD"].lower()
        path = response.request["PATH_INFO"]
        status = response.status_code
        documented, base = self.documented_response(response)
        template = self.template_for(path)
        if "content" not in documented:
            assert response.content == b"", f"{status} of {template} should have no body"
            return None
        assert response["Content-Type"].startswith("application/json")
        body = response.json()
        schema_pointer = base + pointer("content", "application/json", "schema")
        self.assert_valid(body, schema_pointer, f"{method.upper()} {path} -> {status}")
        return body

    def check_error_envelope(self, response) -> dict:
        """Validate an error of an undocumented operation (405) against ErrorEnvelope."""
        body = response.json()
        self.assert_valid(body, "/components/schemas/ErrorEnvelope", f"{response.status_code}")
        return body


@pytest.fixture(scope="module")
def document() -> dict:
    response = Client().get("/v2/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def openapi(document) -> OpenApi:
    return OpenApi(document)


# Serving ---------------------------------------------------------------------------------------


def test_schema_is_yaml_by_default_and_needs_no_token(db):
    # when
    response = Client().get("/v2/schema/")

    # then
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == "application/vnd.oai.openapi"
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == "Catalogue API"


@pytest.mark.parametrize(
    ("query", "headers"),
    [({"format": "json"}, {}), ({}, {"Accept": "application/json"})],
    ids=["format-query", "accept-header"],
)
def test_schema_as_json(db, query, headers):
    response = Client().get("/v2/schema/", query, headers=headers)

    assert response.status_code == 200
    assert "json" in response["Content-Type"]
    assert json.loads(response.content)["openapi"].startswith("3.1")


def test_docs_pages_are_served(db):
    for path in ("/v2/docs/", "/v2/redoc/"):
        response = Client().get(path)
        assert response.status_code == 200, path
        assert b"/v2/schema/" in response.content


# Structure -------------------------------------------------------------------------------------


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_document_is_valid_openapi_3_1(openapi, document):
    validate_schema(document)
    for name, schema in document["components"]["schemas"].items():
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as exc:  # pragma: no cover - the message is the point
            raise AssertionError(f"component {name} is not a valid JSON Schema: {exc}") from exc
    for target in set(_refs(document)):
        openapi.follow({"$ref": target})  # raises KeyError when dangling


def test_every_operation_is_fully_described(document):
    operation_ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(operation_ids) == len(set(operation_ids))
    scopes = document["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
    assert scopes["tokenUrl"] == "/oauth2/token/"
    assert scopes["scopes"] == settings.API_SCOPES
    problems = []
    for path, method, operation in _operations(document):
        where = f"{method.upper()} {path}"
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        if declared != set(re.findall(r"\{(\w+)\}", path)):
            problems.append(f"{where}: path parameters {sorted(declared)}")
        requirements = operation.get("security", [])
        scopes = requirements[0].get("oauth2", []) if len(requirements) == 1 else []
        if not scopes or not set(scopes) <= set(settings.API_SCOPES):
            problems.append(f"{where}: security {requirements}")
        responses = operation["responses"]
        for status, response in responses.items():
            if "$ref" not in response and status != "304" and "content" not in response:
                problems.append(f"{where}: {status} has no documented body")
        missing = {"401", "403"} - set(responses)
        if missing or not any(status.startswith("2") for status in responses):
            problems.append(f"{where}: responses {sorted(responses)}")
        body = operation.get("requestBody")
        if body and ("application/json" not in body["content"] or not body.get("required")):
            problems.append(f"{where}: request body {body}")
    assert not problems, "Incompletely documented operations:\n" + "\n".join(problems)


def test_every_request_body_has_an_example_its_schema_accepts(openapi, document):
    missing, invalid = [], []
    for path, method, operation in _operations(document):
        body = operation.get("requestBody")
        if not body:
            continue
        where = f"{method.upper()} {path}"
        examples = body["content"]["application/json"].get("examples", {})
        if not examples:
            missing.append(where)
        for name, example in examples.items():
            schema = pointer(
                "paths", path, method, "requestBody", "content", "application/json", "schema"
            )
            if openapi.validate(example["value"], schema):
                invalid.append(f"{where} example {name}")
    assert not invalid, "Examples the document itself refuses:\n" + "\n".join(invalid)
    assert not missing, "Request bodies without an example:\n" + "\n".join(missing)


def test_the_bulk_and_search_examples_run_as_shown(api, document):
    def example(path: str) -> dict:
        content = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        return next(iter(content["examples"].values()))["value"]

    for path in ("/v2/categories/bulk/{key}", "/v2/products/bulk/{key}"):
        response = api.post(path.format(key="sourceId"), example(path))
        assert response.status_code == 200, response.json()
        assert all(result["success"] for result in response.json()["data"]), response.json()
    for path in document["paths"]:
        if path.endswith("/search"):
            response = api.post(path, example(path))
            assert response.status_code == 200, (path, response.json())


def test_paths_are_published_once_without_trailing_slash_and_route(document):
    published = {(path, method) for path, method, _ in _operations(document)}
    assert published >= CATEGORY_OPERATIONS | PRODUCT_OPERATIONS | CATEGORY_PRODUCT_OPERATIONS
    for path in document["paths"]:
        assert path.startswith("/v2/") and not path.endswith("/"), path
        concrete = re.sub(r"\{\w+\}", "x", path)
        for candidate in (concrete, concrete + "/"):
            assert resolve(candidate).url_name != "not-found", candidate


def test_operations_name_the_scope_they_need(document):
    def scopes(path, method):
        return document["paths"][path][method]["security"][0]["oauth2"]

    assert scopes("/v2/categories", "get") == ["category.read"]
    assert scopes("/v2/categories/search", "post") == ["category.read"]
    assert scopes("/v2/categories", "post") == ["category.write"]
    assert scopes("/v2/categories/{key}/{value}", "delete") == ["category.write"]
    assert scopes("/v2/products", "get") == ["product.read"]
    assert scopes("/v2/products/search", "post") == ["product.read"]
    assert scopes("/v2/products/export", "get") == ["product.read"]
    assert scopes("/v2/products/{key}/{value}/categories", "get") == ["product.read"]
    assert scopes("/v2/products", "post") == ["product.write"]
    assert scopes("/v2/products/{key}/{value}/translation/{language}", "delete") == [
        "product.write"
    ]
    members = "/v2/categories/{key}/{value}"
    assert scopes(members + "/products", "get") == ["category.read", "product.read"]
    for action in ("add", "remove"):
        # product.read / cluster.read depend on what the body names (see the description)
        path = f"{members}/{action}-products-clusters"
        assert scopes(path, "post") == ["category.write"]
        assert "cluster.read" in document["paths"][path]["post"]["description"]


# Real responses against the document -----------------------------------------------------------


def names(**values: str) -> list[dict]:
    return [{"language": language, "value": value} for language, value in values.items()]


def test_category_responses_match_the_document(api, openapi):
    # create: a root, a child by parent id, a grandchild by parent source pair
    body = {"names": names(EN="Tools", NL="Gereedschap"), "source": "erp", "sourceId": "CAT-1"}
    openapi.assert_request_accepted("POST", "/v2/categories", body)
    root = openapi.check(api.post("/v2/categories", body))["data"]
    assert root["parent"] is None and root["source"] == "erp"

    body = {
        "names": names(EN="Saws", DE="Sägen"),
        "parent": {"id": root["id"]},
        "priority": 2,
        "sources": [{"source": "erp", "sourceId": "CAT-2"}, {"source": "pim", "sourceId": "7"}],
    }
    openapi.assert_request_accepted("POST", "/v2/categories/", body)
    child = openapi.check(api.post("/v2/categories/", body))["data"]
    assert child["parent"] == {"id": root["id"]}

    body = {"names": names(EN="Band saws"), "hidden": "Y", "parent": {"sourceId": "CAT-2"}}
    body["source"], body["sourceId"] = "erp", "CAT-3"
    openapi.assert_request_accepted("POST", "/v2/categories", body)
    leaf = openapi.check(api.post("/v2/categories", body))["data"]

    # read: plain, by source pair, every expansion, conditional
    detail = f"/v2/categories/id/{child['id']}"
    response = api.get(detail)
    openapi.check(response)
    etag = response["ETag"]
    openapi.check(api.get("/v2/categories/sourceId/CAT-1", params={"source": "erp"}))
    expanded = openapi.check(
        api.get(detail + "/", params={"expands": "parent,children,path", "language": "nl"})
    )["data"]
    assert expanded["parent"]["id"] == root["id"]
    assert expanded["path"][0]["id"] == root["id"]
    assert expanded["children"][0]["id"] == leaf["id"]
    assert openapi.check(api.get(detail, headers={"If-None-Match": etag})) is None

    # lists and searches, including an empty page past the end
    listed = openapi.check(
        api.get("/v2/categories", params={"sort": "-id", "offset": 2, "expands": "children"})
    )
    assert listed["itemsFound"] == 3 and listed["pages"] == 2
    openapi.check(api.get("/v2/categories", params={"hidden": "N", "term": "saw", "page": 9}))
    body = {
        "filters": {"parentIds": [root["id"]], "createdAt": {"from": root["createdAt"]}},
        "sort": [{"field": "name", "order": "DESC"}],
        "offset": 5,
    }
    openapi.assert_request_accepted("POST", "/v2/categories/search", body)
    found = openapi.check(api.post("/v2/categories/search", body))
    assert [item["id"] for item in found["data"]] == [child["id"]]

    # tree and children
    tree = openapi.check(api.get("/v2/categories/tree"))["data"]
    assert tree[0]["children"][0]["children"][0]["id"] == leaf["id"]
    openapi.check(api.get("/v2/categories/tree/", params={"depth": 0, "rootId": root["id"]}))
    children = openapi.check(api.get(f"/v2/categories/id/{root['id']}/children"))
    assert [item["id"] for item in children["data"]] == [child["id"]]

    # change, translation removal, delete
    body = {"names": names(FR="Scies"), "priority": 1}
    openapi.assert_request_accepted("PATCH", detail, body)
    openapi.check(api.patch(detail, body, headers={"If-Match": etag}))
    body = {"parent": None}
    openapi.assert_request_accepted("PATCH", detail, body)
    moved = openapi.check(api.patch(detail, body))["data"]
    assert moved["parent"] is None and moved["level"] == 0
    openapi.check(api.delete(f"{detail}/translation/DE"))
    openapi.check(api.delete(f"/v2/categories/id/{leaf['id']}/"))

    # every category operation was held against the document with a success status
    succeeded = {(template, method) for template, method, status in openapi.checked if status < 300}
    assert succeeded >= CATEGORY_OPERATIONS


@dataclass
class World:
    """Records and callers the error cases need."""

    api: object
    make_caller: object
    anonymous: object
    root: object
    child: object
    grandchild: object

    def caller(self, *scopes):
        return self.make_caller(list(scopes))


@pytest.fixture
def world(api, api_client_factory, anonymous) -> World:
    root = make_category("Tools", sources=[("erp", "CAT-1")])
    child = make_category("Saws", parent=root)
    grandchild = make_category("Band saws", parent=child)
    return World(api, api_client_factory, anonymous, root, child, grandchild)


def _detail(record) -> str:
    return f"/v2/categories/id/{record.pk}"


ERROR_CASES = {
    "400-schema-body": (
        lambda w: w.api.post("/v2/categories", {"names": "Tools"}),
        10007,
    ),
    "400-schema-expands": (
        lambda w: w.api.get("/v2/categories", params={"expands": "bogus"}),
        10007,
    ),
    "400-schema-unknown-filter": (
        lambda w: w.api.post("/v2/categories/search", {"filters": {"colour": "red"}}),
        10007,
    ),
    "400-invalid-json": (lambda w: w.api.post("/v2/categories", "{not json"), 10005),
    "400-lookup-key": (lambda w: w.api.get("/v2/categories/sku/1"), 10006),
    "400-page": (lambda w: w.api.get("/v2/categories", params={"page": 0}), 10015),
    "400-missing-source": (lambda w: w.api.get("/v2/categories/sourceId/CAT-1"), 10017),
    "400-default-language": (
        lambda w: w.api.delete(_detail(w.child) + "/translation/EN"),
        10017,
    ),
    "400-tree-depth": (lambda w: w.api.get("/v2/categories/tree", params={"depth": "x"}), 10007),
    "401-no-token": (lambda w: w.anonymous.get("/v2/categories"), 10001),
    "401-bad-token": (lambda w: w.api.get(_detail(w.root), auth="Bearer nope"), 10001),
    "403-other-entity": (lambda w: w.caller("product.read").get("/v2/categories"), 10003),
    "403-read-only": (
        lambda w: w.caller("category.read").patch(_detail(w.root), {"priority": 1}),
        10003,
    ),
    "404-category": (lambda w: w.api.get("/v2/categories/id/999999999"), 30006),
    "404-children": (lambda w: w.api.get("/v2/categories/id/999999999/children"), 30006),
    "404-tree-root": (
        lambda w: w.api.get("/v2/categories/tree", params={"rootId": 999999999}),
        30006,
    ),
    "404-parent": (
        lambda w: w.api.post(
            "/v2/categories", {"names": names(EN="Orphan"), "parent": {"id": 999999999}}
        ),
        30007,
    ),
    "404-translation": (lambda w: w.api.delete(_detail(w.child) + "/translation/FR"), 10018),
    "409-source-taken": (
        lambda w: w.api.post(
            "/v2/categories", {"names": names(EN="Copy"), "source": "erp", "sourceId": "CAT-1"}
        ),
        30004,
    ),
    "409-not-empty": (lambda w: w.api.delete(_detail(w.root)), 30008),
    "412-stale-etag": (
        lambda w: w.api.patch(_detail(w.root), {"priority": 3}, headers={"If-Match": '"stale"'}),
        10012,
    ),
    "415-media-type": (
        lambda w: w.api.post("/v2/categories", "names=Tools", content_type="text/plain"),
        10010,
    ),
    "422-cycle": (
        lambda w: w.api.patch(_detail(w.root), {"parent": {"id": w.grandchild.pk}}),
        30009,
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_category_errors_match_the_document(world, openapi, case):
    send, code = ERROR_CASES[case]

    response = send(world)

    body = openapi.check(response)
    assert body["error"]["code"] == code, body
    assert body["error"]["status"] == response.status_code


def test_schema_invalid_body_is_rejected_by_the_document_too(openapi):
    openapi.assert_request_rejected("POST", "/v2/categories", {"names": "Tools"})
    openapi.assert_request_rejected("POST", "/v2/categories", {"colour": "red"})
    openapi.assert_request_rejected("POST", "/v2/categories/search", {"filters": {"x": 1}})


def test_method_not_allowed_is_undocumented_and_uses_the_error_envelope(world, openapi, document):
    # given
    assert "put" not in document["paths"]["/v2/categories/{key}/{value}"]

    # when
    response = world.api.put(_detail(world.root), {"priority": 1})

    # then
    assert response.status_code == 405
    assert openapi.check_error_envelope(response)["error"]["code"] == 10004


def test_throttled_response_matches_the_document(api, openapi, settings):
    settings.THROTTLE_RATE = "1/min"
    openapi.check(api.get("/v2/categories"))

    response = api.get("/v2/categories")

    assert response.status_code == 429
    assert openapi.check(response)["error"]["code"] == 10009


def test_the_checks_catch_a_drifted_shape(world, openapi):
    """Guard the guard: an extra, a missing or a retyped field fails validation."""
    response = world.api.get(_detail(world.child))
    body = response.json()
    schema = pointer("components", "schemas", "CategoryEnvelope")
    assert not openapi.validate(body, schema)

    extra = {**body, "data": {**body["data"], "colour": "red"}}
    missing = {**body, "data": {k: v for k, v in body["data"].items() if k != "productCount"}}
    retyped = {**body, "data": {**body["data"], "parent": world.root.pk}}
    for drifted in (extra, missing, retyped):
        assert openapi.validate(drifted, schema)


# Products --------------------------------------------------------------------------------------


def _product(api, openapi, body) -> dict:
    openapi.assert_request_accepted("POST", "/v2/products", body)
    response = api.post("/v2/products", body)
    assert response.status_code == 201, response.content
    return openapi.check(response)["data"]


def test_product_responses_match_the_document(api, openapi):
    tools = make_category("Tools", sources=[("erp", "CAT-1")])
    valves = make_category("Valves", parent=tools)

    # create: every field, then a minimal one placed by the parent's source pair
    body = {
        "language": "EN",
        "names": names(EN="Brass valve", NL="Messing klep"),
        "descriptions": names(EN="A valve made of brass."),
        "shortDescriptions": names(EN="Valve"),
        "notes": names(EN="Fragile"),
        "packageDescriptions": names(EN="Box of 10"),
        "metadataTitles": names(EN="Brass valve"),
        "sku": "VALVE-1",
        "supplier": "Acme",
        "supplierCode": "AC-1",
        "manufacturer": "Acme Works",
        "oemCode": "OEM-1",
        "eanCode": "8712345678906",
        "barCode": "BC-1",
        "shortName": "Valve",
        "package": "box",
        "packageUnit": "piece",
        "status": "T",
        "taxCode": "L",
        "unit": 2,
        "minimumQuantity": 3,
        "packageUnitQuantity": 10,
        "priority": 5,
        "hidden": "N",
        "orderable": "Y",
        "returnable": "N",
        "physical": "Y",
        "width": 1.5,
        "height": 20,
        "depth": None,
        "weight": 0.25,
        "attributes": [{"name": "COLOR", "value": "brass"}, {"name": "SIZE_MM", "value": "15"}],
        "parent": {"id": tools.pk},
        "sources": [{"source": "erp", "sourceId": "P-1"}, {"source": "pim", "sourceId": "9"}],
    }
    valve = _product(api, openapi, body)
    assert valve["parent"] == {"id": tools.pk} and valve["categoryIds"] == [tools.pk]
    assert valve["depth"] is None and valve["width"] == 1.5 and valve["height"] == 20
    body = {
        "names": names(EN="Steel valve"),
        "sku": "VALVE-2",
        "parent": {"sourceId": "CAT-1", "source": "erp"},
    }
    steel = _product(api, openapi, body)
    loose = _product(api, openapi, {"names": names(DE="Schraube"), "language": "DE"})
    assert loose["parent"] is None and loose["source"] is None and loose["categoryIds"] == []

    # category membership, so `categories` and `expands=categories` have two to show
    added = api.post(
        f"/v2/categories/id/{valves.pk}/add-products-clusters", {"products": [{"id": valve["id"]}]}
    )
    assert openapi.check(added)["data"][0]["success"] is True

    # read by every lookup key, with every expansion, conditionally
    detail = f"/v2/products/id/{valve['id']}"
    response = api.get(detail)
    plain = openapi.check(response)["data"]
    assert plain["categoryIds"] == [tools.pk, valves.pk] and "categories" not in plain
    etag = response["ETag"]
    for path, params in [
        ("/v2/products/sourceId/P-1", {"source": "erp"}),
        ("/v2/products/sku/VALVE-1/", {}),
        ("/v2/products/supplierCode/AC-1", {"supplier": "Acme"}),
    ]:
        assert openapi.check(api.get(path, params=params))["data"]["id"] == valve["id"], path
    expanded = openapi.check(
        api.get(detail, params={"expands": "categories,parent,cluster,sources", "language": "nl"})
    )["data"]
    assert expanded["parent"]["id"] == tools.pk and expanded["cluster"] is None
    assert [(c["id"], c["isPrimary"]) for c in expanded["categories"]] == [
        (tools.pk, True),
        (valves.pk, False),
    ]
    assert expanded["names"] == names(NL="Messing klep")
    unplaced = openapi.check(
        api.get(f"/v2/products/id/{loose['id']}", params={"expands": "parent,categories"})
    )["data"]
    assert unplaced["parent"] is None and unplaced["categories"] == []
    assert openapi.check(api.get(detail, headers={"If-None-Match": etag})) is None

    # the categories of a product, primary first
    listed = openapi.check(api.get(f"{detail}/categories", params={"language": "EN"}))
    assert [(c["id"], c["isPrimary"]) for c in listed["data"]] == [
        (tools.pk, True),
        (valves.pk, False),
    ]
    openapi.check(api.get("/v2/products/sku/VALVE-2/categories", params={"page": 3}))

    # lists, searches and the export
    page = openapi.check(
        api.get(
            "/v2/products",
            params={"sort": "-sku", "offset": 2, "expands": "categories,parent"},
        )
    )
    assert page["itemsFound"] == 3 and page["pages"] == 2
    filtered = openapi.check(
        api.get(
            "/v2/products/",
            params={
                "skus": "VALVE-1,VALVE-2",
                "statuses": "A,T",
                "categoryIds": str(tools.pk),
                "hidden": "N",
                "source": "erp",
                "sourceIds": "P-1",
                "term": "brass",
            },
        )
    )
    assert [item["id"] for item in filtered["data"]] == [valve["id"]]
    openapi.check(api.get("/v2/products", params={"page": 9}))
    body = {
        "filters": {
            "categoryIds": [valves.pk],
            "categoryDescendants": False,
            "hidden": False,
            "statuses": ["T"],
            "sources": [{"source": "pim", "sourceIds": ["9"]}],
            "createdAt": {"from": valve["createdAt"], "to": None},
        },
        "sort": [{"field": "name", "order": "DESC"}],
        "language": "NL",
        "expands": ["categories"],
    }
    openapi.assert_request_accepted("POST", "/v2/products/search", body)
    found = openapi.check(api.post("/v2/products/search", body))
    assert [item["id"] for item in found["data"]] == [valve["id"]]
    exported = openapi.check_ndjson(
        api.get("/v2/products/export", params={"expands": "categories,parent,cluster"}),
        "Product",
    )
    assert [item["id"] for item in exported] == [valve["id"], steel["id"], loose["id"]]

    # change, translation removal, delete
    body = {"names": names(FR="Vanne"), "width": None, "attributes": [], "status": "A"}
    openapi.assert_request_accepted("PATCH", detail, body)
    changed = openapi.check(api.patch(detail, body, headers={"If-Match": etag}))["data"]
    assert changed["width"] is None and changed["attributes"] == []
    body = {"parent": None, "sku": "VALVE-1B"}
    openapi.assert_request_accepted("PATCH", detail + "/", body)
    moved = openapi.check(api.patch(detail + "/", body))["data"]
    assert moved["parent"] is None and moved["categoryIds"] == [valves.pk]
    body = {**moved, "shortName": "Brass"}  # a read representation sent back is accepted
    del body["parent"]
    openapi.assert_request_accepted("PATCH", detail, body)
    openapi.check(api.patch(detail, body))
    openapi.check(api.delete(f"{detail}/translation/nl"))
    openapi.check(api.delete("/v2/products/sku/VALVE-2"))

    succeeded = {(template, method) for template, method, status in openapi.checked if status < 300}
    assert succeeded >= PRODUCT_OPERATIONS


def test_category_product_responses_match_the_document(api, openapi):
    tools = make_category("Tools", sources=[("erp", "CAT-1")])
    valves = make_category("Valves", parent=tools)
    brass = _product(
        api,
        openapi,
        {
            "names": names(EN="Brass"),
            "source": "erp",
            "sourceId": "P-1",
            "parent": {"id": tools.pk},
        },
    )
    steel = _product(api, openapi, {"names": names(EN="Steel"), "parent": {"id": valves.pk}})
    members = f"/v2/categories/id/{tools.pk}"

    copper = _product(
        api, openapi, {"names": names(EN="Copper"), "source": "erp", "sourceId": "P-2"}
    )

    # add: a success by id, one by source pair, then every kind of item failure
    body = {
        "products": [
            {"id": steel["id"]},
            {"sourceId": "P-2", "source": "erp"},
            {"id": brass["id"]},
            {"id": 999999999},
            {"id": steel["id"]},
            {"sourceId": "P-404", "source": "erp"},
        ],
        "clusters": [{"id": 1}, {"sourceId": "C-1", "source": "erp"}],
    }
    openapi.assert_request_accepted("POST", members + "/add-products-clusters", body)
    results = openapi.check(api.post(members + "/add-products-clusters", body))
    outcomes = [
        (r["class"], r["action"], r.get("errors", [{}])[0].get("code")) for r in results["data"]
    ]
    assert outcomes == [
        ("product", "move", None),
        ("product", "move", None),
        ("product", "error", 30004),
        ("product", "error", 80006),
        ("product", "error", 10017),
        ("product", "error", 80006),
        ("cluster", "error", 20006),
        ("cluster", "error", 20006),
    ]
    by_source = results["data"][1]
    assert (by_source["id"], by_source["key"], by_source["lookupKey"]) == (
        copper["id"],
        "P-2",
        "sourceId",
    )

    # list: direct members, then the subtree with expansions
    listed = openapi.check(api.get(members + "/products"))
    assert [(item["id"], item["isPrimary"]) for item in listed["data"]] == [
        (brass["id"], True),
        (steel["id"], False),
        (copper["id"], False),
    ]
    subtree = openapi.check(
        api.get(
            "/v2/categories/sourceId/CAT-1/products/",
            params={
                "source": "erp",
                "descendants": "true",
                "expands": "categories,parent,cluster,sources",
                "language": "EN",
                "offset": 1,
                "page": 2,
            },
        )
    )
    assert subtree["itemsFound"] == 3 and subtree["data"][0]["class"] == "product"

    # remove: a success, the primary category, and a product not in the category
    body = {"products": [{"id": steel["id"]}, {"id": brass["id"]}, {"id": steel["id"]}]}
    openapi.assert_request_accepted("POST", members + "/remove-products-clusters", body)
    results = openapi.check(api.post(members + "/remove-products-clusters/", body))
    codes = [r.get("errors", [{}])[0].get("code") for r in results["data"]]
    assert codes == [None, 30010, 10017]
    body = {"products": [{"id": steel["id"]}]}
    results = openapi.check(api.post(members + "/remove-products-clusters", body))
    assert results["data"][0]["errors"][0]["code"] == 30006

    succeeded = {(template, method) for template, method, status in openapi.checked if status < 300}
    assert succeeded >= CATEGORY_PRODUCT_OPERATIONS


@dataclass
class Shop:
    """Products and callers the product error cases need."""

    api: object
    make_caller: object
    anonymous: object
    category: object
    product: dict
    twin: dict

    def caller(self, *scopes):
        return self.make_caller(list(scopes))


@pytest.fixture
def shop(api, api_client_factory, anonymous) -> Shop:
    category = make_category("Tools", sources=[("erp", "CAT-1")])

    def create(body):
        response = api.post("/v2/products", body)
        assert response.status_code == 201, response.content
        return response.json()["data"]

    product = create(
        {
            "names": names(EN="Brass valve", NL="Messing klep"),
            "sku": "VALVE-1",
            "source": "erp",
            "sourceId": "P-1",
            "parent": {"id": category.pk},
        }
    )
    twin = create({"names": names(EN="Brass valve copy"), "sku": "TWIN"})
    create({"names": names(EN="Second twin"), "sku": "TWIN"})
    return Shop(api, api_client_factory, anonymous, category, product, twin)


def _product_detail(shop) -> str:
    return f"/v2/products/id/{shop.product['id']}"


def _members(shop, action: str) -> str:
    return f"/v2/categories/id/{shop.category.pk}/{action}"


PRODUCT_ERROR_CASES = {
    "400-schema-body": (lambda s: s.api.post("/v2/products", {"names": "Valve"}), 10007),
    "400-schema-enum": (
        lambda s: s.api.post("/v2/products", {"names": names(EN="x"), "status": "X"}),
        10007,
    ),
    "400-schema-sort": (lambda s: s.api.get("/v2/products", params={"sort": "colour"}), 10007),
    "400-schema-search": (
        lambda s: s.api.post("/v2/products/search", {"filters": {"colour": "red"}}),
        10007,
    ),
    "400-schema-export": (
        lambda s: s.api.get("/v2/products/export", params={"expands": "bogus"}),
        10007,
    ),
    "400-invalid-json": (lambda s: s.api.patch(_product_detail(s), "{not json"), 10005),
    "400-lookup-key": (lambda s: s.api.get("/v2/products/code/VALVE-1"), 10006),
    "400-missing-source": (lambda s: s.api.get("/v2/products/sourceId/P-1"), 10017),
    "400-missing-supplier": (lambda s: s.api.delete("/v2/products/supplierCode/AC-1"), 10017),
    "400-multiple-sku": (lambda s: s.api.get("/v2/products/sku/TWIN"), 80005),
    "400-page": (lambda s: s.api.get("/v2/products", params={"offset": 5000}), 10015),
    "400-categories-page": (
        lambda s: s.api.get(_product_detail(s) + "/categories", params={"page": "x"}),
        10015,
    ),
    "400-default-language": (
        lambda s: s.api.delete(_product_detail(s) + "/translation/EN"),
        10017,
    ),
    "400-parent-cluster": (
        lambda s: s.api.post(
            "/v2/products", {"names": names(EN="x"), "parent": {"clusterId": 1, "id": 1}}
        ),
        10017,
    ),
    "400-members-descendants": (
        lambda s: s.api.get(_members(s, "products"), params={"descendants": "maybe"}),
        10007,
    ),
    "400-members-body": (
        lambda s: s.api.post(_members(s, "add-products-clusters"), {"products": [{"x": 1}]}),
        10007,
    ),
    "401-no-token": (lambda s: s.anonymous.get("/v2/products"), 10001),
    "401-bad-token": (lambda s: s.api.get(_product_detail(s), auth="Bearer nope"), 10001),
    "401-members": (lambda s: s.anonymous.get(_members(s, "products")), 10001),
    "403-other-entity": (lambda s: s.caller("category.write").get("/v2/products"), 10003),
    "403-read-only": (
        lambda s: s.caller("product.read").patch(_product_detail(s), {"priority": 1}),
        10003,
    ),
    "403-export": (lambda s: s.caller("cluster.read").get("/v2/products/export"), 10003),
    "403-members-without-product-scope": (
        lambda s: s.caller("category.write").post(
            _members(s, "add-products-clusters"), {"products": [{"id": 1}]}
        ),
        10003,
    ),
    "403-members-list-without-category-scope": (
        lambda s: s.caller("product.write").get(_members(s, "products")),
        10003,
    ),
    "404-product": (lambda s: s.api.get("/v2/products/id/999999999"), 80006),
    "404-product-categories": (
        lambda s: s.api.get("/v2/products/sku/NOPE/categories"),
        80006,
    ),
    "404-product-delete": (lambda s: s.api.delete("/v2/products/id/abc"), 80006),
    "404-parent": (
        lambda s: s.api.patch(_product_detail(s), {"parent": {"id": 999999999}}),
        30007,
    ),
    "404-translation": (lambda s: s.api.delete(_product_detail(s) + "/translation/FR"), 10018),
    "404-members-category": (
        lambda s: s.api.post(
            "/v2/categories/id/999999999/remove-products-clusters", {"products": []}
        ),
        30006,
    ),
    "409-source-taken": (
        lambda s: s.api.post(
            "/v2/products", {"names": names(EN="Copy"), "source": "erp", "sourceId": "P-1"}
        ),
        80004,
    ),
    "409-slug-taken": (
        lambda s: s.api.patch(
            f"/v2/products/id/{s.twin['id']}", {"slugs": names(EN="brass-valve")}
        ),
        80004,
    ),
    "412-stale-etag-patch": (
        lambda s: s.api.patch(_product_detail(s), {"priority": 3}, headers={"If-Match": '"x"'}),
        10012,
    ),
    "412-stale-etag-delete": (
        lambda s: s.api.delete(_product_detail(s), headers={"If-Match": '"stale"'}),
        10012,
    ),
    "413-too-many-members": (
        lambda s: s.api.post(
            _members(s, "add-products-clusters"),
            {"products": [{"id": n} for n in range(1, 102)]},
        ),
        10011,
    ),
    "415-media-type": (
        lambda s: s.api.post("/v2/products", "names=Valve", content_type="text/plain"),
        10010,
    ),
    "415-members-media-type": (
        lambda s: s.api.post(
            _members(s, "add-products-clusters"), "products=1", content_type="text/plain"
        ),
        10010,
    ),
}


@pytest.mark.parametrize("case", list(PRODUCT_ERROR_CASES))
def test_product_errors_match_the_document(shop, openapi, case):
    send, code = PRODUCT_ERROR_CASES[case]

    response = send(shop)

    body = openapi.check(response)
    assert body["error"]["code"] == code, body
    assert body["error"]["status"] == response.status_code


def test_product_checks_catch_a_drifted_shape(shop, openapi):
    """The Product component is closed and typed like the category one."""
    body = shop.api.get(_product_detail(shop), params={"expands": "categories"}).json()
    schema = pointer("components", "schemas", "ProductEnvelope")
    assert not openapi.validate(body, schema)

    data = body["data"]
    drifted = [
        {**data, "colour": "red"},
        {k: v for k, v in data.items() if k != "categoryIds"},
        {**data, "parent": shop.category.pk},
        {**data, "width": "1.5"},
        {**data, "categories": [{**data["categories"][0], "isPrimary": "Y"}]},
        {**data, "attributes": [{"name": "lower", "value": "x"}]},
    ]
    for item in drifted:
        assert openapi.validate({**body, "data": item}, schema), item


def test_item_results_tie_success_to_errors(openapi):
    schema = pointer("components", "schemas", "ItemResult")
    ok = {"index": 0, "action": "move", "id": 1, "key": 1, "lookupKey": "id", "success": True}
    failed = {
        **ok,
        "action": "error",
        "id": None,
        "success": False,
        "errors": [{"code": 80006, "type": "ProductNotFound", "messages": ["Product not found"]}],
    }
    assert not openapi.validate(ok, schema)
    assert not openapi.validate(failed, schema)
    assert openapi.validate({**ok, "errors": failed["errors"]}, schema)
    assert openapi.validate({**failed, "action": "move"}, schema)
    assert openapi.validate({k: v for k, v in failed.items() if k != "errors"}, schema)


def test_product_bulk_responses_match_the_document(api, openapi):
    tools = make_category("Tools")
    existing = _product(api, openapi, {"names": names(EN="Old"), "sku": "B-1"})
    body = {
        "products": [
            {"sku": "B-1", "names": names(NL="Oud"), "parent": {"id": tools.pk}},
            {"sku": "B-2", "names": names(EN="New"), "width": 2.5},
        ],
        "directives": [{"operation": "skipIfNotEmpty", "fields": ["names"]}],
    }
    openapi.assert_request_accepted("POST", "/v2/products/bulk/sku", body)
    # Items the document calls invalid fail alone; the request as a whole still succeeds.
    bad = [{"sku": "B-3", "names": "not an array"}, {"names": names(EN="No key")}]
    openapi.assert_request_rejected("POST", "/v2/products/bulk/sku", {"products": bad[:1]})
    body["products"] += bad
    dry = openapi.check(api.post("/v2/products/bulk/sku", body, params={"dryRun": "true"}))
    assert [r["action"] for r in dry["data"]] == ["update", "create", "error", "error"]
    results = openapi.check(api.post("/v2/products/bulk/sku/", body))
    assert [(r["action"], r["id"] is not None) for r in results["data"]] == [
        ("update", True),
        ("create", True),
        ("error", False),
        ("error", False),
    ]
    assert results["data"][0]["id"] == existing["id"] and results["data"][3]["key"] is None

    body = {"products": [{"sku": "B-2"}, {"sku": "B-404"}]}
    openapi.assert_request_accepted("POST", "/v2/products/bulk/sku/delete", body)
    deleted = openapi.check(api.post("/v2/products/bulk/sku/delete", body))
    assert [r["action"] for r in deleted["data"]] == ["delete", "error"]

    for response, code in [
        (api.post("/v2/products/bulk/code", {"products": []}), 10006),
        (api.post("/v2/products/bulk/id", {"products": {}}), 10007),
        (api.post("/v2/products/bulk/id", {"products": [{}] * 2001}), 10011),
    ]:
        assert openapi.check(response)["error"]["code"] == code


# Clusters, cluster options and cluster configs --------------------------------------------------

CLUSTER_OPERATIONS = {
    ("/v2/clusterconfigs", "get"),
    ("/v2/clusterconfigs", "post"),
    ("/v2/clusterconfigs/search", "post"),
    ("/v2/clusterconfigs/export", "get"),
    ("/v2/clusterconfigs/{key}/{value}", "get"),
    ("/v2/clusterconfigs/{key}/{value}", "patch"),
    ("/v2/clusterconfigs/{key}/{value}", "delete"),
    ("/v2/clusterconfigs/{key}/{value}/settings", "post"),
    ("/v2/clusterconfigs/{key}/{value}/settings/{setting_id}", "patch"),
    ("/v2/clusterconfigs/{key}/{value}/settings/{setting_id}", "delete"),
    ("/v2/clusters", "get"),
    ("/v2/clusters", "post"),
    ("/v2/clusters/search", "post"),
    ("/v2/clusters/export", "get"),
    ("/v2/clusters/bulk/{key}", "post"),
    ("/v2/clusters/bulk/{key}/delete", "post"),
    ("/v2/clusters/{key}/{value}", "get"),
    ("/v2/clusters/{key}/{value}", "patch"),
    ("/v2/clusters/{key}/{value}", "delete"),
    ("/v2/clusters/{key}/{value}/translation/{language}", "delete"),
    ("/v2/clusters/{key}/{value}/configurator", "get"),
    ("/v2/clusters/{key}/{value}/products", "get"),
    ("/v2/clusters/{key}/{value}/products", "post"),
    ("/v2/clusters/{key}/{value}/products/{product_key}/{product_value}", "get"),
    ("/v2/clusters/{key}/{value}/products/{product_key}/{product_value}", "patch"),
    ("/v2/clusters/{key}/{value}/products/{product_key}/{product_value}", "delete"),
    ("/v2/clusters/{key}/{value}/products/assign", "post"),
    ("/v2/clusters/{key}/{value}/products/unassign", "post"),
    ("/v2/clusters/{key}/{value}/products/bulk", "post"),
    ("/v2/clusters/{key}/{value}/options", "get"),
    ("/v2/clusters/{key}/{value}/options", "post"),
    ("/v2/clusters/{key}/{value}/options/bulk", "post"),
    ("/v2/clusteroptions", "get"),
    ("/v2/clusteroptions/search", "post"),
    ("/v2/clusteroptions/export", "get"),
    ("/v2/clusteroptions/{key}/{value}", "get"),
    ("/v2/clusteroptions/{key}/{value}", "patch"),
    ("/v2/clusteroptions/{key}/{value}", "delete"),
    ("/v2/clusteroptions/{key}/{value}/translation/{language}", "delete"),
    ("/v2/clusteroptions/{key}/{value}/products", "get"),
    ("/v2/clusteroptions/{key}/{value}/products/assign", "post"),
    ("/v2/clusteroptions/{key}/{value}/products/unassign", "post"),
    ("/v2/clusteroptions/{key}/{value}/products/bulk", "post"),
}


def test_cluster_paths_are_published_and_route(document):
    published = {(path, method) for path, method, _ in _operations(document)}
    assert published >= CLUSTER_OPERATIONS


def test_cluster_operations_name_the_scope_they_need(document):
    def scopes(path, method):
        return document["paths"][path][method]["security"][0]["oauth2"]

    assert scopes("/v2/clusterconfigs", "get") == ["clusterconfig.read"]
    assert scopes("/v2/clusterconfigs/{key}/{value}/settings", "post") == ["clusterconfig.write"]
    assert scopes("/v2/clusters", "get") == ["cluster.read"]
    assert scopes("/v2/clusters/search", "post") == ["cluster.read"]
    assert scopes("/v2/clusters/{key}/{value}/configurator", "get") == ["cluster.read"]
    assert scopes("/v2/clusters/{key}/{value}/products", "get") == [
        "cluster.read",
        "product.read",
    ]
    assert scopes("/v2/clusters/{key}/{value}/products", "post") == [
        "cluster.write",
        "product.write",
    ]
    assert scopes("/v2/clusters/{key}/{value}/products/assign", "post") == [
        "cluster.write",
        "product.read",
    ]
    assert scopes("/v2/clusteroptions/{key}/{value}", "patch") == ["cluster.write"]


def _checked(openapi, response, status: int = 200):
    assert response.status_code == status, response.content
    return openapi.check(response)


def test_cluster_responses_match_the_document(api, openapi):
    tools = make_category("Tools", sources=[("erp", "CAT-1")])
    sale = make_category("Sale")
    path = "/v2/clusterconfigs"

    # configs and their settings
    body = {
        "name": "Shirts",
        "settings": [
            {"attributeName": "SIZE", "displayType": "RADIO", "priority": 1},
            {"attributeName": "COLOR", "displayType": "color", "priority": 2},
        ],
    }
    openapi.assert_request_accepted("POST", path, body)
    config = _checked(openapi, api.post(path, body), 201)["data"]
    _checked(openapi, api.post(path, {"name": "Unused"}), 201)
    _checked(openapi, api.get(path))
    _checked(openapi, api.post(f"{path}/search", {"filters": {"names": ["Shirts"]}}))
    openapi.check_ndjson(api.get(f"{path}/export"), "ClusterConfig")
    _checked(openapi, api.get(f"{path}/name/Shirts"))
    _checked(openapi, api.patch(f"{path}/name/Shirts", {"name": "Shirts"}))
    setting = {"attributeName": "FIT", "displayType": "image"}
    openapi.assert_request_accepted("POST", f"{path}/id/1/settings", setting)
    fit = _checked(openapi, api.post(f"{path}/name/Shirts/settings", setting), 201)["data"]
    settings_path = f"{path}/name/Shirts/settings/{fit['id']}"
    _checked(openapi, api.patch(settings_path, {"priority": 5}))
    _checked(openapi, api.delete(settings_path))
    _checked(openapi, api.delete(f"{path}/name/Unused"))

    # clusters
    body = {
        "names": names(EN="Shirt", NL="Hemd"),
        "code": "SH-1",
        "clusterConfigId": config["id"],
        "parent": {"sourceId": "CAT-1", "source": "erp"},
        "source": "erp",
        "sourceId": "C-1",
        "hidden": "N",
        "priority": 2,
    }
    openapi.assert_request_accepted("POST", "/v2/clusters", body)
    shirt = _checked(openapi, api.post("/v2/clusters", body), 201)["data"]
    detail = "/v2/clusters/code/SH-1"
    spare = {"names": names(EN="Spare"), "code": "SH-2", "clusterConfigId": config["id"]}
    _checked(openapi, api.post("/v2/clusters", spare), 201)

    # products of the cluster
    variant = {"names": names(EN="Small"), "sku": "S-1", "source": "erp", "sourceId": "P-1"}
    openapi.assert_request_accepted("POST", f"{detail}/products", variant)
    small = _checked(openapi, api.post(f"{detail}/products", variant), 201)["data"]
    assert small["clusterId"] == shirt["id"]
    loose = api.post("/v2/products", {"names": names(EN="Loose"), "sku": "L-1"}).json()["data"]
    moves = {"products": [{"id": loose["id"]}, {"id": 999999}]}
    openapi.assert_request_accepted("POST", f"{detail}/products/assign", moves)
    _checked(openapi, api.post(f"{detail}/products/assign", moves))
    _checked(openapi, api.get(f"{detail}/products", params={"expands": "cluster,categories"}))
    _checked(openapi, api.get(f"{detail}/products/sku/S-1"))
    _checked(openapi, api.patch(f"{detail}/products/sku/S-1", {"shortName": "S"}))
    unassign = {"products": [{"id": loose["id"]}], "category": {"id": sale.pk}}
    openapi.assert_request_accepted("POST", f"{detail}/products/unassign", unassign)
    _checked(openapi, api.post(f"{detail}/products/unassign", unassign))
    bulk = {"products": [{"sku": "S-2", "names": names(EN="Medium")}, {"names": names(EN="?")}]}
    openapi.assert_request_accepted("POST", f"{detail}/products/bulk", bulk)
    _checked(openapi, api.post(f"{detail}/products/bulk", bulk))
    _checked(openapi, api.delete(f"{detail}/products/sku/S-2"))

    # options
    option = {
        "names": names(EN="Warranty"),
        "isRequired": "Y",
        "sortOrder": 1,
        "productIds": [loose["id"]],
        "defaultProductId": loose["id"],
        "source": "erp",
        "sourceId": "O-1",
    }
    openapi.assert_request_accepted("POST", f"{detail}/options", option)
    _checked(openapi, api.post(f"{detail}/options", option), 201)
    _checked(openapi, api.get(f"{detail}/options", params={"expands": "products"}))
    options_bulk = {
        "clusteroptions": [{"source": "erp", "sourceId": "O-2", "names": names(EN="Bag")}]
    }
    _checked(openapi, api.post("/v2/clusters/sourceId/C-1/options/bulk?source=erp", options_bulk))
    opt = "/v2/clusteroptions/sourceId/O-1"
    src = {"source": "erp"}
    _checked(openapi, api.get("/v2/clusteroptions", params={"hidden": "N"}))
    _checked(openapi, api.post("/v2/clusteroptions/search", {"filters": {"isRequired": "Y"}}))
    openapi.check_ndjson(api.get("/v2/clusteroptions/export"), "ClusterOption")
    _checked(openapi, api.get(opt, params={**src, "expands": "products,defaultProduct"}))
    _checked(openapi, api.patch(opt, {"names": names(NL="Garantie")}, params=src))
    _checked(openapi, api.get(f"{opt}/products", params=src))
    refs = {"products": [{"id": small["id"]}, {"id": loose["id"]}]}
    openapi.assert_request_accepted("POST", f"{opt}/products/assign", refs)
    _checked(openapi, api.post(f"{opt}/products/assign", refs, params=src))
    _checked(openapi, api.post(f"{opt}/products/unassign", refs, params=src))
    _checked(
        openapi,
        api.post(
            f"{opt}/products/bulk",
            {"products": [{"source": "erp", "sourceId": "W-1", "names": names(EN="W")}]},
            params=src,
        ),
    )
    _checked(openapi, api.delete(f"{opt}/translation/NL", params=src))
    _checked(openapi, api.delete("/v2/clusteroptions/sourceId/O-2", params=src))

    # reads of the cluster
    all_expands = "products,options,clusterConfig,categories,defaultProduct"
    api.post(
        f"/v2/categories/id/{sale.pk}/add-products-clusters", {"clusters": [{"id": shirt["id"]}]}
    )
    _checked(
        openapi, api.patch(detail, {"defaultProductId": small["id"], "names": names(DE="Hemd")})
    )
    _checked(openapi, api.get(detail, params={"expands": all_expands}))
    not_modified = api.get(detail, headers={"If-None-Match": api.get(detail)["ETag"]})
    _checked(openapi, not_modified, 304)
    _checked(openapi, api.get("/v2/clusters", params={"expands": all_expands, "term": "shirt"}))
    _checked(
        openapi,
        api.post("/v2/clusters/search", {"filters": {"codes": ["SH-1"]}, "expands": ["options"]}),
    )
    openapi.check_ndjson(api.get("/v2/clusters/export"), "Cluster")
    _checked(openapi, api.get(f"{detail}/configurator"))
    category_products = api.get(f"/v2/categories/id/{tools.pk}/products")
    assert _checked(openapi, category_products)["data"][0]["class"] == "cluster"
    _checked(openapi, api.delete(f"{detail}/translation/de"))

    # nested bulk and delete
    nested = {
        "clusters": [
            {
                "code": "SH-1",
                "products": [{"sku": "S-1", "shortName": "small"}],
                "options": [
                    {
                        "source": "erp",
                        "sourceId": "O-1",
                        "sortOrder": 3,
                        "products": [{"sku": "L-1"}],
                    }
                ],
            },
            {"code": "SH-3", "names": names(EN="New"), "clusterConfigId": config["id"]},
            {"code": "SH-4", "names": names(EN="No config")},
        ],
        "directives": {"skipIfNotEmpty": ["names"]},
    }
    openapi.assert_request_accepted("POST", "/v2/clusters/bulk/code", nested)
    results = _checked(openapi, api.post("/v2/clusters/bulk/code", nested))
    assert [r["action"] for r in results["data"]] == ["update", "create", "error"]
    deleted = {"clusters": [{"code": "SH-3"}, {"code": "NOPE"}]}
    openapi.assert_request_accepted("POST", "/v2/clusters/bulk/code/delete", deleted)
    _checked(openapi, api.post("/v2/clusters/bulk/code/delete", deleted))
    _checked(openapi, api.delete("/v2/clusters/code/SH-2"))
    _checked(openapi, api.delete(detail))
    _checked(openapi, api.delete(f"{path}/name/Shirts"))

    succeeded = {(template, method) for template, method, status in openapi.checked if status < 300}
    assert succeeded >= CLUSTER_OPERATIONS, CLUSTER_OPERATIONS - succeeded


def test_cluster_errors_match_the_document(api, api_client_factory, anonymous, openapi):
    config = api.post("/v2/clusterconfigs", {"name": "Shirts"}).json()["data"]
    cluster = {"names": names(EN="Shirt"), "code": "SH-1", "clusterConfigId": config["id"]}
    api.post("/v2/clusters", cluster)
    detail = "/v2/clusters/code/SH-1"
    reader = api_client_factory(["cluster.read"])
    cases = [
        (api.post("/v2/clusterconfigs", {"name": "Shirts"}), 21004),
        (api.post("/v2/clusterconfigs", {"name": "-"}), 10007),
        (api.patch("/v2/clusterconfigs/name/Shirts", {"name": "Other"}), 10017),
        (api.get("/v2/clusterconfigs/name/Nope"), 21005),
        (api.post("/v2/clusterconfigs/name/Shirts/settings", {"attributeName": "x"}), 10007),
        (api.patch("/v2/clusterconfigs/name/Shirts/settings/999", {"priority": 1}), 21007),
        (api.delete("/v2/clusterconfigs/name/Shirts"), 21008),
        (api.post("/v2/clusters", cluster), 20004),
        (api.post("/v2/clusters", {**cluster, "code": "", "clusterConfigId": 999999}), 21005),
        (api.get("/v2/clusters/code/NOPE"), 20006),
        (api.get("/v2/clusters/sku/x"), 10006),
        (api.get("/v2/clusters/sourceId/x"), 10017),
        (api.get("/v2/clusters", params={"sort": "sku"}), 10007),
        (api.get("/v2/clusters", params={"page": "0"}), 10015),
        (api.patch(detail, {"priority": 1}, headers={"If-Match": '"0-0"'}), 10012),
        (api.patch(detail, {"defaultProductId": 999999}), 10017),
        (api.delete(f"{detail}/translation/NL"), 10018),
        (api.get(f"{detail}/products/id/999999"), 80006),
        (api.post(f"{detail}/products/unassign", {"products": []}), 10017),
        (api.post(f"{detail}/products/assign", {"products": [{"id": 1}] * 101}), 10011),
        (api.get("/v2/clusters/id/999999/configurator"), 20006),
        (api.post(f"{detail}/options", {"names": names(NL="Alleen")}), 10017),
        (api.get("/v2/clusteroptions/id/999999"), 22006),
        (api.post("/v2/clusters/bulk/sku", {"clusters": []}), 10006),
        (api.post("/v2/clusters/bulk/code", {"clusters": [{}] * 1001}), 10011),
        (reader.patch(detail, {"priority": 1}), 10003),
        (anonymous.get(detail), 10001),
    ]
    for response, code in cases:
        body = openapi.check(response)
        assert body["error"]["code"] == code, body
        assert body["error"]["status"] == response.status_code


def test_cluster_checks_catch_a_drifted_shape(api, openapi):
    config = api.post("/v2/clusterconfigs", {"name": "Shirts"}).json()["data"]
    cluster = {"names": names(EN="Shirt"), "code": "SH-1", "clusterConfigId": config["id"]}
    body = api.post("/v2/clusters", cluster).json()
    schema = pointer("components", "schemas", "ClusterEnvelope")
    assert not openapi.validate(body, schema)

    data = body["data"]
    for drifted in (
        {**data, "colour": "red"},
        {k: v for k, v in data.items() if k != "productIds"},
        {**data, "clusterConfigId": "1"},
        {**data, "hidden": True},
    ):
        assert openapi.validate({**body, "data": drifted}, schema), drifted
