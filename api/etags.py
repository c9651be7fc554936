"""Entity tags: one format, parsed in one place (django.utils.http.parse_etags)."""

from django.utils.http import parse_etags

from api.exceptions import ApiError
from catalogue.errors import Code


def etag(record_id: int, last_modified_at) -> str:
    """A strong ETag that changes whenever the record changes."""
    return f'"{record_id}-{int(last_modified_at.timestamp() * 1000)}"'


def record_etag(record) -> str:
    return etag(record.pk, record.last_modified_at)


def matches_strongly(header: str, current: str) -> bool:
    """If-Match: strong comparison, so a weak tag (W/"…") never matches."""
    tags = parse_etags(header)
    return "*" in tags or current in tags


def matches_weakly(header: str, current: str) -> bool:
    """If-None-Match: weak comparison, W/"x" and "x" are the same tag."""
    tags = {tag.removeprefix("W/") for tag in parse_etags(header)}
    return "*" in tags or current in tags


def check_if_match(header: str | None, current: str) -> None:
    """Refuse (412) a write whose If-Match does not name the record's current ETag."""
    if header is not None and not matches_strongly(header, current):
        raise ApiError(
            Code.PRECONDITION_FAILED,
            f"If-Match {header} does not match the current ETag {current}",
        )
