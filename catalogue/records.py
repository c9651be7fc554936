"""What a write asks for, and how an entity is named in the domain.

A `RecordSpec` is the domain's declaration of an entity: its model, external-source table,
error codes and the name messages use. `RecordChanges` is one validated create or update;
`Ref` names a record by id or by a (source, sourceId) pair.
"""

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.conf import settings

from catalogue.errors import CatalogueError, Code
from catalogue.localized import localized_fields
from catalogue.models.base import default_language


@dataclass(frozen=True)
class RecordSpec:
    model: type
    source_model: type | None
    entity: str
    exists: Code
    not_found: Code
    multiple_found: Code | None = None
    # Columns the engine never writes from item data (maintained elsewhere or generated).
    skipped_columns: frozenset = frozenset({"id"})

    @property
    def noun(self) -> str:
        """The entity in running text: "product", "cluster option"."""
        return " ".join(part.lower() for part in _words(self.entity))

    def columns(self) -> list[str]:
        return [
            f.column
            for f in self.model._meta.concrete_fields
            if f.column not in self.skipped_columns
        ]

    def defaults(self) -> dict:
        """A new row: every column at its model default (a fresh copy each call)."""
        return dict(self._defaults)

    @cached_property
    def _defaults(self) -> dict:
        # Computed once: asking a translated field for its default is costly, and the
        # timestamps it would give are set by the writer anyway.
        row = {column: None for column in self.columns()}
        for f in self.model._meta.concrete_fields:
            if f.column in row:
                row[f.column] = f.get_default()
        if "language" in row:
            row["language"] = default_language()
        return row

    def localized_columns(self) -> list[str]:
        return [
            f"{name}_{code}"
            for name in localized_fields(self.model)
            for code, _ in settings.LANGUAGES
        ]

    def not_found_error(self, described: str) -> CatalogueError:
        return CatalogueError(self.not_found, f"{self.entity} with {described} not found")


def _words(name: str) -> list[str]:
    words, current = [], ""
    for char in name:
        if char.isupper() and current:
            words.append(current)
            current = char
        else:
            current += char
    return [*words, current] if current else words


@dataclass
class RecordChanges:
    """What a create or update asks for, already validated for shape.

    `fields` holds plain model fields; `localized` maps a localized model field to
    {LANG: value} (an empty value clears that language); `sources` replaces the whole set of
    external ids when not None, `add_sources` adds pairs and keeps the others; `relations`
    holds what an entity places or links (its parent, for instance).
    """

    fields: dict[str, Any] = field(default_factory=dict)
    localized: dict[str, dict[str, str]] = field(default_factory=dict)
    sources: list[tuple[str, str]] | None = None
    add_sources: list[tuple[str, str]] = field(default_factory=list)
    relations: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ref:
    """A reference to a record: by id, or by (source, sourceId)."""

    id: int | None = None
    source: str | None = None
    source_id: str | None = None

    def describe(self) -> str:
        if self.id is not None:
            return f"id [{self.id}]"
        return f"sourceId [{self.source_id}] and source [{self.source}]"


@dataclass(frozen=True)
class ClusterRef:
    """A reference to a cluster by id (a product placed in a cluster)."""

    id: int

    def describe(self) -> str:
        return f"id [{self.id}]"


def describe_key(lookup_key: str, key) -> str:
    """Name a record by a lookup key and its value, as every message does."""
    if lookup_key == "sourceId":
        return f"sourceId [{key[1]}] and source [{key[0]}]"
    if lookup_key == "supplierCode":
        return f"supplierCode [{key[1]}] and supplier [{key[0]}]"
    return f"{lookup_key} [{key}]"
