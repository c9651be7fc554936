"""Product bulk: matching, directives, per-item outcomes, flags."""

import json
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalogue.models import (
    Category,
    Product,
    ProductCategory,
    ProductSearch,
    ProductSource,
    SearchWord,
)
from catalogue.services.products import category_add_products
from tests.assertions import assert_error, table_counts
from tests.assertions import bulk_completed as completed
from tests.assertions import bulk_failed as failed
from tests.assertions import bulk_ok as ok
from tests.assertions import bulk_results as results
from tests.factories import ls, make_category

URL = "/v2/products/bulk"


# Helpers ---------------------------------------------------------------------------------------


def bulk(api, key: str, products, *, directives=None, params=None, headers=None, delete=False):
    body = {"products": products}
    if directives is not None:
        body["directives"] = directives
    path = f"{URL}/{key}/delete" if delete else f"{URL}/{key}"
    return api.post(path, body, params=params, headers=headers)


def item(source_id: str, name: str | None = None, source: str = "erp", **fields) -> dict:
    """A product item keyed by (source, sourceId)."""
    return {
        "source": source,
        "sourceId": source_id,
        "names": ls(EN=name or f"Product {source_id}"),
        **fields,
    }


def by_pair(source_id: str, source: str = "erp") -> Product:
    return Product.objects.get(sources__source=source, sources__source_id=source_id)


def fetch(api, product_id: int) -> dict:
    response = api.get(f"/v2/products/id/{product_id}")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def product_snapshot() -> tuple[list, ...]:
    """Every product row, source pair, category membership, search document and word."""
    return (
        list(Product.objects.order_by("pk").values()),
        list(ProductSearch.objects.order_by("pk").values()),
        list(ProductSource.objects.order_by("pk").values()),
        list(ProductCategory.objects.order_by("pk").values()),
        list(SearchWord.objects.order_by("word").values_list("word", flat=True)),
    )


def as_object(directives: dict) -> dict:
    return directives


def as_array(directives: dict) -> list:
    return [{"operation": name, "fields": fields} for name, fields in directives.items()]


BOTH_FORMS = pytest.mark.parametrize("form", [as_object, as_array], ids=["object", "array"])


@pytest.fixture
def existing(api) -> Product:
    """One product known as erp/P-1, sku SKU-1, supplier ACME / AC-1."""
    response = api.post(
        "/v2/products",
        {
            **item("P-1", "Brass valve"),
            "sku": "SKU-1",
            "supplier": "ACME",
            "supplierCode": "AC-1",
        },
    )
    assert response.status_code == 201, response.content
    return Product.objects.get(pk=response.json()["data"]["id"])


# Lookup keys -----------------------------------------------------------------------------------


def test_by_id_updates_a_match_and_creates_an_unknown_id_with_a_new_id(api, existing):
    unknown = existing.pk + 1000

    response = bulk(
        api,
        "id",
        [
            {"id": existing.pk, "names": ls(EN="Renamed valve")},
            {"id": unknown, "names": ls(EN="New valve")},
        ],
    )

    data = results(response, completed(created=1, updated=1))
    new = Product.objects.exclude(pk=existing.pk).get()
    assert data == [
        ok(0, "update", existing.pk, existing.pk, "id"),
        ok(1, "create", new.pk, unknown, "id"),
    ]
    assert new.pk != unknown
    assert not Product.objects.filter(pk=unknown).exists()
    assert (new.name_en, Product.objects.get(pk=existing.pk).name_en) == (
        "New valve",
        "Renamed valve",
    )


def test_by_source_id_matches_on_the_pair(api, existing):
    response = bulk(
        api,
        "sourceId",
        [
            item("P-1", "Renamed valve"),
            item("P-1", "Same id, other source", source="pim"),
            item("P-2", "Second valve"),
        ],
    )

    data = results(response, completed(created=2, updated=1))
    pim, second = by_pair("P-1", "pim"), by_pair("P-2")
    assert data == [
        ok(0, "update", existing.pk, "P-1", "sourceId"),
        ok(1, "create", pim.pk, "P-1", "sourceId"),
        ok(2, "create", second.pk, "P-2", "sourceId"),
    ]
    assert by_pair("P-1").name_en == "Renamed valve"
    assert fetch(api, pim.pk)["sources"] == [{"source": "pim", "sourceId": "P-1"}]
    assert Product.objects.count() == 3


def test_by_sku(api, existing):
    response = bulk(
        api,
        "sku",
        [
            {"sku": "SKU-1", "names": ls(EN="Renamed valve")},
            {"sku": "SKU-2", "names": ls(EN="Second valve")},
        ],
    )

    data = results(response, completed(created=1, updated=1))
    second = Product.objects.get(sku="SKU-2")
    assert data == [
        ok(0, "update", existing.pk, "SKU-1", "sku"),
        ok(1, "create", second.pk, "SKU-2", "sku"),
    ]
    assert Product.objects.get(sku="SKU-1").name_en == "Renamed valve"


def test_by_supplier_code_matches_together_with_the_supplier(api, existing):
    response = bulk(
        api,
        "supplierCode",
        [
            {"supplier": "ACME", "supplierCode": "AC-1", "names": ls(EN="Renamed valve")},
            {"supplier": "OTHER", "supplierCode": "AC-1", "names": ls(EN="Other supplier")},
        ],
    )

    data = results(response, completed(created=1, updated=1))
    other = Product.objects.get(supplier="OTHER")
    assert data == [
        ok(0, "update", existing.pk, "AC-1", "supplierCode"),
        ok(1, "create", other.pk, "AC-1", "supplierCode"),
    ]
    assert Product.objects.get(pk=existing.pk).name_en == "Renamed valve"
    assert other.supplier_code == "AC-1"


