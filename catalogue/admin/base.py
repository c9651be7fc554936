"""What every catalogue admin shares: record forms whose saves are the services' writes, rows
editors (attributes, source pairs) and category choosers labelled with their paths.

A form is checked by planning its write as the API would (a dry run: default-language name,
slugs, source pairs, parent), and a broken rule is a form error; the save itself is the
service's write, never a bare model save.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html, format_html_join
from modeltranslation.admin import TabbedTranslationAdmin

from catalogue import rules
from catalogue.errors import CatalogueError
from catalogue.localized import localized_fields
from catalogue.models import Category
from catalogue.records import RecordChanges

# A single right-pointing angle quotation mark between the names: "Tools \u203a Valves".
PATH_SEPARATOR = " \u203a "


# Category paths --------------------------------------------------------------------------------


def category_paths(ids=None) -> dict[int, str]:
    """Map category ids to their paths (see PATH_SEPARATOR), from one query of the tree.

    The tree is small next to the products; reading id, parent and name of every category
    costs less than a query per level.
    """
    name = f"name_{settings.LANGUAGE_CODE}"
    names = [f"name_{code}" for code, _ in settings.LANGUAGES]
    rows = {
        pk: (parent, next((n for n in labels if n), f"Category {pk}"))
        for pk, parent, *labels in Category.objects.values_list("pk", "parent_id", name, *names)
    }
    paths: dict[int, str] = {}

    def path(pk: int) -> str:
        if pk not in paths:
            chain, current, seen = [], pk, set()
            while current is not None and current in rows and current not in seen:
                seen.add(current)
                parent, label = rows[current]
                if current in paths:
                    chain.append(paths[current])
                    break
                chain.append(label)
                current = parent
            paths[pk] = PATH_SEPARATOR.join(reversed(chain))
        return paths[pk]

    return {pk: path(pk) for pk in (rows if ids is None else [i for i in ids if i in rows])}


class PathLabels:
    """A category choice field whose options read as paths, all computed in one query."""

    def label_from_instance(self, obj) -> str:
        if not hasattr(self, "_paths"):
            self._paths = category_paths()
        return self._paths.get(obj.pk, str(obj))


def category_queryset():
    return Category.objects.order_by("tree_id", "lft")


class CategoryChoiceField(PathLabels, forms.ModelChoiceField):
    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", category_queryset())
        super().__init__(**kwargs)


class CategoryMultipleChoiceField(PathLabels, forms.ModelMultipleChoiceField):
    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", category_queryset())
        super().__init__(**kwargs)


# Rows editors ----------------------------------------------------------------------------------


class RowsWidget(forms.Widget):
    """A small table of text inputs, one row per entry, with an "add row" button.

    Each column posts as a list under `<name>_<column>`; rows left blank are dropped.
    """

    template_name = ""  # rendered in render()
    blank_rows = 2

    def __init__(self, columns: tuple[tuple[str, str], ...], attrs=None):
        super().__init__(attrs)
        self.columns = columns

    def value_from_datadict(self, data, files, name):
        lists = [
            data.getlist(f"{name}_{key}") if hasattr(data, "getlist") else data.get(f"{name}_{key}")
            for key, _ in self.columns
        ]
        lists = [value if isinstance(value, list) else [value] if value else [] for value in lists]
        length = max((len(values) for values in lists), default=0)
        rows = []
        for index in range(length):
            row = {
                key: (values[index] if index < len(values) else "").strip()
                for (key, _), values in zip(self.columns, lists, strict=True)
            }
            if any(row.values()):
                rows.append(row)
        return rows

    def value_omitted_from_data(self, data, files, name):
        return False

    def render(self, name, value, attrs=None, renderer=None):
        rows = list(value or []) if isinstance(value, list | tuple) else []
        rows += [{}] * self.blank_rows
        head = format_html_join("", "<th>{}</th>", ((label,) for _, label in self.columns))
        body = format_html_join(
            "",
            "<tr>{}</tr>",
            (
                (
                    format_html_join(
                        "",
                        '<td><input type="text" name="{}_{}" value="{}" '
                        'class="vTextField" aria-label="{}"></td>',
                        (
                            (name, key, "" if row.get(key) is None else row.get(key), label)
                            for key, label in self.columns
                        ),
                    ),
                )
                for row in rows
            ),
        )
        return format_html(
            '<div class="rows-editor"><table id="{}_rows"><thead><tr>{}</tr></thead>'
            "<tbody>{}</tbody></table>"
            '<button type="button" class="button" style="display:block;margin-top:4px" '
            'onclick="var b=this.previousElementSibling.tBodies[0],r=b.rows[b.rows.length-1]'
            ".cloneNode(true);r.querySelectorAll('input').forEach(function(i){{i.value=''}});"
            'b.appendChild(r)">Add a row</button></div>',
            name,
            head,
            body,
        )


class AttributesField(forms.Field):
    """A product's attributes as name/value rows, checked by the attribute rules."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", RowsWidget((("name", "Name"), ("value", "Value"))))
        kwargs.setdefault(
            "help_text",
            "Names like COLOR (A-Z, 0-9 and _), each once; values up to 255 characters.",
        )
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return value if isinstance(value, list) else []

    def clean(self, value):
        attributes = [
            {"name": row.get("name", ""), "value": row.get("value", "")} for row in value or []
        ]
        problems = rules.attribute_problems(attributes)
        if problems:
            raise forms.ValidationError(
                [
                    f"Row {index + 1} ({attributes[index]['name'] or 'no name'}), {field}: "
                    f"{message}"
                    for index, field, message in problems
                ]
            )
        return attributes


