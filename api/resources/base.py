"""A resource declared once.

A `Resource` subclass names its model and domain spec, lookup keys, bulk keys and limit,
FilterSet, expands, scope and one field table. From that declaration come the write Struct
(single and bulk bodies, and their OpenAPI schema), the conversion of a body into
`RecordChanges`, the Python presenter, the SQL JSON builder, the OpenAPI output schema, the
routes and the standard operations (see api/views/base.py and api/schema.py). What a resource
writes by hand is only what is truly its own: its relations and read-only computed fields.
"""

from functools import cached_property
from typing import Annotated, Any, ClassVar

import msgspec
import orjson
from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import OuterRef
from django.db.models.functions import JSONObject
from msgspec import UNSET, Meta, Struct, UnsetType

from api.envelope import iso
from api.lookups import Lookup
from api.resources.fields import Field
from catalogue import rules
from catalogue.errors import CatalogueError, Code
from catalogue.localized import localized_fields
from catalogue.records import RecordChanges, RecordSpec, Ref

# API name of each localized model field.
LOCALIZED_API_NAMES = {
    "name": "names",
    "description": "descriptions",
    "short_description": "shortDescriptions",
    "slug": "slugs",
    "metadata_title": "metadataTitles",
    "metadata_description": "metadataDescriptions",
    "metadata_keywords": "metadataKeywords",
    "metadata_canonical_url": "metadataCanonicalUrls",
    "notes": "notes",
    "package_description": "packageDescriptions",
}
# Longest value per localized field; every other localized field takes SHORT_TEXT.
SHORT_TEXT, LONG_TEXT = 1000, 300_000
LONG_FIELDS = {"description"}
SourceText = Annotated[str, Meta(min_length=1, max_length=255)]
LanguageText = Annotated[str, Meta(max_length=16)]


class LocalizedString(Struct, forbid_unknown_fields=True):
    language: LanguageText
    value: Annotated[str, Meta(max_length=SHORT_TEXT)]


class LocalizedText(Struct, forbid_unknown_fields=True):
    language: LanguageText
    value: Annotated[str, Meta(max_length=LONG_TEXT)]


class SourcePair(Struct, forbid_unknown_fields=True):
    source: SourceText
    sourceId: SourceText


class RecordReference(Struct, forbid_unknown_fields=True):
    """A record named by `id`, or by `sourceId` and `source`."""

    id: int | UnsetType = UNSET
    source: SourceText | UnsetType = UNSET
    sourceId: SourceText | UnsetType = UNSET


class PlainWrite(Struct, forbid_unknown_fields=True, kw_only=True):
    """A record without a language or external sources."""


class RecordWrite(Struct, forbid_unknown_fields=True, kw_only=True):
    """Fields every localized record takes: its language and its external sources."""

    language: LanguageText | UnsetType = UNSET
    source: SourceText | UnsetType = UNSET
    sourceId: SourceText | UnsetType = UNSET
    sources: list[SourcePair] | UnsetType = UNSET


# Read-only fields of every record a client may send back unchanged from a GET; ignored.
READ_ONLY = ("id", "createdAt", "lastModifiedAt")


def language_code(value: str, path: str) -> str:
    code = value.strip().upper()
    if code not in settings.CATALOGUE_LANGUAGES:
        raise CatalogueError(Code.SCHEMA_VALIDATION, f'{path}: unknown language "{value}"')
    return code


def reference(value, path: str, own_source: str | None = None) -> Ref | None:
    """A `RecordReference` as a domain `Ref`; `source` may default to the item's own."""
    if value is None:
        return None
    if value.id is not UNSET:
        return Ref(id=value.id)
    if value.sourceId is not UNSET:
        source = value.source if value.source is not UNSET else own_source
        if source is None:
            raise CatalogueError(
                Code.PAYLOAD_VALIDATION, f"{path}.source: required with {path}.sourceId"
            )
        return Ref(source=source, source_id=value.sourceId)
    raise CatalogueError(Code.PAYLOAD_VALIDATION, f"{path}: give either id or sourceId and source")


