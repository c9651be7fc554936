"""Slug allocation: generated from names, unique per language, de-duplicated with -2, -3, …"""

import re
from collections import defaultdict
from collections.abc import Hashable, Iterable

from django.db import connection
from django.utils.text import slugify

SLUG_MAX_LENGTH = 1000
_SUFFIX = re.compile(r"^(?P<base>.*?)(?:-(?P<n>[0-9]+))?$")


def slug_base(name: str) -> str:
    base = slugify(name)[: SLUG_MAX_LENGTH - 12].strip("-")
    return base or "item"


def _taken(model, column: str, bases: list[str]) -> dict[str, set[int]]:
    """For each base, the suffix numbers already used (1 stands for the bare base)."""
    table = model._meta.db_table
    taken: dict[str, set[int]] = defaultdict(set)
    with connection.cursor() as cursor:
        # A prefix range on the varchar_pattern_ops index, whatever the database collation.
        cursor.execute(
            f"""
            SELECT b.base, t.slug FROM unnest(%s::text[]) AS b(base)
            JOIN LATERAL (
                SELECT {column} AS slug FROM {table}
                WHERE {column} ~>=~ b.base AND {column} ~<~ (b.base || '~')
            ) t ON true
            """,
            [bases],
        )
        for base, slug in cursor.fetchall():
            if slug == base:
                taken[base].add(1)
            elif slug.startswith(base + "-") and slug[len(base) + 1 :].isdigit():
                taken[base].add(int(slug[len(base) + 1 :]))
    return taken


def allocate_slugs(
    model, language: str, wanted: Iterable[tuple[Hashable, str]]
) -> dict[Hashable, str]:
    """Give each (key, name) a free slug in `language`, in order, in one query."""
    wanted = [(key, slug_base(name)) for key, name in wanted]
    if not wanted:
        return {}
    column = f"slug_{language.lower()}"
    taken = _taken(model, column, sorted({base for _, base in wanted}))
    result = {}
    for key, base in wanted:
        used = taken[base]
        number = 1
        while number in used:
            number += 1
        used.add(number)
        result[key] = base if number == 1 else f"{base}-{number}"
    return result
