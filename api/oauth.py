"""Which scopes a client may be granted: the ones an operator allowed it, plus implied reads."""

from django.conf import settings
from oauth2_provider.scopes import BaseScopes


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
