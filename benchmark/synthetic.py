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
    CategoryClusterDelta,
    CategoryProductDelta,
    CategorySearch,
    Cluster,
    ClusterAncestor,
    ClusterCategory,
    ClusterConfig,
    ClusterConfigSetting,
    ClusterOption,
    ClusterOptionProduct,
    ClusterOptionSearch,
    ClusterOptionSource,
    ClusterSearch,
    ClusterSource,
    HourCountDelta,
    Product,
    ProductAncestor,
    ProductCategory,
    ProductSearch,
    ProductSource,
)
from catalogue.search import normalize, record_words, search_document
from catalogue.services.search import rebuild_search_documents

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
    clusters: int


# Clusters: the first one holds BIG_CLUSTER products (the configurator's measure), the others
# 2 to 18 each, one cluster per CLUSTER_SHARE products; each has 1 to 3 options.
BIG_CLUSTER = 200
CLUSTER_SHARE = 10
SIZE_VALUES = ["XS", "S", "M", "L", "XL", "XXL"]
COLOR_VALUES = ["red", "blue", "green", "black", "white", "grey", "yellow"]
OPTION_NAMES = [
    ("Warranty", "Garantie", "Garantie", "Garantie"),
    ("Case", "Hoes", "Hülle", "Étui"),
    ("Installation", "Installatie", "Installation", "Installation"),
]


@dataclass
class ClusterPlan:
    """Which cluster each product number is in (0: none), its place in it, and each cluster's
    category."""

    of: list[int]
    variant: list[int]
    category: dict[int, int]
    count: int


