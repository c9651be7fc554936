"""API client administration, shared by the management command and the admin."""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model

from api.models import ClientScopes


@dataclass(frozen=True)
class IssuedClient:
    name: str
    client_id: str
    client_secret: str | None
    scopes: list[str]


def normalize_scopes(scopes: list[str]) -> list[str]:
    flat = sorted({scope for item in scopes for scope in item.split()})
    unknown = [scope for scope in flat if scope not in settings.API_SCOPES]
    if unknown:
        raise ValueError(
            f"Unknown scopes: {', '.join(unknown)} (known: {', '.join(settings.API_SCOPES)})"
        )
    return flat


@transaction.atomic
def api_client_create(*, name: str, scopes: list[str]) -> IssuedClient:
    """Create a confidential client-credentials client; the secret is returned only here."""
    Application = get_application_model()
    scopes = normalize_scopes(scopes)
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


@transaction.atomic
def api_client_reset_secret(*, name: str) -> IssuedClient:
    Application = get_application_model()
    application = Application.objects.select_for_update().get(name=name)
    secret = generate_client_secret()
    application.client_secret = secret
    application.save()
    scopes = (
        application.allowed_scopes.scopes.split() if hasattr(application, "allowed_scopes") else []
    )
    return IssuedClient(name, application.client_id, secret, scopes)
