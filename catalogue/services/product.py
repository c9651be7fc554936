"""Product writes: create, update, delete, translation removal, category membership."""

from django.db import IntegrityError, transaction

from catalogue.errors import CatalogueError, Code
from catalogue.models import Product, ProductCategory, ProductSearch, ProductSource
from catalogue.models.base import now_ms
from catalogue.search import record_words, search_document
from catalogue.services.category import ParentRef, resolve_parent
from catalogue.services.common import (
    RecordChanges,
    apply_fields,
    check_precondition,
    conflict,
    ensure_slugs_free,
    generate_slugs,
    remove_translation,
    replace_sources,
    require_default_name,
    touch,
    with_slug_retries,
)

ENTITY = "Product"
SEARCHED_CODES = ("sku", "supplier_code", "ean_code", "manufacturer", "oem_code", "bar_code")


def product_search_document(product: Product, pairs: list[tuple[str, str]]) -> str:
    from django.conf import settings

    names = [getattr(product, f"name_{code}") or "" for code, _ in settings.LANGUAGES]
    codes = [getattr(product, name) for name in SEARCHED_CODES]
    return search_document(*names, *codes, *(source_id for _, source_id in pairs))


def refresh_search_document(product: Product) -> None:
    """Recompute the product's search text from its names, codes and source ids."""
    pairs = list(ProductSource.objects.filter(owner=product).values_list("source", "source_id"))
    document = product_search_document(product, pairs)
    ProductSearch.objects.update_or_create(product=product, defaults={"text": document})
    record_words([document])


def _set_primary_category(product: Product, ref: ParentRef | None) -> bool:
    """Make the referenced category the product's primary one; return whether it changed."""
    current = ProductCategory.objects.filter(product=product, is_primary=True).first()
    category = resolve_parent(ref) if ref is not None else None
    if current is not None and category is not None and current.category_id == category.pk:
        return False
    if current is None and category is None:
        return False
    if current is not None:
        current.delete()
    if category is not None:
        updated = ProductCategory.objects.filter(product=product, category=category).update(
            is_primary=True
        )
        if not updated:
            ProductCategory.objects.create(product=product, category=category, is_primary=True)
    return True


def _save(product: Product, changes: RecordChanges, *, creating: bool) -> Product:
    explicit_slugs = set(changes.localized.get("slug", {}))
    changed = apply_fields(product, changes)
    require_default_name(product, ENTITY)
    changed |= generate_slugs(product, Product, explicit_slugs)
    ensure_slugs_free(product, Product, explicit_slugs, Code.PRODUCT_EXISTS, ENTITY)
    try:
        with transaction.atomic():
            if creating:
                product.last_modified_at = product.created_at  # one instant, not two defaults
                product.save()
            elif changed:
                touch(product)
                product.save(update_fields=[*changed, "last_modified_at"])
            related = replace_sources(product, ProductSource, changes, Code.PRODUCT_EXISTS, ENTITY)
            if "parent" in changes.relations:
                related |= _set_primary_category(product, changes.relations["parent"])
            if related and not creating and not changed:
                touch(product)
                product.save(update_fields=["last_modified_at"])
            refresh_search_document(product)
    except IntegrityError as exc:
        raise conflict(exc, product, Code.PRODUCT_EXISTS, ENTITY, explicit_slugs) from None
    return product


def product_create(*, changes: RecordChanges) -> Product:
    """Create a product, optionally in a primary category."""

    def create() -> Product:
        with transaction.atomic():
            return _save(Product(), changes, creating=True)

    return with_slug_retries(create)


def product_update(
    *, product_id: int, changes: RecordChanges, if_match: str | None = None
) -> Product:
    """Change a product; fields not sent are left as they are."""

    def update() -> Product:
        with transaction.atomic():
            product = Product.objects.select_for_update().get(pk=product_id)
            check_precondition(product, if_match)
            return _save(product, changes, creating=False)

    return with_slug_retries(update)


def product_delete(*, product_id: int, if_match: str | None = None) -> None:
    """Delete a product and its category memberships."""
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product_id)
        check_precondition(product, if_match)
        product.delete()


def product_remove_translation(
    *, product_id: int, language: str, if_match: str | None = None
) -> Product:
    """Clear one language in every localized field of the product."""
    with transaction.atomic():
        product = remove_translation(
            Product, record_id=product_id, language=language, entity=ENTITY, if_match=if_match
        )
        refresh_search_document(product)
        return product


def category_add_products(
    *, category_id: int, product_ids: list[int]
) -> dict[int, CatalogueError | None]:
    """Add products to a category as extra (non-primary) memberships; one outcome per id."""
    with transaction.atomic():
        existing = set(
            ProductCategory.objects.filter(
                category_id=category_id, product_id__in=product_ids
            ).values_list("product_id", flat=True)
        )
        outcomes: dict[int, CatalogueError | None] = {}
        new = []
        for product_id in product_ids:
            if product_id in existing:
                outcomes[product_id] = CatalogueError(
                    Code.CATEGORY_EXISTS,
                    f"Product with id [{product_id}] is already in category with id [{category_id}]",
                )
            else:
                outcomes[product_id] = None
                new.append(ProductCategory(product_id=product_id, category_id=category_id))
                existing.add(product_id)
        ProductCategory.objects.bulk_create(new)
        if new:
            Product.objects.filter(pk__in=[m.product_id for m in new]).update(
                last_modified_at=now_ms()
            )
        return outcomes


def category_remove_products(
    *, category_id: int, product_ids: list[int]
) -> dict[int, CatalogueError | None]:
    """Remove products from a category; the primary category cannot be removed this way."""
    with transaction.atomic():
        memberships = dict(
            ProductCategory.objects.filter(
                category_id=category_id, product_id__in=product_ids
            ).values_list("product_id", "is_primary")
        )
        outcomes: dict[int, CatalogueError | None] = {}
        removable = []
        for product_id in product_ids:
            if product_id not in memberships:
                outcomes[product_id] = CatalogueError(
                    Code.CATEGORY_NOT_FOUND,
                    f"Product with id [{product_id}] is not in category with id [{category_id}]",
                )
            elif memberships[product_id]:
                outcomes[product_id] = CatalogueError(
                    Code.PRIMARY_CATEGORY_REMOVAL,
                    f"Category with id [{category_id}] is the primary category of product "
                    f"with id [{product_id}]",
                )
            else:
                outcomes[product_id] = None
                removable.append(product_id)
                memberships.pop(product_id)
        ProductCategory.objects.filter(category_id=category_id, product_id__in=removable).delete()
        if removable:
            Product.objects.filter(pk__in=removable).update(last_modified_at=now_ms())
        return outcomes
