from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from oauth2_provider.settings import oauth2_settings


def validate_scope_list(value: str) -> None:
    unknown = sorted(set(value.split()) - set(settings.API_SCOPES))
    if unknown:
        raise ValidationError(f"Unknown scopes: {', '.join(unknown)}")


class ClientScopes(models.Model):
    """What an operator allows an API client (an OAuth2 application): the scopes it may
    request, and whether it may have tokens at all."""

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="allowed_scopes",
    )
    scopes = models.TextField(
        blank=True, validators=[validate_scope_list], help_text="Space-separated scopes."
    )
    enabled = models.BooleanField(
        default=True, help_text="A disabled client gets no tokens; its tokens were revoked."
    )

    class Meta:
        verbose_name = "allowed scopes"
        verbose_name_plural = "allowed scopes"

    def __str__(self) -> str:
        return self.scopes


class IdempotencyRecord(models.Model):
    """The first response to a POST with an Idempotency-Key, kept for replays; while that
    request runs, its claim on the key."""

    client_id = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed = models.BooleanField(default=False)
    status = models.PositiveSmallIntegerField(null=True)
    body = models.BinaryField(null=True)
    headers = models.JSONField(default=dict)
    # The run working on an unfinished record, and until when it counts as alive (renewed
    # while it runs; see api/idempotency.py).
    lease_owner = models.CharField(max_length=32, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client_id", "key"], name="idempotency_client_key")
        ]

    def __str__(self) -> str:
        return f"{self.client_id}:{self.key}"


class RateWindow(models.Model):
    """Requests per client in one fixed time window, shared by every server process.

    The table is UNLOGGED (see its migration): counters need no crash safety.
    """

    client_id = models.CharField(max_length=100)
    window_start = models.BigIntegerField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client_id", "window_start"], name="rate_window_unique")
        ]

    def __str__(self) -> str:
        return f"{self.client_id}@{self.window_start}: {self.count}"


class AuthFailure(models.Model):
    """One failed authentication, kept while it counts towards a lockout (see api/lockout.py).

    The table is UNLOGGED (see its migration): losing it in a crash only forgets failures.
    """

    scope = models.CharField(max_length=32)
    # SHA-256 of the client id, address or user name: any length, nothing readable kept.
    key = models.CharField(max_length=64)
    at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["scope", "key", "at"], name="auth_failure_lookup")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key[:8]}@{self.at:%Y-%m-%dT%H:%M:%S}"
