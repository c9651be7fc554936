"""The one way operator commands (import, export, demo data) reach the API's bulk engine.

Commands hand over items exactly as a client sends them to ``POST /v2/<resource>/bulk/<key>``
and get back the per-item results that endpoint answers; exports yield the lines of
``GET /v2/<resource>/export``. This module alone knows which API and catalogue functions do
that work, so a change to the resource layer is adapted here and nowhere else.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import msgspec
from django.db import connection, transaction
from django.http import QueryDict

from api.exceptions import ApiError
from catalogue.errors import CatalogueError

RESOURCES = ("categories", "products", "clusters")


class AdapterError(Exception):
    """A request as a whole is wrong (unknown lookup key, filter or directive)."""

    def __init__(self, messages: list[str]):
        self.messages = messages
        super().__init__("; ".join(messages))


class BatchResults(list):
    """Per-item results exactly as the bulk endpoint answers them, in item order.

    `unchanged` holds the indexes of `update` results whose values equalled what was stored:
    nothing was written for them (the endpoint reports those as `update` too).
    """

    unchanged: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Field:
    """How an item field is shaped, for file formats that are not JSON (CSV)."""

    kind: str  # localized, text, integer, number, sources, attributes, reference, readonly
    parts: tuple[tuple[str, str], ...] = ()  # a reference's own fields and their kinds


@dataclass(frozen=True)
class _Resource:
    declaration: Any  # the Resource: keys, limit, write struct, directive fields, writes
    records: type  # its viewset: list and export


@cache
def _resource(resource: str) -> _Resource:
    from api.resources.categories import CATEGORIES_RESOURCE
    from api.resources.clusters import CLUSTERS_RESOURCE
    from api.resources.products import PRODUCTS_RESOURCE
    from api.views.categories import CategoryViewSet
    from api.views.clusters import ClusterViewSet
    from api.views.products import ProductViewSet

    if resource == "products":
        return _Resource(PRODUCTS_RESOURCE, ProductViewSet)
    if resource == "categories":
        return _Resource(CATEGORIES_RESOURCE, CategoryViewSet)
    if resource == "clusters":
        return _Resource(CLUSTERS_RESOURCE, ClusterViewSet)
    raise AdapterError([f"Unknown resource {resource!r} (known: {', '.join(RESOURCES)})"])


def batch_limit(resource: str) -> int:
    """The most items one bulk request of this resource may carry."""
    return _resource(resource).declaration.bulk_limit


def lookup_keys(resource: str) -> tuple[str, ...]:
    return tuple(_resource(resource).declaration.bulk_keys)


def _checked(resource: str, raw_items: list[dict], lookup_key: str):
    """The resource's declaration, once the lookup key and the batch size are known good."""
    declaration = _resource(resource).declaration
    keys = declaration.bulk_keys
    if lookup_key not in keys:
        raise AdapterError(
            [
                f"Lookup key [{lookup_key}] is not supported for {resource} bulk "
                f"(use {', '.join(keys)})"
            ]
        )
    limit = declaration.bulk_limit
    if len(raw_items) > limit:
        raise AdapterError([f"{len(raw_items)} items is more than the limit of {limit}"])
    return declaration


def _items(resource: str, raw_items: list[dict], lookup_key: str, *, with_changes: bool):
    from api.bulk import BulkKey, build_items

    declaration = _checked(resource, raw_items, lookup_key)
    return build_items(
        raw_items,
        lookup_key=lookup_key,
        key=BulkKey(declaration.bulk_keys[lookup_key]),
        struct=declaration.write_struct if with_changes else None,
        to_changes=declaration.changes if with_changes else None,
    )


def _unchanged(item) -> bool:
    """An update that found every value as stored, so wrote nothing."""
    return item.action == "update" and not any(
        value for name, value in item.extra.items() if name.endswith("_changed")
    )


def _results(items, lookup_key: str, dry_run: bool) -> list[dict]:
    from api.bulk import results_response

    return results_response(items, lookup_key, dry_run).data["data"]


def _parse_directives(resource: str, directives):
    from api.bulk import parse_directives

    try:
        return parse_directives(directives, _resource(resource).declaration.directive_fields)
    except ApiError as error:
        raise AdapterError(error.messages) from None


def upsert_batch(
    resource: str,
    raw_items: list[dict],
    lookup_key: str,
    *,
    directives: Any = None,
    dry_run: bool = False,
) -> BatchResults:
    """Create or update one bulk request's worth of items, as POST .../bulk/<lookupKey> does.

    `directives` takes either wire form of the endpoint's `directives`.
    """
    parsed = _parse_directives(resource, directives)
    if resource == "clusters":
        return _upsert_clusters(raw_items, lookup_key, parsed, dry_run)
    writes = _resource(resource).declaration.writes
    items = _items(resource, raw_items, lookup_key, with_changes=True)
    writes.bulk_upsert(items=items, lookup_key=lookup_key, directives=parsed, dry_run=dry_run)
    results = BatchResults(_results(items, lookup_key, dry_run))
    results.unchanged = frozenset(item.index for item in items if _unchanged(item))
    return results


