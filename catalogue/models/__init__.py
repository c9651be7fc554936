from catalogue.models.base import ExternalSource, LocalizedModel, TimestampedModel, now_ms
from catalogue.models.category import Category, CategorySource

__all__ = [
    "Category",
    "CategorySource",
    "ExternalSource",
    "LocalizedModel",
    "TimestampedModel",
    "now_ms",
]
