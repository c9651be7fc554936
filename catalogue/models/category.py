from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from mptt.models import MPTTModel, TreeForeignKey

from catalogue.models.base import ExternalSource, LocalizedModel, SearchDocument

SHORT_TEXT = 1000
LONG_TEXT = 300_000


def slug_constraints(prefix: str) -> list[models.UniqueConstraint]:
    """Return one partial unique constraint per catalogue language on slug_<lang>."""
    return [
        models.UniqueConstraint(
            fields=[f"slug_{code}"],
            condition=~Q(**{f"slug_{code}": ""}),
            name=f"{prefix}_unique_slug_{code}",
        )
        for code, _ in settings.LANGUAGES
    ]


def slug_prefix_indexes(prefix: str) -> list[models.Index]:
    """One varchar_pattern_ops index per language: slug prefix ranges for de-duplication."""
    return [
        models.Index(
            fields=[f"slug_{code}"],
            opclasses=["varchar_pattern_ops"],
            name=f"{prefix}_slug_{code}_prefix",
        )
        for code, _ in settings.LANGUAGES
    ]


class LocalizedContent(models.Model):
    """The localized fields shared by products, categories and clusters."""

    name = models.CharField(max_length=SHORT_TEXT, blank=True, default="")
    description = models.TextField(blank=True, default="")
    short_description = models.CharField(max_length=SHORT_TEXT, blank=True, default="")
    slug = models.CharField(max_length=SHORT_TEXT, blank=True, default="")
    metadata_title = models.CharField(max_length=SHORT_TEXT, blank=True, default="")
    metadata_description = models.CharField(max_length=SHORT_TEXT, blank=True, default="")
    metadata_keywords = models.CharField(max_length=SHORT_TEXT, blank=True, default="")
    metadata_canonical_url = models.CharField(max_length=SHORT_TEXT, blank=True, default="")

    class Meta:
        abstract = True


class Category(MPTTModel, LocalizedModel, LocalizedContent):
    parent = TreeForeignKey(
        "self", null=True, blank=True, related_name="children", on_delete=models.PROTECT
    )
    hidden = models.BooleanField(default=False)
    priority = models.IntegerField(default=0)

    class Meta:
        verbose_name_plural = "categories"
        constraints = slug_constraints("category")
        indexes = [
            *slug_prefix_indexes("category"),
            models.Index(fields=["last_modified_at", "id"], name="category_modified_id"),
            models.Index(fields=["created_at", "id"], name="category_created_id"),
        ]

    class MPTTMeta:
        order_insertion_by = []

    def __str__(self) -> str:
        return getattr(self, f"name_{settings.LANGUAGE_CODE}", "") or f"Category {self.pk}"


class CategorySearch(SearchDocument):
    category = models.OneToOneField(
        Category, primary_key=True, related_name="search", on_delete=models.CASCADE
    )

    class Meta:
        indexes = [GinIndex(fields=["vector"], name="category_search_vector")]


class CategorySource(ExternalSource):
    owner = models.ForeignKey(Category, related_name="sources", on_delete=models.CASCADE)

    class Meta(ExternalSource.Meta):
        pass
