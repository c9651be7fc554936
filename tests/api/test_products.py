"""Products and the general rules they follow: lookups, localized fields, sources, envelopes, ETags, lists, expands, export."""

import json
from datetime import UTC, datetime

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
from tests.assertions import (
    EMPTY_PAGE,
    LIST_KEYS,
    TIMESTAMP,
    assert_error,
    listed_ids,
    ndjson_lines,
)
from tests.factories import ls, make_category, make_product, make_products


def created(api, **body) -> dict:
    response = api.post("/v2/products", body)
    assert response.status_code == 201, response.content
    return response.json()["data"]


def fetch(api, product_id: int, **params) -> dict:
    response = api.get(f"/v2/products/id/{product_id}", params=params)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def page_meta(response) -> dict:
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == LIST_KEYS
    return {key: value for key, value in body.items() if key != "data"}


def send(caller, method: str, path: str, body=None, **kwargs):
    """Send a request through an ApiCaller; a `body` of None sends no body at all."""
    if body is None:
        return caller.request(method, path, **kwargs)
    return caller.request(method, path, body, **kwargs)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def product_snapshot() -> tuple[list[dict], ...]:
    """Every product row, source pair, category membership, search document and word."""
    return (
        list(Product.objects.order_by("pk").values()),
        list(ProductSource.objects.order_by("pk").values()),
        list(ProductCategory.objects.order_by("pk").values()),
        list(ProductSearch.objects.order_by("pk").values("product_id", "vector")),
        list(SearchWord.objects.order_by("word").values_list("word", flat=True)),
    )


def set_stamps(product: Product, *, created: datetime, modified: datetime | None = None) -> None:
    Product.objects.filter(pk=product.pk).update(
        created_at=created, last_modified_at=modified or created
    )


# Create ----------------------------------------------------------------------------------------


def test_create_with_defaults(api):
    response = api.post("/v2/products", {"names": ls(EN="Brass valve")})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"data", "messages", "total"}
    assert (body["messages"], body["total"]) == (["Product created"], 1)
    record = Product.objects.get()
    data = body["data"]
    assert data == {
        "id": record.pk,
        "language": "EN",
        "names": ls(EN="Brass valve"),
        "descriptions": [],
        "shortDescriptions": [],
        "slugs": ls(EN="brass-valve"),
        "metadataTitles": [],
        "metadataDescriptions": [],
        "metadataKeywords": [],
        "metadataCanonicalUrls": [],
        "notes": [],
        "packageDescriptions": [],
        "sku": "",
        "supplier": "",
        "supplierCode": "",
        "manufacturer": "",
        "oemCode": "",
        "eanCode": "",
        "barCode": "",
        "shortName": "",
        "package": "",
        "packageUnit": "",
        "status": "A",
        "taxCode": "H",
        "unit": 1,
        "minimumQuantity": 1,
        "packageUnitQuantity": 1,
        "priority": 0,
        "hidden": "N",
        "orderable": "Y",
        "returnable": "Y",
        "physical": "Y",
        "width": None,
        "height": None,
        "depth": None,
        "weight": None,
        "attributes": [],
        "parent": None,
        "source": None,
        "sourceId": None,
        "sources": [],
        "categoryIds": [],
        "clusterId": None,
        "createdAt": data["createdAt"],
        "lastModifiedAt": data["createdAt"],
    }
    assert TIMESTAMP.match(data["createdAt"])
    assert at(data["createdAt"]) == record.created_at == record.last_modified_at
    assert response["ETag"] == api.get(f"/v2/products/id/{record.pk}")["ETag"]


def test_create_with_every_field(api):
    valves = make_category("Valves")

    data = created(
        api,
        language="de",
        names=ls(DE="Messingventil", EN="Brass valve"),
        descriptions=ls(EN="A valve made of brass", DE="Ein Ventil aus Messing"),
        shortDescriptions=ls(EN="Valve"),
        notes=ls(NL="Let op: zwaar"),
        packageDescriptions=ls(EN="Box of 10"),
        slugs=ls(DE="messing-ventil"),
        metadataTitles=ls(EN="Brass valve | Shop"),
        metadataDescriptions=ls(EN="Buy brass valves"),
        metadataKeywords=ls(EN="valve, brass"),
        metadataCanonicalUrls=ls(EN="https://example.com/valve"),
        sku="BV-100",
        supplier="Acme",
        supplierCode="AC-100",
        manufacturer="Valvco",
        oemCode="OEM-1",
        eanCode="8712345678906",
        barCode="BC-1",
        shortName="Valve",
        package="BOX",
        packageUnit="PCS",
        status="P",
        taxCode="L",
        unit=2,
        minimumQuantity=5,
        packageUnitQuantity=10,
        priority=3,
        hidden="Y",
        orderable="N",
        returnable="N",
        physical="N",
        width=10.5,
        height=2,
        depth=0,
        weight=0.25,
        attributes=[{"name": "COLOR", "value": "yellow"}, {"name": "SIZE_MM", "value": "15"}],
        parent={"id": valves.pk},
        sources=[{"source": "erp", "sourceId": "P-1"}, {"source": "pim", "sourceId": "42"}],
    )

    assert data == {
        "id": data["id"],
        "language": "DE",
        # Returned in catalogue-language order, whatever the order sent.
        "names": ls(EN="Brass valve", DE="Messingventil"),
        "descriptions": ls(EN="A valve made of brass", DE="Ein Ventil aus Messing"),
        "shortDescriptions": ls(EN="Valve"),
        "slugs": ls(EN="brass-valve", DE="messing-ventil"),
        "metadataTitles": ls(EN="Brass valve | Shop"),
        "metadataDescriptions": ls(EN="Buy brass valves"),
        "metadataKeywords": ls(EN="valve, brass"),
        "metadataCanonicalUrls": ls(EN="https://example.com/valve"),
        "notes": ls(NL="Let op: zwaar"),
        "packageDescriptions": ls(EN="Box of 10"),
        "sku": "BV-100",
        "supplier": "Acme",
        "supplierCode": "AC-100",
        "manufacturer": "Valvco",
        "oemCode": "OEM-1",
        "eanCode": "8712345678906",
        "barCode": "BC-1",
        "shortName": "Valve",
        "package": "BOX",
        "packageUnit": "PCS",
        "status": "P",
        "taxCode": "L",
        "unit": 2,
        "minimumQuantity": 5,
        "packageUnitQuantity": 10,
        "priority": 3,
        "hidden": "Y",
        "orderable": "N",
        "returnable": "N",
        "physical": "N",
        "width": 10.5,
        "height": 2,
        "depth": 0,
        "weight": 0.25,
        "attributes": [{"name": "COLOR", "value": "yellow"}, {"name": "SIZE_MM", "value": "15"}],
        "parent": {"id": valves.pk},
        "source": "erp",
        "sourceId": "P-1",
        "sources": [{"source": "erp", "sourceId": "P-1"}, {"source": "pim", "sourceId": "42"}],
        "categoryIds": [valves.pk],
        "clusterId": None,
        "createdAt": data["createdAt"],
        "lastModifiedAt": data["createdAt"],
    }
    assert fetch(api, data["id"]) == data
    assert ProductCategory.objects.filter(product_id=data["id"]).get().is_primary is True


def test_create_with_a_flat_source_pair(api):
    data = created(api, names=ls(EN="Valve"), source="erp", sourceId="P-1")

    assert (data["source"], data["sourceId"]) == ("erp", "P-1")
    assert data["sources"] == [{"source": "erp", "sourceId": "P-1"}]


def test_create_with_a_flat_pair_and_an_array(api):
    data = created(
        api,
        names=ls(EN="Valve"),
        source="erp",
        sourceId="P-1",
        sources=[{"source": "pim", "sourceId": "42"}],
    )

    assert data["sources"] == [
        {"source": "erp", "sourceId": "P-1"},
        {"source": "pim", "sourceId": "42"},
    ]


def test_create_in_a_parent_given_by_source_id(api):
    valves = make_category("Valves", sources=[("erp", "CAT-V")])

    by_pair = created(api, names=ls(EN="A"), parent={"source": "erp", "sourceId": "CAT-V"})
    by_own_source = created(
        api, names=ls(EN="B"), source="erp", sourceId="P-2", parent={"sourceId": "CAT-V"}
    )

    assert by_pair["parent"] == by_own_source["parent"] == {"id": valves.pk}
    assert by_pair["categoryIds"] == by_own_source["categoryIds"] == [valves.pk]


