"""The base of every resource view: envelope helpers, rate-limit headers, conditional GETs."""

from __future__ import annotations

from django.http import HttpResponseNotModified
from rest_framework import viewsets

from api import idempotency
from api.envelope import done, paged, single
from api.exceptions import ApiError
from api.export import export_response
from api.filters import apply_search, params_from_body, params_from_query
from api.parsers import reject_empty_body
from api.serializers.common import convert, language_code
from api.serializers.read import parse_expands, response_language
from catalogue.errors import Code
from catalogue.models.base import record_etag


class ResourceViewSet(viewsets.ViewSet):
    scope_entity: str | None = None
    read_actions: tuple[str, ...] = ("search",)

    def initial(self, request, *args, **kwargs):
        self.idempotency_claim = None
        super().initial(request, *args, **kwargs)
        if request.method == "POST" and getattr(request.user, "is_authenticated", False):
            self.idempotency_claim = idempotency.begin(request._request, request.user.client_id)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        limit = getattr(request, "rate_limit", None)
        if limit is not None:
            response["X-RateLimit-Limit"] = str(limit[0])
            response["X-RateLimit-Remaining"] = str(limit[1])
        claim = getattr(self, "idempotency_claim", None)
        if claim is not None:
            idempotency.finish(claim, response)
        return response

    def body(self) -> dict:
        reject_empty_body(self.request)
        data = self.request.data
        if not isinstance(data, dict):
            raise ApiError(Code.INVALID_JSON_PAYLOAD, "Request body must be a JSON object")
        return data

    @property
    def if_match(self) -> str | None:
        return self.request.headers.get("If-Match")

    def not_modified(self, record):
        """Return a 304 when If-None-Match names the record's current ETag."""
        wanted = self.request.headers.get("If-None-Match")
        if wanted is None:
            return None
        etag = record_etag(record)
        tags = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
        if etag in tags or "*" in tags:
            response = HttpResponseNotModified()
            response["ETag"] = etag
            return response
        return None


class RecordViewSet(ResourceViewSet):
    """List, search, export, read, create, update, delete and translation removal of a record.

    A resource sets the class attributes below and inherits the endpoints; every endpoint
    behaves the same for every resource.
    """

    entity: str
    lookup = None
    filterset_class = None
    expands: set[str] = set()
    write_struct = None

    def get_queryset(self):
        raise NotImplementedError

    def present(self, records, *, language=None, expands=frozenset()) -> list[dict]:
        raise NotImplementedError

    def changes(self, item):
        raise NotImplementedError

    def perform_create(self, changes):
        raise NotImplementedError

    def perform_update(self, record_id, changes, if_match):
        raise NotImplementedError

    def perform_destroy(self, record_id, if_match):
        raise NotImplementedError

    def perform_remove_translation(self, record_id, language, if_match):
        raise NotImplementedError

    # Reads -------------------------------------------------------------------------------
    def list(self, request):
        params = params_from_query(request.query_params, self.filterset_class, self.expands)
        return self.search_response(params)

    def search(self, request):
        params = params_from_body(self.body(), self.filterset_class, self.expands)
        return self.search_response(params)

    def search_response(self, params):
        items_found, ids = self.page_ids(params)
        return paged(self.page_rows(ids, params), params.page, items_found)

    def page_rows(self, ids: list[int], params) -> list:
        """The page's records in order. Only the page's rows are loaded with their related
        data, so a deep page does not compute related data for every row it skips."""
        by_id = self.get_queryset().in_bulk(ids) if ids else {}
        records = [by_id[pk] for pk in ids if pk in by_id]
        return self.present(records, language=params.language, expands=params.expands)

    def page_ids(self, params) -> tuple[int, list[int]]:
        """All matches and the ids on the requested page, in order."""
        queryset = apply_search(self.get_queryset(), params, self.filterset_class)
        items_found = queryset.count()
        start = params.page.first_index
        if start >= items_found:
            return items_found, []
        return items_found, list(
            queryset.values_list("pk", flat=True)[start : start + params.page.size]
        )

    def export(self, request):
        params = params_from_query(request.query_params, self.filterset_class, self.expands)
        queryset = apply_search(self.get_queryset(), params, self.filterset_class)
        return export_response(queryset, self.present, params)

    def retrieve(self, request, key, value):
        language = response_language(request.query_params.get("language"))
        expands = parse_expands(request.query_params.get("expands"), self.expands)
        record = self.lookup.resolve_compiled(self.get_queryset, key, value, request.query_params)
        not_modified = self.not_modified(record)
        if not_modified is not None:
            return not_modified
        row = self.present([record], language=language, expands=expands)[0]
        return single(row, f"{self.entity} found", headers={"ETag": record_etag(record)})

    # Writes ------------------------------------------------------------------------------
    def resolve_id(self, key, value) -> int:
        model = self.get_queryset().model
        return self.lookup.resolve_id(model.objects, key, value, self.request.query_params)

    def create(self, request):
        item = convert(self.body(), self.write_struct)
        record = self.perform_create(self.changes(item))
        return self.written(record.pk, f"{self.entity} created", status=201)

    def partial_update(self, request, key, value):
        record_id = self.resolve_id(key, value)
        item = convert(self.body(), self.write_struct)
        self.perform_update(record_id, self.changes(item), self.if_match)
        return self.written(record_id, f"{self.entity} updated")

    def destroy(self, request, key, value):
        self.perform_destroy(self.resolve_id(key, value), self.if_match)
        return done(f"{self.entity} deleted")

    def remove_translation(self, request, key, value, language):
        record_id = self.resolve_id(key, value)
        self.perform_remove_translation(
            record_id, language_code(language, "language"), self.if_match
        )
        return done("Translation deleted")

    def written(self, record_id, message, status=200):
        record = self.get_queryset().get(pk=record_id)
        row = self.present([record])[0]
        return single(row, message, status=status, headers={"ETag": record_etag(record)})
