"""/<lookupKey>/<value> resolution shared by every resource."""

from dataclasses import dataclass

from django.db.models import Model, Q, QuerySet

from api.exceptions import ApiError
from catalogue.errors import CatalogueError, Code


@dataclass(frozen=True)
class LookupKind:
    """How one lookup key finds records: its model field and optional companion parameter."""

    field: str
    companion: str | None = None
    companion_field: str | None = None
    unique: bool = True


@dataclass(frozen=True)
class Lookup:
    entity: str
    keys: dict[str, LookupKind]
    not_found: Code
    multiple_found: Code | None = None

    def describe(self, key: str, value: str, companion_value: str | None = None) -> str:
        kind = self.keys[key]
        text = f"{self.entity} with {key} [{value}]"
        if kind.companion:
            text += f" and {kind.companion} [{companion_value}]"
        return text

    def condition(self, key: str, value: str, params) -> tuple[Q, str]:
        """Return the filter for a lookup and its description for messages."""
        kind = self.keys.get(key)
        if kind is None:
            raise ApiError(
                Code.INVALID_LOOKUP_KEY,
                f"Lookup key [{key}] is not supported for {self.entity.lower()} records "
                f"(use {', '.join(self.keys)})",
            )
        if kind.companion:
            companion_value = params.get(kind.companion)
            if not companion_value:
                raise ApiError(
                    Code.PAYLOAD_VALIDATION,
                    f"Query parameter [{kind.companion}] is required with lookup key [{key}]",
                )
            description = self.describe(key, value, companion_value)
            return Q(**{kind.field: value, kind.companion_field: companion_value}), description
        description = self.describe(key, value)
        if key == "id":
            if not (value.isascii() and value.isdigit()) or len(value) > 18:
                raise CatalogueError(self.not_found, f"{description} not found")
            return Q(pk=int(value)), description
        return Q(**{kind.field: value}), description

    def resolve(self, queryset: QuerySet, key: str, value: str, params) -> Model:
        condition, description = self.condition(key, value, params)
        matches = list(queryset.filter(condition)[:2])
        return self._one(matches, description)

    def resolve_compiled(self, queryset_factory, key: str, value: str, params) -> Model:
        """Like resolve(), with the SQL compiled once per process for this queryset and key.

        Single-record reads are the hottest path: compiling a wide queryset costs more than
        running it.
        """
        _, description = self.condition(key, value, params)  # validates key and value
        sql, slots, model = _compiled(self, queryset_factory, key)
        kind = self.keys[key]
        values = {
            "value": int(value) if key == "id" else value,
            "companion": params.get(kind.companion) if kind.companion else None,
        }
        bound = [values[slot] if isinstance(slot, str) else slot.value for slot in slots]
        return self._one(list(model.objects.raw(sql, bound)), description)

    def _one(self, matches: list, description: str) -> Model:
        if not matches:
            raise CatalogueError(self.not_found, f"{description} not found")
        if len(matches) > 1:
            raise CatalogueError(self.multiple_found, f"More than one {description} found")
        return matches[0]

    def resolve_id(self, queryset: QuerySet, key: str, value: str, params) -> int:
        return self.resolve(queryset.only("pk"), key, value, params).pk


CATEGORY_LOOKUP = Lookup(
    entity="Category",
    keys={
        "id": LookupKind(field="pk"),
        "sourceId": LookupKind(
            field="sources__source_id", companion="source", companion_field="sources__source"
        ),
    },
    not_found=Code.CATEGORY_NOT_FOUND,
    multiple_found=Code.CATEGORY_MULTIPLE_FOUND,
)


PRODUCT_LOOKUP = Lookup(
    entity="Product",
    keys={
        "id": LookupKind(field="pk"),
        "sourceId": LookupKind(
            field="sources__source_id", companion="source", companion_field="sources__source"
        ),
        "sku": LookupKind(field="sku", unique=False),
        "supplierCode": LookupKind(
            field="supplier_code", companion="supplier", companion_field="supplier", unique=False
        ),
    },
    not_found=Code.PRODUCT_NOT_FOUND,
    multiple_found=Code.PRODUCT_MULTIPLE_FOUND,
)


@dataclass(frozen=True)
class _Fixed:
    value: object


_SENTINELS = {"value": "\x00lookup-value\x00", "companion": "\x00lookup-companion\x00"}
_ID_SENTINEL = -918273645
_COMPILED: dict[tuple, tuple[str, list, type[Model]]] = {}


def _compiled(lookup: Lookup, queryset_factory, key: str) -> tuple[str, list, type[Model]]:
    """SQL of queryset_factory().filter(<key lookup>)[:2] with slots for the looked-up values."""
    cache_key = (lookup.entity, queryset_factory.__qualname__, key)
    if cache_key not in _COMPILED:
        kind = lookup.keys[key]
        if key == "id":
            condition = Q(pk=_ID_SENTINEL)
        elif kind.companion:
            condition = Q(
                **{kind.field: _SENTINELS["value"], kind.companion_field: _SENTINELS["companion"]}
            )
        else:
            condition = Q(**{kind.field: _SENTINELS["value"]})
        queryset = queryset_factory()
        sql, sql_params = queryset.filter(condition)[:2].query.sql_with_params()
        slots = []
        for param in sql_params:
            if param == _ID_SENTINEL or param == _SENTINELS["value"]:
                slots.append("value")
            elif param == _SENTINELS["companion"]:
                slots.append("companion")
            else:
                slots.append(_Fixed(param))
        _COMPILED[cache_key] = (sql, slots, queryset.model)
    return _COMPILED[cache_key]
