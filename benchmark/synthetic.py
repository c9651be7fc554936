"""A synthetic catalogue for benchmarks: a category tree and products in four languages.

Rows are generated deterministically from a seed and loaded with COPY, so building a million
products takes minutes, not hours.
"""

import random
import sys
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection

from catalogue.models import (
    Category,
    CategoryProductDelta,
    HourCountDelta,
    Product,
    ProductAncestor,
    ProductCategory,
    ProductSearch,
    ProductSource,
)
from catalogue.search import normalize, record_words, search_document

# (EN, NL, DE, FR) word lists; combined they give realistic, searchable product names.
MATERIALS = [
    ("Brass", "Messing", "Messing", "laiton"),
    ("Steel", "Staal", "Stahl", "acier"),
    ("Copper", "Koper", "Kupfer", "cuivre"),
    ("Stainless", "RVS", "Edelstahl", "inox"),
    ("Plastic", "Kunststof", "Kunststoff", "plastique"),
    ("Cast Iron", "Gietijzer", "Gusseisen", "fonte"),
    ("Aluminium", "Aluminium", "Aluminium", "aluminium"),
    ("Bronze", "Brons", "Bronze", "bronze"),
]
KINDS = [
    ("Ball", "Kogel", "Kugel", "à bille"),
    ("Gate", "Schuif", "Schieber", "à opercule"),
    ("Check", "Terugslag", "Rückschlag", "anti-retour"),
    ("Angle", "Hoek", "Eck", "d'angle"),
    ("Pressure", "Druk", "Druck", "de pression"),
    ("Drain", "Aftap", "Ablass", "de vidange"),
]
PRODUCTS = [
    ("Valve", "Kraan", "Ventil", "Vanne"),
    ("Coupling", "Koppeling", "Kupplung", "Raccord"),
    ("Elbow", "Knie", "Winkel", "Coude"),
    ("Pipe", "Buis", "Rohr", "Tube"),
    ("Flange", "Flens", "Flansch", "Bride"),
    ("Pump", "Pomp", "Pumpe", "Pompe"),
    ("Filter", "Filter", "Filter", "Filtre"),
    ("Gasket", "Pakking", "Dichtung", "Joint"),
    ("Thermostat", "Thermostaat", "Thermostat", "Thermostat"),
    ("Manifold", "Verdeler", "Verteiler", "Collecteur"),
]
SIZES = ["10 mm", "15 mm", "22 mm", "28 mm", "1/2 inch", "3/4 inch", "1 inch", "2 inch"]
STATUSES = ["A"] * 14 + ["N", "T", "P", "S", "R", "T"]
SUPPLIERS = [f"SUPPLIER-{n:02d}" for n in range(1, 41)]
MANUFACTURERS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne"]
BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Dataset:
    products: int
    categories: int


def _languages() -> list[str]:
    return [code for code, _ in settings.LANGUAGES]


def _name(rng: random.Random) -> list[str]:
    material, kind, product = rng.choice(MATERIALS), rng.choice(KINDS), rng.choice(PRODUCTS)
    size = rng.choice(SIZES)
    return [
        f"{material[0]} {kind[0]} {product[0]} {size}",
        f"{material[1]} {kind[1]}{product[1].lower()} {size}",
        f"{material[2]} {kind[2]}{product[2].lower()} {size}",
        f"{product[3]} {kind[3]} en {material[3]} {size}",
    ]


def _slug(text: str, number: int) -> str:
    return f"{normalize(text).replace(' ', '-')}-{number}"


