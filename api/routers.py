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
