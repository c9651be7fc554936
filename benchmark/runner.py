"""Measuring the API through a real server: a gunicorn process, keep-alive HTTP clients."""

import contextlib
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from django.conf import settings

PROJECT_ROOT = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A gunicorn process serving the project against a given database."""

    database_url: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "DJANGO_ENV": os.environ.get("DJANGO_ENV", "development"),
            "BIND": f"127.0.0.1:{self.port}",
            "ACCESS_LOG": "",
            "BENCHMARK_VIEWS": "1",
            # The benchmark measures capacity, so the per-client rate limit is lifted.
            "THROTTLE_RATE": "100000000/min",
            "LOG_LEVEL": "WARNING",
        }
        self.log = open(PROJECT_ROOT / ".data" / "benchmark-server.log", "w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "config/gunicorn.py",
                "config.wsgi:application",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _ = request(self.port, "GET", "/health/ready")
                if status == 200:
                    return self
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError("benchmark server exited; see .data/benchmark-server.log")
            time.sleep(0.2)
        raise RuntimeError("benchmark server did not become ready")

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()

    def rss(self) -> int:
        """Largest resident memory of one worker, in bytes."""
        return max((w.memory_info().rss for w in self.workers()), default=0)


def request(port, method, path, body=None, headers=None, connection=None):
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return response.status, data
    finally:
        if own:
            connection.close()


def obtain_token(port: int, client_id: str, secret: str) -> str:
    body = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )
    status, data = request(
        port,
        "POST",
        "/oauth2/token/",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    if status != 200:
        raise RuntimeError(f"token request failed: {status} {data[:200]!r}")
    return json.loads(data)["access_token"]


def _hammer(port, paths, headers, seconds, start_at, results):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while time.time() < start_at:
        time.sleep(0.001)
    done = failed = 0
    end = start_at + seconds
    index = 0
    while time.time() < end:
        path = paths[index % len(paths)]
        index += 1
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status == 200:
            done += 1
        else:
            failed += 1
    connection.close()
    results.put((done, failed))


def throughput(
    port: int, paths: list[str], headers: dict, *, clients: int, seconds: float
) -> float:
    """Requests per second over `clients` keep-alive connections, each in its own process."""
    results = multiprocessing.Queue()
    start_at = time.time() + 0.5
    processes = [
        multiprocessing.Process(
            target=_hammer,
            args=(port, paths[i::clients] or paths, headers, seconds, start_at, results),
        )
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    totals = [results.get() for _ in processes]
    for process in processes:
        process.join()
    failed = sum(f for _, f in totals)
    if failed:
        raise RuntimeError(f"{failed} requests failed during the throughput run")
    return sum(d for d, _ in totals) / seconds


def latencies(
    port: int, method: str, path: str, headers: dict, body=None, *, runs: int, warmup: int = 1
) -> list[float]:
    """Milliseconds per request, sequential, over one keep-alive connection, after `warmup`
    requests that are not measured."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    timings = []
    try:
        for _ in range(warmup):
            request(port, method, path, body, headers, connection)
        for _ in range(runs):
            started = time.perf_counter()
            status, data = request(port, method, path, body, headers, connection)
            timings.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"{method} {path} answered {status}: {data[:300]!r}")
    finally:
        connection.close()
    return timings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)


class PeakRss:
    """Sample the server workers' memory in the background; report the peak."""

    def __init__(self, server: Server, interval: float = 0.02):
        self.server, self.interval, self.peak = server, interval, 0
        self._stop = threading.Event()

    def __enter__(self) -> "PeakRss":
        self.peak = self.server.rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.server.rss())
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def stream_lines(port: int, path: str, headers: dict) -> int:
    """Read an NDJSON response to the end; return the number of lines."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"export answered {response.status}")
        lines = 0
        while chunk := response.read(1 << 20):
            lines += chunk.count(b"\n")
        return lines
    finally:
        connection.close()


def table(rows: list[tuple], headers: tuple[str, ...]) -> str:
    cells = [headers, *[tuple(str(c) for c in row) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    line = "+".join("-" * (w + 2) for w in widths)
    out = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), line]
    out += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells[1:]]
    return "\n".join(out)
