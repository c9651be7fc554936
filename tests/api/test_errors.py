"""Transport rules and the error envelope."""

import re
from types import SimpleNamespace

import pytest

from catalogue.models import Category
from tests.assertions import assert_error, category_snapshot
from tests.factories import ApiCaller, make_category, request_token


@pytest.fixture
def category(db) -> Category:
    return make_category("Drills", names={"DE": "Bohrer"}, sources=[("erp", "C-1")])


# Unknown paths and methods ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v2/",
        "/v2/nothing-here",
        "/v2/categories/id/1/unknown",
        "/v2/categories/id/1/children/extra",
        "/v2/products-and-more/id/1",
    ],
)
@pytest.mark.parametrize("authenticated", [True, False], ids=["with-token", "without-token"])
def test_unknown_path_is_404(api, anonymous, path, authenticated):
    caller = api if authenticated else anonymous

    response = caller.get(path)

    assert_error(response, 404, 10008, "NotFound", [f"No endpoint at {path}"])


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "PATCH"])
def test_unknown_path_is_404_for_every_method(api, method):
    response = api.request(method, "/v2/nothing-here", {})

    assert_error(response, 404, 10008, "NotFound", ["No endpoint at /v2/nothing-here"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v2/categories"),
        ("PUT", "/v2/categories/id/{id}"),
        ("PUT", "/v2/categories/id/{id}/translation/DE"),
        ("PATCH", "/v2/categories"),
        ("DELETE", "/v2/categories"),
        ("GET", "/v2/categories/search"),
        ("POST", "/v2/categories/tree"),
        ("POST", "/v2/categories/id/{id}"),
        ("POST", "/v2/categories/id/{id}/children"),
        ("GET", "/v2/categories/id/{id}/translation/DE"),
    ],
)
def test_unsupported_method_is_405(api, category, method, path):
    before = category_snapshot()

    response = api.request(method, path.format(id=category.pk), {"hidden": "Y"})

    assert_error(response, 405, 10004, "MethodNotAllowed", [f'Method "{method}" not allowed.'])
    assert category_snapshot() == before


# Bodies ----------------------------------------------------------------------------------------


WRITE_CALLS = [
    ("POST", "/v2/categories"),
    ("PATCH", "/v2/categories/id/{id}"),
    ("POST", "/v2/categories/search"),
]


@pytest.mark.parametrize(("method", "path"), WRITE_CALLS)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_body_of_another_media_type_is_415(api, category, method, path, content_type):
    before = category_snapshot()

    response = api.request(
        method, path.format(id=category.pk), '{"hidden": "Y"}', content_type=content_type
    )

    assert_error(
        response,
        415,
        10010,
        "UnsupportedMediaType",
        [f'Unsupported media type "{content_type}" in request.'],
    )
    assert category_snapshot() == before


def test_json_with_a_charset_parameter_is_accepted(api):
    response = api.post(
        "/v2/categories",
        {"names": [{"language": "EN", "value": "Saws"}]},
        content_type="application/json; charset=utf-8",
    )

    assert response.status_code == 201


@pytest.mark.parametrize(("method", "path"), WRITE_CALLS)
@pytest.mark.parametrize("body", ['{"names": [', "{'single': 'quotes'}", "nul", "{} trailing"])
def test_malformed_json_is_400(api, category, method, path, body):
    before = category_snapshot()

    response = api.request(method, path.format(id=category.pk), body)

    error = assert_error(response, 400, 10005, "InvalidJSONPayload", None)
    assert len(error["messages"]) == 1
    assert error["messages"][0].startswith("Request body is not valid JSON: ")
    assert category_snapshot() == before


@pytest.mark.parametrize(("method", "path"), WRITE_CALLS)
def test_empty_body_is_400(api, category, method, path):
    before = category_snapshot()

    response = api.request(method, path.format(id=category.pk), b"")

    assert_error(
        response, 400, 10005, "InvalidJSONPayload", ["Request body is not valid JSON: empty body"]
    )
    assert category_snapshot() == before


