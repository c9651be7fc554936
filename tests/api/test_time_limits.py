"""Server-side time limits per request class, and database failures answered as 503."""

import socket
import time

import psycopg
import pytest
from django.db import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)

from api.exceptions import _database_failure
from api.middleware import request_class
from api.views.base import RecordViewSet
from catalogue.models import Category
from tests.api.test_bulk_products import ls
from tests.assertions import assert_error
from tests.factories import make_category

UNAVAILABLE = "database unavailable"
TOO_LONG = (
    "The request took too long and was stopped by the server's time limit; "
    "narrow it (fewer filter values, a smaller page) or try again later"
)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/v2/products", "read"),
        ("GET", "/v2/products/id/1", "read"),
        ("HEAD", "/v2/categories/tree", "read"),
        ("POST", "/v2/products/search", "read"),
        ("POST", "/v2/categories/search/", "read"),
        ("GET", "/v2/products/export", "export"),
        ("GET", "/v2/categories/export/", "export"),
        ("POST", "/v2/products/bulk/sourceId", "bulk"),
        ("POST", "/v2/products/bulk/sku/delete", "bulk"),
        ("POST", "/v2/clusters/id/1/products/bulk", "bulk"),
        ("POST", "/v2/products", "write"),
        ("PATCH", "/v2/products/id/1", "write"),
        ("DELETE", "/v2/categories/id/1", "write"),
        ("POST", "/v2/categories/id/1/add-products-clusters", "write"),
        ("POST", "/oauth2/token/", "other"),
        ("GET", "/admin/", "other"),
        ("GET", "/health/ready", "other"),
    ],
)
def test_each_request_has_a_class(method, path, expected):
    assert request_class(method, path) == expected


def statement_timeouts_seen(call) -> set[str]:
    """Run call() and return the statement_timeout in force at each of its queries."""
    seen: set[str] = set()

    def spy(execute, sql, params, many, context):
        raw = context["connection"].connection
        seen.add(raw.execute("SHOW statement_timeout").fetchone()[0])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        call()
    return seen


@pytest.fixture
def limits(settings):
    settings.STATEMENT_TIMEOUTS = {
        "read": 11,
        "write": 31,
        "bulk": 61,
        "export": 1801,
        "other": 301,
    }


def test_a_read_runs_under_the_read_limit(api, limits):
    make_category("Saws")

    seen = statement_timeouts_seen(lambda: api.get("/v2/categories"))

    assert seen == {"11s"}


def test_a_search_runs_under_the_read_limit(api, limits):
    seen = statement_timeouts_seen(lambda: api.post("/v2/products/search", {"filters": {}}))

    assert seen == {"11s"}


def test_a_write_runs_under_the_write_limit(api, limits):
    seen = statement_timeouts_seen(lambda: api.post("/v2/categories", {"names": ls(EN="Saws")}))

    assert seen == {"31s"}


def test_a_bulk_runs_under_the_bulk_limit(api, limits):
    body = {"products": [{"source": "erp", "sourceId": "P-1", "names": ls(EN="Valve")}]}

    seen = statement_timeouts_seen(lambda: api.post("/v2/products/bulk/sourceId", body))

    assert seen == {"61s"}


@pytest.mark.parametrize("resource", ["products", "categories"])
def test_an_export_streams_under_the_export_limit(api, limits, resource):
    make_category("Saws")

    def export():
        response = api.get(f"/v2/{resource}/export")
        b"".join(response.streaming_content)  # the queries run while the body streams

    assert statement_timeouts_seen(export) == {"1801s"}


def test_the_token_endpoint_runs_under_the_other_limit(api, limits):
    from tests.factories import request_token

    seen = statement_timeouts_seen(
        lambda: request_token(api.issued.client_id, api.issued.client_secret)
    )

    assert seen == {"301s"}


# Over the limit ------------------------------------------------------------------------------


@pytest.fixture
def slow_list(monkeypatch):
    """Every list spends a second in PostgreSQL before it counts."""
    original = RecordViewSet.page_ids

    def page_ids(self, params):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(1)")
        return original(self, params)

    monkeypatch.setattr(RecordViewSet, "page_ids", page_ids)


