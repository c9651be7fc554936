"""Products: the API's text search, subtree and date filters, attribute rows, bulk actions
through the services, and lists that stay fast on a large catalogue."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.widgets import AutocompleteSelect, FilteredSelectMultiple
from django.utils.html import format_html

from catalogue.admin.base import (
    AttributesField,
    CategoryChoiceField,
    CategoryMultipleChoiceField,
    RecordAdmin,
    RecordForm,
    category_paths,
    default_name,
    error_text,
)
from catalogue.admin.pagination import EstimatedCountPaginator
from catalogue.models import Category, Product, ProductAncestor, ProductCategory, ProductStatus
from catalogue.records import RecordChanges, Ref
from catalogue.selectors.terms import product_term_filter
from catalogue.services.bulk import BulkItem, Directives
from catalogue.services.products import (
    PRODUCT_WRITES,
    category_add_products,
    category_remove_products,
    product_bulk_upsert,
)

# Products written per call of the bulk service by an admin action.
ACTION_CHUNK = 1000


class CategoriesSelector(FilteredSelectMultiple):
    """The two-box selector, in a wrapper of its own: its script puts the boxes first in
    their parent, which would otherwise put them before the field's label."""

    def render(self, name, value, attrs=None, renderer=None):
        inner = super().render(name, value, attrs, renderer)
        return format_html('<div class="related-widget-wrapper">{}</div>', inner)


class ProductForm(RecordForm):
    primary_category = CategoryChoiceField(
        required=False, help_text="The product's primary category."
    )
    extra_categories = CategoryMultipleChoiceField(
        required=False,
        widget=CategoriesSelector("categories", is_stacked=False),
        help_text="Further categories the product is listed in.",
    )
    attributes = AttributesField()


class CategorySubtreeFilter(admin.SimpleListFilter):
    """Products in a category or below it; the choices drill down the tree."""

    title = "category (with its subtree)"
    parameter_name = "category"

    def lookups(self, request, model_admin):
        selected = self.value()
        ids = []
        if selected and selected.isdigit():
            node = Category.objects.filter(pk=selected).first()
            if node is not None:
                ids = [c.pk for c in node.get_ancestors(include_self=True)]
                ids += list(node.get_children().values_list("pk", flat=True))
        if not ids:
            ids = list(Category.objects.filter(parent=None).values_list("pk", flat=True))
        paths = category_paths(ids)
        return sorted(((str(pk), path) for pk, path in paths.items()), key=lambda c: c[1])

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        below = ProductAncestor.objects.filter(category_id=int(value)).values("product_id")
        return queryset.filter(pk__in=below)


