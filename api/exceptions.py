"""One exception handler: every /v2/ error leaves in the error envelope."""

import logging

import psycopg
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import Error
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response

from api.errors import http_status
from api.unavailable import MESSAGE, database_unavailable
from catalogue.errors import CatalogueError, Code

logger = logging.getLogger("api")


class ApiError(exceptions.APIException):
    """An error raised in the API layer that carries a contract error code."""

    def __init__(
        self, code: Code, *messages: str, headers: dict | None = None, status: int | None = None
    ):
        self.code = code
        self.messages = list(messages) or [code.type_name]
        self.headers = headers or {}
        # The contract pins a few code/status pairs that differ from the code's usual status.
        self.status_code = status or http_status(code)
        super().__init__("; ".join(self.messages))


class Replay(Exception):
    """Raised to answer with a stored response instead of running the request again."""

    def __init__(self, response):
        self.response = response
        super().__init__("idempotent replay")


def error_body(code: Code, messages: list[str], status: int | None = None) -> dict:
    return {
        "error": {
            "code": code.number,
            "status": status or http_status(code),
            "type": code.type_name,
            "messages": messages,
            "moreInfo": f"/v2/docs/errors#{code.number}",
        }
    }


def error_json_response(code: Code, *messages: str) -> JsonResponse:
    """Return the error envelope from plain Django code (middleware, URL handlers)."""
    return JsonResponse(
        error_body(code, list(messages) or [code.type_name]), status=http_status(code)
    )


def _messages(detail) -> list[str]:
    if isinstance(detail, list):
        return [m for item in detail for m in _messages(item)]
    if isinstance(detail, dict):
        return [f"{key}: {m}" for key, value in detail.items() for m in _messages(value)]
    return [str(detail)]


_DRF_CODES: list[tuple[type[Exception], Code]] = [
    (exceptions.NotAuthenticated, Code.AUTHENTICATION_FAILED),
    (exceptions.AuthenticationFailed, Code.AUTHENTICATION_FAILED),
    (exceptions.PermissionDenied, Code.INSUFFICIENT_SCOPE),
    (exceptions.MethodNotAllowed, Code.METHOD_NOT_ALLOWED),
    (exceptions.ParseError, Code.INVALID_JSON_PAYLOAD),
    (exceptions.UnsupportedMediaType, Code.UNSUPPORTED_MEDIA_TYPE),
    (exceptions.NotAcceptable, Code.UNSUPPORTED_MEDIA_TYPE),
    (exceptions.Throttled, Code.THROTTLED),
    (exceptions.NotFound, Code.NOT_FOUND),
    (exceptions.ValidationError, Code.SCHEMA_VALIDATION),
]


def _database_failure(exc) -> tuple[str, dict[str, str]] | None:
    """(message, headers) for a 503 when the database stopped a statement or cannot be
    reached; None for any other database error."""
    if not isinstance(exc, Error):
        return None
    cause = exc.__cause__
    if isinstance(cause, psycopg.errors.QueryCanceled):
        return (
            "The request took too long and was stopped by the server's time limit; "
            "narrow it (fewer filter values, a smaller page) or try again later",
            {},
        )
    if database_unavailable(exc):
        return MESSAGE, {"Retry-After": "1"}
    return None


def exception_handler(exc, context):
    if isinstance(exc, Replay):
        return exc.response
    headers: dict[str, str] = {}
    status = None
    if isinstance(exc, ApiError):
        status = exc.status_code
    if isinstance(exc, ApiError | CatalogueError):
        code, messages = exc.code, exc.messages
        headers.update(getattr(exc, "headers", {}))
    elif isinstance(exc, Http404):
        code, messages = Code.NOT_FOUND, ["Resource not found"]
    elif isinstance(exc, DjangoPermissionDenied):
        code, messages = Code.INSUFFICIENT_SCOPE, ["Permission denied"]
    elif isinstance(exc, RequestDataTooBig):
        code, messages = Code.PAYLOAD_TOO_LARGE, ["Request body is too large"]
    elif (failure := _database_failure(exc)) is not None:
        logger.warning("Database failure: %s", exc)
        code, messages, status = Code.INTERNAL_ERROR, [failure[0]], 503
        headers.update(failure[1])
    elif isinstance(exc, exceptions.APIException):
        code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), Code.INTERNAL_ERROR)
        messages = _messages(exc.detail)
        if code is Code.INTERNAL_ERROR:
            logger.error("Unmapped API exception %r", exc)
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
        if isinstance(exc, exceptions.ParseError):
            messages = [f"Request body is not valid JSON: {exc.detail}"]
    else:
        logger.exception("Unhandled error", exc_info=exc)
        code, messages = Code.INTERNAL_ERROR, ["Internal server error"]
    if code is Code.AUTHENTICATION_FAILED:
        request = context.get("request")
        view = context.get("view")
        auth_header = view.get_authenticate_header(request) if view and request else None
        headers["WWW-Authenticate"] = auth_header or 'Bearer realm="catalogue"'
    status = status or http_status(code)
    return Response(error_body(code, messages, status), status=status, headers=headers)
