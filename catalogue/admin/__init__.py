"""The staff UI. Every save goes through the services the API uses, so the same rules hold."""

from catalogue.admin import categories, clusters, products

__all__ = ["categories", "clusters", "products"]
