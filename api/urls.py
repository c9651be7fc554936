"""Routes under /v2/: one registration per resource; unknown paths answer the 404 envelope."""

from django.urls import re_path

from api.routers import ResourceRouter
from api.views import service
from api.views.categories import CategoryViewSet
from api.views.clusters import ClusterConfigViewSet, ClusterOptionViewSet, ClusterViewSet
from api.views.products import ProductViewSet

router = ResourceRouter()
router.register("categories", CategoryViewSet, basename="category")
router.register("products", ProductViewSet, basename="product")
router.register("clusterconfigs", ClusterConfigViewSet, basename="clusterconfig")
router.register("clusters", ClusterViewSet, basename="cluster")
router.register("clusteroptions", ClusterOptionViewSet, basename="clusteroption")

urlpatterns = [*router.urls, re_path(r"^.*$", service.not_found, name="not-found")]