def test_a_sku_matching_several_products_fails_that_item(api, existing):
    twin = Product.objects.get(
        pk=api.post("/v2/products", {"names": ls(EN="Twin"), "sku": "SKU-1"}).json()["data"]["id"]
    )
    before = product_snapshot()

    response = bulk(api, "sku", [{"sku": "SKU-1", "names": ls(EN="Which one?")}])

    assert results(response, completed(failed=1)) == [
        failed(
            0,
            "SKU-1",
            "sku",
            80005,
            "ProductMultipleFound",
            "More than one Product with sku [SKU-1] found",
        )
    ]
    assert product_snapshot() == before
    assert twin.name_en == "Twin"


def test_every_upsert_action_in_one_request(api, existing):
    response = bulk(
        api,
        "sourceId",
        [
            item("P-1", "Renamed valve"),
            item("P-2"),
            item("P-3", status="X"),
        ],
    )

    data = results(response, completed(created=1, updated=1, failed=1))
    assert data == [
        ok(0, "update", existing.pk, "P-1", "sourceId"),
        ok(1, "create", by_pair("P-2").pk, "P-2", "sourceId"),
        failed(
            2,
            "P-3",
            "sourceId",
            10007,
            "SchemaValidationException",
            "status: Invalid enum value 'X'",
        ),
    ]

    skipped = bulk(api, "sourceId", [item("P-4")], directives={"skipCreate": []})

    assert results(skipped, completed(skipped=1)) == [ok(0, "skip", None, "P-4", "sourceId")]


def test_the_created_product_reads_back_with_every_value(api):
    category = make_category("Valves", sources=[("erp", "CAT-1")])

    response = bulk(
        api,
        "sourceId",
        [
            {
                **item("P-1", "Brass valve"),
                "names": ls(EN="Brass valve", DE="Messingventil"),
                "sources": [{"source": "pim", "sourceId": "42"}],
                "sku": "SKU-1",
                "status": "P",
                "priority": 3,
                "hidden": "Y",
                "width": 12.5,
                "attributes": [{"name": "COLOR", "value": "brass"}],
                "parent": {"sourceId": "CAT-1"},
            }
        ],
    )

    [result] = results(response, completed(created=1))
    data = fetch(api, result["id"])
    assert data["names"] == ls(EN="Brass valve", DE="Messingventil")
    assert data["slugs"] == ls(EN="brass-valve", DE="messingventil")
    assert data["sources"] == [
        {"source": "erp", "sourceId": "P-1"},
        {"source": "pim", "sourceId": "42"},
    ]
    assert (data["sku"], data["status"], data["priority"], data["hidden"]) == ("SKU-1", "P", 3, "Y")
    assert (data["width"], data["attributes"]) == (12.5, [{"name": "COLOR", "value": "brass"}])
    # A parent by sourceId without source uses the item's own source.
    assert data["parent"] == {"id": category.pk}
    assert data["categoryIds"] == [category.pk]
    assert data["createdAt"] == data["lastModifiedAt"]


def test_parent_moves_the_primary_category_and_keeps_extra_memberships(api, existing):
    first, second, extra = make_category("First"), make_category("Second"), make_category("Extra")
    results(bulk(api, "sourceId", [item("P-1", parent={"id": first.pk})]))
    category_add_products(category_id=extra.pk, product_ids=[existing.pk])

    response = bulk(api, "sourceId", [item("P-1", parent={"id": second.pk})])

    assert results(response) == [ok(0, "update", existing.pk, "P-1", "sourceId")]
    assert fetch(api, existing.pk)["categoryIds"] == [second.pk, extra.pk]

    results(bulk(api, "sourceId", [item("P-1", parent=None)]))

    assert fetch(api, existing.pk)["categoryIds"] == [extra.pk]
    assert fetch(api, existing.pk)["parent"] is None


# Unchanged items -------------------------------------------------------------------------------


def rich_item(source_id: str, category: Category) -> dict:
    return {
        "source": "erp",
        "sourceId": source_id,
        "sources": [{"source": "erp", "sourceId": source_id}, {"source": "pim", "sourceId": "9"}],
        "names": ls(EN="Brass valve", NL="Messing klep", DE="Messingventil", FR="Vanne"),
        "descriptions": ls(EN="A valve of brass", DE="Ein Ventil"),
        "shortDescriptions": ls(EN="Valve"),
        "notes": ls(EN="Handle with care"),
        "packageDescriptions": ls(EN="Box of one"),
        "metadataTitles": ls(EN="Brass valve"),
        "sku": "SKU-1",
        "supplier": "ACME",
        "supplierCode": "AC-1",
        "manufacturer": "Valvemakers",
        "eanCode": "8712345678906",
        "status": "A",
        "taxCode": "L",
        "unit": 2,
        "minimumQuantity": 4,
        "packageUnitQuantity": 10,
        "priority": 5,
        "hidden": "N",
        "orderable": "Y",
        "returnable": "N",
        "physical": "Y",
        "width": 12.5,
        "height": 3,
        "depth": 0.1,
        "weight": None,
        "attributes": [{"name": "COLOR", "value": "brass"}, {"name": "SIZE", "value": "15"}],
        "parent": {"id": category.pk},
    }


