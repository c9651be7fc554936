"""time_range_count: whole hours from the hour-count table, partial hours from the index."""

from datetime import UTC, datetime, timedelta

import pytest

from catalogue.models import HourCountDelta, Product
from catalogue.selectors.counts import time_range_count
from tests.factories import make_product, make_products

pytestmark = pytest.mark.django_db

BASE = datetime(2026, 3, 1, tzinfo=UTC)
# Offsets in minutes: both edges of hours, mid-hour, the same hour twice, a day later.
MINUTES = [0, 0, 1, 59, 60, 61, 90, 119, 120, 180, 181, 24 * 60, 24 * 60 + 30]


def minute(offset: float) -> datetime:
    return BASE + timedelta(minutes=offset)


@pytest.fixture
def stamped():
    products = make_products([{"name": f"Stamped {number}"} for number in range(len(MINUTES))])
    for product, offset in zip(products, MINUTES, strict=True):
        stamp = minute(offset) + timedelta(milliseconds=offset % 7)
        Product.objects.filter(pk=product.pk).update(
            created_at=stamp, last_modified_at=stamp + timedelta(days=30)
        )
    return products


def brute_force(column: str, start, end) -> int:
    rows = Product.objects.all()
    if start is not None:
        rows = rows.filter(**{f"{column}__gte": start})
    if end is not None:
        rows = rows.filter(**{f"{column}__lt": end})
    return rows.count()


RANGES = [
    (None, None),
    (0, None),
    (None, 60),
    (0, 60),
    (0, 61),
    (1, 120),
    (59, 61),
    (60, 120),
    (60.5, 180.5),
    (30, 30),
    (90, 30),
    (119, 119.01),
    (-600, 24 * 60 + 31),
    (181, 24 * 60),
    (24 * 60, None),
    (5 * 24 * 60, None),
]


@pytest.mark.parametrize("column", ["created_at", "last_modified_at"])
def test_counts_equal_a_scan_for_every_range(stamped, column):
    shift = timedelta(days=30) if column == "last_modified_at" else timedelta()
    for start, end in RANGES:
        low = None if start is None else minute(start) + shift
        high = None if end is None else minute(end) + shift

        assert time_range_count(Product, column, low, high) == brute_force(column, low, high), (
            start,
            end,
        )


def test_counts_follow_updates_and_deletes(stamped):
    Product.objects.filter(pk__in=[p.pk for p in stamped[:3]]).update(created_at=minute(600))
    Product.objects.filter(pk=stamped[5].pk).delete()
    make_product("Fresh")  # created now, far from the stamped hours

    for start, end in RANGES:
        low = None if start is None else minute(start)
        high = None if end is None else minute(end)
        assert time_range_count(Product, "created_at", low, high) == brute_force(
            "created_at", low, high
        ), (start, end)


def test_folding_the_deltas_keeps_the_counts(stamped):
    for product in stamped:
        Product.objects.filter(pk=product.pk).update(created_at=minute(61))
        Product.objects.filter(pk=product.pk).update(created_at=minute(121))
    pieces = HourCountDelta.objects.filter(column_name="created_at").count()

    assert time_range_count(Product, "created_at", None, None, compact_after=0) == len(stamped)

    assert HourCountDelta.objects.filter(column_name="created_at").count() < pieces
    assert time_range_count(Product, "created_at", minute(120), minute(180)) == len(stamped)
    assert time_range_count(Product, "created_at", minute(60), minute(120)) == 0
    for start, end in RANGES:
        low = None if start is None else minute(start)
        high = None if end is None else minute(end)
        assert time_range_count(Product, "created_at", low, high) == brute_force(
            "created_at", low, high
        )


def test_an_empty_table_counts_nothing():
    assert time_range_count(Product, "created_at", None, None) == 0
    assert time_range_count(Product, "created_at", minute(0), minute(60)) == 0
