"""Query parameters every read shares: the response language and expands."""

from django.conf import settings

from api.exceptions import ApiError
from catalogue.errors import Code


def response_language(value) -> str | None:
    """Validate `?language=`; None means every language."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ApiError(Code.SCHEMA_VALIDATION, "language: must be a language code")
    code = value.strip().upper()
    if code not in settings.CATALOGUE_LANGUAGES:
        raise ApiError(Code.SCHEMA_VALIDATION, f'language: unknown language "{value}"')
    return code


def parse_expands(value, allowed) -> set[str]:
    """Parse `expands` (comma list or JSON array); unknown values are a 10007."""
    if value in (None, ""):
        return set()
    items = value if isinstance(value, list) else str(value).split(",")
    expands = {str(item).strip() for item in items if str(item).strip()}
    unknown = sorted(expands - set(allowed))
    if unknown:
        allowed_text = ", ".join(sorted(allowed)) or "none"
        raise ApiError(
            Code.SCHEMA_VALIDATION,
            f"expands: unknown value {', '.join(unknown)} (allowed: {allowed_text})",
        )
    return expands
