import json as jsonlib

from django.core.management.base import BaseCommand, CommandError
from oauth2_provider.models import get_application_model

from api.services import api_client_create, api_client_reset_secret


class Command(BaseCommand):
    help = "Create an OAuth2 client-credentials API client and print its id and secret once."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--scopes", nargs="+", required=True, help="Scopes, e.g. product.read category.write"
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="Do nothing (and print no secret) when a client with this name exists.",
        )
        parser.add_argument(
            "--reset-secret",
            action="store_true",
            help="Issue a new secret for an existing client of this name.",
        )

    def handle(self, *args, name, scopes, json: bool, if_missing: bool, reset_secret: bool, **kw):
        exists = get_application_model().objects.filter(name=name).exists()
        try:
            if exists and reset_secret:
                issued = api_client_reset_secret(name=name)
            elif exists:
                if if_missing:
                    self.stdout.write(
                        f"API client '{name}' exists; its secret was shown when it was created "
                        "(use --reset-secret for a new one)."
                    )
                    return
                raise CommandError(f"An API client named '{name}' already exists")
            else:
                issued = api_client_create(name=name, scopes=scopes)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        payload = {
            "name": issued.name,
            "client_id": issued.client_id,
            "client_secret": issued.client_secret,
            "scopes": issued.scopes,
        }
        if json:
            self.stdout.write(_dumps(payload))
            return
        self.stdout.write(f"API client '{issued.name}'")
        self.stdout.write(f"  client_id:     {issued.client_id}")
        self.stdout.write(f"  client_secret: {issued.client_secret}")
        self.stdout.write(f"  scopes:        {' '.join(issued.scopes)}")
        self.stdout.write("The secret is shown only now; store it safely.")


def _dumps(payload) -> str:
    return jsonlib.dumps(payload)
