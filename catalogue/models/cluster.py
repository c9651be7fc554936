"""Clusters: a product sold in variants (its products) with add-on choices (its options),
and the configs that say which product attributes drive the variant choice."""

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper

from catalogue.models.base import (
    ExternalSource,
    LocalizedModel,
    SearchDocument,
    TimestampedModel,
)
from catalogue.models.category import (
    Category,
    LocalizedContent,
    slug_constraints,
    slug_prefix_indexes,
)
from catalogue.models.product import Product


class DisplayType(models.TextChoices):
    DROPDOWN = "dropdown", "select menu"
    RADIO = "radio", "radio buttons or tiles"
    IMAGE = "image", "image tiles"
    COLOR = "color", "colour swatches"


class ClusterConfig(TimestampedModel):
    """Which product attributes drive the variant choice of the clusters using it."""

    name = models.CharField(max_length=35, unique=True)

    class Meta:
        indexes = [
            models.Index(fields=["last_modified_at", "id"], name="cluster_config_modified_id"),
            models.Index(fields=["created_at", "id"], name="cluster_config_created_id"),
        ]

    def __str__(self) -> str:
        return self.name


class ClusterConfigSetting(models.Model):
    """One driving attribute of a config: how its choice is shown, and when it is asked."""

    config = models.ForeignKey(ClusterConfig, related_name="settings", on_delete=models.CASCADE)
    attribute_name = models.CharField(max_length=64)
    display_type = models.CharField(max_length=16, choices=DisplayType.choices)
    priority = models.IntegerField(default=0)

    class Meta:
        ordering = ["priority", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["config", "attribute_name"], name="cluster_config_setting_unique"
            ),
            models.CheckConstraint(
                condition=Q(display_type__in=DisplayType.values),
                name="cluster_config_setting_display_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.attribute_name} ({self.display_type})"


class Cluster(LocalizedModel, LocalizedContent):
    code = models.CharField(max_length=255, blank=True, default="")
    config = models.ForeignKey(ClusterConfig, related_name="clusters", on_delete=models.PROTECT)
    default_product = models.ForeignKey(
        Product, null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    hidden = models.BooleanField(default=False)
    priority = models.IntegerField(default=0)
    categories = models.ManyToManyField(
        Category, through="ClusterCategory", related_name="clusters", blank=True
    )

    class Meta:
        constraints = [
            *slug_constraints("cluster"),
            models.UniqueConstraint(
                fields=["code"], condition=~Q(code=""), name="cluster_unique_code"
            ),
        ]
        indexes = [
            *slug_prefix_indexes("cluster"),
            models.Index(Upper("code"), name="cluster_code_upper"),
            models.Index(fields=["last_modified_at", "id"], name="cluster_modified_id"),
            models.Index(fields=["created_at", "id"], name="cluster_created_id"),
        ]

    def __str__(self) -> str:
        return self.code or f"Cluster {self.pk}"


class ClusterSearch(SearchDocument):
    cluster = models.OneToOneField(
        Cluster, primary_key=True, related_name="search", on_delete=models.CASCADE
    )

    class Meta:
        indexes = [GinIndex(fields=["vector"], name="cluster_search_vector")]


class ClusterSource(ExternalSource):
    owner = models.ForeignKey(Cluster, related_name="sources", on_delete=models.CASCADE)

    class Meta(ExternalSource.Meta):
        indexes = [models.Index(fields=["source_id"], name="cluster_source_id")]


class ClusterCategory(models.Model):
    """A cluster's membership of a category; at most one membership is the primary one."""

    cluster = models.ForeignKey(Cluster, related_name="memberships", on_delete=models.CASCADE)
    category = models.ForeignKey(
        Category, related_name="cluster_memberships", on_delete=models.PROTECT
    )
    is_primary = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "category"], name="cluster_category_unique"),
            models.UniqueConstraint(
                fields=["cluster"], condition=Q(is_primary=True), name="cluster_one_primary"
            ),
        ]
        indexes = [models.Index(fields=["category", "cluster"], name="cluster_category_members")]

    def __str__(self) -> str:
        return f"{self.cluster_id} in {self.category_id}{' (primary)' if self.is_primary else ''}"


class ClusterAncestor(models.Model):
    """A cluster under a category: in it or in one of its descendants (kept by triggers, see
    catalogue/dbcode.py), like ProductAncestor for products."""

    pk = models.CompositePrimaryKey("category_id", "cluster_id")
    category_id = models.BigIntegerField()
    cluster_id = models.BigIntegerField()
    paths = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [models.Index(fields=["cluster_id"], name="cluster_ancestor_cluster")]

    def __str__(self) -> str:
        return f"{self.cluster_id} under {self.category_id}"


class CategoryClusterDelta(models.Model):
    """How many clusters are below each category, kept like CategoryProductDelta."""

    category_id = models.BigIntegerField()
    delta = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["category_id"], include=["delta"], name="category_cluster_delta")
        ]

    def __str__(self) -> str:
        return f"{self.category_id} {self.delta:+d}"


class ClusterOption(LocalizedModel):
    """An add-on choice of a cluster ("Warranty"): the products a customer may pick for it."""

    cluster = models.ForeignKey(Cluster, related_name="options", on_delete=models.CASCADE)
    name = models.CharField(max_length=1000, blank=True, default="")
    description = models.TextField(blank=True, default="")
    short_description = models.CharField(max_length=1000, blank=True, default="")
    is_required = models.BooleanField(default=False)
    hidden = models.BooleanField(default=False)
    sort_order = models.IntegerField(default=0)
    default_product = models.ForeignKey(
        Product, null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    products = models.ManyToManyField(
        Product, through="ClusterOptionProduct", related_name="cluster_options", blank=True
    )

    class Meta:
        indexes = [
            models.Index(fields=["cluster", "sort_order", "id"], name="cluster_option_order"),
            models.Index(fields=["last_modified_at", "id"], name="cluster_option_modified_id"),
            models.Index(fields=["created_at", "id"], name="cluster_option_created_id"),
        ]

    def __str__(self) -> str:
        return getattr(self, "name", "") or f"Option {self.pk}"


class ClusterOptionSearch(SearchDocument):
    option = models.OneToOneField(
        ClusterOption, primary_key=True, related_name="search", on_delete=models.CASCADE
    )

    class Meta:
        indexes = [GinIndex(fields=["vector"], name="cluster_option_search_vector")]


class ClusterOptionSource(ExternalSource):
    owner = models.ForeignKey(ClusterOption, related_name="sources", on_delete=models.CASCADE)

    class Meta(ExternalSource.Meta):
        pass


class ClusterOptionProduct(models.Model):
    """A product a customer may pick for an option (it stays where it is)."""

    option = models.ForeignKey(ClusterOption, related_name="selectable", on_delete=models.CASCADE)
    product = models.ForeignKey(Product, related_name="selectable_in", on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["option", "product"], name="cluster_option_product_unique"
            )
        ]
        indexes = [models.Index(fields=["product"], name="cluster_option_product_product")]

    def __str__(self) -> str:
        return f"{self.product_id} in option {self.option_id}"
