"""The staff UI. Every save goes through the services the API uses, so the same rules hold.

A form is checked by planning its write as the API would (a dry run: default-language name,
slugs, source pairs, parent), and a broken rule is a form error; the save itself is the
service's write, never a bare model save.
"""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db import transaction
from modeltranslation.admin import TabbedTranslationAdmin
from mptt.admin import DraggableMPTTAdmin
from mptt.forms import TreeNodeChoiceField

from catalogue import rules
from catalogue.dbcode import lock_category_tree
from catalogue.localized import localized_fields
from catalogue.models import Category, Product, ProductCategory
from catalogue.records import RecordChanges, Ref
from catalogue.services.categories import CATEGORY_WRITES
from catalogue.services.products import (
    PRODUCT_WRITES,
    category_add_products,
    category_remove_products,
)

SOURCES_HELP = "One `source:sourceId` pair per line, e.g. erp:P-1. Saving replaces the set."


def _parse_sources(text: str) -> list[tuple[str, str]]:
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        source, separator, source_id = line.partition(":")
        source, source_id = source.strip(), source_id.strip()
        if not separator or not source or not source_id:
            raise forms.ValidationError(f"Line {number}: write source:sourceId")
        if len(source) > 255 or len(source_id) > 255:
            raise forms.ValidationError(f"Line {number}: at most 255 characters each")
        pairs.append((source, source_id))
    return pairs


class RecordForm(forms.ModelForm):
    """A record's form: its fields, plus its source pairs as text."""

    sources = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text=SOURCES_HELP
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["sources"] = "\n".join(
                f"{pair.source}:{pair.source_id}" for pair in self.instance.sources.all()
            )

    def clean_sources(self):
        return _parse_sources(self.cleaned_data.get("sources") or "")


class RecordAdmin(TabbedTranslationAdmin):
    """Forms whose saves are the entity's service writes (see the module docstring)."""

    writes = None  # catalogue.services.records.RecordWrites
    # Plain model fields the form edits besides the localized ones.
    plain_fields: tuple[str, ...] = ()

    def get_form(self, request, obj=None, change=False, **kwargs):
        base = super().get_form(request, obj, change=change, **kwargs)
        admin_ = self

        class Form(base):
            def clean(self):
                cleaned = super().clean()
                if self.errors:
                    return cleaned
                self.changes = admin_.changes_from(self, cleaned)
                error = admin_.writes.check(changes=self.changes, record_id=self.instance.pk)
                if error is not None:
                    self.add_error(None, "; ".join(error.messages))
                return cleaned

        return Form

    def changes_from(self, form, cleaned: dict) -> RecordChanges:
        changes = RecordChanges(sources=cleaned.get("sources", []))
        if "language" in cleaned:
            changes.fields["language"] = cleaned["language"].upper()
        for name in self.plain_fields:
            if name in cleaned:
                changes.fields[name] = cleaned[name]
        for name in localized_fields(self.model):
            per_language = {}
            for code, _ in settings.LANGUAGES:
                key = f"{name}_{code}"
                if key in cleaned:
                    per_language[code.upper()] = cleaned[key] or ""
            if name == "slug":
                for language, slug in per_language.items():
                    problem = rules.slug_problem(slug)
                    if problem:
                        form.add_error(f"slug_{language.lower()}", problem)
                # Only slugs typed in are "given"; empty ones are generated from the names.
                per_language = {k: v for k, v in per_language.items() if v}
            changes.localized[name] = per_language
        return changes

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if change:
                record_id = self.writes.update(record_id=obj.pk, changes=form.changes)
            else:
                record_id = self.writes.create(changes=form.changes)
            saved = self.model.objects.get(pk=record_id)
        obj.__dict__.update(saved.__dict__)
        obj._state.adding = False

    def delete_model(self, request, obj):
        self.writes.delete(record_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for pk in queryset.values_list("pk", flat=True):
            self.writes.delete(record_id=pk)


class CategoryForm(RecordForm):
    parent = TreeNodeChoiceField(queryset=Category.objects.all(), required=False)


@admin.register(Category)
class CategoryAdmin(DraggableMPTTAdmin, RecordAdmin):
    writes = CATEGORY_WRITES
    plain_fields = ("hidden", "priority")
    form = CategoryForm
    list_display = (
        "tree_actions",
        "indented_title",
        "id",
        "hidden",
        "priority",
        "last_modified_at",
    )
    list_display_links = ("indented_title",)
    list_filter = ("hidden", "level")
    search_fields = [f"name_{code}" for code, _ in settings.LANGUAGES]
    readonly_fields = ("created_at", "last_modified_at")
    mptt_level_indent = 20

    def changes_from(self, form, cleaned):
        changes = super().changes_from(form, cleaned)
        parent = cleaned.get("parent")
        changes.relations["parent"] = Ref(id=parent.pk) if parent else None
        return changes

    # Drag-and-drop moves hold the tree lock, as the services' tree writes do: the products
    # below a moved category are re-placed under its new ancestors.
    def changelist_view(self, request, *args, **kwargs):
        if request.method == "POST" and request.POST.get("cmd") == "move_node":
            with transaction.atomic():
                lock_category_tree()
                return super().changelist_view(request, *args, **kwargs)
        return super().changelist_view(request, *args, **kwargs)


class ProductForm(RecordForm):
    primary_category = TreeNodeChoiceField(
        queryset=Category.objects.all(), required=False, help_text="The product's primary category."
    )
    extra_categories = forms.ModelMultipleChoiceField(
        queryset=Category.objects.all(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Further categories the product is listed in.",
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
    list_display = ("id", "sku", "__str__", "status", "supplier", "last_modified_at")
    list_filter = ("status", "hidden")
    search_fields = ("sku", "supplier_code", "ean_code")
    readonly_fields = ("created_at", "last_modified_at")
    list_per_page = 50
    show_full_result_count = False

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            links = dict(
                ProductCategory.objects.filter(product=obj).values_list("category_id", "is_primary")
            )
            primary = next((pk for pk, is_primary in links.items() if is_primary), None)
            form.base_fields["primary_category"].initial = primary
            form.base_fields["extra_categories"].initial = [
                pk for pk, is_primary in links.items() if not is_primary
            ]
        return form

    def changes_from(self, form, cleaned):
        changes = super().changes_from(form, cleaned)
        attributes = cleaned.get("attributes")
        if not isinstance(attributes, list):
            form.add_error("attributes", 'Write a list such as [{"name": "COLOR", "value": "red"}]')
        else:
            for index, name, message in rules.attribute_problems(attributes):
                form.add_error("attributes", f"Attribute {index + 1} {name}: {message}")
        primary = cleaned.get("primary_category")
        changes.relations["parent"] = Ref(id=primary.pk) if primary else None
        return changes

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
        for category_id in wanted - current:
            category_add_products(category_id=category_id, product_ids=[product_id])
        for category_id in current - wanted:
            category_remove_products(category_id=category_id, product_ids=[product_id])
