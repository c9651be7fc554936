import pytest
from django.core.cache import cache
from django.db import transaction

from tests.factories import ALL_WRITE_SCOPES, ApiCaller, make_api_caller


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Nothing one test cached may be seen by another."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """People's passwords (admin users) get a cheap hasher so tests stay fast; client secrets
    keep the project's own, which is fast already (tests/api/test_credentials.py checks the
    production list)."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "api.hashers.ClientSecretHasher",
    ]


@pytest.fixture
def api_client_factory(db):
    """Return a function scopes -> ApiCaller holding a real token with those scopes."""
    created = 0

    def factory(scopes: list[str]) -> ApiCaller:
        nonlocal created
        created += 1
        return make_api_caller(scopes, name=f"test client {created}")

    return factory


@pytest.fixture
def api(api_client_factory) -> ApiCaller:
    """A caller allowed every write scope (and so every read scope)."""
    return api_client_factory(ALL_WRITE_SCOPES)


@pytest.fixture
def anonymous(db) -> ApiCaller:
    """A caller without any Authorization header."""
    return ApiCaller()


@pytest.fixture(scope="module")
def module_db(django_db_setup, django_db_blocker):
    """A transaction around a whole module, rolled back at its end: data built once in a
    module-scoped fixture on top of it is seen by every test, and each test's own writes are
    undone after it (its transaction is then a savepoint). Not for modules with
    transactional tests."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def module_api(module_db) -> ApiCaller:
    """One caller allowed every write scope for a whole module (see module_db)."""
    return make_api_caller(ALL_WRITE_SCOPES, name="module client")


@pytest.fixture
def world(db, built):
    """For one test, the data its module built once (a module-scoped `built` on module_db)."""
    return built


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`--dist loadgroup`) the tests that start real servers share one
    worker: they use the embedded PostgreSQL under .data/ and must not run side by side."""
    for item in items:
        if item.get_closest_marker("smoke"):
            item.add_marker(pytest.mark.xdist_group("servers"))
