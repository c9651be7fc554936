"""The bulk engine shared by every bulk endpoint.

A bulk request is validated item by item, resolved against the database in a few set-based
queries, and written with a handful of statements per table inside one transaction. Items
that fail validation are reported and never written; the others apply together. When the
write itself fails (a concurrent writer took a key in the meantime, a deadlock), the whole
unit is retried from the resolution step, so the outcome converges (creates become updates).
Only if the failure persists are items written one by one, each in its own savepoint.
"""

import logging
import random
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, IntegrityError, OperationalError, transaction

from catalogue.errors import CatalogueError, Code
from catalogue.records import RecordChanges

logger = logging.getLogger(__name__)

# Attempts of a whole plan-and-write before items are written one by one: each conflict means
# a concurrent writer committed, so the next attempt sees more of the final state.
RETRIES = 8


@dataclass(frozen=True)
class Directives:
    """What a bulk request asks to leave alone (field names are model field names)."""

    skip_if_not_empty: frozenset[str] = frozenset()
    skip_move_on_update: bool = False
    merge_translations_on_update: bool = False
    skip_create: bool = False


@dataclass
class BulkItem:
    """One item of a bulk request and, after processing, its outcome."""

    index: int
    key: Hashable | None
    key_value: Any
    changes: RecordChanges | None = None
    error: CatalogueError | None = None
    record_id: int | None = None
    action: str | None = None
    # A single-record update: the record must exist (it is never created).
    must_exist: bool = False
    # Filled by the engine: the row to write and what else changes with it.
    extra: dict = field(default_factory=dict)

    def fail(self, error: CatalogueError) -> None:
        self.error = error
        self.action = "error"

    @property
    def pending(self) -> bool:
        return self.error is None and self.action is None


def mark_duplicate_keys(items: list[BulkItem], lookup_key: str) -> None:
    """The later of two items with the same key fails with 10017."""
    seen: dict[Hashable, int] = {}
    for item in items:
        if item.error is not None or item.key is None:
            continue
        if item.key in seen:
            item.fail(
                CatalogueError(
                    Code.PAYLOAD_VALIDATION,
                    f"{lookup_key} [{item.key_value}] appears more than once in this request "
                    f"(first at index {seen[item.key]})",
                )
            )
        else:
            seen[item.key] = item.index


def _reset(items: list[BulkItem], failed_before: set[int]) -> None:
    for item in items:
        if item.index not in failed_before:
            item.error, item.action, item.record_id, item.extra = None, None, None, {}


def run_bulk(
    items: list[BulkItem],
    *,
    plan: Callable[[list[BulkItem]], None],
    write: Callable[[list[BulkItem]], None],
    dry_run: bool,
    atomic: bool,
    writes: tuple[str, ...] = ("create", "update"),
) -> list[BulkItem]:
    """Plan every item (resolve, validate, decide create/update/skip), then write.

    `plan` sets each item's action or error without writing; `write` applies the planned
    items. Both run in one transaction; on a conflict with a concurrent writer everything is
    planned again from fresh data.
    """
    failed_before = {item.index for item in items if item.error is not None}
    for attempt in range(1, RETRIES + 1):
        try:
            with transaction.atomic():
                plan(items)
                if atomic and any(item.error for item in items):
                    _not_applied(items)
                    return items
                if not dry_run:
                    write([item for item in items if item.action in writes])
            return items
        except (IntegrityError, OperationalError) as exc:
            if not _retryable(exc):
                raise  # a time limit or a lost connection: the request fails as a whole
            if attempt == RETRIES:
                logger.warning("Bulk write failed (%s); applying items one by one", exc)
                break
            logger.info("Bulk write conflicted (%s); retrying (attempt %s)", exc, attempt)
            time.sleep(random.uniform(0.005, 0.02) * attempt)
            _reset(items, failed_before)
    return _one_by_one(
        items, plan=plan, write=write, failed_before=failed_before, atomic=atomic, writes=writes
    )


def _retryable(exc: DatabaseError) -> bool:
    state = getattr(getattr(exc, "__cause__", None), "sqlstate", None)
    # unique_violation, foreign_key_violation, serialization_failure, deadlock_detected
    return state in {"23505", "23503", "40001", "40P01"} or isinstance(exc, IntegrityError)


def _one_by_one(items, *, plan, write, failed_before, atomic, writes) -> list[BulkItem]:
    """The slow path: each item planned and written in its own savepoint."""
    _reset(items, failed_before)
    with transaction.atomic():
        for item in items:
            if item.index in failed_before:
                continue
            try:
                with transaction.atomic():
                    plan([item])
                    if item.action in writes:
                        write([item])
            except DatabaseError as exc:
                if isinstance(exc, OperationalError) and not _retryable(exc):
                    raise
                logger.warning("Bulk item %s failed: %s", item.index, exc)
                item.fail(
                    CatalogueError(
                        Code.PAYLOAD_VALIDATION,
                        f"Item could not be written: {exc.__class__.__name__}",
                    )
                )
        if atomic and any(item.error for item in items):
            transaction.set_rollback(True)
            _not_applied(items)
    return items


def _not_applied(items: list[BulkItem]) -> None:
    for item in items:
        if item.error is None:
            item.fail(CatalogueError(Code.PAYLOAD_VALIDATION, "not applied: request is atomic"))


def upserts(plan: Callable, write: Callable[[list[BulkItem]], None]):
    """An entity's bulk upsert from its planner `plan(items, lookup_key, directives)` and its
    writer."""

    def upsert(
        *,
        items: list[BulkItem],
        lookup_key: str,
        directives: Directives,
        dry_run: bool = False,
        atomic: bool = False,
    ) -> list[BulkItem]:
        mark_duplicate_keys(items, lookup_key)
        return run_bulk(
            items,
            plan=lambda batch: plan(batch, lookup_key, directives),
            write=write,
            dry_run=dry_run,
            atomic=atomic,
        )

    return upsert


def deletes(plan: Callable, write: Callable[[list[BulkItem]], None]):
    """An entity's bulk delete from its planner `plan(items, lookup_key)` and its writer."""

    def delete(
        *, items: list[BulkItem], lookup_key: str, dry_run: bool = False, atomic: bool = False
    ) -> list[BulkItem]:
        mark_duplicate_keys(items, lookup_key)
        return run_bulk(
            items,
            plan=lambda batch: plan(batch, lookup_key),
            write=write,
            dry_run=dry_run,
            atomic=atomic,
            writes=("delete",),
        )

    return delete
