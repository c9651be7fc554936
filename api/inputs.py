"""Input checks that run before PostgreSQL sees a value.

PostgreSQL text cannot hold NUL, a lone surrogate cannot be encoded as UTF-8, PostgreSQL refuses
time zone offsets beyond 15:59, and date arithmetic near the ends of the calendar overflows:
each of these would fail deep inside a query, as a 500, instead of answering which field is
wrong. Everything here raises ApiError with a message that names the field.
"""

from collections.abc import Iterator
from datetime import UTC, datetime

import django_filters
import orjson
from django.utils.dateparse import parse_datetime

from api.exceptions import ApiError
from catalogue.errors import Code

MAX_LIST_VALUES = 1000
MAX_TERM_LENGTH = 200
RANGE_FILTERS = ("createdAt", "lastModifiedAt")
DATE_PARAMETERS = {f"{name}{end}" for name in RANGE_FILTERS for end in ("From", "To")}
# Date arithmetic (whole hours at either end of a range) must stay inside Python's calendar.
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)  # exclusive


# Text ------------------------------------------------------------------------------------------


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored (NUL, lone surrogate), or None."""
    if "\x00" in text:
        return "must not contain NUL"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "must not contain a lone surrogate"
    return None


def printable(text: str) -> str:
    """`text` with NUL and surrogates escaped, safe to put in a message."""
    if text_problem(text) is None:
        return text
    return "".join(
        f"\\u{ord(char):04x}" if char == "\x00" or "\ud800" <= char <= "\udfff" else char
        for char in text
    )


def _has_bad_text(value) -> bool:
    """Whether any string in a decoded JSON value (keys included) is unstorable; no paths."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if text_problem(item):
                return True
        elif kind is dict:
            for key, child in item.items():
                if text_problem(key):
                    return True
                stack.append(child)
        elif kind is list:
            stack.extend(item)
    return False


def walk_json(value) -> Iterator[tuple[tuple, object, bool]]:
    """Yield (path parts, value, is_key) for every node, depth first, without recursion."""
    stack: list[tuple[tuple, object]] = [((), value)]
    while stack:
        parts, item = stack.pop()
        yield parts, item, False
        if isinstance(item, dict):
            children = list(item.items())
            for key, _ in children:
                yield (*parts, key), key, True
            stack.extend(((*parts, key), child) for key, child in reversed(children))
        elif isinstance(item, list):
            stack.extend(
                ((*parts, index), child) for index, child in reversed(list(enumerate(item)))
            )


def format_path(parts: tuple, prefix: str = "") -> str:
    """('names', 0, 'value') -> 'names[0].value'; `prefix` goes in front ('products[3]')."""
    path = prefix
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{printable(part)}" if path else printable(part)
    return path


def find_bad_text(value, prefix: str = "") -> str | None:
    """Return '<path>: <problem>' for the first unstorable string in a decoded JSON value.

    Keys are checked as well as values, at any depth. `prefix` names where the value sits
    (e.g. 'products[3]' for one bulk item), so a bulk engine can fail that one item.
    Returns None when every string can be stored.
    """
    if not _has_bad_text(value):
        return None
    for parts, item, is_key in walk_json(value):
        if isinstance(item, str) and (problem := text_problem(item)):
            where = format_path(parts, prefix) or "body"
            return f"{where}: {'key ' if is_key else ''}{problem}"
    return None  # pragma: no cover - _has_bad_text found one


def reject_bad_text(value, prefix: str = "") -> None:
    """Raise 400 10007 naming the first unstorable string in a decoded JSON value."""
    message = find_bad_text(value, prefix)
    if message is not None:
        raise ApiError(Code.SCHEMA_VALIDATION, message)


def query_problem(query) -> str | None:
    """'<parameter>: <problem>' for the first unstorable query parameter name or value."""
    for key, values in query.lists():
        if problem := text_problem(key):
            return f"{printable(key)}: parameter name {problem}"
        for value in values:
            if problem := text_problem(value):
                return f"{printable(key)}: {problem}"
    return None


# Search and list parameters --------------------------------------------------------------------


def _list_filters(filterset_class) -> set[str]:
    return {
        name
        for name, filter_ in filterset_class.base_filters.items()
        if isinstance(filter_, django_filters.BaseInFilter)
    }


def _too_many(name: str, count: int) -> None:
    if count > MAX_LIST_VALUES:
        raise ApiError(
            Code.SCHEMA_VALIDATION,
            f"{name}: at most {MAX_LIST_VALUES} values are allowed ({count} given)",
        )


def _check_term(name: str, value: str) -> None:
    if len(value) > MAX_TERM_LENGTH:
        raise ApiError(
            Code.SCHEMA_VALIDATION,
            f"{name}: at most {MAX_TERM_LENGTH} characters are allowed ({len(value)} given)",
        )


