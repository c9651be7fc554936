"""Health checks, unknown paths and the last-resort error handlers."""

import logging

import orjson
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from api.exceptions import error_json_response
from catalogue.errors import Code
from catalogue.models import Product

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


def bare_product(request, source, source_id):
    """The benchmark's baseline: one product as JSON from one .values() query, no framework."""
    columns = [f.attname for f in Product._meta.concrete_fields]
    row = (
        Product.objects.filter(sources__source=source, sources__source_id=source_id)
        .values(*columns)
        .first()
    )
    if row is None:
        return error_json_response(Code.PRODUCT_NOT_FOUND, "not found")
    return HttpResponse(orjson.dumps({"data": row}, default=str), content_type="application/json")
