from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.negotiation import DefaultContentNegotiation

from api import pages
from api.oauth import ThrottledTokenView
from api.views import service


class SchemaView(SpectacularAPIView):
    content_negotiation_class = DefaultContentNegotiation
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []


urlpatterns = [
    path("", pages.home, name="home"),
    re_path(r"^v2/docs/errors/?$", pages.error_codes, name="error-codes"),
    re_path(r"^oauth2/token/?$", ThrottledTokenView.as_view(), name="token"),
    path("health/live", service.live, name="health-live"),
    path("health/ready", service.ready, name="health-ready"),
    path("v2/schema/", SchemaView.as_view(), name="schema"),
    path(
        "v2/docs/",
        SpectacularSwaggerView.as_view(
            url_name="schema", authentication_classes=[], permission_classes=[]
        ),
        name="docs",
    ),
    path(
        "v2/redoc/",
        SpectacularRedocView.as_view(
            url_name="schema",
            template_name="api/redoc.html",
            authentication_classes=[],
            permission_classes=[],
        ),
        name="redoc",
    ),
    path("admin/", admin.site.urls),
    path("v2/", include("api.urls")),
]

if settings.BENCHMARK_VIEWS:
    from benchmark.views import bare_cluster, bare_product

    urlpatterns[:0] = [
        path("bench/bare-product/<str:source>/<str:source_id>", bare_product),
        path("bench/bare-cluster/<str:code>", bare_cluster),
    ]

handler500 = "api.views.service.server_error"
