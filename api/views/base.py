"""The views every resource gets from its declaration.

`RecordViewSet` implements list, search, export, read, create, update, delete, translation
removal and bulk upsert/delete once; a resource's viewset names its `Resource` and adds only
its own actions. The router (api/routers.py) derives the routes and the schema class
(api/schema.py) the OpenAPI operations from the same declaration.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import transaction
from django.http import HttpResponseNotModified
from rest_framework import viewsets
from rest_framework.decorators import action

from api import idempotency
from api.bulk import BulkKey, build_items, read_bulk_request, results_response
from api.envelope import done, paged, single
from api.etags import check_if_match, etag, matches_weakly, record_etag
from api.exceptions import ApiError
from api.export import export_response
from api.filters import apply_search, cleaned_filters, params_from_body, params_from_query
from api.params import parse_expands, response_language
from api.parsers import reject_empty_body
from api.resources.base import Resource, language_code
from api.structs import convert
from catalogue.errors import Code
from catalogue.selectors.terms import term_page

TRANSLATION_PATH = r"translation/(?P<language>[^/]+)"
BULK_PATH = r"bulk/(?P<key>[^/]+)"


class ApiViewSet(viewsets.ViewSet):
    """Idempotency-Key on POST and the rate-limit headers, for every API view."""

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


class RecordViewSet(ApiViewSet):
    """Every standard endpoint of a resource, from its declaration."""

    resource: Resource
    # Actions whose body is a bulk of items built by build_items.
    bulk_actions: tuple[str, ...] = ("bulk_upsert", "bulk_delete")

    @property
    def checks_text_per_item(self) -> bool:
        """Bulk bodies are checked item by item (build_items), so one bad item fails alone."""
        return getattr(self, "action", None) in self.bulk_actions

    @classmethod
    def get_extra_actions(cls):
        """The resource's own actions, and the standard ones it declares."""
        declared = cls.resource.actions
        standard = {"search", "export", "remove_translation", "bulk_upsert", "bulk_delete"}
        return [
            extra
            for extra in super().get_extra_actions()
            if extra.__name__ not in standard or extra.__name__ in declared
        ]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "resource" in cls.__dict__:
            cls.scope_entity = cls.resource.scope

    # Reads -------------------------------------------------------------------------------
    def list(self, request):
        resource = self.resource
        params = params_from_query(request.query_params, resource.filterset, resource.expands)
        return self.search_response(params)

    @action(detail=False, methods=["post"])
    def search(self, request):
        resource = self.resource
        params = params_from_body(self.body(), resource.filterset, resource.expands)
        return self.search_response(params)

    def search_response(self, params):
        items_found, ids = self.page_ids(params)
        return paged(self.page_rows(ids, params), params.page, items_found)

    def page_ids(self, params) -> tuple[int, list[int]]:
        """All matches and the ids on the requested page, in order."""
        filterset = self.resource.filterset
        searched = getattr(filterset, "searched", None)
        if searched is not None and set(params.filters) == {"term"} and not params.sort:
            term = cleaned_filters(self.resource.model.objects.none(), params, filterset)["term"]
            if term.strip():
                # A plain text search is counted and paged on the narrow search table alone.
                return term_page(
                    searched, term, params.language, params.page.first_index, params.page.size
                )
        queryset = apply_search(self.resource.model.objects.all(), params, filterset)
        items_found = queryset.count()
        start = params.page.first_index
        if start >= items_found:
            return items_found, []
        return items_found, list(
            queryset.values_list("pk", flat=True)[start : start + params.page.size]
        )

    def page_rows(self, ids: list[int], params) -> list:
        """The page's records in order. Only the page's rows are loaded with their related
        data, so a deep page does not compute related data for every row it skips."""
        by_id = self.resource.queryset().in_bulk(ids) if ids else {}
        records = [by_id[pk] for pk in ids if pk in by_id]
        return self.resource.present(records, language=params.language, expands=params.expands)

    @action(detail=False, methods=["get"])
    def export(self, request):
        resource = self.resource
        params = params_from_query(request.query_params, resource.filterset, resource.expands)
        queryset = apply_search(resource.queryset(), params, resource.filterset)
        return export_response(queryset, resource.present, params)

    def retrieve(self, request, key, value):
        resource = self.resource
        language = response_language(request.query_params.get("language"))
        expands = parse_expands(request.query_params.get("expands"), resource.expands)
        record = resource.lookup.resolve_compiled(
            resource.queryset, key, value, request.query_params
        )
        current = record_etag(record)
        wanted = request.headers.get("If-None-Match")
        if wanted is not None and matches_weakly(wanted, current):
            response = HttpResponseNotModified()
            response["ETag"] = current
            return response
        row = resource.present([record], language=language, expands=expands)[0]
        return single(row, f"{resource.title} found", headers={"ETag": current})

    # Writes ------------------------------------------------------------------------------
    def resolve_id(self, key, value) -> int:
        resource = self.resource
        return resource.lookup.resolve_id(
            resource.model.objects, key, value, self.request.query_params
        )

    def create(self, request):
        resource = self.resource
        changes = resource.changes(convert(self.body(), resource.write_struct))
        record_id = resource.writes.create(changes=changes)
        return self.written(record_id, f"{resource.title} created", status=201)

    def partial_update(self, request, key, value):
        resource = self.resource
        record_id = self.resolve_id(key, value)
        changes = resource.changes(convert(self.body(), resource.write_struct))
        with self.precondition(record_id):
            resource.writes.update(record_id=record_id, changes=changes)
        return self.written(record_id, f"{resource.title} updated")

    def destroy(self, request, key, value):
        record_id = self.resolve_id(key, value)
        with self.precondition(record_id):
            self.resource.writes.delete(record_id=record_id)
        return done(f"{self.resource.title} deleted")

    @action(detail=True, methods=["delete"], url_path=TRANSLATION_PATH)
    def remove_translation(self, request, key, value, language):
        record_id = self.resolve_id(key, value)
        code = language_code(language, "language")
        with self.precondition(record_id):
            self.resource.writes.remove_translation(record_id=record_id, language=code)
        return done("Translation deleted")

    @contextmanager
    def precondition(self, record_id: int, spec=None):
        """A transaction in which, with If-Match, the record (of this resource, or of `spec`)
        is first locked and its ETag checked."""
        spec = spec or self.resource.spec
        header = self.request.headers.get("If-Match")
        with transaction.atomic():
            if header is not None:
                stamp = (
                    spec.model.objects.filter(pk=record_id)
                    .select_for_update(no_key=True)
                    .values_list("last_modified_at", flat=True)
                    .first()
                )
                if stamp is None:
                    raise spec.not_found_error(f"id [{record_id}]")
                check_if_match(header, etag(record_id, stamp))
            yield

    def written(self, record_id, message, status=200):
        record = self.resource.queryset().get(pk=record_id)
        row = self.resource.present([record])[0]
        return single(row, message, status=status, headers={"ETag": record_etag(record)})

    # Bulk --------------------------------------------------------------------------------
    def bulk_key(self, lookup_key: str) -> BulkKey:
        fields = self.resource.bulk_keys.get(lookup_key)
        if fields is None:
            raise ApiError(
                Code.INVALID_LOOKUP_KEY,
                f"Lookup key [{lookup_key}] is not supported for {self.resource.name} bulk "
                f"(use {', '.join(self.resource.bulk_keys)})",
            )
        return BulkKey(fields)

    @action(detail=False, methods=["post"], url_path=BULK_PATH)
    def bulk_upsert(self, request, key):
        return self.bulk(request, key, upsert=True)

    @action(detail=False, methods=["post"], url_path=f"{BULK_PATH}/delete")
    def bulk_delete(self, request, key):
        return self.bulk(request, key, upsert=False)

    def bulk(self, request, key, *, upsert: bool):
        """Read the request as a whole, each item on its own; one result per item."""
        resource = self.resource
        bulk_key = self.bulk_key(key)
        bulk = read_bulk_request(
            request,
            resource=resource.name,
            limit=resource.bulk_limit,
            field_names=resource.directive_fields if upsert else {},
            with_directives=upsert,
        )
        items = build_items(
            bulk.raw_items,
            lookup_key=key,
            key=bulk_key,
            struct=resource.write_struct if upsert else None,
            to_changes=resource.changes if upsert else None,
        )
        flags = {"dry_run": bulk.dry_run, "atomic": bulk.atomic}
        if upsert:
            resource.writes.bulk_upsert(
                items=items, lookup_key=key, directives=bulk.directives, **flags
            )
        else:
            resource.writes.bulk_delete(items=items, lookup_key=key, **flags)
        return results_response(items, key, bulk.dry_run)
