from django.core.management.base import BaseCommand
from oauth2_provider.models import get_application_model

from api.management.commands._clients import client_errors, write_issued
from api.services import api_client_create, api_client_rotate_secret


class Command(BaseCommand):
    help = (
        "Create an OAuth2 client-credentials API client and print its client id and secret; "
        "the secret is shown only this once. Refuses a name that is taken, unless "
        "--if-missing (then it does nothing) or --reset-secret (then that existing client "
        "gets a new secret and the --scopes given, and its tokens are revoked)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The client's name; names are unique.")
        parser.add_argument(
            "--scopes",
            nargs="+",
            required=True,
            help="Scopes it may request, e.g. product.read category.write (write implies read).",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--if-missing",
            action="store_true",
            help="Do nothing (and print no secret) when a client with this name exists.",
        )
        mode.add_argument(
            "--reset-secret",
            action="store_true",
            help=(
                "The client must exist: give it a new secret and the --scopes given, and revoke "
                "its tokens."
            ),
        )

    def handle(self, *args, name, scopes, json: bool, if_missing: bool, reset_secret: bool, **kw):
        with client_errors():
            if reset_secret:
                issued = api_client_rotate_secret(name=name, scopes=scopes)
            elif if_missing and get_application_model().objects.filter(name=name).exists():
                self.stdout.write(
                    f"API client '{name}' exists; its secret was shown when it was created "
                    "(use --reset-secret for a new one)."
                )
                return
            else:
                issued = api_client_create(name=name, scopes=scopes)
        write_issued(self, issued, as_json=json, revoked=reset_secret)
