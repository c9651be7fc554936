"""OAuth2 client credentials and the scope matrix on every category endpoint."""

import hashlib
import time
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher
from django.utils import timezone
from jwcrypto import jwk, jwt
from oauth2_provider.models import get_access_token_model, get_application_model

from api.services import api_client_create
from api.tokens import signing_key
from catalogue.models import Category
from config import settings as project_settings
from tests.assertions import assert_error, category_snapshot
from tests.factories import (
    ALL_SCOPES,
    ApiCaller,
    jwt_part,
    make_category,
    request_token,
)

AccessToken = get_access_token_model()
Application = get_application_model()


# Token endpoint ------------------------------------------------------------------------------


@pytest.fixture
def issued(db):
    return api_client_create(name="erp connector", scopes=["category.write", "product.read"])


@pytest.mark.parametrize("path", ["/oauth2/token/", "/oauth2/token"])
@pytest.mark.parametrize("basic", [False, True], ids=["body-credentials", "http-basic"])
def test_token_endpoint_issues_a_signed_jwt(issued, path, basic):
    # given
    before = int(time.time())

    # when
    response = request_token(issued.client_id, issued.client_secret, basic=basic, path=path)

    # then
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 1800
    # Omitted scope = every scope the client may have, write implying read.
    assert body["scope"] == "category.read category.write product.read"
    assert response["Cache-Control"] == "no-store"

    header, claims = jwt_part(body["access_token"], 0), jwt_part(body["access_token"], 1)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert set(claims) == {"iss", "sub", "scope", "iat", "exp", "jti"}
    assert claims["iss"] == "catalogue"
    assert claims["sub"] == issued.client_id
    assert claims["scope"] == "category.read category.write product.read"
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] - claims["iat"] == 1800
    assert len(claims["jti"]) >= 16


def test_each_token_has_its_own_jti(issued):
    first = request_token(issued.client_id, issued.client_secret).json()["access_token"]
    second = request_token(issued.client_id, issued.client_secret).json()["access_token"]

    assert first != second
    assert jwt_part(first, 1)["jti"] != jwt_part(second, 1)["jti"]


@pytest.mark.parametrize(
    ("requested", "granted"),
    [
        ("category.write", "category.write"),
        ("category.read", "category.read"),  # implied by category.write
        ("category.read product.read", "category.read product.read"),
    ],
)
def test_token_endpoint_grants_a_requested_subset(issued, requested, granted):
    response = request_token(issued.client_id, issued.client_secret, scope=requested)

    assert response.status_code == 200
    assert response.json()["scope"] == granted
    assert jwt_part(response.json()["access_token"], 1)["scope"] == granted
    assert AccessToken.objects.get().scope == granted


@pytest.mark.parametrize("requested", ["product.write", "cluster.read", "category.read bogus"])
def test_token_endpoint_refuses_a_scope_the_client_may_not_have(issued, requested):
    response = request_token(issued.client_id, issued.client_secret, scope=requested)

    # RFC 6749 error body, not the API's error envelope.
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_scope"}
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize("basic", [False, True], ids=["body-credentials", "http-basic"])
def test_token_endpoint_refuses_a_wrong_secret(issued, basic):
    response = request_token(issued.client_id, "not-the-secret", basic=basic)

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}
    assert not AccessToken.objects.exists()


