"""A mixed load against a real server, once alone and once beside wrong-secret token loops."""

import http.client
import multiprocessing
import random
import threading
import time
import urllib.parse
from collections import Counter

import orjson
from django.core.management.base import BaseCommand
from django.db.models import F

from api.services import api_client_create
from benchmark import runner as bench
from benchmark import synthetic
from benchmark.management.commands.benchmark import SEARCH_SHAPES
from benchmark.management.commands.benchmark import Command as Benchmark
from catalogue.models import Category, Product

# Share of each kind of request in the mixed load; the rest are single GETs.
SEARCH_SHARE = 0.2
BULK_SHARE = 0.05
BULK_ITEMS = 100


def _client(port, token, plan, seconds, start_at, results):
    """One keep-alive client: a request at a time, each timed, until the end of the run."""
    rng = random.Random(plan["seed"])
    headers = {"Authorization": f"Bearer {token}"}
    json_headers = {**headers, "Content-Type": "application/json"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    timings = {"get": [], "search": [], "bulk": []}
    statuses = Counter()
    version = 1
    while time.time() < start_at:
        time.sleep(0.001)
    end = start_at + seconds
    while time.time() < end:
        draw = rng.random()
        body = None
        if draw < BULK_SHARE:
            kind, method, path = "bulk", "POST", "/v2/products/bulk/sourceId"
            version += 1
            items = synthetic.bulk_items(plan["prefix"], plan["leaves"], version, BULK_ITEMS)
            body = orjson.dumps({"products": items})
        elif draw < BULK_SHARE + SEARCH_SHARE:
            kind, method = "search", "GET"
            path = rng.choice(plan["searches"])
        else:
            kind, method = "get", "GET"
            path = f"/v2/products/sourceId/P-{rng.randint(1, plan['count']):08d}?source=erp"
        started = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=json_headers if body else headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except OSError:
            status = "connection error"
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        timings[kind].append((time.perf_counter() - started) * 1000)
        statuses[f"{kind} {status}"] += 1
    connection.close()
    results.put((timings, statuses))


def _clients_process(port, token, plans, seconds, start_at, results):
    threads = [
        threading.Thread(target=_client, args=(port, token, plan, seconds, start_at, results))
        for plan in plans
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _attacker(port, client_id, stop_at, results):
    """Ask for tokens with a wrong secret, as fast as the server answers."""
    body = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "wrong"}
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    statuses = Counter()
    while time.time() < stop_at:
        try:
            connection.request("POST", "/oauth2/token/", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            statuses[f"token {response.status}"] += 1
        except OSError:
            statuses["token connection error"] += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.close()
    results.put(({}, statuses))


def _attackers_process(port, client_id, count, stop_at, results):
    threads = [
        threading.Thread(target=_attacker, args=(port, client_id, stop_at, results))
        for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class Command(BaseCommand):
    help = (
        "Run a mixed load (single GETs, searches, 100-item bulk upserts) from many keep-alive "
        "clients against a real server on the benchmark database, first alone, then beside "
        "clients that keep asking for tokens with a wrong secret. Prints latency percentiles "
        "of both runs and every status seen."
    )

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, default=20_000)
        parser.add_argument("--categories", type=int, default=5_000)
        parser.add_argument("--clients", type=int, default=32)
        parser.add_argument("--seconds", type=float, default=60.0)
        parser.add_argument("--attackers", type=int, default=16)
        parser.add_argument(
            "--processes", type=int, default=4, help="Client processes the clients share."
        )

    def handle(self, *args, **options):
        benchmark = Benchmark(stdout=self.stdout, stderr=self.stderr)
        database_url = benchmark._use_benchmark_database()
        benchmark._ensure_dataset(options["products"], options["categories"], False)
        issued = api_client_create(name=f"loadrun-{time.time_ns()}", scopes=["product.write"])
        victim = api_client_create(name=f"loadrun-victim-{time.time_ns()}", scopes=[])
        leaves = list(
            Category.objects.filter(rght=F("lft") + 1).order_by("id").values_list("id", flat=True)
        )
        root = Category.objects.filter(level=0).order_by("id").values_list("id", flat=True)[0]
        searches = [path.format(root=root) for _, path in SEARCH_SHAPES]
        count = Product.objects.count()
        rows = []
        try:
            with bench.Server(database_url) as server:
                token = bench.obtain_token(server.port, issued.client_id, issued.client_secret)
                plans = [
                    {
                        "seed": number,
                        "prefix": f"load-{time.time_ns()}-{number}",
                        "leaves": leaves,
                        "searches": searches,
                        "count": count,
                    }
                    for number in range(options["clients"])
                ]
                # Unmeasured: every server thread opens its connection and plans each shape.
                warmup = {**options, "seconds": 5}
                self._run(server.port, token, plans, victim.client_id, 0, warmup)
                for label, attackers in (
                    ("alone", 0),
                    ("beside token loops", options["attackers"]),
                ):
                    self.stdout.write(f"Running {options['seconds']:.0f} s {label}…")
                    timings, statuses = self._run(
                        server.port, token, plans, victim.client_id, attackers, options
                    )
                    for kind in ("get", "search", "bulk"):
                        values = timings[kind]
                        if not values:
                            continue
                        rows.append(
                            (
                                f"{kind} p50 / p95 ms, {label}",
                                f"{bench.percentile(values, 0.5):.1f} / "
                                f"{bench.percentile(values, 0.95):.1f}",
                                f"{len(values)} requests",
                            )
                        )
                    rows.append(
                        (
                            f"statuses, {label}",
                            ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())),
                            "",
                        )
                    )
        finally:
            synthetic.remove_bulk_products()
        self.stdout.write("")
        self.stdout.write(bench.table(rows, ("measurement", "value", "notes")))

    def _run(self, port, token, plans, victim_id, attackers, options):
        results = multiprocessing.Queue()
        start_at = time.time() + 1.0
        seconds = options["seconds"]
        groups = [plans[i :: options["processes"]] for i in range(options["processes"])]
        processes = [
            multiprocessing.Process(
                target=_clients_process, args=(port, token, group, seconds, start_at, results)
            )
            for group in groups
            if group
        ]
        expected = len(plans)
        if attackers:
            processes.append(
                multiprocessing.Process(
                    target=_attackers_process,
                    args=(port, victim_id, attackers, start_at + seconds, results),
                )
            )
            expected += attackers
        for process in processes:
            process.start()
        timings = {"get": [], "search": [], "bulk": []}
        statuses = Counter()
        for _ in range(expected):
            part, counted = results.get()
            for kind, values in part.items():
                timings[kind].extend(values)
            statuses.update(counted)
        for process in processes:
            process.join()
        return timings, statuses
