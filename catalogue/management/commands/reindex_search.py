from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from catalogue.indexed import INDEXED
from catalogue.services.search import rebuild_search_documents


class Command(BaseCommand):
    help = (
        "Write the search documents of every product, cluster and category again, e.g. after "
        "CATALOGUE_LANGUAGES changed. Searches keep working meanwhile."
    )

    def add_arguments(self, parser):
        parser.add_argument("kinds", nargs="*", help=f"Some of {', '.join(INDEXED)}; default all.")

    def handle(self, *args, **options):
        kinds = options["kinds"] or list(INDEXED)
        unknown = sorted(set(kinds) - set(INDEXED))
        if unknown:
            raise CommandError(f"Unknown kind {unknown[0]}: choose from {', '.join(INDEXED)}")
        for kind in kinds:
            with transaction.atomic():
                changed = rebuild_search_documents([kind])[kind]
            self.stdout.write(f"{kind}: {changed} search documents rewritten")
