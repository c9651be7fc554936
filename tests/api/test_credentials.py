"""Client secrets (keyed hash, upgrades), the token endpoint's throttle and token revocation."""

import base64
import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from api import hashers
from api.models import AuthFailure, ClientScopes
from api.services import (
    ApiClientError,
    ApiClientNotFound,
    api_client_create,
    api_client_delete,
    api_client_disable,
    api_client_enable,
    api_client_info,
    api_client_list,
    api_client_rename,
    api_client_revoke_tokens,
    api_client_rotate_secret,
    api_client_update_scopes,
)
from config import settings as project_settings
from tests.assertions import assert_error
from tests.factories import ApiCaller, jwt_part, request_token

AccessToken = get_access_token_model()
Application = get_application_model()


@pytest.fixture
def issued(db):
    return api_client_create(name="erp connector", scopes=["category.write"])


def token_for(issued, **kwargs) -> str:
    response = request_token(issued.client_id, issued.client_secret, **kwargs)
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def stored_secret(issued) -> str:
    return Application.objects.get(client_id=issued.client_id).client_secret


def token_request(client_id: str, secret: str, *, address: str = "203.0.113.7", **headers):
    return Client(REMOTE_ADDR=address).post(
        "/oauth2/token/",
        data=f"grant_type=client_credentials&client_id={client_id}&client_secret={secret}",
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )


# The keyed hash ----------------------------------------------------------------------------------


def test_a_secret_is_stored_as_a_keyed_hash(settings, issued):
    stored = stored_secret(issued)

    assert identify_hasher(stored).algorithm == "hmac_sha256"
    assert issued.client_secret not in stored
    assert check_password(issued.client_secret, stored)
    assert not check_password(issued.client_secret[:-1], stored)
    # Without the server's key the hash is worthless: another SECRET_KEY cannot check it.
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    assert not check_password(issued.client_secret, stored)
    assert token_request(issued.client_id, issued.client_secret).status_code == 401


def test_a_secret_hashed_under_a_previous_secret_key_works_and_is_rehashed(settings, issued):
    old_hash = stored_secret(issued)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the-new-secret-key-" + "y" * 40

    response = token_request(issued.client_id, issued.client_secret)

    assert response.status_code == 200, response.content
    new_hash = stored_secret(issued)
    assert new_hash != old_hash
    assert hashers.ClientSecretHasher().must_update(old_hash)
    assert not hashers.ClientSecretHasher().must_update(new_hash)
    settings.SECRET_KEY_FALLBACKS = []  # the old key can go now
    assert token_request(issued.client_id, issued.client_secret).status_code == 200


def test_a_pbkdf2_secret_still_works_and_is_upgraded_on_success(settings, issued):
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS  # the production list
    pbkdf2 = make_password(issued.client_secret, hasher="pbkdf2_sha256")
    Application.objects.filter(client_id=issued.client_id).update(client_secret=pbkdf2)

    wrong = token_request(issued.client_id, "not-the-secret")
    assert wrong.status_code == 401
    assert stored_secret(issued) == pbkdf2  # a failure changes nothing

    right = token_request(issued.client_id, issued.client_secret)

    assert right.status_code == 200, right.content
    assert identify_hasher(stored_secret(issued)).algorithm == "hmac_sha256"
    assert token_request(issued.client_id, issued.client_secret).status_code == 200


def test_people_still_get_the_slow_password_hash(settings, db):
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS

    assert identify_hasher(make_password("correct horse")).algorithm == "pbkdf2_sha256"


@pytest.mark.parametrize("known", [True, False], ids=["known-id", "unknown-id"])
def test_a_failed_attempt_checks_one_hash_whether_or_not_the_client_exists(
    issued, monkeypatch, known
):
    checked = []
    original = hashers.ClientSecretHasher.verify

    def counting_verify(self, password, encoded):
        checked.append(password)
        return original(self, password, encoded)

    monkeypatch.setattr(hashers.ClientSecretHasher, "verify", counting_verify)
    client_id = issued.client_id if known else "no-such-client"

    response = token_request(client_id, "a-wrong-secret")

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}
    assert checked == ["a-wrong-secret"]


@pytest.mark.parametrize("client_id", ["a\x00b", "x" * 300, "%ED%A0%80"])
def test_odd_client_ids_are_just_unknown(db, client_id):
    response = token_request(client_id, "secret")

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


# Throttle ----------------------------------------------------------------------------------------


@pytest.fixture
def tight_limits(settings):
    settings.TOKEN_FAILURES_PER_CLIENT = "3/min"
    settings.TOKEN_FAILURES_PER_ADDRESS = "5/min"


def assert_throttled(response) -> int:
    assert response.status_code == 429, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 60
    assert response.json() == {
        "error": "slow_down",
        "error_description": (
            f"Too many failed attempts for this client or address; retry in {wait} seconds"
        ),
    }
    return wait