def test_category_ids_list_the_primary_category_first(api):
    extra = make_category("Extra")
    primary = make_category("Primary")
    product = make_product("Valve", parent={"id": primary.pk})
    category_add_products(category_id=extra.pk, product_ids=[product.pk])

    data = fetch(api, product.pk)

    assert extra.pk < primary.pk
    assert data["categoryIds"] == [primary.pk, extra.pk]
    assert data["parent"] == {"id": primary.pk}


def test_create_ignores_read_only_fields(api):
    data = created(
        api,
        names=ls(EN="Valve"),
        id=999999,
        categoryIds=[1, 2],
        clusterId=5,
        createdAt="2020-01-01T00:00:00.000Z",
        lastModifiedAt="2020-01-01T00:00:00.000Z",
    )

    assert data["id"] != 999999
    assert (data["categoryIds"], data["clusterId"]) == ([], None)
    assert not data["createdAt"].startswith("2020")


def test_slugs_are_generated_and_deduplicated(api):
    first = created(api, names=ls(EN="Brass Valve", DE="Messing Ventil"))
    second = created(api, names=ls(EN="Brass valve"))

    assert first["slugs"] == ls(EN="brass-valve", DE="messing-ventil")
    assert second["slugs"] == ls(EN="brass-valve-2")


def test_product_and_category_slugs_do_not_collide(api):
    make_category("Brass valve")

    assert created(api, names=ls(EN="Brass valve"))["slugs"] == ls(EN="brass-valve")


# Lookups ---------------------------------------------------------------------------------------


@pytest.fixture
def valve(db) -> Product:
    return make_product(
        "Brass valve",
        sku="BV-100",
        supplier="Acme",
        supplierCode="AC-100",
        sources=[{"source": "erp", "sourceId": "P-1"}, {"source": "pim", "sourceId": "42"}],
        names=ls(EN="Brass valve", DE="Messingventil"),
    )


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("sku/BV-100", {}, "More than one Product with sku [BV-100] found"),
        (
            "supplierCode/AC-100",
            {"supplier": "Acme"},
            "More than one Product with supplierCode [AC-100] and supplier [Acme] found",
        ),
    ],
)
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_ambiguous_sku_or_supplier_code_is_400(api, valve, path, params, message, method):
    make_product("Second valve", sku="BV-100", supplier="Acme", supplierCode="AC-100")
    before = product_snapshot()

    response = send(
        api,
        method,
        f"/v2/products/{path}",
        {"priority": 5} if method == "PATCH" else None,
        params=params,
    )

    assert_error(response, 400, 80005, "ProductMultipleFound", [message])
    assert product_snapshot() == before


def test_supplier_code_is_looked_up_with_its_supplier(api, valve):
    other = make_product("Same code elsewhere", supplier="Other", supplierCode="AC-100")

    mine = api.get("/v2/products/supplierCode/AC-100", params={"supplier": "Acme"})
    theirs = api.get("/v2/products/supplierCode/AC-100", params={"supplier": "Other"})

    assert mine.json()["data"]["id"] == valve.pk
    assert theirs.json()["data"]["id"] == other.pk


# Update ----------------------------------------------------------------------------------------


def test_patch_changes_only_what_it_sends(api, valve):
    before = fetch(api, valve.pk)
    Product.objects.filter(pk=valve.pk).update(last_modified_at=datetime(2026, 1, 1, tzinfo=UTC))

    response = api.patch(
        f"/v2/products/id/{valve.pk}", {"status": "T", "width": 1.25, "hidden": "Y"}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"data", "messages", "total"}
    data = body["data"]
    changed = {"status": "T", "width": 1.25, "hidden": "Y"}
    assert data == {**before, **changed, "lastModifiedAt": data["lastModifiedAt"]}
    assert at(data["lastModifiedAt"]) > datetime(2026, 1, 1, tzinfo=UTC)
    assert data["createdAt"] == before["createdAt"]
    assert response["ETag"] == api.get(f"/v2/products/id/{valve.pk}")["ETag"]


def test_patch_merges_localized_fields_by_language(api, valve):
    data = api.patch(
        f"/v2/products/id/{valve.pk}",
        {"names": ls(nl="Messing klep"), "descriptions": ls(FR="Vanne en laiton")},
    ).json()["data"]

    assert data["names"] == ls(EN="Brass valve", NL="Messing klep", DE="Messingventil")
    assert data["descriptions"] == ls(FR="Vanne en laiton")
    assert data["slugs"] == ls(EN="brass-valve", NL="messing-klep", DE="messingventil")


def test_patch_with_an_empty_value_clears_that_language(api, valve):
    data = api.patch(f"/v2/products/id/{valve.pk}", {"names": ls(DE="")}).json()["data"]

    assert data["names"] == ls(EN="Brass valve")


def test_patch_leaving_no_name_in_the_default_language_is_400(api, valve):
    before = product_snapshot()

    response = api.patch(f"/v2/products/id/{valve.pk}", {"names": ls(EN="")})

    assert_error(
        response,
        400,
        10017,
        "PayloadValidationError",
        ["names: a value in the product's default language EN is required"],
    )
    assert product_snapshot() == before


def test_patch_changing_the_default_language_needs_a_name_in_it(api, valve):
    before = product_snapshot()

    refused = api.patch(f"/v2/products/id/{valve.pk}", {"language": "FR"})
    snapshot = product_snapshot()
    changed = api.patch(f"/v2/products/id/{valve.pk}", {"language": "de"})
    english_removed = api.delete(f"/v2/products/id/{valve.pk}/translation/EN")

    assert_error(
        refused,
        400,
        10017,
        "PayloadValidationError",
        ["names: a value in the product's default language FR is required"],
    )
    assert snapshot == before
    assert changed.json()["data"]["language"] == "DE"
    assert english_removed.status_code == 200, english_removed.content
    assert fetch(api, valve.pk)["names"] == ls(DE="Messingventil")


def test_create_without_a_name_in_the_default_language_is_400(api, db):
    response = api.post("/v2/products", {"language": "DE", "names": ls(EN="Valve")})

    assert_error(
        response,
        400,
        10017,
        "PayloadValidationError",
        ["names: a value in the product's default language DE is required"],
    )
    assert not Product.objects.exists()


def test_patch_attributes_replace_the_set(api):
    product = make_product(
        "Valve", attributes=[{"name": "COLOR", "value": "red"}, {"name": "SIZE", "value": "M"}]
    )

    replaced = api.patch(
        f"/v2/products/id/{product.pk}", {"attributes": [{"name": "WEIGHT_G", "value": "50"}]}
    ).json()["data"]
    untouched = api.patch(f"/v2/products/id/{product.pk}", {"priority": 1}).json()["data"]
    emptied = api.patch(f"/v2/products/id/{product.pk}", {"attributes": []}).json()["data"]

    assert replaced["attributes"] == [{"name": "WEIGHT_G", "value": "50"}]
    assert untouched["attributes"] == [{"name": "WEIGHT_G", "value": "50"}]
    assert emptied["attributes"] == []


def test_patch_sources_array_replaces_the_set(api, valve):
    data = api.patch(
        f"/v2/products/id/{valve.pk}", {"sources": [{"source": "shop", "sourceId": "S-1"}]}
    ).json()["data"]

    assert data["sources"] == [{"source": "shop", "sourceId": "S-1"}]
    assert (data["source"], data["sourceId"]) == ("shop", "S-1")
    assert list(ProductSource.objects.values_list("source", "source_id")) == [("shop", "S-1")]
    assert api.get("/v2/products/sourceId/P-1", params={"source": "erp"}).status_code == 404


def test_patch_flat_source_adds_a_pair(api, valve):
    data = api.patch(f"/v2/products/id/{valve.pk}", {"source": "shop", "sourceId": "S-1"}).json()[
        "data"
    ]

    assert data["sources"] == [
        {"source": "erp", "sourceId": "P-1"},
        {"source": "pim", "sourceId": "42"},
        {"source": "shop", "sourceId": "S-1"},
    ]


def test_patch_empty_sources_array_removes_every_pair(api, valve):
    data = api.patch(f"/v2/products/id/{valve.pk}", {"sources": []}).json()["data"]

    assert (data["source"], data["sourceId"], data["sources"]) == (None, None, [])
    assert not ProductSource.objects.exists()


