"""End to end: the real server (gunicorn, embedded PostgreSQL) over real HTTP.

Everything runs in subprocesses without DATABASE_URL, so this uses the embedded PostgreSQL under
.data/postgres, never the pytest-django test database.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.smoke

PROJECT_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = 60
COMMAND_TIMEOUT_SECONDS = 300


def server_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["DJANGO_ENV"] = "development"
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return env


def manage(*args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
    )
    assert completed.returncode == 0, (
        f"manage.py {' '.join(args)} exited {completed.returncode}\n"
        f"stdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
    )
    return completed.stdout


def parse_json_object(output: str) -> dict:
    """Return the JSON object a command printed, ignoring anything printed before it."""
    start = output.find("{")
    assert start >= 0, f"no JSON object in output:\n{output}"
    return json.JSONDecoder().raw_decode(output, start)[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report redirects as they are: the API never redirects (trailing slashes are optional)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def request(method: str, url: str, *, data: bytes | None = None, headers: dict | None = None):
    """Send one request; return (status, parsed JSON body or raw text)."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with OPENER.open(req, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode(errors="replace")


def wait_until_ready(base_url: str, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    last = None
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}:\n{log_path.read_text()}")
        try:
            last = request("GET", f"{base_url}/health/ready")
            if last[0] == 200:
                return
        except OSError as error:  # not listening yet
            last = error
        time.sleep(0.5)
    pytest.fail(
        f"/health/ready not 200 after {READY_TIMEOUT_SECONDS}s ({last!r}):\n{log_path.read_text()}"
    )


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


def test_token_create_and_read_a_category_over_http(tmp_path):
    # given a migrated database, an API client and a running server
    manage("migrate", "--noinput")
    client = parse_json_object(
        manage(
            "create_api_client",
            f"smoke-{secrets.token_hex(4)}",
            "--scopes",
            "category.write",
            "--json",
        )
    )
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "config/gunicorn.py",
                "config.wsgi:application",
            ],
            cwd=PROJECT_ROOT,
            env={**server_env(), "BIND": f"127.0.0.1:{port}"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_ready(base_url, server, log_path)

        # when a token is requested with the client credentials
        status, token = request(
            "POST",
            f"{base_url}/oauth2/token/",
            data=urllib.parse.urlencode(
                {
                    "grant_type": "client_credentials",
                    "client_id": client["client_id"],
                    "client_secret": client["client_secret"],
                }
            ).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

        # then
        assert status == 200, token
        assert token["token_type"] == "Bearer"
        assert token["expires_in"] == 1800
        assert token["access_token"]
        auth = {"Authorization": f"Bearer {token['access_token']}"}

        # when a category is created
        names = [{"language": "EN", "value": "Smoke"}]
        status, created = request(
            "POST",
            f"{base_url}/v2/categories",
            data=json.dumps({"names": names}).encode(),
            headers={**auth, "Content-Type": "application/json", "Accept": "application/json"},
        )

        # then
        assert status == 201, created
        category_id = created["data"]["id"]
        assert isinstance(category_id, int)
        assert created["data"]["names"] == names

        # when it is read back
        status, read = request(
            "GET",
            f"{base_url}/v2/categories/id/{category_id}",
            headers={**auth, "Accept": "application/json"},
        )

        # then
        assert status == 200, read
        assert read["data"]["id"] == category_id
        assert read["data"]["names"] == names
    finally:
        stop(server)
