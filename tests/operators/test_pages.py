"""The pages for people: start page, error reference, offline docs and admin assets."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from api.error_docs import DESCRIPTIONS
from api.errors import HTTP_STATUS
from catalogue.errors import Code
from tests.factories import make_category

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Hosts an offline page must not need.
REMOTE_ASSET = re.compile(r"""(src|href)=["'](https?:)?//""")


@pytest.fixture
def client():
    return Client()


def test_home_answers_json_with_the_links(client):
    response = client.get("/")

    assert response.status_code == 200
    assert response.json()["links"]["docs"] == "/v2/docs/"
    assert response.json()["links"]["admin"] == "/admin/"


def test_home_answers_a_page_to_a_browser(client):
    response = client.get("/", HTTP_ACCEPT="text/html,application/xhtml+xml")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b'href="/v2/docs/"' in response.content
    assert b'href="/admin/"' in response.content


def test_every_error_code_has_a_description_and_a_status():
    assert set(DESCRIPTIONS) == set(Code)
    assert set(HTTP_STATUS) == set(Code)
    for code, text in DESCRIPTIONS.items():
        assert text.endswith("."), code
        assert text.count(". ") == 0, f"{code}: one sentence"


@pytest.mark.parametrize("path", ["/v2/docs/errors", "/v2/docs/errors/"])
def test_error_page_has_an_anchor_per_code(client, path):
    response = client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    for code in Code:
        row = re.search(rf'<tr id="{code.number}">(.*?)</tr>', html, re.S)
        assert row, code
        assert code.type_name in row.group(1)
        assert f"<td>{HTTP_STATUS[code]}</td>" in row.group(1)


def test_more_info_of_an_error_points_at_a_row_of_the_page(client):
    error = client.get("/v2/nothing").json()["error"]

    page, anchor = error["moreInfo"].split("#")
    assert f'id="{anchor}"' in client.get(page).content.decode()


@pytest.mark.parametrize("path", ["/v2/docs/", "/v2/redoc/"])
def test_api_docs_load_no_remote_assets(client, path):
    response = client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assert not REMOTE_ASSET.search(html), REMOTE_ASSET.search(html)
    for asset in re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", html):
        assert client.get(asset).status_code == 200, asset


@pytest.mark.django_db
def test_admin_translation_tabs_load_jquery_ui_locally(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-123-xyz")
    client.force_login(user)
    category = make_category("Valves")

    response = client.get(f"/admin/catalogue/category/{category.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert not REMOTE_ASSET.search(html), REMOTE_ASSET.search(html)
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert any("jquery-ui" in src for src in scripts)
    for src in scripts:
        assert client.get(src).status_code == 200, src


def settings_import(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import config.settings as s; print(s.DJANGO_ENV)"],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_real_database_defaults_to_production_and_needs_a_secret_key():
    completed = settings_import({"DATABASE_URL": "postgres://u@db/x"})

    assert completed.returncode != 0
    assert "Refusing to start in production with the development SECRET_KEY" in completed.stderr


def test_production_with_a_secret_key_starts():
    completed = settings_import({"DATABASE_URL": "postgres://u@db/x", "SECRET_KEY": "s" * 60})

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "production"


def test_production_without_a_database_url_is_refused():
    completed = settings_import({"DJANGO_ENV": "production", "SECRET_KEY": "s" * 60})

    assert completed.returncode != 0
    assert "without DATABASE_URL" in completed.stderr
