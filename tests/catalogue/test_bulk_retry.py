"""run_bulk: a conflicting write is planned and written again, a bounded number of times."""

import pytest
from django.db import IntegrityError, OperationalError

from catalogue.services import bulk
from catalogue.services.bulk import RETRIES, BulkItem, run_bulk

pytestmark = pytest.mark.django_db


class Cause(Exception):
    """Stands in for the driver error a DatabaseError wraps (it carries the SQLSTATE)."""

    def __init__(self, sqlstate: str | None):
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def database_error(kind, sqlstate: str | None):
    error = kind(f"sqlstate {sqlstate}")
    error.__cause__ = Cause(sqlstate)
    return error


class Engine:
    """A fake plan and write: `write` raises `error` for its first `failures` calls."""

    def __init__(self, failures: int, error=None):
        self.failures = failures
        self.error = error
        self.plans: list[list[int]] = []
        self.writes: list[list[int]] = []

    def plan(self, items):
        self.plans.append([item.index for item in items])
        for item in items:
            if item.pending:
                item.action = "create"
                item.extra["attempt"] = len(self.plans)

    def write(self, items):
        self.writes.append([item.index for item in items])
        if len(self.writes) <= self.failures:
            raise self.error
        for item in items:
            item.record_id = 100 + item.index


def items(count: int = 3) -> list[BulkItem]:
    return [BulkItem(index=index, key=index, key_value=index) for index in range(count)]


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    """The back-off between attempts is real time; the tests count attempts instead."""
    waits: list[float] = []
    monkeypatch.setattr(bulk.time, "sleep", waits.append)
    return waits


def run(engine, batch, **kwargs):
    options = {"dry_run": False, "atomic": False, **kwargs}
    return run_bulk(batch, plan=engine.plan, write=engine.write, **options)


@pytest.mark.parametrize("sqlstate", ["40P01", "40001", "23505", "23503"])
@pytest.mark.parametrize("failures", [1, 3, RETRIES - 1])
def test_a_retryable_conflict_is_planned_and_written_again(no_sleep, sqlstate, failures):
    engine = Engine(failures, database_error(OperationalError, sqlstate))

    result = run(engine, items())

    assert len(engine.plans) == len(engine.writes) == failures + 1
    assert [(item.action, item.record_id, item.error) for item in result] == [
        ("create", 100, None),
        ("create", 101, None),
        ("create", 102, None),
    ]
    # Each attempt plans from scratch: nothing planned by a failed attempt is kept.
    assert {item.extra["attempt"] for item in result} == {failures + 1}
    assert len(no_sleep) == failures
    assert all(0 < wait <= 0.02 * attempt for attempt, wait in enumerate(no_sleep, start=1))


def test_an_integrity_error_without_a_sqlstate_is_retried(no_sleep):
    engine = Engine(2, IntegrityError("duplicate key"))

    result = run(engine, items(1))

    assert len(engine.writes) == 3
    assert result[0].record_id == 100


def test_after_every_retry_failed_the_items_are_written_one_by_one(no_sleep):
    engine = Engine(RETRIES + 1, database_error(OperationalError, "40P01"))

    result = run(engine, items())

    # RETRIES whole attempts, then one savepoint per item: the first of those still conflicts.
    assert len(engine.plans) == RETRIES + 3
    assert engine.writes[RETRIES:] == [[0], [1], [2]]
    assert len(no_sleep) == RETRIES - 1
    assert result[0].action == "error"
    assert result[0].error.code.number == 10017
    assert result[0].error.messages == ["Item could not be written: OperationalError"]
    assert [(item.action, item.record_id) for item in result[1:]] == [
        ("create", 101),
        ("create", 102),
    ]


def test_items_that_failed_validation_stay_failed_across_retries(no_sleep):
    from catalogue.errors import CatalogueError, Code

    batch = items()
    batch[1].fail(CatalogueError(Code.PAYLOAD_VALIDATION, "bad item"))
    engine = Engine(2, database_error(OperationalError, "40001"))

    result = run(engine, batch)

    assert engine.writes[-1] == [0, 2]
    assert (result[1].action, result[1].error.messages) == ("error", ["bad item"])


@pytest.mark.parametrize("sqlstate", ["57014", "08006", "25P02", None])
def test_a_non_retryable_operational_error_is_raised_at_once(no_sleep, sqlstate):
    error = database_error(OperationalError, sqlstate)
    engine = Engine(1, error)

    with pytest.raises(OperationalError) as raised:
        run(engine, items())

    assert raised.value is error
    assert len(engine.plans) == len(engine.writes) == 1
    assert no_sleep == []


def test_a_dry_run_plans_and_never_writes(no_sleep):
    engine = Engine(0)

    result = run(engine, items(), dry_run=True)

    assert engine.writes == []
    assert [item.action for item in result] == ["create"] * 3