def build_categories(count: int, rng: random.Random) -> list[int]:
    """Insert a category forest of `count` nodes (MPTT columns computed here); return leaf ids."""
    roots = max(1, count // 500)
    parents: dict[int, int | None] = {}
    children: dict[int | None, list[int]] = {None: []}
    for node in range(1, count + 1):
        if node <= roots:
            parent = None
        else:
            # Early nodes get more children: a realistic, uneven tree about four levels deep.
            parent = rng.randint(1, max(1, min(node - 1, node // 3 + roots)))
        parents[node] = parent
        children.setdefault(parent, []).append(node)
        children.setdefault(node, [])
    rows = []
    counter = 0

    def visit(node: int, tree_id: int, level: int) -> None:
        nonlocal counter
        counter += 1
        lft = counter
        for child in children[node]:
            visit(child, tree_id, level + 1)
        counter += 1
        rows.append((node, parents[node], tree_id, lft, counter, level))

    sys.setrecursionlimit(max(10000, count * 2))
    for tree_id, root in enumerate(children[None], start=1):
        counter = 0
        visit(root, tree_id, 0)
    languages = _languages()
    fields = [f.column for f in Category._meta.concrete_fields if f.column != "id"]
    table = Category._meta.db_table
    with connection.cursor() as cursor:
        copy_sql = f"COPY {table} (id, {', '.join(fields)}) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            for node, parent, tree_id, lft, rght, level in rows:
                values = {f: "" for f in fields}
                material, product = MATERIALS[node % len(MATERIALS)], PRODUCTS[node % len(PRODUCTS)]
                for index, code in enumerate(languages[:4]):
                    name = f"{material[index]} {product[index]} {node}"
                    values[f"name_{code}"] = name
                    values[f"slug_{code}"] = _slug(name, node)
                values.update(
                    created_at=BASE_TIME,
                    last_modified_at=BASE_TIME,
                    language=settings.CATALOGUE_LANGUAGES[0],
                    hidden=False,
                    priority=node % 7,
                    parent_id=parent,
                    tree_id=tree_id,
                    lft=lft,
                    rght=rght,
                    level=level,
                )
                copy.write_row([node, *(values[f] for f in fields)])
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        )
    return [node for node in range(1, count + 1) if not children[node]]


def build_products(count: int, leaves: list[int], rng: random.Random, start: int = 1) -> None:
    """Insert products with sources and skewed category memberships."""
    languages = _languages()
    fields = [f.column for f in Product._meta.concrete_fields if f.column != "id"]
    weights = [1 / (rank + 1) for rank in range(len(leaves))]  # Zipf-like: few hot categories
    product_table = Product._meta.db_table
    documents: set[str] = set()
    memberships = []
    search_rows = []
    with connection.cursor() as cursor:
        with cursor.cursor.copy(
            f"COPY {product_table} (id, {', '.join(fields)}) FROM STDIN"
        ) as copy:
            for number in range(start, start + count):
                names = _name(rng)
                values = {f: "" for f in fields}
                for index, code in enumerate(languages[:4]):
                    values[f"name_{code}"] = names[index]
                    values[f"slug_{code}"] = _slug(names[index], number)
                    values[f"description_{code}"] = f"{names[index]}. " * 4
                sku = f"SKU-{number:08d}"
                supplier = SUPPLIERS[number % len(SUPPLIERS)]
                supplier_code = f"{supplier[-2:]}-{number * 7 % 1000003:07d}"
                ean = f"87{number:011d}"
                stamp = BASE_TIME + timedelta(seconds=number * 17 % 31_536_000)
                manufacturer = MANUFACTURERS[number % len(MANUFACTURERS)]
                document = search_document(
                    *names, sku, supplier_code, ean, manufacturer, f"P-{number:08d}"
                )
                documents.add(" ".join(normalize(n) for n in names))
                values.update(
                    created_at=stamp,
                    last_modified_at=stamp + timedelta(days=number % 30),
                    language=settings.CATALOGUE_LANGUAGES[0],
                    sku=sku,
                    supplier=supplier,
                    supplier_code=supplier_code,
                    manufacturer=manufacturer,
                    ean_code=ean,
                    status=rng.choice(STATUSES),
                    tax_code="H",
                    unit=1,
                    minimum_quantity=1,
                    package_unit_quantity=1,
                    priority=number % 10,
                    hidden=False,
                    orderable=True,
                    returnable=True,
                    physical=True,
                    width=None,
                    height=None,
                    depth=None,
                    weight=round(rng.uniform(0.1, 20), 3),
                    attributes='[{"name": "SIZE", "value": "M"}]',
                )
                copy.write_row([number, *(values[f] for f in fields)])
                search_rows.append((number, document))
                primary = rng.choices(leaves, weights=weights)[0]
                memberships.append((number, primary, True))
                if number % 5 == 0:
                    extra = rng.choice(leaves)
                    if extra != primary:
                        memberships.append((number, extra, False))
        with cursor.cursor.copy(
            f"COPY {ProductSearch._meta.db_table} (product_id, text) FROM STDIN"
        ) as copy:
            for row in search_rows:
                copy.write_row(row)
        with cursor.cursor.copy(
            f"COPY {ProductSource._meta.db_table} (owner_id, source, source_id, position) FROM STDIN"
        ) as copy:
            for number in range(start, start + count):
                copy.write_row([number, "erp", f"P-{number:08d}", 0])
        with cursor.cursor.copy(
            f"COPY {ProductCategory._meta.db_table} (product_id, category_id, is_primary) FROM STDIN"
        ) as copy:
            for row in memberships:
                copy.write_row(row)
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{product_table}', 'id'), "
            f"(SELECT max(id) FROM {product_table}))"
        )
    record_words(sorted(documents))


def build(products: int, categories: int, seed: int = 7) -> Dataset:
    """Fill an empty catalogue with `categories` categories and `products` products."""
    rng = random.Random(seed)
    leaves = build_categories(categories, rng)
    batch = 100_000
    for start in range(1, products + 1, batch):
        build_products(min(batch, products - start + 1), leaves, rng, start=start)
    with connection.cursor() as cursor:
        # Fresh statistics and visibility maps, as autovacuum would leave a live database.
        for table in (
            Category,
            Product,
            ProductSearch,
            ProductSource,
            ProductCategory,
            ProductAncestor,
            CategoryProductDelta,
            HourCountDelta,
        ):
            cursor.execute(f"VACUUM (ANALYZE) {table._meta.db_table}")
    return Dataset(products=products, categories=categories)


def bulk_items(prefix: str, leaves: list[int], version: int, count: int = 2000) -> list[dict]:
    """API items for a bulk benchmark: 4 languages, 2 sources and a category each.

    The same prefix gives the same products; `version` changes their names and weight.
    """
    rng = random.Random(zlib.crc32(prefix.encode()))
    codes = settings.CATALOGUE_LANGUAGES[:4]
    suffix = "" if version == 1 else f" v{version}"
    items = []
    for number in range(count):
        names = _name(rng)
        items.append(
            {
                "source": "erp",
                "sourceId": f"BK-{prefix}-{number}",
                "sources": [
                    {"source": "erp", "sourceId": f"BK-{prefix}-{number}"},
                    {"source": "pim", "sourceId": f"PIM-{prefix}-{number}"},
                ],
                "names": [
                    {"language": code, "value": name + suffix}
                    for code, name in zip(codes, names, strict=False)
                ],
                "descriptions": [
                    {"language": code, "value": f"{name}. " * 4}
                    for code, name in zip(codes, names, strict=False)
                ],
                "sku": f"BK-{prefix}-{number}",
                "supplier": SUPPLIERS[number % len(SUPPLIERS)],
                "supplierCode": f"BK{number:07d}",
                "manufacturer": MANUFACTURERS[number % len(MANUFACTURERS)],
                "eanCode": f"99{number:011d}",
                "status": "A",
                "weight": 1.5 + version,
                "attributes": [{"name": "SIZE", "value": "M"}],
                "parent": {"id": leaves[number % len(leaves)]},
            }
        )
    return items


def raw_floor(prefix: str, leaves: list[int], count: int = 2000) -> tuple[float, float]:
    """Write the rows a bulk request writes with plain psycopg executemany; return ms (create,
    update). This is the floor the API is measured against."""
    fields = [f.column for f in Product._meta.concrete_fields if f.column != "id"]
    languages = _languages()
    ids = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [Product._meta.db_table, count],
        )
        ids = [row[0] for row in cursor.fetchall()]
    timings = []
    for version in (1, 2):
        items = bulk_items(prefix, leaves, version, count)
        rows = []
        documents = []
        for pk, item in zip(ids, items, strict=True):
            values = {f: "" for f in fields}
            for element in item["names"]:
                values[f"name_{element['language'].lower()}"] = element["value"]
                values[f"slug_{element['language'].lower()}"] = _slug(element["value"], pk)
            for element in item["descriptions"]:
                values[f"description_{element['language'].lower()}"] = element["value"]
            values.update(
                created_at=BASE_TIME,
                last_modified_at=BASE_TIME,
                language=languages[0].upper(),
                sku=item["sku"],
                supplier=item["supplier"],
                supplier_code=item["supplierCode"],
                manufacturer=item["manufacturer"],
                ean_code=item["eanCode"],
                status="A",
                tax_code="H",
                unit=1,
                minimum_quantity=1,
                package_unit_quantity=1,
                priority=0,
                hidden=False,
                orderable=True,
                returnable=True,
                physical=True,
                width=None,
                height=None,
                depth=None,
                weight=item["weight"],
                attributes='[{"name": "SIZE", "value": "M"}]',
            )
            rows.append([pk, *(values[f] for f in fields)])
            documents.append(
                (pk, search_document(*(e["value"] for e in item["names"]), item["sku"]))
            )
        columns = ", ".join(["id", *fields])
        placeholders = ", ".join(["%s"] * (len(fields) + 1))
        assignments = ", ".join(f"{f} = EXCLUDED.{f}" for f in fields if f != "created_at")
        raw = connection.connection
        started = time.perf_counter()
        with raw.transaction(), raw.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {Product._meta.db_table} ({columns}) VALUES ({placeholders}) "
                f"ON CONFLICT (id) DO UPDATE SET {assignments}",
                rows,
            )
            cursor.executemany(
                f"INSERT INTO {ProductSearch._meta.db_table} (product_id, text) VALUES (%s, %s) "
                "ON CONFLICT (product_id) DO UPDATE SET text = EXCLUDED.text",
                documents,
            )
            cursor.executemany(
                f"INSERT INTO {ProductSource._meta.db_table} (owner_id, source, source_id, position) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (source, source_id) "
                "DO UPDATE SET owner_id = EXCLUDED.owner_id, position = EXCLUDED.position",
                [
                    (pk, pair["source"], pair["sourceId"], position)
                    for pk, item in zip(ids, items, strict=True)
                    for position, pair in enumerate(item["sources"])
                ],
            )
            cursor.executemany(
                f"INSERT INTO {ProductCategory._meta.db_table} (product_id, category_id, is_primary) "
                "VALUES (%s, %s, true) ON CONFLICT (product_id, category_id) "
                "DO UPDATE SET is_primary = true",
                [(pk, item["parent"]["id"]) for pk, item in zip(ids, items, strict=True)],
            )
        timings.append((time.perf_counter() - started) * 1000)
    return timings[0], timings[1]


def remove_bulk_products() -> None:
    """Delete what the bulk measurements wrote, so the dataset can be reused as it was."""
    doomed = f"SELECT id FROM {Product._meta.db_table} WHERE sku LIKE 'BK-%%'"
    with connection.cursor() as cursor:
        for model, column in (
            (ProductSearch, "product_id"),
            (ProductSource, "owner_id"),
            (ProductCategory, "product_id"),
        ):
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE {column} IN ({doomed})")
        cursor.execute(f"DELETE FROM {Product._meta.db_table} WHERE sku LIKE 'BK-%%'")