@pytest.mark.django_db(transaction=True)
def test_a_query_over_the_limit_is_cancelled_and_answers_503(
    api_client_factory, settings, slow_list
):
    api = api_client_factory(["category.read"])
    settings.STATEMENT_TIMEOUTS = {**settings.STATEMENT_TIMEOUTS, "read": 0.2}
    try:
        started = time.monotonic()
        response = api.get("/v2/categories")
        elapsed = time.monotonic() - started

        assert_error(response, 503, 10014, "InternalError", [TOO_LONG])
        assert elapsed < 0.9  # stopped, not finished
        assert b"Traceback" not in response.content
        # The connection is fine afterwards, and other classes keep their own limit.
        settings.STATEMENT_TIMEOUTS = {**settings.STATEMENT_TIMEOUTS, "read": 5}
        assert api.get("/v2/categories").status_code == 200
    finally:
        connection.close()  # nothing of the short limit may outlive the test


@pytest.mark.django_db(transaction=True)
def test_a_write_over_the_limit_changes_nothing(api_client_factory, settings, monkeypatch):
    from api.resources.categories import CATEGORIES_RESOURCE

    api = api_client_factory(["category.write"])
    original = CATEGORIES_RESOURCE.writes

    class SlowWrites:
        def __getattr__(self, name):
            return getattr(original, name)

        def create(self, **kwargs):
            # A statement of the create's own transaction runs too long.
            with transaction.atomic():
                created = original.create(**kwargs)
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_sleep(1)")
            return created

    monkeypatch.setattr(CATEGORIES_RESOURCE, "writes", SlowWrites())
    settings.STATEMENT_TIMEOUTS = {**settings.STATEMENT_TIMEOUTS, "write": 0.2}
    try:
        response = api.post("/v2/categories", {"names": ls(EN="Saws")})
    finally:
        connection.close()

    assert_error(response, 503, 10014, "InternalError", [TOO_LONG])
    assert not Category.objects.exists()


# Database down -------------------------------------------------------------------------------


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_a_database_that_cannot_be_reached_answers_503(api_client_factory, monkeypatch):
    api = api_client_factory(["category.read"])
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
    monkeypatch.setitem(connection.settings_dict, "PORT", str(unused_port()))
    try:
        response = api.get("/v2/categories")
    finally:
        connection.close()

    assert_error(response, 503, 10014, "InternalError", [UNAVAILABLE])
    assert response["Retry-After"] == "1"
    assert b"Traceback" not in response.content


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_terminated_answers_503(api_client_factory):
    api = api_client_factory(["category.read"])
    api.get("/v2/categories")  # the connection is open
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with psycopg.connect(**_connect_kwargs(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    try:
        response = api.get("/v2/categories")
    finally:
        connection.close()

    assert_error(response, 503, 10014, "InternalError", [UNAVAILABLE])


def _connect_kwargs() -> dict:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    params.pop("server_side_binding", None)
    return params


@pytest.mark.parametrize(
    ("error", "cause", "expected"),
    [
        (OperationalError, psycopg.errors.QueryCanceled("canceling statement"), TOO_LONG),
        (OperationalError, psycopg.OperationalError("connection failed: Connection refused"), UNAVAILABLE),
        (OperationalError, psycopg.errors.AdminShutdown("terminating connection"), UNAVAILABLE),
        (OperationalError, psycopg.errors.ConnectionFailure("connection failure"), UNAVAILABLE),
        (InterfaceError, psycopg.InterfaceError("the connection is closed"), UNAVAILABLE),
        (OperationalError, psycopg.errors.LockNotAvailable("could not obtain lock"), None),
        (OperationalError, psycopg.errors.DiskFull("no space"), None),
        (IntegrityError, psycopg.errors.UniqueViolation("duplicate"), None),
        (DataError, psycopg.errors.NumericValueOutOfRange("out of range"), None),
    ],
)  # fmt: skip
def test_only_cancelled_statements_and_lost_connections_are_503(error, cause, expected):
    exc = error(str(cause))
    exc.__cause__ = cause

    failure = _database_failure(exc)

    assert (failure[0] if failure else None) == expected
