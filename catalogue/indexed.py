"""The kinds of record with a search document: their tables and how a document is made."""

from collections.abc import Callable
from dataclasses import dataclass

from catalogue import rules
from catalogue.models import (
    Category,
    CategorySearch,
    CategorySource,
    Cluster,
    ClusterOption,
    ClusterOptionSearch,
    ClusterOptionSource,
    ClusterSearch,
    ClusterSource,
    Product,
    ProductSearch,
    ProductSource,
)


@dataclass(frozen=True)
class Indexed:
    """A kind of record with a search document."""

    model: type
    source_model: type
    search_model: type
    owner: str  # the search table's record column
    columns: tuple[str, ...]  # besides the names
    document: Callable[[dict, list[tuple[str, str]]], str]


INDEXED = {
    "products": Indexed(
        Product,
        ProductSource,
        ProductSearch,
        "product_id",
        rules.SEARCHED_PRODUCT_CODES,
        rules.product_search_document,
    ),
    "clusters": Indexed(
        Cluster,
        ClusterSource,
        ClusterSearch,
        "cluster_id",
        ("code",),
        rules.cluster_search_document,
    ),
    "options": Indexed(
        ClusterOption,
        ClusterOptionSource,
        ClusterOptionSearch,
        "option_id",
        (),
        rules.named_search_document,
    ),
    "categories": Indexed(
        Category, CategorySource, CategorySearch, "category_id", (), rules.named_search_document
    ),
}
