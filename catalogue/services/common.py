"""Write helpers every entity's services share: changes, localized merge, slugs, sources."""

import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from catalogue.errors import CatalogueError, Code
from catalogue.localized import localized_fields
from catalogue.models.base import now_ms, record_etag
from catalogue.services.slugs import allocate_slugs

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass
class RecordChanges:
    """What a create or update asks for, already validated for shape.

    `fields` holds plain model fields; `localized` maps a localized model field to
    {LANG: value} (an empty value clears that language); `sources` replaces the whole set of
    external ids when not None, `add_sources` adds pairs and keeps the others.
    """

    fields: dict[str, Any] = field(default_factory=dict)
    localized: dict[str, dict[str, str]] = field(default_factory=dict)
    sources: list[tuple[str, str]] | None = None
    add_sources: list[tuple[str, str]] = field(default_factory=list)
    relations: dict[str, Any] = field(default_factory=dict)


def lock_tree(name: str) -> None:
    """Serialise writes to one tree for the rest of the transaction."""
    key = zlib.crc32(f"tree:{name}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def check_precondition(record, if_match: str | None) -> None:
    if if_match is None:
        return
    candidates = {tag.strip() for tag in if_match.split(",")}
    if "*" in candidates:
        return
    current = record_etag(record)
    if current not in candidates and f"W/{current}" not in candidates:
        raise CatalogueError(
            Code.PRECONDITION_FAILED,
            f"If-Match {if_match} does not match the current ETag {current}",
        )


def apply_fields(record, changes: RecordChanges) -> set[str]:
    """Set plain and localized fields on `record`; return the attnames that changed."""
    changed = set()
    for name, value in changes.fields.items():
        if getattr(record, name) != value:
            setattr(record, name, value)
            changed.add(name)
    for name, per_language in changes.localized.items():
        for language, value in per_language.items():
            attname = f"{name}_{language.lower()}"
            if (getattr(record, attname) or "") != value:
                setattr(record, attname, value)
                changed.add(attname)
    return changed


def require_default_name(record, entity: str) -> None:
    language = record.language
    if not getattr(record, f"name_{language.lower()}", ""):
        raise CatalogueError(
            Code.PAYLOAD_VALIDATION,
            f"names: a value in the {entity} default language {language} is required",
        )


def generate_slugs(record, model, explicit: set[str]) -> set[str]:
    """Fill empty slugs from names (de-duplicated with -2, -3, …); return changed attnames.

    Languages in `explicit` were given by the caller and are left to the unique constraint.
    """
    changed = set()
    for code, _ in settings.LANGUAGES:
        slug_attr, name = f"slug_{code}", getattr(record, f"name_{code}") or ""
        if code.upper() in explicit or getattr(record, slug_attr) or not name:
            continue
        setattr(record, slug_attr, allocate_slugs(model, code, [(record.pk, name)])[record.pk])
        changed.add(slug_attr)
    return changed


def ensure_slugs_free(record, model, languages: set[str], exists: Code, entity: str) -> None:
    """Raise the entity's Exists error when a given slug belongs to another record."""
    for language in languages:
        slug_attr = f"slug_{language.lower()}"
        slug = getattr(record, slug_attr)
        if not slug:
            continue
        if model._default_manager.filter(**{slug_attr: slug}).exclude(pk=record.pk).exists():
            raise CatalogueError(
                exists, f"{entity} with slug [{slug}] in language [{language}] already exists"
            )


def replace_sources(
    record, source_model, changes: RecordChanges, exists: Code, entity: str
) -> bool:
    """Apply `sources`/`add_sources` to the record; return whether the set changed."""
    if changes.sources is None and not changes.add_sources:
        return False
    current = (
        list(source_model.objects.filter(owner=record).values_list("source", "source_id"))
        if record.pk
        else []
    )
    if changes.sources is not None:
        wanted = list(dict.fromkeys(changes.sources))
    else:
        wanted = current + [pair for pair in changes.add_sources if pair not in current]
    if wanted == current:
        return False
    new_pairs = [pair for pair in wanted if pair not in current]
    if new_pairs:
        clash = _owned_elsewhere(source_model, record, new_pairs)
        if clash:
            raise CatalogueError(
                exists,
                f"{entity} with sourceId [{clash[1]}] and source [{clash[0]}] already exists",
            )
    source_model.objects.filter(owner=record).delete()
    source_model.objects.bulk_create(
        [
            source_model(owner=record, source=source, source_id=source_id, position=position)
            for position, (source, source_id) in enumerate(wanted)
        ]
    )
    return True


def _owned_elsewhere(source_model, record, pairs):
    from django.db.models import Q

    condition = Q()
    for source, source_id in pairs:
        condition |= Q(source=source, source_id=source_id)
    row = (
        source_model.objects.filter(condition)
        .exclude(owner_id=record.pk)
        .values_list("source", "source_id")
        .first()
    )
    return row


def touch(record) -> None:
    record.last_modified_at = now_ms()


def remove_translation(model, *, record_id: int, language: str, entity: str, if_match=None):
    """Blank every localized field of a record in `language` (never its default language)."""
    with transaction.atomic():
        record = model.objects.select_for_update().get(pk=record_id)
        check_precondition(record, if_match)
        if language == record.language:
            raise CatalogueError(
                Code.PAYLOAD_VALIDATION,
                f"Cannot delete the default language {language} of this {entity.lower()}",
            )
        changed = []
        for name in localized_fields(model):
            attname = f"{name}_{language.lower()}"
            if getattr(record, attname):
                setattr(record, attname, "")
                changed.append(attname)
        if not changed:
            raise CatalogueError(
                Code.TRANSLATION_NOT_FOUND,
                f"{entity} with id [{record.pk}] has no translation in language [{language}]",
            )
        touch(record)
        record.save(update_fields=[*changed, "last_modified_at"])
        return record


class GeneratedSlugTaken(Exception):
    """A slug generated for this write was taken by a concurrent write; allocate again."""


def conflict(exc: IntegrityError, record, exists: Code, entity: str, explicit_slugs: set[str]):
    """Turn a unique violation into the entity's Exists error (or a retry for generated slugs).

    Names the slug or source pair that clashed, never the database's internals.
    """
    diag = getattr(exc.__cause__, "diag", None)
    constraint = getattr(diag, "constraint_name", "") or ""
    if "_unique_slug_" in constraint:
        language = constraint.rsplit("_", 1)[-1].upper()
        if language not in explicit_slugs:
            raise GeneratedSlugTaken from None
        slug = getattr(record, f"slug_{language.lower()}")
        return CatalogueError(
            exists, f"{entity} with slug [{slug}] in language [{language}] already exists"
        )
    if constraint.endswith("_unique_pair"):
        return CatalogueError(exists, f"{entity} with this source and sourceId already exists")
    return CatalogueError(exists, f"{entity} conflicts with an existing {entity.lower()}")


def with_slug_retries(write, attempts: int = 5):
    """Run `write` again when a concurrent write took a slug it generated."""
    for attempt in range(attempts):
        try:
            return write()
        except GeneratedSlugTaken:
            if attempt == attempts - 1:
                raise
    raise GeneratedSlugTaken
