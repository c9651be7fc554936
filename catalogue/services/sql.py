"""Set-based statements: many rows per statement, one array parameter per column."""

import json
from collections.abc import Iterable

from django.db import connection


def _array_type(model, column: str) -> str:
    field = model._meta.get_field(column) if column != "id" else model._meta.pk
    db_type = field.db_type(connection)
    if db_type == "jsonb":
        return "text[]"  # sent as JSON text, cast below
    return f"{db_type}[]"


def _cast(model, column: str, placeholder: str) -> str:
    field = model._meta.get_field(column) if column != "id" else model._meta.pk
    if field.db_type(connection) == "jsonb":
        return f"{placeholder}::text[]::jsonb[]"
    return f"{placeholder}::{_array_type(model, column)}"


def _column_values(model, column: str, rows: list[dict]) -> list:
    field = model._meta.get_field(column) if column != "id" else model._meta.pk
    if field.db_type(connection) == "jsonb":
        return [json.dumps(row[column]) for row in rows]
    return [row[column] for row in rows]


def allocate_ids(model, count: int) -> list[int]:
    """Reserve `count` primary keys from the model's sequence."""
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)",
            [count],
        )
        return [row[0] for row in cursor.fetchall()]


def insert_rows(model, columns: list[str], rows: list[dict]) -> None:
    """INSERT all rows (each a dict with every column, `id` included) in one statement."""
    if not rows:
        return
    table = model._meta.db_table
    names = ", ".join(columns)
    arrays = ", ".join(_cast(model, column, "%s") for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays})",
            [_column_values(model, column, rows) for column in columns],
        )


def update_rows(model, columns: list[str], rows: list[dict]) -> None:
    """UPDATE the given columns of every row (matched by `id`) in one statement."""
    if not rows:
        return
    table = model._meta.db_table
    arrays = ", ".join(_cast(model, column, "%s") for column in ["id", *columns])
    assignments = ", ".join(f"{column} = v.{column}" for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS t SET {assignments} "
            f"FROM unnest({arrays}) AS v(id, {', '.join(columns)}) WHERE t.id = v.id",
            [_column_values(model, column, rows) for column in ["id", *columns]],
        )


def replace_sources(source_model, owners: Iterable[int], pairs: dict[int, list[tuple]]) -> None:
    """Replace the external-source sets of the given owners with `pairs[owner]`."""
    owners = list(owners)
    if not owners:
        return
    table = source_model._meta.db_table
    rows = [
        (owner, source, source_id, position)
        for owner in owners
        for position, (source, source_id) in enumerate(pairs.get(owner, []))
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE owner_id = ANY(%s)", [owners])
        if rows:
            cursor.execute(
                f"INSERT INTO {table} (owner_id, source, source_id, position) "
                "SELECT * FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[], %s::smallint[])",
                [list(column) for column in zip(*rows, strict=True)],
            )
