"""API clients in the admin, and the admin's own sign-in lockout.

An API client is an OAuth2 application, but an operator needs only its name and scopes: the
toolkit's own admin pages (raw OAuth fields, secret hashes, token checksums) are replaced by one
page that calls the same services as the management commands. A new secret is shown once, in
the response that made it, and never stored in clear.
"""

import math

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from api import lockout
from api.services import (
    IssuedClient,
    api_client_create,
    api_client_delete,
    api_client_disable,
    api_client_enable,
    api_client_rename,
    api_client_revoke_tokens,
    api_client_rotate_secret,
    api_client_update_scopes,
)

Application = get_application_model()


class ApiClientForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="What the client may request; a write scope includes the read scope. "
        "Changing them revokes the client's tokens.",
    )

    class Meta:
        model = Application
        fields = ["name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = [
            (scope, f"{scope}: {description}") for scope, description in settings.API_SCOPES.items()
        ]
        self.fields["name"].required = True
        if self.instance.pk:
            row = getattr(self.instance, "allowed_scopes", None)
            self.initial["scopes"] = row.scopes.split() if row else []

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        taken = Application.objects.filter(name=name).exclude(pk=self.instance.pk)
        if not name or taken.exists():
            raise ValidationError("An API client with this name exists already.")
        return name


def _secrets_page(request, issued: list[IssuedClient], title: str) -> TemplateResponse:
    """The one response that shows new secrets; never cached, never stored."""
    response = TemplateResponse(
        request,
        "admin/api/client_secrets.html",
        {
            **admin.site.each_context(request),
            "title": title,
            "clients": issued,
            "opts": Application._meta,
        },
    )
    response["Cache-Control"] = "no-store"
    return response


class ApiClientAdmin(admin.ModelAdmin):
    form = ApiClientForm
    list_display = ("name", "client_id", "scope_list", "state", "active_tokens", "created")
    list_filter = ("allowed_scopes__enabled",)
    search_fields = ("name", "client_id")
    ordering = ("name",)
    actions = ["rotate_secret", "revoke_tokens", "disable", "enable"]

    def get_queryset(self, request):
        valid = Q(accesstoken__expires__gt=timezone.now())
        return (
            super()
            .get_queryset(request)
            .select_related("allowed_scopes")
            .annotate(valid_tokens=Count("accesstoken", filter=valid))
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "scopes"]
        return ["name", "scopes", "client_id", "state", "active_tokens", "created"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["client_id", "state", "active_tokens", "created"]

    @admin.display(description="scopes")
    def scope_list(self, obj):
        row = getattr(obj, "allowed_scopes", None)
        return row.scopes if row and row.scopes else "-"

    @admin.display(description="state")
    def state(self, obj):
        row = getattr(obj, "allowed_scopes", None)
        return "enabled" if row is None or row.enabled else "disabled"

    @admin.display(description="valid tokens")
    def active_tokens(self, obj):
        return getattr(obj, "valid_tokens", 0)

    # Create and change go through the services -------------------------------------------

    def save_model(self, request, obj, form, change):
        scopes = form.cleaned_data["scopes"]
        if not change:
            issued = api_client_create(name=form.cleaned_data["name"], scopes=scopes)
            created = Application.objects.get(client_id=issued.client_id)
            obj.pk, obj.client_id, obj.created = created.pk, created.client_id, created.created
            obj._state.adding = False
            request._issued_client = issued
            return
        if "name" in form.changed_data:
            api_client_rename(name=obj.client_id, new_name=form.cleaned_data["name"])
        if "scopes" in form.changed_data:
            api_client_update_scopes(name=obj.client_id, scopes=scopes)
            messages.info(request, f"The tokens of {obj.name} were revoked (scopes changed).")

    def save_related(self, request, form, formsets, change):
        pass  # nothing related is edited here

    def response_add(self, request, obj, post_url_continue=None):
        issued = getattr(request, "_issued_client", None)
        if issued is None:
            return super().response_add(request, obj, post_url_continue)
        return _secrets_page(request, [issued], "API client created")

    # Deletion: one step, tokens included ---------------------------------------------------

    def get_deleted_objects(self, objs, request):
        """Only the clients themselves: their tokens go with them, without asking for
        permissions on token rows no one edits here."""
        names = [str(obj) for obj in objs]
        return names, {Application._meta.verbose_name_plural: len(names)}, set(), []

    def delete_model(self, request, obj):
        api_client_delete(name=obj.client_id)

    def delete_queryset(self, request, queryset):
        for client_id in queryset.values_list("client_id", flat=True):
            api_client_delete(name=client_id)

    # Actions ---------------------------------------------------------------------------------

    @admin.action(description="Issue a new secret (shown once; revokes tokens)")
    def rotate_secret(self, request, queryset):
        issued = [
            api_client_rotate_secret(name=client_id)
            for client_id in queryset.values_list("client_id", flat=True)
        ]
        return _secrets_page(request, issued, "New API client secrets")

    @admin.action(description="Revoke all tokens")
    def revoke_tokens(self, request, queryset):
        revoked = sum(
            api_client_revoke_tokens(name=client_id)
            for client_id in queryset.values_list("client_id", flat=True)
        )
        messages.success(request, f"Revoked {revoked} valid token(s).")

    @admin.action(description="Disable (revokes tokens, refuses new ones)")
    def disable(self, request, queryset):
        for client_id in queryset.values_list("client_id", flat=True):
            api_client_disable(name=client_id)
        messages.success(
            request, f"Disabled {queryset.count()} client(s); their tokens are revoked."
        )

    @admin.action(description="Enable")
    def enable(self, request, queryset):
        for client_id in queryset.values_list("client_id", flat=True):
            api_client_enable(name=client_id)
        messages.success(request, f"Enabled {queryset.count()} client(s).")


for model in (
    Application,
    get_access_token_model(),
    get_refresh_token_model(),
    get_grant_model(),
    get_id_token_model(),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
admin.site.register(Application, ApiClientAdmin)


# Sign-in lockout -----------------------------------------------------------------------------


class LockoutAuthenticationForm(AdminAuthenticationForm):
    """The admin sign-in form, refusing an account or address after too many failures.

    While locked, even the right password is refused; see api/lockout.py for the window.
    """

    def clean(self):
        username = (self.cleaned_data.get("username") or "").strip().lower()
        checks = [(lockout.admin_address_limit(), lockout.client_address(self.request))]
        if username:
            checks.append((lockout.admin_user_limit(), username))
        wait = lockout.retry_after(checks)
        if wait is not None:
            raise ValidationError(
                "Too many failed sign-ins for this account or from this address. "
                "Try again in %(minutes)d minute(s).",
                code="locked",
                params={"minutes": math.ceil(wait / 60)},
            )
        try:
            return super().clean()
        except ValidationError:
            lockout.record_failure(checks)
            raise


admin.site.login_form = LockoutAuthenticationForm
