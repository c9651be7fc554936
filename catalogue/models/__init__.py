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
    CategoryProductDelta,
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
    "CategoryProductDelta",
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
