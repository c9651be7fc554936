"""Failed-authentication lockouts, counted in PostgreSQL so every server process shares them.

A limit such as "10 failures per 5 minutes" is a sliding window over the failures recorded for
one key (a client id, an address, a user name): while the key has that many failures inside the
window, it is locked, whatever credentials it sends, until the oldest of them leaves the
window. Failures are recorded only while a key is not locked, so each key keeps at most `limit`
rows, and rows older than every window are deleted as new failures arrive.
"""

import hashlib
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from api.models import AuthFailure

_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class FailureLimit:
    scope: str
    limit: int
    seconds: int

    @classmethod
    def parse(cls, scope: str, text: str) -> "FailureLimit":
        """'10/5min' -> at most 10 failures in any 5 minutes."""
        match = _LIMIT.match(text.lower())
        if not match or match.group(3) not in _UNITS or int(match.group(1)) < 1:
            raise ValueError(f"{scope}: a limit is written like 10/5min, not {text!r}")
        count, multiple, unit = match.groups()
        return cls(scope, int(count), int(multiple or 1) * _UNITS[unit])


def _key(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def retry_after(checks: list[tuple[FailureLimit, str]]) -> int | None:
    """Seconds until every one of these keys may try again, or None when none is locked."""
    if not checks:
        return None
    table = AuthFailure._meta.db_table
    parts, params = [], []
    for limit, value in checks:
        # The limit-th most recent failure inside the window; while there is one, the key is
        # locked until it leaves the window.
        parts.append(
            f"(SELECT at + make_interval(secs => %s) FROM {table} "
            "WHERE scope = %s AND key = %s AND at > now() - make_interval(secs => %s) "
            "ORDER BY at DESC OFFSET %s LIMIT 1)"
        )
        params += [limit.seconds, limit.scope, _key(value), limit.seconds, limit.limit - 1]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ceil(extract(epoch FROM greatest({', '.join(parts)}) - now()))", params
        )
        seconds = cursor.fetchone()[0]
    return None if seconds is None else max(1, int(seconds))


def record_failure(checks: list[tuple[FailureLimit, str]]) -> None:
    """Count one failed attempt against each key; forget failures older than every window."""
    if not checks:
        return
    table = AuthFailure._meta.db_table
    longest = max(
        limit.seconds for limit in [*configured_limits(), *(checked for checked, _ in checks)]
    )
    rows = ", ".join(["(%s, %s, now())"] * len(checks))
    params = [value for limit, key in checks for value in (limit.scope, _key(key))]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH pruned AS (DELETE FROM {table} WHERE at < now() - make_interval(secs => %s)) "
            f"INSERT INTO {table} (scope, key, at) VALUES {rows}",
            [longest, *params],
        )


def clear_failures(checks: list[tuple[FailureLimit, str]]) -> None:
    """Forget the failures of these keys (after a successful sign-in, say)."""
    for limit, value in checks:
        AuthFailure.objects.filter(scope=limit.scope, key=_key(value)).delete()


def token_client_limit() -> FailureLimit:
    return FailureLimit.parse("token-client", settings.TOKEN_FAILURES_PER_CLIENT)


def token_address_limit() -> FailureLimit:
    return FailureLimit.parse("token-address", settings.TOKEN_FAILURES_PER_ADDRESS)


def admin_user_limit() -> FailureLimit:
    return FailureLimit.parse("admin-user", settings.ADMIN_LOGIN_FAILURES_PER_USER)


def admin_address_limit() -> FailureLimit:
    return FailureLimit.parse("admin-address", settings.ADMIN_LOGIN_FAILURES_PER_ADDRESS)


def configured_limits() -> list[FailureLimit]:
    return [token_client_limit(), token_address_limit(), admin_user_limit(), admin_address_limit()]


def client_address(request) -> str:
    """The caller's address: REMOTE_ADDR, or the entry NUM_PROXIES trusted proxies added to
    X-Forwarded-For."""
    proxies = settings.NUM_PROXIES
    if proxies:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if forwarded:
            return forwarded[-min(proxies, len(forwarded))]
    return request.META.get("REMOTE_ADDR", "")