def test_failed_attempts_per_client_id_are_throttled_even_with_the_right_secret(
    issued, tight_limits
):
    # given three failures, each from another address
    for n in range(3):
        assert (
            token_request(issued.client_id, "wrong", address=f"198.51.100.{n}").status_code == 401
        )

    # when the right secret comes next
    response = token_request(issued.client_id, issued.client_secret, address="192.0.2.1")

    # then
    assert_throttled(response)
    assert not AccessToken.objects.exists()


def test_the_client_throttle_applies_to_http_basic_too(issued, tight_limits):
    for _ in range(3):
        token_request(issued.client_id, "wrong")
    pair = base64.b64encode(f"{issued.client_id}:{issued.client_secret}".encode()).decode()

    response = Client(REMOTE_ADDR="192.0.2.1").post(
        "/oauth2/token/",
        data="grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": f"Basic {pair}"},
    )

    assert_throttled(response)


def test_another_client_from_the_same_address_is_not_held_back_by_the_client_throttle(
    issued, tight_limits
):
    other = api_client_create(name="pim", scopes=["product.read"])
    for _ in range(3):
        token_request(issued.client_id, "wrong")

    assert token_request(other.client_id, other.client_secret).status_code == 200


def test_unknown_client_ids_are_throttled_like_known_ones(db, tight_limits):
    # The throttle must not tell which client ids exist.
    for n in range(3):
        assert token_request("guessed-id", "x", address=f"198.51.100.{n}").status_code == 401

    assert_throttled(token_request("guessed-id", "x", address="192.0.2.1"))


def test_failed_attempts_per_address_are_throttled(issued, tight_limits):
    for n in range(5):
        assert token_request(f"guess-{n}", "x", address="203.0.113.9").status_code == 401

    from_there = token_request(issued.client_id, issued.client_secret, address="203.0.113.9")
    from_elsewhere = token_request(issued.client_id, issued.client_secret, address="192.0.2.1")

    assert_throttled(from_there)
    assert from_elsewhere.status_code == 200


def test_successes_and_other_errors_are_not_counted(issued, tight_limits):
    for _ in range(6):
        assert token_request(issued.client_id, issued.client_secret).status_code == 200
    for _ in range(6):
        response = token_request(issued.client_id, issued.client_secret + "&scope=bogus")
        assert response.status_code == 400

    assert token_request(issued.client_id, issued.client_secret).status_code == 200
    assert not AuthFailure.objects.exists()


def test_the_window_slides(issued, tight_limits):
    for _ in range(3):
        token_request(issued.client_id, "wrong")
    assert_throttled(token_request(issued.client_id, issued.client_secret))

    # when the oldest failure leaves the one-minute window
    oldest = AuthFailure.objects.filter(scope="token-client").order_by("at", "pk").first()
    AuthFailure.objects.filter(pk=oldest.pk).update(at=oldest.at - timedelta(seconds=61))

    # then one more attempt is allowed (and, failing, locks the client again)
    assert token_request(issued.client_id, issued.client_secret).status_code == 200
    assert token_request(issued.client_id, "wrong").status_code == 401
    assert_throttled(token_request(issued.client_id, issued.client_secret))


def test_retry_after_is_when_the_oldest_counted_failure_leaves_the_window(issued, tight_limits):
    for _ in range(3):
        token_request(issued.client_id, "wrong")
    AuthFailure.objects.filter(scope="token-client").update(
        at=timezone.now() - timedelta(seconds=45)
    )

    wait = assert_throttled(token_request(issued.client_id, issued.client_secret))

    assert 10 <= wait <= 16


def test_forwarded_for_counts_only_behind_trusted_proxies(issued, tight_limits, settings):
    def from_behind_proxy(client_address: str):
        return token_request(
            f"guess-{client_address}",
            "x",
            address="10.0.0.1",
            **{"X-Forwarded-For": f"{client_address}, 10.0.0.9"},
        )

    settings.NUM_PROXIES = 1
    for _ in range(5):
        from_behind_proxy("198.51.100.1")
    assert_throttled(from_behind_proxy("198.51.100.1"))
    assert from_behind_proxy("198.51.100.2").status_code == 401

    settings.NUM_PROXIES = 0  # the header is not trusted: every request is the proxy's address
    AuthFailure.objects.all().delete()
    for n in range(5):
        from_behind_proxy(f"198.51.100.{n}")
    assert_throttled(from_behind_proxy("198.51.100.99"))


# Disabled clients --------------------------------------------------------------------------------


def test_a_disabled_client_gets_no_token(issued):
    api_client_disable(name=issued.name)

    response = token_request(issued.client_id, issued.client_secret)

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}
    api_client_enable(name=issued.name)
    assert token_request(issued.client_id, issued.client_secret).status_code == 200


# Revocation --------------------------------------------------------------------------------------


