"""The router: every resource's routes derived from its viewset, under /v2/.

Lookups are `<resource>/<lookupKey>/<value>`, so the detail part of a route is two path
segments; a trailing slash is optional everywhere and never redirects. Collection-level
actions (`search`, `export`, `bulk/<key>`, …) are tried before the detail routes, so
`products/bulk/sourceId` is the bulk endpoint, not product `bulk` = `sourceId`.
"""

from rest_framework.routers import SimpleRouter

LOOKUP = r"(?P<key>[^/]+)/(?P<value>[^/]+)"


class ResourceRouter(SimpleRouter):
    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"

    def get_lookup_regex(self, viewset, lookup_prefix=""):
        return LOOKUP

    def get_method_map(self, viewset, method_map):
        """Only the operations the viewset's resource declares (see Resource.actions)."""
        mapping = super().get_method_map(viewset, method_map)
        resource = getattr(viewset, "resource", None)
        if resource is None:
            return mapping
        standard = {"list", "create", "retrieve", "partial_update", "destroy", "update"}
        return {
            method: action
            for method, action in mapping.items()
            if action not in standard or action in resource.actions
        }