def test_patch_parent_moves_the_primary_category_and_keeps_extras(api):
    old, new, extra = make_category("Old"), make_category("New"), make_category("Extra")
    product = make_product("Valve", parent={"id": old.pk})
    category_add_products(category_id=extra.pk, product_ids=[product.pk])

    moved = api.patch(f"/v2/products/id/{product.pk}", {"parent": {"id": new.pk}}).json()["data"]
    promoted = api.patch(f"/v2/products/id/{product.pk}", {"parent": {"id": extra.pk}}).json()[
        "data"
    ]
    removed = api.patch(f"/v2/products/id/{product.pk}", {"parent": None}).json()["data"]

    assert (moved["parent"], moved["categoryIds"]) == ({"id": new.pk}, [new.pk, extra.pk])
    assert (promoted["parent"], promoted["categoryIds"]) == ({"id": extra.pk}, [extra.pk])
    assert (removed["parent"], removed["categoryIds"]) == (None, [])


def test_patch_parent_to_a_missing_cluster_is_404_and_changes_nothing(api, valve):
    before = product_snapshot()

    response = api.patch(f"/v2/products/id/{valve.pk}", {"parent": {"clusterId": 987654}})

    assert_error(
        response,
        404,
        20007,
        "ParentClusterNotFound",
        ["Parent cluster with id [987654] not found"],
    )
    assert product_snapshot() == before


def test_patch_dimension_to_null(api):
    product = make_product("Valve", width=3.5, weight=1)

    data = api.patch(f"/v2/products/id/{product.pk}", {"width": None}).json()["data"]

    assert (data["width"], data["weight"]) == (None, 1)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"priority": 0, "status": "A"},
        {"names": ls(EN="Brass valve"), "sku": "BV-100", "supplier": "Acme"},
        {"sources": [{"source": "erp", "sourceId": "P-1"}, {"source": "pim", "sourceId": "42"}]},
        {"source": "pim", "sourceId": "42"},
        {"width": 2.5, "attributes": [{"name": "COLOR", "value": "red"}]},
        {"parent": {"id": "CATEGORY"}},
        {"slugs": ls(EN="brass-valve")},
    ],
)
def test_unchanged_patch_keeps_last_modified_at(api, body):
    category = make_category("Valves")
    product = make_product(
        "Brass valve",
        sku="BV-100",
        supplier="Acme",
        width=2.5,
        attributes=[{"name": "COLOR", "value": "red"}],
        parent={"id": category.pk},
        sources=[{"source": "erp", "sourceId": "P-1"}, {"source": "pim", "sourceId": "42"}],
    )
    if "parent" in body:
        body = {"parent": {"id": category.pk}}
    before = fetch(api, product.pk)
    snapshot = product_snapshot()

    response = api.patch(f"/v2/products/id/{product.pk}", body)

    assert response.status_code == 200, response.content
    assert response.json()["data"] == before
    assert product_snapshot() == snapshot


# Conditional requests --------------------------------------------------------------------------


# Delete ----------------------------------------------------------------------------------------


def test_delete_removes_the_product_its_sources_and_memberships(api):
    primary, extra = make_category("Primary"), make_category("Extra")
    product = make_product(
        "Valve", parent={"id": primary.pk}, sources=[{"source": "erp", "sourceId": "P-1"}]
    )
    keeper = make_product("Keeper", parent={"id": primary.pk})
    category_add_products(category_id=extra.pk, product_ids=[product.pk])

    response = api.delete(f"/v2/products/id/{product.pk}")

    assert response.status_code == 200
    assert response.json() == {"data": {}, "messages": ["Product deleted"]}
    assert list(Product.objects.values_list("pk", flat=True)) == [keeper.pk]
    assert not ProductSource.objects.exists()
    assert list(ProductCategory.objects.values_list("product_id", "category_id")) == [
        (keeper.pk, primary.pk)
    ]
    assert Category.objects.count() == 2
    assert_error(
        api.get(f"/v2/products/id/{product.pk}"),
        404,
        80006,
        "ProductNotFound",
        [f"Product with id [{product.pk}] not found"],
    )
    # The pair is free again.
    assert created(api, names=ls(EN="New"), source="erp", sourceId="P-1")["sourceId"] == "P-1"


# Translation removal ---------------------------------------------------------------------------


@pytest.fixture
def translated(db) -> Product:
    return make_product(
        None,
        names=ls(EN="Brass valve", DE="Messingventil", NL="Messing klep"),
        descriptions=ls(DE="Aus Messing"),
        notes=ls(DE="Schwer"),
        packageDescriptions=ls(DE="Karton"),
        sku="BV-100",
    )


@pytest.mark.parametrize("language", ["DE", "de"])
def test_remove_a_translation(api, translated, language):
    before = fetch(api, translated.pk)
    Product.objects.filter(pk=translated.pk).update(
        last_modified_at=datetime(2026, 1, 1, tzinfo=UTC)
    )

    response = api.delete(f"/v2/products/id/{translated.pk}/translation/{language}")

    assert response.status_code == 200
    assert response.json() == {"data": {}, "messages": ["Translation deleted"]}
    after = fetch(api, translated.pk)
    assert after == {
        **before,
        "names": ls(EN="Brass valve", NL="Messing klep"),
        "descriptions": [],
        "notes": [],
        "packageDescriptions": [],
        "slugs": ls(EN="brass-valve", NL="messing-klep"),
        "lastModifiedAt": after["lastModifiedAt"],
    }
    assert at(after["lastModifiedAt"]) > datetime(2026, 1, 1, tzinfo=UTC)
    # The removed words are no longer searchable.
    assert listed_ids(api.get("/v2/products", params={"term": "Messingventil"})) == []
    assert listed_ids(api.get("/v2/products", params={"term": "klep"})) == [translated.pk]


# Bad input on create and update ----------------------------------------------------------------

BAD_BODIES = [
    (
        {"names": [{"language": "XX", "value": "Valve"}]},
        'names[0].language: unknown language "XX"',
    ),
    (
        {"descriptions": [{"language": "EN", "value": "a"}, {"language": "en", "value": "b"}]},
        'descriptions[1].language: duplicate language "en"',
    ),
    ({"language": "XX"}, 'language: unknown language "XX"'),
    ({"status": "X"}, "status: Invalid enum value 'X'"),
    ({"status": "a"}, "status: Invalid enum value 'a'"),
    ({"taxCode": "Q"}, "taxCode: Invalid enum value 'Q'"),
    ({"hidden": "yes"}, "hidden: Invalid enum value 'yes'"),
    ({"orderable": True}, "orderable: Expected `str`, got `bool`"),
    ({"sku": "S" * 256}, "sku: Expected `str` of length <= 255"),
    ({"supplierCode": "C" * 256}, "supplierCode: Expected `str` of length <= 255"),
    ({"names": ls(EN="N" * 1001)}, "names[0].value: Expected `str` of length <= 1000"),
    ({"notes": ls(EN="N" * 1001)}, "notes[0].value: Expected `str` of length <= 1000"),
    (
        {"descriptions": ls(EN="D" * 300_001)},
        "descriptions[0].value: Expected `str` of length <= 300000",
    ),
    ({"width": -1}, "width: Expected `float` >= 0.0"),
    ({"weight": -0.5}, "weight: Expected `float` >= 0.0"),
    ({"height": "10"}, "height: Expected `float | null`, got `str`"),
    ({"unit": 0}, "unit: Expected `int` >= 1"),
    ({"minimumQuantity": 0}, "minimumQuantity: Expected `int` >= 1"),
    ({"packageUnitQuantity": -1}, "packageUnitQuantity: Expected `int` >= 0"),
    ({"priority": -1}, "priority: Expected `int` >= 0"),
    ({"priority": "1"}, "priority: Expected `int`, got `str`"),
    (
        {"attributes": [{"name": "color", "value": "red"}]},
        "attributes[0].name: Expected `str` matching regex '^[A-Z0-9_]{1,64}$'",
    ),
    (
        {"attributes": [{"name": "SIZE-MM", "value": "15"}]},
        "attributes[0].name: Expected `str` matching regex '^[A-Z0-9_]{1,64}$'",
    ),
    (
        {"attributes": [{"name": "A" * 65, "value": "x"}]},
        "attributes[0].name: Expected `str` matching regex '^[A-Z0-9_]{1,64}$'",
    ),
    (
        {"attributes": [{"name": "COLOR", "value": "V" * 256}]},
        "attributes[0].value: Expected `str` of length <= 255",
    ),
    (
        {"attributes": [{"name": "COLOR", "value": "red"}, {"name": "COLOR", "value": "blue"}]},
        'attributes[1].name: duplicate attribute "COLOR"',
    ),
    ({"attributes": {"COLOR": "red"}}, "attributes: Expected `array`, got `object`"),
    ({"colour": "red"}, "colour: unknown field"),
    (
        {"slugs": ls(EN="Not A Slug")},
        'slugs[0].value: invalid slug "Not A Slug" (lower-case letters, digits and single hyphens)',
    ),
    (
        {"sources": [{"source": "erp", "sourceId": ""}]},
        "sources[0].sourceId: Expected `str` of length >= 1",
    ),
]