def _upsert_clusters(raw_items, lookup_key, directives, dry_run) -> BatchResults:
    """Clusters with their nested products and options, as the cluster bulk endpoint takes
    them. A cluster whose nested items did not all succeed is reported failed, with their
    errors, so that its row is imported again once fixed."""
    from api.bulk import BulkKey
    from api.cluster_bulk import nested_clusters, nested_results
    from catalogue.services.clusters import cluster_bulk_upsert

    declaration = _checked("clusters", raw_items, lookup_key)
    clusters = nested_clusters(raw_items, lookup_key, BulkKey(declaration.bulk_keys[lookup_key]))
    with transaction.atomic():
        cluster_bulk_upsert(
            clusters=clusters,
            lookup_key=lookup_key,
            directives=directives,
            dry_run=dry_run,
            atomic=False,
        )
    results = BatchResults()
    for result in nested_results(clusters, lookup_key, dry_run):
        nested_errors = list(_nested_errors(result))
        if nested_errors:
            result = {
                **result,
                "success": False,
                "errors": [*result.get("errors", []), *nested_errors],
            }
        results.append(result)
    results.unchanged = frozenset(
        nested.item.index
        for nested in clusters
        if _unchanged(nested.item)
        and all(
            _unchanged(item)
            for item in (
                *nested.products,
                *nested.options,
                *(item for items in nested.option_products.values() for item in items),
            )
        )
    )
    return results


def _nested_errors(result: dict, path: str = ""):
    """The errors of every nested result, each message prefixed with where it is."""
    for name in ("products", "options"):
        for nested in result.get(name, []):
            where = f"{path}{name}[{nested['index']}]"
            for error in nested.get("errors", []):
                yield {**error, "messages": [f"{where}: {m}" for m in error["messages"]]}
            yield from _nested_errors(nested, f"{where}.")


def delete_batch(
    resource: str, raw_items: list[dict], lookup_key: str, *, dry_run: bool = False
) -> list[dict]:
    """Delete the records the items name, as POST .../bulk/<lookupKey>/delete does."""
    writes = _resource(resource).declaration.writes
    items = _items(resource, raw_items, lookup_key, with_changes=False)
    writes.bulk_delete(items=items, lookup_key=lookup_key, dry_run=dry_run)
    return _results(items, lookup_key, dry_run)


def refresh_statistics() -> None:
    """Bring the planner's statistics up to date (ANALYZE) after loads that grew the tables.

    Autovacuum analyzes a table only after 10% of it changed and once a minute at most; a
    catalogue loaded from empty outgrows its statistics faster than that, and the bulk
    engine's lookups then get plans made for tables a fraction of their size.
    """
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


class _Request:
    """The little of a request the list and export views read: the query string."""

    def __init__(self, filters: dict[str, str]):
        self.query_params = QueryDict(mutable=True)
        for name, value in filters.items():
            self.query_params[name] = value


def _records_view(resource: str):
    view = _resource(resource).records()
    view.format_kwarg = None
    return view


def count_records(resource: str, filters: dict[str, str]) -> int:
    """How many records the list endpoint finds with these filters (its `itemsFound`)."""
    request = _Request({**filters, "offset": "1", "page": "1"})
    try:
        response = _records_view(resource).list(request)
    except (ApiError, CatalogueError) as error:
        raise AdapterError(error.messages) from None
    return response.data["itemsFound"]


def export_lines(resource: str, filters: dict[str, str]) -> Iterator[bytes]:
    """Chunks of NDJSON, one record per line as GET .../export streams them, in id order."""
    try:
        response = _records_view(resource).export(_Request(filters))
    except (ApiError, CatalogueError) as error:
        raise AdapterError(error.messages) from None
    yield from response.streaming_content


def category_source_pairs() -> dict[int, tuple[str, str]]:
    """Each category's first (source, sourceId) pair, by id: parents a file can name anywhere."""
    from catalogue.models import CategorySource

    pairs: dict[int, tuple[str, str]] = {}
    rows = CategorySource.objects.order_by("owner_id", "position", "id")
    for owner, source, source_id in rows.values_list("owner_id", "source", "source_id"):
        pairs.setdefault(owner, (source, source_id))
    return pairs


@cache
def item_fields(resource: str) -> dict[str, Field]:
    """The fields a bulk item of this resource may carry, by API name, with their shape."""
    info = msgspec.inspect.type_info(_resource(resource).declaration.write_struct)
    return {field.encode_name: _field(field.encode_name, field.type) for field in info.fields}


def _field(name: str, kind) -> Field:
    inspect = msgspec.inspect
    if isinstance(kind, inspect.UnionType):
        kinds = [t for t in kind.types if not isinstance(t, inspect.NoneType)]
        kind = kinds[0] if len(kinds) == 1 else kind
    if isinstance(kind, inspect.AnyType):
        return Field("readonly")
    if isinstance(kind, inspect.IntType):
        return Field("integer")
    if isinstance(kind, inspect.FloatType):
        return Field("number")
    if isinstance(kind, inspect.StrType | inspect.LiteralType):
        return Field("text")
    if isinstance(kind, inspect.StructType):
        return Field(
            "reference",
            tuple((f.encode_name, _field(f.encode_name, f.type).kind) for f in kind.fields),
        )
    if isinstance(kind, inspect.ListType) and isinstance(kind.item_type, inspect.StructType):
        names = {f.encode_name for f in kind.item_type.fields}
        if names == {"language", "value"}:
            return Field("localized")
        if names == {"source", "sourceId"}:
            return Field("sources")
        if names == {"name", "value"}:
            return Field("attributes")
    raise TypeError(f"No file shape for item field {name}: {kind}")