def test_an_unchanged_resend_reports_update_and_keeps_last_modified_at(api):
    category = make_category("Valves")
    sent = [rich_item("P-1", category), rich_item("P-2", category) | {"sku": "SKU-2"}]
    sent[1]["sources"] = [{"source": "erp", "sourceId": "P-2"}]
    sent[1]["names"] = ls(EN="Steel valve")
    first = results(bulk(api, "sourceId", sent), completed(created=2))
    ids = [result["id"] for result in first]
    before = product_snapshot()
    stamps = [fetch(api, pk)["lastModifiedAt"] for pk in ids]

    again = bulk(api, "sourceId", sent)

    assert results(again, completed(updated=2)) == [
        ok(0, "update", ids[0], "P-1", "sourceId"),
        ok(1, "update", ids[1], "P-2", "sourceId"),
    ]
    assert product_snapshot() == before
    assert [fetch(api, pk)["lastModifiedAt"] for pk in ids] == stamps


def test_a_real_change_moves_last_modified_at_of_that_product_only(api):
    category = make_category("Valves")
    sent = [rich_item("P-1", category), item("P-2")]
    ids = [result["id"] for result in results(bulk(api, "sourceId", sent))]
    stamps = [fetch(api, pk)["lastModifiedAt"] for pk in ids]

    sent[0]["names"] = ls(EN="Brass valve", NL="Messing klep", DE="Messingventil", FR="Robinet")
    response = bulk(api, "sourceId", sent)

    assert results(response, completed(updated=2)) == [
        ok(0, "update", ids[0], "P-1", "sourceId"),
        ok(1, "update", ids[1], "P-2", "sourceId"),
    ]
    after = [fetch(api, pk)["lastModifiedAt"] for pk in ids]
    assert after[0] > stamps[0]
    assert after[1] == stamps[1]
    assert fetch(api, ids[0])["names"][-1] == {"language": "FR", "value": "Robinet"}


@pytest.mark.parametrize(
    "change",
    [
        {"sources": [{"source": "erp", "sourceId": "P-1"}]},
        {"parent": None},
        {"width": 13},
        {"attributes": [{"name": "COLOR", "value": "brass"}]},
    ],
    ids=["sources", "parent", "decimal", "attributes"],
)
def test_a_change_in_any_part_moves_last_modified_at(api, change):
    category = make_category("Valves")
    sent = rich_item("P-1", category)
    [result] = results(bulk(api, "sourceId", [sent]))
    stamp = fetch(api, result["id"])["lastModifiedAt"]

    response = bulk(api, "sourceId", [{**sent, **change}])

    assert results(response) == [ok(0, "update", result["id"], "P-1", "sourceId")]
    assert fetch(api, result["id"])["lastModifiedAt"] > stamp


# Directives ------------------------------------------------------------------------------------


@BOTH_FORMS
def test_skip_if_not_empty_keeps_plain_fields_that_have_a_value(api, existing, form):
    Product.objects.filter(pk=existing.pk).update(manufacturer="Acme")

    response = bulk(
        api,
        "sourceId",
        [
            item("P-1", sku="NEW-SKU", manufacturer="Other", oemCode="OEM-1"),
            item("P-2", manufacturer="Other", oemCode="OEM-2"),
        ],
        directives=form({"skipIfNotEmpty": ["manufacturer", "oemCode"]}),
    )

    results(response, completed(created=1, updated=1))
    updated, created = by_pair("P-1"), by_pair("P-2")
    assert (updated.manufacturer, updated.oem_code, updated.sku) == ("Acme", "OEM-1", "NEW-SKU")
    # The directive only protects records that already exist.
    assert (created.manufacturer, created.oem_code) == ("Other", "OEM-2")


@BOTH_FORMS
def test_skip_if_not_empty_on_a_localized_field_works_per_language(api, form):
    results(
        bulk(
            api,
            "sourceId",
            [item("P-1", "Valve", descriptions=ls(EN="Old text"), shortDescriptions=ls(EN="S"))],
        )
    )

    response = bulk(
        api,
        "sourceId",
        [
            item(
                "P-1",
                names=ls(EN="New valve", DE="Ventil"),
                descriptions=ls(EN="New text", NL="Nieuwe tekst"),
                shortDescriptions=ls(EN="Short"),
            )
        ],
        directives=form({"skipIfNotEmpty": ["names", "descriptions"]}),
    )

    [result] = results(response, completed(updated=1))
    data = fetch(api, result["id"])
    assert data["names"] == ls(EN="Valve", DE="Ventil")
    assert data["descriptions"] == ls(EN="Old text", NL="Nieuwe tekst")
    assert data["shortDescriptions"] == ls(EN="Short")


@BOTH_FORMS
def test_skip_move_on_update_ignores_the_parent_of_existing_products_only(api, form):
    first, second = make_category("First"), make_category("Second")
    [old] = results(bulk(api, "sourceId", [item("P-1", parent={"id": first.pk})]))

    response = bulk(
        api,
        "sourceId",
        [
            item("P-1", "Renamed", parent={"id": second.pk}),
            item("P-2", parent={"id": second.pk}),
        ],
        directives=form({"skipMoveOnUpdate": []}),
    )

    data = results(response, completed(created=1, updated=1))
    assert data[0] == ok(0, "update", old["id"], "P-1", "sourceId")
    moved = fetch(api, old["id"])
    assert (moved["categoryIds"], moved["names"]) == ([first.pk], ls(EN="Renamed"))
    assert fetch(api, data[1]["id"])["categoryIds"] == [second.pk]