BAD_BODIES += [
    ({"source": "erp", "sourceId": "S" * 256}, "sourceId: Expected `str` of length <= 255"),
    ({"source": "", "sourceId": "P-9"}, "source: Expected `str` of length >= 1"),
]

BUSINESS_ERRORS = [
    ({"sourceId": "P-9"}, "source: required with sourceId"),
    ({"source": "erp"}, "sourceId: required with source"),
    ({"parent": {"sourceId": "CAT"}}, "parent.source: required with parent.sourceId"),
    ({"parent": {}}, "parent: give either id or sourceId and source"),
    (
        {"parent": {"clusterId": 3, "id": 4}},
        "parent: give a category (id, or sourceId and source) or clusterId, not both",
    ),
]


def with_name(body: dict) -> dict:
    return body if "names" in body else {"names": ls(EN="Valve"), **body}


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
def test_create_with_bad_input_is_400_and_writes_nothing(api, valve, body, message):
    before = product_snapshot()

    response = api.post("/v2/products", with_name(body))

    assert_error(response, 400, 10007, "SchemaValidationException", [message])
    assert product_snapshot() == before


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
def test_patch_with_bad_input_is_400_and_writes_nothing(api, valve, body, message):
    before = product_snapshot()

    response = api.patch(f"/v2/products/id/{valve.pk}", {"priority": 7, **body})

    assert_error(response, 400, 10007, "SchemaValidationException", [message])
    assert product_snapshot() == before


@pytest.mark.parametrize(("body", "message"), BUSINESS_ERRORS)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_business_validation_is_400_and_writes_nothing(api, valve, body, message, method):
    before = product_snapshot()

    if method == "POST":
        response = api.post("/v2/products", with_name(body))
    else:
        response = api.patch(f"/v2/products/id/{valve.pk}", {"priority": 7, **body})

    assert_error(response, 400, 10017, "PayloadValidationError", [message])
    assert product_snapshot() == before


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("[1, 2]", "application/json"),
        ('"valve"', "application/json"),
        ("42", "application/json"),
        ("null", "application/json"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_non_object_body_is_400(api, valve, body, content_type, method):
    before = product_snapshot()
    path = "/v2/products" if method == "POST" else f"/v2/products/id/{valve.pk}"

    response = send(api, method, path, body, content_type=content_type)

    assert_error(response, 400, 10005, "InvalidJSONPayload", ["Request body must be a JSON object"])
    assert product_snapshot() == before


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_malformed_json_is_400(api, valve, method):
    before = product_snapshot()
    path = "/v2/products" if method == "POST" else f"/v2/products/id/{valve.pk}"

    response = send(api, method, path, '{"names": [', content_type="application/json")

    assert_error(response, 400, 10005, "InvalidJSONPayload")
    assert product_snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"source": "erp", "sourceId": "P-1"},
        {"sources": [{"source": "shop", "sourceId": "S"}, {"source": "pim", "sourceId": "42"}]},
    ],
)
def test_create_with_a_taken_source_pair_is_409(api, valve, body):
    before = product_snapshot()
    pair = (body.get("sourceId") or "42", body.get("source") or "pim")

    response = api.post("/v2/products", with_name(body))

    assert_error(
        response,
        409,
        80004,
        "ProductExists",
        [f"Product with sourceId [{pair[0]}] and source [{pair[1]}] already exists"],
    )
    assert product_snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"source": "erp", "sourceId": "P-1"},
        {"sources": [{"source": "erp", "sourceId": "P-1"}]},
    ],
)
def test_patch_with_a_taken_source_pair_is_409(api, valve, body):
    other = make_product("Other", sources=[{"source": "shop", "sourceId": "S-1"}])
    before = product_snapshot()

    response = api.patch(f"/v2/products/id/{other.pk}", {"priority": 3, **body})

    assert_error(
        response,
        409,
        80004,
        "ProductExists",
        ["Product with sourceId [P-1] and source [erp] already exists"],
    )
    assert product_snapshot() == before


def test_a_given_colliding_slug_is_409_on_create_and_patch(api, valve):
    other = make_product("Other")
    before = product_snapshot()

    on_create = api.post("/v2/products", {"names": ls(EN="New"), "slugs": ls(EN="brass-valve")})
    on_patch = api.patch(
        f"/v2/products/id/{other.pk}", {"priority": 3, "slugs": ls(EN="brass-valve")}
    )

    for response in (on_create, on_patch):
        assert_error(
            response,
            409,
            80004,
            "ProductExists",
            ["Product with slug [brass-valve] in language [EN] already exists"],
        )
    assert product_snapshot() == before


