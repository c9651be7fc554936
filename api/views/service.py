"""Health checks, unknown paths and the last-resort error handlers."""

import logging

from django.db import connection
from django.http import JsonResponse
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


def server_error(request, *args, **kwargs):
    return error_json_response(Code.INTERNAL_ERROR, "Internal server error")