def test_skip_move_on_update_does_not_check_the_ignored_parent(api, existing):
    response = bulk(
        api,
        "sourceId",
        [item("P-1", "Renamed", parent={"id": 999999})],
        directives={"skipMoveOnUpdate": []},
    )

    assert results(response) == [ok(0, "update", existing.pk, "P-1", "sourceId")]


@BOTH_FORMS
def test_merge_translations_on_update_replaces_the_languages_of_each_sent_field(api, form):
    [old] = results(
        bulk(
            api,
            "sourceId",
            [
                item(
                    "P-1",
                    names=ls(EN="Valve", DE="Ventil", NL="Klep"),
                    descriptions=ls(EN="Text", DE="Text DE"),
                    shortDescriptions=ls(EN="Short", NL="Kort"),
                )
            ],
        )
    )

    response = bulk(
        api,
        "sourceId",
        [
            item("P-1", names=ls(EN="Valve 2", FR="Vanne"), shortDescriptions=ls(DE="Kurz")),
            item("P-2", names=ls(EN="New", DE="Neu")),
        ],
        directives=form({"mergeTranslationsOnUpdate": []}),
    )

    data = results(response, completed(created=1, updated=1))
    assert data[0] == ok(0, "update", old["id"], "P-1", "sourceId")
    merged = fetch(api, old["id"])
    assert merged["names"] == ls(EN="Valve 2", FR="Vanne")
    assert merged["shortDescriptions"] == ls(DE="Kurz")
    assert merged["descriptions"] == ls(EN="Text", DE="Text DE")
    assert fetch(api, data[1]["id"])["names"] == ls(EN="New", DE="Neu")


def test_without_merge_translations_the_languages_are_merged(api):
    [old] = results(bulk(api, "sourceId", [item("P-1", names=ls(EN="Valve", DE="Ventil"))]))

    results(bulk(api, "sourceId", [item("P-1", names=ls(FR="Vanne"))]))

    assert fetch(api, old["id"])["names"] == ls(EN="Valve", DE="Ventil", FR="Vanne")


def test_merge_translations_must_keep_the_default_language(api, existing):
    before = product_snapshot()

    response = bulk(
        api,
        "sourceId",
        [item("P-1", names=ls(DE="Ventil"))],
        directives={"mergeTranslationsOnUpdate": []},
    )

    assert results(response, completed(failed=1)) == [
        failed(
            0,
            "P-1",
            "sourceId",
            10017,
            "PayloadValidationError",
            "names: a value in the product's default language EN is required",
            record_id=existing.pk,
        )
    ]
    assert product_snapshot() == before


@BOTH_FORMS
def test_skip_create_skips_unmatched_items_and_updates_matched_ones(api, existing, form):
    response = bulk(
        api,
        "sourceId",
        [item("P-2"), item("P-1", "Renamed"), item("P-3")],
        directives=form({"skipCreate": []}),
    )

    assert results(response, completed(updated=1, skipped=2)) == [
        ok(0, "skip", None, "P-2", "sourceId"),
        ok(1, "update", existing.pk, "P-1", "sourceId"),
        ok(2, "skip", None, "P-3", "sourceId"),
    ]
    assert list(Product.objects.values_list("pk", "name_en")) == [(existing.pk, "Renamed")]
    assert list(ProductSource.objects.values_list("source_id", flat=True)) == ["P-1"]


@BOTH_FORMS
def test_skip_create_by_id(api, existing, form):
    response = bulk(
        api,
        "id",
        [{"id": existing.pk + 1000, "names": ls(EN="Not created")}],
        directives=form({"skipCreate": []}),
    )

    assert results(response, completed(skipped=1)) == [
        ok(0, "skip", None, existing.pk + 1000, "id")
    ]
    assert Product.objects.count() == 1


def test_directives_combine(api, existing):
    Product.objects.filter(pk=existing.pk).update(manufacturer="Acme")

    response = bulk(
        api,
        "sourceId",
        [item("P-1", manufacturer="Other", names=ls(EN="Valve 2")), item("P-2")],
        directives=[
            {"operation": "skipIfNotEmpty", "fields": ["manufacturer"]},
            {"operation": "skipCreate", "fields": []},
            {"operation": "mergeTranslationsOnUpdate"},
        ],
    )

    assert results(response, completed(updated=1, skipped=1)) == [
        ok(0, "update", existing.pk, "P-1", "sourceId"),
        ok(1, "skip", None, "P-2", "sourceId"),
    ]
    product = Product.objects.get()
    assert (product.manufacturer, product.name_en) == ("Acme", "Valve 2")


BAD_DIRECTIVES = [
    (
        {"skipEverything": []},
        "directives: unknown directive skipEverything (known: skipIfNotEmpty, "
        "skipMoveOnUpdate, mergeTranslationsOnUpdate, skipCreate)",
    ),
    (
        [{"operation": "skipEverything", "fields": []}],
        "directives: unknown directive skipEverything (known: skipIfNotEmpty, "
        "skipMoveOnUpdate, mergeTranslationsOnUpdate, skipCreate)",
    ),
    ({"skipIfNotEmpty": ["colour"]}, "directives.skipIfNotEmpty: unknown field colour"),
    (
        [{"operation": "skipIfNotEmpty", "fields": ["names", "colour"]}],
        "directives.skipIfNotEmpty: unknown field colour",
    ),
    ({"skipIfNotEmpty": ["Names"]}, "directives.skipIfNotEmpty: unknown field Names"),
    ({"skipIfNotEmpty": "names"}, "directives.skipIfNotEmpty: fields must be names"),
    ([{"fields": ["names"]}], "directives[0].operation: required"),
    (
        [{"operation": "skipCreate", "fields": [], "when": "always"}],
        "directives[0]: unknown field",
    ),
    ("skipCreate", "directives: must be an object or an array"),
]


