from django.core.management.base import BaseCommand

from api.management.commands._clients import client_errors
from api.services import api_client_disable, api_client_revoke_tokens


class Command(BaseCommand):
    help = (
        "Revoke every access token of an API client at once: requests carrying them get 401 "
        "from now on. The client may get new tokens with its secret, unless --disable, which "
        "also stops it from getting any (undo with update_api_client NAME --enable)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The client's name (or its client id).")
        parser.add_argument(
            "--disable", action="store_true", help="Also refuse it new tokens from now on."
        )

    def handle(self, *args, name, disable: bool, **options):
        with client_errors():
            if disable:
                info = api_client_disable(name=name)
                self.stdout.write(
                    f"API client '{info.name}' is disabled; its tokens are revoked and it gets "
                    "no new ones."
                )
            else:
                revoked = api_client_revoke_tokens(name=name)
                self.stdout.write(f"Revoked {revoked} valid token(s) of API client '{name}'.")