@pytest.mark.parametrize(
    ("parent", "message"),
    [
        ({"id": 999999}, "Parent category with id [999999] not found"),
        (
            {"source": "erp", "sourceId": "NOPE"},
            "Parent category with sourceId [NOPE] and source [erp] not found",
        ),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_missing_parent_category_is_404(api, valve, parent, message, method):
    make_category("Valves", sources=[("erp", "CAT-V")])
    before = product_snapshot()

    if method == "POST":
        response = api.post("/v2/products", {"names": ls(EN="New"), "parent": parent})
    else:
        response = api.patch(f"/v2/products/id/{valve.pk}", {"priority": 3, "parent": parent})

    assert_error(response, 404, 30007, "ParentCategoryNotFound", [message])
    assert product_snapshot() == before


# Reads: language and expands -------------------------------------------------------------------


@pytest.fixture
def placed(db) -> dict:
    tools = make_category("Tools", names={"NL": "Gereedschap"})
    valves = make_category("Valves", parent=tools, sources=[("erp", "CAT-V")])
    extra = make_category("Sale")
    product = make_product(
        None,
        names=ls(EN="Brass valve", NL="Messing klep"),
        descriptions=ls(EN="Made of brass"),
        parent={"id": valves.pk},
        sources=[{"source": "erp", "sourceId": "P-1"}],
    )
    category_add_products(category_id=extra.pk, product_ids=[product.pk])
    return {"tools": tools, "valves": valves, "extra": extra, "product": product}


def category_data(api, category: Category, **params) -> dict:
    response = api.get(f"/v2/categories/id/{category.pk}", params=params)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def test_language_restricts_every_localized_field_with_fallback(api, placed):
    product = placed["product"]
    full = fetch(api, product.pk)

    dutch = fetch(api, product.pk, language="nl")
    german = fetch(api, product.pk, language="DE")

    assert full["names"] == ls(EN="Brass valve", NL="Messing klep")
    assert dutch["names"] == ls(NL="Messing klep")
    assert dutch["descriptions"] == ls(EN="Made of brass")  # falls back to the record language
    assert dutch["slugs"] == ls(NL="messing-klep")
    assert german["names"] == ls(EN="Brass valve")
    assert german["shortDescriptions"] == []


def test_language_applies_to_lists_searches_and_expands(api, placed):
    product = placed["product"]

    listed = api.get("/v2/products", params={"language": "NL", "expands": "parent"})
    searched = api.post("/v2/products/search", {"language": "NL", "expands": ["categories"]})
    in_filters = api.post("/v2/products/search", {"filters": {"language": "NL"}})

    row = listed.json()["data"][0]
    assert row["id"] == product.pk
    assert row["names"] == ls(NL="Messing klep")
    assert row["parent"]["names"] == ls(EN="Valves")
    categories = searched.json()["data"][0]["categories"]
    assert [c["names"] for c in categories] == [ls(EN="Valves"), ls(EN="Sale")]
    assert in_filters.json()["data"][0]["names"] == ls(NL="Messing klep")


@pytest.mark.parametrize("request_kind", ["single", "list", "search", "categories", "export"])
def test_unknown_response_language_is_400(api, placed, request_kind):
    product = placed["product"]
    if request_kind == "single":
        response = api.get(f"/v2/products/id/{product.pk}", params={"language": "XX"})
    elif request_kind == "list":
        response = api.get("/v2/products", params={"language": "XX"})
    elif request_kind == "search":
        response = api.post("/v2/products/search", {"language": "XX"})
    elif request_kind == "categories":
        response = api.get(f"/v2/products/id/{product.pk}/categories", params={"language": "XX"})
    else:
        response = api.get("/v2/products/export", params={"language": "XX"})

    assert_error(
        response, 400, 10007, "SchemaValidationException", ['language: unknown language "XX"']
    )


def test_related_records_appear_as_ids_without_expands(api, placed):
    data = fetch(api, placed["product"].pk)

    assert data["parent"] == {"id": placed["valves"].pk}
    assert data["categoryIds"] == [placed["valves"].pk, placed["extra"].pk]
    assert "categories" not in data
    assert "cluster" not in data


def test_expands_on_a_single_product(api, placed):
    product, valves, extra = placed["product"], placed["valves"], placed["extra"]
    plain = fetch(api, product.pk)

    data = fetch(api, product.pk, expands="categories,parent,sources,cluster")

    assert data["parent"] == category_data(api, valves)
    assert data["categories"] == [
        {**category_data(api, valves), "isPrimary": True},
        {**category_data(api, extra), "isPrimary": False},
    ]
    assert data["sources"] == [{"source": "erp", "sourceId": "P-1"}]
    assert data["cluster"] is None
    rest = {k: v for k, v in data.items() if k not in {"parent", "categories", "cluster"}}
    assert rest == {k: v for k, v in plain.items() if k != "parent"}


def test_expands_parent_without_a_primary_category(api, db):
    product = make_product("Loose")

    data = fetch(api, product.pk, expands="parent,categories")

    assert (data["parent"], data["categories"]) == (None, [])


def test_expands_on_lists_searches_and_exports(api, placed):
    single = fetch(api, placed["product"].pk, expands="categories,parent")

    listed = api.get("/v2/products", params={"expands": "categories,parent"})
    searched = api.post("/v2/products/search", {"expands": ["categories", "parent"]})
    exported = api.get("/v2/products/export", params={"expands": "categories,parent"})

    assert listed.json()["data"] == [single]
    assert searched.json()["data"] == [single]
    assert [json.loads(line) for line in ndjson_lines(exported)] == [single]


@pytest.mark.parametrize("request_kind", ["single", "list", "search", "export"])
def test_unknown_expand_is_400(api, placed, request_kind):
    product = placed["product"]
    if request_kind == "single":
        response = api.get(f"/v2/products/id/{product.pk}", params={"expands": "parent,children"})
    elif request_kind == "list":
        response = api.get("/v2/products", params={"expands": "parent,children"})
    elif request_kind == "search":
        response = api.post("/v2/products/search", {"expands": ["parent", "children"]})
    else:
        response = api.get("/v2/products/export", params={"expands": "parent,children"})

    assert_error(
        response,
        400,
        10007,
        "SchemaValidationException",
        ["expands: unknown value children (allowed: categories, cluster, parent, sources)"],
    )


# Categories of a product -----------------------------------------------------------------------


def test_categories_of_a_product_primary_first(api, placed):
    product, valves, extra = placed["product"], placed["valves"], placed["extra"]
    other = make_category("Later")
    category_add_products(category_id=other.pk, product_ids=[product.pk])

    response = api.get(f"/v2/products/id/{product.pk}/categories")

    assert page_meta(response) == {
        "messages": [],
        "start": 1,
        "end": 3,
        "page": 1,
        "pages": 1,
        "total": 3,
        "offset": 12,
        "itemsFound": 3,
    }
    assert response.json()["data"] == [
        {**category_data(api, valves), "isPrimary": True},
        {**category_data(api, extra), "isPrimary": False},
        {**category_data(api, other), "isPrimary": False},
    ]


def test_categories_of_a_product_with_the_primary_not_the_lowest_id(api, db):
    first, second = make_category("First"), make_category("Second")
    product = make_product("Valve", parent={"id": second.pk})
    category_add_products(category_id=first.pk, product_ids=[product.pk])

    response = api.get(f"/v2/products/id/{product.pk}/categories", params={"language": "EN"})

    rows = response.json()["data"]
    assert [(row["id"], row["isPrimary"]) for row in rows] == [(second.pk, True), (first.pk, False)]


def test_categories_of_a_product_paginated_and_empty(api, placed):
    product = placed["product"]
    loose = make_product("Loose")

    second_page = api.get(
        f"/v2/products/id/{product.pk}/categories", params={"offset": 1, "page": 2}
    )
    empty = api.get(f"/v2/products/id/{loose.pk}/categories")

    assert listed_ids(second_page) == [placed["extra"].pk]
    assert page_meta(second_page)["pages"] == 2
    assert empty.status_code == 200
    assert empty.json() == EMPTY_PAGE
    assert_error(
        api.get(f"/v2/products/id/{product.pk}/categories", params={"offset": 0}),
        400,
        10015,
        "PaginatedResponseException",
    )


# Lists and searches: filters -------------------------------------------------------------------


def search_both(api, query: dict, filters: dict, **body) -> list[list[int]]:
    """Run the same search as GET query parameters and as a POST body."""
    return [
        listed_ids(api.get("/v2/products", params=query)),
        listed_ids(api.post("/v2/products/search", {"filters": filters, **body})),
    ]


@pytest.fixture
def catalogue(db) -> dict:
    """Four products in a small tree: tools > drills > bits, and garden."""
    tools = make_category("Tools")
    drills = make_category("Drills", parent=tools)
    bits = make_category("Bits", parent=drills)
    garden = make_category("Garden")
    valve = make_product(
        "Brass valve",
        sku="BV-1",
        supplier="Acme",
        supplierCode="AC-1",
        manufacturer="Valvco",
        eanCode="8710000000001",
        parent={"id": drills.pk},
        sources=[{"source": "erp", "sourceId": "P-0"}],
    )
    pipe = make_product(
        "Copper pipe",
        sku="CP-1",
        supplier="Acme",
        supplierCode="AC-2",
        manufacturer="Pipeco",
        eanCode="8710000000002",
        status="T",
        hidden="Y",
        parent={"id": bits.pk},
        sources=[{"source": "erp", "sourceId": "P-1"}, {"source": "pim", "sourceId": "X-1"}],
    )
    bolt = make_product(
        "Steel bolt",
        sku="SB-1",
        supplier="Boltz",
        supplierCode="AC-1",
        manufacturer="Valvco",
        eanCode="8710000000003",
        status="P",
        parent={"id": tools.pk},
        sources=[{"source": "pim", "sourceId": "X-2"}],
    )
    hose = make_product("Garden hose", sku="GH-1", parent={"id": garden.pk})
    category_add_products(category_id=garden.pk, product_ids=[bolt.pk])
    return {
        "tools": tools,
        "drills": drills,
        "bits": bits,
        "garden": garden,
        "valve": valve,
        "pipe": pipe,
        "bolt": bolt,
        "hose": hose,
    }


def pks(catalogue: dict, *names: str) -> list[int]:
    return sorted(catalogue[name].pk for name in names)


def test_list_without_filters_is_ordered_by_id(api, catalogue):
    response = api.get("/v2/products")

    assert listed_ids(response) == pks(catalogue, "valve", "pipe", "bolt", "hose")
    assert response.json()["data"][0] == fetch(api, catalogue["valve"].pk)


def test_filter_by_ids(api, catalogue):
    wanted = pks(catalogue, "bolt", "valve")

    results = search_both(api, {"ids": ",".join(map(str, wanted))}, {"ids": wanted})

    assert results == [wanted, wanted]


@pytest.mark.parametrize(
    ("query", "sources", "expected"),
    [
        (
            {"source": "erp", "sourceIds": "P-0,P-1"},
            [{"source": "erp", "sourceIds": ["P-0", "P-1"]}],
            ["valve", "pipe"],
        ),
        (
            {"source": "pim", "sourceIds": "X-2"},
            [{"source": "pim", "sourceIds": ["X-2"]}],
            ["bolt"],
        ),
        ({"source": "pim", "sourceIds": "P-0"}, [{"source": "pim", "sourceIds": ["P-0"]}], []),
    ],
)
def test_filter_by_sources(api, catalogue, query, sources, expected):
    results = search_both(api, query, {"sources": sources})

    assert results == [pks(catalogue, *expected)] * 2


def test_filter_by_several_source_groups(api, catalogue):
    response = api.post(
        "/v2/products/search",
        {
            "filters": {
                "sources": [
                    {"source": "erp", "sourceIds": ["P-0"]},
                    {"source": "pim", "sourceIds": ["X-1", "X-2"]},
                ]
            }
        },
    )

    assert listed_ids(response) == pks(catalogue, "valve", "pipe", "bolt")


@pytest.mark.parametrize(
    ("name", "query_value", "body_value", "expected"),
    [
        ("skus", "BV-1,GH-1", ["BV-1", "GH-1"], ["valve", "hose"]),
        ("skus", "bv-1", ["bv-1"], []),
        ("supplierCodes", "AC-1", ["AC-1"], ["valve", "bolt"]),
        ("suppliers", "Acme", ["Acme"], ["valve", "pipe"]),
        ("suppliers", "Boltz,Acme", ["Boltz", "Acme"], ["valve", "pipe", "bolt"]),
        ("manufacturers", "Valvco", ["Valvco"], ["valve", "bolt"]),
        (
            "eanCodes",
            "8710000000002,8710000000003",
            ["8710000000002", "8710000000003"],
            ["pipe", "bolt"],
        ),
        ("statuses", "A", ["A"], ["valve", "hose"]),
        ("statuses", "T,P", ["T", "P"], ["pipe", "bolt"]),
        ("statuses", "S", ["S"], []),
        ("hidden", "Y", "Y", ["pipe"]),
        ("hidden", "N", "N", ["valve", "bolt", "hose"]),
        ("hidden", "Y", True, ["pipe"]),
    ],
)
def test_filter_by_product_fields(api, catalogue, name, query_value, body_value, expected):
    results = search_both(api, {name: query_value}, {name: body_value})

    assert results == [pks(catalogue, *expected)] * 2


@pytest.mark.parametrize(
    ("categories", "descendants", "expected"),
    [
        (["tools"], None, ["valve", "pipe", "bolt"]),
        (["drills"], None, ["valve", "pipe"]),
        (["bits"], None, ["pipe"]),
        (["garden"], None, ["bolt", "hose"]),
        (["bits", "garden"], None, ["pipe", "bolt", "hose"]),
        (["tools"], "N", ["bolt"]),
        (["drills"], "N", ["valve"]),
        (["tools", "drills"], "N", ["valve", "bolt"]),
        (["tools"], "Y", ["valve", "pipe", "bolt"]),
    ],
)
def test_filter_by_categories_includes_descendants_by_default(
    api, catalogue, categories, descendants, expected
):
    ids = [catalogue[name].pk for name in categories]
    query = {"categoryIds": ",".join(map(str, ids))}
    filters = {"categoryIds": ids}
    if descendants is not None:
        query["categoryDescendants"] = descendants
        filters["categoryDescendants"] = descendants

    results = search_both(api, query, filters)

    assert results == [pks(catalogue, *expected)] * 2


@pytest.mark.parametrize(
    ("value", "expected"), [("false", ["bolt"]), ("true", ["valve", "pipe", "bolt"])]
)
def test_category_descendants_as_true_or_false(api, catalogue, value, expected):
    tools = catalogue["tools"].pk

    results = search_both(
        api,
        {"categoryIds": str(tools), "categoryDescendants": value},
        {"categoryIds": [tools], "categoryDescendants": value == "true"},
    )

    assert results == [pks(catalogue, *expected)] * 2


def test_filters_combine(api, catalogue):
    results = search_both(
        api,
        {"suppliers": "Acme", "categoryIds": str(catalogue["drills"].pk), "statuses": "A"},
        {"suppliers": ["Acme"], "categoryIds": [catalogue["drills"].pk], "statuses": ["A"]},
    )

    assert results == [pks(catalogue, "valve")] * 2


# Sorting ---------------------------------------------------------------------------------------


@pytest.fixture
def sortable(db) -> list[Product]:
    rows = [
        ("Charlie", "Zulu", "S-2", 2, "T", "Bolt", "M3", 3, 2),
        ("Alpha", "Yankee", "S-4", 1, "A", "Acme", "M2", 1, 4),
        ("Delta", "Xray", "S-1", 2, "S", "Core", "M1", 4, 1),
        ("Bravo", "Whiskey", "S-3", 1, "A", "Acme", "M2", 2, 3),
    ]
    products = []
    for en, nl, sku, priority, status, supplier, manufacturer, created_day, modified_day in rows:
        product = make_product(
            None,
            names=ls(EN=en, NL=nl),
            sku=sku,
            priority=priority,
            status=status,
            supplier=supplier,
            manufacturer=manufacturer,
        )
        set_stamps(
            product,
            created=datetime(2026, 1, created_day, tzinfo=UTC),
            modified=datetime(2026, 2, modified_day, tzinfo=UTC),
        )
        products.append(product)
    return products


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("id", [0, 1, 2, 3]),
        ("-id", [3, 2, 1, 0]),
        ("name", [1, 3, 0, 2]),
        ("-name", [2, 0, 3, 1]),
        ("sku", [2, 0, 3, 1]),
        ("-sku", [1, 3, 0, 2]),
        ("priority", [1, 3, 0, 2]),  # ties end in ascending id
        ("-priority", [2, 0, 3, 1]),  # ties follow the last direction
        ("status", [1, 3, 2, 0]),
        ("-status", [0, 2, 3, 1]),
        ("supplier", [1, 3, 0, 2]),
        ("-supplier", [2, 0, 3, 1]),
        ("manufacturer", [2, 1, 3, 0]),
        ("-manufacturer", [0, 3, 1, 2]),
        ("createdAt", [1, 3, 0, 2]),
        ("-createdAt", [2, 0, 3, 1]),
        ("lastModifiedAt", [2, 0, 3, 1]),
        ("-lastModifiedAt", [1, 3, 0, 2]),
        ("status,-id", [3, 1, 2, 0]),
        ("-priority,sku", [2, 0, 3, 1]),
        ("supplier,-name", [3, 1, 0, 2]),
        ("+priority,id", [1, 3, 0, 2]),
    ],
)
def test_sort_in_a_query(api, sortable, sort, expected):
    response = api.get("/v2/products", params={"sort": sort})

    assert listed_ids(response) == [sortable[index].pk for index in expected]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ([{"field": "supplier", "order": "DESC"}, {"field": "name", "order": "ASC"}], [2, 0, 1, 3]),
        ([{"field": "priority"}], [1, 3, 0, 2]),
        ([{"field": "priority", "order": "desc"}, {"field": "id", "order": "DESC"}], [2, 0, 3, 1]),
        ([{"field": "lastModifiedAt", "order": "DESC"}], [1, 3, 0, 2]),
        ("-priority,sku", [2, 0, 3, 1]),
    ],
)
def test_sort_in_a_search_body(api, sortable, sort, expected):
    response = api.post("/v2/products/search", {"sort": sort})

    assert listed_ids(response) == [sortable[index].pk for index in expected]