@pytest.mark.parametrize(("directives", "message"), BAD_DIRECTIVES)
def test_bad_directives_fail_the_whole_request(api, existing, directives, message):
    before = table_counts(), product_snapshot()

    response = bulk(api, "sourceId", [item("P-1", "Renamed"), item("P-2")], directives=directives)

    assert_error(response, 400, 10007, "SchemaValidationException", [message])
    assert (table_counts(), product_snapshot()) == before


# Per-item errors -------------------------------------------------------------------------------

ITEM_ERRORS = [
    (
        {"names": [{"language": "XX", "value": "Bad valve"}]},
        10007,
        "SchemaValidationException",
        'names[0].language: unknown language "XX"',
    ),
    (
        {"descriptions": ls(EN="a", en="b")},
        10007,
        "SchemaValidationException",
        'descriptions[1].language: duplicate language "en"',
    ),
    ({"status": "X"}, 10007, "SchemaValidationException", "status: Invalid enum value 'X'"),
    ({"taxCode": "Q"}, 10007, "SchemaValidationException", "taxCode: Invalid enum value 'Q'"),
    (
        {"manufacturer": "M" * 256},
        10007,
        "SchemaValidationException",
        "manufacturer: Expected `str` of length <= 255",
    ),
    (
        {"names": ls(EN="N" * 1001)},
        10007,
        "SchemaValidationException",
        "names[0].value: Expected `str` of length <= 1000",
    ),
    ({"unit": 0}, 10007, "SchemaValidationException", "unit: Expected `int` >= 1"),
    ({"colour": "red"}, 10007, "SchemaValidationException", "colour: unknown field"),
    (
        {"attributes": [{"name": "color", "value": "red"}]},
        10007,
        "SchemaValidationException",
        "attributes[0].name: Expected `str` matching regex '^[A-Z0-9_]{1,64}$'",
    ),
    (
        {"slugs": ls(EN="Not A Slug")},
        10007,
        "SchemaValidationException",
        'slugs[0].value: invalid slug "Not A Slug" (lower-case letters, digits and single hyphens)',
    ),
    (
        {"names": ls(DE="Nur Deutsch")},
        10017,
        "PayloadValidationError",
        "names: a value in the product's default language EN is required",
    ),
    (
        {"parent": {"id": 999999}},
        30007,
        "ParentCategoryNotFound",
        "Parent category with id [999999] not found",
    ),
    (
        {"parent": {"source": "erp", "sourceId": "NO-SUCH-CAT"}},
        30007,
        "ParentCategoryNotFound",
        "Parent category with sourceId [NO-SUCH-CAT] and source [erp] not found",
    ),
    (
        {"sources": [{"source": "pim", "sourceId": "TAKEN"}]},
        80004,
        "ProductExists",
        "Product with sourceId [TAKEN] and source [pim] already exists",
    ),
    (
        {"slugs": ls(EN="taken-slug")},
        80004,
        "ProductExists",
        "Product with slug [taken-slug] in language [EN] already exists",
    ),
]


@pytest.mark.parametrize(("fields", "code", "type_name", "message"), ITEM_ERRORS)
def test_a_failing_item_is_reported_and_leaves_no_trace(api, fields, code, type_name, message):
    # given another product holding the pair pim/TAKEN and the slug "taken-slug"
    other = api.post(
        "/v2/products",
        {
            "names": ls(EN="Other"),
            "slugs": ls(EN="taken-slug"),
            "sources": [{"source": "pim", "sourceId": "TAKEN"}],
        },
    ).json()["data"]
    category = make_category("Valves", sources=[("erp", "CAT-1")])
    bad = {
        "source": "erp",
        "sourceId": "BAD",
        "names": ls(EN="Zanzibarvalve", DE="Zanzibarventil", NL="Zanzibarklep"),
        "sku": "BAD-SKU",
        "parent": {"sourceId": "CAT-1"},
        **fields,
    }

    response = bulk(api, "sourceId", [item("P-1", parent={"id": category.pk}), bad, item("P-2")])

    data = results(response, completed(created=2, failed=1))
    assert data == [
        ok(0, "create", by_pair("P-1").pk, "P-1", "sourceId"),
        failed(1, "BAD", "sourceId", code, type_name, message),
        ok(2, "create", by_pair("P-2").pk, "P-2", "sourceId"),
    ]
    # no product row, source pair, category membership, translation or search word of the item
    assert set(Product.objects.values_list("pk", flat=True)) == {
        other["id"],
        by_pair("P-1").pk,
        by_pair("P-2").pk,
    }
    assert not ProductSource.objects.filter(source_id="BAD").exists()
    assert list(ProductSource.objects.filter(source_id="TAKEN").values_list("owner_id")) == [
        (other["id"],)
    ]
    assert list(ProductCategory.objects.values_list("product_id", "category_id")) == [
        (by_pair("P-1").pk, category.pk)
    ]
    assert not Product.objects.filter(sku="BAD-SKU").exists()
    assert not Product.objects.filter(name_de="Zanzibarventil").exists()
    assert not SearchWord.objects.filter(word__startswith="zanzibar").exists()


