"""Per-client rate limit with X-RateLimit-* headers on every response."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class ClientRateThrottle(SimpleRateThrottle):
    scope = "client"

    def get_rate(self):
        return settings.THROTTLE_RATE

    def get_cache_key(self, request, view):
        client = getattr(request, "user", None)
        if not getattr(client, "is_authenticated", False):
            return None
        return f"throttle:{client.client_id}"

    def allow_request(self, request, view):
        allowed = super().allow_request(request, view)
        if self.key is not None:
            remaining = max(0, self.num_requests - len(self.history))
            request.rate_limit = (self.num_requests, remaining)
        return allowed