def rotate(issued):
    api_client_rotate_secret(name=issued.name)


def narrow_scopes(issued):
    api_client_update_scopes(name=issued.name, scopes=["category.read"])


def disable(issued):
    api_client_disable(name=issued.name)


def delete(issued):
    api_client_delete(name=issued.name)


def revoke(issued):
    api_client_revoke_tokens(name=issued.name)


@pytest.mark.parametrize("change", [rotate, narrow_scopes, disable, delete, revoke])
def test_a_change_that_takes_access_away_revokes_tokens_at_once(issued, change):
    caller = ApiCaller(token_for(issued), issued)
    assert caller.get("/v2/categories").status_code == 200

    change(issued)

    assert_error(caller.get("/v2/categories"), 401, 10001, "AuthenticationFailed")
    assert not AccessToken.objects.exists()


def test_a_rotated_secret_replaces_the_old_one(issued):
    new = api_client_rotate_secret(name=issued.name)

    assert new.client_id == issued.client_id
    assert new.client_secret != issued.client_secret
    assert token_request(issued.client_id, issued.client_secret).status_code == 401
    assert token_request(new.client_id, new.client_secret).status_code == 200


def test_new_scopes_apply_to_the_next_token(issued):
    api_client_update_scopes(name=issued.name, scopes=["product.write", "cluster.read"])

    token = token_for(issued)

    assert jwt_part(token, 1)["scope"] == "cluster.read product.read product.write"
    assert token_request(
        issued.client_id, issued.client_secret + "&scope=category.read"
    ).json() == {"error": "invalid_scope"}


def test_rotation_with_scopes_sets_both_in_one_go(issued):
    new = api_client_rotate_secret(name=issued.name, scopes=["product.read"])

    assert new.scopes == ["product.read"]
    assert (
        ClientScopes.objects.get(application__client_id=issued.client_id).scopes == "product.read"
    )


def test_deleting_a_client_with_tokens_removes_it_and_them(issued):
    token_for(issued)
    token_for(issued)

    assert api_client_delete(name=issued.name) == 2

    assert not Application.objects.exists()
    assert not AccessToken.objects.exists()
    assert not ClientScopes.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_token_request_during_a_rotation_waits_for_it_and_sees_the_new_secret():
    issued = api_client_create(name="racing", scopes=["product.read"])
    rotated = threading.Event()

    def rotate_then_hold_the_transaction():
        try:
            with transaction.atomic():
                api_client_rotate_secret(name="racing")  # tokens deleted, not yet committed
                rotated.set()
                time.sleep(0.5)
        finally:
            connection.close()

    thread = threading.Thread(target=rotate_then_hold_the_transaction)
    thread.start()
    assert rotated.wait(10)
    try:
        # The old secret was still the committed one when this request started.
        response = token_request(issued.client_id, issued.client_secret)
    finally:
        thread.join()

    assert response.status_code == 401
    assert not AccessToken.objects.exists()


# The services themselves -------------------------------------------------------------------------


def test_listing_shows_scopes_state_and_valid_tokens_but_no_secret(issued):
    token_for(issued)
    other = api_client_create(name="archive", scopes=["product.read"])
    api_client_disable(name=other.name)

    clients = api_client_list()

    assert [(c.name, c.scopes, c.enabled, c.active_tokens) for c in clients] == [
        ("archive", ["product.read"], False, 0),
        ("erp connector", ["category.write"], True, 1),
    ]
    assert api_client_info(name=issued.client_id) == clients[1]


@pytest.mark.parametrize(
    "call",
    [
        lambda: api_client_rotate_secret(name="nobody"),
        lambda: api_client_update_scopes(name="nobody", scopes=["product.read"]),
        lambda: api_client_disable(name="nobody"),
        lambda: api_client_delete(name="nobody"),
        lambda: api_client_revoke_tokens(name="nobody"),
        lambda: api_client_rename(name="nobody", new_name="somebody"),
    ],
)
def test_a_change_to_a_client_that_does_not_exist_is_refused(db, call):
    with pytest.raises(ApiClientNotFound, match="No API client named 'nobody'"):
        call()


def test_names_are_unique(issued):
    other = api_client_create(name="pim", scopes=["product.read"])

    with pytest.raises(ApiClientError, match="An API client named 'erp connector' already exists"):
        api_client_create(name="erp connector", scopes=["product.read"])
    with pytest.raises(ApiClientError, match="An API client named 'pim' already exists"):
        api_client_rename(name=issued.name, new_name=other.name)
    assert Application.objects.count() == 2


def test_unknown_scopes_are_refused_and_change_nothing(issued):
    with pytest.raises(ApiClientError, match=r"Unknown scopes: product\.delete"):
        api_client_update_scopes(name=issued.name, scopes=["product.delete"])

    assert ClientScopes.objects.get().scopes == "category.write"
