"""Category writes: create, update (including moves), delete, translation removal."""

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from catalogue.errors import CatalogueError, Code
from catalogue.models import Category, CategorySource
from catalogue.services.common import (
    RecordChanges,
    apply_fields,
    check_precondition,
    conflict,
    ensure_slugs_free,
    generate_slugs,
    lock_tree,
    remove_translation,
    replace_sources,
    require_default_name,
    touch,
    with_slug_retries,
)

ENTITY = "Category"
TREE = "category"


@dataclass(frozen=True)
class ParentRef:
    """A reference to a parent category: by id or by (source, sourceId)."""

    id: int | None = None
    source: str | None = None
    source_id: str | None = None

    def describe(self) -> str:
        if self.id is not None:
            return f"id [{self.id}]"
        return f"sourceId [{self.source_id}] and source [{self.source}]"

    def not_found(self) -> CatalogueError:
        return CatalogueError(
            Code.PARENT_CATEGORY_NOT_FOUND, f"Parent category with {self.describe()} not found"
        )


def resolve_parent(ref: ParentRef) -> Category:
    if ref.id is not None:
        parent = Category.objects.filter(pk=ref.id).first()
    else:
        parent = Category.objects.filter(
            sources__source=ref.source, sources__source_id=ref.source_id
        ).first()
    if parent is None:
        raise ref.not_found()
    return parent


def _save(record: Category, changes: RecordChanges, *, creating: bool) -> Category:
    explicit_slugs = set(changes.localized.get("slug", {}))
    changed = apply_fields(record, changes)
    require_default_name(record, ENTITY)
    changed |= generate_slugs(record, Category, explicit_slugs)
    ensure_slugs_free(record, Category, explicit_slugs, Code.CATEGORY_EXISTS, ENTITY)
    if "parent" in changes.relations:
        ref = changes.relations["parent"]
        parent = resolve_parent(ref) if ref is not None else None
        if (
            parent is not None
            and record.pk
            and (parent.pk == record.pk or parent.is_descendant_of(record))
        ):
            raise CatalogueError(
                Code.CATEGORY_CYCLE,
                f"Category with id [{record.pk}] cannot be moved under itself or its descendant "
                f"with id [{parent.pk}]",
            )
        if creating or record.parent_id != (parent.pk if parent else None):
            record.parent = parent
            changed.add("parent")
    try:
        with transaction.atomic():
            if creating:
                record.last_modified_at = record.created_at  # one instant, not two defaults
                record.save()
            elif changed:
                touch(record)
                if "parent" in changed:
                    # A move rewrites lft/rght across the tree: let MPTT save the node.
                    record.save()
                else:
                    record.save(update_fields=[*changed, "last_modified_at"])
            sources_changed = replace_sources(
                record, CategorySource, changes, Code.CATEGORY_EXISTS, ENTITY
            )
            if sources_changed and not creating and not changed:
                touch(record)
                record.save(update_fields=["last_modified_at"])
    except IntegrityError as exc:
        raise conflict(exc, record, Code.CATEGORY_EXISTS, ENTITY, explicit_slugs) from None
    return record


def category_create(*, changes: RecordChanges) -> Category:
    """Create a category (a root when no parent is given)."""

    def create() -> Category:
        with transaction.atomic():
            lock_tree(TREE)
            return _save(Category(), changes, creating=True)

    return with_slug_retries(create)


def category_update(
    *, category_id: int, changes: RecordChanges, if_match: str | None = None
) -> Category:
    """Change a category; a new parent moves its whole subtree."""

    def update() -> Category:
        with transaction.atomic():
            if "parent" in changes.relations:
                lock_tree(TREE)
            record = Category.objects.select_for_update().get(pk=category_id)
            check_precondition(record, if_match)
            return _save(record, changes, creating=False)

    return with_slug_retries(update)


def category_delete(*, category_id: int, if_match: str | None = None) -> None:
    """Delete an empty leaf category."""
    from catalogue.selectors.categories import category_is_empty_reason

    with transaction.atomic():
        lock_tree(TREE)
        record = Category.objects.select_for_update().get(pk=category_id)
        check_precondition(record, if_match)
        reason = category_is_empty_reason(record)
        if reason:
            raise CatalogueError(
                Code.CATEGORY_NOT_EMPTY, f"Category with id [{record.pk}] is not empty: {reason}"
            )
        record.delete()


def category_remove_translation(
    *, category_id: int, language: str, if_match: str | None = None
) -> Category:
    """Clear one language in every localized field of the category."""
    return remove_translation(
        Category, record_id=category_id, language=language, entity=ENTITY, if_match=if_match
    )