class ActionCategoryField(CategoryChoiceField):
    """An unknown category leaves the action to say so, instead of failing the whole form."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except forms.ValidationError:
            return None


class ProductActionForm(ActionForm):
    status = forms.ChoiceField(choices=[("", "status…"), *ProductStatus.choices], required=False)
    # Searched as typed (the category admin's search), not listed: a catalogue has thousands.
    category = ActionCategoryField(
        required=False,
        widget=AutocompleteSelect(Product._meta.get_field("categories"), admin.site),
    )


@admin.register(Product)
class ProductAdmin(RecordAdmin):
    writes = PRODUCT_WRITES
    form = ProductForm
    plain_fields = (
        "sku",
        "supplier",
        "supplier_code",
        "manufacturer",
        "oem_code",
        "ean_code",
        "bar_code",
        "short_name",
        "package",
        "package_unit",
        "status",
        "tax_code",
        "unit",
        "minimum_quantity",
        "package_unit_quantity",
        "priority",
        "hidden",
        "orderable",
        "returnable",
        "physical",
        "width",
        "height",
        "depth",
        "weight",
        "attributes",
    )
    fieldsets = (
        (None, {"fields": ("language", "name", "sku", "status")}),
        ("Placement", {"fields": ("primary_category", "extra_categories", "cluster")}),
        ("Attributes and external ids", {"fields": ("attributes", "sources")}),
        (
            "Texts",
            {
                "fields": (
                    "short_description",
                    "description",
                    "slug",
                    "notes",
                    "package_description",
                )
            },
        ),
        (
            "Codes",
            {
                "fields": (
                    "supplier",
                    "supplier_code",
                    "manufacturer",
                    "oem_code",
                    "ean_code",
                    "bar_code",
                    "short_name",
                )
            },
        ),
        (
            "Sales and logistics",
            {
                "fields": (
                    "tax_code",
                    ("unit", "minimum_quantity"),
                    ("package", "package_unit", "package_unit_quantity"),
                    "priority",
                    ("hidden", "orderable", "returnable", "physical"),
                    ("width", "height", "depth", "weight"),
                )
            },
        ),
        (
            "Search engines",
            {
                "fields": (
                    "metadata_title",
                    "metadata_description",
                    "metadata_keywords",
                    "metadata_canonical_url",
                ),
                "classes": ("collapse",),
            },
        ),
        ("History", {"fields": ("created_at", "last_modified_at")}),
    )
    list_display = (
        "id",
        "sku",
        "display_name",
        "primary_category",
        "status",
        "supplier",
        "supplier_code",
        "cluster",
        "last_modified_at",
    )
    list_display_links = ("id", "sku", "display_name")
    list_filter = (
        "status",
        CategorySubtreeFilter,
        ("created_at", admin.DateFieldListFilter),
        ("last_modified_at", admin.DateFieldListFilter),
    )
    list_select_related = ("cluster",)
    # Stands for the API's text search (see get_search_results); the admin needs a non-empty
    # list to show its search box.
    search_fields = ("sku",)
    search_help_text = (
        "Names in every language, sku, supplier code, EAN and other codes, source ids."
    )
    readonly_fields = ("created_at", "last_modified_at", "cluster")
    list_per_page = 50
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    ordering = ("-id",)
    action_form = ProductActionForm
    actions = ("set_status", "move_to_category")

    def get_search_results(self, request, queryset, search_term):
        """The API's `term` search: typo-tolerant words of names in every language, exact
        codes and source ids."""
        if not search_term.strip():
            return queryset, False
        return product_term_filter(queryset, search_term), False

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)
        # The page's primary categories, after paging: counting never joins memberships.
        primaries = dict(
            ProductCategory.objects.filter(
                product_id__in=[row.pk for row in rows], is_primary=True
            ).values_list("product_id", "category_id")
        )
        paths = category_paths(set(primaries.values()))
        for row in rows:
            row.admin_category = paths.get(primaries.get(row.pk), "")
        changelist.result_list = rows
        return changelist

    @admin.display(description="name")
    def display_name(self, obj):
        return default_name(obj)

    @admin.display(description="primary category")
    def primary_category(self, obj):
        return getattr(obj, "admin_category", "")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        primary, extra = None, []
        if obj is not None:
            for pk, is_primary in ProductCategory.objects.filter(product=obj).values_list(
                "category_id", "is_primary"
            ):
                if is_primary:
                    primary = pk
                else:
                    extra.append(pk)
        form.base_fields["primary_category"].initial = primary
        form.base_fields["extra_categories"].initial = extra
        return form

    def changes_from(self, form, cleaned):
        changes = super().changes_from(form, cleaned)
        primary = cleaned.get("primary_category")
        changes.relations["parent"] = Ref(id=primary.pk) if primary else None
        return changes

    def clean_related(self, form, cleaned):
        primary = cleaned.get("primary_category")
        extra = cleaned.get("extra_categories") or []
        if primary is not None and primary in extra:
            form.add_error(
                "extra_categories",
                f"{category_paths([primary.pk]).get(primary.pk)} is the primary category already",
            )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        product_id = form.instance.pk
        wanted = {category.pk for category in form.cleaned_data.get("extra_categories") or []}
        current = set(
            ProductCategory.objects.filter(product_id=product_id, is_primary=False).values_list(
                "category_id", flat=True
            )
        )
        primary = form.cleaned_data.get("primary_category")
        wanted.discard(primary.pk if primary else None)
        for category_id in sorted(wanted - current):
            category_add_products(category_id=category_id, product_ids=[product_id])
        for category_id in sorted(current - wanted):
            category_remove_products(category_id=category_id, product_ids=[product_id])

    # Actions -----------------------------------------------------------------------------------

    def _bulk(self, request, queryset, changes: RecordChanges, done: str) -> None:
        """Apply one change to every selected product through the bulk service."""
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        failed = []
        for start in range(0, len(ids), ACTION_CHUNK):
            items = [
                BulkItem(index=i, key=pk, key_value=pk, changes=changes, must_exist=True)
                for i, pk in enumerate(ids[start : start + ACTION_CHUNK])
            ]
            product_bulk_upsert(items=items, lookup_key="id", directives=Directives())
            failed += [item for item in items if item.error is not None]
        if failed:
            shown = "; ".join(f"{item.key}: {error_text(item.error)}" for item in failed[:5])
            self.message_user(
                request,
                f"{len(failed)} of {len(ids)} products were not changed ({shown})",
                level=messages.ERROR,
            )
        if len(ids) > len(failed):
            self.message_user(request, f"{len(ids) - len(failed)} products {done}.")

    @admin.action(description="Set the status of the selected products")
    def set_status(self, request, queryset):
        status = request.POST.get("status")
        if status not in ProductStatus.values:
            self.message_user(request, "Choose a status first.", level=messages.WARNING)
            return
        label = ProductStatus(status).label
        self._bulk(request, queryset, RecordChanges(fields={"status": status}), f'set to "{label}"')

    @admin.action(description="Move the selected products to a category (primary)")
    def move_to_category(self, request, queryset):
        category = ProductActionForm.base_fields["category"].clean(request.POST.get("category"))
        if category is None:
            self.message_user(request, "Choose a category first.", level=messages.WARNING)
            return
        path = category_paths([category.pk]).get(category.pk)
        self._bulk(
            request,
            queryset,
            RecordChanges(relations={"parent": Ref(id=category.pk)}),
            f"moved to {path}",
        )
