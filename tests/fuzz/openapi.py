"""The published OpenAPI document, read as the fuzz tests need it: operations, parameters and
body fields, with local $refs resolved."""

import json
from functools import cache

from drf_spectacular.renderers import OpenApiJsonRenderer
from drf_spectacular.settings import spectacular_settings

METHODS = ("get", "post", "put", "patch", "delete")


@cache
def published_document() -> dict:
    """The document the server publishes at /v2/schema/, built as its view builds it (no
    request, so it can be read while tests are collected)."""
    generator = spectacular_settings.DEFAULT_GENERATOR_CLASS()
    built = generator.get_schema(request=None, public=spectacular_settings.SERVE_PUBLIC)
    return json.loads(OpenApiJsonRenderer().render(built))


def resolve(schema: dict) -> dict:
    """Follow local $refs until a schema without one."""
    document = published_document()
    while "$ref" in schema:
        node = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def flatten(schema: dict) -> dict:
    """The schema with $refs followed, `allOf` merged and a nullable `anyOf` unwrapped."""
    schema = resolve(schema)
    if "allOf" in schema:
        merged: dict = {"type": "object", "properties": {}}
        for part in schema["allOf"]:
            part = flatten(part)
            merged["properties"].update(part.get("properties", {}))
        return merged
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            choices = [flatten(choice) for choice in schema[combinator]]
            concrete = [choice for choice in choices if choice.get("type") != "null"]
            return concrete[0] if concrete else schema
    return schema


def kind(schema: dict) -> str:
    """One of string, integer, number, boolean, array, object, enum, date-time, any."""
    schema = flatten(schema)
    if "enum" in schema:
        return "enum"
    kinds = schema.get("type")
    if isinstance(kinds, list):
        kinds = next((k for k in kinds if k != "null"), None)
    if kinds == "string" and schema.get("format") == "date-time":
        return "date-time"
    if kinds == "string" and "Timestamp" in json.dumps(schema.get("description", "")):
        return "date-time"
    return kinds or ("object" if "properties" in schema else "any")


def operations() -> list[tuple[str, str, dict]]:
    """(path, method, operation) of every operation, in document order."""
    found = []
    for path, item in published_document()["paths"].items():
        for method in METHODS:
            if method in item:
                found.append((path, method, item[method]))
    return found


def json_body_schema(operation: dict) -> dict | None:
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    return flatten(body["schema"]) if body else None


def bulk_items(body: dict) -> tuple[str, dict] | None:
    """(array name, item schema) of a bulk body: its one required array of objects."""
    for name in body.get("required", []):
        field = flatten(body["properties"][name])
        if field.get("type") == "array" and kind(field.get("items", {})) == "object":
            return name, flatten(field["items"])
    return None
