"""Idempotency-Key on POST: replay, conflicts, per-client keys, concurrency."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone

from api import idempotency
from api.idempotency import LEASE_SECONDS, Claim, LeaseKeeper, finish
from api.models import IdempotencyRecord
from api.resources.products import PRODUCTS_RESOURCE
from catalogue.models import Category, Product, ProductSource
from tests.api.test_bulk_products import ls, results, run_together
from tests.assertions import assert_error, table_counts
from tests.factories import ApiCaller

REPLAYED = "Idempotent-Replayed"

# (path, body, status of the first response, model it creates)
WRITES = {
    "product-create": ("/v2/products", {"names": ls(EN="Valve"), "sku": "V-1"}, 201, Product),
    "category-create": ("/v2/categories", {"names": ls(EN="Valves")}, 201, Category),
    "product-bulk": (
        "/v2/products/bulk/sourceId",
        {
            "products": [
                {"source": "erp", "sourceId": f"P-{n}", "names": ls(EN=f"Valve {n}")}
                for n in range(3)
            ]
        },
        200,
        Product,
    ),
    "category-bulk": (
        "/v2/categories/bulk/sourceId",
        {
            "categories": [
                {"source": "erp", "sourceId": "ROOT", "names": ls(EN="Root")},
                {
                    "source": "erp",
                    "sourceId": "KID",
                    "names": ls(EN="Kid"),
                    "parent": {"sourceId": "ROOT"},
                },
            ]
        },
        200,
        Category,
    ),
}
EVERY_WRITE = pytest.mark.parametrize("write", list(WRITES))


def keyed(key: str) -> dict:
    return {"Idempotency-Key": key}


@EVERY_WRITE
def test_a_repeat_with_the_same_key_and_body_is_replayed_without_running(api, write):
    path, body, status, model = WRITES[write]
    first = api.post(path, body, headers=keyed("key-1"))
    assert first.status_code == status, first.content
    assert not first.has_header(REPLAYED)
    after_first = table_counts()
    created = model.objects.count()

    again = api.post(path, body, headers=keyed("key-1"))

    assert again.status_code == status
    assert again.content == first.content
    assert again[REPLAYED] == "true"
    assert again["Content-Type"] == "application/json"
    assert table_counts() == after_first
    assert model.objects.count() == created > 0


def test_a_replayed_create_keeps_its_etag(api):
    path, body, _, _ = WRITES["product-create"]
    first = api.post(path, body, headers=keyed("etag"))

    again = api.post(path, body, headers=keyed("etag"))

    assert again["ETag"] == first["ETag"]
    assert again.json()["data"]["id"] == first.json()["data"]["id"]


def test_a_replayed_bulk_reports_the_first_outcome_while_a_plain_repeat_updates(api):
    path, body, _, _ = WRITES["product-bulk"]
    first = results(api.post(path, body, headers=keyed("bulk-1")))
    assert {result["action"] for result in first} == {"create"}

    replayed = results(api.post(path, body, headers=keyed("bulk-1")))
    plain = results(api.post(path, body))

    assert replayed == first
    assert {result["action"] for result in plain} == {"update"}
    assert Product.objects.count() == ProductSource.objects.count() == 3


@pytest.mark.parametrize(
    "change",
    [
        {"body": {"names": ls(EN="Other valve")}},
        {"path": "/v2/products/bulk/sku", "body": {"products": []}},
        {"params": {"dryRun": "true"}, "path": "/v2/products/bulk/sourceId"},
    ],
    ids=["other-body", "other-path", "other-query"],
)
def test_the_same_key_with_a_different_request_is_422(api, change):
    path, body, _, _ = WRITES["product-create"]
    bulk_path, bulk_body, _, _ = WRITES["product-bulk"]
    if "params" in change:
        path, body = bulk_path, bulk_body
    first = api.post(path, body, headers=keyed("key-1"))
    assert first.status_code in (200, 201), first.content
    before = table_counts()

    response = api.post(
        change.get("path", path),
        change.get("body", body),
        params=change.get("params"),
        headers=keyed("key-1"),
    )

    assert_error(
        response,
        422,
        10017,
        "PayloadValidationError",
        ["Idempotency-Key [key-1] was already used for a different request"],
    )
    assert not response.has_header(REPLAYED)
    assert table_counts() == before


def test_keys_belong_to_one_client(api, api_client_factory):
    other = api_client_factory(["product.write"])
    path, body, _, _ = WRITES["product-create"]
    first = api.post(path, body, headers=keyed("shared"))

    response = other.post(path, body, headers=keyed("shared"))

    assert response.status_code == 201, response.content
    assert not response.has_header(REPLAYED)
    assert response.json()["data"]["id"] != first.json()["data"]["id"]
    assert Product.objects.count() == 2
    # Each client replays its own first response.
    assert api.post(path, body, headers=keyed("shared")).content == first.content
    assert other.post(path, body, headers=keyed("shared")).content == response.content


def test_different_keys_run_separately(api):
    path, body, _, _ = WRITES["product-create"]

    first = api.post(path, body, headers=keyed("one"))
    second = api.post(path, body, headers=keyed("two"))

    assert (first.status_code, second.status_code) == (201, 201)
    assert Product.objects.count() == 2


def test_without_a_key_every_request_runs(api):
    path, body, _, _ = WRITES["product-create"]

    api.post(path, body)
    api.post(path, body)

    assert Product.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


def test_an_error_response_is_replayed_too(api):
    body = {"names": [{"language": "XX", "value": "Valve"}]}
    first = api.post("/v2/products", body, headers=keyed("bad"))
    assert_error(
        first, 400, 10007, "SchemaValidationException", ['names[0].language: unknown language "XX"']
    )

    again = api.post("/v2/products", body, headers=keyed("bad"))

    assert (again.status_code, again.content, again[REPLAYED]) == (400, first.content, "true")
    assert not Product.objects.exists()


def test_a_key_older_than_24_hours_is_forgotten(api):
    path, body, _, _ = WRITES["product-create"]
    api.post(path, body, headers=keyed("old"))
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=24, minutes=1))

    response = api.post(path, body, headers=keyed("old"))

    assert response.status_code == 201
    assert not response.has_header(REPLAYED)
    assert Product.objects.count() == 2


def test_a_key_younger_than_24_hours_is_kept(api):
    path, body, _, _ = WRITES["product-create"]
    api.post(path, body, headers=keyed("young"))
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=23, minutes=59))

    response = api.post(path, body, headers=keyed("young"))

    assert response[REPLAYED] == "true"
    assert Product.objects.count() == 1


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_a_key_that_is_empty_or_too_long_is_400(api, key):
    path, body, _, _ = WRITES["product-create"]
    before = table_counts()

    response = api.post(path, body, headers=keyed(key))

    assert_error(
        response,
        400,
        10007,
        "SchemaValidationException",
        ["Idempotency-Key: must be 1 to 255 characters"],
    )
    assert table_counts() == before


def test_a_key_of_255_characters_is_accepted(api):
    path, body, _, _ = WRITES["product-create"]

    first = api.post(path, body, headers=keyed("k" * 255))
    again = api.post(path, body, headers=keyed("k" * 255))

    assert (first.status_code, again.status_code, again[REPLAYED]) == (201, 201, "true")
    assert Product.objects.count() == 1


def test_a_request_refused_for_its_scope_does_not_use_the_key(api_client_factory):
    reader = api_client_factory(["product.read"])
    path, body, _, _ = WRITES["product-create"]

    response = reader.post(path, body, headers=keyed("scoped"))

    assert_error(response, 403, 10003, "InsufficientScope")
    assert not IdempotencyRecord.objects.exists()


# Concurrency -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("write", ["product-create", "product-bulk"])
def test_two_concurrent_requests_with_one_key_run_once(api_client_factory, write):
    path, body, status, model = WRITES[write]
    token = api_client_factory(["product.write"]).token
    callers = [ApiCaller(token), ApiCaller(token)]

    responses = run_together(
        *[
            lambda caller=caller: caller.post(path, body, headers=keyed("race"))
            for caller in callers
        ]
    )

    # One runs; the other finds it running (409 at once) or, if it came after the first had
    # finished, replays it.
    first, second = sorted(responses, key=lambda response: response.has_header(REPLAYED))
    first, second = sorted([first, second], key=lambda response: response.status_code == 409)
    assert first.status_code == status, first.content
    assert not first.has_header(REPLAYED)
    if second.status_code == 409:
        assert_running(second, "race")
    else:
        assert (second.status_code, second.content, second[REPLAYED]) == (
            status,
            first.content,
            "true",
        )
    expected = len(body["products"]) if "products" in body else 1
    assert model.objects.count() == expected
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_of_two_clients_with_one_key_both_run(api_client_factory):
    callers = [api_client_factory(["product.write"]), api_client_factory(["product.write"])]
    bodies = [{"names": ls(EN="Left valve")}, {"names": ls(EN="Right valve")}]

    responses = run_together(
        *[
            lambda caller=caller, body=body: caller.post(
                "/v2/products", body, headers=keyed("race")
            )
            for caller, body in zip(callers, bodies, strict=True)
        ]
    )

    assert [response.status_code for response in responses] == [201, 201]
    assert not any(response.has_header(REPLAYED) for response in responses)
    assert sorted(Product.objects.values_list("name_en", flat=True)) == [
        "Left valve",
        "Right valve",
    ]
    assert IdempotencyRecord.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_creates_of_two_clients_both_succeed(api_client_factory):
    # Two clients sending the same create with the same key are two requests; the slug
    # generated from the shared name is de-duplicated, not refused.
    path, body, _, _ = WRITES["product-create"]
    callers = [api_client_factory(["product.write"]), api_client_factory(["product.write"])]

    responses = run_together(
        *[
            lambda caller=caller: caller.post(path, body, headers=keyed("race"))
            for caller in callers
        ]
    )

    assert [response.status_code for response in responses] == [201, 201], [
        response.content for response in responses
    ]
    assert sorted(Product.objects.values_list("slug_en", flat=True)) == ["valve", "valve-2"]


# Leases: a running claim answers 409 at once; a dead one is taken over --------------------------


def assert_running(response, key: str) -> None:
    assert_error(
        response,
        409,
        10017,
        "PayloadValidationError",
        [f"The request with Idempotency-Key [{key}] is still running; retry after it has finished"],
    )
    assert 1 <= int(response["Retry-After"]) <= LEASE_SECONDS


def unfinished(record_id: int, lease_expires_at) -> None:
    """Turn a finished record back into the claim of a run that is (or was) still working."""
    IdempotencyRecord.objects.filter(pk=record_id).update(
        completed=False,
        status=None,
        body=None,
        headers={},
        lease_owner="0" * 32,
        lease_expires_at=lease_expires_at,
    )


def test_a_claim_whose_run_is_alive_answers_409_at_once(api):
    path, body, _, _ = WRITES["product-create"]
    api.post(path, body, headers=keyed("live"))
    record = IdempotencyRecord.objects.get()
    unfinished(record.pk, timezone.now() + timedelta(seconds=LEASE_SECONDS))
    before = table_counts()

    started = time.monotonic()
    response = api.post(path, body, headers=keyed("live"))
    elapsed = time.monotonic() - started

    assert_running(response, "live")
    assert elapsed < 2  # answered, not parked waiting for the other run
    assert table_counts() == before
    assert Product.objects.count() == 1


def test_a_claim_whose_lease_ran_out_is_taken_over(api):
    path, body, status, _ = WRITES["product-create"]
    api.post(path, body, headers=keyed("dead"))
    record = IdempotencyRecord.objects.get()
    unfinished(record.pk, timezone.now() - timedelta(seconds=1))

    response = api.post(path, body, headers=keyed("dead"))

    assert response.status_code == status, response.content
    assert not response.has_header(REPLAYED)
    assert Product.objects.count() == 2
    record.refresh_from_db()
    assert (record.completed, record.status, bytes(record.body)) == (
        True,
        status,
        response.content,
    )
    assert record.lease_owner != "0" * 32
    again = api.post(path, body, headers=keyed("dead"))
    assert (again.content, again[REPLAYED]) == (response.content, "true")


def test_a_claim_without_a_lease_is_taken_over(api):
    # Claims made before leases existed carry none; their runs are long gone.
    path, body, status, _ = WRITES["category-create"]
    api.post(path, body, headers=keyed("old-claim"))
    unfinished(IdempotencyRecord.objects.get().pk, None)

    response = api.post(path, body, headers=keyed("old-claim"))

    assert response.status_code == status
    assert Category.objects.count() == 2


def test_a_different_request_on_a_running_key_is_422(api):
    path, body, _, _ = WRITES["product-create"]
    api.post(path, body, headers=keyed("live"))
    unfinished(IdempotencyRecord.objects.get().pk, timezone.now() + timedelta(seconds=5))

    response = api.post(path, {**body, "sku": "V-2"}, headers=keyed("live"))

    assert_error(response, 422, 10017, "PayloadValidationError")
    assert Product.objects.count() == 1


def test_a_run_that_lost_its_claim_does_not_overwrite_the_new_runs_response(api):
    path, body, _, _ = WRITES["product-create"]
    response = api.post(path, body, headers=keyed("lost"))
    record = IdempotencyRecord.objects.get()
    stale = Claim(record.pk, "f" * 32)  # not the owner any more

    finish(stale, HttpResponse(b"late", status=201))

    record.refresh_from_db()
    assert bytes(record.body) == response.content


def test_a_key_holding_nul_is_400(api):
    path, body, _, _ = WRITES["product-create"]

    response = api.post(path, body, headers=keyed("a\x00b"))

    assert_error(
        response,
        400,
        10007,
        "SchemaValidationException",
        ["Idempotency-Key: must not contain NUL"],
    )
    assert not Product.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_lease_keeper_renews_the_claims_it_holds_and_no_others(api_client_factory):
    api = api_client_factory(["product.write"])
    path, body, _, _ = WRITES["product-create"]
    api.post(path, body, headers=keyed("held"))
    api.post(path, {**body, "sku": "V-2"}, headers=keyed("not-held"))
    soon = timezone.now() + timedelta(seconds=1)
    held, other = IdempotencyRecord.objects.order_by("pk")
    for record in (held, other):
        unfinished(record.pk, soon)
    keeper = LeaseKeeper()
    keeper.hold(Claim(held.pk, "0" * 32))

    assert keeper.renew() == 1

    held.refresh_from_db()
    other.refresh_from_db()
    assert held.lease_expires_at > timezone.now() + timedelta(seconds=LEASE_SECONDS - 2)
    assert other.lease_expires_at == soon
    keeper.release(Claim(held.pk, "0" * 32))
    assert keeper.renew() == 0


@pytest.mark.django_db(transaction=True)
def test_a_running_request_keeps_its_claim_alive(api_client_factory, monkeypatch):
    # given a write that takes longer than a lease, with leases renewed every 0.2 s
    monkeypatch.setattr(idempotency, "LEASE_SECONDS", 1)
    monkeypatch.setattr(idempotency, "RENEW_EVERY_SECONDS", 0.2)
    monkeypatch.setattr(idempotency, "lease_keeper", LeaseKeeper())
    original = PRODUCTS_RESOURCE.writes
    inside = threading.Event()

    class SlowWrites:
        def __getattr__(self, name):
            return getattr(original, name)

        def create(self, **kwargs):
            inside.set()
            time.sleep(2.5)
            return original.create(**kwargs)

    monkeypatch.setattr(PRODUCTS_RESOURCE, "writes", SlowWrites())
    api = api_client_factory(["product.write"])
    path, body, status, _ = WRITES["product-create"]
    results: list = []
    first = threading.Thread(
        target=lambda: (
            results.append(api.post(path, body, headers=keyed("slow"))),
            connection.close(),
        )
    )

    # when a retry arrives after more than one lease has passed
    first.start()
    assert inside.wait(10)
    time.sleep(1.5)
    retry = ApiCaller(api.token).post(path, body, headers=keyed("slow"))
    first.join()

    # then the first run still held the key, and ran alone
    assert_running(retry, "slow")
    assert results[0].status_code == status
    assert Product.objects.count() == 1