@pytest.mark.parametrize(("method", "path"), WRITE_CALLS)
@pytest.mark.parametrize("body", ["[]", '[{"hidden": "Y"}]', '"text"', "42", "null", "true"])
def test_body_that_is_not_an_object_is_400(api, category, method, path, body):
    before = category_snapshot()

    response = api.request(method, path.format(id=category.pk), body)

    assert_error(response, 400, 10005, "InvalidJSONPayload", ["Request body must be a JSON object"])
    assert category_snapshot() == before


@pytest.mark.parametrize(("method", "path"), WRITE_CALLS)
def test_body_over_the_size_limit_is_413(api, category, settings, method, path):
    settings.MAX_REQUEST_BYTES = 200
    body = '{"names": [{"language": "EN", "value": "' + "x" * 300 + '"}]}'
    before = category_snapshot()

    response = api.request(method, path.format(id=category.pk), body)

    assert_error(
        response,
        413,
        10011,
        "PayloadTooLarge",
        [f"Request body of {len(body)} bytes exceeds 200 bytes"],
    )
    assert category_snapshot() == before


def test_body_at_the_size_limit_is_accepted(api, settings):
    body = '{"names": [{"language": "EN", "value": "Saws"}]}'
    settings.MAX_REQUEST_BYTES = len(body)

    response = api.post("/v2/categories", body)

    assert response.status_code == 201


# Unexpected failures ---------------------------------------------------------------------------


def test_unexpected_exception_is_500_without_details(api, category, monkeypatch):
    def broken(category_ids):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr("api.resources.categories.ancestor_ids", broken)

    response = api.get(f"/v2/categories/id/{category.pk}")

    assert_error(response, 500, 10014, "InternalError", ["Internal server error"])
    text = response.content.decode()
    for leak in ("hunter2", "RuntimeError", "Traceback", "ancestor_ids", ".py"):
        assert leak not in text
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_unexpected_exception_in_a_write_is_500_and_changes_nothing(api, category, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("catalogue.services.sql.replace_sources", broken)
    before = category_snapshot()

    response = api.patch(f"/v2/categories/id/{category.pk}", {"hidden": "Y", "sources": []})

    assert_error(response, 500, 10014, "InternalError", ["Internal server error"])
    assert category_snapshot() == before


# Request ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/v2/categories", "/v2/nothing-here", "/v2/categories/id/abc", "/health/live"]
)
def test_request_id_is_echoed(api, path):
    response = api.get(path, headers={"X-Request-ID": "erp-sync.42:7"})

    assert response["X-Request-ID"] == "erp-sync.42:7"


@pytest.mark.parametrize(
    "path", ["/v2/categories", "/v2/nothing-here", "/v2/categories/id/abc", "/health/live"]
)
def test_request_id_is_generated_when_absent(api, path):
    first = api.get(path)
    second = api.get(path)

    assert re.fullmatch(r"[0-9a-f]{32}", first["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_request_id_on_errors_before_the_view(anonymous, api, settings):
    settings.MAX_REQUEST_BYTES = 10
    unauthenticated = anonymous.get("/v2/categories", headers={"X-Request-ID": "a1"})
    too_large = api.post("/v2/categories", {"x": "y" * 20}, headers={"X-Request-ID": "a2"})

    assert unauthenticated.status_code == 401
    assert unauthenticated["X-Request-ID"] == "a1"
    assert too_large.status_code == 413
    assert too_large["X-Request-ID"] == "a2"


def test_request_id_on_the_token_endpoint(api):
    response = request_token(api.issued.client_id, api.issued.client_secret)

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.parametrize("unsafe", ["has space", "x" * 129, "new\tline", "<script>"])
def test_unsafe_request_id_is_replaced(api, unsafe):
    response = api.get("/v2/categories", headers={"X-Request-ID": unsafe})

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


# Trailing slashes ------------------------------------------------------------------------------


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "slash"])
@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/v2/categories", None, 200),
        ("POST", "/v2/categories", {"names": [{"language": "EN", "value": "Saws"}]}, 201),
        ("POST", "/v2/categories/search", {}, 200),
        ("GET", "/v2/categories/tree", None, 200),
        ("GET", "/v2/categories/id/{id}", None, 200),
        ("GET", "/v2/categories/sourceId/C-1?source=erp", None, 200),
        ("PATCH", "/v2/categories/id/{id}", {"priority": 3}, 200),
        ("GET", "/v2/categories/id/{id}/children", None, 200),
        ("DELETE", "/v2/categories/id/{id}/translation/DE", None, 200),
        ("DELETE", "/v2/categories/id/{id}", None, 200),
    ],
)
def test_trailing_slash_is_optional(api, category, slash, method, path, body, status):
    path = path.format(id=category.pk)
    route, _, query = path.partition("?")
    url = route + slash + (f"?{query}" if query else "")

    response = api.request(method, url, body) if body is not None else api.request(method, url)

    assert response.status_code == status
    assert "data" in response.json()


