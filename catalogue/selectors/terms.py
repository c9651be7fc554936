"""Text-search filters over querysets: the one matching the API's `term` and the admin use."""

from django.contrib.postgres.search import SearchQuery
from django.db.models import Case, Q, Value, When

from catalogue.models import ClusterSearch, ProductSearch
from catalogue.search import term_query
from catalogue.selectors.clusters import cluster_ids_with_code
from catalogue.selectors.products import product_ids_with_code


def term_filter(queryset, value: str, search_model, owner: str, ids_with_code):
    """Records whose search document matches the term (typo-tolerant, see catalogue/search.py),
    exact code or source-id matches first (as `relevance`)."""
    query = term_query(value)
    code_ids = ids_with_code(value.strip())
    if query is None and not code_ids:
        return queryset.none()
    condition = Q(pk__in=code_ids)
    if query is not None:
        found = search_model.objects.filter(
            vector=SearchQuery(query, config="simple", search_type="raw")
        ).values(owner)
        condition |= Q(pk__in=found)
    queryset = queryset.filter(condition)
    if code_ids:
        # Exact code or source-id matches first; ids break ties.
        queryset = queryset.annotate(
            relevance=Case(When(pk__in=code_ids, then=Value(1)), default=Value(0))
        )
    return queryset


def product_term_filter(queryset, value: str):
    """Products matching a term by names in every language, codes or source ids."""
    return term_filter(queryset, value, ProductSearch, "product_id", product_ids_with_code)


def cluster_term_filter(queryset, value: str):
    """Clusters matching a term by names in every language, code or source ids."""
    return term_filter(queryset, value, ClusterSearch, "cluster_id", cluster_ids_with_code)
