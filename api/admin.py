"""API clients in the admin: the OAuth2 application with the scopes it may request."""

from django.contrib import admin
from oauth2_provider.admin import ApplicationAdmin
from oauth2_provider.models import get_application_model

from api.models import ClientScopes

Application = get_application_model()


class ClientScopesInline(admin.StackedInline):
    model = ClientScopes
    can_delete = False
    extra = 1
    max_num = 1


class ApiClientAdmin(ApplicationAdmin):
    inlines = [ClientScopesInline]
    list_display = ("name", "client_id", "allowed", "created")

    @admin.display(description="scopes")
    def allowed(self, obj):
        scopes = getattr(obj, "allowed_scopes", None)
        return scopes.scopes if scopes else ""


admin.site.unregister(Application)
admin.site.register(Application, ApiClientAdmin)
