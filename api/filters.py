"""Search and list parameters: one FilterSet per resource serves GET queries and POST bodies."""

from dataclasses import dataclass

import django_filters
import orjson
from django.db.models import F, Q

from api.envelope import Page, parse_page
from api.exceptions import ApiError
from api.inputs import checked_query, checked_search_body
from api.params import parse_expands, response_language
from catalogue.errors import Code
from catalogue.localized import language_codes
from catalogue.models import ProductAncestor, ProductCategory, ProductStatus
from catalogue.selectors import terms
from catalogue.selectors.terms import term_filter

CONTROL_PARAMS = {"page", "offset", "sort", "language", "expands"}
RANGE_FILTERS = ("createdAt", "lastModifiedAt")


class CSVInFilter(django_filters.BaseInFilter):
    pass


class NumberInFilter(django_filters.BaseInFilter, django_filters.NumberFilter):
    pass


class YesNoFilter(django_filters.ChoiceFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, choices=[("Y", "Y"), ("N", "N")], **kwargs)

    def filter(self, qs, value):
        if value in ("", None):
            return qs
        return qs.filter(**{self.field_name: value == "Y"})


class CatalogueFilterSet(django_filters.FilterSet):
    """Filters every resource has: ids, sources, date ranges, term."""

    ids = NumberInFilter(field_name="pk", lookup_expr="in")
    sources = django_filters.CharFilter(method="filter_sources")
    createdAtFrom = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    createdAtTo = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    lastModifiedAtFrom = django_filters.IsoDateTimeFilter(
        field_name="last_modified_at", lookup_expr="gte"
    )
    lastModifiedAtTo = django_filters.IsoDateTimeFilter(
        field_name="last_modified_at", lookup_expr="lt"
    )
    term = django_filters.CharFilter(method="filter_term")

    # The records' term search (catalogue/selectors/terms.py) and sort fields.
    searched: terms.Searched
    sort_fields: dict[str, str] = {}

    def filter_sources(self, queryset, name, value):
        groups = orjson.loads(value)
        if not groups:
            return queryset
        condition = Q()
        for group in groups:
            condition |= Q(source=group["source"], source_id__in=group["sourceIds"])
        # Owners straight from the sources table: a join back to the records made PostgreSQL
        # choose nested loops over every record when the tables had no statistics yet.
        source_model = queryset.model._meta.get_field("sources").related_model
        return queryset.filter(pk__in=source_model.objects.filter(condition).values("owner_id"))

    def filter_term(self, queryset, name, value):
        if not value.strip():
            return queryset
        return term_filter(queryset, value, self.searched, getattr(self, "language", None))


@dataclass
class SearchParams:
    filters: dict[str, str]
    sort: list[tuple[str, bool]]
    page: Page
    language: str | None
    expands: set[str]


def _csv(value) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)


def _sort_from_query(value: str) -> list[tuple[str, bool]]:
    result = []
    for part in value.split(","):
        part = part.strip()
        if part:
            result.append((part.lstrip("-+"), part.startswith("-")))
    return result


def _sort_from_body(value) -> list[tuple[str, bool]]:
    if isinstance(value, str):
        return _sort_from_query(value)
    if not isinstance(value, list):
        raise ApiError(Code.SCHEMA_VALIDATION, "sort: must be an array of {field, order}")
    result = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("field"), str):
            raise ApiError(Code.SCHEMA_VALIDATION, f"sort[{index}].field: required")
        order = str(item.get("order", "ASC")).upper()
        if order not in ("ASC", "DESC"):
            raise ApiError(Code.SCHEMA_VALIDATION, f"sort[{index}].order: must be ASC or DESC")
        result.append((item["field"], order == "DESC"))
    return result


def params_from_query(query, filterset_class, expands_allowed: set[str]) -> SearchParams:
    """Read a GET list's query string."""
    query = checked_query(query, filterset_class)
    filters: dict[str, str] = {}
    sources = None
    for key in query:
        value = query.get(key)
        if key in CONTROL_PARAMS:
            continue
        if key == "source":
            sources = sources or {}
            sources["source"] = value
        elif key == "sourceIds":
            sources = sources or {}
            sources["sourceIds"] = [v for v in value.split(",") if v]
        else:
            filters[key] = value
    if sources is not None:
        if "source" not in sources or "sourceIds" not in sources:
            raise ApiError(Code.SCHEMA_VALIDATION, "source and sourceIds: give both")
        filters["sources"] = orjson.dumps([sources]).decode()
    return _finish(
        filters,
        _sort_from_query(query.get("sort", "")),
        parse_page(query.get("page"), query.get("offset")),
        query.get("language"),
        query.get("expands"),
        filterset_class,
        expands_allowed,
    )


