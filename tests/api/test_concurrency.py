"""Concurrent writers: overlapping bulks never deadlock, overlapping creates end as one create
and updates, parallel creates with one name all succeed — every time."""

import random

import pytest

from catalogue.models import Product, ProductSource
from tests.api.test_bulk_products import bulk, item, results, run_together
from tests.factories import ls

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 8


def test_overlapping_bulk_updates_in_random_order_all_succeed(api_client_factory):
    # given 400 products and writers each updating 300 of them in its own random order
    callers = [api_client_factory(["product.write"]) for _ in range(WRITERS)]
    seed = [item(f"P-{number}") for number in range(400)]
    assert all(r["success"] for r in results(bulk(callers[0], "sourceId", seed)))
    orders = []
    for writer in range(WRITERS):
        chosen = random.Random(writer).sample(range(400), 300)
        orders.append([item(f"P-{number}", f"Writer {writer} {number}") for number in chosen])

    # when they all write at once
    responses = run_together(
        *(
            (lambda caller=caller, items=items: bulk(caller, "sourceId", items))
            for caller, items in zip(callers, orders, strict=True)
        )
    )

    # then every item of every request was written, as an update
    for response in responses:
        data = results(response)
        assert {r["action"] for r in data} == {"update"}, [r for r in data if not r["success"]]
    assert Product.objects.count() == 400
    assert ProductSource.objects.count() == 400


def test_overlapping_bulk_creates_end_with_one_create_per_key(api_client_factory):
    callers = [api_client_factory(["product.write"]) for _ in range(WRITERS)]
    batches = [
        [item(f"N-{number}") for number in range(writer * 50, writer * 50 + 200)]
        for writer in range(WRITERS)
    ]

    responses = run_together(
        *(
            (lambda caller=caller, items=items: bulk(caller, "sourceId", items))
            for caller, items in zip(callers, batches, strict=True)
        )
    )

    actions: dict[str, list[str]] = {}
    ids: dict[str, set[int]] = {}
    for response in responses:
        for result in results(response):
            assert result["success"], result
            actions.setdefault(result["key"], []).append(result["action"])
            ids.setdefault(result["key"], set()).add(result["id"])
    keys = {f"N-{number}" for number in range(WRITERS * 50 + 150)}
    assert set(actions) == keys
    for key, seen in actions.items():
        assert seen.count("create") == 1, (key, seen)
        assert set(seen) <= {"create", "update"}, (key, seen)
        assert len(ids[key]) == 1, (key, ids[key])
    assert Product.objects.count() == len(keys)
    assert ProductSource.objects.count() == len(keys)


def test_parallel_creates_with_one_name_all_get_a_slug_of_their_own(api_client_factory):
    callers = [api_client_factory(["product.write"]) for _ in range(16)]

    responses = run_together(
        *(
            (lambda caller=caller: caller.post("/v2/products", {"names": ls(EN="Twin 42")}))
            for caller in callers
        )
    )

    assert [response.status_code for response in responses] == [201] * 16
    slugs = {response.json()["data"]["slugs"][0]["value"] for response in responses}
    assert slugs == {"twin-42", *(f"twin-42-{n}" for n in range(2, 17))}
