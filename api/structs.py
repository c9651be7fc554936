"""Validating decoded JSON against msgspec Structs, with errors that name the field path."""

import re
from typing import Any

import msgspec
from msgspec import Struct

from catalogue.errors import CatalogueError, Code

_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def schema_error(exc: msgspec.ValidationError, prefix: str = "") -> CatalogueError:
    """Turn a msgspec error into 10007 with a field path like `names[0].language: ...`."""
    message = str(exc)
    match = _PATH.search(message)
    path = match.group("path").lstrip(".") if match else ""
    text = message[: match.start()] if match else message
    unknown = re.match(r"Object contains unknown field `(?P<field>[^`]+)`", text)
    if unknown:
        path = f"{path}.{unknown['field']}" if path else unknown["field"]
        text = "unknown field"
    full = ".".join(part for part in (prefix, path) if part).replace(".[", "[")
    return CatalogueError(Code.SCHEMA_VALIDATION, f"{full}: {text}" if full else text)


def convert(data: Any, struct: type[Struct], prefix: str = ""):
    """Validate decoded JSON against a Struct."""
    if not isinstance(data, dict):
        raise CatalogueError(Code.INVALID_JSON_PAYLOAD, "Request body must be a JSON object")
    try:
        return msgspec.convert(data, type=struct)
    except msgspec.ValidationError as exc:
        raise schema_error(exc, prefix) from None
