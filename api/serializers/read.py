"""Output helpers: localized arrays, sources, the response language."""

from django.conf import settings

from api.exceptions import ApiError
from api.serializers.common import API_NAME
from catalogue.errors import Code


def response_language(value: str | None) -> str | None:
    """Validate `?language=`; None means every language."""
    if value in (None, ""):
        return None
    code = value.strip().upper()
    if code not in settings.CATALOGUE_LANGUAGES:
        raise ApiError(Code.SCHEMA_VALIDATION, f'language: unknown language "{value}"')
    return code


def localized_array(row: dict, field: str, record_language: str, language: str | None) -> list:
    """Return an LS array for `field` of a row (dict of attnames)."""
    if language is None:
        result = []
        for code in settings.CATALOGUE_LANGUAGES:
            value = row.get(f"{field}_{code.lower()}")
            if value:
                result.append({"language": code, "value": value})
        return result
    for code in (language, record_language):
        value = row.get(f"{field}_{code.lower()}")
        if value:
            return [{"language": code, "value": value}]
    return []


def localized_block(row: dict, fields, record_language: str, language: str | None) -> dict:
    return {
        API_NAME[field]: localized_array(row, field, record_language, language) for field in fields
    }


def sources_block(pairs: list[tuple[str, str]]) -> dict:
    first = pairs[0] if pairs else (None, None)
    return {
        "source": first[0],
        "sourceId": first[1],
        "sources": [{"source": source, "sourceId": source_id} for source, source_id in pairs],
    }


def parse_expands(value, allowed: set[str]) -> set[str]:
    """Parse `expands` (comma list or JSON array); unknown values are a 10007."""
    if value in (None, ""):
        return set()
    items = value if isinstance(value, list) else str(value).split(",")
    expands = {str(item).strip() for item in items if str(item).strip()}
    unknown = sorted(expands - allowed)
    if unknown:
        raise ApiError(
            Code.SCHEMA_VALIDATION,
            f"expands: unknown value {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})",
        )
    return expands