# Rate limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/v2/categories", None, 200),
        ("GET", "/v2/categories/id/{id}", None, 200),
        ("POST", "/v2/categories/search", {}, 200),
        ("PATCH", "/v2/categories/id/{id}", {"priority": 1}, 200),
        ("GET", "/v2/categories/id/999999", None, 404),
    ],
)
def test_rate_limit_headers_on_responses(api, category, method, path, body, status):
    path = path.format(id=category.pk)

    first = api.request(method, path, body) if body is not None else api.request(method, path)
    second = api.request(method, path, body) if body is not None else api.request(method, path)

    assert first.status_code == status
    assert first["X-RateLimit-Limit"] == "6000"
    assert first["X-RateLimit-Remaining"] == "5999"
    assert second["X-RateLimit-Remaining"] == "5998"


@pytest.fixture
def frozen_clock(monkeypatch):
    """Half a minute into a rate-limit window, so a test never straddles two windows."""
    now = 1_800_000_030.0  # 1_800_000_000 is a whole number of minutes
    monkeypatch.setattr("api.throttling.time", SimpleNamespace(time=lambda: now))
    return now


def test_throttled_client_gets_429_with_retry_after(
    api, api_client_factory, category, settings, frozen_clock
):
    settings.THROTTLE_RATE = "2/min"

    first = api.get("/v2/categories")
    second = api.get(f"/v2/categories/id/{category.pk}")
    third = api.patch(f"/v2/categories/id/{category.pk}", {"hidden": "Y"})

    assert (first.status_code, second.status_code) == (200, 200)
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("2", "1")
    assert (second["X-RateLimit-Limit"], second["X-RateLimit-Remaining"]) == ("2", "0")
    error = assert_error(third, 429, 10009, "Throttled")
    assert len(error["messages"]) == 1
    assert third["Retry-After"] == "30"  # seconds left in the window
    assert (third["X-RateLimit-Limit"], third["X-RateLimit-Remaining"]) == ("2", "0")
    # The throttled write was not applied.
    category.refresh_from_db()
    assert category.hidden is False
    # Limits are per client.
    other = api_client_factory(["category.read"])
    assert other.get("/v2/categories").status_code == 200


def test_throttle_counts_every_token_of_one_client(api, settings, frozen_clock):
    settings.THROTTLE_RATE = "1/min"
    issued = api.issued
    second_token = request_token(issued.client_id, issued.client_secret).json()["access_token"]

    assert api.get("/v2/categories").status_code == 200
    response = ApiCaller(second_token, issued).get("/v2/categories")

    assert_error(response, 429, 10009, "Throttled")


def test_rate_limit_window_resets(api, settings, monkeypatch):
    settings.THROTTLE_RATE = "1/min"
    clock = {"now": 1_800_000_059.5}
    monkeypatch.setattr("api.throttling.time", SimpleNamespace(time=lambda: clock["now"]))

    assert api.get("/v2/categories").status_code == 200
    refused = api.get("/v2/categories")
    clock["now"] += 1  # the next window
    allowed = api.get("/v2/categories")

    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"
    assert allowed.status_code == 200
    assert allowed["X-RateLimit-Remaining"] == "0"
