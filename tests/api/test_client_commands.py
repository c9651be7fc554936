"""The API client management commands: create, list, update, revoke."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from oauth2_provider.models import get_access_token_model, get_application_model

from api.models import ClientScopes
from api.services import api_client_create, api_client_disable
from tests.factories import request_token

AccessToken = get_access_token_model()
Application = get_application_model()
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def run_json(*args):
    return json.loads(run(*args, "--json"))


def snapshot():
    return (
        list(Application.objects.order_by("pk").values()),
        list(ClientScopes.objects.order_by("pk").values()),
        list(AccessToken.objects.order_by("pk").values()),
    )


@pytest.fixture
def issued(db):
    return api_client_create(name="erp", scopes=["category.write"])


def token_works(client_id: str, secret: str) -> bool:
    return request_token(client_id, secret).status_code == 200


# create_api_client -------------------------------------------------------------------------------


def test_create_prints_the_secret_once(db):
    payload = run_json("create_api_client", "erp", "--scopes", "product.read category.write")

    assert set(payload) == {"name", "client_id", "client_secret", "scopes"}
    assert payload["scopes"] == ["category.write", "product.read"]
    assert token_works(payload["client_id"], payload["client_secret"])


def test_create_refuses_a_name_that_is_taken(issued):
    before = snapshot()

    with pytest.raises(CommandError, match=r"^An API client named 'erp' already exists$"):
        run("create_api_client", "erp", "--scopes", "product.read")

    assert snapshot() == before


def test_create_if_missing_leaves_an_existing_client_alone(issued):
    before = snapshot()

    output = run("create_api_client", "erp", "--scopes", "product.read", "--if-missing")

    assert "exists" in output
    assert issued.client_secret not in output
    assert snapshot() == before
    assert token_works(issued.client_id, issued.client_secret)


def test_create_reset_secret_issues_a_new_secret_with_the_scopes_given(issued):
    token = request_token(issued.client_id, issued.client_secret).json()["access_token"]
    assert token

    payload = run_json("create_api_client", "erp", "--scopes", "product.read", "--reset-secret")

    assert payload["client_id"] == issued.client_id
    assert payload["scopes"] == ["product.read"]
    assert ClientScopes.objects.get().scopes == "product.read"
    assert not token_works(issued.client_id, issued.client_secret)
    assert token_works(issued.client_id, payload["client_secret"])
    assert AccessToken.objects.count() == 1  # only the one just issued


def test_create_reset_secret_fails_when_the_client_does_not_exist(db):
    with pytest.raises(CommandError, match=r"^No API client named 'ghost'$"):
        run("create_api_client", "ghost", "--scopes", "product.read", "--reset-secret")

    assert not Application.objects.exists()


def test_create_refuses_if_missing_with_reset_secret(db):
    with pytest.raises(CommandError, match="not allowed with argument"):
        run("create_api_client", "erp", "--scopes", "a", "--if-missing", "--reset-secret")


def test_create_refuses_unknown_scopes(db):
    with pytest.raises(CommandError, match=r"^Unknown scopes: product\.delete"):
        run("create_api_client", "erp", "--scopes", "product.delete")

    assert not Application.objects.exists()


# list_api_clients --------------------------------------------------------------------------------


def test_list_as_a_table(issued):
    request_token(issued.client_id, issued.client_secret)
    other = api_client_create(name="archive", scopes=["product.read", "cluster.read"])
    api_client_disable(name=other.name)

    lines = run("list_api_clients").splitlines()

    assert lines[0].split() == ["NAME", "CLIENT", "ID", "STATE", "TOKENS", "SCOPES"]
    assert lines[1].split() == ["archive", other.client_id, "disabled", "0", "cluster.read", "product.read"]  # fmt: skip
    assert lines[2].split() == ["erp", issued.client_id, "enabled", "1", "category.write"]
    output = "\n".join(lines)
    assert issued.client_secret not in output
    assert "hmac_sha256" not in output


def test_list_as_json(issued):
    clients = run_json("list_api_clients")

    assert len(clients) == 1
    assert {key: clients[0][key] for key in ("name", "client_id", "scopes", "enabled")} == {
        "name": "erp",
        "client_id": issued.client_id,
        "scopes": ["category.write"],
        "enabled": True,
    }
    assert clients[0]["active_tokens"] == 0
    assert "client_secret" not in clients[0]


def test_list_with_no_clients(db):
    assert run("list_api_clients") == "No API clients.\n"
    assert run_json("list_api_clients") == []


# revoke_api_client -------------------------------------------------------------------------------


def test_revoke_invalidates_tokens_at_once(issued):
    token = request_token(issued.client_id, issued.client_secret).json()["access_token"]

    output = run("revoke_api_client", "erp")

    assert output == "Revoked 1 valid token(s) of API client 'erp'.\n"
    assert not AccessToken.objects.exists()
    bearer = {"Authorization": f"Bearer {token}"}
    from django.test import Client

    assert Client().get("/v2/categories", headers=bearer).status_code == 401
    assert token_works(issued.client_id, issued.client_secret)  # it may ask again


def test_revoke_disable_also_refuses_new_tokens(issued):
    request_token(issued.client_id, issued.client_secret)

    run("revoke_api_client", issued.client_id, "--disable")

    assert not AccessToken.objects.exists()
    assert not token_works(issued.client_id, issued.client_secret)
    assert ClientScopes.objects.get().enabled is False


def test_revoke_of_an_unknown_client_fails(db):
    with pytest.raises(CommandError, match=r"^No API client named 'ghost'$"):
        run("revoke_api_client", "ghost")


# update_api_client -------------------------------------------------------------------------------


def test_update_scopes_revokes_tokens(issued):
    request_token(issued.client_id, issued.client_secret)

    payload = run_json("update_api_client", "erp", "--scopes", "product.write")

    assert payload["scopes"] == ["product.write"]
    assert payload["active_tokens"] == 0
    assert not AccessToken.objects.exists()
    token = request_token(issued.client_id, issued.client_secret).json()
    assert token["scope"] == "product.read product.write"


def test_update_rotate_secret_prints_the_new_secret(issued):
    payload = run_json("update_api_client", "erp", "--rotate-secret")

    assert payload["client_id"] == issued.client_id
    assert payload["scopes"] == ["category.write"]
    assert not token_works(issued.client_id, issued.client_secret)
    assert token_works(issued.client_id, payload["client_secret"])


def test_update_rotate_secret_and_scopes_together(issued):
    payload = run_json("update_api_client", "erp", "--rotate-secret", "--scopes", "product.read")

    assert payload["scopes"] == ["product.read"]
    assert token_works(issued.client_id, payload["client_secret"])


def test_update_enable(issued):
    api_client_disable(name="erp")

    output = run("update_api_client", "erp", "--enable")

    assert output == "API client 'erp' (enabled): scopes category.write\n"
    assert token_works(issued.client_id, issued.client_secret)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ghost", "--scopes", "product.read"], "^No API client named 'ghost'$"),
        (["ghost", "--rotate-secret"], "^No API client named 'ghost'$"),
        (["erp"], "^Nothing to change: give --scopes, --rotate-secret or --enable$"),
        (["erp", "--scopes", "product.delete"], "^Unknown scopes: product.delete"),
    ],
)
def test_update_failures_change_nothing(issued, args, message):
    before = snapshot()

    with pytest.raises(CommandError, match=message):
        run("update_api_client", *args)

    assert snapshot() == before


def test_a_failed_update_with_several_changes_applies_none(issued):
    api_client_disable(name="erp")
    before = snapshot()

    with pytest.raises(CommandError):
        run("update_api_client", "erp", "--enable", "--scopes", "product.delete")

    assert snapshot() == before


# From the shell: exit status, one-line errors, help ------------------------------------------------


@pytest.fixture
def manage(django_db_setup, django_db_blocker):
    """Run manage.py in a subprocess against the (migrated) test database."""
    with django_db_blocker.unblock():
        database = connection.settings_dict
    # A socket directory as host is percent-encoded, as the settings read it.
    host = quote(database["HOST"] or "127.0.0.1", safe="")
    port = f":{database['PORT']}" if database["PORT"] else ""
    url = f"postgres://{quote(database['USER'] or '')}@{host}{port}/{database['NAME']}"

    def run(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=PROJECT_ROOT,
            env={**os.environ, "DJANGO_ENV": "development", "DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def test_a_failing_command_exits_non_zero_with_one_line(manage):
    completed = manage("update_api_client", "no-client-has-this-name", "--scopes", "product.read")

    assert completed.returncode == 1
    assert completed.stderr == "CommandError: No API client named 'no-client-has-this-name'\n"


@pytest.mark.parametrize(
    ("command", "phrase"),
    [
        ("create_api_client", "shown only this once"),
        ("list_api_clients", "Secrets are never shown"),
        ("revoke_api_client", "Revoke every access token"),
        ("update_api_client", "revoke its tokens at once"),
    ],
)
def test_every_command_explains_itself(manage, command, phrase):
    completed = manage(command, "--help")

    assert completed.returncode == 0
    assert phrase in " ".join(completed.stdout.split())
