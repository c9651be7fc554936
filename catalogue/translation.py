"""The one list of localized fields per model (django-modeltranslation registration)."""

from modeltranslation.translator import TranslationOptions, register

from catalogue.models import Category, Cluster, ClusterOption, Product

COMMON_FIELDS = (
    "name",
    "description",
    "short_description",
    "slug",
    "metadata_title",
    "metadata_description",
    "metadata_keywords",
    "metadata_canonical_url",
)


@register(Category)
class CategoryTranslation(TranslationOptions):
    fields = COMMON_FIELDS
    required_languages = ()
    empty_values = ""


@register(Product)
class ProductTranslation(TranslationOptions):
    fields = (*COMMON_FIELDS, "notes", "package_description")
    required_languages = ()
    empty_values = ""


@register(Cluster)
class ClusterTranslation(TranslationOptions):
    fields = COMMON_FIELDS
    required_languages = ()
    empty_values = ""


@register(ClusterOption)
class ClusterOptionTranslation(TranslationOptions):
    fields = ("name", "description", "short_description")
    required_languages = ()
    empty_values = ""
