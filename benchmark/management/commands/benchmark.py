import random
import signal
import sys
import time
from urllib.parse import quote

import orjson
import psycopg
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection, connections
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext

from api.services import api_client_create
from benchmark import relevance, synthetic
from benchmark import runner as bench
from benchmark.synthetic import bulk_items, raw_floor
from catalogue.models import (
    Category,
    CategorySource,
    Cluster,
    ClusterCategory,
    ClusterConfig,
    ClusterOption,
    ClusterOptionProduct,
    ClusterSearch,
    ClusterSource,
    Product,
    ProductCategory,
    ProductSearch,
    ProductSource,
    SearchWord,
)
from config import gunicorn as gunicorn_settings

SEARCH_SHAPES = [
    ("term", "/v2/products?term=brass%20valve"),
    ("typo'd term", "/v2/products?term=bras%20vlave"),
    ("plural term", "/v2/products?term=valves"),
    ("single word, 1 in 10 products", "/v2/products?term=valve"),
    ("compound part, 1 in 10 products", "/v2/products?term=kraan"),
    ("term in a language", "/v2/products?term=messing%20kogelkraan&language=NL"),
    ("category typo'd term", "/v2/categories?term=vlave"),
    ("statuses+categoryIds (subtree)", "/v2/products?statuses=A,T&categoryIds={root}"),
    (
        "date range, sort lastModifiedAt",
        "/v2/products?lastModifiedAtFrom=2025-03-01T00:00:00.000Z"
        "&lastModifiedAtTo=2025-06-01T00:00:00.000Z&sort=-lastModifiedAt",
    ),
    ("page 1 of 100", "/v2/products?offset=100&page=1"),
    ("page 500 of 100", "/v2/products?offset=100&page=500"),
]


def _database_url(settings_dict: dict, name: str) -> str:
    user = quote(settings_dict.get("USER") or "postgres", safe="")
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host = settings_dict.get("HOST") or "localhost"
    port = settings_dict.get("PORT")
    location = quote(host, safe="") if host.startswith("/") else host
    if port and not host.startswith("/"):
        location += f":{port}"
    return f"postgres://{auth}@{location}/{name}"


