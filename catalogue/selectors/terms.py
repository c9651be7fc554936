"""The term search of every kind of record (API lists and the admin): one engine, one ranking.

Matching and relevance come from catalogue/search.py; here they meet the search tables.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection
from django.db.models import BooleanField, Case, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.expressions import RawSQL

from catalogue.indexed import INDEXED
from catalogue.models import CategorySource, ClusterOptionSource
from catalogue.search import RELEVANCE, plan_term
from catalogue.selectors.clusters import cluster_ids_with_code
from catalogue.selectors.products import product_ids_with_code


def _ids_with_source_id(source_model) -> Callable[[str], list[int]]:
    """Ids of records with a source id equal to a code (records with no codes of their own)."""

    def ids_with_code(code: str, limit: int = 100) -> list[int]:
        if not code or len(code) > 255:
            return []
        by_source = source_model.objects.filter(source_id=code)
        return list(by_source.values_list("owner_id", flat=True)[:limit])

    return ids_with_code


@dataclass(frozen=True)
class Searched:
    """A kind of record the term search finds (see INDEXED) and its exact-code lookup."""

    kind: str
    ids_with_code: Callable[[str], list[int]]

    @property
    def search_model(self) -> type:
        return INDEXED[self.kind].search_model

    @property
    def owner(self) -> str:
        return INDEXED[self.kind].owner

    @property
    def table(self) -> str:
        return self.search_model._meta.db_table


PRODUCTS = Searched("products", product_ids_with_code)
CLUSTERS = Searched("clusters", cluster_ids_with_code)
CATEGORIES = Searched("categories", _ids_with_source_id(CategorySource))
OPTIONS = Searched("options", _ids_with_source_id(ClusterOptionSource))


def term_filter(queryset, value: str, searched: Searched, language: str | None = None):
    """Records matching a term, annotated with their `relevance` (higher first)."""
    plan = plan_term(value, language)
    code_ids = searched.ids_with_code(value.strip())
    if plan is None and not code_ids:
        return queryset.none()
    condition = Q(pk__in=code_ids)
    relevance = Value(RELEVANCE["code"])
    if plan is not None:
        found = searched.search_model.objects.filter(
            RawSQL("vector @@ %s::tsquery", [plan.query], output_field=BooleanField())
        ).values(searched.owner)
        condition |= Q(pk__in=found)
        rank, params = plan.relevance_sql("vector")
        ranked = (
            searched.search_model.objects.filter(**{searched.owner: OuterRef("pk")})
            .annotate(rank=RawSQL(rank, params, output_field=IntegerField()))
            .values("rank")
        )
        relevance = Case(When(pk__in=code_ids, then=relevance), default=Subquery(ranked))
    return queryset.filter(condition).annotate(relevance=relevance)


def term_page(
    searched: Searched, term: str, language: str | None, start: int, size: int
) -> tuple[int, list[int]]:
    """Count and page the records matching a term, by relevance then id, from the narrow
    search table alone: the same matches and order as `term_filter`."""
    plan = plan_term(term, language)
    code_ids = searched.ids_with_code(term.strip())
    if plan is None and not code_ids:
        return 0, []
    owner, table = searched.owner, searched.table
    if plan is not None and not code_ids and start == 0:
        found = _first_page_early(searched, plan, size)
        if found is not None:
            return found
    rank, rank_params = plan.relevance_sql("vector") if plan else (str(RELEVANCE["code"]), [])
    matches = f"{owner} = ANY(%s)" + (" OR vector @@ %s::tsquery" if plan else "")
    match_params = [code_ids, *([plan.query] if plan else [])]
    with connection.cursor() as cursor:
        # One pass over the matches gives the page and the total. OFFSET 0 keeps the
        # relevance computed in the scan, so only (id, relevance) pairs are counted and sorted.
        cursor.execute(
            f"""
            SELECT {owner}, count(*) OVER () FROM (
                SELECT {owner}, CASE WHEN {owner} = ANY(%s) THEN {RELEVANCE["code"]}
                                     ELSE {rank} END AS relevance
                FROM {table} WHERE {matches} OFFSET 0
            ) found
            ORDER BY relevance DESC, {owner} LIMIT %s OFFSET %s
            """,
            [code_ids, *rank_params, *match_params, size, start],
        )
        rows = cursor.fetchall()
        if rows:
            return rows[0][1], [row[0] for row in rows]
        if not start:
            return 0, []
        cursor.execute(f"SELECT count(*) FROM {table} WHERE {matches}", match_params)
        return cursor.fetchone()[0], []


# How many records (by id) a first page looks through for the page before ranking them all.
FIRST_PAGE_PROBE = 5000


def _first_page_early(searched: Searched, plan, size: int) -> tuple[int, list[int]] | None:
    """The first page, ranking only the matches among the lowest ids, when that is enough.

    The best `size` matches among the first FIRST_PAGE_PROBE records are the page unless a
    later record ranks higher than the weakest of them (later records lose ties: order is by
    id). Whether one does is asked of the index for the kinds stronger than that weakest one —
    rare kinds when the page is of a weak kind, so cheap. Then only the total is left to
    count, and most matches never need ranking. None when the first records hold no page.
    """
    owner, table = searched.owner, searched.table
    rank, rank_params = plan.relevance_sql("vector")
    with connection.cursor() as cursor:
        # Bounded: a look at the first ids, never a long walk in id order.
        cursor.execute(
            f"""
            SELECT {owner}, {rank} AS relevance
            FROM (SELECT {owner}, vector FROM {table} ORDER BY {owner} LIMIT %s) first
            WHERE vector @@ %s::tsquery ORDER BY relevance DESC, {owner} LIMIT %s
            """,
            [*rank_params, FIRST_PAGE_PROBE, plan.query, size],
        )
        rows = cursor.fetchall()
        if len(rows) < size:
            return None
        weakest = rows[-1][1]
        stronger = [query for value, query in plan.tiers if value > weakest]
        if stronger:
            # The kinds are cumulative: the last stronger one matches every record of any
            # stronger kind. One after the page's last id would outrank the page's weakest.
            # Counted, not EXISTS: a LIMIT would tempt the planner to walk the ids.
            cursor.execute(
                f"SELECT count(*) FROM {table} WHERE vector @@ %s::tsquery AND {owner} > %s",
                [stronger[-1], max(row[0] for row in rows)],
            )
            if cursor.fetchone()[0]:
                return None
        cursor.execute(f"SELECT count(*) FROM {table} WHERE vector @@ %s::tsquery", [plan.query])
        return cursor.fetchone()[0], [row[0] for row in rows]


def product_term_filter(queryset, value: str, language: str | None = None):
    """Products matching a term by names in every language, codes or source ids."""
    return term_filter(queryset, value, PRODUCTS, language)


def cluster_term_filter(queryset, value: str, language: str | None = None):
    """Clusters matching a term by names in every language, code or source ids."""
    return term_filter(queryset, value, CLUSTERS, language)


def category_term_filter(queryset, value: str, language: str | None = None):
    """Categories matching a term by names in every language or source ids."""
    return term_filter(queryset, value, CATEGORIES, language)
