"""NDJSON export: every matching record, streamed from a server-side cursor."""

from collections.abc import Iterator
from itertools import islice

import orjson
from django.db import connection
from django.http import StreamingHttpResponse

EXPORT_BATCH = 2000


def _lines(queryset, present, params):
    records = queryset.iterator(chunk_size=EXPORT_BATCH)
    while batch := list(islice(records, EXPORT_BATCH)):
        rows = present(batch, language=params.language, expands=params.expands)
        yield b"".join(orjson.dumps(row) + b"\n" for row in rows)


def _sql_lines(sql: str, params) -> Iterator[bytes]:
    # A server-side cursor: rows arrive in batches, never all at once.
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(EXPORT_BATCH):
            yield "".join(row[0] + "\n" for row in rows).encode()


def _streaming(lines: Iterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
    response["Cache-Control"] = "no-store"
    return response


def export_response(queryset, present, params) -> StreamingHttpResponse:
    """Stream the records as NDJSON in id order; memory stays constant whatever the count."""
    return _streaming(_lines(queryset.order_by("pk"), present, params))


def export_sql_response(json_sql: str, filtered=None) -> StreamingHttpResponse:
    """Stream JSON lines that PostgreSQL builds (`json_sql` selects from alias `p`)."""
    params: tuple = ()
    sql = json_sql
    if filtered is not None:
        ids_sql, params = filtered.order_by().values("pk").query.sql_with_params()
        sql += f" WHERE p.id IN ({ids_sql})"
    return _streaming(_sql_lines(sql + " ORDER BY p.id", params))
