"""Health checks, unknown paths and the last-resort error handlers."""

import logging

from django.db import connection
from django.http import HttpResponseServerError, JsonResponse
from django.template.loader import render_to_string
from django.views.decorators.csrf import csrf_exempt

from api.exceptions import error_json_response
from catalogue.errors import Code

logger = logging.getLogger("api")


def live(request):
    return JsonResponse({"status": "ok"})


def ready(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        logger.exception("Readiness check failed")
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


@csrf_exempt
def not_found(request, *args, **kwargs):
    return error_json_response(Code.NOT_FOUND, f"No endpoint at {request.path}")


# Paths whose callers are programs: a failure there answers with the JSON error envelope.
JSON_PATHS = ("/v2/", "/oauth2/", "/health/")


def server_error(request, *args, **kwargs):
    """The last-resort 500: the error envelope for API callers, a page for people (admin)."""
    if request.path.startswith(JSON_PATHS) or request.path.rstrip("/") in ("/v2", "/oauth2/token"):
        return error_json_response(Code.INTERNAL_ERROR, "Internal server error")
    page = render_to_string("500.html", {"request_id": getattr(request, "request_id", "")})
    return HttpResponseServerError(page)
