"""Request parsers: JSON and NDJSON, strict about what a body may hold.

Bodies are decoded as UTF-8 by the standard library's C decoder with hooks that make it as
strict as the wire format allows: a key twice in one object, NaN/Infinity or a number too large
for a double is not JSON this API accepts (10005). Strings that PostgreSQL cannot store (NUL,
lone surrogates) are refused with the path of the field (10007) before any view sees them.
"""

import json
import math
import re

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from api.exceptions import ApiError
from api.inputs import format_path, printable, reject_bad_text, walk_json
from catalogue.errors import Code

# The only ways a decoded body can hold NUL or a surrogate: JSON escapes (raw NUL is not valid
# JSON and surrogates are not valid UTF-8). Bodies without them skip the walk over every string.
_SUSPICIOUS_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_INT64 = 2**63


class DuplicateKey(ValueError):
    def __init__(self, key: str):
        self.key = key
        super().__init__(key)


def _object(pairs: list) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return result


def _constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _int(text: str) -> int | float:
    value = int(text)
    if -_INT64 <= value < _INT64:
        return value
    # Beyond 64 bits a number is read as a double, which the API's integer fields refuse.
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"number {text[:40]}… is out of range") from None


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_constant=_constant, parse_float=_float, parse_int=_int
)


class _Marked(dict):
    """An object that held a duplicate key (used only to name where, after the fast parse)."""

    duplicate: str = ""


def _marking_object(pairs: list) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        result = _Marked(result)
        seen = set()
        for key, _ in pairs:
            if key in seen:
                result.duplicate = key
                break
            seen.add(key)
    return result


def _duplicate_path(text: str) -> str:
    """Where the first object with a duplicate key sits, e.g. 'names[0]'."""
    marking = json.JSONDecoder(
        object_pairs_hook=_marking_object, parse_constant=_constant, parse_float=_float
    )
    for parts, item, is_key in walk_json(marking.decode(text)):
        if not is_key and isinstance(item, _Marked):
            return format_path((*parts, item.duplicate))
    return ""


def decode_json(body: bytes, *, check_text: bool = True):
    """Decode one JSON document strictly; raise ParseError (10005) or ApiError (10007)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 (byte {exc.start})") from None
    try:
        value = _DECODER.decode(text)
    except DuplicateKey as exc:
        where = _duplicate_path(text)
        raise ParseError(
            f"{where}: duplicate key" if where else f'duplicate key "{printable(exc.key)}"'
        ) from None
    except RecursionError:
        raise ParseError("nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and the hooks' refusals
        raise ParseError(str(exc)) from None
    if check_text and _SUSPICIOUS_ESCAPE.search(body):
        reject_bad_text(value)
    return value


def _read(stream) -> bytes:
    return stream.read() if stream is not None else b""


def _checks_text(parser_context) -> bool:
    """A view that checks strings per item (a bulk engine) sets `checks_text_per_item`."""
    view = (parser_context or {}).get("view")
    return not getattr(view, "checks_text_per_item", False)


class JSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        body = _read(stream)
        if not body.strip():
            raise ParseError("empty body")
        return decode_json(body, check_text=_checks_text(parser_context))


class NDJSONParser(BaseParser):
    """One JSON value per line; returns them as a list."""

    media_type = "application/x-ndjson"

    def parse(self, stream, media_type=None, parser_context=None):
        check_text = _checks_text(parser_context)
        items = []
        for number, line in enumerate(_read(stream).splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(decode_json(line, check_text=check_text))
            except ParseError as exc:
                raise ParseError(f"line {number}: {exc.detail}") from None
            except ApiError as exc:
                raise ApiError(exc.code, *[f"line {number}: {m}" for m in exc.messages]) from None
        return items


def reject_empty_body(request) -> None:
    """DRF answers an empty body with {} without asking a parser; it is not JSON."""

    if request.stream is None:
        raise ApiError(Code.INVALID_JSON_PAYLOAD, "Request body is not valid JSON: empty body")