def plan_clusters(products: int, leaves: list[int], rng: random.Random) -> ClusterPlan:
    wanted = max(1, products // CLUSTER_SHARE) if products >= BIG_CLUSTER else 0
    of, variant = [0] * (products + 1), [0] * (products + 1)
    weights = [1 / (rank + 1) for rank in range(len(leaves))]
    category: dict[int, int] = {}
    number, cluster = 1, 0
    while cluster < wanted:
        size = BIG_CLUSTER if cluster == 0 else rng.randint(2, 18)
        if number + size - 1 > products:
            break
        cluster += 1
        category[cluster] = rng.choices(leaves, weights=weights)[0]
        for place in range(size):
            of[number + place], variant[number + place] = cluster, place
        number += size
    return ClusterPlan(of, variant, category, cluster)


def _variant_attributes(place: int) -> str:
    size = SIZE_VALUES[place % len(SIZE_VALUES)]
    color = COLOR_VALUES[(place // len(SIZE_VALUES)) % len(COLOR_VALUES)]
    return f'[{{"name": "SIZE", "value": "{size}"}}, {{"name": "COLOR", "value": "{color}"}}]'


def build_clusters(plan: ClusterPlan, rng: random.Random) -> None:
    """Insert the config, the clusters (with sources, primary categories and search documents);
    their products follow, and options after them."""
    if not plan.count:
        return
    languages = _languages()
    ClusterConfig.objects.create(
        name="SIZE_COLOR", created_at=BASE_TIME, last_modified_at=BASE_TIME
    )
    config_id = ClusterConfig.objects.get(name="SIZE_COLOR").pk
    ClusterConfigSetting.objects.bulk_create(
        [
            ClusterConfigSetting(
                config_id=config_id, attribute_name="SIZE", display_type="radio", priority=1
            ),
            ClusterConfigSetting(
                config_id=config_id, attribute_name="COLOR", display_type="color", priority=2
            ),
        ]
    )
    fields = [f.column for f in Cluster._meta.concrete_fields if f.column != "id"]
    table = Cluster._meta.db_table
    documents, search_rows = set(), []
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} (id, {', '.join(fields)}) FROM STDIN") as copy:
            for number in range(1, plan.count + 1):
                names = _name(rng)
                values = {f: "" for f in fields}
                for index, code in enumerate(languages[:4]):
                    values[f"name_{code}"] = names[index]
                    values[f"slug_{code}"] = _slug(names[index], number)
                code = f"CL-{number:07d}"
                values.update(
                    created_at=BASE_TIME,
                    last_modified_at=BASE_TIME,
                    language=settings.CATALOGUE_LANGUAGES[0],
                    code=code,
                    config_id=config_id,
                    default_product_id=None,
                    hidden=False,
                    priority=number % 10,
                )
                copy.write_row([number, *(values[f] for f in fields)])
                search_rows.append((number, _document(names, code, f"C-{number:08d}")))
                documents.add(_document(names))
        with cursor.cursor.copy(
            f"COPY {ClusterSource._meta.db_table} (owner_id, source, source_id, position) FROM STDIN"
        ) as copy:
            for number in range(1, plan.count + 1):
                copy.write_row([number, "erp", f"C-{number:08d}", 0])
        with cursor.cursor.copy(
            f"COPY {ClusterCategory._meta.db_table} (cluster_id, category_id, is_primary) FROM STDIN"
        ) as copy:
            for number in range(1, plan.count + 1):
                copy.write_row([number, plan.category[number], True])
        with cursor.cursor.copy(
            f"COPY {ClusterSearch._meta.db_table} (cluster_id, vector) FROM STDIN"
        ) as copy:
            for row in search_rows:
                copy.write_row(row)
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        )
    record_words(sorted(documents))


def build_options(plan: ClusterPlan, products: int, rng: random.Random) -> None:
    """1 to 3 options per cluster, each with 1 to 3 selectable products; clusters get their
    first product as default."""
    if not plan.count:
        return
    languages = _languages()
    fields = [f.column for f in ClusterOption._meta.concrete_fields if f.column != "id"]
    table = ClusterOption._meta.db_table
    links = []
    option = 0
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} (id, {', '.join(fields)}) FROM STDIN") as copy:
            for cluster in range(1, plan.count + 1):
                for position in range(rng.randint(1, 3)):
                    option += 1
                    names = OPTION_NAMES[position]
                    values = {f: "" for f in fields}
                    for index, code in enumerate(languages[:4]):
                        values[f"name_{code}"] = names[index]
                    values.update(
                        created_at=BASE_TIME,
                        last_modified_at=BASE_TIME,
                        language=settings.CATALOGUE_LANGUAGES[0],
                        cluster_id=cluster,
                        is_required=position == 0,
                        hidden=False,
                        sort_order=position,
                        default_product_id=None,
                    )
                    copy.write_row([option, *(values[f] for f in fields)])
                    for product in {rng.randint(1, products) for _ in range(rng.randint(1, 3))}:
                        links.append((option, product))
        with cursor.cursor.copy(
            f"COPY {ClusterOptionProduct._meta.db_table} (option_id, product_id) FROM STDIN"
        ) as copy:
            for row in links:
                copy.write_row(row)
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        )
        cursor.execute(
            f"UPDATE {Cluster._meta.db_table} c SET default_product_id = f.first "
            f"FROM (SELECT cluster_id, min(id) AS first FROM {Product._meta.db_table} "
            "WHERE cluster_id IS NOT NULL GROUP BY cluster_id) f WHERE f.cluster_id = c.id"
        )


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


def _document(names: list[str], *codes: str) -> str:
    """The search document of synthetic names (in the catalogue's language order) and codes."""
    return search_document(dict(zip(_languages(), names, strict=False)), codes)


def _item_document(item: dict, *codes: str) -> str:
    """The search document of a bulk item's names and codes."""
    return search_document({e["language"].lower(): e["value"] for e in item["names"]}, codes)


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


