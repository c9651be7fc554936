"""The product representation built by PostgreSQL, for list pages and exports.

It produces the same JSON as `present_products` (without expands); a test compares the two
for every field so they cannot drift apart.
"""

from django.conf import settings
from django.db import connection

from api.serializers.common import API_NAME
from api.serializers.product import PLAIN_FIELDS
from catalogue.localized import localized_fields
from catalogue.models import Product, ProductCategory, ProductSource

ISO = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _entry(code: str, value: str) -> str:
    """One {language, value} object as JSON text, or NULL when the value is empty."""
    return (
        f"CASE WHEN {value} <> '' THEN "
        f"""'{{"language":"{code}","value":' || to_json({value})::text || '}}' END"""
    )


def _localized(field: str, language: str | None) -> str:
    """An LS array: every language with a value, or one language with the record's fallback.

    Built as JSON text (concat_ws skips the NULLs of empty languages): cheaper than jsonb.
    """
    codes = settings.CATALOGUE_LANGUAGES
    if language is None:
        entries = ", ".join(_entry(code, f"p.{field}_{code.lower()}") for code in codes)
        return f"('[' || concat_ws(',', {entries}) || ']')::json"
    own = f"p.{field}_{language.lower()}"
    default = (
        "CASE p.language "
        + " ".join(f"WHEN {_literal(code)} THEN p.{field}_{code.lower()}" for code in codes)
        + " END"
    )
    return (
        f"CASE WHEN {own} <> '' THEN json_build_array(json_build_object("
        f"'language', {_literal(language)}, 'value', {own})) "
        f"WHEN {default} <> '' THEN json_build_array(json_build_object("
        f"'language', p.language, 'value', {default})) ELSE '[]'::json END"
    )


def _plain(column: str, conversion) -> str:
    if conversion == "decimal":
        return f"trim_scale(p.{column})"
    if conversion is not None:  # Y/N flags
        return f"CASE WHEN p.{column} THEN 'Y' ELSE 'N' END"
    return f"p.{column}"


def product_json_sql(language: str | None, *, with_id: bool = False) -> str:
    """SELECT one JSON text per product row aliased `p` (the caller adds WHERE and ORDER BY),
    after the product's id when `with_id`."""
    pairs: list[tuple[str, str]] = [("id", "p.id"), ("language", "p.language")]
    pairs += [(API_NAME[f], _localized(f, language)) for f in localized_fields(Product)]
    pairs += [(api, _plain(column, conv)) for api, (column, conv) in PLAIN_FIELDS.items()]
    pairs += [
        ("attributes", "p.attributes"),
        (
            "parent",
            "CASE WHEN links.primary_id IS NULL THEN NULL ELSE "
            "json_build_object('id', links.primary_id) END",
        ),
        ("source", "src.first_source"),
        ("sourceId", "src.first_source_id"),
        ("sources", "coalesce(src.pairs, '[]'::json)"),
        ("categoryIds", "coalesce(links.ids, '[]'::json)"),
        ("clusterId", "NULL::bigint"),
        ("createdAt", ISO.format("p.created_at")),
        ("lastModifiedAt", ISO.format("p.last_modified_at")),
    ]
    arguments = ", ".join(f"{_literal(key)}, {value}" for key, value in pairs)
    sources = ProductSource._meta.db_table
    links = ProductCategory._meta.db_table
    return f"""
        SELECT {"p.id, " if with_id else ""}json_build_object({arguments})::text
        FROM {Product._meta.db_table} p
        LEFT JOIN LATERAL (
            SELECT json_agg(json_build_object('source', s.source, 'sourceId', s.source_id)
                            ORDER BY s.position, s.id) AS pairs,
                   (array_agg(s.source ORDER BY s.position, s.id))[1] AS first_source,
                   (array_agg(s.source_id ORDER BY s.position, s.id))[1] AS first_source_id
            FROM {sources} s WHERE s.owner_id = p.id
        ) src ON true
        LEFT JOIN LATERAL (
            SELECT json_agg(l.category_id ORDER BY l.is_primary DESC, l.category_id) AS ids,
                   min(l.category_id) FILTER (WHERE l.is_primary) AS primary_id
            FROM {links} l WHERE l.product_id = p.id
        ) links ON true
    """


def product_json_by_id(ids: list[int], language: str | None) -> dict[int, str]:
    """The JSON text of each of these products, by id."""
    with connection.cursor() as cursor:
        cursor.execute(product_json_sql(language, with_id=True) + " WHERE p.id = ANY(%s)", [ids])
        return dict(cursor.fetchall())
