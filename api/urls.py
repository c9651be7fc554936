"""Routes under /v2/: every path works with or without a trailing slash."""

from django.urls import re_path

from api.views import service
from api.views.categories import CategoryViewSet

KEY = r"(?P<key>[^/]+)/(?P<value>[^/]+)"


def route(pattern: str, view, name: str):
    return re_path(rf"^{pattern}/?$", view, name=name)


categories = CategoryViewSet.as_view

urlpatterns = [
    route("categories", categories({"get": "list", "post": "create"}), "category-list"),
    route("categories/search", categories({"post": "search"}), "category-search"),
    route("categories/tree", categories({"get": "tree"}), "category-tree"),
    route(f"categories/{KEY}/children", categories({"get": "children"}), "category-children"),
    route(
        rf"categories/{KEY}/translation/(?P<language>[^/]+)",
        categories({"delete": "remove_translation"}),
        "category-translation",
    ),
    route(
        f"categories/{KEY}",
        categories({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        "category-detail",
    ),
    re_path(r"^.*$", service.not_found, name="not-found"),
]
