"""Bearer-token authentication and the per-entity scope permission."""

import hashlib
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone
from oauth2_provider.models import get_access_token_model
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission

from api.oauth import expand_scopes
from api.throttling import current_window, prune_sql, upsert_count_sql
from api.tokens import verify_access_token


@dataclass(frozen=True)
class ApiClient:
    """The authenticated caller: an OAuth2 client and the scopes its token carries."""

    client_id: str
    application_id: int
    scopes: frozenset[str] = field(default_factory=frozenset)
    is_authenticated: bool = True

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


def stored_token(checksum: str, client_id: str) -> tuple[int, str, int] | None:
    """Return (application id, scope, requests in this rate window) for a valid token.

    The token must be on record, unexpired and unrevoked. Runs on every request, so it is one
    statement: the token lookup and the client's rate-limit count in a single round trip.
    """
    table = get_access_token_model()._meta.db_table
    _, window, _ = current_window()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH token AS (
                SELECT application_id, scope FROM {table}
                WHERE token_checksum = %s AND expires > %s LIMIT 1
            ), pruned AS ({prune_sql()}), counted AS ({upsert_count_sql("token")})
            SELECT token.application_id, token.scope, (SELECT count FROM counted) FROM token
            """,
            [checksum, timezone.now(), client_id, window, client_id, window],
        )
        return cursor.fetchone()


class BearerTokenAuthentication(BaseAuthentication):
    """Accept a signed JWT that is also on record server-side (so revocation works)."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        raw = raw.strip()
        if scheme.lower() != "bearer" or not raw:
            raise exceptions.AuthenticationFailed("Malformed Authorization header")
        claims = verify_access_token(raw)
        if claims is None:
            raise exceptions.AuthenticationFailed("Invalid or expired access token")
        checksum = hashlib.sha256(raw.encode()).hexdigest()
        stored = stored_token(checksum, claims["sub"])
        if stored is None:
            raise exceptions.AuthenticationFailed("Access token expired or revoked")
        application_id, scope, request.rate_count = stored
        client = ApiClient(
            client_id=claims["sub"],
            application_id=application_id,
            scopes=frozenset(expand_scopes(scope.split())),
        )
        return client, raw

    def authenticate_header(self, request):
        return 'Bearer realm="catalogue"'


class ScopePermission(BasePermission):
    """Read scope for safe methods and searches, write scope otherwise.

    A view names its entity in `scope_entity`; actions that touch a second entity list the
    extra scopes in `extra_scopes` (action name -> scopes).
    """

    def has_permission(self, request, view):
        entity = getattr(view, "scope_entity", None)
        if entity is None:
            return True
        client = request.user
        if not getattr(client, "is_authenticated", False):
            raise exceptions.NotAuthenticated("Authentication credentials were not provided")
        action = getattr(view, "action", None)
        read_only = request.method in SAFE_METHODS or action in getattr(view, "read_actions", ())
        needed = [f"{entity}.{'read' if read_only else 'write'}"]
        needed += getattr(view, "extra_scopes", {}).get(action, [])
        require_scopes(request, needed)
        return True


def require_scopes(request, scopes) -> None:
    """Refuse (403) a caller lacking one of `scopes`; for scopes that depend on the body."""
    for scope in scopes:
        if not request.user.has_scope(scope):
            raise exceptions.PermissionDenied(f"This operation needs the scope {scope}")