def test_a_failing_update_leaves_the_product_as_it_was(api, existing):
    taken = api.post(
        "/v2/products", {"names": ls(EN="Other"), "slugs": ls(DE="taken-slug")}
    ).json()["data"]
    category = make_category("Valves")
    before = product_snapshot()

    response = bulk(
        api,
        "sourceId",
        [
            item(
                "P-1",
                names=ls(EN="Changed", DE="Geaendert"),
                slugs=ls(DE="taken-slug"),
                sources=[{"source": "erp", "sourceId": "P-1"}, {"source": "pim", "sourceId": "X"}],
                parent={"id": category.pk},
            )
        ],
    )

    assert results(response, completed(failed=1)) == [
        failed(
            0,
            "P-1",
            "sourceId",
            80004,
            "ProductExists",
            "Product with slug [taken-slug] in language [DE] already exists",
            record_id=existing.pk,
        )
    ]
    assert product_snapshot() == before
    assert taken["id"] != existing.pk


def test_two_items_giving_one_slug_the_later_fails(api):
    response = bulk(
        api,
        "sourceId",
        [item("P-1", slugs=ls(EN="valve")), item("P-2", slugs=ls(EN="valve"))],
    )

    data = results(response, completed(created=1, failed=1))
    assert data[1] == failed(
        1,
        "P-2",
        "sourceId",
        80004,
        "ProductExists",
        "Product with slug [valve] in language [EN] already exists",
    )
    assert list(Product.objects.values_list("slug_en", flat=True)) == ["valve"]


def test_two_items_claiming_one_source_pair_the_later_fails(api):
    pair = [{"source": "pim", "sourceId": "SHARED"}]

    response = bulk(
        api,
        "sku",
        [
            {"sku": "S-1", "names": ls(EN="One"), "sources": pair},
            {"sku": "S-2", "names": ls(EN="Two"), "sources": pair},
        ],
    )

    data = results(response, completed(created=1, failed=1))
    assert data[1] == failed(
        1,
        "S-2",
        "sku",
        80004,
        "ProductExists",
        "Product with sourceId [SHARED] and source [pim] already exists",
    )
    assert list(Product.objects.values_list("sku", flat=True)) == ["S-1"]
    assert ProductSource.objects.get().owner.sku == "S-1"


def test_generated_slugs_are_deduplicated_within_the_request(api):
    response = bulk(api, "sourceId", [item("P-1", "Valve"), item("P-2", "Valve")])

    data = results(response, completed(created=2))
    assert [fetch(api, result["id"])["slugs"] for result in data] == [
        ls(EN="valve"),
        ls(EN="valve-2"),
    ]


def test_a_source_pair_can_move_between_products_of_one_request(api):
    results(
        bulk(api, "sku", [{"sku": "S-1", "names": ls(EN="One"), "source": "pim", "sourceId": "M"}])
    )

    response = bulk(
        api,
        "sku",
        [
            {"sku": "S-1", "names": ls(EN="One"), "sources": []},
            {"sku": "S-2", "names": ls(EN="Two"), "sources": [{"source": "pim", "sourceId": "M"}]},
        ],
    )

    results(response, completed(created=1, updated=1))
    assert ProductSource.objects.get().owner.sku == "S-2"


# Whole-request failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "type_name"),
    [
        ('{"products": [', "application/json", 400, 10005, "InvalidJSONPayload"),
        ("not json", "application/json", 400, 10005, "InvalidJSONPayload"),
        ("", "application/json", 400, 10005, "InvalidJSONPayload"),
        ("[]", "application/json", 400, 10007, "SchemaValidationException"),
        ('"products"', "application/json", 400, 10007, "SchemaValidationException"),
        ("{}", "application/json", 400, 10007, "SchemaValidationException"),
        ('{"directives": {}}', "application/json", 400, 10007, "SchemaValidationException"),
        ('{"products": {}}', "application/json", 400, 10007, "SchemaValidationException"),
        ('{"products": null}', "application/json", 400, 10007, "SchemaValidationException"),
        (
            '{"products": [], "items": []}',
            "application/json",
            400,
            10007,
            "SchemaValidationException",
        ),
        ('{"products": []}', "text/plain", 415, 10010, "UnsupportedMediaType"),
    ],
)
def test_a_malformed_body_fails_the_whole_request(
    api, existing, body, content_type, status, code, type_name
):
    before = table_counts(), product_snapshot()

    response = api.post(f"{URL}/sourceId", body, content_type=content_type)

    assert_error(response, status, code, type_name)
    assert (table_counts(), product_snapshot()) == before


def test_exactly_2000_items_are_accepted(api):
    response = bulk(api, "sourceId", [item(f"P-{number}") for number in range(2000)])

    data = results(response, completed(created=2000))
    assert {result["action"] for result in data} == {"create"}
    assert Product.objects.count() == ProductSource.objects.count() == 2000


