from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from api.management.commands._clients import client_errors, dumps, info_payload, write_issued
from api.services import (
    api_client_enable,
    api_client_info,
    api_client_rotate_secret,
    api_client_update_scopes,
)


class Command(BaseCommand):
    help = (
        "Change an existing API client: replace the scopes it may request (--scopes), give it "
        "a new secret (--rotate-secret, printed once) or let a disabled client get tokens again "
        "(--enable). A new secret or new scopes revoke its tokens at once. Fails when no "
        "client has that name."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The client's name (or its client id).")
        parser.add_argument(
            "--scopes",
            nargs="+",
            help="The scopes it may request from now on, e.g. product.read category.write.",
        )
        parser.add_argument(
            "--rotate-secret",
            action="store_true",
            help="Issue a new secret (shown only now); the old one stops working.",
        )
        parser.add_argument(
            "--enable", action="store_true", help="Let a disabled client get tokens again."
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, name, scopes, rotate_secret: bool, enable: bool, json: bool, **kw):
        if not (scopes or rotate_secret or enable):
            raise CommandError("Nothing to change: give --scopes, --rotate-secret or --enable")
        with client_errors(), transaction.atomic():
            if enable:
                api_client_enable(name=name)
            if rotate_secret:
                issued = api_client_rotate_secret(name=name, scopes=scopes)
            else:
                issued = None
                if scopes:
                    api_client_update_scopes(name=name, scopes=scopes)
        if issued is not None:
            write_issued(self, issued, as_json=json, revoked=True)
            return
        with client_errors():
            info = api_client_info(name=name)
        if json:
            self.stdout.write(dumps(info_payload(info)))
            return
        state = "enabled" if info.enabled else "disabled"
        self.stdout.write(f"API client '{info.name}' ({state}): scopes {' '.join(info.scopes)}")
        if scopes:
            self.stdout.write("Its tokens were revoked; new ones carry the new scopes.")
