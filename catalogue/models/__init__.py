from catalogue.models.base import (
    ExternalSource,
    HourCountDelta,
    LocalizedModel,
    RowCountDelta,
    TimestampedModel,
    now_ms,
)
from catalogue.models.category import Category, CategorySource
from catalogue.models.product import (
    Product,
    ProductAncestor,
    ProductCategory,
    ProductSearch,
    ProductSource,
    ProductStatus,
    SearchWord,
    TaxCode,
)

__all__ = [
    "Category",
    "CategorySource",
    "ExternalSource",
    "HourCountDelta",
    "LocalizedModel",
    "Product",
    "ProductAncestor",
    "ProductCategory",
    "ProductSearch",
    "ProductSource",
    "ProductStatus",
    "RowCountDelta",
    "SearchWord",
    "TaxCode",
    "TimestampedModel",
    "now_ms",
]
