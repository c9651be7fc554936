"""Reading the localized-field registration, so no code repeats the list of fields."""

from functools import cache

from django.conf import settings
from modeltranslation.translator import translator


def language_codes() -> list[str]:
    """Catalogue languages as the API spells them (upper-case), default first."""
    return settings.CATALOGUE_LANGUAGES


@cache
def localized_fields(model) -> tuple[str, ...]:
    """Return the model's localized field names in registration order (none when the model
    has no localized fields)."""
    if model not in translator.get_registered_models():
        return ()
    registered = set(translator.get_options_for_model(model).fields)
    return tuple(f.name for f in model._meta.concrete_fields if f.name in registered)
