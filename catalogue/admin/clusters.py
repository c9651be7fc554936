"""Cluster configs with their settings, clusters with their products and options, options with
their selectable products; every save is a write of catalogue/services/clusters.py."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.utils.html import format_html

from catalogue import rules
from catalogue.admin.base import (
    CategoryChoiceField,
    RecordAdmin,
    RecordForm,
    default_name,
    error_text,
)
from catalogue.admin.pagination import EstimatedCountPaginator
from catalogue.models import (
    Cluster,
    ClusterCategory,
    ClusterConfig,
    ClusterConfigSetting,
    ClusterOption,
    ClusterOptionProduct,
    Product,
)
from catalogue.records import RecordChanges, Ref
from catalogue.selectors.terms import cluster_term_filter
from catalogue.services.clusters import (
    CLUSTER_CONFIG_WRITES,
    CLUSTER_OPTION_WRITES,
    CLUSTER_WRITES,
    SettingChanges,
    cluster_assign_products,
    cluster_config_setting_add,
    cluster_config_setting_delete,
    cluster_config_setting_update,
    cluster_unassign_products,
)


def product_picker(field_name: str, *, multiple: bool):
    """An autocomplete of products: it asks the product admin's search (the API's term
    search), so it stays usable with a million products."""
    field = ClusterOption._meta.get_field(field_name)
    return (AutocompleteSelectMultiple if multiple else AutocompleteSelect)(field, admin.site)


# Configs ---------------------------------------------------------------------------------------


class SettingFormSet(forms.BaseInlineFormSet):
    """The settings as the config would have them after the save, checked by the rules."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kept = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            if form.instance.pk and data["attribute_name"] != form.initial.get("attribute_name"):
                raise forms.ValidationError(
                    "An attribute name cannot be changed once created; delete the setting and "
                    "add a new one."
                )
            kept.append(
                SettingChanges(
                    attribute_name=data["attribute_name"],
                    display_type=data["display_type"],
                    priority=data.get("priority") or 0,
                )
            )
        problem = rules.settings_problem(kept)
        if problem is not None:
            raise forms.ValidationError(error_text(problem))


class SettingInline(admin.TabularInline):
    model = ClusterConfigSetting
    formset = SettingFormSet
    fields = ("attribute_name", "display_type", "priority")
    extra = 1


class ClusterConfigForm(forms.ModelForm):
    class Meta:
        model = ClusterConfig
        fields = ("name",)


