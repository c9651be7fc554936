"""Every shell block of the README says what runs it; the tour and operator blocks run here.

A block is preceded by `<!-- readme: run by tests/operators/test_readme.py (NAME) -->` when
this module runs it verbatim against a live server, or by a comment naming the test or CI step
that covers it (or why it cannot run here, and what checks it instead).
"""

import contextlib
import os
import re
import signal
import subprocess

import pytest

from tests.operators.test_serve import manage, start, wait_ready
from tests.test_smoke import PROJECT_ROOT, free_port, server_env

README = PROJECT_ROOT / "README.md"
BLOCK = re.compile(
    r"(?:<!-- readme: (?P<marker>.*?) -->\n)?```(?P<lang>sh|bash)\n(?P<body>.*?)```", re.S
)
# Reads of the process environment (a WSGI request's `environ` is not one).
ENV_READ = re.compile(
    r'(?:os\.environ\.get|os\.environ\[|env_bool|env_list|getenv)\(?\s*"([A-Z][A-Z0-9_]+)"'
)
RUN_HERE = re.compile(r"^run by tests/operators/test_readme\.py \((?P<name>\w+)\)$")


def shell_blocks() -> list[tuple[str | None, str]]:
    return [(m["marker"], m["body"]) for m in BLOCK.finditer(README.read_text())]


def runnable(name: str) -> str:
    for marker, body in shell_blocks():
        found = RUN_HERE.match(marker or "")
        if found and found["name"] == name:
            return body
    raise AssertionError(f"README has no block marked to run as {name}")


def test_every_shell_block_says_what_runs_it():
    blocks = shell_blocks()
    assert len(blocks) >= 5
    for marker, body in blocks:
        assert marker, f"README shell block without a readme marker:\n{body}"
        for path in re.findall(r"(tests/\S+\.py|\.ci/run)", marker):
            assert (PROJECT_ROOT / path).exists(), f"{marker}: {path} does not exist"
        assert RUN_HERE.match(marker) or re.search(r"(tests/\S+\.py|\.ci/run)", marker), marker


def test_every_environment_variable_read_is_documented():
    read = set()
    for package in ("config", "api", "catalogue"):
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            read |= set(ENV_READ.findall(path.read_text()))
    table = README.read_text().split("## Environment variables")[1].split("\n## ")[0]
    assert len(read) > 20
    missing = sorted(name for name in read if f"`{name}`" not in table)
    assert not missing, f"read by the code, missing from the README: {missing}"


def test_ci_runs_the_development_checks_block():
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    body = next(body for marker, body in shell_blocks() if marker == "run by .ci/run")
    for line in body.strip().splitlines():
        command = line.split("SECRET_KEY=")[0].strip()
        assert command.split()[0] in ci, line
    assert "make test" in ci
    assert "make lint" in ci or ".venv/bin/ruff check" in ci


@pytest.mark.smoke
def test_tour_and_operator_commands_run_as_written(tmp_path):
    # given a server as `make run` starts it, on a database of its own
    env = {**server_env(), "EMBEDDED_PG_DATA": str(tmp_path / "postgres")}
    env.pop("DJANGO_ENV")  # the README's commands run without it
    manage(env, "migrate", "--noinput")
    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        supervisor = start(env, port, log)
    try:
        wait_ready(port, supervisor, log_path)
        shell_env = {**env, "BASE": f"http://127.0.0.1:{port}"}

        # when the tour runs, then every command of it succeeds
        tour = bash(runnable("tour"), shell_env)
        assert re.search(r'"action" ?: ?"create"', tour)
        assert "Messing kogelkraan" in tour  # the search answered in Dutch
        assert tour.count('"Kranen"') >= 2  # created, then found by the word "kraan"
        assert len(re.findall(r'"sku" ?: ?"VALVE-10[01]"', tour)) >= 4  # search and export
        assert re.search(r'"attributeName" ?: ?"SIZE"', tour)  # the configurator answered
        assert re.search(r'"key" ?: ?"P-201"', tour)  # a variant created in the cluster
        assert "Superuser created successfully." in tour

        # and so does every operator command
        operators = bash(runnable("operators"), shell_env)
        assert "Demo products: 60 created" in operators
        assert "Exported" in operators
        assert "0 failed" in operators
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(supervisor.pid, signal.SIGINT)
        try:
            supervisor.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(supervisor.pid, signal.SIGKILL)
            supervisor.wait()


def bash(script: str, env: dict[str, str]) -> str:
    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, (
        f"exit {completed.returncode}\nstdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
    )
    return completed.stdout + completed.stderr