def test_token_endpoint_refuses_missing_credentials(db, client):
    response = client.post(
        "/oauth2/token/",
        data="grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


def test_token_endpoint_refuses_an_unknown_client(db):
    response = request_token("no-such-client", "secret")

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


def test_token_endpoint_refuses_another_grant_type(issued, client):
    response = client.post(
        "/oauth2/token/",
        data=f"grant_type=authorization_code&client_id={issued.client_id}"
        f"&client_secret={issued.client_secret}&code=x",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400
    assert response.json() == {"error": "unauthorized_client"}
    assert not AccessToken.objects.exists()


def test_access_tokens_are_stored_only_as_checksums(issued):
    token = request_token(issued.client_id, issued.client_secret).json()["access_token"]

    stored = AccessToken.objects.get()
    assert stored.token == ""
    assert stored.token_checksum == hashlib.sha256(token.encode()).hexdigest()
    assert stored.application.client_id == issued.client_id
    assert timezone.now() + timedelta(seconds=1790) < stored.expires
    assert stored.expires <= timezone.now() + timedelta(seconds=1800)
    # Nothing in the row is the usable token.
    row = AccessToken.objects.filter(pk=stored.pk).values().get()
    assert token not in {str(value) for value in row.values()}


def test_client_secrets_are_stored_hashed(settings, db):
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS  # the production list

    issued = api_client_create(name="hashed", scopes=["category.read"])

    stored = Application.objects.get(client_id=issued.client_id).client_secret
    assert stored != issued.client_secret
    assert issued.client_secret not in stored
    assert identify_hasher(stored).algorithm == "hmac_sha256"
    assert check_password(issued.client_secret, stored)
    assert request_token(issued.client_id, issued.client_secret).status_code == 200


# Scope matrix --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    body: object = None
    writes: bool = False
    success: int = 200

    def call(self, caller: ApiCaller, target: Category, **kwargs):
        path = self.path.format(id=target.pk)
        if self.body is None:
            return caller.request(self.method, path, **kwargs)
        return caller.request(self.method, path, self.body, **kwargs)


ENDPOINTS = [
    Endpoint("list", "GET", "/v2/categories"),
    Endpoint("search", "POST", "/v2/categories/search", body={"filters": {}}),
    Endpoint("tree", "GET", "/v2/categories/tree"),
    Endpoint("retrieve", "GET", "/v2/categories/id/{id}"),
    Endpoint("children", "GET", "/v2/categories/id/{id}/children"),
    Endpoint(
        "create",
        "POST",
        "/v2/categories",
        body={"names": [{"language": "EN", "value": "Saws"}]},
        writes=True,
        success=201,
    ),
    Endpoint("patch", "PATCH", "/v2/categories/id/{id}", body={"hidden": "Y"}, writes=True),
    Endpoint("delete", "DELETE", "/v2/categories/id/{id}", writes=True),
    Endpoint("translation-delete", "DELETE", "/v2/categories/id/{id}/translation/DE", writes=True),
]
READ_ENDPOINTS = [endpoint for endpoint in ENDPOINTS if not endpoint.writes]
WRITE_ENDPOINTS = [endpoint for endpoint in ENDPOINTS if endpoint.writes]


def endpoint_id(endpoint: Endpoint) -> str:
    return endpoint.name


@pytest.fixture
def target(db) -> Category:
    """An empty leaf with a German name, so every endpoint (delete included) can succeed."""
    root = make_category("Tools")
    return make_category("Drills", names={"DE": "Bohrer"}, parent=root, sources=[("erp", "C-1")])


def signed_token(key: jwk.JWK, **claims) -> str:
    now = int(time.time())
    all_claims = {
        "iss": "catalogue",
        "sub": "someone",
        "scope": " ".join(ALL_SCOPES),
        "iat": now,
        "exp": now + 600,
        "jti": "0" * 32,
        **claims,
    }
    token = jwt.JWT(header={"alg": "HS256", "typ": "JWT"}, claims=all_claims)
    token.make_signed_token(key)
    return token.serialize()


def store_token(caller: ApiCaller, raw: str) -> None:
    """Put a hand-made token on record, so only its signature or claims can be wrong."""
    AccessToken.objects.create(
        application=Application.objects.get(client_id=caller.issued.client_id),
        token="",
        token_checksum=hashlib.sha256(raw.encode()).hexdigest(),
        expires=timezone.now() + timedelta(minutes=10),
        scope=" ".join(ALL_SCOPES),
    )


def no_header(caller):
    return None


def not_bearer(caller):
    return f"Token {caller.token}"


def bearer_without_token(caller):
    return "Bearer "


def basic_credentials(caller):
    return "Basic dXNlcjpwYXNz"


def garbage_token(caller):
    return "Bearer not.a.jwt"


def expired_on_record(caller):
    AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    return f"Bearer {caller.token}"


def expired_claims(caller):
    # Past the signature check's clock-skew leeway (60 s), though still on record.
    raw = signed_token(signing_key(), sub=caller.issued.client_id, exp=int(time.time()) - 120)
    store_token(caller, raw)
    return f"Bearer {raw}"


def revoked(caller):
    AccessToken.objects.get().revoke()
    return f"Bearer {caller.token}"


def never_stored(caller):
    return f"Bearer {signed_token(signing_key(), sub=caller.issued.client_id)}"


def signed_with_another_key(caller):
    raw = signed_token(jwk.JWK.generate(kty="oct", size=256), sub=caller.issued.client_id)
    store_token(caller, raw)
    return f"Bearer {raw}"


def from_another_issuer(caller):
    raw = signed_token(signing_key(), sub=caller.issued.client_id, iss="elsewhere")
    store_token(caller, raw)
    return f"Bearer {raw}"


BAD_CREDENTIALS = [
    no_header,
    not_bearer,
    bearer_without_token,
    basic_credentials,
    garbage_token,
    expired_on_record,
    expired_claims,
    revoked,
    never_stored,
    signed_with_another_key,
    from_another_issuer,
]


@pytest.mark.parametrize("credentials", BAD_CREDENTIALS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_id)
def test_bad_credentials_are_401(endpoint, credentials, target, api_client_factory):
    # given
    caller = api_client_factory(["category.write"])
    authorization = credentials(caller)
    before = category_snapshot()

    # when
    if authorization is None:
        response = endpoint.call(ApiCaller(), target)
    else:
        response = endpoint.call(caller, target, auth=authorization)

    # then
    assert_error(response, 401, 10001, "AuthenticationFailed", None)
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert category_snapshot() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_id)
def test_another_entity_scope_is_403(endpoint, target, api_client_factory):
    caller = api_client_factory(["product.write", "cluster.write", "clusterconfig.write"])
    before = category_snapshot()

    response = endpoint.call(caller, target)

    needed = "category.write" if endpoint.writes else "category.read"
    assert_error(
        response, 403, 10003, "InsufficientScope", [f"This operation needs the scope {needed}"]
    )
    assert category_snapshot() == before


@pytest.mark.parametrize("endpoint", WRITE_ENDPOINTS, ids=endpoint_id)
def test_read_scope_cannot_write(endpoint, target, api_client_factory):
    caller = api_client_factory(["category.read"])
    before = category_snapshot()

    response = endpoint.call(caller, target)

    assert_error(
        response, 403, 10003, "InsufficientScope", ["This operation needs the scope category.write"]
    )
    assert category_snapshot() == before


@pytest.mark.parametrize("endpoint", READ_ENDPOINTS, ids=endpoint_id)
def test_read_scope_reads_and_searches(endpoint, target, api_client_factory):
    caller = api_client_factory(["category.read"])

    response = endpoint.call(caller, target)

    assert response.status_code == endpoint.success
    assert "data" in response.json()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_id)
def test_write_scope_implies_read(endpoint, target, api_client_factory):
    caller = api_client_factory(["category.write"])

    response = endpoint.call(caller, target)

    assert response.status_code == endpoint.success
    assert "data" in response.json()


def test_a_token_narrowed_to_read_cannot_write(target, issued):
    # The client may write, but this token was asked for category.read only.
    token = request_token(issued.client_id, issued.client_secret, scope="category.read")
    caller = ApiCaller(token.json()["access_token"], issued)
    before = category_snapshot()

    assert caller.get(f"/v2/categories/id/{target.pk}").status_code == 200
    response = caller.patch(f"/v2/categories/id/{target.pk}", {"hidden": "Y"})

    assert_error(
        response, 403, 10003, "InsufficientScope", ["This operation needs the scope category.write"]
    )
    assert category_snapshot() == before