def test_sort_by_name_uses_the_requested_language(api, sortable):
    dutch = api.get("/v2/products", params={"sort": "name", "language": "NL"})
    searched = api.post("/v2/products/search", {"sort": [{"field": "name"}], "language": "NL"})

    assert listed_ids(dutch) == listed_ids(searched) == [p.pk for p in reversed(sortable)]


# Pagination ------------------------------------------------------------------------------------


@pytest.fixture
def many(db) -> list[Product]:
    return make_products([{"name": f"Item {number:02d}"} for number in range(25)])


def test_empty_result(api, many):
    response = api.get("/v2/products", params={"skus": "NOPE"})

    assert response.json() == EMPTY_PAGE


# Bad filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"colour": "red"}, "colour: unknown filter"),
        ({"sku": "BV-1"}, "sku: unknown filter"),
        (
            {"statuses": "Z"},
            "statuses: Select a valid choice. Z is not one of the available choices.",
        ),
        (
            {"hidden": "maybe"},
            "hidden: Select a valid choice. maybe is not one of the available choices.",
        ),
        ({"ids": "1,x"}, "ids: Enter a number."),
        ({"categoryIds": "x"}, "categoryIds: Enter a number."),
        ({"createdAtFrom": "yesterday"}, "createdAtFrom: Enter a valid date/time."),
        ({"source": "erp"}, "source and sourceIds: give both"),
        ({"sourceIds": "P-1"}, "source and sourceIds: give both"),
    ],
)
def test_bad_filter_in_a_query_is_400(api, db, query, message):
    listed = api.get("/v2/products", params=query)
    exported = api.get("/v2/products/export", params=query)

    for response in (listed, exported):
        assert_error(response, 400, 10007, "SchemaValidationException", [message])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"filters": {"colour": "red"}}, "colour: unknown filter"),
        (
            {"filters": {"statuses": ["A", "X"]}},
            "statuses: Select a valid choice. X is not one of the available choices.",
        ),
        ({"filters": {"createdAt": "2026-01-01"}}, "filters.createdAt: must be {from, to}"),
        (
            {"filters": {"lastModifiedAt": {"since": "2026-01-01"}}},
            "filters.lastModifiedAt: must be {from, to}",
        ),
        ({"filters": {"createdAt": {"from": "soon"}}}, "createdAtFrom: Enter a valid date/time."),
        (
            {"filters": {"sources": {"source": "erp"}}},
            "filters.sources: must be [{source, sourceIds: [...]}]",
        ),
        (
            {"filters": {"sources": [{"source": "erp", "sourceIds": "P-1"}]}},
            "filters.sources: must be [{source, sourceIds: [...]}]",
        ),
        ({"filters": []}, "filters: must be an object"),
        ({"filter": {}}, "filter: unknown field"),
    ],
)
def test_bad_search_body_is_400(api, db, body, message):
    response = api.post("/v2/products/search", body)

    assert_error(response, 400, 10007, "SchemaValidationException", [message])


