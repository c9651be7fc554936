"""OAuth2 for API clients: the scopes a client may be granted (the ones an operator allowed it,
plus implied reads), how a client authenticates on the token endpoint, and its throttle."""

import base64
import binascii
from urllib.parse import unquote_plus

from django.conf import settings
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from django.db import connection, transaction
from django.http import JsonResponse
from django.utils.crypto import constant_time_compare, get_random_string
from oauth2_provider.models import get_application_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import TokenView

from api import lockout
from api.inputs import text_problem

Application = get_application_model()


def expand_scopes(scopes: set[str] | list[str]) -> set[str]:
    """Return the scopes with every `<entity>.write` also granting `<entity>.read`."""
    expanded = set(scopes)
    for scope in scopes:
        entity, _, access = scope.partition(".")
        if access == "write":
            expanded.add(f"{entity}.read")
    return expanded


def allowed_scopes(application) -> list[str]:
    try:
        granted = application.allowed_scopes.scopes.split()
    except Exception:  # no ClientScopes row: the client may request nothing
        granted = []
    return sorted(expand_scopes(set(granted) & set(settings.API_SCOPES)))


class ClientScopes(BaseScopes):
    def get_all_scopes(self):
        return settings.API_SCOPES

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        return allowed_scopes(application) if application is not None else []

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return allowed_scopes(application) if application is not None else []


# Client authentication on the token endpoint ---------------------------------------------------


def client_enabled(application) -> bool:
    settings_row = getattr(application, "allowed_scopes", None)
    return settings_row is None or settings_row.enabled


def _unknown_client_hash() -> str:
    """A hash of the configured kind, checked for unknown client ids so that every attempt
    costs the same whether or not the id exists."""
    global _UNKNOWN_CLIENT_HASH
    hasher = oauth2_settings.CLIENT_SECRET_HASHER
    if _UNKNOWN_CLIENT_HASH is None or _UNKNOWN_CLIENT_HASH[0] != hasher:
        _UNKNOWN_CLIENT_HASH = (hasher, make_password(get_random_string(64), hasher=hasher))
    return _UNKNOWN_CLIENT_HASH[1]


_UNKNOWN_CLIENT_HASH: tuple[str, str] | None = None


def secret_matches(application, secret: str) -> bool:
    """Check a client secret; a hash made another way is replaced by the configured one."""

    def upgrade(raw: str) -> None:
        application.client_secret = raw  # hashed again on save (ClientSecretField)
        application.save(update_fields=["client_secret"])

    stored = application.client_secret
    try:
        identify_hasher(stored)
    except ValueError:  # stored in clear (hash_client_secret off)
        return bool(stored) and constant_time_compare(secret, stored)
    hasher = oauth2_settings.CLIENT_SECRET_HASHER
    return check_password(secret, stored, setter=upgrade, preferred=hasher)


class ClientValidator(OAuth2Validator):
    """django-oauth-toolkit's validator, with client authentication that

    - locks the client's row until the token is stored, so that rotating its secret, changing
      its scopes or disabling it (which lock the row too) never races a token being issued;
    - refuses disabled clients;
    - costs the same for unknown client ids (a dummy hash is checked);
    - upgrades secrets hashed with an older hasher on success.
    """

    def _load_application(self, client_id, request):
        cached = request.client
        if cached is not None and getattr(cached, "client_id", None) == client_id:
            return cached
        request.client = None
        if not client_id or len(client_id) > 100 or text_problem(client_id):
            return None
        queryset = Application.objects.select_related("allowed_scopes")
        if connection.in_atomic_block:
            queryset = queryset.select_for_update(no_key=True, of=("self",))
        application = queryset.filter(client_id=client_id).first()
        if application is None or not client_enabled(application):
            return None
        request.client = application
        return application

    def _credentials(self, request) -> tuple[str, str] | None:
        """(client id, secret) from the body, else from HTTP Basic, as RFC 6749 2.3.1 allows."""
        client_id = getattr(request, "client_id", None)
        if client_id:
            return client_id, getattr(request, "client_secret", "") or ""
        encoded = self._extract_basic_auth(request)
        if not encoded:
            return None
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, separator, secret = decoded.partition(":")
        if not separator:
            return None
        return unquote_plus(client_id), unquote_plus(secret)

    def authenticate_client(self, request, *args, **kwargs):
        credentials = self._credentials(request)
        if credentials is None:
            return False
        client_id, secret = credentials
        application = self._load_application(client_id, request)
        if application is None or application.client_type != Application.CLIENT_CONFIDENTIAL:
            check_password(secret, _unknown_client_hash())
            return False
        if not secret_matches(application, secret):
            return False
        request.client_id = client_id
        return True


def claimed_client_id(request) -> str | None:
    """The client id a token request names (body or HTTP Basic), before checking anything."""
    client_id = request.POST.get("client_id")
    if client_id:
        return client_id
    scheme, _, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme != "Basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, separator, _ = decoded.partition(":")
    return unquote_plus(client_id) if separator else None


class ThrottledTokenView(TokenView):
    """The token endpoint, refusing (429) client ids and addresses with too many failures.

    Failed client authentications (401) are counted per client id (whether or not it exists,
    so the throttle tells nothing about which ids do) and per address; see api/lockout.py.
    """

    def post(self, request, *args, **kwargs):
        checks = [(lockout.token_address_limit(), lockout.client_address(request))]
        client_id = claimed_client_id(request)
        if client_id:
            checks.append((lockout.token_client_limit(), client_id))
        wait = lockout.retry_after(checks)
        if wait is not None:
            return throttled_response(wait)
        # One transaction: the client's row stays locked until its token is stored.
        with transaction.atomic():
            response = super().post(request, *args, **kwargs)
        if response.status_code == 401:
            lockout.record_failure(checks)
        return response


def throttled_response(wait: int) -> JsonResponse:
    response = JsonResponse(
        {
            "error": "slow_down",
            "error_description": (
                f"Too many failed attempts for this client or address; retry in {wait} seconds"
            ),
        },
        status=429,
    )
    response["Retry-After"] = str(wait)
    response["Cache-Control"] = "no-store"
    return response
