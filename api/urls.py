"""Routes under /v2/: every path works with or without a trailing slash."""

from django.urls import re_path

from api.views import service
from api.views.categories import CategoryViewSet
from api.views.category_bulk import CategoryBulkViewSet
from api.views.category_products import CategoryProductsViewSet
from api.views.products import ProductBulkViewSet, ProductViewSet

KEY = r"(?P<key>[^/]+)/(?P<value>[^/]+)"


def route(pattern: str, view, name: str):
    return re_path(rf"^{pattern}/?$", view, name=name)


categories = CategoryViewSet.as_view
category_bulk = CategoryBulkViewSet.as_view
category_products = CategoryProductsViewSet.as_view
products = ProductViewSet.as_view
product_bulk = ProductBulkViewSet.as_view

urlpatterns = [
    route("categories", categories({"get": "list", "post": "create"}), "category-list"),
    route("categories/search", categories({"post": "search"}), "category-search"),
    route("categories/tree", categories({"get": "tree"}), "category-tree"),
    route("categories/export", categories({"get": "export"}), "category-export"),
    route(
        "categories/bulk/(?P<key>[^/]+)/delete",
        category_bulk({"post": "delete"}),
        "category-bulk-delete",
    ),
    route("categories/bulk/(?P<key>[^/]+)", category_bulk({"post": "upsert"}), "category-bulk"),
    route(f"categories/{KEY}/children", categories({"get": "children"}), "category-children"),
    route(
        f"categories/{KEY}/products", category_products({"get": "products"}), "category-products"
    ),
    route(
        f"categories/{KEY}/add-products-clusters",
        category_products({"post": "add"}),
        "category-add-products-clusters",
    ),
    route(
        f"categories/{KEY}/remove-products-clusters",
        category_products({"post": "remove"}),
        "category-remove-products-clusters",
    ),
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
    route("products", products({"get": "list", "post": "create"}), "product-list"),
    route("products/search", products({"post": "search"}), "product-search"),
    route("products/export", products({"get": "export"}), "product-export"),
    route(
        "products/bulk/(?P<key>[^/]+)/delete",
        product_bulk({"post": "delete"}),
        "product-bulk-delete",
    ),
    route("products/bulk/(?P<key>[^/]+)", product_bulk({"post": "upsert"}), "product-bulk"),
    route(f"products/{KEY}/categories", products({"get": "categories"}), "product-categories"),
    route(
        rf"products/{KEY}/translation/(?P<language>[^/]+)",
        products({"delete": "remove_translation"}),
        "product-translation",
    ),
    route(
        f"products/{KEY}",
        products({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        "product-detail",
    ),
    re_path(r"^.*$", service.not_found, name="not-found"),
]
