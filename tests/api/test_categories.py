"""Categories and the general rules they follow: lookups, localized fields, sources, envelopes, ETags, lists, expands."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction

from catalogue.models import Category, CategorySource
from tests.assertions import (
    LIST_KEYS,
    TIMESTAMP,
    assert_error,
    assert_tree_consistent,
    category_snapshot,
    listed_ids,
)
from tests.factories import ls, make_category


def created(api, **body) -> dict:
    response = api.post("/v2/categories", body)
    assert response.status_code == 201, response.content
    return response.json()["data"]


def fetch(api, category_id: int, **params) -> dict:
    response = api.get(f"/v2/categories/id/{category_id}", params=params)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def page_meta(response) -> dict:
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == LIST_KEYS
    assert body["messages"] == []
    return {key: value for key, value in body.items() if key not in {"data", "messages"}}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# Create ----------------------------------------------------------------------------------------


def test_create_a_root_with_defaults(api):
    response = api.post("/v2/categories", {"names": ls(EN="Power Tools")})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"data", "messages", "total"}
    assert body["messages"] == ["Category created"]
    assert body["total"] == 1
    data = body["data"]
    record = Category.objects.get()
    assert data == {
        "id": record.pk,
        "language": "EN",
        "names": ls(EN="Power Tools"),
        "descriptions": [],
        "shortDescriptions": [],
        "slugs": ls(EN="power-tools"),
        "metadataTitles": [],
        "metadataDescriptions": [],
        "metadataKeywords": [],
        "metadataCanonicalUrls": [],
        "hidden": "N",
        "priority": 0,
        "parent": None,
        "source": None,
        "sourceId": None,
        "sources": [],
        "level": 0,
        "path": [],
        "childCount": 0,
        "productCount": 0,
        "createdAt": data["createdAt"],
        "lastModifiedAt": data["createdAt"],
    }
    assert TIMESTAMP.match(data["createdAt"])
    assert at(data["createdAt"]) == record.created_at
    assert response["ETag"] == fetch_etag(api, record.pk)


def fetch_etag(api, category_id: int) -> str:
    response = api.get(f"/v2/categories/id/{category_id}")
    assert response.status_code == 200
    return response["ETag"]


def test_create_with_every_field(api):
    root = make_category("Tools")

    data = created(
        api,
        language="de",
        names=ls(DE="Bohrer", EN="Drills"),
        descriptions=ls(DE="Alles zum Bohren", EN="All about drilling"),
        shortDescriptions=ls(EN="Drilling"),
        slugs=ls(DE="bohrer-und-mehr"),
        metadataTitles=ls(EN="Drills | Shop"),
        metadataDescriptions=ls(EN="Buy drills"),
        metadataKeywords=ls(EN="drill, bit"),
        metadataCanonicalUrls=ls(EN="https://example.com/drills"),
        hidden="Y",
        priority=7,
        parent={"id": root.pk},
        sources=[{"source": "erp", "sourceId": "C-1"}, {"source": "pim", "sourceId": "42"}],
    )

    assert data == {
        "id": data["id"],
        "language": "DE",
        # Returned in catalogue-language order, whatever the order sent.
        "names": ls(EN="Drills", DE="Bohrer"),
        "descriptions": ls(EN="All about drilling", DE="Alles zum Bohren"),
        "shortDescriptions": ls(EN="Drilling"),
        "slugs": ls(EN="drills", DE="bohrer-und-mehr"),
        "metadataTitles": ls(EN="Drills | Shop"),
        "metadataDescriptions": ls(EN="Buy drills"),
        "metadataKeywords": ls(EN="drill, bit"),
        "metadataCanonicalUrls": ls(EN="https://example.com/drills"),
        "hidden": "Y",
        "priority": 7,
        "parent": {"id": root.pk},
        "source": "erp",
        "sourceId": "C-1",
        "sources": [{"source": "erp", "sourceId": "C-1"}, {"source": "pim", "sourceId": "42"}],
        "level": 1,
        "path": [root.pk],
        "childCount": 0,
        "productCount": 0,
        "createdAt": data["createdAt"],
        "lastModifiedAt": data["createdAt"],
    }
    assert fetch(api, root.pk)["childCount"] == 1


def test_create_ignores_read_only_fields(api):
    data = created(
        api,
        names=ls(EN="Saws"),
        id=999,
        level=5,
        path=[1, 2],
        childCount=3,
        productCount=4,
        createdAt="2020-01-01T00:00:00.000Z",
        lastModifiedAt="2020-01-01T00:00:00.000Z",
    )

    assert data["id"] != 999
    assert (data["level"], data["path"], data["childCount"], data["productCount"]) == (0, [], 0, 0)
    assert not data["createdAt"].startswith("2020")


def test_create_under_a_parent_given_by_source_id(api):
    root = make_category("Tools", sources=[("erp", "ROOT")])

    data = created(api, names=ls(EN="Drills"), parent={"source": "erp", "sourceId": "ROOT"})

    assert (data["parent"], data["level"], data["path"]) == ({"id": root.pk}, 1, [root.pk])


def test_parent_source_defaults_to_the_items_own_source(api):
    root = make_category("Tools", sources=[("erp", "ROOT")])

    data = created(
        api, names=ls(EN="Drills"), source="erp", sourceId="D-1", parent={"sourceId": "ROOT"}
    )

    assert data["parent"] == {"id": root.pk}


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
def test_create_under_a_missing_parent_is_404(api, parent, message):
    make_category("Tools", sources=[("erp", "ROOT")])
    before = category_snapshot()

    response = api.post("/v2/categories", {"names": ls(EN="Drills"), "parent": parent})

    assert_error(response, 404, 30007, "ParentCategoryNotFound", [message])
    assert category_snapshot() == before


@pytest.mark.parametrize(
    ("parent", "message"),
    [
        ({}, "parent: give either id or sourceId and source"),
        ({"sourceId": "ROOT"}, "parent.source: required with parent.sourceId"),
    ],
)
def test_create_with_an_incomplete_parent_reference_is_400(api, parent, message):
    response = api.post("/v2/categories", {"names": ls(EN="Drills"), "parent": parent})

    assert_error(response, 400, 10017, "PayloadValidationError", [message])
    assert not Category.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"names": ls(EN="x"), "colour": "red"}, "colour: unknown field"),
        ({"names": ls(EN="x"), "parent": {"code": 1}}, "parent.code: unknown field"),
        ({"names": ls(EN="x"), "hidden": "yes"}, "hidden: Invalid enum value 'yes'"),
        ({"names": ls(EN="x"), "hidden": True}, "hidden: Expected `str`, got `bool`"),
        ({"names": ls(EN="x"), "priority": "1"}, "priority: Expected `int`, got `str`"),
        ({"names": "Drills"}, "names: Expected `array`, got `str`"),
        ({"names": [{"language": "EN"}]}, "names[0]: Object missing required field `value`"),
        (
            {"names": ls(EN="x" * 1001)},
            "names[0].value: Expected `str` of length <= 1000",
        ),
        (
            {"names": ls(EN="x"), "descriptions": [{"language": "EN", "value": 1}]},
            "descriptions[0].value: Expected `str`, got `int`",
        ),
        (
            {"names": ls(EN="x"), "source": "", "sourceId": "1"},
            "source: Expected `str` of length >= 1",
        ),
        (
            {"names": ls(EN="x"), "source": "erp", "sourceId": "1" * 256},
            "sourceId: Expected `str` of length <= 255",
        ),
        (
            {"names": ls(EN="x"), "sources": [{"source": "erp"}]},
            "sources[0]: Object missing required field `sourceId`",
        ),
    ],
)
def test_create_with_a_malformed_field_is_400(api, body, message):
    response = api.post("/v2/categories", body)

    assert_error(response, 400, 10007, "SchemaValidationException", [message])
    assert not Category.objects.exists()


# Languages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"names": []},
        {"names": ls(DE="Bohrer")},
        {"names": ls(EN="")},
        {"language": "DE", "names": ls(EN="Drills")},
        {"descriptions": ls(EN="No name")},
    ],
)
def test_create_without_a_name_in_the_default_language_is_400(api, body):
    response = api.post("/v2/categories", body)

    language = body.get("language", "EN")
    assert_error(
        response,
        400,
        10017,
        "PayloadValidationError",
        [f"names: a value in the category's default language {language} is required"],
    )
    assert not Category.objects.exists()


def test_language_codes_are_accepted_in_any_case(api):
    data = created(api, language="nl", names=[{"language": "nl", "value": "Boren"}])

    assert data["language"] == "NL"
    assert data["names"] == ls(NL="Boren")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"names": ls(EN="Drills", XX="?")}, 'names[1].language: unknown language "XX"'),
        (
            {"names": ls(EN="Drills"), "descriptions": ls(EN="a", DE="b", xx="c")},
            'descriptions[2].language: unknown language "xx"',
        ),
        (
            {"names": [*ls(EN="Drills"), {"language": "en", "value": "Again"}]},
            'names[1].language: duplicate language "en"',
        ),
        (
            {"names": ls(EN="Drills"), "slugs": [*ls(DE="a"), {"language": "DE", "value": "b"}]},
            'slugs[1].language: duplicate language "DE"',
        ),
        ({"language": "XX", "names": ls(EN="Drills")}, 'language: unknown language "XX"'),
    ],
)
def test_unknown_or_repeated_language_is_400_naming_the_field(api, body, message):
    response = api.post("/v2/categories", body)

    assert_error(response, 400, 10007, "SchemaValidationException", [message])
    assert not Category.objects.exists()


def test_patch_merges_by_language(api):
    category = make_category("Drills", names={"NL": "Boren"})
    before = fetch(api, category.pk)

    response = api.patch(
        f"/v2/categories/id/{category.pk}",
        {"names": ls(DE="Bohrer"), "descriptions": ls(FR="Perceuses")},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["messages"] == ["Category updated"]
    assert body["total"] == 1
    data = body["data"]
    assert data["names"] == ls(EN="Drills", NL="Boren", DE="Bohrer")
    assert data["descriptions"] == ls(FR="Perceuses")
    # A slug appears for the language that gained a name; existing ones stay.
    assert data["slugs"] == ls(EN="drills", NL="boren", DE="bohrer")
    assert at(data["lastModifiedAt"]) > at(before["lastModifiedAt"])
    assert data["createdAt"] == before["createdAt"]
    assert fetch(api, category.pk) == data


def test_patch_with_an_empty_value_clears_that_language(api):
    category = make_category("Drills", names={"DE": "Bohrer"})

    response = api.patch(f"/v2/categories/id/{category.pk}", {"names": ls(DE="")})

    assert response.status_code == 200
    assert response.json()["data"]["names"] == ls(EN="Drills")
    category.refresh_from_db()
    assert category.name_de == ""
    assert category.name_en == "Drills"


@pytest.mark.parametrize(
    ("body", "language"),
    [
        ({"names": ls(EN="")}, "EN"),
        ({"names": ls(EN="", DE="Bohrer")}, "EN"),
        ({"language": "NL"}, "NL"),
        ({"language": "FR", "names": ls(DE="Bohrer")}, "FR"),
    ],
)
def test_patch_leaving_no_default_language_name_is_400(api, body, language):
    category = make_category("Drills")
    before = category_snapshot()

    response = api.patch(f"/v2/categories/id/{category.pk}", body)

    assert_error(
        response,
        400,
        10017,
        "PayloadValidationError",
        [f"names: a value in the category's default language {language} is required"],
    )
    assert category_snapshot() == before


def test_patch_can_change_the_default_language_with_a_name_in_it(api):
    category = make_category("Drills")

    response = api.patch(
        f"/v2/categories/id/{category.pk}", {"language": "NL", "names": ls(NL="Boren")}
    )

    assert response.status_code == 200
    assert response.json()["data"]["language"] == "NL"


def test_reads_in_one_language_fall_back_to_the_record_language(api):
    category = make_category(
        "Drills",
        names={"NL": "Boren"},
        localized={"description": {"EN": "All about drilling"}},
    )

    data = fetch(api, category.pk, language="nl")

    assert data["names"] == ls(NL="Boren")
    assert data["slugs"] == ls(NL="boren")
    # No Dutch description: the record's default language stands in, marked as such.
    assert data["descriptions"] == ls(EN="All about drilling")
    assert data["shortDescriptions"] == []
    assert data["language"] == "EN"


def test_language_applies_to_lists_searches_and_expands(api):
    root = make_category("Tools", names={"DE": "Werkzeuge"})
    make_category("Drills", names={"DE": "Bohrer"}, parent=root)

    listed = api.get("/v2/categories", params={"language": "DE", "expands": "parent"})
    searched = api.post("/v2/categories/search", {"language": "DE", "expands": ["parent"]})

    for response in (listed, searched):
        rows = response.json()["data"]
        assert [row["names"] for row in rows] == [ls(DE="Werkzeuge"), ls(DE="Bohrer")]
        assert rows[1]["parent"]["names"] == ls(DE="Werkzeuge")


@pytest.mark.parametrize(
    "path", ["/v2/categories/id/{id}", "/v2/categories", "/v2/categories/tree"]
)
def test_unknown_response_language_is_400(api, path):
    category = make_category("Drills")

    response = api.get(path.format(id=category.pk), params={"language": "XX"})

    assert_error(
        response, 400, 10007, "SchemaValidationException", ['language: unknown language "XX"']
    )


# Slugs -------------------------------------------------------------------------------------------


def test_slugs_are_generated_from_names(api):
    data = created(api, names=ls(EN="Küche & Bad", DE="Bäder  --  Zubehör!", FR="Élégant"))

    assert data["slugs"] == ls(EN="kuche-bad", DE="bader-zubehor", FR="elegant")


def test_generated_slugs_are_deduplicated(api):
    slugs = [created(api, names=ls(EN="Drills"))["slugs"] for _ in range(3)]

    assert slugs == [ls(EN="drills"), ls(EN="drills-2"), ls(EN="drills-3")]


def test_generated_slugs_avoid_slugs_given_elsewhere(api):
    created(api, names=ls(EN="Hammers"), slugs=ls(EN="drills"))

    data = created(api, names=ls(EN="Drills"))

    assert data["slugs"] == ls(EN="drills-2")


def test_slugs_are_unique_per_language_only(api):
    created(api, names=ls(EN="Drills"), slugs=ls(EN="drills"))

    data = created(api, names=ls(EN="Boring", DE="Drills"), slugs=ls(DE="drills"))

    assert data["slugs"] == ls(EN="boring", DE="drills")


def test_name_without_any_slug_character_gets_a_fallback_slug(api):
    data = created(api, names=ls(EN="!!!"))

    assert data["slugs"] == ls(EN="item")


def test_a_given_colliding_slug_on_create_is_409(api):
    make_category("Drills")
    before = category_snapshot()

    response = api.post("/v2/categories", {"names": ls(EN="Other"), "slugs": ls(EN="drills")})

    assert_error(
        response,
        409,
        30004,
        "CategoryExists",
        ["Category with slug [drills] in language [EN] already exists"],
    )
    assert category_snapshot() == before


def test_a_given_colliding_slug_on_update_is_409(api):
    make_category("Bohrer", language="DE")
    other = make_category("Saws", names={"DE": "Sägen"})
    before = category_snapshot()

    response = api.patch(f"/v2/categories/id/{other.pk}", {"slugs": ls(DE="bohrer")})

    assert_error(
        response,
        409,
        30004,
        "CategoryExists",
        ["Category with slug [bohrer] in language [DE] already exists"],
    )
    assert category_snapshot() == before


def test_a_record_may_keep_its_own_slug(api):
    category = make_category("Drills")

    response = api.patch(
        f"/v2/categories/id/{category.pk}", {"slugs": ls(EN="drills"), "priority": 2}
    )

    assert response.status_code == 200
    assert response.json()["data"]["slugs"] == ls(EN="drills")


@pytest.mark.parametrize("slug", ["Drills", "two words", "a--b", "-a", "a-", "ä", "a_b", "a/b"])
def test_an_invalid_slug_is_400(api, slug):
    response = api.post("/v2/categories", {"names": ls(EN="Drills"), "slugs": ls(EN=slug)})

    assert_error(
        response,
        400,
        10007,
        "SchemaValidationException",
        [f'slugs[0].value: invalid slug "{slug}" (lower-case letters, digits and single hyphens)'],
    )
    assert not Category.objects.exists()


def test_slug_uniqueness_is_a_database_constraint(db):
    first = make_category("Drills")
    second = make_category("Saws")

    with pytest.raises(IntegrityError), transaction.atomic():
        Category.objects.filter(pk=second.pk).update(slug_en=first.slug_en)


# External sources ------------------------------------------------------------------------------


def test_flat_source_on_create(api):
    data = created(api, names=ls(EN="Drills"), source="erp", sourceId="C-1")

    assert data["sources"] == [{"source": "erp", "sourceId": "C-1"}]
    assert (data["source"], data["sourceId"]) == ("erp", "C-1")


def test_flat_source_on_update_adds_a_pair(api):
    category = make_category("Drills", sources=[("erp", "C-1")])

    response = api.patch(f"/v2/categories/id/{category.pk}", {"source": "pim", "sourceId": "7"})

    data = response.json()["data"]
    assert data["sources"] == [
        {"source": "erp", "sourceId": "C-1"},
        {"source": "pim", "sourceId": "7"},
    ]
    assert (data["source"], data["sourceId"]) == ("erp", "C-1")


def test_flat_source_already_present_changes_nothing(api):
    category = make_category("Drills", sources=[("erp", "C-1")])
    before = fetch(api, category.pk)

    response = api.patch(f"/v2/categories/id/{category.pk}", {"source": "erp", "sourceId": "C-1"})

    assert response.json()["data"] == before


def test_sources_array_on_update_replaces_the_set(api):
    category = make_category("Drills", sources=[("erp", "C-1"), ("pim", "7")])

    response = api.patch(
        f"/v2/categories/id/{category.pk}",
        {"sources": [{"source": "shop", "sourceId": "d"}, {"source": "erp", "sourceId": "C-1"}]},
    )

    data = response.json()["data"]
    assert data["sources"] == [
        {"source": "shop", "sourceId": "d"},
        {"source": "erp", "sourceId": "C-1"},
    ]
    assert (data["source"], data["sourceId"]) == ("shop", "d")
    assert set(CategorySource.objects.values_list("source", "source_id")) == {
        ("shop", "d"),
        ("erp", "C-1"),
    }


def test_empty_sources_array_removes_every_pair(api):
    category = make_category("Drills", sources=[("erp", "C-1")])

    response = api.patch(f"/v2/categories/id/{category.pk}", {"sources": []})

    data = response.json()["data"]
    assert (data["sources"], data["source"], data["sourceId"]) == ([], None, None)
    assert not CategorySource.objects.exists()


def test_flat_pair_and_array_together(api):
    data = created(
        api,
        names=ls(EN="Drills"),
        source="erp",
        sourceId="C-1",
        sources=[{"source": "pim", "sourceId": "7"}],
    )

    assert data["sources"] == [
        {"source": "erp", "sourceId": "C-1"},
        {"source": "pim", "sourceId": "7"},
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"sourceId": "C-1"}, "source: required with sourceId"),
        ({"source": "erp"}, "sourceId: required with source"),
    ],
)
def test_half_a_source_pair_is_400(api, body, message):
    response = api.post("/v2/categories", {"names": ls(EN="Drills"), **body})

    assert_error(response, 400, 10017, "PayloadValidationError", [message])
    assert not Category.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"source": "erp", "sourceId": "C-1"},
        {"sources": [{"source": "pim", "sourceId": "1"}, {"source": "erp", "sourceId": "C-1"}]},
    ],
)
def test_source_pair_of_another_category_is_409(api, body):
    make_category("Drills", sources=[("erp", "C-1")])
    other = make_category("Saws", sources=[("erp", "C-2")])
    before = category_snapshot()

    on_create = api.post("/v2/categories", {"names": ls(EN="Hammers"), **body})
    on_update = api.patch(f"/v2/categories/id/{other.pk}", body)

    for response in (on_create, on_update):
        assert_error(
            response,
            409,
            30004,
            "CategoryExists",
            ["Category with sourceId [C-1] and source [erp] already exists"],
        )
    assert category_snapshot() == before


def test_source_pair_uniqueness_is_a_database_constraint(db):
    make_category("Drills", sources=[("erp", "C-1")])
    other = make_category("Saws")

    with pytest.raises(IntegrityError), transaction.atomic():
        CategorySource.objects.create(owner=other, source="erp", source_id="C-1")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype = 'u'",
            [CategorySource._meta.db_table],
        )
        definitions = [row[0] for row in cursor.fetchall()]
    assert "UNIQUE (source, source_id)" in definitions


# Lookups ---------------------------------------------------------------------------------------


@pytest.fixture
def drills(db) -> Category:
    root = make_category("Tools")
    return make_category(
        "Drills", names={"DE": "Bohrer"}, parent=root, sources=[("erp", "CAT-1"), ("pim", "9")]
    )


# Moves -----------------------------------------------------------------------------------------


@pytest.fixture
def chain(db) -> dict[str, Category]:
    """A > B > C > D, with a sibling B2 under A, and a separate root X."""
    a = make_category("A")
    b = make_category("B", parent=a, sources=[("erp", "B")])
    c = make_category("C", parent=b)
    d = make_category("D", parent=c)
    b2 = make_category("B2", parent=a)
    x = make_category("X", sources=[("erp", "X")])
    return {"A": a, "B": b, "C": c, "D": d, "B2": b2, "X": x}


def placement(api, category: Category) -> tuple:
    data = fetch(api, category.pk)
    return data["level"], data["path"], data["parent"], data["childCount"]


def test_patch_parent_moves_the_subtree(api, chain):
    a, b, c, d, b2, x = (chain[k] for k in ("A", "B", "C", "D", "B2", "X"))

    response = api.patch(f"/v2/categories/id/{b.pk}", {"parent": {"id": x.pk}})

    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["level"], data["path"], data["parent"]) == (1, [x.pk], {"id": x.pk})
    assert placement(api, c) == (2, [x.pk, b.pk], {"id": b.pk}, 1)
    assert placement(api, d) == (3, [x.pk, b.pk, c.pk], {"id": c.pk}, 0)
    assert placement(api, a) == (0, [], None, 1)
    assert placement(api, b2) == (1, [a.pk], {"id": a.pk}, 0)
    assert placement(api, x) == (0, [], None, 1)
    assert_tree_consistent()


def test_patch_parent_by_source_id(api, chain):
    response = api.patch(
        f"/v2/categories/id/{chain['C'].pk}", {"parent": {"source": "erp", "sourceId": "X"}}
    )

    assert response.status_code == 200
    assert response.json()["data"]["path"] == [chain["X"].pk]
    assert placement(api, chain["D"])[:2] == (2, [chain["X"].pk, chain["C"].pk])


def test_patch_parent_null_makes_a_root(api, chain):
    b, c, d = chain["B"], chain["C"], chain["D"]

    response = api.patch(f"/v2/categories/id/{b.pk}", {"parent": None})

    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["level"], data["path"], data["parent"]) == (0, [], None)
    assert placement(api, c)[:2] == (1, [b.pk])
    assert placement(api, d)[:2] == (2, [b.pk, c.pk])
    assert placement(api, chain["A"])[3] == 1
    assert_tree_consistent()


def test_move_a_root_under_another_tree(api, chain):
    a, x = chain["A"], chain["X"]

    response = api.patch(f"/v2/categories/id/{x.pk}", {"parent": {"id": chain["D"].pk}})

    assert response.status_code == 200
    assert response.json()["data"]["path"] == [a.pk, chain["B"].pk, chain["C"].pk, chain["D"].pk]
    assert response.json()["data"]["level"] == 4
    assert_tree_consistent()


@pytest.mark.parametrize("new_parent", ["B", "C", "D"])
def test_move_under_itself_or_a_descendant_is_422(api, chain, new_parent):
    b, target = chain["B"], chain[new_parent]
    before = category_snapshot()

    response = api.patch(f"/v2/categories/id/{b.pk}", {"parent": {"id": target.pk}})

    assert_error(
        response,
        422,
        30009,
        "CategoryCycle",
        [f"Category with id [{b.pk}] cannot be moved under itself or one of its descendants"],
    )
    assert category_snapshot() == before


def test_move_with_other_changes_and_a_cycle_changes_nothing(api, chain):
    before = category_snapshot()

    response = api.patch(
        f"/v2/categories/id/{chain['A'].pk}",
        {"names": ls(EN="Renamed"), "sources": [], "parent": {"id": chain["D"].pk}},
    )

    assert response.status_code == 422
    assert category_snapshot() == before


def test_move_under_a_missing_parent_is_404(api, chain):
    before = category_snapshot()

    response = api.patch(f"/v2/categories/id/{chain['B'].pk}", {"parent": {"id": 999999}})

    assert_error(
        response,
        404,
        30007,
        "ParentCategoryNotFound",
        ["Parent category with id [999999] not found"],
    )
    assert category_snapshot() == before


# Delete ----------------------------------------------------------------------------------------


def test_delete_an_empty_leaf(api, chain):
    d = chain["D"]

    response = api.delete(f"/v2/categories/id/{d.pk}")

    assert response.status_code == 200
    assert response.json() == {"data": {}, "messages": ["Category deleted"]}
    assert not Category.objects.filter(pk=d.pk).exists()
    assert fetch(api, chain["C"].pk)["childCount"] == 0
    assert api.get(f"/v2/categories/id/{d.pk}").status_code == 404
    assert_tree_consistent()


def test_delete_removes_the_source_pairs(api, chain):
    response = api.delete("/v2/categories/sourceId/X?source=erp")

    assert response.status_code == 200
    assert not CategorySource.objects.filter(source_id="X").exists()
    # The pair is free again.
    assert created(api, names=ls(EN="New X"), source="erp", sourceId="X")["sourceId"] == "X"


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_delete_with_children_is_409(api, chain, name):
    category = chain[name]
    before = category_snapshot()

    response = api.delete(f"/v2/categories/id/{category.pk}")

    assert_error(
        response,
        409,
        30008,
        "CategoryNotEmpty",
        [f"Category with id [{category.pk}] is not empty: it has child categories"],
    )
    assert category_snapshot() == before


# Translation removal ---------------------------------------------------------------------------


# ETags and timestamps --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"priority": 0, "hidden": "N"},
        {"names": ls(EN="Drills", DE="Bohrer")},
        {"slugs": ls(EN="drills")},
        {"source": "erp", "sourceId": "CAT-1"},
        {"sources": [{"source": "erp", "sourceId": "CAT-1"}, {"source": "pim", "sourceId": "9"}]},
        {"parent": {"sourceId": "CAT-ROOT", "source": "erp"}},
        "full record",
    ],
)
def test_unchanged_patch_keeps_last_modified_at(api, drills, body):
    CategorySource.objects.create(owner_id=drills.parent_id, source="erp", source_id="CAT-ROOT")
    before = api.get(f"/v2/categories/id/{drills.pk}")
    if body == "full record":
        body = before.json()["data"]

    response = api.patch(f"/v2/categories/id/{drills.pk}", body)

    assert response.status_code == 200
    assert response.json()["data"] == before.json()["data"]
    assert response["ETag"] == before["ETag"]


# Lists and pagination --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"offset": "2000"}, "offset must not exceed 1000"),
        ({"page": "0"}, "page must be a positive integer"),
    ],
)
def test_bad_page_on_children_is_400(api, db, params, message):
    root = make_category("Tools")

    response = api.get(f"/v2/categories/id/{root.pk}/children", params=params)

    assert_error(response, 400, 10015, "PaginatedResponseException", [message])


# Filters ---------------------------------------------------------------------------------------


@pytest.fixture
def catalogue_tree(db) -> dict[str, Category]:
    tools = make_category("Tools", sources=[("erp", "T")])
    drills = make_category(
        "Drills", names={"DE": "Bohrer"}, parent=tools, sources=[("erp", "D"), ("pim", "11")]
    )
    saws = make_category("Saws", parent=tools, hidden=True, sources=[("erp", "S")])
    kitchen = make_category("Küche", language="DE", names={"EN": "Kitchen"}, sources=[("pim", "K")])
    bits = make_category("Drill Bits", parent=drills, priority=3)
    return {"tools": tools, "drills": drills, "saws": saws, "kitchen": kitchen, "bits": bits}


def search_both(api, query: dict, filters: dict, **body) -> list[list[int]]:
    """Run the same search as GET query parameters and as a POST body."""
    return [
        listed_ids(api.get("/v2/categories", params=query)),
        listed_ids(api.post("/v2/categories/search", {"filters": filters, **body})),
    ]


def ids_of(tree, *names) -> list[int]:
    return sorted(tree[name].pk for name in names)


def test_filter_by_ids(api, catalogue_tree):
    wanted = ids_of(catalogue_tree, "saws", "tools")

    results = search_both(api, {"ids": ",".join(map(str, wanted))}, {"ids": wanted})

    assert results == [wanted, wanted]


def test_filter_by_sources(api, catalogue_tree):
    query = search_both(
        api,
        {"source": "erp", "sourceIds": "D,S,K"},
        {"sources": [{"source": "erp", "sourceIds": ["D", "S", "K"]}]},
    )
    several = listed_ids(
        api.post(
            "/v2/categories/search",
            {
                "filters": {
                    "sources": [
                        {"source": "erp", "sourceIds": ["T"]},
                        {"source": "pim", "sourceIds": ["K", "11"]},
                    ]
                }
            },
        )
    )

    assert query == [ids_of(catalogue_tree, "drills", "saws")] * 2
    assert several == ids_of(catalogue_tree, "tools", "drills", "kitchen")


@pytest.mark.parametrize("params", [{"source": "erp"}, {"sourceIds": "D"}])
def test_half_a_sources_filter_is_400(api, db, params):
    response = api.get("/v2/categories", params=params)

    assert_error(
        response, 400, 10007, "SchemaValidationException", ["source and sourceIds: give both"]
    )


@pytest.mark.parametrize(
    "sources",
    [
        "erp",
        [{"source": "erp"}],
        [{"source": "erp", "sourceIds": "D"}],
        [{"source": "erp", "sourceIds": [1]}],
    ],
)
def test_malformed_sources_filter_in_a_body_is_400(api, db, sources):
    response = api.post("/v2/categories/search", {"filters": {"sources": sources}})

    assert_error(
        response,
        400,
        10007,
        "SchemaValidationException",
        ["filters.sources: must be [{source, sourceIds: [...]}]"],
    )


def test_filter_by_parent_ids(api, catalogue_tree):
    parents = [catalogue_tree["tools"].pk, catalogue_tree["drills"].pk]

    results = search_both(api, {"parentIds": ",".join(map(str, parents))}, {"parentIds": parents})

    assert results == [ids_of(catalogue_tree, "drills", "saws", "bits")] * 2


@pytest.mark.parametrize(
    ("query", "body", "expected"),
    [
        ("Y", "Y", ["saws"]),
        ("N", "N", ["tools", "drills", "kitchen", "bits"]),
        ("Y", True, ["saws"]),
        ("N", False, ["tools", "drills", "kitchen", "bits"]),
    ],
)
def test_filter_by_hidden(api, catalogue_tree, query, body, expected):
    results = search_both(api, {"hidden": query}, {"hidden": body})

    assert results == [ids_of(catalogue_tree, *expected)] * 2


@pytest.mark.parametrize(
    ("level", "expected"),
    [(0, ["tools", "kitchen"]), (1, ["drills", "saws"]), (2, ["bits"]), (3, [])],
)
def test_filter_by_level(api, catalogue_tree, level, expected):
    results = search_both(api, {"level": str(level)}, {"level": level})

    assert results == [ids_of(catalogue_tree, *expected)] * 2


@pytest.mark.parametrize(
    ("term", "found", "not_found"),
    [
        ("Drills", ["drills"], ["tools", "saws", "kitchen"]),
        ("drills", ["drills"], ["tools", "saws", "kitchen"]),
        ("DRILLS", ["drills"], ["tools", "saws", "kitchen"]),
        ("drils", ["drills"], ["tools", "saws", "kitchen"]),  # a small typo
        ("kuche", ["kitchen"], ["tools", "drills", "saws", "bits"]),  # accents
        ("KÜCHE", ["kitchen"], ["tools", "drills", "saws", "bits"]),
        ("bohrer", ["drills"], ["tools", "saws", "kitchen", "bits"]),  # another language
        ("kitchen", ["kitchen"], ["tools", "drills", "saws", "bits"]),
        ("bits", ["bits"], ["tools", "saws", "kitchen"]),
        ("hammer", [], ["tools", "drills", "saws", "kitchen", "bits"]),
    ],
)
def test_filter_by_term(api, catalogue_tree, term, found, not_found):
    results = search_both(api, {"term": term}, {"term": term})

    for ids in results:
        assert set(ids_of(catalogue_tree, *found)) <= set(ids)
        assert not set(ids_of(catalogue_tree, *not_found)) & set(ids)


@pytest.mark.parametrize("term", ["ERP-7731", "erp-7731", " ERP-7731 "])
def test_term_finds_source_ids(api, catalogue_tree, term):
    hammers = make_category("Hammers", sources=[("erp", "ERP-7731")])

    results = search_both(api, {"term": term}, {"term": term})

    assert results == [[hammers.pk]] * 2


def test_term_ranks_the_closest_name_first(api, db):
    bits = make_category("Drill Bits")
    drills = make_category("Drills")

    response = api.get("/v2/categories", params={"term": "drills"})

    assert listed_ids(response) == [drills.pk, bits.pk]


def test_term_ranks_a_source_id_match_first(api, db):
    named = make_category("Valve 7731")
    coded = make_category("Hammers", sources=[("erp", "7731")])

    response = api.get("/v2/categories", params={"term": "7731"})

    assert listed_ids(response) == [coded.pk, named.pk]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"createdAtFrom": "yesterday"}, "createdAtFrom: Enter a valid date/time."),
        (
            {"lastModifiedAtTo": "2026-13-01T00:00:00Z"},
            "lastModifiedAtTo: Enter a valid date/time.",
        ),
        ({"ids": "1,x"}, "ids: Enter a number."),
        ({"parentIds": "x"}, "parentIds: Enter a number."),
        ({"level": "one"}, "level: Enter a number."),
        (
            {"hidden": "maybe"},
            "hidden: Select a valid choice. maybe is not one of the available choices.",
        ),
        ({"colour": "red"}, "colour: unknown filter"),
        ({"skus": "A-1"}, "skus: unknown filter"),
        (
            {"expands": "parent,siblings"},
            "expands: unknown value siblings (allowed: children, parent, path)",
        ),
    ],
)
def test_bad_filter_in_a_query_is_400(api, db, query, message):
    response = api.get("/v2/categories", params=query)

    assert_error(response, 400, 10007, "SchemaValidationException", [message])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"filters": {"colour": "red"}}, "colour: unknown filter"),
        ({"filters": {"createdAt": "2026-01-01"}}, "filters.createdAt: must be {from, to}"),
        (
            {"filters": {"createdAt": {"from": "2026-01-01T00:00:00Z", "until": "x"}}},
            "filters.createdAt: must be {from, to}",
        ),
        ({"filters": ["ids"]}, "filters: must be an object"),
        ({"filters": []}, "filters: must be an object"),
        ({"filters": ""}, "filters: must be an object"),
        ({"filter": {}}, "filter: unknown field"),
        (
            {"expands": ["parent", "siblings"]},
            "expands: unknown value siblings (allowed: children, parent, path)",
        ),
        ({"language": "XX"}, 'language: unknown language "XX"'),
    ],
)
def test_bad_search_body_is_400(api, db, body, message):
    response = api.post("/v2/categories/search", body)

    assert_error(response, 400, 10007, "SchemaValidationException", [message])


# Sorting ---------------------------------------------------------------------------------------


@pytest.fixture
def sortable(db) -> dict[str, Category]:
    return {
        "b1": make_category("Bravo", names={"DE": "Zulu"}, priority=1),
        "a2": make_category("Alpha", names={"DE": "Yankee"}, priority=2),
        "c1": make_category("Charlie", names={"DE": "Xray"}, priority=1),
        "a1": make_category("Alpha", names={"DE": "Whiskey"}, priority=1),
    }


@pytest.mark.parametrize(
    ("query", "body", "expected"),
    [
        (None, None, ["b1", "a2", "c1", "a1"]),
        ("id", [{"field": "id"}], ["b1", "a2", "c1", "a1"]),
        ("-id", [{"field": "id", "order": "DESC"}], ["a1", "c1", "a2", "b1"]),
        ("name", [{"field": "name", "order": "ASC"}], ["a2", "a1", "b1", "c1"]),
        # Ties end in id, in the direction of the last sort field.
        ("-name", [{"field": "name", "order": "desc"}], ["c1", "b1", "a1", "a2"]),
        (
            "-name,id",
            [{"field": "name", "order": "DESC"}, {"field": "id"}],
            ["c1", "b1", "a2", "a1"],
        ),
        ("priority", [{"field": "priority"}], ["b1", "c1", "a1", "a2"]),
        (
            "priority,-name",
            [{"field": "priority"}, {"field": "name", "order": "DESC"}],
            ["c1", "b1", "a1", "a2"],
        ),
        ("-priority", [{"field": "priority", "order": "DESC"}], ["a2", "a1", "c1", "b1"]),
        (
            "name,-id",
            [{"field": "name"}, {"field": "id", "order": "DESC"}],
            ["a1", "a2", "b1", "c1"],
        ),
    ],
)
def test_sorting(api, sortable, query, body, expected):
    wanted = [sortable[name].pk for name in expected]

    by_query = api.get("/v2/categories", params={"sort": query} if query else None)
    by_body = api.post("/v2/categories/search", {"sort": body} if body else {})
    by_body_string = api.post("/v2/categories/search", {"sort": query} if query else {})

    assert listed_ids(by_query) == wanted
    assert listed_ids(by_body) == wanted
    assert listed_ids(by_body_string) == wanted


def test_sort_by_name_uses_the_requested_language(api, sortable):
    response = api.get("/v2/categories", params={"sort": "name", "language": "DE"})

    assert listed_ids(response) == [sortable[n].pk for n in ("a1", "c1", "a2", "b1")]


# Expands ---------------------------------------------------------------------------------------


def test_related_records_appear_as_ids_without_expands(api, catalogue_tree):
    data = fetch(api, catalogue_tree["bits"].pk)

    assert data["parent"] == {"id": catalogue_tree["drills"].pk}
    assert data["path"] == [catalogue_tree["tools"].pk, catalogue_tree["drills"].pk]
    assert "children" not in data


def test_expands_on_a_single_record(api, catalogue_tree):
    tools, drills, saws, bits = (catalogue_tree[k] for k in ("tools", "drills", "saws", "bits"))
    plain = {c.pk: fetch(api, c.pk) for c in (tools, drills, saws, bits)}

    data = fetch(api, drills.pk, expands="parent,children,path")

    assert data["parent"] == plain[tools.pk]
    assert data["path"] == [plain[tools.pk]]
    assert data["children"] == [plain[bits.pk]]
    rest = {k: v for k, v in data.items() if k not in {"parent", "path", "children"}}
    assert rest == {
        k: v for k, v in plain[drills.pk].items() if k not in {"parent", "path", "children"}
    }


def test_expands_on_a_root_and_a_leaf(api, catalogue_tree):
    root = fetch(api, catalogue_tree["tools"].pk, expands="parent,path,children")
    leaf = fetch(api, catalogue_tree["bits"].pk, expands="children,path")

    assert root["parent"] is None
    assert root["path"] == []
    assert [child["id"] for child in root["children"]] == [
        catalogue_tree["drills"].pk,
        catalogue_tree["saws"].pk,
    ]
    assert leaf["children"] == []
    assert [node["id"] for node in leaf["path"]] == [
        catalogue_tree["tools"].pk,
        catalogue_tree["drills"].pk,
    ]


def test_expanded_children_are_ordered_by_priority_then_name(api, db):
    root = make_category("Root")
    late = make_category("Alpha", parent=root, priority=5)
    second = make_category("Delta", parent=root, priority=1)
    first = make_category("Charlie", parent=root, priority=1)

    data = fetch(api, root.pk, expands="children")

    assert [child["id"] for child in data["children"]] == [first.pk, second.pk, late.pk]


def test_expands_on_lists_and_searches(api, catalogue_tree):
    drills = catalogue_tree["drills"]
    expected = fetch(api, drills.pk, expands="parent,children,path")

    listed = api.get("/v2/categories", params={"ids": drills.pk, "expands": "parent,children,path"})
    searched = api.post(
        "/v2/categories/search",
        {"filters": {"ids": [drills.pk]}, "expands": ["parent", "children", "path"]},
    )
    in_filters = api.post(
        "/v2/categories/search",
        {"filters": {"ids": [drills.pk], "expands": "parent,children,path"}},
    )

    for response in (listed, searched, in_filters):
        assert response.json()["data"] == [expected]


def test_unknown_expand_on_a_single_record_is_400(api, catalogue_tree):
    response = api.get(
        f"/v2/categories/id/{catalogue_tree['tools'].pk}", params={"expands": "products"}
    )

    assert_error(
        response,
        400,
        10007,
        "SchemaValidationException",
        ["expands: unknown value products (allowed: children, parent, path)"],
    )


# Children --------------------------------------------------------------------------------------


def test_children_are_ordered_by_priority_then_name_and_paginated(api, db):
    root = make_category("Root", sources=[("erp", "R")])
    other = make_category("Other root")
    make_category("Not a child", parent=other)
    grandchild_parent = make_category("Echo", parent=root, priority=2)
    make_category("Grandchild", parent=grandchild_parent)
    kids = [
        make_category("Delta", parent=root, priority=1),
        make_category("Bravo", parent=root, priority=1),
        make_category("Alpha", parent=root, priority=3),
        make_category("Charlie", parent=root, priority=-1),
    ]
    expected = [kids[3].pk, kids[1].pk, kids[0].pk, grandchild_parent.pk, kids[2].pk]

    everything = api.get(f"/v2/categories/id/{root.pk}/children")
    second_page = api.get("/v2/categories/sourceId/R/children?source=erp&page=2&offset=2")

    assert page_meta(everything) == {
        "start": 1,
        "end": 5,
        "page": 1,
        "pages": 1,
        "total": 5,
        "offset": 12,
        "itemsFound": 5,
    }
    assert listed_ids(everything) == expected
    assert everything.json()["data"][3] == fetch(api, grandchild_parent.pk)
    assert page_meta(second_page) == {
        "start": 3,
        "end": 4,
        "page": 2,
        "pages": 3,
        "total": 2,
        "offset": 2,
        "itemsFound": 5,
    }
    assert listed_ids(second_page) == expected[2:4]


def test_children_order_by_name_in_the_requested_language(api, db):
    root = make_category("Root")
    first_in_en = make_category("Alpha", names={"DE": "Zulu"}, parent=root)
    second_in_en = make_category("Bravo", names={"DE": "Yankee"}, parent=root)

    response = api.get(f"/v2/categories/id/{root.pk}/children", params={"language": "DE"})

    assert listed_ids(response) == [second_in_en.pk, first_in_en.pk]
    assert response.json()["data"][0]["names"] == ls(DE="Yankee")


def test_children_of_a_leaf_is_empty(api, catalogue_tree):
    response = api.get(f"/v2/categories/id/{catalogue_tree['bits'].pk}/children")

    assert page_meta(response)["itemsFound"] == 0
    assert response.json()["data"] == []


# Tree ------------------------------------------------------------------------------------------


def node(category: Category, children: list, *, names=None, slugs=None) -> dict:
    language = category.language
    return {
        "id": category.pk,
        "language": language,
        "names": names
        if names is not None
        else ls(**{language: category.name_en or category.name_de}),
        "slugs": slugs
        if slugs is not None
        else ls(**{language: category.slug_en or category.slug_de}),
        "hidden": "Y" if category.hidden else "N",
        "priority": category.priority,
        "level": category.level,
        "parentId": category.parent_id,
        "children": children,
    }


def refreshed(tree: dict[str, Category]) -> dict[str, Category]:
    return {name: Category.objects.get(pk=c.pk) for name, c in tree.items()}


def test_tree_nests_the_whole_forest(api, catalogue_tree):
    t = refreshed(catalogue_tree)

    response = api.get("/v2/categories/tree")

    assert response.status_code == 200
    assert response.json() == {
        "data": [
            node(
                t["tools"],
                [
                    node(
                        t["drills"],
                        [node(t["bits"], [])],
                        names=ls(EN="Drills", DE="Bohrer"),
                        slugs=ls(EN="drills", DE="bohrer"),
                    ),
                    node(t["saws"], []),
                ],
            ),
            node(
                t["kitchen"],
                [],
                names=ls(EN="Kitchen", DE="Küche"),
                slugs=ls(EN="kitchen", DE="kuche"),
            ),
        ],
        "messages": [],
        "total": 2,
    }


def tree_ids(nodes: list[dict]) -> list:
    return [(n["id"], tree_ids(n["children"])) for n in nodes]


def test_tree_depth_and_root(api, catalogue_tree):
    t = catalogue_tree

    depth0 = api.get("/v2/categories/tree", params={"depth": 0})
    depth1 = api.get("/v2/categories/tree", params={"depth": 1})
    rooted = api.get("/v2/categories/tree", params={"rootId": t["drills"].pk})
    rooted0 = api.get("/v2/categories/tree", params={"rootId": t["tools"].pk, "depth": 1})

    assert tree_ids(depth0.json()["data"]) == [(t["tools"].pk, []), (t["kitchen"].pk, [])]
    assert tree_ids(depth1.json()["data"]) == [
        (t["tools"].pk, [(t["drills"].pk, []), (t["saws"].pk, [])]),
        (t["kitchen"].pk, []),
    ]
    assert tree_ids(rooted.json()["data"]) == [(t["drills"].pk, [(t["bits"].pk, [])])]
    assert rooted.json()["total"] == 1
    assert tree_ids(rooted0.json()["data"]) == [
        (t["tools"].pk, [(t["drills"].pk, []), (t["saws"].pk, [])])
    ]


def test_tree_orders_siblings_by_priority_then_name(api, db):
    root = make_category("Root")
    c = make_category("Charlie", parent=root, priority=0)
    a = make_category("Alpha", parent=root, priority=1)
    b = make_category("Bravo", parent=root, priority=0)

    response = api.get("/v2/categories/tree")

    assert tree_ids(response.json()["data"]) == [(root.pk, [(b.pk, []), (c.pk, []), (a.pk, [])])]


def test_tree_in_one_language(api, catalogue_tree):
    response = api.get(
        "/v2/categories/tree", params={"language": "DE", "rootId": catalogue_tree["drills"].pk}
    )

    drills = response.json()["data"][0]
    assert drills["names"] == ls(DE="Bohrer")
    assert drills["children"][0]["names"] == ls(EN="Drill Bits")


def test_tree_with_an_unknown_root_is_404(api, catalogue_tree):
    response = api.get("/v2/categories/tree", params={"rootId": 999999})

    assert_error(response, 404, 30006, "CategoryNotFound", ["Category with id [999999] not found"])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"depth": "-1"}, "depth: must be an integer >= 0"),
        ({"depth": "deep"}, "depth: must be an integer >= 0"),
        ({"rootId": "0"}, "rootId: must be an integer >= 1"),
        ({"rootId": "abc"}, "rootId: must be an integer >= 1"),
    ],
)
def test_tree_with_bad_parameters_is_400(api, db, params, message):
    response = api.get("/v2/categories/tree", params=params)

    assert_error(response, 400, 10007, "SchemaValidationException", [message])


def test_tree_of_an_empty_catalogue(api, db):
    response = api.get("/v2/categories/tree")

    assert response.json() == {"data": [], "messages": [], "total": 0}
