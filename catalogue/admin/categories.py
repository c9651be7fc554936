"""Categories: a draggable tree with paths and product counts; moves are service writes."""

from django import http
from django.contrib import admin, messages
from django.db import transaction
from mptt.admin import DraggableMPTTAdmin

from catalogue.admin.base import (
    CategoryChoiceField,
    RecordAdmin,
    RecordForm,
    category_paths,
    error_text,
)
from catalogue.dbcode import lock_category_tree
from catalogue.errors import CatalogueError
from catalogue.models import Category
from catalogue.records import RecordChanges, Ref
from catalogue.selectors.counts import subtree_product_counts
from catalogue.selectors.terms import category_term_filter
from catalogue.services.categories import CATEGORY_WRITES


class CategoryForm(RecordForm):
    parent = CategoryChoiceField(required=False, help_text="Leave empty for a top category.")


@admin.register(Category)
class CategoryAdmin(DraggableMPTTAdmin, RecordAdmin):
    writes = CATEGORY_WRITES
    plain_fields = ("hidden", "priority")
    form = CategoryForm
    list_display = (
        "tree_actions",
        "indented_title",
        "path",
        "product_count",
        "id",
        "hidden",
        "priority",
        "last_modified_at",
    )
    list_display_links = ("indented_title",)
    list_filter = ("hidden", "level")
    # Searched by the API's `term` search (get_search_results); Django asks for some field.
    search_fields = ("id",)
    search_help_text = (
        "Names in every language and source ids: plurals, words inside compound words, "
        "unfinished words and typos are found too."
    )
    readonly_fields = ("created_at", "last_modified_at")
    mptt_level_indent = 20

    def get_search_results(self, request, queryset, search_term):
        """The API's `term` search, for the list and for category pickers alike."""
        if not search_term.strip():
            return queryset, False
        return category_term_filter(queryset, search_term), False

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)
        ids = [row.pk for row in rows]
        counts = subtree_product_counts(ids)
        paths = category_paths(ids)
        for row in rows:
            row.admin_product_count = counts.get(row.pk, 0)
            row.admin_path = paths.get(row.pk, "")
        changelist.result_list = rows
        return changelist

    @admin.display(description="path")
    def path(self, obj):
        return getattr(obj, "admin_path", "")

    @admin.display(description="products")
    def product_count(self, obj):
        """Products in the category or below it, from the maintained counts."""
        return getattr(obj, "admin_product_count", 0)

    def changes_from(self, form, cleaned):
        changes = super().changes_from(form, cleaned)
        parent = cleaned.get("parent")
        changes.relations["parent"] = Ref(id=parent.pk) if parent else None
        return changes

    # Drag and drop: a move to another parent is the service's update of the parent, as
    # the API does it; a reordering among siblings keeps the parent and holds the tree lock
    # as the services' tree writes do.
    def _move_node(self, request):
        position = request.POST.get("position")
        try:
            cut = Category.objects.get(pk=request.POST.get("cut_item"))
            target = Category.objects.get(pk=request.POST.get("pasted_on"))
        except (Category.DoesNotExist, TypeError, ValueError):
            return super()._move_node(request)
        if position == "last-child":
            parent_id = target.pk
        elif position in ("left", "right"):
            parent_id = target.parent_id
        else:
            return super()._move_node(request)
        if not self.has_change_permission(request, cut):
            return super()._move_node(request)
        if parent_id == cut.parent_id:
            with transaction.atomic():
                lock_category_tree()
                return super()._move_node(request)
        changes = RecordChanges(
            relations={"parent": Ref(id=parent_id) if parent_id is not None else None}
        )
        try:
            CATEGORY_WRITES.update(record_id=cut.pk, changes=changes)
        except CatalogueError as error:
            self.message_user(request, error_text(error), level=messages.ERROR)
            return http.HttpResponse("FAIL, invalid move.")
        self.log_change(request, cut, f"Moved under {parent_id or 'the top'}.")
        self.message_user(request, f"{cut} has been successfully moved.", level=messages.SUCCESS)
        return http.HttpResponse("OK, moved.")