class SourcesField(forms.Field):
    """A record's (source, sourceId) pairs as rows; saving replaces the set."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", RowsWidget((("source", "Source"), ("source_id", "Source id"))))
        kwargs.setdefault(
            "help_text", "External ids, e.g. source erp, id P-1. Saving replaces the set."
        )
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return value if isinstance(value, list) else []

    def clean(self, value):
        pairs, problems = [], []
        for number, row in enumerate(value or [], start=1):
            source, source_id = row.get("source", ""), row.get("source_id", "")
            if not source or not source_id:
                problems.append(f"Row {number}: give both the source and the id")
            elif len(source) > 255 or len(source_id) > 255:
                problems.append(f"Row {number}: at most 255 characters each")
            else:
                pairs.append((source, source_id))
        if problems:
            raise forms.ValidationError(problems)
        return pairs


# Record forms and admins -----------------------------------------------------------------------


class RecordForm(forms.ModelForm):
    """A record's form: its fields, plus its source pairs as rows."""

    sources = SourcesField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["sources"] = [
                {"source": pair.source, "source_id": pair.source_id}
                for pair in self.instance.sources.all()
            ]


def error_text(error: CatalogueError) -> str:
    return "; ".join(error.messages)


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
                if self.errors:
                    return cleaned
                error = admin_.writes.check(changes=self.changes, record_id=self.instance.pk)
                if error is not None:
                    self.add_error(None, error_text(error))
                else:
                    admin_.clean_related(self, cleaned)
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

    def clean_related(self, form, cleaned: dict) -> None:
        """Check what the save writes besides the record itself (memberships, …)."""

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
            try:
                self.writes.delete(record_id=pk)
            except CatalogueError as error:
                self.message_user(request, error_text(error), level=messages.ERROR)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except CatalogueError as error:
            self.message_user(request, error_text(error), level=messages.ERROR)
            from django.shortcuts import redirect

            return redirect(request.path)


def default_name(obj) -> str:
    """The record's name in its default language, else in the first language it has one."""
    names = [getattr(obj, f"name_{obj.language.lower()}", "")] + [
        getattr(obj, f"name_{code}", "") for code, _ in settings.LANGUAGES
    ]
    return next((name for name in names if name), "")


admin.site.site_header = "Catalogue administration"
admin.site.site_title = "Catalogue admin"
admin.site.index_title = "Catalogue"
