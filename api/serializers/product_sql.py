"""The product representation built by PostgreSQL, for exports of millions of rows.

It produces the same JSON as `present_products` (without expands); a test compares the two
for every field so they cannot drift apart.
"""

from django.conf import settings

from api.serializers.common import API_NAME
from api.serializers.product import PLAIN_FIELDS
from catalogue.localized import localized_fields
from catalogue.models import Product, ProductCategory, ProductSource

ISO = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _localized(field: str, language: str | None) -> str:
    """An LS array: every language with a value, or one language with the record's fallback."""
    codes = settings.CATALOGUE_LANGUAGES
    if language is None:
        elements = ", ".join(
            f"CASE WHEN p.{field}_{code.lower()} <> '' THEN jsonb_build_object("
            f"'language', {_literal(code)}, 'value', p.{field}_{code.lower()}) END"
            for code in codes
        )
        return f"to_jsonb(array_remove(ARRAY[{elements}], NULL))"
    own = f"p.{field}_{language.lower()}"
    default = (
        "CASE p.language "
        + " ".join(f"WHEN {_literal(code)} THEN p.{field}_{code.lower()}" for code in codes)
        + " END"
    )
    return (
        f"CASE WHEN {own} <> '' THEN jsonb_build_array(jsonb_build_object("
        f"'language', {_literal(language)}, 'value', {own})) "
        f"WHEN {default} <> '' THEN jsonb_build_array(jsonb_build_object("
        f"'language', p.language, 'value', {default})) ELSE '[]'::jsonb END"
    )


def _plain(column: str, conversion) -> str:
    if conversion == "decimal":
        return f"trim_scale(p.{column})"
    if conversion is not None:  # Y/N flags
        return f"CASE WHEN p.{column} THEN 'Y' ELSE 'N' END"
    return f"p.{column}"


def product_json_sql(language: str | None) -> str:
    """SELECT one JSON text per product row aliased `p` (the caller adds FROM/WHERE)."""
    pairs: list[tuple[str, str]] = [("id", "p.id"), ("language", "p.language")]
    pairs += [(API_NAME[f], _localized(f, language)) for f in localized_fields(Product)]
    pairs += [(api, _plain(column, conv)) for api, (column, conv) in PLAIN_FIELDS.items()]
    pairs += [
        ("attributes", "p.attributes"),
        (
            "parent",
            "CASE WHEN primary_link.category_id IS NULL THEN NULL ELSE "
            "jsonb_build_object('id', primary_link.category_id) END",
        ),
        ("source", "src.pairs -> 0 ->> 'source'"),
        ("sourceId", "src.pairs -> 0 ->> 'sourceId'"),
        ("sources", "src.pairs"),
        ("categoryIds", "links.ids"),
        ("clusterId", "NULL::bigint"),
        ("createdAt", ISO.format("p.created_at")),
        ("lastModifiedAt", ISO.format("p.last_modified_at")),
    ]
    arguments = ", ".join(f"{_literal(key)}, {value}" for key, value in pairs)
    sources = ProductSource._meta.db_table
    links = ProductCategory._meta.db_table
    return f"""
        SELECT json_build_object({arguments})::text
        FROM {Product._meta.db_table} p
        LEFT JOIN LATERAL (
            SELECT coalesce(jsonb_agg(jsonb_build_object('source', s.source, 'sourceId', s.source_id)
                                      ORDER BY s.position, s.id), '[]'::jsonb) AS pairs
            FROM {sources} s WHERE s.owner_id = p.id
        ) src ON true
        LEFT JOIN LATERAL (
            SELECT coalesce(jsonb_agg(l.category_id ORDER BY l.is_primary DESC, l.category_id),
                            '[]'::jsonb) AS ids
            FROM {links} l WHERE l.product_id = p.id
        ) links ON true
        LEFT JOIN {links} primary_link ON primary_link.product_id = p.id AND primary_link.is_primary
    """
