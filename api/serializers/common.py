"""Input shapes (msgspec Structs) and the conversions every resource shares.

A resource's write Struct is the one definition of its fields and rules: single-record
endpoints, bulk endpoints and the OpenAPI document all derive from it.
"""

import re
from typing import Annotated, Any, Literal

import msgspec
from django.conf import settings
from msgspec import UNSET, Meta, Struct, UnsetType

from catalogue.errors import CatalogueError, Code
from catalogue.services.common import SLUG_PATTERN, RecordChanges

ShortText = Annotated[str, Meta(max_length=1000)]
LongText = Annotated[str, Meta(max_length=300_000)]
Text255 = Annotated[str, Meta(max_length=255)]
SourceText = Annotated[str, Meta(min_length=1, max_length=255)]
YesNo = Literal["Y", "N"]


class LocalizedString(Struct, forbid_unknown_fields=True):
    language: Annotated[str, Meta(max_length=16)]
    value: ShortText


class LocalizedText(Struct, forbid_unknown_fields=True):
    language: Annotated[str, Meta(max_length=16)]
    value: LongText


class SourcePair(Struct, forbid_unknown_fields=True):
    source: SourceText
    sourceId: SourceText


class ParentReference(Struct, forbid_unknown_fields=True):
    id: int | UnsetType = UNSET
    source: SourceText | UnsetType = UNSET
    sourceId: SourceText | UnsetType = UNSET


class LocalizedWrite(Struct, forbid_unknown_fields=True, kw_only=True):
    """Fields common to products, categories and clusters."""

    language: Annotated[str, Meta(max_length=16)] | UnsetType = UNSET
    names: list[LocalizedString] | UnsetType = UNSET
    descriptions: list[LocalizedText] | UnsetType = UNSET
    shortDescriptions: list[LocalizedString] | UnsetType = UNSET
    slugs: list[LocalizedString] | UnsetType = UNSET
    metadataTitles: list[LocalizedString] | UnsetType = UNSET
    metadataDescriptions: list[LocalizedString] | UnsetType = UNSET
    metadataKeywords: list[LocalizedString] | UnsetType = UNSET
    metadataCanonicalUrls: list[LocalizedString] | UnsetType = UNSET
    source: SourceText | UnsetType = UNSET
    sourceId: SourceText | UnsetType = UNSET
    sources: list[SourcePair] | UnsetType = UNSET
    # Read-only fields a client may send back unchanged from a GET; they are ignored.
    id: Any = UNSET
    createdAt: Any = UNSET
    lastModifiedAt: Any = UNSET


# API name of each localized field -> model field.
LOCALIZED_FIELDS = {
    "names": "name",
    "descriptions": "description",
    "shortDescriptions": "short_description",
    "slugs": "slug",
    "metadataTitles": "metadata_title",
    "metadataDescriptions": "metadata_description",
    "metadataKeywords": "metadata_keywords",
    "metadataCanonicalUrls": "metadata_canonical_url",
    "notes": "notes",
    "packageDescriptions": "package_description",
}
API_NAME = {model: api for api, model in LOCALIZED_FIELDS.items()}

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
    """Validate decoded JSON against a write Struct."""
    if not isinstance(data, dict):
        raise CatalogueError(Code.INVALID_JSON_PAYLOAD, "Request body must be a JSON object")
    try:
        return msgspec.convert(data, type=struct)
    except msgspec.ValidationError as exc:
        raise schema_error(exc, prefix) from None


def language_code(value: str, path: str) -> str:
    code = value.strip().upper()
    if code not in settings.CATALOGUE_LANGUAGES:
        raise CatalogueError(Code.SCHEMA_VALIDATION, f'{path}: unknown language "{value}"')
    return code


def localized_changes(item: Struct, prefix: str = "") -> dict[str, dict[str, str]]:
    """Validate languages of every LS the item sends; return {model field: {LANG: value}}."""
    result: dict[str, dict[str, str]] = {}
    for api_name, model_field in LOCALIZED_FIELDS.items():
        values = getattr(item, api_name, UNSET)
        if values is UNSET:
            continue
        per_language: dict[str, str] = {}
        for index, element in enumerate(values):
            path = f"{prefix}{api_name}[{index}].language"
            code = language_code(element.language, path)
            if code in per_language:
                raise CatalogueError(
                    Code.SCHEMA_VALIDATION, f'{path}: duplicate language "{element.language}"'
                )
            value = element.value
            if model_field == "slug" and value and not SLUG_PATTERN.match(value):
                raise CatalogueError(
                    Code.SCHEMA_VALIDATION,
                    f'{prefix}{api_name}[{index}].value: invalid slug "{value}" '
                    "(lower-case letters, digits and single hyphens)",
                )
            per_language[code] = value
        result[model_field] = per_language
    return result


def source_changes(item: Struct, changes: RecordChanges, prefix: str = "") -> None:
    """Read the flat `source`/`sourceId` pair and the `sources` array into `changes`."""
    if item.sourceId is not UNSET and item.source is UNSET:
        raise CatalogueError(Code.PAYLOAD_VALIDATION, f"{prefix}source: required with sourceId")
    if item.source is not UNSET and item.sourceId is UNSET:
        raise CatalogueError(Code.PAYLOAD_VALIDATION, f"{prefix}sourceId: required with source")
    if item.sources is not UNSET:
        changes.sources = [(pair.source, pair.sourceId) for pair in item.sources]
    if item.sourceId is not UNSET:
        pair = (item.source, item.sourceId)
        if changes.sources is not None:
            if pair not in changes.sources:
                changes.sources.insert(0, pair)
        else:
            changes.add_sources.append(pair)


def common_changes(item: LocalizedWrite, prefix: str = "") -> RecordChanges:
    changes = RecordChanges(localized=localized_changes(item, prefix))
    if item.language is not UNSET:
        changes.fields["language"] = language_code(item.language, f"{prefix}language")
    source_changes(item, changes, prefix)
    return changes


def yes_no(value: str) -> bool:
    return value == "Y"


def flag(value: bool) -> str:
    return "Y" if value else "N"
