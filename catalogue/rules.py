"""The write rules, each written once, each working on a batch of planned items.

Every write — a single create or update (planned as a batch of one), a bulk request, an admin
save, a management command — goes through the planners in catalogue/services, and they call
these functions. A rule fails the items that break it with the one message it has; the others
go on. Each function reads what it needs for the whole batch in a query or two.
"""

import re
import zlib
from collections.abc import Hashable, Iterable

from django.conf import settings
from django.db import connection

from catalogue.errors import CatalogueError, Code
from catalogue.records import RecordSpec, Ref, describe_key
from catalogue.search import search_document
from catalogue.services.bulk import BulkItem
from catalogue.services.slugs import allocate_slugs

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
ATTRIBUTE_NAME = r"^[A-Z0-9_]{1,64}$"
ATTRIBUTE_NAME_PATTERN = re.compile(ATTRIBUTE_NAME)
ATTRIBUTE_VALUE_MAX = 255


def slug_problem(slug: str) -> str | None:
    """Why a given slug is not valid, or None."""
    if slug and not SLUG_PATTERN.match(slug):
        return f'invalid slug "{slug}" (lower-case letters, digits and single hyphens)'
    return None


def attribute_problems(attributes: list[dict]) -> list[tuple[int, str, str]]:
    """(index, field, message) for each attribute that breaks the rules: names like COLOR
    (A-Z, 0-9, _; up to 64), each name once, values strings up to 255 characters."""
    problems, seen = [], set()
    for index, attribute in enumerate(attributes):
        name, value = attribute.get("name"), attribute.get("value")
        if not isinstance(name, str) or not ATTRIBUTE_NAME_PATTERN.match(name):
            problems.append((index, "name", f"must match {ATTRIBUTE_NAME}"))
        elif name in seen:
            problems.append((index, "name", f'duplicate attribute "{name}"'))
        else:
            seen.add(name)
        if not isinstance(value, str) or len(value) > ATTRIBUTE_VALUE_MAX:
            problems.append(
                (index, "value", f"must be a string of at most {ATTRIBUTE_VALUE_MAX} characters")
            )
    return problems


# Batches up to this size serialise generated slugs per name, so concurrent single creates
# with the same name never race for one slug; larger batches retry on a conflict instead.
SLUG_LOCK_BATCH = 20


def require_default_name(spec: RecordSpec, items: Iterable[BulkItem]) -> None:
    """A record needs a name in its own default language, on create and after every update."""
    for item in items:
        if not item.pending:
            continue
        row = item.extra["row"]
        if not row.get(f"name_{row['language'].lower()}"):
            item.fail(
                CatalogueError(
                    Code.PAYLOAD_VALIDATION,
                    f"names: a value in the {spec.noun}'s default language {row['language']} "
                    "is required",
                )
            )


def wanted_sources(item: BulkItem, current: list[tuple]) -> list[tuple]:
    """The item's source pairs after its change: a replaced set, or the current plus added."""
    changes = item.changes
    if changes.sources is not None:
        return list(dict.fromkeys(changes.sources))
    return current + [pair for pair in dict.fromkeys(changes.add_sources) if pair not in current]


def check_source_pairs(spec: RecordSpec, items: list[BulkItem]) -> None:
    """A (source, sourceId) pair of another record, or of an earlier item, fails the item."""
    wanted = {
        pair: item
        for item in items
        if item.pending and item.extra["sources_changed"]
        for pair in item.extra["sources"]
    }
    if not wanted:
        return
    owners = {
        (source, source_id): owner
        for source, source_id, owner in spec.source_model.objects.filter(
            source__in={p[0] for p in wanted}, source_id__in=[p[1] for p in wanted]
        ).values_list("source", "source_id", "owner_id")
    }
    claimed: dict[tuple, int] = {}
    released = {
        pair
        for item in items
        if item.pending and item.extra["sources_changed"] and item.record_id
        for pair in owners
        if owners[pair] == item.record_id and pair not in item.extra["sources"]
    }
    for item in items:
        if not item.pending or not item.extra["sources_changed"]:
            continue
        for pair in item.extra["sources"]:
            owner = owners.get(pair)
            taken_by_other = owner is not None and owner != item.record_id and pair not in released
            if taken_by_other or claimed.get(pair, item.index) != item.index:
                item.fail(source_pair_taken(spec, pair))
                break
        else:
            for pair in item.extra["sources"]:
                claimed[pair] = item.index


