"""The success envelope: renderer, pagination and the response helpers every view uses."""

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response

from api.exceptions import ApiError
from catalogue.errors import Code

DEFAULT_PAGE_SIZE = 12
MAX_PAGE_SIZE = 1000
# Deeper pages are never useful, and page times offset must stay a PostgreSQL bigint.
MAX_PAGE = 1_000_000_000


def iso(value: datetime | None) -> str | None:
    """Format a timestamp as ISO-8601 UTC with milliseconds and a Z."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class EnvelopeRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)


def single(data: dict, message: str, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        {"data": data, "messages": [message], "total": 1}, status=status, headers=headers
    )


def done(message: str) -> Response:
    return Response({"data": {}, "messages": [message]})


@dataclass(frozen=True)
class Page:
    number: int
    size: int

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.size


def _positive_int(value, name: str, maximum: int) -> int:
    """An integer from 1 to `maximum`, given as a JSON number or as ASCII digits."""
    if isinstance(value, bool):
        raise ApiError(Code.PAGINATION, f"{name} must be a positive integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        digits = value.strip().lstrip("0") or "0"
        # Longer than the maximum's digits is over it; int() of a huge text is slow.
        number = maximum + 1 if len(digits) > len(str(maximum)) else int(digits)
    else:
        raise ApiError(Code.PAGINATION, f"{name} must be a positive integer")
    if number < 1:
        raise ApiError(Code.PAGINATION, f"{name} must be a positive integer")
    if number > maximum:
        raise ApiError(Code.PAGINATION, f"{name} must not exceed {maximum}")
    return number


def parse_page(page=None, offset=None) -> Page:
    """Validate `page` (1-based) and `offset` (page size) as the contract defines them."""
    number = 1 if page is None else _positive_int(page, "page", MAX_PAGE)
    size = DEFAULT_PAGE_SIZE if offset is None else _positive_int(offset, "offset", MAX_PAGE_SIZE)
    return Page(number=number, size=size)


def paged(items: list, page: Page, items_found: int, messages: list[str] | None = None) -> Response:
    count = len(items)
    start = page.first_index + 1 if count else 0
    return Response(
        {
            "data": items,
            "messages": messages or [],
            "start": start,
            "end": page.first_index + count if count else 0,
            "page": page.number,
            "pages": -(-items_found // page.size),
            "total": count,
            "offset": page.size,
            "itemsFound": items_found,
        }
    )
