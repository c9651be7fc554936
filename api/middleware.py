"""Request ids, body and text limits: what is checked before a request reaches a view."""

import io
import logging
import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")


def _request_id(incoming: str) -> str:
    # Echo a caller's id only when it is safe to put in a header and a log line.
    return incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = _request_id(request.headers.get(REQUEST_ID_HEADER, ""))
        request.request_id = request_id
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class BodySizeLimitMiddleware:
    """Refuse API bodies over MAX_REQUEST_BYTES before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings

        from api.exceptions import error_json_response
        from catalogue.errors import Code

        length = request.META.get("CONTENT_LENGTH") or "0"
        too_large = length.isdigit() and int(length) > settings.MAX_REQUEST_BYTES
        if too_large and request.path.startswith("/v2/"):
            return error_json_response(
                Code.PAYLOAD_TOO_LARGE,
                f"Request body of {length} bytes exceeds {settings.MAX_REQUEST_BYTES} bytes",
            )
        return self.get_response(request)


class UnstorableTextMiddleware:
    """Refuse /v2/ paths and query parameters holding text PostgreSQL cannot store (400).

    A NUL in a lookup value or filter would otherwise fail inside the query as a 500.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/v2/"):
            from api.exceptions import error_json_response
            from api.inputs import query_problem, text_problem
            from catalogue.errors import Code

            if problem := text_problem(request.path):
                return error_json_response(Code.SCHEMA_VALIDATION, f"path: {problem}")
            if problem := query_problem(request.GET):
                return error_json_response(Code.SCHEMA_VALIDATION, problem)
        return self.get_response(request)


class TerminatedInputMiddleware:
    """WSGI middleware: give Django the body of a request sent without Content-Length.

    A chunked request reaches the application with no CONTENT_LENGTH; the server has
    de-chunked it and marks its input `wsgi.input_terminated` (readable to its end). Django
    reads CONTENT_LENGTH bytes only, so such a body would look empty. The body is read here,
    up to MAX_REQUEST_BYTES (a longer one gets 413), and handed on with its length.
    """

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and environ.get("wsgi.input_terminated") and not environ.get("CONTENT_LENGTH"):
            from django.conf import settings

            limit = settings.MAX_REQUEST_BYTES
            stream = environ["wsgi.input"]
            chunks, size = [], 0
            while size <= limit:
                chunk = stream.read(min(65536, limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            if size > limit:
                return self._too_large(environ, start_response, limit)
            if size:
                environ["wsgi.input"] = io.BytesIO(b"".join(chunks))
                environ["CONTENT_LENGTH"] = str(size)
        return self.application(environ, start_response)

    @staticmethod
    def _too_large(environ, start_response, limit: int):
        import orjson

        from api.exceptions import error_body
        from catalogue.errors import Code

        body = orjson.dumps(
            error_body(Code.PAYLOAD_TOO_LARGE, [f"Request body exceeds {limit} bytes"])
        )
        start_response(
            "413 Content Too Large",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Connection", "close"),
                (REQUEST_ID_HEADER, _request_id(environ.get("HTTP_X_REQUEST_ID", ""))),
            ],
        )
        return [body]


# Server-side time limits ---------------------------------------------------------------------

_BULK_PATH = re.compile(r"^/v2/.+/bulk(/|$)")
_EXPORT_PATH = re.compile(r"^/v2/[^/]+/export/?$")
_SEARCH_PATH = re.compile(r"^/v2/.+/search/?$")
current_timeout_seconds: ContextVar[float | None] = ContextVar("statement_timeout", default=None)


def request_class(method: str, path: str) -> str:
    """Which time limit a request runs under: read, write, bulk, export or other."""
    if not path.startswith("/v2/"):
        return "other"
    if method in ("GET", "HEAD"):
        return "export" if _EXPORT_PATH.match(path) else "read"
    if method == "POST" and _BULK_PATH.match(path):
        return "bulk"
    if method == "POST" and _SEARCH_PATH.match(path):
        return "read"
    return "write"


def _apply_statement_timeout(wrapper, seconds: float) -> None:
    """Give the thread's open database connection this statement_timeout.

    Outside a transaction the setting is for the session, and it is sent only when it
    changes; inside one (tests run in one) it lasts until that transaction ends. It goes
    straight to the driver: connection set-up, not one of the request's queries.
    """
    raw = wrapper.connection
    if raw is None:
        return  # applied when the connection opens (see apply_to_new_connection)
    value = f"{round(seconds * 1000)}ms"
    if wrapper.in_atomic_block:
        raw.execute("SELECT set_config('statement_timeout', %s, true)", [value])
        return
    if getattr(wrapper, "statement_timeout_applied", None) == (raw, value):
        return
    raw.execute("SELECT set_config('statement_timeout', %s, false)", [value])
    wrapper.statement_timeout_applied = (raw, value)


def apply_to_new_connection(sender, connection, **kwargs) -> None:
    """connection_created: a connection opened during a request gets that request's limit."""
    seconds = current_timeout_seconds.get()
    if seconds is not None:
        _apply_statement_timeout(connection, seconds)


class StatementTimeoutMiddleware:
    """Run every request under a PostgreSQL statement_timeout chosen by its class.

    Reads (GET, …/search), writes, bulk writes and exports each have a limit (settings
    STATEMENT_TIMEOUT_*, seconds; 0 = none); a statement that runs longer is cancelled and the
    request answers 503 (api/exceptions.py). Everything else (admin, token endpoint, health)
    has its own. The setting stays on the connection after the response, so a streamed export
    keeps its limit, and a request of the same class on the same connection sends nothing.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        from django.db.backends.signals import connection_created

        connection_created.connect(apply_to_new_connection, dispatch_uid="statement-timeout")

    def __call__(self, request):
        from django.conf import settings
        from django.db import connection

        seconds = settings.STATEMENT_TIMEOUTS[request_class(request.method, request.path)]
        token = current_timeout_seconds.set(seconds)
        try:
            try:
                _apply_statement_timeout(connection, seconds)
            except Exception:  # a broken connection: the request's first query reports it
                logging.getLogger("api").warning("Could not set statement_timeout", exc_info=True)
            return self.get_response(request)
        finally:
            current_timeout_seconds.reset(token)