# Delete ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lookup_key", "ref", "key"),
    [
        ("id", None, None),
        ("sourceId", {"source": "erp", "sourceId": "P-1"}, "P-1"),
        ("sku", {"sku": "SKU-1"}, "SKU-1"),
        ("supplierCode", {"supplier": "ACME", "supplierCode": "AC-1"}, "AC-1"),
    ],
)
def test_bulk_delete_by_every_key(api, existing, lookup_key, ref, key):
    category, extra = make_category("Valves"), make_category("Extra")
    results(bulk(api, "id", [{"id": existing.pk, "parent": {"id": category.pk}}]))
    category_add_products(category_id=extra.pk, product_ids=[existing.pk])
    if ref is None:
        ref, key = {"id": existing.pk}, existing.pk
    keep = results(bulk(api, "sourceId", [item("KEEP", parent={"id": category.pk})]))[0]

    response = bulk(api, lookup_key, [ref], delete=True)

    assert results(response, completed(deleted=1)) == [
        ok(0, "delete", existing.pk, key, lookup_key)
    ]
    assert list(Product.objects.values_list("pk", flat=True)) == [keep["id"]]
    assert list(ProductSource.objects.values_list("owner_id", flat=True)) == [keep["id"]]
    assert list(ProductCategory.objects.values_list("product_id", flat=True)) == [keep["id"]]
    assert Category.objects.count() == 2


def test_bulk_delete_reports_unknown_missing_and_duplicate_keys(api, existing):
    response = bulk(
        api,
        "sourceId",
        [
            {"source": "erp", "sourceId": "NOPE"},
            {"sourceId": "P-1"},
            {"source": "erp", "sourceId": "P-1"},
            {"source": "erp", "sourceId": "P-1"},
        ],
        delete=True,
    )

    assert results(response, completed(deleted=1, failed=3)) == [
        failed(
            0,
            "NOPE",
            "sourceId",
            80006,
            "ProductNotFound",
            "Product with sourceId [NOPE] and source [erp] not found",
        ),
        failed(
            1,
            "P-1",
            "sourceId",
            10016,
            "LookupKeyNotFound",
            "Item has no source and sourceId (the lookup key of this request)",
        ),
        ok(2, "delete", existing.pk, "P-1", "sourceId"),
        failed(
            3,
            "P-1",
            "sourceId",
            10017,
            "PayloadValidationError",
            "sourceId [P-1] appears more than once in this request (first at index 2)",
        ),
    ]
    assert not Product.objects.exists()


# dryRun and atomic -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["yes", "2", ""])
def test_a_bad_flag_value_is_400(api, value):
    before = table_counts()

    response = bulk(api, "sourceId", [item("P-1")], params={"dryRun": value})

    assert_error(
        response, 400, 10007, "SchemaValidationException", ["dryRun: must be true or false"]
    )
    assert table_counts() == before


def test_atomic_with_one_bad_item_applies_nothing(api, existing):
    before = table_counts(), product_snapshot()

    response = bulk(
        api,
        "sourceId",
        [item("P-1", "Renamed"), item("P-2", status="X"), item("P-3")],
        params={"atomic": "true"},
    )

    not_applied = "not applied: request is atomic"
    assert results(response, completed(failed=3)) == [
        failed(0, "P-1", "sourceId", 10017, "PayloadValidationError", not_applied, existing.pk),
        failed(
            1,
            "P-2",
            "sourceId",
            10007,
            "SchemaValidationException",
            "status: Invalid enum value 'X'",
        ),
        failed(2, "P-3", "sourceId", 10017, "PayloadValidationError", not_applied),
    ]
    assert (table_counts(), product_snapshot()) == before


def test_atomic_with_a_conflict_found_while_planning_applies_nothing(api, existing):
    before = table_counts(), product_snapshot()

    response = bulk(
        api,
        "sourceId",
        [item("P-2"), item("P-3", sources=[{"source": "erp", "sourceId": "P-1"}])],
        params={"atomic": "true"},
    )

    data = results(response, completed(failed=2))
    assert data == [
        failed(
            0,
            "P-2",
            "sourceId",
            10017,
            "PayloadValidationError",
            "not applied: request is atomic",
        ),
        failed(
            1,
            "P-3",
            "sourceId",
            80004,
            "ProductExists",
            "Product with sourceId [P-1] and source [erp] already exists",
        ),
    ]
    assert (table_counts(), product_snapshot()) == before


def test_atomic_with_good_items_applies_all(api, existing):
    response = bulk(
        api, "sourceId", [item("P-1", "Renamed"), item("P-2")], params={"atomic": "true"}
    )

    data = results(response, completed(created=1, updated=1))
    assert data == [
        ok(0, "update", existing.pk, "P-1", "sourceId"),
        ok(1, "create", by_pair("P-2").pk, "P-2", "sourceId"),
    ]
    assert by_pair("P-1").name_en == "Renamed"


def test_atomic_dry_run_reports_and_writes_nothing(api, existing):
    before = table_counts(), product_snapshot()

    response = bulk(
        api,
        "sourceId",
        [item("P-1", "Renamed"), item("P-2")],
        params={"atomic": "true", "dryRun": "true"},
    )

    assert results(response, completed(created=1, updated=1), "Dry run: nothing was written") == [
        ok(0, "update", existing.pk, "P-1", "sourceId"),
        ok(1, "create", None, "P-2", "sourceId"),
    ]
    assert (table_counts(), product_snapshot()) == before


# NDJSON ----------------------------------------------------------------------------------------


def ndjson(*items) -> str:
    return "".join(json.dumps(entry) + "\n" for entry in items)


def test_an_ndjson_body_with_directives_in_the_query(api, existing):
    body = ndjson(item("P-1", names=ls(EN="Ignored", DE="Ventil")), item("P-2"))

    response = api.post(
        f"{URL}/sourceId",
        body,
        params={"directives": json.dumps({"skipIfNotEmpty": ["names"]})},
        content_type="application/x-ndjson",
    )

    assert results(response, completed(created=1, updated=1)) == [
        ok(0, "update", existing.pk, "P-1", "sourceId"),
        ok(1, "create", by_pair("P-2").pk, "P-2", "sourceId"),
    ]
    assert fetch(api, existing.pk)["names"] == ls(EN="Brass valve", DE="Ventil")


