"""Pieces every catalogue record shares: timestamps, a default language, external sources."""

from datetime import datetime

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone


def now_ms() -> datetime:
    """Return the current UTC time truncated to milliseconds, the precision the API exposes."""
    now = timezone.now()
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


def default_language() -> str:
    return settings.CATALOGUE_LANGUAGES[0]


class TimestampedModel(models.Model):
    # Each concrete model indexes these with its id, in the order lists sort by.
    created_at = models.DateTimeField(default=now_ms, editable=False)
    last_modified_at = models.DateTimeField(default=now_ms, editable=False)

    class Meta:
        abstract = True


class LocalizedModel(TimestampedModel):
    """A record with localized fields (registered in catalogue/translation.py)."""

    language = models.CharField(max_length=8, default=default_language)

    class Meta:
        abstract = True


class ExternalSource(models.Model):
    """One (source, sourceId) pair linking a record to an upstream system.

    Each entity has its own concrete table, so a pair is unique per resource type and the
    database, not the application, guarantees it.
    """

    source = models.CharField(max_length=255)
    source_id = models.CharField(max_length=255)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_id"], name="%(app_label)s_%(class)s_unique_pair"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.source_id}"


class RowCountDelta(models.Model):
    """Exact row counts without scanning: statement triggers append +n/-n per write.

    Reading a table's count sums its deltas; compaction folds them into one row now and then.
    """

    table_name = models.CharField(max_length=63, db_index=True)
    delta = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.table_name} {self.delta:+d}"


class HourCountDelta(models.Model):
    """Exact counts of rows per hour of a timestamp column, kept like RowCountDelta.

    Statement triggers append +n/-n per (column, hour) on every write, so the rows of a date
    range are counted from its whole hours plus an index scan of the partial hours at its ends.
    `hour` is hours since the Unix epoch (UTC).
    """

    table_name = models.CharField(max_length=63)
    column_name = models.CharField(max_length=63)
    hour = models.BigIntegerField()
    delta = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(
                fields=["table_name", "column_name", "hour"],
                include=["delta"],
                name="hour_count_delta_hour",
            )
        ]

    def __str__(self) -> str:
        return f"{self.table_name}.{self.column_name} @{self.hour} {self.delta:+d}"


class SearchDocument(models.Model):
    """A record's search document: the words of its names in every language (weighted by
    language) with their stems, and of its codes and source ids, as catalogue/search.py
    writes them.

    Kept apart from the wide record row, and holding nothing else, so a search reads small
    rows: counting and ranking thousands of matches touches as few pages as it can.
    """

    vector = SearchVectorField(default="")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return str(self.vector)[:80]
