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


def _existing(model, column: str, candidates: list[str]) -> set[str]:
    """Which of the candidate slugs exist already (index lookups)."""
    if not candidates:
        return set()
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE {column} = ANY(%s)", [candidates])
        return {row[0] for row in cursor.fetchall()}


def allocate_slugs(
    model, language: str, wanted: Iterable[tuple[Hashable, str]]
) -> dict[Hashable, str]:
    """Give each (key, name) a free slug in `language`, in order.

    Usually two queries: which bases are taken, then which of -2 … -11 are; only a base used
    more than that reads its existing variants through the prefix index.
    """
    wanted = [(key, slug_base(name)) for key, name in wanted]
    if not wanted:
        return {}
    column = f"slug_{language.lower()}"
    bases = sorted({base for _, base in wanted})
    taken = _existing(model, column, bases)
    # Each base may need as many variants as items ask for it in this batch.
    demand: dict[str, int] = defaultdict(int)
    for _, base in wanted:
        demand[base] += 1
    # Variants of a base are probed when it is taken, and when several items ask for it (the
    # second one gets -2, which may exist even when the bare base does not).
    crowded = [base for base in bases if base in taken or demand[base] > 1]
    probes = [f"{base}-{n}" for base in crowded for n in range(2, 12 + demand[base])]
    taken |= _existing(model, column, probes)
    used: dict[str, set[int]] = defaultdict(set)
    for base in bases:
        if base in taken:
            used[base].add(1)
        for n in range(2, 12 + demand[base]):
            if f"{base}-{n}" in taken:
                used[base].add(n)
    # A base whose probed variants are all taken: read what exists beyond them.
    full = [base for base in crowded if all(n in used[base] for n in range(2, 12 + demand[base]))]
    if full:
        for base, numbers in _taken(model, column, full).items():
            used[base] |= numbers
    result = {}
    for key, base in wanted:
        number = 1
        while number in used[base]:
            number += 1
        used[base].add(number)
        result[key] = base if number == 1 else f"{base}-{number}"
    return result