def normalized_datetime(name: str, value: str) -> str:
    """Return the timestamp as UTC ISO text, or raise 400 for one PostgreSQL or Python refuses.

    Text that is no valid timestamp is returned unchanged: the filter reports it.
    """
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:  # shaped like a timestamp, but a part (month, offset…) is out of range
        parsed = None
    if parsed is None:
        return value
    try:
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
        in_range = EARLIEST <= parsed < LATEST
    except OverflowError:
        in_range = False
    if not in_range:
        raise ApiError(
            Code.SCHEMA_VALIDATION,
            f"{name}: must be from 0001-01-01T00:00:00.000Z to 9999-12-30T23:59:59.999Z",
        )
    return parsed.isoformat()


def _sources_groups(name: str, groups) -> None:
    _too_many(name, len(groups))
    for index, group in enumerate(groups):
        _too_many(f"{name}[{index}].sourceIds", len(group["sourceIds"]))


def _sources_query(value: str) -> None:
    """`?sources=` takes the JSON the search body uses; anything else is a 400."""
    try:
        groups = orjson.loads(value)
    except orjson.JSONDecodeError:
        groups = None
    ok = isinstance(groups, list) and all(
        isinstance(group, dict)
        and set(group) == {"source", "sourceIds"}
        and isinstance(group["source"], str)
        and isinstance(group["sourceIds"], list)
        and all(isinstance(item, str) for item in group["sourceIds"])
        for group in groups
    )
    if not ok:
        raise ApiError(
            Code.SCHEMA_VALIDATION,
            'sources: must be a JSON array [{"source": …, "sourceIds": […]}] '
            "(or use source and sourceIds)",
        )
    reject_bad_text(groups, "sources")
    _sources_groups("sources", groups)


def checked_query(query, filterset_class) -> dict[str, str]:
    """The query parameters of a list or export, checked; timestamps come back as UTC.

    Returns a plain dict (last value per name, as QueryDict.get gives).
    """
    list_filters = _list_filters(filterset_class) | {"sourceIds"}
    checked: dict[str, str] = {}
    for key in query:
        value = query.get(key)
        if key in list_filters:
            _too_many(key, len(value.split(",")))
        elif key == "term":
            _check_term(key, value)
        elif key == "sources":
            _sources_query(value)
        elif key in DATE_PARAMETERS:
            value = normalized_datetime(key, value)
        checked[key] = value
    return checked


def _scalar(value) -> bool:
    return isinstance(value, str | int | float | bool)


def checked_search_body(body: dict, filterset_class) -> dict:
    """A POST …/search body with its value types and sizes checked; timestamps as UTC."""
    for key in ("language",):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise ApiError(Code.SCHEMA_VALIDATION, f"{key}: must be a string")
    expands = body.get("expands")
    if expands is not None and not (
        isinstance(expands, str)
        or (isinstance(expands, list) and all(isinstance(item, str) for item in expands))
    ):
        raise ApiError(Code.SCHEMA_VALIDATION, "expands: must be a list of strings")
    raw_filters = body.get("filters")
    if not isinstance(raw_filters, dict):
        return body  # absent, or reported by the caller
    list_filters = _list_filters(filterset_class)
    filters = {}
    for key, value in raw_filters.items():
        name = f"filters.{key}"
        if value is None:
            filters[key] = value
        elif key in RANGE_FILTERS:
            filters[key] = _range_body(name, value)
        elif key == "sources":
            if isinstance(value, list) and all(
                isinstance(group, dict) and isinstance(group.get("sourceIds"), list)
                for group in value
            ):
                _sources_groups(name, value)
            filters[key] = value
        elif key == "expands":
            if not isinstance(value, str | list) or (
                isinstance(value, list) and not all(isinstance(item, str) for item in value)
            ):
                raise ApiError(Code.SCHEMA_VALIDATION, f"{name}: must be a list of strings")
            filters[key] = value
        elif key == "language":
            if not isinstance(value, str):
                raise ApiError(Code.SCHEMA_VALIDATION, f"{name}: must be a string")
            filters[key] = value
        elif key in list_filters:
            if isinstance(value, list):
                if not all(_scalar(item) for item in value):
                    raise ApiError(
                        Code.SCHEMA_VALIDATION, f"{name}: must be a list of strings or numbers"
                    )
                _too_many(name, len(value))
            elif isinstance(value, str):
                _too_many(name, len(value.split(",")))
            elif not _scalar(value):
                raise ApiError(Code.SCHEMA_VALIDATION, f"{name}: must be a list")
            filters[key] = value
        else:
            if not _scalar(value):
                raise ApiError(Code.SCHEMA_VALIDATION, f"{name}: must be a single value")
            if key == "term" and isinstance(value, str):
                _check_term(name, value)
            filters[key] = value
    return {**body, "filters": filters}


def _range_body(name: str, value):
    if not isinstance(value, dict):
        return value  # reported by the caller
    bounds = dict(value)
    for end in ("from", "to"):
        bound = value.get(end)
        if bound is None:
            continue
        if not isinstance(bound, str):
            raise ApiError(Code.SCHEMA_VALIDATION, f"{name}.{end}: must be a timestamp string")
        bounds[end] = normalized_datetime(f"{name}.{end}", bound)
    return bounds
