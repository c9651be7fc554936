"""Export categories, products and clusters as NDJSON or CSV, streaming, with the list filters."""

import csv
import io
import sys
from pathlib import Path

import orjson
from django.core.management.base import BaseCommand, CommandError

from api.importing import (
    RESOURCES,
    AdapterError,
    category_source_pairs,
    count_records,
    export_lines,
)
from api.management.catalogue_files import SINGULAR, TYPE_FIELD, csv_columns, csv_row
from api.management.progress import Progress


class Command(BaseCommand):
    help = (
        "Stream categories, products and clusters to NDJSON (the records of "
        "GET /v2/<resource>/export, each with a type field) or CSV, in id order, categories "
        "first. The file imports back with import_catalogue; products in a cluster name it as "
        "their parent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--resource",
            choices=RESOURCES,
            action="append",
            help="Export only this resource (repeatable; default: all of them).",
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
            "--parent-key",
            choices=("sourceId", "id"),
            default="sourceId",
            help="How parents are named: by their source pair (default; the file imports into "
            "any catalogue) or by id (only into this one). Parents without a source pair keep "
            "their id.",
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
        pairs = category_source_pairs() if options["parent_key"] == "sourceId" else {}
        if file_format == "csv":
            text = io.TextIOWrapper(target, encoding="utf-8", newline="", write_through=True)
            writer = csv.writer(text)
            columns = csv_columns(resources)
            writer.writerow(columns)
        for resource in resources:
            kind = SINGULAR[resource]
            for chunk in export_lines(resource, filters):
                lines = chunk.splitlines()
                records = [_named_parent(orjson.loads(line), pairs) for line in lines]
                if file_format == "csv":
                    writer.writerows(csv_row(record, resource, columns) for record in records)
                else:
                    target.write(
                        b"".join(
                            orjson.dumps({TYPE_FIELD: kind, **record}) + b"\n" for record in records
                        )
                    )
                done += len(lines)
                progress.update(done, done / total if total else None)
        if file_format == "csv":
            text.flush()
            text.detach()
        progress.finish(done)
        return done


def _named_parent(record: dict, pairs: dict[int, tuple[str, str]]) -> dict:
    """Name the record's parent category by its source pair when it has one; a product in a
    cluster names its cluster, so that importing the line keeps it there."""
    if record.get("clusterId") is not None:
        record["parent"] = {"clusterId": record["clusterId"]}
        return record
    parent = record.get("parent")
    if parent and set(parent) == {"id"} and parent["id"] in pairs:
        source, source_id = pairs[parent["id"]]
        record["parent"] = {"source": source, "sourceId": source_id}
    return record
