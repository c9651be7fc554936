from django.core.management.base import BaseCommand

from api.management.commands._clients import dumps, info_payload
from api.services import api_client_list


class Command(BaseCommand):
    help = (
        "List the API clients: name, client id, scopes they may request, whether they are "
        "enabled and how many unexpired tokens they hold. Secrets are never shown (they are "
        "stored only as hashes)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", help="Print a JSON array, one object per client."
        )

    def handle(self, *args, json: bool, **options):
        clients = api_client_list()
        if json:
            self.stdout.write(dumps([info_payload(info) for info in clients]))
            return
        if not clients:
            self.stdout.write("No API clients.")
            return
        header = ("NAME", "CLIENT ID", "STATE", "TOKENS", "SCOPES")
        rows = [
            (
                info.name,
                info.client_id,
                "enabled" if info.enabled else "disabled",
                str(info.active_tokens),
                " ".join(info.scopes) or "-",
            )
            for info in clients
        ]
        widths = [max(len(row[column]) for row in [header, *rows]) for column in range(4)]
        for row in [header, *rows]:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[4]]))