def build_products(
    count: int,
    leaves: list[int],
    rng: random.Random,
    start: int = 1,
    plan: ClusterPlan | None = None,
) -> None:
    """Insert products with sources and skewed category memberships; those in a cluster get
    variant attributes and the cluster's category as an extra (not primary) membership."""
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
                document = _document(
                    names, sku, supplier_code, ean, manufacturer, f"P-{number:08d}"
                )
                documents.add(_document(names))
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
                    cluster_id=None,
                )
                cluster = plan.of[number] if plan is not None and number < len(plan.of) else 0
                if cluster:
                    values["cluster_id"] = cluster
                    values["attributes"] = _variant_attributes(plan.variant[number])
                copy.write_row([number, *(values[f] for f in fields)])
                search_rows.append((number, document))
                primary = rng.choices(leaves, weights=weights)[0]
                if cluster:
                    # In a cluster a product has no primary category of its own.
                    primary = plan.category[cluster]
                memberships.append((number, primary, not cluster))
                if number % 5 == 0:
                    extra = rng.choice(leaves)
                    if extra != primary:
                        memberships.append((number, extra, False))
        with cursor.cursor.copy(
            f"COPY {ProductSearch._meta.db_table} (product_id, vector) FROM STDIN"
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
    """Fill an empty catalogue with `categories` categories and `products` products, most of
    them in clusters (see plan_clusters)."""
    rng = random.Random(seed)
    leaves = build_categories(categories, rng)
    rebuild_search_documents(["categories"])
    plan = plan_clusters(products, leaves, random.Random(seed + 1))
    build_clusters(plan, random.Random(seed + 2))
    batch = 100_000
    for start in range(1, products + 1, batch):
        build_products(min(batch, products - start + 1), leaves, rng, start=start, plan=plan)
    build_options(plan, products, random.Random(seed + 3))
    rebuild_search_documents(["options"])
    with connection.cursor() as cursor:
        # Fresh statistics and visibility maps, as autovacuum would leave a live database.
        for table in (
            Category,
            CategorySearch,
            Product,
            ProductSearch,
            ProductSource,
            ProductCategory,
            ProductAncestor,
            CategoryProductDelta,
            HourCountDelta,
            Cluster,
            ClusterSource,
            ClusterCategory,
            ClusterAncestor,
            CategoryClusterDelta,
            ClusterSearch,
            ClusterOption,
            ClusterOptionSearch,
            ClusterOptionProduct,
        ):
            cursor.execute(f"VACUUM (ANALYZE) {table._meta.db_table}")
    return Dataset(products=products, categories=categories, clusters=plan.count)


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
                cluster_id=None,
            )
            rows.append([pk, *(values[f] for f in fields)])
            documents.append((pk, _item_document(item, item["sku"])))
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
                f"INSERT INTO {ProductSearch._meta.db_table} (product_id, vector) VALUES (%s, %s) "
                "ON CONFLICT (product_id) DO UPDATE SET vector = EXCLUDED.vector",
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


def cluster_bulk_items(
    prefix: str, leaves: list[int], config_id: int, version: int, count: int = 1000
) -> list[dict]:
    """Nested cluster bulk items: each cluster with 10 products and 2 options of 5 products."""
    rng = random.Random(zlib.crc32(prefix.encode()))
    codes = settings.CATALOGUE_LANGUAGES[:4]
    suffix = "" if version == 1 else f" v{version}"

    def localized(names: list[str]) -> list[dict]:
        return [
            {"language": code, "value": name + suffix}
            for code, name in zip(codes, names, strict=False)
        ]

    def product(key: str, place: int) -> dict:
        return {
            "source": "erp",
            "sourceId": key,
            "names": localized(_name(rng)),
            "sku": key,
            "status": "A",
            "weight": 1.5 + version,
            "attributes": [
                {"name": "SIZE", "value": SIZE_VALUES[place % len(SIZE_VALUES)]},
                {"name": "COLOR", "value": COLOR_VALUES[place % len(COLOR_VALUES)]},
            ],
        }

    items = []
    for number in range(count):
        key = f"NB-{prefix}-{number}"
        items.append(
            {
                "source": "erp",
                "sourceId": key,
                "code": key,
                "clusterConfigId": config_id,
                "names": localized(_name(rng)),
                "parent": {"id": leaves[number % len(leaves)]},
                "products": [product(f"{key}-P{n}", n) for n in range(10)],
                "options": [
                    {
                        "source": "erp",
                        "sourceId": f"{key}-O{o}",
                        "names": localized(list(OPTION_NAMES[o])),
                        "isRequired": o == 0,
                        "sortOrder": o,
                        "products": [product(f"{key}-O{o}-P{n}", n) for n in range(5)],
                    }
                    for o in range(2)
                ],
            }
        )
    return items


