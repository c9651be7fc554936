"""Request parsers: JSON (orjson) and NDJSON, both failing into the 10005 envelope."""

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser


def _read(stream) -> bytes:
    return stream.read() if stream is not None else b""


class JSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        body = _read(stream)
        if not body.strip():
            raise ParseError("empty body")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ParseError(str(exc)) from None


class NDJSONParser(BaseParser):
    """One JSON value per line; returns them as a list."""

    media_type = "application/x-ndjson"

    def parse(self, stream, media_type=None, parser_context=None):
        items = []
        for number, line in enumerate(_read(stream).splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise ParseError(f"line {number}: {exc}") from None
        return items


def reject_empty_body(request) -> None:
    """DRF answers an empty body with {} without asking a parser; it is not JSON."""
    from api.exceptions import ApiError
    from catalogue.errors import Code

    if request.stream is None:
        raise ApiError(Code.INVALID_JSON_PAYLOAD, "Request body is not valid JSON: empty body")