def localized_array(row: dict, field: str, record_language: str, language: str | None) -> list:
    """An LS array of `field` from a row of attnames: every language with a value, or the
    requested one with the record's default language standing in."""
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


def sources_block(pairs: list[tuple[str, str]]) -> dict:
    first = pairs[0] if pairs else (None, None)
    return {
        "source": first[0],
        "sourceId": first[1],
        "sources": [{"source": source, "sourceId": source_id} for source, source_id in pairs],
    }


def _decoded(values) -> list:
    """JSON objects of an annotation array; raw SQL reads return them as text."""
    return [orjson.loads(v) if isinstance(v, str) else v for v in values or []]


class Resource:
    """The declaration of one API resource (see the module docstring)."""

    name: ClassVar[str]  # URL segment and bulk body array: "products"
    spec: ClassVar[RecordSpec]
    scope: ClassVar[str]  # scope entity: "product" -> product.read / product.write
    lookup: ClassVar[Lookup]
    bulk_keys: ClassVar[dict[str, tuple[str, ...]]] = {}
    bulk_limit: ClassVar[int] = 1000
    filterset: ClassVar[type]
    expands: ClassVar[frozenset[str]] = frozenset()
    fields: ClassVar[tuple[Field, ...]] = ()
    # Write-only shapes of this resource's relations: API name -> msgspec type.
    relation_fields: ClassVar[dict[str, Any]] = {}
    # Read-only output fields (computed by `present_computed`): API name -> OpenAPI schema.
    computed: ClassVar[dict[str, dict]] = {}
    # Fields present only with an expand: API name -> OpenAPI schema.
    expanded: ClassVar[dict[str, dict]] = {}
    # Operation descriptions and extra error codes beyond the derived ones.
    descriptions: ClassVar[dict[str, str]] = {}
    extra_errors: ClassVar[dict[str, tuple[Code, ...]]] = {}
    # Request body examples for the OpenAPI document, by operation (create, partial_update,
    # search, bulk_upsert, bulk_delete).
    examples: ClassVar[dict[str, Any]] = {}
    # The domain's single-record writes (catalogue.services.records.RecordWrites).
    writes: ClassVar[Any]
    # The standard operations the resource offers (see api/views/base.py).
    actions: ClassVar[frozenset[str]] = frozenset(
        {
            "list",
            "search",
            "export",
            "retrieve",
            "create",
            "partial_update",
            "destroy",
            "remove_translation",
            "bulk_upsert",
            "bulk_delete",
        }
    )

    def __init__(self):
        self.localized = localized_fields(self.spec.model)
        self.has_language = any(f.name == "language" for f in self.model._meta.concrete_fields)

    @property
    def entity(self) -> str:
        return self.spec.entity

    @property
    def title(self) -> str:
        """The entity in a message: "Product", "Cluster option"."""
        return self.spec.noun.capitalize()

    @property
    def model(self):
        return self.spec.model

    # Writes --------------------------------------------------------------------------------
    @cached_property
    def write_struct(self) -> type[Struct]:
        """The body of a create, update or bulk item, from the field table."""
        entries: list[tuple] = []
        for model_field in self.localized:
            element = LocalizedText if model_field in LONG_FIELDS else LocalizedString
            entries.append((LOCALIZED_API_NAMES[model_field], list[element] | UnsetType, UNSET))
        for f in self.fields:
            entries.append((f.api, f.kind.write_type() | UnsetType, UNSET))
        for name, annotation in self.relation_fields.items():
            entries.append((name, annotation | UnsetType, UNSET))
        for name in (*READ_ONLY, *self.computed):
            if name not in self.relation_fields:
                entries.append((name, Any, UNSET))
        return msgspec.defstruct(
            f"{self.entity}Write",
            entries,
            bases=(RecordWrite if self.has_language else PlainWrite,),
            kw_only=True,
            forbid_unknown_fields=True,
            module=__name__,
        )

    @cached_property
    def directive_fields(self) -> dict[str, str]:
        """API field names a bulk directive may name, mapped to model field names."""
        names = {LOCALIZED_API_NAMES[name]: name for name in self.localized}
        names.update({f.api: f.model for f in self.fields})
        return names

    def changes(self, item: Struct, prefix: str = "") -> RecordChanges:
        """Validate what the shape cannot (languages, slugs, duplicates) and convert."""
        changes = RecordChanges(localized=self._localized_changes(item, prefix))
        if self.has_language and item.language is not UNSET:
            changes.fields["language"] = language_code(item.language, f"{prefix}language")
        if self.spec.source_model is not None:
            self._source_changes(item, changes, prefix)
        for f in self.fields:
            value = getattr(item, f.api)
            if value is not UNSET:
                changes.fields[f.model] = f.kind.to_model(value, f"{prefix}{f.api}")
        self.relation_changes(item, changes, prefix)
        return changes

    def relation_changes(self, item: Struct, changes: RecordChanges, prefix: str) -> None:
        """Read this resource's relations (its parent, …) into `changes`."""

    def _localized_changes(self, item: Struct, prefix: str) -> dict[str, dict[str, str]]:
        result: dict[str, dict[str, str]] = {}
        for model_field in self.localized:
            api_name = LOCALIZED_API_NAMES[model_field]
            values = getattr(item, api_name)
            if values is UNSET:
                continue
            per_language: dict[str, str] = {}
            for index, element in enumerate(values):
                path = f"{prefix}{api_name}[{index}]"
                code = language_code(element.language, f"{path}.language")
                if code in per_language:
                    raise CatalogueError(
                        Code.SCHEMA_VALIDATION,
                        f'{path}.language: duplicate language "{element.language}"',
                    )
                problem = rules.slug_problem(element.value) if model_field == "slug" else None
                if problem:
                    raise CatalogueError(Code.SCHEMA_VALIDATION, f"{path}.value: {problem}")
                per_language[code] = element.value
            result[model_field] = per_language
        return result

    @staticmethod
    def _source_changes(item: Struct, changes: RecordChanges, prefix: str) -> None:
        """The flat `source`/`sourceId` pair adds one pair; `sources` replaces the set."""
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

    # Reads ---------------------------------------------------------------------------------
    def queryset(self):
        """Records with their source pairs folded into the same query."""
        source_model = self.spec.source_model
        queryset = self.model.objects.all()
        if source_model is not None:
            queryset = queryset.annotate(
                source_pairs=ArraySubquery(
                    source_model.objects.filter(owner_id=OuterRef("pk"))
                    .order_by("position", "id")
                    .values_list(JSONObject(s="source", i="source_id"))
                )
            )
        return self.annotate(queryset)

    def annotate(self, queryset):
        """Add what `present_computed` reads from each record."""
        return queryset

    def present(self, records: list, *, language=None, expands=frozenset()) -> list[dict]:
        """The API representation of records, in a constant number of queries."""
        if not records:
            return []
        computed = self.present_computed(records, language=language, expands=expands)
        result = []
        for record, extra in zip(records, computed, strict=True):
            row = record.__dict__
            data = {"id": record.pk}
            if self.has_language:
                data["language"] = record.language
            for model_field in self.localized:
                data[LOCALIZED_API_NAMES[model_field]] = localized_array(
                    row, model_field, record.language, language
                )
            for f in self.fields:
                data[f.api] = f.kind.to_wire(row[f.model])
            if self.spec.source_model is not None:
                pairs = _decoded(getattr(record, "source_pairs", None))
                data.update(sources_block([(pair["s"], pair["i"]) for pair in pairs]))
            data.update(extra)
            data["createdAt"] = iso(record.created_at)
            data["lastModifiedAt"] = iso(record.last_modified_at)
            result.append(data)
        return result

    def present_computed(self, records: list, *, language, expands) -> list[dict]:
        """Each record's computed and expanded fields (a few queries for the whole batch)."""
        return [{} for _ in records]

    # SQL JSON builder ----------------------------------------------------------------------
    def sql_computed(self) -> tuple[list[tuple[str, str]], str] | None:
        """(API name, SQL expression) pairs of the computed fields, and the joins they need;
        None when the resource has no SQL representation."""
        return None

    def json_sql(self, language: str | None, *, with_id: bool = False) -> str:
        """SELECT one JSON text per record (table alias `p`); the caller adds WHERE/ORDER BY.

        The same JSON as `present` without expands; a test holds the two equal field by field.
        """
        computed = self.sql_computed()
        if computed is None:
            raise TypeError(f"{self.entity} has no SQL representation")
        extra_pairs, joins = computed
        pairs: list[tuple[str, str]] = [("id", "p.id")]
        if self.has_language:
            pairs.append(("language", "p.language"))
        pairs += [(LOCALIZED_API_NAMES[f], _sql_localized(f, language)) for f in self.localized]
        pairs += [
            (f.api, f.kind.sql(f"p.{self.model._meta.get_field(f.model).column}"))
            for f in self.fields
        ]
        if self.spec.source_model is not None:
            pairs += [
                ("source", "src.first_source"),
                ("sourceId", "src.first_source_id"),
                ("sources", "coalesce(src.pairs, '[]'::json)"),
            ]
            joins = (
                f"""
                LEFT JOIN LATERAL (
                    SELECT json_agg(json_build_object('source', s.source, 'sourceId', s.source_id)
                                    ORDER BY s.position, s.id) AS pairs,
                           (array_agg(s.source ORDER BY s.position, s.id))[1] AS first_source,
                           (array_agg(s.source_id ORDER BY s.position, s.id))[1] AS first_source_id
                    FROM {self.spec.source_model._meta.db_table} s WHERE s.owner_id = p.id
                ) src ON true
                """
                + joins
            )
        pairs += extra_pairs
        pairs += [
            ("createdAt", _sql_iso("p.created_at")),
            ("lastModifiedAt", _sql_iso("p.last_modified_at")),
        ]
        return (
            f"SELECT {'p.id, ' if with_id else ''}{_json_object(pairs)}::text "
            f"FROM {self.model._meta.db_table} p {joins}"
        )

    def json_by_id(self, ids: list[int], language: str | None) -> dict[int, str]:
        """The JSON text of each of these records, by id."""
        with connection.cursor() as cursor:
            cursor.execute(self.json_sql(language, with_id=True) + " WHERE p.id = ANY(%s)", [ids])
            return dict(cursor.fetchall())


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_iso(column: str) -> str:
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