def cluster_raw_floor(prefix: str, leaves: list[int], config_id: int) -> tuple[float, float]:
    """The rows a nested cluster bulk writes, with plain psycopg executemany (clusters with
    sources, categories and search documents; products with sources and search documents;
    options with sources and selectable products); return ms (create, update)."""
    languages = _languages()
    product_fields = [f.column for f in Product._meta.concrete_fields if f.column != "id"]
    cluster_fields = [f.column for f in Cluster._meta.concrete_fields if f.column != "id"]
    option_fields = [f.column for f in ClusterOption._meta.concrete_fields if f.column != "id"]
    timings = []
    ids: dict[str, list[int]] = {}
    for version in (1, 2):
        items = cluster_bulk_items(f"raw-{prefix}", leaves, config_id, version)
        products = [(item, p) for item in items for p in item["products"]]
        options = [(item, o) for item in items for o in item["options"]]
        option_products = [(o, p) for _, o in options for p in o["products"]]
        if not ids:
            with connection.cursor() as cursor:
                for model, count in (
                    (Cluster, len(items)),
                    (Product, len(products) + len(option_products)),
                    (ClusterOption, len(options)),
                ):
                    cursor.execute(
                        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                        "FROM generate_series(1, %s)",
                        [model._meta.db_table, count],
                    )
                    ids[model.__name__] = [row[0] for row in cursor.fetchall()]
        cluster_ids = dict(zip((i["sourceId"] for i in items), ids["Cluster"], strict=True))
        product_ids = dict(
            zip(
                [p["sourceId"] for _, p in products] + [p["sourceId"] for _, p in option_products],
                ids["Product"],
                strict=True,
            )
        )
        option_ids = dict(
            zip((o["sourceId"] for _, o in options), ids["ClusterOption"], strict=True)
        )

        def localized(values: dict, field: str, elements: list[dict], pk: int) -> None:
            for element in elements:
                code = element["language"].lower()
                values[f"{field}_{code}"] = element["value"]
                if field == "name" and f"slug_{code}" in values:
                    values[f"slug_{code}"] = _slug(element["value"], pk)

        cluster_rows = []
        for item in items:
            pk = cluster_ids[item["sourceId"]]
            values = {f: "" for f in cluster_fields}
            localized(values, "name", item["names"], pk)
            values.update(
                created_at=BASE_TIME,
                last_modified_at=BASE_TIME,
                language=languages[0].upper(),
                code=item["code"],
                config_id=config_id,
                default_product_id=None,
                hidden=False,
                priority=0,
            )
            cluster_rows.append([pk, *(values[f] for f in cluster_fields)])
        product_rows = []
        for parent, product in [*products, *((None, p) for _, p in option_products)]:
            pk = product_ids[product["sourceId"]]
            values = {f: "" for f in product_fields}
            localized(values, "name", product["names"], pk)
            values.update(
                created_at=BASE_TIME,
                last_modified_at=BASE_TIME,
                language=languages[0].upper(),
                sku=product["sku"],
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
                weight=product["weight"],
                attributes=orjson_dumps(product["attributes"]),
                cluster_id=cluster_ids[parent["sourceId"]] if parent else None,
            )
            product_rows.append([pk, *(values[f] for f in product_fields)])
        option_rows = []
        for item, option in options:
            pk = option_ids[option["sourceId"]]
            values = {f: "" for f in option_fields}
            localized(values, "name", option["names"], pk)
            values.update(
                created_at=BASE_TIME,
                last_modified_at=BASE_TIME,
                language=languages[0].upper(),
                cluster_id=cluster_ids[item["sourceId"]],
                is_required=option["isRequired"],
                hidden=False,
                sort_order=option["sortOrder"],
                default_product_id=None,
            )
            option_rows.append([pk, *(values[f] for f in option_fields)])

        def upsert(cursor, model, fields, rows):
            columns = ", ".join(["id", *fields])
            placeholders = ", ".join(["%s"] * (len(fields) + 1))
            assignments = ", ".join(f"{f} = EXCLUDED.{f}" for f in fields if f != "created_at")
            cursor.executemany(
                f"INSERT INTO {model._meta.db_table} ({columns}) VALUES ({placeholders}) "
                f"ON CONFLICT (id) DO UPDATE SET {assignments}",
                rows,
            )

        raw = connection.connection
        started = time.perf_counter()
        with raw.transaction(), raw.cursor() as cursor:
            upsert(cursor, Cluster, cluster_fields, cluster_rows)
            upsert(cursor, Product, product_fields, product_rows)
            upsert(cursor, ClusterOption, option_fields, option_rows)
            for model, owners in (
                (ClusterSource, cluster_ids),
                (ProductSource, product_ids),
                (ClusterOptionSource, option_ids),
            ):
                cursor.executemany(
                    f"INSERT INTO {model._meta.db_table} (owner_id, source, source_id, position) "
                    "VALUES (%s, 'erp', %s, 0) ON CONFLICT (source, source_id) "
                    "DO UPDATE SET owner_id = EXCLUDED.owner_id",
                    [(pk, key) for key, pk in owners.items()],
                )
            cursor.executemany(
                f"INSERT INTO {ClusterCategory._meta.db_table} (cluster_id, category_id, is_primary) "
                "VALUES (%s, %s, true) ON CONFLICT (cluster_id, category_id) "
                "DO UPDATE SET is_primary = true",
                [(cluster_ids[i["sourceId"]], i["parent"]["id"]) for i in items],
            )
            cursor.executemany(
                f"INSERT INTO {ClusterSearch._meta.db_table} (cluster_id, vector) VALUES (%s, %s) "
                "ON CONFLICT (cluster_id) DO UPDATE SET vector = EXCLUDED.vector",
                [(cluster_ids[i["sourceId"]], _item_document(i)) for i in items],
            )
            cursor.executemany(
                f"INSERT INTO {ProductSearch._meta.db_table} (product_id, vector) VALUES (%s, %s) "
                "ON CONFLICT (product_id) DO UPDATE SET vector = EXCLUDED.vector",
                [
                    (product_ids[p["sourceId"]], _item_document(p))
                    for p in [*(p for _, p in products), *(p for _, p in option_products)]
                ],
            )
            cursor.executemany(
                f"INSERT INTO {ClusterOptionProduct._meta.db_table} (option_id, product_id) "
                "VALUES (%s, %s) ON CONFLICT (option_id, product_id) DO NOTHING",
                [
                    (option_ids[o["sourceId"]], product_ids[p["sourceId"]])
                    for o, p in option_products
                ],
            )
        timings.append((time.perf_counter() - started) * 1000)
    return timings[0], timings[1]


def orjson_dumps(value) -> str:
    import orjson

    return orjson.dumps(value).decode()


def remove_bulk_clusters() -> None:
    """Delete what the nested cluster bulk measurements wrote (codes and skus NB-…)."""
    Product.objects.filter(sku__startswith="NB-").delete()
    Cluster.objects.filter(code__startswith="NB-").delete()