class Command(BaseCommand):
    help = (
        "Build (or reuse) a synthetic catalogue in a separate database and measure the API "
        "through a real server. Prints a table of medians."
    )

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, default=20_000)
        parser.add_argument("--categories", type=int, default=5_000)
        parser.add_argument("--rounds", type=int, default=5, help="Throughput rounds per view.")
        parser.add_argument("--seconds", type=float, default=3.0, help="Length of one round.")
        parser.add_argument("--clients", type=int, default=4, help="Keep-alive client processes.")
        parser.add_argument("--runs", type=int, default=40, help="Requests per search shape.")
        parser.add_argument("--rebuild", action="store_true", help="Rebuild the dataset.")
        parser.add_argument(
            "--bulk-rounds", type=int, default=5, help="Rounds of each 2000-item bulk request."
        )
        parser.add_argument(
            "--cluster-bulk-rounds",
            type=int,
            default=3,
            help="Rounds of each 1000-cluster nested bulk request.",
        )

    def handle(self, *args, **options):
        # Stop cleanly on SIGTERM too, so the benchmark server is shut down with us.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
        started = time.monotonic()
        database_url = self._use_benchmark_database()
        self._ensure_dataset(options["products"], options["categories"], options["rebuild"])
        issued = api_client_create(
            name=f"benchmark-{time.time_ns()}",
            scopes=["product.write", "category.write", "cluster.write", "clusterconfig.write"],
        )
        rows: list[tuple] = []
        with bench.Server(database_url) as server:
            token = bench.obtain_token(server.port, issued.client_id, issued.client_secret)
            headers = {"Authorization": f"Bearer {token}"}
            self._single_get(server, headers, options, rows)
            self._searches(server, headers, options, rows)
            self._relevance(server, headers, rows)
            self._export(server, headers, rows)
            if options["bulk_rounds"]:
                try:
                    self._bulk(server, headers, options["bulk_rounds"], rows)
                finally:
                    synthetic.remove_bulk_products()
            self._cluster_get(server, headers, options, rows)
            self._cluster_reads(server, headers, options, rows)
            if options["cluster_bulk_rounds"]:
                try:
                    self._cluster_bulk(server, headers, options["cluster_bulk_rounds"], rows)
                finally:
                    synthetic.remove_bulk_clusters()
        self._query_counts(token, rows)
        self.stdout.write("")
        self.stdout.write(bench.table(rows, ("measurement", "value", "notes")))
        self.stdout.write(f"\nTotal time {time.monotonic() - started:.0f} s")

    # Setup -------------------------------------------------------------------------------
    def _use_benchmark_database(self) -> str:
        current = connections["default"].settings_dict
        name = f"{current['NAME']}_bench"
        admin_url = _database_url(current, "postgres")
        with psycopg.connect(admin_url, autocommit=True) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if exists.fetchone() is None:
                admin.execute(f'CREATE DATABASE "{name}"')
        connection.close()
        current["NAME"] = name
        self.stdout.write(f"Benchmark database: {name}")
        call_command("migrate", verbosity=0, interactive=False)
        return _database_url(current, name)

    def _ensure_dataset(self, products: int, categories: int, rebuild: bool) -> None:
        have = (Product.objects.count(), Category.objects.count(), Cluster.objects.exists())
        if have == (products, categories, products >= synthetic.BIG_CLUSTER) and not rebuild:
            self.stdout.write(f"Reusing {products} products and {categories} categories")
            return
        self.stdout.write(f"Building {products} products and {categories} categories…")
        started = time.monotonic()
        tables = [
            model._meta.db_table
            for model in (
                ClusterOptionProduct,
                ClusterOption,
                ClusterCategory,
                ClusterSearch,
                ClusterSource,
                ProductCategory,
                ProductSource,
                ProductSearch,
                Product,
                Cluster,
                ClusterConfig,
                CategorySource,
                Category,
                SearchWord,
            )
        ]
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        dataset = synthetic.build(products=products, categories=categories)
        self.stdout.write(
            f"  built in {time.monotonic() - started:.0f} s ({dataset.clusters} clusters)"
        )

    # Measurements ------------------------------------------------------------------------
    def _single_get(self, server, headers, options, rows):
        count = Product.objects.count()
        rng = random.Random(1)
        numbers = [rng.randint(1, count) for _ in range(2000)]
        api_paths = [f"/v2/products/sourceId/P-{n:08d}?source=erp" for n in numbers]
        bare_paths = [f"/bench/bare-product/erp/P-{n:08d}" for n in numbers]
        api, bare = [], []
        kwargs = {"clients": options["clients"], "seconds": options["seconds"]}
        bench.throughput(server.port, api_paths[:200], headers, clients=2, seconds=1)  # warm-up
        for _ in range(options["rounds"]):
            api.append(bench.throughput(server.port, api_paths, headers, **kwargs))
            bare.append(bench.throughput(server.port, bare_paths, {}, **kwargs))
        api_rps, bare_rps = bench.median(api), bench.median(bare)
        note = f"median of {options['rounds']} x {options['seconds']:.0f} s, {options['clients']} clients"
        rows.append(("GET /v2/products/sourceId/<v> req/s", f"{api_rps:.0f}", note))
        rows.append(("bare Django view, same product req/s", f"{bare_rps:.0f}", note))
        rows.append(("ratio API ÷ bare", f"{api_rps / bare_rps:.2f}", "target ≥ 0.50"))

    def _searches(self, server, headers, options, rows):
        root = Category.objects.filter(level=0).order_by("id").values_list("id", flat=True).first()
        # Steady state: every server thread has planned the shape once on its own database
        # connection (a fresh connection's first query loads catalog caches: 10-40 ms more).
        warmup = 2 * gunicorn_settings.workers * gunicorn_settings.threads
        for label, path in SEARCH_SHAPES:
            timings = bench.latencies(
                server.port,
                "GET",
                path.format(root=root),
                headers,
                runs=options["runs"],
                warmup=warmup,
            )
            p50, p95 = bench.percentile(timings, 0.5), bench.percentile(timings, 0.95)
            rows.append(
                (
                    f"search {label} p50 / p95 ms",
                    f"{p50:.1f} / {p95:.1f}",
                    f"{options['runs']} runs after {warmup} unmeasured; target p95 ≤ 50",
                )
            )

    def _relevance(self, server, headers, rows):
        """Recall@10 and MRR of a judged query set (benchmark/relevance.py), per kind."""
        found, misses = relevance.measure(server.port, headers)
        rows.extend(found)
        for miss in misses:
            self.stdout.write(f"  relevance, not first or not found: {miss}")

    def _export(self, server, headers, rows):
        idle = server.rss()
        with bench.PeakRss(server) as peak:
            started = time.perf_counter()
            lines = bench.stream_lines(server.port, "/v2/products/export", headers)
            elapsed = time.perf_counter() - started
        rows.append(
            ("export products/s", f"{lines / elapsed:.0f}", f"{lines} lines in {elapsed:.1f} s")
        )
        rows.append(
            (
                "export worker peak RSS MB",
                f"{peak.peak / 2**20:.0f}",
                f"idle {idle / 2**20:.0f} MB before the export",
            )
        )

    def _bulk(self, server, headers, rounds, rows):
        """2000-product bulk requests through the server against raw psycopg on the same rows."""
        leaves = list(
            Category.objects.filter(rght=F("lft") + 1).order_by("id").values_list("id", flat=True)
        )
        run = time.time_ns()
        timings = {"create": [], "update": [], "unchanged": []}
        floor = {"create": [], "update": []}
        with bench.PeakRss(server) as peak:
            idle = peak.peak
            for number in range(rounds):
                items = bulk_items(f"{run}-{number}", leaves, version=1)
                changed = bulk_items(f"{run}-{number}", leaves, version=2)
                for label, payload in (
                    ("create", items),
                    ("update", changed),
                    ("unchanged", changed),
                ):
                    body = orjson.dumps({"products": payload})
                    started = time.perf_counter()
                    status, data = bench.request(
                        server.port,
                        "POST",
                        "/v2/products/bulk/sourceId",
                        body=body,
                        headers={**headers, "Content-Type": "application/json"},
                    )
                    timings[label].append((time.perf_counter() - started) * 1000)
                    result = orjson.loads(data)
                    failed = [r for r in result.get("data", []) if not r["success"]]
                    if status != 200 or failed:
                        raise RuntimeError(
                            f"bulk {label} failed: {status} {failed[:2] or data[:300]}"
                        )
                raw = raw_floor(f"raw-{run}-{number}", leaves)
                floor["create"].append(raw[0])
                floor["update"].append(raw[1])
        for label in ("create", "update", "unchanged"):
            api_ms = bench.median(timings[label])
            raw_ms = bench.median(floor["create" if label == "create" else "update"])
            target = "≤ 2 x raw" if label == "unchanged" else "≤ 4 x raw, ≥ 4000/s"
            rows.append(
                (
                    f"bulk 2000 products {label}: API ms (products/s)",
                    f"{api_ms:.0f} ({2000 / api_ms * 1000:.0f}/s)",
                    f"raw psycopg {raw_ms:.0f} ms; ratio {api_ms / raw_ms:.2f}; target {target}",
                )
            )
        rows.append(
            (
                "bulk worker peak RSS MB",
                f"{peak.peak / 2**20:.0f}",
                f"{(peak.peak - idle) / 2**20:.0f} MB above idle; target ≤ 150",
            )
        )

    def _cluster_get(self, server, headers, options, rows):
        count = Cluster.objects.count()
        if not count:
            return
        rng = random.Random(2)
        numbers = [rng.randint(1, count) for _ in range(2000)]
        api_paths = [f"/v2/clusters/code/CL-{n:07d}" for n in numbers]
        bare_paths = [f"/bench/bare-cluster/CL-{n:07d}" for n in numbers]
        api, bare = [], []
        kwargs = {"clients": options["clients"], "seconds": options["seconds"]}
        bench.throughput(server.port, api_paths[:200], headers, clients=2, seconds=1)  # warm-up
        for _ in range(options["rounds"]):
            api.append(bench.throughput(server.port, api_paths, headers, **kwargs))
            bare.append(bench.throughput(server.port, bare_paths, {}, **kwargs))
        api_rps, bare_rps = bench.median(api), bench.median(bare)
        note = f"median of {options['rounds']} x {options['seconds']:.0f} s, {options['clients']} clients"
        rows.append(("GET /v2/clusters/code/<v> req/s", f"{api_rps:.0f}", note))
        rows.append(("bare Django view, same cluster req/s", f"{bare_rps:.0f}", note))
        rows.append(("ratio cluster API ÷ bare", f"{api_rps / bare_rps:.2f}", "target ≥ 0.50"))

    def _cluster_reads(self, server, headers, options, rows):
        if not Cluster.objects.exists():
            return
        big = Cluster.objects.order_by("pk").first()
        warmup = 2 * gunicorn_settings.workers * gunicorn_settings.threads
        shapes = [
            ("cluster search term", "/v2/clusters?term=brass%20valve", 50),
            ("cluster search typo'd term", "/v2/clusters?term=bras%20vlave", 50),
            (
                "cluster search categoryIds (subtree)",
                f"/v2/clusters?categoryIds={self._root()}",
                50,
            ),
            (
                f"configurator ({big.products.count()} products)",
                f"/v2/clusters/code/{big.code}/configurator",
                30,
            ),
        ]
        for label, path, target in shapes:
            timings = bench.latencies(
                server.port, "GET", path, headers, runs=options["runs"], warmup=warmup
            )
            p50, p95 = bench.percentile(timings, 0.5), bench.percentile(timings, 0.95)
            rows.append(
                (
                    f"{label} p50 / p95 ms",
                    f"{p50:.1f} / {p95:.1f}",
                    f"{options['runs']} runs after {warmup} unmeasured; target p95 ≤ {target}",
                )
            )

    def _root(self) -> int:
        return Category.objects.filter(level=0).order_by("id").values_list("id", flat=True).first()

    def _cluster_bulk(self, server, headers, rounds, rows):
        """1000 clusters of 10 products and 2 options of 5 products each, nested, through the
        server against raw psycopg writes of the same rows."""
        config = ClusterConfig.objects.order_by("pk").first()
        if config is None:
            return
        leaves = list(
            Category.objects.filter(rght=F("lft") + 1).order_by("id").values_list("id", flat=True)
        )
        run = time.time_ns()
        timings = {"create": [], "update": []}
        floor = {"create": [], "update": []}
        for number in range(rounds):
            for label, version in (("create", 1), ("update", 2)):
                items = synthetic.cluster_bulk_items(f"{run}-{number}", leaves, config.pk, version)
                body = orjson.dumps({"clusters": items})
                started = time.perf_counter()
                status, data = bench.request(
                    server.port,
                    "POST",
                    "/v2/clusters/bulk/sourceId",
                    body=body,
                    headers={**headers, "Content-Type": "application/json"},
                )
                timings[label].append((time.perf_counter() - started) * 1000)
                result = orjson.loads(data)
                failed = [
                    r
                    for cluster in result.get("data", [])
                    for r in (cluster, *cluster["products"], *cluster["options"])
                    if not r["success"]
                ]
                if status != 200 or failed:
                    raise RuntimeError(
                        f"cluster bulk {label} failed: {status} {failed[:2] or data[:300]}"
                    )
            raw = synthetic.cluster_raw_floor(f"{run}-{number}", leaves, config.pk)
            floor["create"].append(raw[0])
            floor["update"].append(raw[1])
        records = 1000 * (1 + 10 + 2 + 2 * 5)
        for label in ("create", "update"):
            api_ms, raw_ms = bench.median(timings[label]), bench.median(floor[label])
            rows.append(
                (
                    f"nested bulk 1000 clusters {label}: API ms (records/s)",
                    f"{api_ms:.0f} ({records / api_ms * 1000:.0f}/s)",
                    f"raw psycopg {raw_ms:.0f} ms; ratio {api_ms / raw_ms:.2f}; target ≤ 5 x raw",
                )
            )

    def _query_counts(self, token, rows):
        client = Client(SERVER_NAME="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
        # Warm up: the first list after many writes also folds the row-count deltas.
        client.get("/v2/products?offset=1")
        for offset in (12, 1000):
            path = f"/v2/products?expands=categories&offset={offset}"
            with CaptureQueriesContext(connection) as queries:
                response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}")
            rows.append((f"SQL queries, list offset={offset} expands=categories", len(queries), ""))