def source_pair_taken(spec: RecordSpec, pair: tuple[str, str]) -> CatalogueError:
    return CatalogueError(
        spec.exists,
        f"{spec.entity} with sourceId [{pair[1]}] and source [{pair[0]}] already exists",
    )


def slug_taken(spec: RecordSpec, slug: str, language: str) -> CatalogueError:
    return CatalogueError(
        spec.exists, f"{spec.entity} with slug [{slug}] in language [{language}] already exists"
    )


def plan_slugs(spec: RecordSpec, items: list[BulkItem]) -> None:
    """Given slugs must be free (of other records and earlier items); missing ones are
    generated from the names, de-duplicated with -2, -3, …"""
    for code, _ in settings.LANGUAGES:
        column = f"slug_{code}"
        given: dict[str, list[BulkItem]] = {}
        for item in items:
            if not item.pending:
                continue
            slug = item.extra["row"].get(column)
            if slug and code.upper() in item.changes.localized.get("slug", {}):
                given.setdefault(slug, []).append(item)
        if given:
            owners = dict(
                spec.model.objects.filter(**{f"{column}__in": list(given)}).values_list(
                    column, "pk"
                )
            )
            for slug, claimants in given.items():
                for position, item in enumerate(claimants):
                    owner = owners.get(slug)
                    if (owner is not None and owner != item.record_id) or position > 0:
                        item.fail(slug_taken(spec, slug, code.upper()))
        missing = [
            (item.index, item.extra["row"][f"name_{code}"])
            for item in items
            if item.pending
            and not item.extra["row"].get(column)
            and item.extra["row"].get(f"name_{code}")
        ]
        if not missing:
            continue
        if len(missing) <= SLUG_LOCK_BATCH:
            _lock_slug_names(spec, code, [name for _, name in missing])
        allocated = allocate_slugs(spec.model, code, missing)
        for item in items:
            if item.index in allocated:
                item.extra["row"][column] = allocated[item.index]


def _lock_slug_names(spec: RecordSpec, language: str, names: list[str]) -> None:
    """Hold, until commit, one lock per (table, language, slug base), in a fixed order."""
    from catalogue.services.slugs import slug_base

    table = spec.model._meta.db_table
    keys = sorted({zlib.crc32(f"slug:{table}:{language}:{slug_base(n)}".encode()) for n in names})
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", [keys])


