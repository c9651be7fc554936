"""A changelist paginator that never counts a large table row by row."""

from functools import cached_property

from django.core.paginator import Paginator
from django.db import connection

from catalogue.models import Product
from catalogue.selectors.counts import table_row_count

# Up to this many matches a filtered list is counted exactly; beyond, the planner's estimate.
EXACT_COUNT_LIMIT = 10_000


class EstimatedCountPaginator(Paginator):
    """The whole product table is counted from the maintained row count (exact, no scan); any
    other list exactly up to EXACT_COUNT_LIMIT rows, and beyond that by the planner's estimate."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        query = queryset.query
        whole = not query.where and not query.distinct and not query.combinator
        if whole and queryset.model is Product:
            return table_row_count(Product)
        capped = queryset.order_by()[: EXACT_COUNT_LIMIT + 1].count()
        if capped <= EXACT_COUNT_LIMIT:
            return capped
        return max(capped, estimated_rows(queryset))

    def page(self, number):
        """A page read in two steps: its ids from the ordering's index (a deep page skips
        narrow index entries, not wide rows with their joins), then those rows."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        if not ids:
            return self._get_page([], number, self)
        # The same select (related rows, annotations) by id alone: the filters are done.
        rows = self.object_list.all()
        rows.query.clear_where()
        by_id = {row.pk: row for row in rows.filter(pk__in=ids).order_by()}
        return self._get_page([by_id[pk] for pk in ids if pk in by_id], number, self)


def estimated_rows(queryset) -> int:
    """The planner's row estimate for a queryset (EXPLAIN, nothing is read)."""
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        import json

        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
