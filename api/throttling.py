"""Per-client rate limit, counted in PostgreSQL so every server process shares it.

A fixed window per client (e.g. 6000 requests per minute): one upsert per request returns the
count so far. Every response carries X-RateLimit-Limit and X-RateLimit-Remaining; a refused
request gets 429 with Retry-After (seconds until the window ends).
"""

import random
import time

from django.conf import settings
from django.db import connection
from rest_framework.throttling import BaseThrottle

from api.models import RateWindow

PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'6000/min' -> (6000, 60)."""
    number, _, period = rate.partition("/")
    return int(number), PERIODS[period.strip().lower()]


class ClientRateThrottle(BaseThrottle):
    def allow_request(self, request, view):
        client = getattr(request, "user", None)
        if not getattr(client, "is_authenticated", False):
            return True
        limit, period = parse_rate(settings.THROTTLE_RATE)
        now = time.time()
        window = int(now // period) * period
        table = RateWindow._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (client_id, window_start, count) VALUES (%s, %s, 1) "
                "ON CONFLICT (client_id, window_start) DO UPDATE "
                f"SET count = {table}.count + 1 RETURNING count",
                [client.client_id, window],
            )
            count = cursor.fetchone()[0]
            if random.random() < 0.001:  # now and then, forget finished windows
                cursor.execute(f"DELETE FROM {table} WHERE window_start < %s", [window - period])
        request.rate_limit = (limit, max(0, limit - count))
        self.retry_after = window + period - now
        return count <= limit

    def wait(self):
        return getattr(self, "retry_after", None)
