"""Bulk requests: the body and flags as a whole, each item on its own, one result per item."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson
from rest_framework.response import Response

from api.exceptions import ApiError
from api.inputs import find_bad_text, printable
from api.parsers import reject_empty_body
from api.results import item_result, summary
from api.structs import schema_error
from catalogue.errors import CatalogueError, Code
from catalogue.services.bulk import BulkItem, Directives

DIRECTIVES = ("skipIfNotEmpty", "skipMoveOnUpdate", "mergeTranslationsOnUpdate", "skipCreate")


@dataclass(frozen=True)
class BulkKey:
    """How a bulk lookup key reads an item: the fields it needs and the key it makes."""

    fields: tuple[str, ...]

    def read(self, raw: dict) -> tuple[Any, Any] | None:
        """Return (key, echoed value) or None when the item lacks the key."""
        values = [raw.get(name) for name in self.fields]
        if any(value in (None, "") for value in values):
            return None
        if self.fields == ("id",):
            value = values[0]
            if isinstance(value, bool) or not isinstance(value, int):
                return None
            return value, value
        if not all(isinstance(value, str) for value in values):
            return None
        if len(values) == 1:
            return values[0], values[0]
        return tuple(values), values[-1]


def _flag(request, name: str) -> bool:
    value = request.query_params.get(name, "false").strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise ApiError(Code.SCHEMA_VALIDATION, f"{name}: must be true or false")
    return value in ("true", "1")


def parse_directives(value, field_names: dict[str, str]) -> Directives:
    """Read directives in either wire form; `field_names` maps API names to model fields."""
    if value is None:
        return Directives()
    if isinstance(value, dict):
        entries = list(value.items())
    elif isinstance(value, list):
        entries = []
        for index, entry in enumerate(value):
            if not isinstance(entry, dict) or not isinstance(entry.get("operation"), str):
                raise ApiError(Code.SCHEMA_VALIDATION, f"directives[{index}].operation: required")
            if set(entry) - {"operation", "fields"}:
                raise ApiError(Code.SCHEMA_VALIDATION, f"directives[{index}]: unknown field")
            entries.append((entry["operation"], entry.get("fields", [])))
    else:
        raise ApiError(Code.SCHEMA_VALIDATION, "directives: must be an object or an array")
    skip_if_not_empty: set[str] = set()
    flags = set()
    for operation, fields in entries:
        if operation not in DIRECTIVES:
            raise ApiError(
                Code.SCHEMA_VALIDATION,
                f"directives: unknown directive {operation} (known: {', '.join(DIRECTIVES)})",
            )
        if fields is None:
            fields = []
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise ApiError(Code.SCHEMA_VALIDATION, f"directives.{operation}: fields must be names")
        unknown = [f for f in fields if f not in field_names]
        if unknown:
            raise ApiError(
                Code.SCHEMA_VALIDATION, f"directives.{operation}: unknown field {unknown[0]}"
            )
        if operation == "skipIfNotEmpty":
            skip_if_not_empty |= {field_names[f] for f in fields}
        else:
            flags.add(operation)
    return Directives(
        skip_if_not_empty=frozenset(skip_if_not_empty),
        skip_move_on_update="skipMoveOnUpdate" in flags,
        merge_translations_on_update="mergeTranslationsOnUpdate" in flags,
        skip_create="skipCreate" in flags,
    )


@dataclass
class BulkRequest:
    raw_items: list
    directives: Directives
    dry_run: bool
    atomic: bool


def read_bulk_request(
    request, *, resource: str, limit: int, field_names: dict[str, str], with_directives=True
) -> BulkRequest:
    """Validate the request as a whole; anything wrong here fails the whole request."""
    content_type = request.content_type.split(";")[0].strip().lower()
    directives_value = None
    if content_type == "application/x-ndjson":
        raw_items = request.data
        encoded = request.query_params.get("directives")
        if encoded:
            try:
                directives_value = orjson.loads(encoded)
            except orjson.JSONDecodeError:
                raise ApiError(
                    Code.SCHEMA_VALIDATION, "directives: query parameter is not valid JSON"
                ) from None
            if not isinstance(directives_value, dict):
                raise ApiError(Code.SCHEMA_VALIDATION, "directives: must be a JSON object")
    else:
        reject_empty_body(request)
        body = request.data
        if not isinstance(body, dict) or not body:
            raise ApiError(
                Code.SCHEMA_VALIDATION, f"Request body must be an object with a {resource} array"
            )
        unknown = set(body) - {resource, "directives"}
        if unknown:
            raise ApiError(Code.SCHEMA_VALIDATION, f"{sorted(unknown)[0]}: unknown field")
        raw_items = body.get(resource)
        directives_value = body.get("directives")
    if not isinstance(raw_items, list):
        raise ApiError(Code.SCHEMA_VALIDATION, f"{resource}: must be an array")
    if len(raw_items) > limit:
        raise ApiError(
            Code.PAYLOAD_TOO_LARGE,
            f"{resource}: {len(raw_items)} items is more than the limit of {limit}",
        )
    directives = (
        parse_directives(directives_value, field_names) if with_directives else Directives()
    )
    return BulkRequest(
        raw_items=raw_items,
        directives=directives,
        dry_run=_flag(request, "dryRun"),
        atomic=_flag(request, "atomic"),
    )


def build_items(
    raw_items: list,
    *,
    lookup_key: str,
    key: BulkKey,
    struct: type | None,
    to_changes: Callable | None,
) -> list[BulkItem]:
    """Validate each item on its own: a bad item fails alone, the others go on."""
    items = []
    for index, raw in enumerate(raw_items):
        item = BulkItem(index=index, key=None, key_value=None)
        items.append(item)
        if not isinstance(raw, dict):
            item.fail(CatalogueError(Code.SCHEMA_VALIDATION, "item must be a JSON object"))
            continue
        problem = find_bad_text(raw)
        if problem is not None:
            item.key_value = _echoed_key(raw.get(key.fields[-1]))
            item.fail(CatalogueError(Code.SCHEMA_VALIDATION, problem))
            continue
        read = key.read(raw)
        if read is None:
            # Echo the key field itself (sourceId, supplierCode, …), never its companion.
            item.key_value = raw.get(key.fields[-1])
            item.fail(
                CatalogueError(
                    Code.LOOKUP_KEY_NOT_FOUND,
                    f"Item has no {' and '.join(key.fields)} (the lookup key of this request)",
                )
            )
            continue
        item.key, item.key_value = read
        if struct is None:
            continue
        try:
            try:
                parsed = msgspec.convert(raw, type=struct)
            except msgspec.ValidationError as exc:
                raise schema_error(exc) from None
            item.changes = to_changes(parsed)
        except CatalogueError as error:
            item.fail(error)
    return items


def _echoed_key(value):
    """The key of an item refused for unstorable text, as its result may show it: a lone
    surrogate cannot even be rendered as JSON, so text comes back escaped."""
    if isinstance(value, str):
        return printable(value)
    return None if find_bad_text(value) is not None else value


def item_results(items: list[BulkItem], lookup_key: str, dry_run: bool) -> list[dict]:
    """One result per item; a dry run's creates have no id yet."""
    return [
        item_result(
            item.index,
            item.action or "error",
            record_id=None if (dry_run and item.action == "create") else item.record_id,
            key=item.key_value,
            lookup_key=lookup_key,
            error=item.error,
        )
        for item in items
    ]


def results_response(items: list[BulkItem], lookup_key: str, dry_run: bool) -> Response:
    results = item_results(items, lookup_key, dry_run)
    messages = [summary(results)]
    if dry_run:
        messages.append("Dry run: nothing was written")
    return Response({"data": results, "messages": messages})
