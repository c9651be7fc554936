"""The benchmark's baseline view, mounted only when BENCHMARK_VIEWS is on."""

import orjson
from django.http import HttpResponse

from api.exceptions import error_json_response
from catalogue.errors import Code
from catalogue.models import Cluster, Product


def bare_product(request, source, source_id):
    """One product as JSON from one .values() query, no framework."""
    columns = [f.attname for f in Product._meta.concrete_fields]
    row = (
        Product.objects.filter(sources__source=source, sources__source_id=source_id)
        .values(*columns)
        .first()
    )
    if row is None:
        return error_json_response(Code.PRODUCT_NOT_FOUND, "not found")
    return HttpResponse(orjson.dumps({"data": row}, default=str), content_type="application/json")


def bare_cluster(request, code):
    """One cluster as JSON from one .values() query, no framework."""
    columns = [f.attname for f in Cluster._meta.concrete_fields]
    row = Cluster.objects.filter(code=code).values(*columns).first()
    if row is None:
        return error_json_response(Code.CLUSTER_NOT_FOUND, "not found")
    return HttpResponse(orjson.dumps({"data": row}, default=str), content_type="application/json")
