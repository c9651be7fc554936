"""Request ids: echoed or generated, set on every response and on every log record."""

import logging
import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        # Echo a caller's id only when it is safe to put in a header and a log line.
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
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
