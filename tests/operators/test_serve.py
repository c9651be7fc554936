"""`manage.py serve` (what `make run` starts): stops everything on Ctrl-C, survives its database.

These start the real supervisor, gunicorn and an embedded PostgreSQL with a data folder of its
own (EMBEDDED_PG_DATA), so no other process holds a handle on that server: when the supervisor
stops, the server must stop too.
"""

import contextlib
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

import psutil
import pytest

from tests.test_smoke import (
    COMMAND_TIMEOUT_SECONDS,
    PROJECT_ROOT,
    free_port,
    parse_json_object,
    request,
    server_env,
)

pytestmark = pytest.mark.smoke

START_CYCLES = int(os.environ.get("SERVE_START_STOP_CYCLES", "20"))
READY_SECONDS = 60
GONE_SECONDS = 5


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    """The server's environment: its own embedded PostgreSQL, migrated."""
    pgdata = tmp_path_factory.mktemp("serve") / "postgres"
    environment = {**server_env(), "EMBEDDED_PG_DATA": str(pgdata)}
    manage(environment, "migrate", "--noinput")
    return environment


def manage(env: dict[str, str], *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def postmaster(env: dict[str, str]) -> psutil.Process | None:
    pid_file = os.path.join(env["EMBEDDED_PG_DATA"], "postmaster.pid")
    try:
        with open(pid_file) as lines:
            process = psutil.Process(int(lines.readline()))
    except (FileNotFoundError, ValueError, psutil.Error):
        return None
    return process if process.is_running() and process.name() == "postgres" else None


def everything(supervisor: subprocess.Popen, env) -> list[psutil.Process]:
    """The supervisor, every process below it, and the postmaster with its backends."""
    root = psutil.Process(supervisor.pid)
    processes = [root, *root.children(recursive=True)]
    server = postmaster(env)
    if server is not None:
        processes += [server, *server.children(recursive=True)]
    return processes


def start(env, port: int, log, *, make: bool = False) -> subprocess.Popen:
    """Start the supervisor as a terminal would: a process group of its own."""
    command = (
        ["make", "run", f"PORT={port}"]
        if make
        else [sys.executable, "manage.py", "serve", "--bind", f"127.0.0.1:{port}"]
    )
    return subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(port: int, supervisor: subprocess.Popen, log_path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        assert supervisor.poll() is None, log_path.read_text()
        with contextlib.suppress(OSError):
            if request("GET", f"http://127.0.0.1:{port}/health/ready")[0] == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"not ready after {READY_SECONDS}s:\n{log_path.read_text()}")


def ctrl_c(supervisor: subprocess.Popen) -> None:
    """What a terminal does on Ctrl-C: SIGINT to every process of the foreground group."""
    os.killpg(supervisor.pid, signal.SIGINT)


def running(process: psutil.Process) -> bool:
    """Alive and not a zombie (the postmaster's zombie waits for init to reap it)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def assert_all_gone(processes: list[psutil.Process], log_path) -> float:
    started = time.monotonic()
    while time.monotonic() - started < GONE_SECONDS:
        alive = [process for process in processes if running(process)]
        if not alive:
            return time.monotonic() - started
        time.sleep(0.05)
    pytest.fail(f"still running: {alive}\n{log_path.read_text()[-3000:]}")


def test_ctrl_c_stops_gunicorn_and_the_database_every_time(env, tmp_path):
    log_path = tmp_path / "serve.log"
    took = []
    for cycle in range(START_CYCLES):
        port = free_port()
        # The first cycle goes through `make run` itself (migrate, local client, demo data).
        with open(log_path, "w") as log:
            supervisor = start(env, port, log, make=cycle == 0)
        try:
            wait_ready(port, supervisor, log_path)
            if cycle == 0:
                assert "client_secret:" in log_path.read_text()
                healthy = subprocess.run(
                    [sys.executable, "config/healthcheck.py"],
                    cwd=PROJECT_ROOT,
                    env={**env, "BIND": f"127.0.0.1:{port}"},
                )
                assert healthy.returncode == 0
            # Every few cycles a browser-like keep-alive connection stays open over the stop
            # (gunicorn lingers 2 s on those); the others stop from idle.
            idle = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            idle.request("GET", "/health/live")
            assert idle.getresponse().read() == b'{"status": "ok"}'
            if cycle % 5:
                idle.close()
            processes = everything(supervisor, env)
            assert postmaster(env) in processes, "the embedded PostgreSQL should be running"
            # (make,) supervisor, arbiter, 2 workers, postmaster
            assert len(processes) >= 5, processes

            ctrl_c(supervisor)

            took.append(assert_all_gone(processes, log_path))
            # The supervisor exits cleanly; make, depending on when it sees the interrupt,
            # with its child's status, its own interrupt status or by the signal.
            expected = (0, 2, -signal.SIGINT) if cycle == 0 else (0,)
            assert supervisor.wait(timeout=1) in expected, log_path.read_text()
            assert postmaster(env) is None
            idle.close()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(supervisor.pid, signal.SIGKILL)
            supervisor.wait()
    print(f"stop took at most {max(took):.2f}s over {len(took)} cycles")


def test_a_killed_postmaster_is_restarted_and_requests_answer_503_meanwhile(env, tmp_path):
    # given a running server with a client token
    client = parse_json_object(
        manage(
            env,
            "create_api_client",
            f"fault-{secrets.token_hex(4)}",
            "--scopes",
            "product.read",
            "--json",
        )
    )
    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        supervisor = start(env, port, log)
    try:
        wait_ready(port, supervisor, log_path)
        status, token = request(
            "POST",
            f"http://127.0.0.1:{port}/oauth2/token/",
            data=urllib.parse.urlencode(
                {
                    "grant_type": "client_credentials",
                    "client_id": client["client_id"],
                    "client_secret": client["client_secret"],
                }
            ).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 200, token
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        results: list[tuple[float, int, bytes]] = []
        stop_at = time.monotonic() + 12

        def load():
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while time.monotonic() < stop_at:
                try:
                    connection.request("GET", "/v2/products?offset=5", headers=headers)
                    response = connection.getresponse()
                    results.append((time.monotonic(), response.status, response.read()))
                except (OSError, http.client.HTTPException):
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                time.sleep(0.01)
            connection.close()

        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(2)
        old = postmaster(env)
        assert old is not None

        # when the postmaster is killed mid-load
        killed_at = time.monotonic()
        old.kill()
        for thread in threads:
            thread.join()

        # then every answer was a success or the 503 envelope, never a 500
        statuses = [status for _, status, _ in results]
        assert set(statuses) <= {200, 503}, sorted(set(statuses))
        for _, status, body in results:
            if status == 503:
                error = json.loads(body)["error"]
                assert error == {
                    "code": 10014,
                    "status": 503,
                    "type": "InternalError",
                    "messages": ["database unavailable"],
                    "moreInfo": "/v2/docs/errors#10014",
                }
        # and the database came back: requests succeed again, readiness says so
        after = [status for at, status, _ in results if at > killed_at + 6]
        assert after and set(after) == {200}, after[-20:]
        new = postmaster(env)
        assert new is not None and new.pid != old.pid
        assert request("GET", f"http://127.0.0.1:{port}/health/ready")[0] == 200
        print(f"503s during the outage: {statuses.count(503)}; 200s: {statuses.count(200)}")

        # and stopping still leaves nothing behind
        processes = everything(supervisor, env)
        ctrl_c(supervisor)
        assert_all_gone(processes, log_path)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(supervisor.pid, signal.SIGKILL)
        supervisor.wait()
