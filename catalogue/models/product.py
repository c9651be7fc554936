from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper

from catalogue.models.base import ExternalSource, LocalizedModel, SearchDocument
from catalogue.models.category import (
    SHORT_TEXT,
    Category,
    LocalizedContent,
    slug_constraints,
    slug_prefix_indexes,
)


class ProductStatus(models.TextChoices):
    AVAILABLE = "A", "available"
    NOT_AVAILABLE = "N", "not available"
    OUT_OF_STOCK = "T", "out of stock"
    PHASE_OUT = "P", "phase out"
    PRESALE = "S", "presale"
    RESTRICTED = "R", "restricted"


class TaxCode(models.TextChoices):
    HIGH = "H", "high"
    LOW = "L", "low"
    NONE = "N", "none"


def _code() -> models.CharField:
    return models.CharField(max_length=255, blank=True, default="")


def _dimension() -> models.DecimalField:
    return models.DecimalField(max_digits=16, decimal_places=4, null=True, blank=True)


class Product(LocalizedModel, LocalizedContent):
    notes = models.CharField(max_length=SHORT_TEXT, blank=True, default="")
    package_description = models.CharField(max_length=SHORT_TEXT, blank=True, default="")

    sku = _code()
    supplier = _code()
    supplier_code = _code()
    manufacturer = _code()
    oem_code = _code()
    ean_code = _code()
    bar_code = _code()
    short_name = _code()
    package = _code()
    package_unit = _code()

    status = models.CharField(max_length=1, choices=ProductStatus.choices, default="A")
    tax_code = models.CharField(max_length=1, choices=TaxCode.choices, default="H")
    unit = models.PositiveIntegerField(default=1)
    minimum_quantity = models.PositiveIntegerField(default=1)
    package_unit_quantity = models.PositiveIntegerField(default=1)
    priority = models.PositiveIntegerField(default=0)
    hidden = models.BooleanField(default=False)
    orderable = models.BooleanField(default=True)
    returnable = models.BooleanField(default=True)
    physical = models.BooleanField(default=True)
    width = _dimension()
    height = _dimension()
    depth = _dimension()
    weight = _dimension()
    attributes = models.JSONField(default=list, blank=True)

    categories = models.ManyToManyField(
        Category, through="ProductCategory", related_name="products", blank=True
    )
    # A product is in at most one cluster: one column, so the database enforces it.
    cluster = models.ForeignKey(
        "catalogue.Cluster",
        null=True,
        blank=True,
        related_name="products",
        on_delete=models.SET_NULL,
    )

    class Meta:
        constraints = [
            *slug_constraints("product"),
            models.CheckConstraint(
                condition=Q(status__in=ProductStatus.values), name="product_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(tax_code__in=TaxCode.values), name="product_tax_code_valid"
            ),
            models.CheckConstraint(condition=Q(unit__gte=1), name="product_unit_positive"),
            models.CheckConstraint(
                condition=Q(minimum_quantity__gte=1), name="product_minimum_quantity_positive"
            ),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{name}__gte": 0}) | Q(**{f"{name}__isnull": True}),
                    name=f"product_{name}_not_negative",
                )
                for name in ("width", "height", "depth", "weight")
            ],
        ]
        indexes = [
            *slug_prefix_indexes("product"),
            models.Index(fields=["sku"], name="product_sku"),
            models.Index(Upper("sku"), name="product_sku_upper"),
            models.Index(Upper("supplier_code"), name="product_supplier_code_upper"),
            models.Index(fields=["supplier", "supplier_code"], name="product_supplier_code"),
            models.Index(fields=["supplier_code"], name="product_supplier_code_only"),
            models.Index(fields=["ean_code"], name="product_ean_code"),
            models.Index(fields=["manufacturer"], name="product_manufacturer"),
            models.Index(fields=["status", "id"], name="product_status_id"),
            models.Index(fields=["last_modified_at", "id"], name="product_modified_id"),
            models.Index(fields=["created_at", "id"], name="product_created_id"),
        ]

    def __str__(self) -> str:
        return self.sku or f"Product {self.pk}"


class ProductSearch(SearchDocument):
    product = models.OneToOneField(
        Product, primary_key=True, related_name="search", on_delete=models.CASCADE
    )

    class Meta:
        indexes = [GinIndex(fields=["vector"], name="product_search_vector")]


class ProductSource(ExternalSource):
    owner = models.ForeignKey(Product, related_name="sources", on_delete=models.CASCADE)

    class Meta(ExternalSource.Meta):
        # Search looks up a term among source ids of every source.
        indexes = [models.Index(fields=["source_id"], name="product_source_id")]


class ProductCategory(models.Model):
    """A product's membership of a category; at most one membership is the primary one."""

    product = models.ForeignKey(Product, related_name="memberships", on_delete=models.CASCADE)
    category = models.ForeignKey(
        Category, related_name="product_memberships", on_delete=models.PROTECT
    )
    is_primary = models.BooleanField(default=False)
    # The product's status, copied here by triggers (see migration 0006) so a search by
    # categories and statuses is answered from memberships alone, without a probe per product.
    product_status = models.CharField(max_length=1, default=ProductStatus.AVAILABLE, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "category"], name="product_category_unique"),
            models.UniqueConstraint(
                fields=["product"], condition=Q(is_primary=True), name="product_one_primary"
            ),
        ]
        indexes = [
            models.Index(
                fields=["category", "product"],
                include=["product_status"],
                name="product_category_members",
            )
        ]

    def __str__(self) -> str:
        return f"{self.product_id} in {self.category_id}{' (primary)' if self.is_primary else ''}"


class ProductAncestor(models.Model):
    """A product under a category: in it or in one of its descendants, with its status.

    Derived from memberships and the tree by triggers (migration 0007): `paths` counts the
    product's memberships at or below the category. A subtree's products are then one index
    range of the category, already distinct, instead of a de-duplication of every membership
    below it.
    """

    pk = models.CompositePrimaryKey("category_id", "product_id")
    category_id = models.BigIntegerField()
    product_id = models.BigIntegerField()
    product_status = models.CharField(max_length=1)
    paths = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [models.Index(fields=["product_id"], name="product_ancestor_product")]

    def __str__(self) -> str:
        return f"{self.product_id} under {self.category_id}"


class CategoryProductDelta(models.Model):
    """How many products are below each category, by status, kept like RowCountDelta.

    Statement triggers on ProductAncestor append +n/-n per (category, status) on every
    write (migration 0008), so a category's product count sums a few rows, whatever the size
    of its subtree; reading folds them now and then.
    """

    category_id = models.BigIntegerField()
    product_status = models.CharField(max_length=1)
    delta = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(
                fields=["category_id"],
                include=["product_status", "delta"],
                name="category_product_delta",
            )
        ]

    def __str__(self) -> str:
        return f"{self.category_id} {self.product_status} {self.delta:+d}"


class SearchWord(models.Model):
    """Every distinct word of product names and codes, to correct typos in search terms."""

    word = models.CharField(max_length=255, primary_key=True)

    class Meta:
        indexes = [GinIndex(fields=["word"], opclasses=["gin_trgm_ops"], name="search_word_trgm")]

    def __str__(self) -> str:
        return self.word
