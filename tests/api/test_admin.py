"""The API client admin and the admin's sign-in lockout."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from oauth2_provider.models import get_access_token_model, get_application_model

from api.models import AuthFailure, ClientScopes
from api.services import api_client_create
from tests.factories import ApiCaller, request_token

AccessToken = get_access_token_model()
Application = get_application_model()
CHANGELIST = "/admin/oauth2_provider/application/"
SECRET = re.compile(r'<code class="client-secret">([^<]+)</code>')


@pytest.fixture
def staff(db) -> Client:
    get_user_model().objects.create_superuser("operator", "op@example.com", "a long passphrase")
    browser = Client()
    browser.login(username="operator", password="a long passphrase")
    return browser


@pytest.fixture
def issued(db):
    return api_client_create(name="erp", scopes=["category.write"])


def token_for(issued) -> str:
    return request_token(issued.client_id, issued.client_secret).json()["access_token"]


def secrets_on(response) -> list[str]:
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    return SECRET.findall(response.content.decode())


def act(staff, action: str, *clients):
    return staff.post(
        CHANGELIST,
        {
            "action": action,
            "_selected_action": [
                Application.objects.get(client_id=client.client_id).pk for client in clients
            ],
        },
    )


# Pages ---------------------------------------------------------------------------------------


def test_the_list_shows_clients_without_secrets(staff, issued):
    token_for(issued)

    page = staff.get(CHANGELIST).content.decode()

    assert "erp" in page
    assert issued.client_id in page
    assert "category.write" in page
    assert issued.client_secret not in page
    assert Application.objects.get().client_secret not in page


def test_the_change_page_has_name_and_scope_checkboxes_and_no_raw_oauth_fields(staff, issued):
    pk = Application.objects.get().pk

    page = staff.get(f"{CHANGELIST}{pk}/change/").content.decode()

    assert 'name="name"' in page
    assert 'type="checkbox" name="scopes" value="category.write"' in page
    assert re.search(r'value="category.write"[^>]*checked', page)
    for raw in ("client_secret", "redirect_uris", "authorization_grant_type", "algorithm"):
        assert f'name="{raw}"' not in page
    assert Application.objects.get().client_secret not in page


@pytest.mark.parametrize(
    "model", ["accesstoken", "refreshtoken", "grant", "idtoken"], ids=lambda m: m
)
def test_the_toolkits_own_token_pages_are_gone(staff, model):
    assert staff.get(f"/admin/oauth2_provider/{model}/").status_code == 404


def test_creating_a_client_shows_its_secret_once(staff, db):
    response = staff.post(
        f"{CHANGELIST}add/", {"name": "pim", "scopes": ["product.write", "category.read"]}
    )

    [secret] = secrets_on(response)
    client = Application.objects.get()
    assert client.name == "pim"
    assert client.allowed_scopes.scopes == "category.read product.write"
    assert secret not in client.client_secret
    assert request_token(client.client_id, secret).status_code == 200
    # The list that follows does not show it again.
    assert secret not in staff.get(CHANGELIST).content.decode()


def test_a_taken_name_is_refused(staff, issued):
    response = staff.post(f"{CHANGELIST}add/", {"name": "erp", "scopes": ["product.read"]})

    assert response.status_code == 200
    assert "An API client with this name exists already." in response.content.decode()
    assert Application.objects.count() == 1


def test_changing_scopes_revokes_tokens(staff, issued):
    caller = ApiCaller(token_for(issued), issued)
    pk = Application.objects.get().pk

    response = staff.post(f"{CHANGELIST}{pk}/change/", {"name": "erp", "scopes": ["product.read"]})

    assert response.status_code == 302
    assert ClientScopes.objects.get().scopes == "product.read"
    assert caller.get("/v2/products").status_code == 401
    assert not AccessToken.objects.exists()


def test_renaming_keeps_tokens(staff, issued):
    token_for(issued)
    pk = Application.objects.get().pk

    staff.post(f"{CHANGELIST}{pk}/change/", {"name": "erp v2", "scopes": ["category.write"]})

    assert Application.objects.get().name == "erp v2"
    assert AccessToken.objects.count() == 1


# Actions -------------------------------------------------------------------------------------


def test_rotate_secret_shows_the_new_secrets_once_and_revokes_tokens(staff, issued):
    other = api_client_create(name="pim", scopes=["product.read"])
    caller = ApiCaller(token_for(issued), issued)

    response = act(staff, "rotate_secret", issued, other)

    secrets = secrets_on(response)
    assert len(secrets) == 2
    assert caller.get("/v2/categories").status_code == 401
    assert request_token(issued.client_id, issued.client_secret).status_code == 401
    assert any(request_token(issued.client_id, s).status_code == 200 for s in secrets)


def test_revoke_tokens(staff, issued):
    caller = ApiCaller(token_for(issued), issued)

    response = act(staff, "revoke_tokens", issued)

    assert response.status_code == 302
    assert caller.get("/v2/categories").status_code == 401
    assert request_token(issued.client_id, issued.client_secret).status_code == 200


def test_disable_and_enable(staff, issued):
    caller = ApiCaller(token_for(issued), issued)

    act(staff, "disable", issued)

    assert caller.get("/v2/categories").status_code == 401
    assert request_token(issued.client_id, issued.client_secret).status_code == 401
    act(staff, "enable", issued)
    assert request_token(issued.client_id, issued.client_secret).status_code == 200


def test_deleting_a_client_with_tokens_takes_one_confirmation(staff, issued):
    token_for(issued)
    token_for(issued)
    pk = Application.objects.get().pk

    confirm = staff.get(f"{CHANGELIST}{pk}/delete/")
    assert confirm.status_code == 200
    assert "protected" not in confirm.content.decode().lower()
    response = staff.post(f"{CHANGELIST}{pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Application.objects.exists()
    assert not AccessToken.objects.exists()


def test_bulk_delete_with_tokens(staff, issued):
    other = api_client_create(name="pim", scopes=["product.read"])
    token_for(issued)
    token_for(other)

    response = staff.post(
        CHANGELIST,
        {
            "action": "delete_selected",
            "_selected_action": list(Application.objects.values_list("pk", flat=True)),
            "post": "yes",
        },
    )

    assert response.status_code == 302
    assert not Application.objects.exists()
    assert not AccessToken.objects.exists()


# Sign-in lockout -----------------------------------------------------------------------------


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_user(
        "operator", "op@example.com", "the right passphrase", is_staff=True
    )


def sign_in(password: str, *, username: str = "operator", address: str = "203.0.113.7"):
    browser = Client(REMOTE_ADDR=address)
    response = browser.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}
    )
    return browser, response


def signed_in(browser) -> bool:
    return browser.get("/admin/").status_code == 200


LOCKED = "Too many failed sign-ins for this account or from this address."


def test_wrong_passwords_lock_the_account_even_for_the_right_password(operator, settings):
    settings.ADMIN_LOGIN_FAILURES_PER_USER = "3/15min"
    for n in range(3):
        _, response = sign_in("wrong", address=f"198.51.100.{n}")
        assert response.status_code == 200
        assert LOCKED not in response.content.decode()

    browser, response = sign_in("the right passphrase", address="192.0.2.1")

    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert "Try again in 15 minute(s)." in response.content.decode()
    assert not signed_in(browser)


def test_wrong_passwords_from_one_address_lock_that_address(operator, settings):
    settings.ADMIN_LOGIN_FAILURES_PER_ADDRESS = "4/15min"
    for n in range(4):
        sign_in("wrong", username=f"someone-{n}")

    there, from_there = sign_in("the right passphrase")
    elsewhere, _ = sign_in("the right passphrase", address="192.0.2.1")

    assert LOCKED in from_there.content.decode()
    assert not signed_in(there)
    assert signed_in(elsewhere)


def test_the_lock_ends_with_its_window(operator, settings):
    settings.ADMIN_LOGIN_FAILURES_PER_USER = "3/15min"
    for _ in range(3):
        sign_in("wrong")
    for failure in AuthFailure.objects.all():
        AuthFailure.objects.filter(pk=failure.pk).update(at=failure.at - timedelta(minutes=16))

    browser, _ = sign_in("the right passphrase")

    assert signed_in(browser)


def test_a_good_sign_in_is_not_held_back_by_fewer_failures(operator, settings):
    settings.ADMIN_LOGIN_FAILURES_PER_USER = "3/15min"
    sign_in("wrong")
    sign_in("wrong")

    browser, _ = sign_in("the right passphrase")

    assert signed_in(browser)