def _json_object(pairs: list[tuple[str, str]]) -> str:
    """json_build_object over any number of pairs (PostgreSQL takes 100 arguments at most)."""
    chunks = [pairs[i : i + 50] for i in range(0, len(pairs), 50)]
    parts = [
        "json_build_object(" + ", ".join(f"{_literal(k)}, {v}" for k, v in chunk) + ")"
        for chunk in chunks
    ]
    if len(parts) == 1:
        return parts[0]
    return "(" + " || ".join(f"{part}::jsonb" for part in parts) + ")::json"


def _sql_entry(code: str, value: str) -> str:
    """One {language, value} object as JSON text, or NULL when the value is empty."""
    return (
        f"CASE WHEN {value} <> '' THEN "
        f"""'{{"language":"{code}","value":' || to_json({value})::text || '}}' END"""
    )


def _sql_localized(field: str, language: str | None) -> str:
    """An LS array in SQL: every language with a value, or one with the record's fallback.

    Built as JSON text (concat_ws skips the NULLs of empty languages): cheaper than jsonb.
    """
    codes = settings.CATALOGUE_LANGUAGES
    if language is None:
        entries = ", ".join(_sql_entry(code, f"p.{field}_{code.lower()}") for code in codes)
        return f"('[' || concat_ws(',', {entries}) || ']')::json"
    own = f"p.{field}_{language.lower()}"
    default = (
        "CASE p.language "
        + " ".join(f"WHEN {_literal(code)} THEN p.{field}_{code.lower()}" for code in codes)
        + " END"
    )
    return (
        f"CASE WHEN {own} <> '' THEN json_build_array(json_build_object("
        f"'language', {_literal(language)}, 'value', {own})) "
        f"WHEN {default} <> '' THEN json_build_array(json_build_object("
        f"'language', p.language, 'value', {default})) ELSE '[]'::json END"
    )