def test_an_ndjson_body_skips_blank_lines_and_accepts_flags(api):
    body = ndjson(item("P-1")) + "\n" + ndjson(item("P-2"))

    response = api.post(
        f"{URL}/sourceId",
        body,
        params={"dryRun": "true"},
        content_type="application/x-ndjson",
    )

    assert results(response, completed(created=2), "Dry run: nothing was written") == [
        ok(0, "create", None, "P-1", "sourceId"),
        ok(1, "create", None, "P-2", "sourceId"),
    ]
    assert not Product.objects.exists()


def test_an_ndjson_line_that_is_not_an_object_fails_that_item(api):
    response = api.post(
        f"{URL}/sourceId", ndjson(item("P-1"), [1, 2]), content_type="application/x-ndjson"
    )

    data = results(response, completed(created=1, failed=1))
    assert data[1] == failed(
        1, None, "sourceId", 10007, "SchemaValidationException", "item must be a JSON object"
    )


@pytest.mark.parametrize(
    ("body", "params", "status", "code", "type_name"),
    [
        ('{"source": "erp", "sourceId": "P-1"}\n{not json\n', {}, 400, 10005, "InvalidJSONPayload"),
        (
            ndjson(item("P-1")),
            {"directives": "{skipCreate"},
            400,
            10007,
            "SchemaValidationException",
        ),
        (
            ndjson(item("P-1")),
            {"directives": json.dumps([{"operation": "skipCreate", "fields": []}])},
            400,
            10007,
            "SchemaValidationException",
        ),
        (
            ndjson(item("P-1")),
            {"directives": json.dumps({"skipIfNotEmpty": ["colour"]})},
            400,
            10007,
            "SchemaValidationException",
        ),
        (
            ndjson(*[item(f"P-{number}") for number in range(2001)]),
            {},
            413,
            10011,
            "PayloadTooLarge",
        ),
    ],
    ids=["bad-line", "bad-directives-json", "array-form", "unknown-field", "too-many"],
)
def test_a_bad_ndjson_request_fails_as_a_whole(api, body, params, status, code, type_name):
    before = table_counts()

    response = api.post(f"{URL}/sourceId", body, params=params, content_type="application/x-ndjson")

    assert_error(response, status, code, type_name)
    assert table_counts() == before


# Scopes ----------------------------------------------------------------------------------------


# Query count -----------------------------------------------------------------------------------


def count_queries(api, items) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = bulk(api, "sourceId", items)
    assert response.status_code == 200, response.content
    assert all(result["success"] for result in response.json()["data"])
    return len(queries)


def sized_items(prefix: str, count: int, category: Category, name: str = "Valve") -> list[dict]:
    return [
        item(
            f"{prefix}-{number}",
            names=ls(EN=f"{name} {number}", DE=f"Ventil {prefix} {number}"),
            sources=[{"source": "pim", "sourceId": f"{prefix}-{number}"}],
            sku=f"{prefix}-{number}",
            parent={"id": category.pk},
        )
        for number in range(count)
    ]


def test_bulk_upserts_run_a_constant_number_of_queries(api):
    category = make_category("Valves")
    # Distinct names per size: colliding generated slugs cost one bounded probe query more.
    small = sized_items("S", 200, category, "Small valve")
    large = sized_items("L", 1000, category, "Large valve")
    changed = (
        sized_items("S", 200, category, "Changed small"),
        sized_items("L", 1000, category, "Changed large"),
    )

    creates = count_queries(api, small), count_queries(api, large)
    updates = count_queries(api, changed[0]), count_queries(api, changed[1])
    unchanged = count_queries(api, changed[0]), count_queries(api, changed[1])

    assert creates[0] == creates[1] <= 20
    assert updates[0] == updates[1] <= 20
    assert unchanged[0] == unchanged[1] < updates[0]
    assert Product.objects.count() == 1200


# Concurrency -----------------------------------------------------------------------------------


def run_together(*calls):
    """Run each call in its own thread (each with its own connection), all at once."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=30)
            outcomes[index] = call()
        except BaseException as exc:  # reported by the main thread
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_bulk_upserts_end_with_one_product_per_pair(api_client_factory):
    first, second = api_client_factory(["product.write"]), api_client_factory(["product.write"])
    left = [item(f"P-{number}") for number in range(0, 300)]
    right = [item(f"P-{number}") for number in range(150, 450)]

    responses = run_together(
        lambda: bulk(first, "sourceId", left), lambda: bulk(second, "sourceId", right)
    )

    data = [results(response) for response in responses]
    assert all(result["success"] for results_ in data for result in results_)
    actions = [{r["key"]: r["action"] for r in results_} for results_ in data]
    ids = [{r["key"]: r["id"] for r in results_} for results_ in data]
    for number in range(450):
        key = f"P-{number}"
        seen = [found[key] for found in actions if key in found]
        if 150 <= number < 300:
            assert sorted(seen) == ["create", "update"], key
            assert ids[0][key] == ids[1][key]
        else:
            assert seen == ["create"], key
    assert Product.objects.count() == 450
    assert ProductSource.objects.count() == 450
    pairs = ProductSource.objects.values_list("source", "source_id")
    assert sorted(pairs) == sorted(("erp", f"P-{number}") for number in range(450))
    assert len(set(Product.objects.values_list("slug_en", flat=True))) == 450
