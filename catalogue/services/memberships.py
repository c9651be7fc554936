"""Category memberships of products and clusters: one primary category, any extra ones."""

from dataclasses import dataclass

from django.db import connection, transaction

from catalogue.errors import CatalogueError, Code
from catalogue.models.base import now_ms
from catalogue.records import RecordSpec
from catalogue.services.records import lock_rows


@dataclass(frozen=True)
class Membership:
    """A record kind that sits in categories: its spec and its membership table."""

    spec: RecordSpec
    model: type  # membership model: <owner>, category, is_primary
    owner: str  # the membership's column naming the record: "product_id", "cluster_id"

    @property
    def table(self) -> str:
        return self.model._meta.db_table


def write_primary(membership: Membership, primaries: dict[int, int | None]) -> None:
    """Make `primaries[record]` each record's primary category (None: no primary one)."""
    if not primaries:
        return
    table, owner = membership.table, membership.owner
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE {owner} = ANY(%s) AND is_primary", [sorted(primaries)]
        )
        rows = sorted((record, category) for record, category in primaries.items() if category)
        if rows:
            cursor.execute(
                f"INSERT INTO {table} ({owner}, category_id, is_primary) "
                "SELECT r, c, true FROM unnest(%s::bigint[], %s::bigint[]) AS v(r, c) "
                f"ON CONFLICT ({owner}, category_id) DO UPDATE SET is_primary = true",
                [[r[0] for r in rows], [r[1] for r in rows]],
            )


def current_primaries(membership: Membership, record_ids: list[int]) -> dict[int, int]:
    return dict(
        membership.model.objects.filter(
            **{f"{membership.owner}__in": record_ids}, is_primary=True
        ).values_list(membership.owner, "category_id")
    )


def _touch(membership: Membership, record_ids: list[int]) -> None:
    if record_ids:
        membership.spec.model.objects.filter(pk__in=record_ids).update(last_modified_at=now_ms())


def category_add(
    membership: Membership, *, category_id: int, record_ids: list[int]
) -> dict[int, CatalogueError | None]:
    """Add records to a category as extra (non-primary) members; one outcome per id."""
    with transaction.atomic():
        lock_rows(membership.spec, record_ids)
        owner = membership.owner
        existing = set(
            membership.model.objects.filter(
                category_id=category_id, **{f"{owner}__in": record_ids}
            ).values_list(owner, flat=True)
        )
        outcomes: dict[int, CatalogueError | None] = {}
        new = []
        for record_id in record_ids:
            if record_id in existing:
                outcomes[record_id] = CatalogueError(
                    Code.CATEGORY_EXISTS,
                    f"{membership.spec.entity} with id [{record_id}] is already in category "
                    f"with id [{category_id}]",
                )
            else:
                outcomes[record_id] = None
                new.append(membership.model(**{owner: record_id, "category_id": category_id}))
                existing.add(record_id)
        membership.model.objects.bulk_create(new)
        _touch(membership, [getattr(m, owner) for m in new])
        return outcomes


def category_remove(
    membership: Membership, *, category_id: int, record_ids: list[int]
) -> dict[int, CatalogueError | None]:
    """Remove records from a category; a primary category cannot be removed this way."""
    with transaction.atomic():
        lock_rows(membership.spec, record_ids)
        owner = membership.owner
        members = dict(
            membership.model.objects.filter(
                category_id=category_id, **{f"{owner}__in": record_ids}
            ).values_list(owner, "is_primary")
        )
        outcomes: dict[int, CatalogueError | None] = {}
        removable = []
        entity = membership.spec.entity
        for record_id in record_ids:
            if record_id not in members:
                outcomes[record_id] = CatalogueError(
                    Code.CATEGORY_NOT_FOUND,
                    f"{entity} with id [{record_id}] is not in category with id [{category_id}]",
                )
            elif members[record_id]:
                outcomes[record_id] = CatalogueError(
                    Code.PRIMARY_CATEGORY_REMOVAL,
                    f"Category with id [{category_id}] is the primary category of "
                    f"{membership.spec.noun} with id [{record_id}]",
                )
            else:
                outcomes[record_id] = None
                removable.append(record_id)
                members.pop(record_id)
        membership.model.objects.filter(
            category_id=category_id, **{f"{owner}__in": removable}
        ).delete()
        _touch(membership, removable)
        return outcomes