@admin.register(ClusterConfig)
class ClusterConfigAdmin(admin.ModelAdmin):
    form = ClusterConfigForm
    inlines = (SettingInline,)
    list_display = ("name", "setting_names", "id", "last_modified_at")
    search_fields = ("name",)
    readonly_fields = ("created_at", "last_modified_at")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("settings")

    @admin.display(description="settings")
    def setting_names(self, obj):
        return ", ".join(s.attribute_name for s in obj.settings.all())

    def get_readonly_fields(self, request, obj=None):
        # The name never changes once created.
        return (*self.readonly_fields, "name") if obj is not None else self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        base = super().get_form(request, obj, change=change, **kwargs)

        class Form(base):
            def clean(self):
                cleaned = super().clean()
                if self.errors or self.instance.pk:
                    return cleaned
                self.changes = RecordChanges(fields={"name": cleaned.get("name", "")})
                error = CLUSTER_CONFIG_WRITES.check(changes=self.changes)
                if error is not None:
                    self.add_error("name", error_text(error))
                return cleaned

        return Form

    def save_model(self, request, obj, form, change):
        if not change:
            obj.pk = CLUSTER_CONFIG_WRITES.create(changes=form.changes)
            obj.__dict__.update(ClusterConfig.objects.get(pk=obj.pk).__dict__)
            obj._state.adding = False

    def save_formset(self, request, form, formset, change):
        config_id = form.instance.pk
        # What the change message reports.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            data = getattr(inline_form, "cleaned_data", None)
            setting = inline_form.instance
            if not data:
                continue
            if data.get("DELETE"):
                if setting.pk:
                    cluster_config_setting_delete(config_id=config_id, setting_id=setting.pk)
                    formset.deleted_objects.append(setting)
            elif setting.pk:
                if inline_form.has_changed():
                    cluster_config_setting_update(
                        config_id=config_id,
                        setting_id=setting.pk,
                        fields={
                            "display_type": data["display_type"],
                            "priority": data.get("priority") or 0,
                        },
                    )
                    formset.changed_objects.append((setting, inline_form.changed_data))
            elif inline_form.has_changed():
                setting.pk = cluster_config_setting_add(
                    config_id=config_id,
                    setting=SettingChanges(
                        attribute_name=data["attribute_name"],
                        display_type=data["display_type"],
                        priority=data.get("priority") or 0,
                    ),
                )
                formset.new_objects.append(setting)

    def delete_model(self, request, obj):
        CLUSTER_CONFIG_WRITES.delete(record_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for pk in queryset.values_list("pk", flat=True):
            CLUSTER_CONFIG_WRITES.delete(record_id=pk)


# Clusters --------------------------------------------------------------------------------------


class OptionInline(admin.TabularInline):
    """The cluster's options, each edited on its own page."""

    model = ClusterOption
    fields = ("option_name", "is_required", "hidden", "sort_order", "product_count")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("selectable")

    @admin.display(description="name")
    def option_name(self, obj):
        return default_name(obj)

    @admin.display(description="selectable products")
    def product_count(self, obj):
        return len(obj.selectable.all())


def product_field(name: str, help_text: str, *, multiple: bool = False) -> forms.Field:
    """An optional choice of products (or one product), picked by the term search."""
    field = forms.ModelMultipleChoiceField if multiple else forms.ModelChoiceField
    return field(
        queryset=Product.objects.all(),
        required=False,
        widget=product_picker(name, multiple=multiple),
        help_text=help_text,
    )


class ClusterForm(RecordForm):
    primary_category = CategoryChoiceField(required=False, help_text="The primary category.")
    products = product_field(
        "products",
        "The variants. Products added move here from their category or cluster; products "
        "removed move to the cluster's primary category.",
        multiple=True,
    )
    default_product = product_field(
        "default_product", "The variant chosen first; one of the cluster's products."
    )


@admin.register(Cluster)
class ClusterAdmin(RecordAdmin):
    writes = CLUSTER_WRITES
    form = ClusterForm
    plain_fields = ("code", "hidden", "priority")
    inlines = (OptionInline,)
    list_display = ("id", "code", "display_name", "config", "hidden", "last_modified_at")
    list_display_links = ("id", "code", "display_name")
    list_filter = ("config", "hidden")
    list_select_related = ("config",)
    search_fields = ("code",)
    search_help_text = "Names in every language, code, source ids."
    readonly_fields = ("created_at", "last_modified_at")
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return cluster_term_filter(queryset, search_term), False

    @admin.display(description="name")
    def display_name(self, obj):
        return default_name(obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        primary = None
        products = []
        if obj is not None:
            primary = (
                ClusterCategory.objects.filter(cluster=obj, is_primary=True)
                .values_list("category_id", flat=True)
                .first()
            )
            products = list(obj.products.values_list("pk", flat=True))
        form.base_fields["primary_category"].initial = primary
        form.base_fields["products"].initial = products
        return form

    def changes_from(self, form, cleaned):
        changes = super().changes_from(form, cleaned)
        config = cleaned.get("config")
        changes.fields["config_id"] = config.pk if config else None
        primary = cleaned.get("primary_category")
        changes.relations["parent"] = Ref(id=primary.pk) if primary else None
        current = (
            set(form.instance.products.values_list("pk", flat=True)) if form.instance.pk else set()
        )
        wanted = {product.pk for product in cleaned.get("products") or []}
        default = cleaned.get("default_product")
        form.deferred_default = None
        if default is not None and default.pk not in current and default.pk in wanted:
            # The default joins with the products; it is set once they are in.
            form.deferred_default = default.pk
            changes.fields["default_product_id"] = None
        else:
            changes.fields["default_product_id"] = default.pk if default else None
        if current - wanted and primary is None:
            form.add_error(
                "products",
                "Products removed from a cluster move to its primary category: choose one.",
            )
        return changes

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        cluster_id = form.instance.pk
        current = set(Product.objects.filter(cluster_id=cluster_id).values_list("pk", flat=True))
        wanted = {product.pk for product in form.cleaned_data.get("products") or []}
        if wanted - current:
            cluster_assign_products(cluster_id=cluster_id, product_ids=sorted(wanted - current))
        if current - wanted:
            primary = form.cleaned_data.get("primary_category")
            cluster_unassign_products(
                cluster_id=cluster_id,
                product_ids=sorted(current - wanted),
                to_category=primary.pk,
            )
        if form.deferred_default is not None:
            CLUSTER_WRITES.update(
                record_id=cluster_id,
                changes=RecordChanges(fields={"default_product_id": form.deferred_default}),
            )


# Options ---------------------------------------------------------------------------------------


class ClusterOptionForm(RecordForm):
    products = product_field(
        "products", "The products a customer may pick; they stay where they are.", multiple=True
    )
    default_product = product_field(
        "default_product", "The product chosen first; one of the selectable products."
    )


@admin.register(ClusterOption)
class ClusterOptionAdmin(RecordAdmin):
    writes = CLUSTER_OPTION_WRITES
    form = ClusterOptionForm
    plain_fields = ("is_required", "hidden", "sort_order")
    list_display = ("id", "display_name", "cluster_link", "is_required", "sort_order")
    list_display_links = ("id", "display_name")
    list_select_related = ("cluster",)
    list_filter = ("is_required", "hidden")
    search_fields = [f"name_{code}" for code, _ in settings.LANGUAGES]
    autocomplete_fields = ("cluster",)
    readonly_fields = ("created_at", "last_modified_at")

    def get_readonly_fields(self, request, obj=None):
        # An option stays in the cluster it was created in.
        return (*self.readonly_fields, "cluster") if obj is not None else self.readonly_fields

    @admin.display(description="name")
    def display_name(self, obj):
        return default_name(obj)

    @admin.display(description="cluster")
    def cluster_link(self, obj):
        return format_html('<a href="../cluster/{}/change/">{}</a>', obj.cluster_id, obj.cluster)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.base_fields["products"].initial = (
            list(
                ClusterOptionProduct.objects.filter(option=obj).values_list("product_id", flat=True)
            )
            if obj is not None
            else []
        )
        return form

    def changes_from(self, form, cleaned):
        changes = super().changes_from(form, cleaned)
        if not form.instance.pk:
            cluster = cleaned.get("cluster")
            changes.relations["cluster"] = cluster.pk if cluster else None
        changes.relations["products"] = [product.pk for product in cleaned.get("products") or []]
        default = cleaned.get("default_product")
        changes.fields["default_product_id"] = default.pk if default else None
        return changes
