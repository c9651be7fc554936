"""Per-client rate limit, counted in PostgreSQL so every server process shares it.

A fixed window per client (e.g. 6000 requests per minute): one upsert per request returns the
count so far. Every response carries X-RateLimit-Limit and X-RateLimit-Remaining; a refused
request gets 429 with Retry-After (seconds until the window ends).
"""

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


def current_window() -> tuple[int, int, float]:
    """(limit, window start, seconds until the window ends) for the configured rate."""
    limit, period = parse_rate(settings.THROTTLE_RATE)
    now = time.time()
    window = int(now // period) * period
    return limit, window, window + period - now


def upsert_count_sql(select_from: str = "") -> str:
    """INSERT … ON CONFLICT that counts one request of (%s client, %s window), RETURNING count.

    With `select_from` the row is inserted only when that relation has a row (used to count
    in the same statement that checks the token).
    """
    table = RateWindow._meta.db_table
    source = f"SELECT %s, %s, 1 FROM {select_from}" if select_from else "VALUES (%s, %s, 1)"
    return (
        f"INSERT INTO {table} (client_id, window_start, count) {source} "
        f"ON CONFLICT (client_id, window_start) DO UPDATE SET count = {table}.count + 1 "
        "RETURNING count"
    )


def prune_sql() -> str:
    """DELETE the (%s client)'s finished windows (before %s); part of the counting statement."""
    return f"DELETE FROM {RateWindow._meta.db_table} WHERE client_id = %s AND window_start < %s"


class ClientRateThrottle(BaseThrottle):
    def allow_request(self, request, view):
        client = getattr(request, "user", None)
        if not getattr(client, "is_authenticated", False):
            return True
        limit, window, remaining_seconds = current_window()
        # The token check usually counted the request already, in the same statement.
        count = getattr(request, "rate_count", None)
        if count is None:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"WITH pruned AS ({prune_sql()}), counted AS ({upsert_count_sql()}) "
                    "SELECT count FROM counted",
                    [client.client_id, window, client.client_id, window],
                )
                count = cursor.fetchone()[0]
        request.rate_limit = (limit, max(0, limit - count))
        self.retry_after = remaining_seconds
        return count <= limit

    def wait(self):
        return getattr(self, "retry_after", None)
