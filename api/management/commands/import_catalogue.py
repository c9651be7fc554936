"""Import categories, products and clusters from NDJSON or CSV through the API's bulk engine."""

from collections import Counter, defaultdict
from pathlib import Path

import orjson
from django.core.management.base import BaseCommand, CommandError

from api.importing import (
    RESOURCES,
    AdapterError,
    batch_limit,
    lookup_keys,
    refresh_statistics,
    upsert_batch,
)
from api.management.catalogue_files import (
    CountingReader,
    RejectWriter,
    Row,
    file_format,
    read_csv,
    read_ndjson,
    reject_path,
)
from api.management.progress import Progress

OUTCOMES = ("created", "updated", "unchanged", "skipped", "failed")
ANALYZE_FIRST_AT = 1000
ACTION_OUTCOME = {"create": "created", "update": "updated", "skip": "skipped", "error": "failed"}


class Command(BaseCommand):
    help = (
        "Import categories, products and clusters from an NDJSON or CSV file in bulk batches "
        "(the same rules as POST /v2/<resource>/bulk/<lookupKey>; a cluster row may carry "
        "products and options as in the cluster bulk, in NDJSON). Rows that fail go to a reject "
        "file with their errors; re-running a file updates what it created."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=("ndjson", "csv"), help="Default: by extension.")
        parser.add_argument(
            "--resource",
            choices=RESOURCES,
            help="Every row is of this resource (default: each row's type field).",
        )
        parser.add_argument(
            "--lookup-key",
            default="sourceId",
            help="How rows find the record they update (default: sourceId; also id, and sku "
            "or supplierCode for products).",
        )
        parser.add_argument(
            "--batch-size", type=int, help="Rows per batch (default and maximum: the bulk limit)."
        )
        parser.add_argument(
            "--directives",
            help='Bulk directives as JSON, e.g. \'{"skipIfNotEmpty": ["names"]}\'.',
        )
        parser.add_argument(
            "--reject-file",
            type=Path,
            help="Where failed rows go (default: <file>.rejects.<ext> beside the file).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report every row's outcome; write nothing."
        )
        parser.add_argument(
            "--progress-interval",
            type=float,
            help="Seconds between progress reports (default: 0.2 on a terminal, else 10).",
        )

    def handle(self, *args, **options):
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            self.format = file_format(path, options["format"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.lookup_key = options["lookup_key"]
        forced = options["resource"]
        for resource in [forced] if forced else list(RESOURCES):
            if self.lookup_key not in lookup_keys(resource):
                raise CommandError(
                    f"--lookup-key {self.lookup_key} is not a bulk key of {resource} "
                    f"(use {', '.join(lookup_keys(resource))})"
                )
        self.directives = None
        if options["directives"]:
            try:
                self.directives = orjson.loads(options["directives"])
            except orjson.JSONDecodeError:
                raise CommandError("--directives: not valid JSON") from None
        self.dry_run = options["dry_run"]
        self.batch_sizes = {
            resource: min(options["batch_size"] or batch_limit(resource), batch_limit(resource))
            for resource in RESOURCES
        }
        self.counts: dict[str, Counter] = defaultdict(Counter)
        self.pending: dict[str, list[Row]] = {resource: [] for resource in RESOURCES}
        self.done = 0
        # Statistics are refreshed each time the rows created since the start double.
        self.created = 0
        self.analyze_at = ANALYZE_FIRST_AT
        rejects_at = options["reject_file"] or reject_path(path)

        size = path.stat().st_size
        with open(path, "rb") as raw:
            counting = CountingReader(raw)
            stream = counting if self.format == "csv" else raw
            if self.format == "csv":
                header, rows = read_csv(stream, forced)
            else:
                header, rows = None, read_ndjson(stream, forced)
            self.rejects = RejectWriter(rejects_at, self.format, header)
            self.progress = Progress(
                self.stdout,
                label=f"Importing {path.name}",
                terminal=self.stdout.isatty(),
                interval=options["progress_interval"],
            )
            position = (lambda: counting.consumed) if self.format == "csv" else raw.tell
            try:
                for row in rows:
                    self._take(row)
                    self.progress.update(self.done, position() / size if size else None)
                for resource in RESOURCES:
                    self._flush(resource)
            except AdapterError as error:
                raise CommandError("; ".join(error.messages)) from None
            finally:
                self.rejects.close()
        elapsed = self.progress.finish(self.done)
        self._summary(elapsed)
        failed = sum(counts["failed"] for counts in self.counts.values())
        if failed:
            raise CommandError(
                f"{failed:,} row(s) failed; they are in {self.rejects.path} with their errors "
                "(fix them there and import that file)"
            )

    def _take(self, row: Row) -> None:
        if row.errors:
            self._reject(row, row.resource or "rows without a type")
            return
        self.pending[row.resource].append(row)
        if len(self.pending[row.resource]) >= self.batch_sizes[row.resource]:
            # Products name categories as parents, clusters name both: what they may name and
            # was read so far goes in first.
            for resource in RESOURCES[: RESOURCES.index(row.resource) + 1]:
                self._flush(resource)

    def _flush(self, resource: str) -> None:
        rows, self.pending[resource] = self.pending[resource], []
        if not rows:
            return
        results = upsert_batch(
            resource,
            [row.item for row in rows],
            self.lookup_key,
            directives=self.directives,
            dry_run=self.dry_run,
        )
        for row, result in zip(rows, results, strict=True):
            if not result["success"]:
                row.errors = result["errors"]
                self._reject(row, resource)
                continue
            outcome = ACTION_OUTCOME[result["action"]]
            if result["index"] in results.unchanged:
                outcome = "unchanged"
            self.counts[resource][outcome] += 1
            self.done += 1
            self.created += outcome == "created"
        if self.created >= self.analyze_at and not self.dry_run:
            refresh_statistics()
            self.analyze_at = 2 * self.created

    def _reject(self, row: Row, resource: str) -> None:
        self.counts[resource]["failed"] += 1
        self.done += 1
        self.rejects.write(row)

    def _summary(self, elapsed: float) -> None:
        total = Counter()
        for resource, counts in self.counts.items():
            self.stdout.write(f"{resource}: {self._counts(counts)}")
            total.update(counts)
        rate = self.done / elapsed if elapsed else 0
        self.stdout.write(
            f"Total: {self._counts(total)} — {self.done:,} rows in {elapsed:.1f} s "
            f"({rate:,.0f} rows/s)" + (" — dry run, nothing written" if self.dry_run else "")
        )
        if self.rejects.count:
            self.stdout.write(f"Rejected rows with their errors: {self.rejects.path}")

    @staticmethod
    def _counts(counts: Counter) -> str:
        return ", ".join(f"{counts[outcome]:,} {outcome}" for outcome in OUTCOMES)
