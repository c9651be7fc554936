"""Slug allocation: generated from names, unique per language, taken slugs skipped."""

import pytest

from catalogue.models import Category, Product
from catalogue.services.slugs import SLUG_MAX_LENGTH, allocate_slugs, slug_base
from tests.factories import make_category

pytestmark = pytest.mark.django_db


def take(*slugs: str, language: str = "EN") -> None:
    """Store categories holding these slugs in `language`."""
    for number, slug in enumerate(slugs):
        category = make_category(f"Taken {language} {number} {slug}")
        Category.objects.filter(pk=category.pk).update(**{f"slug_{language.lower()}": slug})


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("Brass valve", "brass-valve"),
        ("  Brass   Valve!  ", "brass-valve"),
        ("Über Größe", "uber-groe"),
        ("Valve 3/4 inch", "valve-34-inch"),
        ("--Valve--", "valve"),
        ("!!!", "item"),
        ("水", "item"),
        ("", "item"),
    ],
)
def test_a_base_is_the_slugified_name_or_a_fallback(name, base):
    assert slug_base(name) == base


def test_a_long_name_leaves_room_for_a_suffix_and_ends_without_a_dash():
    base = slug_base("a" * 987 + " b" * 50)

    assert len(base) <= SLUG_MAX_LENGTH - 12
    assert not base.endswith("-")
    assert base.startswith("a" * 987)


def test_free_slugs_are_the_bases():
    assert allocate_slugs(Category, "EN", [(1, "Drills"), (2, "Saws")]) == {
        1: "drills",
        2: "saws",
    }
    assert allocate_slugs(Category, "EN", []) == {}


def test_one_name_asked_for_several_times_is_numbered_in_order():
    result = allocate_slugs(Category, "EN", [("a", "Drills"), ("b", "Saws"), ("c", "DRILLS!")])

    assert result == {"a": "drills", "b": "saws", "c": "drills-2"}


def test_taken_slugs_are_skipped():
    take("drills", "drills-2", "saws-2")

    result = allocate_slugs(Category, "EN", [(1, "Drills"), (2, "Saws"), (3, "Saws")])

    assert result == {1: "drills-3", 2: "saws", 3: "saws-3"}


def test_a_gap_in_the_numbers_is_used_first():
    take("drills", "drills-3")

    result = allocate_slugs(Category, "EN", [(1, "Drills"), (2, "Drills")])

    assert result == {1: "drills-2", 2: "drills-4"}


def test_a_free_base_is_used_even_when_variants_are_taken():
    take("drills-2", "drills-3")

    result = allocate_slugs(Category, "EN", [(1, "Drills"), (2, "Drills")])

    assert result == {1: "drills", 2: "drills-4"}


def test_variants_beyond_the_probed_ones_are_read_from_the_index():
    take("drills", *(f"drills-{number}" for number in range(2, 16)), "drills-17")

    result = allocate_slugs(Category, "EN", [(1, "Drills"), (2, "Drills")])

    assert result == {1: "drills-16", 2: "drills-18"}


def test_slugs_that_only_share_a_prefix_do_not_count():
    take("drills", "drills-extra", "drills-2x", "drillsaw", "drills-0002")

    assert allocate_slugs(Category, "EN", [(1, "Drills")]) == {1: "drills-2"}


def test_slugs_are_unique_per_language_only():
    take("drills", "drills-2", language="DE")

    assert allocate_slugs(Category, "EN", [(1, "Drills")]) == {1: "drills"}
    assert allocate_slugs(Category, "DE", [(1, "Drills")]) == {1: "drills-3"}


def test_slugs_are_unique_per_model_only():
    take("valve")

    assert allocate_slugs(Product, "EN", [(1, "Valve")]) == {1: "valve"}
    assert allocate_slugs(Category, "EN", [(1, "Valve")]) == {1: "valve-2"}


def test_services_store_the_allocated_slugs():
    first = make_category("Drills", names={"DE": "Bohrer"})
    second = make_category("Drills", names={"DE": "Bohrer"})
    third = make_category("Bohrer", names={"DE": "Drills"})

    rows = Category.objects.order_by("pk").values_list("slug_en", "slug_de")
    assert [rows.get(pk=record.pk) for record in (first, second, third)] == [
        ("drills", "bohrer"),
        ("drills-2", "bohrer-2"),
        ("bohrer", "drills"),
    ]
