"""Search documents: written with their records, and written again from the records after a
change of the analysis (or of the catalogue languages), by a migration or by
`manage.py reindex_search`."""

from django.conf import settings
from django.db import connection

from catalogue.indexed import INDEXED
from catalogue.search import record_words

BATCH = 5000


def write_documents(search_model, owner: str, documents: list[tuple[int, str]]) -> int:
    """Upsert (record id, document) pairs into a search table; returns how many changed."""
    if not documents:
        return 0
    table = search_model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({owner}, vector) "
            "SELECT * FROM unnest(%s::bigint[], %s::tsvector[]) "
            f"ON CONFLICT ({owner}) DO UPDATE SET vector = EXCLUDED.vector "
            f"WHERE {table}.vector IS DISTINCT FROM EXCLUDED.vector",
            [[pk for pk, _ in documents], [text for _, text in documents]],
        )
        changed = cursor.rowcount
    record_words([text for _, text in documents])
    return changed


def rebuild_search_documents(kinds=tuple(INDEXED)) -> dict[str, int]:
    """Write every record's search document again; returns the documents changed per kind."""
    changed = {}
    for kind in kinds:
        indexed = INDEXED[kind]
        names = [f"name_{code}" for code, _ in settings.LANGUAGES]
        columns = ["id", *names, *indexed.columns]
        table, sources = indexed.model._meta.db_table, indexed.source_model._meta.db_table
        changed[kind] = 0
        # A server-side cursor: a million rows are read in batches, not at once.
        with connection.chunked_cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(f'r.{c}' for c in columns)}, "
                f"ARRAY(SELECT s.source_id FROM {sources} s WHERE s.owner_id = r.id) "
                f"FROM {table} r ORDER BY r.id"
            )
            while rows := cursor.fetchmany(BATCH):
                documents = []
                for row in rows:
                    values = dict(zip(columns, row, strict=False))
                    pairs = [("", source_id) for source_id in row[-1]]
                    documents.append((row[0], indexed.document(values, pairs)))
                changed[kind] += write_documents(indexed.search_model, indexed.owner, documents)
    return changed
