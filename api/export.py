"""NDJSON export: every matching record, streamed from a server-side cursor."""

from itertools import islice

import orjson
from django.http import StreamingHttpResponse

EXPORT_BATCH = 2000


def _lines(queryset, present, params):
    records = queryset.iterator(chunk_size=EXPORT_BATCH)
    while batch := list(islice(records, EXPORT_BATCH)):
        rows = present(batch, language=params.language, expands=params.expands)
        yield b"".join(orjson.dumps(row) + b"\n" for row in rows)


def export_response(queryset, present, params) -> StreamingHttpResponse:
    """Stream the records as NDJSON in id order; memory stays constant whatever the count."""
    response = StreamingHttpResponse(
        _lines(queryset, present, params), content_type="application/x-ndjson"
    )
    response["Cache-Control"] = "no-store"
    return response