def params_from_body(body, filterset_class, expands_allowed: set[str]) -> SearchParams:
    """Read a POST …/search body: {filters, sort, page, offset, language, expands}."""
    if not isinstance(body, dict):
        raise ApiError(Code.INVALID_JSON_PAYLOAD, "Request body must be a JSON object")
    body = checked_search_body(body, filterset_class)
    unknown = sorted(set(body) - {"filters", *CONTROL_PARAMS})
    if unknown:
        raise ApiError(Code.SCHEMA_VALIDATION, f"{unknown[0]}: unknown field")
    raw_filters = body.get("filters")
    if raw_filters is None:
        raw_filters = {}
    if not isinstance(raw_filters, dict):
        raise ApiError(Code.SCHEMA_VALIDATION, "filters: must be an object")
    filters: dict[str, str] = {}
    language = body.get("language")
    expands = body.get("expands")
    for key, value in raw_filters.items():
        if key in RANGE_FILTERS:
            if not isinstance(value, dict) or set(value) - {"from", "to"}:
                raise ApiError(Code.SCHEMA_VALIDATION, f"filters.{key}: must be {{from, to}}")
            for end in ("from", "to"):
                if value.get(end) is not None:
                    filters[f"{key}{end.capitalize()}"] = str(value[end])
        elif key == "sources":
            filters["sources"] = _sources_body(value)
        elif key == "language":
            language = value
        elif key == "expands":
            expands = value
        elif value is not None:
            filters[key] = _csv(value)
    return _finish(
        filters,
        _sort_from_body(body.get("sort") or []),
        parse_page(body.get("page"), body.get("offset")),
        language,
        expands,
        filterset_class,
        expands_allowed,
    )


def _sources_body(value) -> str:
    ok = isinstance(value, list) and all(
        isinstance(g, dict)
        and isinstance(g.get("source"), str)
        and isinstance(g.get("sourceIds"), list)
        and all(isinstance(s, str) for s in g["sourceIds"])
        for g in value
    )
    if not ok:
        raise ApiError(
            Code.SCHEMA_VALIDATION, "filters.sources: must be [{source, sourceIds: [...]}]"
        )
    return orjson.dumps(value).decode()


def _finish(filters, sort, page, language, expands, filterset_class, expands_allowed):
    allowed = set(filterset_class.base_filters)
    unknown = sorted(set(filters) - allowed)
    if unknown:
        raise ApiError(Code.SCHEMA_VALIDATION, f"{unknown[0]}: unknown filter")
    for field, _ in sort:
        if field not in filterset_class.sort_fields:
            raise ApiError(
                Code.SCHEMA_VALIDATION,
                f"sort: unknown field {field} (allowed: {', '.join(filterset_class.sort_fields)})",
            )
    return SearchParams(
        filters=filters,
        sort=sort,
        page=page,
        language=response_language(language),
        expands=parse_expands(expands, expands_allowed),
    )


def _valid_filterset(queryset, params: SearchParams, filterset_class):
    filterset = filterset_class(data=params.filters, queryset=queryset)
    filterset.language = params.language  # the term's whole-word matches in it rank first
    if not filterset.is_valid():
        field, errors = next(iter(filterset.errors.items()))
        raise ApiError(Code.SCHEMA_VALIDATION, f"{field}: {' '.join(errors)}")
    return filterset


def cleaned_filters(queryset, params: SearchParams, filterset_class) -> dict:
    """The filter values parsed and checked (dates, numbers, choices), or a 400."""
    return _valid_filterset(queryset, params, filterset_class).form.cleaned_data


def apply_search(queryset, params: SearchParams, filterset_class):
    """Filter and order a queryset; ordering always ends with id so pages are stable."""
    queryset = _valid_filterset(queryset, params, filterset_class).qs
    ordering = []
    language = (params.language or language_codes()[0]).lower()
    for field, descending in params.sort:
        column = filterset_class.sort_fields[field].format(language=language)
        ordering.append(_order(queryset.model, column, descending))
    if not params.sort and "relevance" in queryset.query.annotations:
        ordering.append(F("relevance").desc())
    if not any(field == "id" for field, _ in params.sort):
        # The tie-breaker follows the last sort direction, so one index serves the whole order.
        descending = params.sort[-1][1] if params.sort else False
        ordering.append(F("id").desc() if descending else F("id").asc())
    return queryset.order_by(*ordering)


def _order(model, column: str, descending: bool):
    # Nulls last only where a column can hold them: NULLS LAST on a NOT NULL column would
    # stop PostgreSQL from reading the order off an index.
    nullable = model._meta.get_field(column).null
    if descending:
        return F(column).desc(nulls_last=True) if nullable else F(column).desc()
    # Ascending order already puts nulls last in PostgreSQL (and Django accepts only
    # nulls_first=True or None here).
    return F(column).asc()


class CategoryFilterSet(CatalogueFilterSet):
    searched = terms.CATEGORIES
    parentIds = NumberInFilter(field_name="parent_id", lookup_expr="in")
    clusterIds = NumberInFilter(method="filter_clusters")
    hidden = YesNoFilter(field_name="hidden")
    level = django_filters.NumberFilter(field_name="level")

    sort_fields = {
        "id": "id",
        "createdAt": "created_at",
        "lastModifiedAt": "last_modified_at",
        "name": "name_{language}",
        "priority": "priority",
    }

    class Meta:
        fields: list[str] = []

    def filter_clusters(self, queryset, name, value):
        """Categories the clusters are in."""
        if not value:
            return queryset
        from catalogue.models import ClusterCategory

        links = ClusterCategory.objects.filter(cluster_id__in=[int(v) for v in value])
        return queryset.filter(pk__in=links.values("category_id"))


class CharInFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    pass


class ChoiceInFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    pass


def with_descendants(filters: dict) -> bool:
    """Whether a categoryIds filter takes in the categories' descendants (the default)."""
    return filters.get("categoryDescendants", "Y") not in ("N", "false", "False", "0")


class ProductFilterSet(CatalogueFilterSet):
    searched = terms.PRODUCTS
    skus = CharInFilter(field_name="sku", lookup_expr="in")
    supplierCodes = CharInFilter(field_name="supplier_code", lookup_expr="in")
    suppliers = CharInFilter(field_name="supplier", lookup_expr="in")
    manufacturers = CharInFilter(field_name="manufacturer", lookup_expr="in")
    eanCodes = CharInFilter(field_name="ean_code", lookup_expr="in")
    statuses = ChoiceInFilter(field_name="status", choices=ProductStatus.choices)
    categoryIds = NumberInFilter(method="filter_categories")
    # Y/N like every flag, and true/false.
    categoryDescendants = django_filters.ChoiceFilter(
        method="filter_noop", choices=[(v, v) for v in ("Y", "N", "true", "false")]
    )
    clusterIds = NumberInFilter(field_name="cluster_id", lookup_expr="in")
    hidden = YesNoFilter(field_name="hidden")

    sort_fields = {
        "id": "id",
        "createdAt": "created_at",
        "lastModifiedAt": "last_modified_at",
        "name": "name_{language}",
        "sku": "sku",
        "priority": "priority",
        "status": "status",
        "supplier": "supplier",
        "manufacturer": "manufacturer",
    }

    class Meta:
        fields: list[str] = []

    def filter_noop(self, queryset, name, value):
        return queryset

    def filter_categories(self, queryset, name, value):
        if not value:
            return queryset
        ids = [int(v) for v in value]
        # Products below a category come from ProductAncestor, those in it from memberships.
        below = ProductAncestor if with_descendants(self.data) else ProductCategory
        links = below.objects.filter(category_id__in=ids)
        return queryset.filter(pk__in=links.values("product_id"))


class ClusterConfigFilterSet(django_filters.FilterSet):
    """Cluster configs have no localized names and no sources."""

    ids = NumberInFilter(field_name="pk", lookup_expr="in")
    names = CharInFilter(field_name="name", lookup_expr="in")
    createdAtFrom = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    createdAtTo = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    lastModifiedAtFrom = django_filters.IsoDateTimeFilter(
        field_name="last_modified_at", lookup_expr="gte"
    )
    lastModifiedAtTo = django_filters.IsoDateTimeFilter(
        field_name="last_modified_at", lookup_expr="lt"
    )
    term = django_filters.CharFilter(method="filter_term")

    sort_fields = {
        "id": "id",
        "createdAt": "created_at",
        "lastModifiedAt": "last_modified_at",
        "name": "name",
    }

    class Meta:
        fields: list[str] = []

    def filter_term(self, queryset, name, value):
        term = value.strip()
        if not term:
            return queryset
        return queryset.filter(name__icontains=term)


class ClusterFilterSet(CatalogueFilterSet):
    searched = terms.CLUSTERS
    codes = CharInFilter(field_name="code", lookup_expr="in")
    categoryIds = NumberInFilter(method="filter_categories")
    categoryDescendants = django_filters.ChoiceFilter(
        method="filter_noop", choices=[(v, v) for v in ("Y", "N", "true", "false")]
    )
    clusterConfigIds = NumberInFilter(field_name="config_id", lookup_expr="in")
    hidden = YesNoFilter(field_name="hidden")

    sort_fields = {
        "id": "id",
        "createdAt": "created_at",
        "lastModifiedAt": "last_modified_at",
        "name": "name_{language}",
        "code": "code",
        "priority": "priority",
    }

    class Meta:
        fields: list[str] = []

    def filter_noop(self, queryset, name, value):
        return queryset

    def filter_categories(self, queryset, name, value):
        if not value:
            return queryset
        from catalogue.models import ClusterAncestor, ClusterCategory

        ids = [int(v) for v in value]
        # Clusters below a category come from ClusterAncestor, those in it from memberships.
        below = ClusterAncestor if with_descendants(self.data) else ClusterCategory
        return queryset.filter(
            pk__in=below.objects.filter(category_id__in=ids).values("cluster_id")
        )


class ClusterOptionFilterSet(CatalogueFilterSet):
    searched = terms.OPTIONS
    clusterIds = NumberInFilter(field_name="cluster_id", lookup_expr="in")
    hidden = YesNoFilter(field_name="hidden")
    isRequired = YesNoFilter(field_name="is_required")

    sort_fields = {
        "id": "id",
        "createdAt": "created_at",
        "lastModifiedAt": "last_modified_at",
        "name": "name_{language}",
        "sortOrder": "sort_order",
    }

    class Meta:
        fields: list[str] = []
