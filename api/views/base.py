"""The base of every resource view: envelope helpers, rate-limit headers, conditional GETs."""

from django.http import HttpResponseNotModified
from rest_framework import viewsets

from api.exceptions import ApiError
from catalogue.errors import Code
from catalogue.models.base import record_etag


class ResourceViewSet(viewsets.ViewSet):
    scope_entity: str | None = None
    read_actions: tuple[str, ...] = ("search",)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        limit = getattr(request, "rate_limit", None)
        if limit is not None:
            response["X-RateLimit-Limit"] = str(limit[0])
            response["X-RateLimit-Remaining"] = str(limit[1])
        return response

    def body(self) -> dict:
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
