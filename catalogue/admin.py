"""The staff UI. Writes go through the same services as the API."""

from django.contrib import admin
from django.db import transaction
from modeltranslation.admin import TabbedTranslationAdmin
from mptt.admin import DraggableMPTTAdmin

from catalogue.models import Category, CategorySource, Product, ProductCategory, ProductSource
from catalogue.models.base import default_language
from catalogue.services.category import TREE
from catalogue.services.common import generate_slugs, lock_tree, touch
from catalogue.services.product import refresh_search_document


class CategorySourceInline(admin.TabularInline):
    model = CategorySource
    extra = 0
    fields = ("source", "source_id", "position")


class ProductSourceInline(admin.TabularInline):
    model = ProductSource
    extra = 0
    fields = ("source", "source_id", "position")


class ProductCategoryInline(admin.TabularInline):
    model = ProductCategory
    extra = 0
    autocomplete_fields = ("category",)
    fields = ("category", "is_primary")


class ValidatedAdmin(TabbedTranslationAdmin):
    """Apply the services' rules (default-language name, generated slugs) on admin saves."""

    entity = "Record"

    def get_form(self, request, obj=None, change=False, **kwargs):
        base = super().get_form(request, obj, change=change, **kwargs)
        entity = self.entity

        class Form(base):
            def clean(self):
                cleaned = super().clean()
                language = (cleaned.get("language") or default_language()).lower()
                if not cleaned.get(f"name_{language}"):
                    self.add_error(
                        None, f"A name in the {entity.lower()}'s default language is required."
                    )
                return cleaned

        return Form

    def save_model(self, request, obj, form, change):
        generate_slugs(obj, type(obj), explicit=set())
        touch(obj)
        super().save_model(request, obj, form, change)


@admin.register(Category)
class CategoryAdmin(DraggableMPTTAdmin, ValidatedAdmin):
    entity = "Category"
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
    search_fields = ("name_en", "id")
    readonly_fields = ("created_at", "last_modified_at")
    inlines = [CategorySourceInline]
    mptt_level_indent = 20

    # Tree writes hold the tree lock, as the services' do: the products below a moved
    # category are re-placed under its new ancestors (see ProductAncestor).
    def changelist_view(self, request, *args, **kwargs):
        if request.method == "POST" and request.POST.get("cmd") == "move_node":
            with transaction.atomic():
                lock_tree(TREE)
                return super().changelist_view(request, *args, **kwargs)
        return super().changelist_view(request, *args, **kwargs)

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            lock_tree(TREE)
            super().save_model(request, obj, form, change)


@admin.register(Product)
class ProductAdmin(ValidatedAdmin):
    entity = "Product"
    list_display = ("id", "sku", "__str__", "status", "supplier", "last_modified_at")
    list_filter = ("status", "hidden")
    search_fields = ("sku", "supplier_code", "ean_code")
    readonly_fields = ("created_at", "last_modified_at")
    inlines = [ProductSourceInline, ProductCategoryInline]
    list_per_page = 50
    show_full_result_count = False

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        refresh_search_document(form.instance)
