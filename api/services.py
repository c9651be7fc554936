"""API client administration, shared by the management commands and the admin.

A client is found by its name or its client id. Every change that takes access away (a new
secret, other scopes, disabling, deleting) revokes the client's tokens in the same transaction,
with the client's row locked: a token being issued meanwhile waits for the row and then sees
the change (see api.oauth.ClientValidator).
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from api.models import ClientScopes

# Serialises client creation, so two operators cannot create one name twice.
_CREATE_LOCK = 0x6170695F636C6E74  # "api_clnt"


class ApiClientError(ValueError):
    """An operator's request about API clients that cannot be done (the message says why)."""


class ApiClientNotFound(ApiClientError):
    pass


@dataclass(frozen=True)
class IssuedClient:
    """A client with its secret in clear: returned only when a secret is made."""

    name: str
    client_id: str
    client_secret: str | None
    scopes: list[str]


@dataclass(frozen=True)
class ApiClientInfo:
    name: str
    client_id: str
    scopes: list[str]
    enabled: bool
    active_tokens: int
    created: datetime


def normalize_scopes(scopes: list[str]) -> list[str]:
    """Sorted distinct scopes from items that may hold several ("a b"); unknown ones refused."""
    flat = sorted({scope for item in scopes for scope in item.split()})
    unknown = [scope for scope in flat if scope not in settings.API_SCOPES]
    if unknown:
        raise ApiClientError(
            f"Unknown scopes: {', '.join(unknown)} (known: {', '.join(settings.API_SCOPES)})"
        )
    return flat


def _scopes_of(application) -> list[str]:
    row = getattr(application, "allowed_scopes", None)
    return sorted(row.scopes.split()) if row else []


def _settings_row(application) -> ClientScopes:
    row, _ = ClientScopes.objects.get_or_create(application=application)
    return row


def _find_client(name: str, *, lock: bool = True):
    """The client named `name` (or with client id `name`); locked until commit unless told."""
    Application = get_application_model()
    clients = Application.objects.select_related("allowed_scopes")
    if lock:
        clients = clients.select_for_update(of=("self",))
    matches = list(clients.filter(name=name)[:2]) or list(clients.filter(client_id=name)[:1])
    if not matches:
        raise ApiClientNotFound(f"No API client named '{name}'")
    if len(matches) > 1:
        raise ApiClientError(f"Several API clients are named '{name}'; give its client id")
    return matches[0]


def _revoke_tokens(application) -> int:
    """Delete every token of the client; returns how many access tokens were still valid."""
    tokens = get_access_token_model().objects.filter(application=application)
    active = tokens.filter(expires__gt=timezone.now()).count()
    get_refresh_token_model().objects.filter(application=application).delete()
    tokens.delete()
    get_id_token_model().objects.filter(application=application).delete()
    get_grant_model().objects.filter(application=application).delete()
    return active


def _info(application, active_tokens: int | None = None) -> ApiClientInfo:
    if active_tokens is None:
        active_tokens = (
            get_access_token_model()
            .objects.filter(application=application, expires__gt=timezone.now())
            .count()
        )
    row = getattr(application, "allowed_scopes", None)
    return ApiClientInfo(
        name=application.name,
        client_id=application.client_id,
        scopes=_scopes_of(application),
        enabled=row.enabled if row else True,
        active_tokens=active_tokens,
        created=application.created,
    )


@transaction.atomic
def api_client_create(*, name: str, scopes: list[str]) -> IssuedClient:
    """Create a confidential client-credentials client; the secret is returned only here."""
    Application = get_application_model()
    name = name.strip()
    if not name:
        raise ApiClientError("An API client needs a name")
    scopes = normalize_scopes(scopes)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CREATE_LOCK])
    if Application.objects.filter(name=name).exists():
        raise ApiClientError(f"An API client named '{name}' already exists")
    secret = generate_client_secret()
    application = Application.objects.create(
        name=name,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
        hash_client_secret=True,
    )
    ClientScopes.objects.create(application=application, scopes=" ".join(scopes))
    return IssuedClient(name, application.client_id, secret, scopes)


def api_client_info(*, name: str) -> ApiClientInfo:
    """One client's scopes, state and number of unexpired tokens."""
    return _info(_find_client(name, lock=False))


def api_client_list() -> list[ApiClientInfo]:
    """Every client with its scopes, state and number of unexpired tokens, by name."""
    Application = get_application_model()
    applications = (
        Application.objects.select_related("allowed_scopes")
        .annotate(
            active_tokens=Count(
                "accesstoken",
                filter=Q(accesstoken__expires__gt=timezone.now()),
            )
        )
        .order_by("name", "pk")
    )
    return [_info(application, application.active_tokens) for application in applications]


@transaction.atomic
def api_client_rotate_secret(*, name: str, scopes: list[str] | None = None) -> IssuedClient:
    """Give the client a new secret (returned only here) and revoke its tokens; with `scopes`,
    replace its scopes too."""
    scopes = normalize_scopes(scopes) if scopes is not None else None
    application = _find_client(name)
    secret = generate_client_secret()
    application.client_secret = secret  # hashed on save (ClientSecretField)
    application.hash_client_secret = True
    application.save(update_fields=["client_secret", "hash_client_secret", "updated"])
    if scopes is not None:
        row = _settings_row(application)
        row.scopes = " ".join(scopes)
        row.save(update_fields=["scopes"])
    _revoke_tokens(application)
    application.refresh_from_db()
    return IssuedClient(application.name, application.client_id, secret, _scopes_of(application))


@transaction.atomic
def api_client_update_scopes(*, name: str, scopes: list[str]) -> ApiClientInfo:
    """Replace the scopes the client may request and revoke its tokens."""
    scopes = normalize_scopes(scopes)
    application = _find_client(name)
    row = _settings_row(application)
    row.scopes = " ".join(scopes)
    row.save(update_fields=["scopes"])
    _revoke_tokens(application)
    application.refresh_from_db()
    return _info(application, 0)


@transaction.atomic
def api_client_rename(*, name: str, new_name: str) -> ApiClientInfo:
    """Give the client another name (its tokens stay valid)."""
    new_name = new_name.strip()
    if not new_name:
        raise ApiClientError("An API client needs a name")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CREATE_LOCK])
    application = _find_client(name)
    Application = get_application_model()
    if Application.objects.filter(name=new_name).exclude(pk=application.pk).exists():
        raise ApiClientError(f"An API client named '{new_name}' already exists")
    application.name = new_name
    application.save(update_fields=["name", "updated"])
    return _info(application)


@transaction.atomic
def api_client_revoke_tokens(*, name: str) -> int:
    """Revoke every token of the client at once; returns how many were still valid."""
    return _revoke_tokens(_find_client(name))


@transaction.atomic
def api_client_disable(*, name: str) -> ApiClientInfo:
    """Stop the client from getting tokens and revoke the ones it has."""
    application = _find_client(name)
    row = _settings_row(application)
    row.enabled = False
    row.save(update_fields=["enabled"])
    _revoke_tokens(application)
    application.refresh_from_db()
    return _info(application, 0)


@transaction.atomic
def api_client_enable(*, name: str) -> ApiClientInfo:
    """Let a disabled client get tokens again (with its old secret)."""
    application = _find_client(name)
    row = _settings_row(application)
    row.enabled = True
    row.save(update_fields=["enabled"])
    application.refresh_from_db()
    return _info(application)


@transaction.atomic
def api_client_delete(*, name: str) -> int:
    """Delete the client and its tokens; returns how many tokens were still valid."""
    application = _find_client(name)
    active = _revoke_tokens(application)
    application.delete()
    return active
