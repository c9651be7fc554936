"""Export categories and products as NDJSON or CSV, streaming, with the list filters."""

import csv
import sys
from pathlib import Path

import orjson
from django.core.management.base import BaseCommand, CommandError

from api.importing import RESOURCES, AdapterError, count_records, export_lines
from api.management.catalogue_files import SINGULAR, TYPE_FIELD, csv_columns, csv_row
from api.management.progress import Progress


class Command(BaseCommand):
    help = (
        "Stream categories and products to NDJSON (the records of GET /v2/<resource>/export, "
        "each with a type field) or CSV, in id order, categories first. The file imports back "
        "with import_catalogue."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--resource",
            choices=RESOURCES,
            action="append",
            help="Export only this resource (repeatable; default: categories and products).",
        )
        parser.add_argument(
            "--output", "-o", default="-", help="File to write (default: standard output)."
        )
        parser.add_argument("--format", choices=("ndjson", "csv"), help="Default: by extension.")
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="A list filter as in GET /v2/<resource>?NAME=VALUE, e.g. statuses=A,T "
            "(repeatable).",
        )
        parser.add_argument(
            "--progress-interval",
            type=float,
            help="Seconds between progress reports (default: 0.2 on a terminal, else 10).",
        )

    def handle(self, *args, **options):
        resources = [r for r in RESOURCES if r in (options["resource"] or RESOURCES)]
        filters = {}
        for entry in options["filter"]:
            name, sep, value = entry.partition("=")
            if not sep or not name:
                raise CommandError(f"--filter {entry}: expected NAME=VALUE")
            filters[name] = value
        output = options["output"]
        file_format = options["format"] or ("csv" if output.endswith(".csv") else "ndjson")
        # Progress goes where the data does not.
        report = self.stderr if output == "-" else self.stdout
        try:
            total = sum(count_records(resource, filters) for resource in resources)
            target = sys.stdout.buffer if output == "-" else open(Path(output), "wb")  # noqa: SIM115
            try:
                written = self._write(
                    target, resources, filters, file_format, total, report, options
                )
            finally:
                if output != "-":
                    target.close()
        except AdapterError as error:
            raise CommandError("; ".join(error.messages)) from None
        if output != "-":
            self.stdout.write(f"Exported {written:,} records to {output}")

    def _write(self, target, resources, filters, file_format, total, report, options) -> int:
        progress = Progress(
            report,
            label="Exporting",
            terminal=report.isatty(),
            interval=options["progress_interval"],
        )
        done = 0
        if file_format == "csv":
            import io

            text = io.TextIOWrapper(target, encoding="utf-8", newline="", write_through=True)
            writer = csv.writer(text)
            columns = csv_columns(resources)
            writer.writerow(columns)
        for resource in resources:
            prefix = b'{"' + TYPE_FIELD.encode() + b'":"' + SINGULAR[resource].encode() + b'",'
            for chunk in export_lines(resource, filters):
                lines = chunk.splitlines()
                if file_format == "csv":
                    writer.writerows(
                        csv_row(orjson.loads(line), resource, columns) for line in lines
                    )
                else:
                    # Each line is one JSON object: the type goes in front of its first field.
                    target.write(b"".join(prefix + line[1:] + b"\n" for line in lines))
                done += len(lines)
                progress.update(done, done / total if total else None)
        if file_format == "csv":
            text.flush()
            text.detach()
        progress.finish(done)
        return done