@pytest.mark.parametrize("body", ["[]", '"term"', "not json"])
def test_search_body_must_be_a_json_object(api, db, body):
    response = api.post("/v2/products/search", body)

    assert_error(response, 400, 10005, "InvalidJSONPayload")


# Term search -----------------------------------------------------------------------------------


def term_ids(api, term: str, **params) -> list[int]:
    listed = listed_ids(api.get("/v2/products", params={"term": term, **params}))
    searched = listed_ids(api.post("/v2/products/search", {"filters": {"term": term}, **params}))
    assert listed == searched
    return listed


@pytest.fixture
def shelf(db) -> dict[str, Product]:
    return {
        "valve": make_product("Brass valve", sku="BV-1"),
        "ball": make_product("Ball valve stainless", sku="BL-2"),
        "pipe": make_product("Copper pipe", sku="CP-3"),
        "kitchen": make_product(None, names=ls(EN="Kitchen tap", DE="Küchenarmatur Küche")),
        "cafe": make_product("Café table", supplierCode="TBL-9", supplier="Acme"),
    }


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("valve", ["valve", "ball"]),
        ("VALVE", ["valve", "ball"]),
        ("Valve", ["valve", "ball"]),
        ("brass valve", ["valve"]),
        ("vlave", ["valve", "ball"]),  # transposed letters
        ("valvee", ["valve", "ball"]),
        ("coper", ["pipe"]),  # a missing letter
        ("bras", ["valve"]),  # prefix of the last word
        ("cop", ["pipe"]),
        ("kuche", ["kitchen"]),  # without the accent
        ("Küche", ["kitchen"]),
        ("KÜCHE", ["kitchen"]),
        ("cafe", ["cafe"]),
        ("café", ["cafe"]),
        ("  copper   pipe ", ["pipe"]),
        ("stainless ball", ["ball"]),  # word order does not matter
    ],
)
def test_term_is_forgiving(api, shelf, term, expected):
    found = term_ids(api, term)

    assert sorted(found) == sorted(shelf[name].pk for name in expected)


@pytest.mark.parametrize("term", ["zebra", "qqqqq", "valve zebra", "---", "BV-9"])
def test_term_without_matches_is_an_empty_page(api, shelf, term):
    response = api.get("/v2/products", params={"term": term})

    assert response.json() == EMPTY_PAGE


def test_blank_term_filters_nothing(api, shelf):
    assert len(term_ids(api, "   ")) == 5


@pytest.mark.parametrize(
    ("field", "value", "term"),
    [
        ("sku", "VX-100", "VX-100"),
        ("sku", "VX-100", "vx-100"),  # codes compare without case
        ("supplierCode", "VX-100", "VX-100"),
        ("supplierCode", "VX-100", "vx-100"),
        ("eanCode", "4006381333931", "4006381333931"),
        ("sourceId", "4006381333931", "4006381333931"),
        ("sourceId", "VX-100", "VX-100"),
    ],
)
def test_an_exact_code_ranks_first(api, db, field, value, term):
    # Earlier products mention the code in their names, several times over.
    mentions = [
        make_product(f"{value} housing for {value} {value}"),
        make_product(f"Adapter {value}"),
    ]
    if field == "sourceId":
        coded = make_product("Gadget", sources=[{"source": "erp", "sourceId": value}])
    elif field == "supplierCode":
        coded = make_product("Gadget", supplier="Acme", supplierCode=value)
    else:
        coded = make_product("Gadget", **{field: value})

    found = term_ids(api, term)

    # The code match first, then the other matches by id.
    assert found == [coded.pk, *(p.pk for p in mentions)]


def test_term_matches_other_codes(api, db):
    product = make_product("Gadget", manufacturer="Valvco", oemCode="OEM-77", barCode="BAR-5")

    assert term_ids(api, "valvco") == [product.pk]
    assert term_ids(api, "OEM-77") == [product.pk]
    assert term_ids(api, "bar-5") == [product.pk]


def test_term_searches_names_in_every_language(api, db):
    product = make_product(None, names=ls(EN="Tap", NL="Kraan", FR="Robinet"))

    assert term_ids(api, "kraan") == term_ids(api, "robinet") == [product.pk]


def test_term_follows_updates(api, db):
    product = make_product("Copper pipe")

    api.patch(f"/v2/products/id/{product.pk}", {"names": ls(EN="Steel tube"), "sku": "ST-1"})

    assert term_ids(api, "copper") == []
    assert term_ids(api, "tube") == [product.pk]
    assert term_ids(api, "st-1") == [product.pk]


def test_term_combines_with_filters_sort_and_pages(api, shelf):
    second_page = term_ids(api, "valve", offset=1, page=2)
    by_sku = listed_ids(api.get("/v2/products", params={"term": "valve", "sort": "sku"}))

    assert len(second_page) == 1
    assert by_sku == [shelf["ball"].pk, shelf["valve"].pk]
    assert listed_ids(api.get("/v2/products", params={"term": "valve", "skus": "BV-1"})) == [
        shelf["valve"].pk
    ]


def test_term_pagination_meta(api, db):
    for number in range(15):
        make_product(f"Valve {number}")
    make_product("Pipe")

    response = api.get("/v2/products", params={"term": "valve", "offset": 10, "page": 2})

    assert page_meta(response) == {
        "messages": [],
        "start": 11,
        "end": 15,
        "page": 2,
        "pages": 2,
        "total": 5,
        "offset": 10,
        "itemsFound": 15,
    }


# Export ----------------------------------------------------------------------------------------


def bulk_products(count: int, **fields) -> list[Product]:
    """Insert `count` products with one source pair each in a few statements."""
    products = Product.objects.bulk_create(
        [
            Product(
                language="EN",
                name_en=f"Bulk {number}",
                sku=f"BULK-{number}",
                status="T" if number % 5 == 0 else "A",
                **fields,
            )
            for number in range(count)
        ],
        batch_size=1000,
    )
    ProductSource.objects.bulk_create(
        [
            ProductSource(owner=product, source="erp", source_id=f"B-{number}")
            for number, product in enumerate(products)
        ],
        batch_size=1000,
    )
    # A live database has statistics for tables this size (autovacuum analyzes them); without
    # them PostgreSQL plans for one-row tables and picks nested loops over every product.
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE catalogue_product, catalogue_productsource, catalogue_productcategory"
        )
    return products


def test_export_streams_every_product_as_ndjson(api, db):
    products = bulk_products(2500)
    single = fetch(api, products[0].pk)

    response = api.get("/v2/products/export")

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/x-ndjson"
    count, previous, first = 0, 0, None
    for line in ndjson_lines(response):
        row = json.loads(line)
        assert row["id"] > previous
        previous = row["id"]
        first = first or row
        count += 1
    assert count == 2500
    assert first == single
    assert previous == products[-1].pk


