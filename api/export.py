"""NDJSON export: every matching record, streamed with constant memory."""

from collections.abc import Iterator
from itertools import islice

import orjson
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.http import StreamingHttpResponse

EXPORT_BATCH = 2000


def _lines(queryset, present, params):
    records = queryset.iterator(chunk_size=EXPORT_BATCH)
    while batch := list(islice(records, EXPORT_BATCH)):
        rows = present(batch, language=params.language, expands=params.expands)
        yield b"".join(orjson.dumps(row) + b"\n" for row in rows)


# CSV whose delimiter and quote are control characters, which JSON text never holds: every
# line passes through unquoted and unescaped.
COPY_JSON_LINES = "FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01'"
COPY_BUFFER = 1 << 20


def _copy_lines(sql: str, params) -> Iterator[bytes]:
    # COPY streams: PostgreSQL builds the next lines while these are being sent, and the
    # socket's flow control keeps memory constant. A client that goes away cancels the COPY.
    statement = f"COPY ({sql}) TO STDOUT ({COPY_JSON_LINES})"
    with connection.cursor() as cursor, cursor.copy(statement, params) as copy:
        pending, size = [], 0
        for line in copy:
            pending.append(line)
            size += len(line)
            if size >= COPY_BUFFER:
                yield b"".join(pending)
                pending, size = [], 0
        if pending:
            yield b"".join(pending)


def _streaming(lines: Iterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
    response["Cache-Control"] = "no-store"
    return response


def export_response(queryset, present, params) -> StreamingHttpResponse:
    """Stream the records as NDJSON in id order; memory stays constant whatever the count."""
    return _streaming(_lines(queryset.order_by("pk"), present, params))


def export_sql_response(json_sql: str, filtered=None) -> StreamingHttpResponse:
    """Stream JSON lines that PostgreSQL builds (`json_sql` selects from alias `p`)."""
    params = None  # the JSON SQL has no placeholders; a filter brings its own
    sql = json_sql
    if filtered is not None:
        try:
            ids_sql, params = filtered.order_by().values("pk").query.sql_with_params()
        except EmptyResultSet:
            # Django proved the filter matches nothing (`sourceIds` empty, `.none()`): there is
            # no SQL to embed, and no line to send.
            return _streaming(iter(()))
        sql += f" WHERE p.id IN ({ids_sql})"
    return _streaming(_copy_lines(sql + " ORDER BY p.id", params))