def resolve_refs(spec: RecordSpec, refs: Iterable[Ref | None]) -> dict[Ref, int | None]:
    """Map references (by id or source pair) to ids of existing records; two queries."""
    refs = {ref for ref in refs if ref is not None}
    ids = {ref.id for ref in refs if ref.id is not None}
    pairs = {(ref.source, ref.source_id) for ref in refs if ref.id is None}
    known = (
        set(spec.model.objects.filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()
    )
    by_pair = {}
    if pairs:
        rows = spec.source_model.objects.filter(
            source__in={p[0] for p in pairs}, source_id__in=[p[1] for p in pairs]
        ).values_list("source", "source_id", "owner_id")
        by_pair = {(s, i): owner for s, i, owner in rows}
    return {
        ref: ref.id if ref.id in known else by_pair.get((ref.source, ref.source_id)) for ref in refs
    }


def reference_not_found(spec: RecordSpec, ref: Ref) -> CatalogueError:
    return spec.not_found_error(ref.describe())


def parent_not_found(code: Code, noun: str, ref: Ref) -> CatalogueError:
    return CatalogueError(code, f"Parent {noun} with {ref.describe()} not found")


def creates_cycle(node: Hashable, new_parent: Hashable, parents: dict) -> bool:
    """Whether hanging `node` under `new_parent` makes a loop in the `parents` links."""
    seen = set()
    current = new_parent
    while current is not None and current not in seen:
        if current == node:
            return True
        seen.add(current)
        current = parents.get(current)
    return False


def tree_cycle(spec: RecordSpec, lookup_key: str, key) -> CatalogueError:
    return CatalogueError(
        Code.CATEGORY_CYCLE,
        f"{spec.entity} with {describe_key(lookup_key, key)} cannot be moved under itself or "
        "one of its descendants",
    )


def not_empty(spec: RecordSpec, record_id: int, reason: str) -> CatalogueError:
    return CatalogueError(
        Code.CATEGORY_NOT_EMPTY, f"{spec.entity} with id [{record_id}] is not empty: {reason}"
    )


# Cluster configs -------------------------------------------------------------------------------

CONFIG_NAME = r"^[A-Za-z0-9_]{2,35}$"
CONFIG_NAME_PATTERN = re.compile(CONFIG_NAME)
DISPLAY_TYPES = ("dropdown", "radio", "image", "color")


def config_name_problem(name) -> str | None:
    if not isinstance(name, str) or not CONFIG_NAME_PATTERN.match(name):
        return "letters, digits and underscores, 2 to 35 of them"
    return None


def config_name_taken(name: str) -> CatalogueError:
    return CatalogueError(
        Code.CLUSTER_CONFIG_EXISTS, f"ClusterConfig with name [{name}] already exists"
    )


def setting_taken(attribute_name: str) -> CatalogueError:
    return CatalogueError(
        Code.CLUSTER_CONFIG_SETTING_EXISTS,
        f"ClusterConfigSetting with attributeName [{attribute_name}] already exists in this "
        "cluster config",
    )


def settings_problem(settings_) -> CatalogueError | None:
    """The first broken rule of a config's settings: attribute names like product attribute
    names, each once; display types of the known ones."""
    seen = set()
    for index, setting in enumerate(settings_):
        if not ATTRIBUTE_NAME_PATTERN.match(setting.attribute_name or ""):
            return CatalogueError(
                Code.SCHEMA_VALIDATION,
                f"settings[{index}].attributeName: must match {ATTRIBUTE_NAME}",
            )
        if setting.display_type not in DISPLAY_TYPES:
            return CatalogueError(
                Code.SCHEMA_VALIDATION,
                f"settings[{index}].displayType: one of {', '.join(DISPLAY_TYPES)}",
            )
        if setting.attribute_name in seen:
            return setting_taken(setting.attribute_name)
        seen.add(setting.attribute_name)
    return None


# Search documents ------------------------------------------------------------------------------

# Product codes the text search finds, besides names in every language and source ids.
SEARCHED_PRODUCT_CODES = (
    "sku",
    "supplier_code",
    "ean_code",
    "manufacturer",
    "oem_code",
    "bar_code",
)


def _names(row: dict) -> dict[str, str]:
    return {code: row.get(f"name_{code}") or "" for code, _ in settings.LANGUAGES}


def product_search_document(row: dict, pairs: list[tuple[str, str]]) -> str:
    """The search document of a product row: names, codes and source ids."""
    codes = [row.get(name) or "" for name in SEARCHED_PRODUCT_CODES]
    return search_document(_names(row), [*codes, *(source_id for _, source_id in pairs)])


def cluster_search_document(row: dict, pairs: list[tuple[str, str]]) -> str:
    """The search document of a cluster row: names, code and source ids."""
    return search_document(
        _names(row), [row.get("code") or "", *(source_id for _, source_id in pairs)]
    )


def named_search_document(row: dict, pairs: list[tuple[str, str]]) -> str:
    """The search document of a row with no codes of its own (a category, a cluster option):
    names and source ids."""
    return search_document(_names(row), [source_id for _, source_id in pairs])