@pytest.fixture
def described(db) -> list[Product]:
    """A product with every field set, and one with nothing but a name."""
    valves, sale = make_category("Valves"), make_category("Sale")
    full = make_product(
        None,
        language="DE",
        names=ls(DE="Messingventil", EN="Brass valve", NL=""),
        descriptions=ls(EN="A valve made of brass", FR="Vanne en laiton"),
        shortDescriptions=ls(DE="Ventil"),
        notes=ls(NL="Let op: zwaar"),
        packageDescriptions=ls(EN="Box of 10"),
        metadataTitles=ls(EN="Brass valve | Shop"),
        metadataDescriptions=ls(DE="Ventile kaufen"),
        metadataKeywords=ls(EN="valve, brass"),
        metadataCanonicalUrls=ls(EN="https://example.com/valve"),
        sku="BV-100",
        supplier="Acme",
        supplierCode="AC-100",
        manufacturer="Valvco",
        oemCode="OEM-1",
        eanCode="8712345678906",
        barCode="BC-1",
        shortName="Valve",
        package="BOX",
        packageUnit="PCS",
        status="P",
        taxCode="L",
        unit=2,
        minimumQuantity=5,
        packageUnitQuantity=10,
        priority=3,
        hidden="Y",
        orderable="N",
        returnable="N",
        physical="N",
        width=10.5,
        height=2,
        depth=0,
        weight=0.0125,
        attributes=[{"name": "COLOR", "value": "yellow"}, {"name": "SIZE_MM", "value": "15"}],
        parent={"id": valves.pk},
        sources=[{"source": "erp", "sourceId": "P-1"}, {"source": "pim", "sourceId": "42"}],
    )
    category_add_products(category_id=sale.pk, product_ids=[full.pk])
    return [full, make_product("Bare")]


@pytest.mark.parametrize("params", [{}, {"language": "NL"}, {"language": "de"}, {"language": "FR"}])
def test_export_lines_and_list_rows_equal_single_reads_for_every_field(api, described, params):
    singles = [fetch(api, product.pk, **params) for product in described]

    exported = api.get("/v2/products/export", params=params)
    listed = api.get("/v2/products", params=params)
    searched = api.post("/v2/products/search", {"filters": {}, **params})

    assert [json.loads(line) for line in ndjson_lines(exported)] == singles
    assert listed.json()["data"] == searched.json()["data"] == singles


def test_export_lines_keep_awkward_text_intact(api, db):
    text = "Say \"hi\" \\ back\\slash\nnew line\ttab \x01\x02 control ünï 🚰 100% 'quoted'"
    product = make_product(
        text,
        sku="A\\B",
        attributes=[{"name": "NOTE", "value": text}],
        sources=[{"source": "erp", "sourceId": "x\\y"}],
    )

    everything = api.get("/v2/products/export")
    filtered = api.get("/v2/products/export", params={"term": "100% hi", "skus": "A\\B"})

    expected = fetch(api, product.pk)
    assert expected["names"][0]["value"] == text
    for response in (everything, filtered):
        assert [json.loads(line) for line in ndjson_lines(response)] == [expected]


def test_export_honours_filters(api, db):
    products = bulk_products(2500)
    expected = [p.pk for p in products if p.status == "T"]

    response = api.get("/v2/products/export", params={"statuses": "T"})
    by_source = api.get("/v2/products/export", params={"source": "erp", "sourceIds": "B-3,B-7"})

    rows = [json.loads(line) for line in ndjson_lines(response)]
    assert [row["id"] for row in rows] == expected
    assert {row["status"] for row in rows} == {"T"}
    assert [json.loads(line)["sku"] for line in ndjson_lines(by_source)] == ["BULK-3", "BULK-7"]


def test_export_ignores_sort_and_keeps_id_order(api, sortable):
    response = api.get("/v2/products/export", params={"sort": "-name"})

    assert [json.loads(line)["id"] for line in ndjson_lines(response)] == [p.pk for p in sortable]


def test_export_with_a_term(api, shelf):
    response = api.get("/v2/products/export", params={"term": "valve"})

    rows = [json.loads(line) for line in ndjson_lines(response)]
    assert [row["id"] for row in rows] == [shelf["valve"].pk, shelf["ball"].pk]
    assert rows[0] == fetch(api, shelf["valve"].pk)


# Query counts ----------------------------------------------------------------------------------


@pytest.fixture
def hundred(db) -> list[Product]:
    tools = make_category("Tools", sources=[("erp", "T")])
    drills = make_category("Drills", parent=tools, sources=[("erp", "D")])
    sale = make_category("Sale")
    products = make_products(
        [
            {
                "name": f"Drill {number}",
                "parent": {"id": drills.pk if number % 2 else tools.pk},
                "sources": [
                    {"source": "erp", "sourceId": f"P-{number}"},
                    {"source": "pim", "sourceId": f"{number}"},
                ],
                "attributes": [{"name": "SIZE", "value": str(number)}],
            }
            for number in range(100)
        ]
    )
    category_add_products(category_id=sale.pk, product_ids=[p.pk for p in products[::3]])
    return products


def count_queries(callable_) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as context:
        result = callable_()
    return len(context.captured_queries), result


LIST_QUERY_LIMIT = 8


def test_list_with_expands_runs_a_constant_number_of_queries(
    api, hundred, django_assert_max_num_queries
):
    params = {"expands": "categories,parent,sources"}
    api.get("/v2/products", params=params)  # warm up connection-level caches

    small, small_response = count_queries(
        lambda: api.get("/v2/products", params={**params, "offset": 12})
    )
    with django_assert_max_num_queries(LIST_QUERY_LIMIT):
        large_response = api.get("/v2/products", params={**params, "offset": 100})
    large, _ = count_queries(lambda: api.get("/v2/products", params={**params, "offset": 100}))

    assert len(small_response.json()["data"]) == 12
    assert len(large_response.json()["data"]) == 100
    assert large_response.json()["data"][5]["categories"]
    assert small == large


def test_search_with_expands_runs_a_constant_number_of_queries(
    api, hundred, django_assert_max_num_queries
):
    body = {"expands": ["categories", "parent"], "filters": {"term": "drill"}}
    api.post("/v2/products/search", body)

    small, _ = count_queries(lambda: api.post("/v2/products/search", {**body, "offset": 12}))
    # A term adds the vocabulary look-up (in a savepoint) and the exact-code look-up.
    with django_assert_max_num_queries(LIST_QUERY_LIMIT + 4):
        api.post("/v2/products/search", {**body, "offset": 100})
    large, _ = count_queries(lambda: api.post("/v2/products/search", {**body, "offset": 100}))

    assert small == large


def test_get_by_source_id_runs_a_fixed_small_number_of_queries(
    api, hundred, django_assert_max_num_queries
):
    api.get("/v2/products/sourceId/P-1", params={"source": "erp"})

    with django_assert_max_num_queries(2):
        response = api.get("/v2/products/sourceId/P-50", params={"source": "erp"})

    assert response.json()["data"]["id"] == hundred[50].pk


def test_category_products_list_runs_a_constant_number_of_queries(api, hundred):
    tools = Category.objects.get(sources__source_id="T")
    path = f"/v2/categories/id/{tools.pk}/products"
    params = {"descendants": "true", "expands": "categories,parent"}
    api.get(path, params=params)

    small, _ = count_queries(lambda: api.get(path, params={**params, "offset": 12}))
    large, response = count_queries(lambda: api.get(path, params={**params, "offset": 100}))

    assert response.json()["itemsFound"] == 100
    assert small == large


# Scopes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_body_that_is_not_json_is_415(api, valve, method):
    before = product_snapshot()
    path = "/v2/products" if method == "POST" else f"/v2/products/id/{valve.pk}"

    response = send(api, method, path, "names=Valve", content_type="text/plain")

    assert_error(response, 415, 10010, "UnsupportedMediaType")
    assert product_snapshot() == before


@pytest.mark.parametrize("path", ["/v2/products", "/v2/products/id/1", "/v2/products/search"])
def test_put_is_405(api, db, path):
    response = api.put(path, {"names": ls(EN="Valve")})

    assert_error(response, 405, 10004, "MethodNotAllowed")
    assert not Product.objects.exists()


def test_trailing_slash_is_optional(api, valve):
    assert api.get("/v2/products/").status_code == 200
    assert api.get(f"/v2/products/id/{valve.pk}/").status_code == 200
    assert api.post("/v2/products/search/", {}).status_code == 200
    assert api.post("/v2/products/", {"names": ls(EN="Slash")}).status_code == 201


def test_sku_lookup_after_create_matches_the_search_by_sku(api, valve):
    by_key = api.get("/v2/products/sku/BV-100").json()["data"]
    by_filter = api.get("/v2/products", params={"skus": "BV-100"}).json()["data"]

    assert by_filter == [by_key]
