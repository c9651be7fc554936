from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from oauth2_provider.settings import oauth2_settings


def validate_scope_list(value: str) -> None:
    unknown = sorted(set(value.split()) - set(settings.API_SCOPES))
    if unknown:
        raise ValidationError(f"Unknown scopes: {', '.join(unknown)}")


class ClientScopes(models.Model):
    """The scopes an API client (an OAuth2 application) may request."""

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="allowed_scopes",
    )
    scopes = models.TextField(
        blank=True, validators=[validate_scope_list], help_text="Space-separated scopes."
    )

    class Meta:
        verbose_name = "allowed scopes"
        verbose_name_plural = "allowed scopes"

    def __str__(self) -> str:
        return self.scopes
