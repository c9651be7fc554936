"""Category bulk: trees in one request, moves, deletes, directives."""

import json

import pytest

from catalogue.models import Category, CategorySource, ProductCategory
from catalogue.services.products import category_add_products
from tests.api.test_bulk_products import (
    BOTH_FORMS,
    completed,
    failed,
    ls,
    ndjson,
    ok,
    results,
    table_counts,
)
from tests.assertions import assert_error, assert_tree_consistent, category_snapshot
from tests.factories import make_category

URL = "/v2/categories/bulk"


def bulk(api, key: str, categories, *, directives=None, params=None, delete=False):
    body = {"categories": categories}
    if directives is not None:
        body["directives"] = directives
    path = f"{URL}/{key}/delete" if delete else f"{URL}/{key}"
    return api.post(path, body, params=params)


def node(source_id: str, name: str | None = None, source: str = "erp", **fields) -> dict:
    """A category item keyed by (source, sourceId)."""
    return {
        "source": source,
        "sourceId": source_id,
        "names": ls(EN=name or f"Category {source_id}"),
        **fields,
    }


def by_pair(source_id: str, source: str = "erp") -> Category:
    return Category.objects.get(sources__source=source, sources__source_id=source_id)


def fetch(api, category_id: int) -> dict:
    response = api.get(f"/v2/categories/id/{category_id}")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def placement(api, category_id: int) -> tuple:
    data = fetch(api, category_id)
    return data["parent"], data["level"], data["path"]


def without_numbering(row: dict) -> dict:
    """A category row without its nested-set numbers, which any insert may shift."""
    return {name: value for name, value in row.items() if name not in ("lft", "rght")}


@pytest.fixture
def tree(db) -> dict[str, Category]:
    """root (erp/ROOT) > child (erp/CHILD) > grandchild (erp/GRAND), and another root."""
    root = make_category("Root", sources=[("erp", "ROOT")])
    child = make_category("Child", parent=root, sources=[("erp", "CHILD")])
    grand = make_category("Grandchild", parent=child, sources=[("erp", "GRAND")])
    other = make_category("Other", sources=[("erp", "OTHER")])
    return {"root": root, "child": child, "grand": grand, "other": other}


# Lookup keys -----------------------------------------------------------------------------------


def test_by_id_updates_a_match_and_creates_an_unknown_id_with_a_new_id(api, tree):
    root, unknown = tree["root"], tree["other"].pk + 1000

    response = bulk(
        api,
        "id",
        [
            {"id": root.pk, "names": ls(EN="Renamed root")},
            {"id": unknown, "names": ls(EN="New"), "parent": {"id": root.pk}},
        ],
    )

    data = results(response, completed(created=1, updated=1))
    new = Category.objects.get(name_en="New")
    assert data == [
        ok(0, "update", root.pk, root.pk, "id"),
        ok(1, "create", new.pk, unknown, "id"),
    ]
    assert new.pk != unknown
    assert not Category.objects.filter(pk=unknown).exists()
    assert Category.objects.get(pk=root.pk).name_en == "Renamed root"
    assert placement(api, new.pk) == ({"id": root.pk}, 1, [root.pk])
    assert_tree_consistent()


def test_by_source_id_matches_on_the_pair(api, tree):
    response = bulk(
        api,
        "sourceId",
        [node("ROOT", "Renamed root"), node("ROOT", "Pim root", source="pim")],
    )

    data = results(response, completed(created=1, updated=1))
    assert data == [
        ok(0, "update", tree["root"].pk, "ROOT", "sourceId"),
        ok(1, "create", by_pair("ROOT", "pim").pk, "ROOT", "sourceId"),
    ]
    assert by_pair("ROOT").name_en == "Renamed root"
    assert Category.objects.count() == 5


# Trees in one request --------------------------------------------------------------------------


def test_a_tree_sent_parent_first_is_created_in_one_request(api):
    response = bulk(
        api,
        "sourceId",
        [
            node("ROOT", "Tools"),
            node("CHILD", "Drills", parent={"source": "erp", "sourceId": "ROOT"}),
            # A parent by sourceId without source uses the item's own source.
            node("GRAND", "Cordless drills", parent={"sourceId": "CHILD"}),
            node("SECOND", "Saws", parent={"sourceId": "ROOT"}),
        ],
    )

    data = results(response, completed(created=4))
    root, child, grand, second = (by_pair(key) for key in ("ROOT", "CHILD", "GRAND", "SECOND"))
    assert data == [
        ok(0, "create", root.pk, "ROOT", "sourceId"),
        ok(1, "create", child.pk, "CHILD", "sourceId"),
        ok(2, "create", grand.pk, "GRAND", "sourceId"),
        ok(3, "create", second.pk, "SECOND", "sourceId"),
    ]
    assert placement(api, root.pk) == (None, 0, [])
    assert placement(api, child.pk) == ({"id": root.pk}, 1, [root.pk])
    assert placement(api, grand.pk) == ({"id": child.pk}, 2, [root.pk, child.pk])
    assert placement(api, second.pk) == ({"id": root.pk}, 1, [root.pk])
    assert fetch(api, root.pk)["childCount"] == 2
    assert_tree_consistent()
    tree = api.get("/v2/categories/tree").json()["data"]
    assert [row["id"] for row in tree] == [root.pk]
    assert [row["id"] for row in tree[0]["children"]] == [child.pk, second.pk]
    assert [row["id"] for row in tree[0]["children"][0]["children"]] == [grand.pk]


def test_new_categories_can_hang_under_existing_ones(api, tree):
    response = bulk(
        api,
        "sourceId",
        [
            node("NEW", "New", parent={"sourceId": "GRAND"}),
            node("NEWER", "Newer", parent={"sourceId": "NEW"}),
        ],
    )

    results(response, completed(created=2))
    root, child, grand = tree["root"].pk, tree["child"].pk, tree["grand"].pk
    new = by_pair("NEW").pk
    assert placement(api, new) == ({"id": grand}, 3, [root, child, grand])
    assert placement(api, by_pair("NEWER").pk) == ({"id": new}, 4, [root, child, grand, new])
    assert_tree_consistent()


def test_the_parent_source_defaults_to_the_items_own_source(api):
    erp_root = make_category("Erp root", sources=[("erp", "ROOT")])
    pim_root = make_category("Pim root", sources=[("pim", "ROOT")])

    response = bulk(
        api,
        "sourceId",
        [
            node("A", source="pim", parent={"sourceId": "ROOT"}),
            node("B", source="erp", parent={"sourceId": "ROOT"}),
        ],
    )

    results(response, completed(created=2))
    assert by_pair("A", "pim").parent_id == pim_root.pk
    assert by_pair("B", "erp").parent_id == erp_root.pk


def test_a_child_sent_before_its_parent_does_not_find_it(api):
    response = bulk(
        api,
        "sourceId",
        [node("CHILD", parent={"sourceId": "ROOT"}), node("ROOT")],
    )

    data = results(response, completed(created=1, failed=1))
    assert data[0] == failed(
        0,
        "CHILD",
        "sourceId",
        30007,
        "ParentCategoryNotFound",
        "Parent category with sourceId [ROOT] and source [erp] not found",
    )
    assert list(Category.objects.values_list("name_en", flat=True)) == ["Category ROOT"]


def test_children_of_an_item_that_failed_validation_fail_too(api):
    response = bulk(
        api,
        "sourceId",
        [
            node("ROOT", hidden="maybe"),
            node("CHILD", parent={"sourceId": "ROOT"}),
            node("GRAND", parent={"sourceId": "CHILD"}),
            node("OK"),
        ],
    )

    data = results(response, completed(created=1, failed=3))
    assert data == [
        failed(
            0,
            "ROOT",
            "sourceId",
            10007,
            "SchemaValidationException",
            "hidden: Invalid enum value 'maybe'",
        ),
        failed(
            1,
            "CHILD",
            "sourceId",
            30007,
            "ParentCategoryNotFound",
            "Parent category with sourceId [ROOT] and source [erp] not found",
        ),
        failed(
            2,
            "GRAND",
            "sourceId",
            30007,
            "ParentCategoryNotFound",
            "Parent category with sourceId [CHILD] and source [erp] not found",
        ),
        ok(3, "create", by_pair("OK").pk, "OK", "sourceId"),
    ]
    assert Category.objects.count() == CategorySource.objects.count() == 1
    assert_tree_consistent()


def test_children_of_an_item_that_failed_while_planning_fail_too(api):
    taken = make_category("Holder", localized={"slug": {"EN": "taken"}})
    before = Category.objects.count()

    response = bulk(
        api,
        "sourceId",
        [
            node("ROOT", slugs=ls(EN="taken")),
            node("CHILD", parent={"sourceId": "ROOT"}),
            node("GRAND", parent={"sourceId": "CHILD"}),
            node("OK"),
        ],
    )

    data = results(response, completed(created=1, failed=3))
    assert data[0] == failed(
        0,
        "ROOT",
        "sourceId",
        30004,
        "CategoryExists",
        "Category with slug [taken] in language [EN] already exists",
    )
    assert data[1] == failed(
        1,
        "CHILD",
        "sourceId",
        30007,
        "ParentCategoryNotFound",
        "Parent category of CHILD failed earlier in this request",
    )
    assert data[2] == failed(
        2,
        "GRAND",
        "sourceId",
        30007,
        "ParentCategoryNotFound",
        "Parent category of GRAND failed earlier in this request",
    )
    assert data[3]["action"] == "create"
    assert Category.objects.count() == before + 1
    assert not CategorySource.objects.filter(source_id__in=["ROOT", "CHILD", "GRAND"]).exists()
    assert Category.objects.get(pk=taken.pk).slug_en == "taken"
    assert_tree_consistent()


# Moves -----------------------------------------------------------------------------------------


def test_a_bulk_move_carries_the_subtree(api, tree):
    other, child, grand = tree["other"].pk, tree["child"].pk, tree["grand"].pk

    response = bulk(api, "sourceId", [node("CHILD", "Child", parent={"sourceId": "OTHER"})])

    assert results(response, completed(updated=1)) == [ok(0, "update", child, "CHILD", "sourceId")]
    assert placement(api, child) == ({"id": other}, 1, [other])
    assert placement(api, grand) == ({"id": child}, 2, [other, child])
    assert fetch(api, tree["root"].pk)["childCount"] == 0
    assert_tree_consistent()


def test_parent_null_makes_a_root(api, tree):
    child, grand = tree["child"].pk, tree["grand"].pk

    response = bulk(api, "id", [{"id": child, "parent": None}])

    assert results(response, completed(updated=1)) == [ok(0, "update", child, child, "id")]
    assert placement(api, child) == (None, 0, [])
    assert placement(api, grand) == ({"id": child}, 1, [child])
    assert_tree_consistent()


@pytest.mark.parametrize(
    ("moved", "under"),
    [("root", "grand"), ("root", "child"), ("child", "child"), ("root", "root")],
)
def test_a_move_under_itself_or_a_descendant_is_an_item_error_30009(api, tree, moved, under):
    before = category_snapshot()

    response = bulk(
        api,
        "id",
        [
            {"id": tree[moved].pk, "parent": {"id": tree[under].pk}},
            {"id": tree["other"].pk, "names": ls(EN="Renamed other")},
        ],
    )

    data = results(response, completed(updated=1, failed=1))
    assert data == [
        failed(
            0,
            tree[moved].pk,
            "id",
            30009,
            "CategoryCycle",
            f"Category with id [{tree[moved].pk}] cannot be moved under itself or one of its descendants",
            record_id=tree[moved].pk,
        ),
        ok(1, "update", tree["other"].pk, tree["other"].pk, "id"),
    ]
    assert Category.objects.get(pk=tree["other"].pk).name_en == "Renamed other"
    rows_after, sources_after = category_snapshot()
    assert [row for row in rows_after if row["id"] != tree["other"].pk] == [
        row for row in before[0] if row["id"] != tree["other"].pk
    ]
    assert sources_after == before[1]
    assert_tree_consistent()


def test_a_cycle_made_by_two_moves_of_one_request_fails_the_later(api, tree):
    other, root = tree["other"].pk, tree["root"].pk

    response = bulk(
        api,
        "id",
        [{"id": other, "parent": {"id": root}}, {"id": root, "parent": {"id": other}}],
    )

    data = results(response, completed(updated=1, failed=1))
    assert data[1] == failed(
        1,
        root,
        "id",
        30009,
        "CategoryCycle",
        f"Category with id [{root}] cannot be moved under itself or one of its descendants",
        record_id=root,
    )
    assert placement(api, other) == ({"id": root}, 1, [root])
    assert_tree_consistent()


def test_a_cycle_through_a_category_created_in_the_same_request_fails(api, tree):
    root = tree["root"].pk
    before = category_snapshot()

    response = bulk(
        api,
        "sourceId",
        [
            node("NEW", parent={"sourceId": "CHILD"}),
            node("ROOT", "Root", parent={"sourceId": "NEW"}),
        ],
    )

    data = results(response, completed(created=1, failed=1))
    assert data[1] == failed(
        1,
        "ROOT",
        "sourceId",
        30009,
        "CategoryCycle",
        "Category with sourceId [ROOT] and source [erp] cannot be moved under itself or one of "
        "its descendants",
        record_id=root,
    )
    new = by_pair("NEW").pk
    assert placement(api, new) == ({"id": tree["child"].pk}, 2, [root, tree["child"].pk])
    assert [without_numbering(row) for row in category_snapshot()[0] if row["id"] != new] == [
        without_numbering(row) for row in before[0]
    ]
    assert_tree_consistent()


@BOTH_FORMS
def test_skip_move_on_update_ignores_the_parent_of_existing_categories_only(api, tree, form):
    child = tree["child"].pk

    response = bulk(
        api,
        "sourceId",
        [
            node("CHILD", "Renamed child", parent={"sourceId": "OTHER"}),
            node("NEW", "New", parent={"sourceId": "OTHER"}),
        ],
        directives=form({"skipMoveOnUpdate": []}),
    )

    data = results(response, completed(created=1, updated=1))
    assert data[0] == ok(0, "update", child, "CHILD", "sourceId")
    assert placement(api, child) == ({"id": tree["root"].pk}, 1, [tree["root"].pk])
    assert fetch(api, child)["names"] == ls(EN="Renamed child")
    new = by_pair("NEW").pk
    assert placement(api, new) == ({"id": tree["other"].pk}, 1, [tree["other"].pk])
    assert_tree_consistent()


# Other directives ------------------------------------------------------------------------------


@BOTH_FORMS
def test_skip_if_not_empty_per_language_and_plain_field(api, form):
    results(bulk(api, "sourceId", [node("C-1", "Drills", descriptions=ls(EN="Old"))]))

    response = bulk(
        api,
        "sourceId",
        [
            node(
                "C-1",
                names=ls(EN="Boren", DE="Bohrer"),
                descriptions=ls(EN="New", NL="Nieuw"),
                priority=5,
            )
        ],
        directives=form({"skipIfNotEmpty": ["names", "descriptions"]}),
    )

    [result] = results(response, completed(updated=1))
    data = fetch(api, result["id"])
    assert data["names"] == ls(EN="Drills", DE="Bohrer")
    assert data["descriptions"] == ls(EN="Old", NL="Nieuw")
    assert data["priority"] == 5


@BOTH_FORMS
def test_merge_translations_on_update_replaces_languages_of_sent_fields(api, form):
    [old] = results(
        bulk(
            api,
            "sourceId",
            [
                node(
                    "C-1",
                    names=ls(EN="Drills", DE="Bohrer", NL="Boren"),
                    descriptions=ls(EN="Text", FR="Texte"),
                )
            ],
        )
    )

    response = bulk(
        api,
        "sourceId",
        [node("C-1", names=ls(EN="Drills 2", FR="Perceuses"))],
        directives=form({"mergeTranslationsOnUpdate": []}),
    )

    results(response, completed(updated=1))
    data = fetch(api, old["id"])
    assert data["names"] == ls(EN="Drills 2", FR="Perceuses")
    assert data["descriptions"] == ls(EN="Text", FR="Texte")


@BOTH_FORMS
def test_skip_create_skips_unmatched_items(api, tree, form):
    before = Category.objects.count()

    response = bulk(
        api,
        "sourceId",
        [node("NEW"), node("ROOT", "Renamed")],
        directives=form({"skipCreate": []}),
    )

    assert results(response, completed(updated=1, skipped=1)) == [
        ok(0, "skip", None, "NEW", "sourceId"),
        ok(1, "update", tree["root"].pk, "ROOT", "sourceId"),
    ]
    assert Category.objects.count() == before
    assert not CategorySource.objects.filter(source_id="NEW").exists()


@pytest.mark.parametrize(
    ("directives", "message"),
    [
        ({"skipAll": []}, "directives: unknown directive skipAll"),
        ([{"operation": "skipAll", "fields": []}], "directives: unknown directive skipAll"),
        ({"skipIfNotEmpty": ["sku"]}, "directives.skipIfNotEmpty: unknown field sku"),
        (
            [{"operation": "skipIfNotEmpty", "fields": ["parent"]}],
            "directives.skipIfNotEmpty: unknown field parent",
        ),
    ],
)
def test_bad_directives_fail_the_whole_request(api, tree, directives, message):
    before = table_counts(), category_snapshot()

    response = bulk(api, "sourceId", [node("ROOT", "Renamed"), node("NEW")], directives=directives)

    error = assert_error(response, 400, 10007, "SchemaValidationException")
    assert error["messages"][0].startswith(message)
    assert (table_counts(), category_snapshot()) == before


# Per-item errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code", "type_name", "message"),
    [
        (
            {"names": [{"language": "XX", "value": "Bad"}]},
            10007,
            "SchemaValidationException",
            'names[0].language: unknown language "XX"',
        ),
        ({"hidden": "yes"}, 10007, "SchemaValidationException", "hidden: Invalid enum value 'yes'"),
        (
            {"names": ls(EN="N" * 1001)},
            10007,
            "SchemaValidationException",
            "names[0].value: Expected `str` of length <= 1000",
        ),
        (
            {"sources": [{"source": "erp", "sourceId": "S" * 256}]},
            10007,
            "SchemaValidationException",
            "sources[0].sourceId: Expected `str` of length <= 255",
        ),
        (
            {"parent": {"id": 999999}},
            30007,
            "ParentCategoryNotFound",
            "Parent category with id [999999] not found",
        ),
        (
            {"sources": [{"source": "erp", "sourceId": "ROOT"}]},
            30004,
            "CategoryExists",
            "Category with sourceId [ROOT] and source [erp] already exists",
        ),
        (
            {"slugs": ls(EN="root")},
            30004,
            "CategoryExists",
            "Category with slug [root] in language [EN] already exists",
        ),
        (
            {"names": ls(NL="Alleen Nederlands")},
            10017,
            "PayloadValidationError",
            "names: a value in the category's default language EN is required",
        ),
    ],
)
def test_a_failing_item_is_reported_and_leaves_no_trace(
    api, tree, fields, code, type_name, message
):
    before = category_snapshot()

    response = bulk(
        api,
        "sourceId",
        [
            node("A", parent={"sourceId": "ROOT"}),
            {
                **node("BAD", names=ls(EN="Bad", DE="Schlecht"), parent={"sourceId": "ROOT"}),
                **fields,
            },
            node("B"),
        ],
    )

    data = results(response, completed(created=2, failed=1))
    assert data == [
        ok(0, "create", by_pair("A").pk, "A", "sourceId"),
        failed(1, "BAD", "sourceId", code, type_name, message),
        ok(2, "create", by_pair("B").pk, "B", "sourceId"),
    ]
    assert Category.objects.count() == len(before[0]) + 2
    assert not Category.objects.filter(name_en="Bad").exists()
    assert not Category.objects.filter(name_de="Schlecht").exists()
    assert not CategorySource.objects.filter(source_id="BAD").exists()
    assert CategorySource.objects.get(source="erp", source_id="ROOT").owner_id == tree["root"].pk
    assert fetch(api, tree["root"].pk)["childCount"] == 2
    assert_tree_consistent()


# lastModifiedAt --------------------------------------------------------------------------------


def test_an_unchanged_resend_keeps_last_modified_at_and_the_tree(api):
    items = [
        node("ROOT", names=ls(EN="Tools", DE="Werkzeuge"), priority=2, hidden="Y"),
        node("CHILD", parent={"sourceId": "ROOT"}, descriptions=ls(EN="Drills")),
        node("GRAND", parent={"sourceId": "CHILD"}, sources=[{"source": "pim", "sourceId": "9"}]),
    ]
    first = results(bulk(api, "sourceId", items), completed(created=3))
    before = category_snapshot()

    again = bulk(api, "sourceId", items)

    assert results(again, completed(updated=3)) == [
        ok(index, "update", result["id"], result["key"], "sourceId")
        for index, result in enumerate(first)
    ]
    assert category_snapshot() == before


def test_a_real_change_moves_last_modified_at(api):
    items = [node("ROOT"), node("CHILD", parent={"sourceId": "ROOT"})]
    ids = [result["id"] for result in results(bulk(api, "sourceId", items))]
    stamps = [fetch(api, pk)["lastModifiedAt"] for pk in ids]

    items[1]["priority"] = 4
    results(bulk(api, "sourceId", items), completed(updated=2))

    assert fetch(api, ids[0])["lastModifiedAt"] == stamps[0]
    assert fetch(api, ids[1])["lastModifiedAt"] > stamps[1]


# Delete ----------------------------------------------------------------------------------------


def test_bulk_delete_removes_empty_leaves_only(api, tree, product_in_other):
    leaf = make_category("Leaf", parent=tree["other"], sources=[("erp", "LEAF")])
    lonely = make_category("Lonely")

    response = bulk(
        api,
        "id",
        [
            {"id": tree["grand"].pk},
            {"id": tree["child"].pk},
            {"id": tree["other"].pk},
            {"id": 999999},
            {"id": lonely.pk},
        ],
        delete=True,
    )

    assert results(response, completed(deleted=2, failed=3)) == [
        ok(0, "delete", tree["grand"].pk, tree["grand"].pk, "id"),
        failed(
            1,
            tree["child"].pk,
            "id",
            30008,
            "CategoryNotEmpty",
            f"Category with id [{tree['child'].pk}] is not empty: it has child categories",
            record_id=tree["child"].pk,
        ),
        failed(
            2,
            tree["other"].pk,
            "id",
            30008,
            "CategoryNotEmpty",
            f"Category with id [{tree['other'].pk}] is not empty: it has child categories",
            record_id=tree["other"].pk,
        ),
        failed(3, 999999, "id", 30006, "CategoryNotFound", "Category with id [999999] not found"),
        ok(4, "delete", lonely.pk, lonely.pk, "id"),
    ]
    assert not Category.objects.filter(pk__in=[tree["grand"].pk, lonely.pk]).exists()
    assert not CategorySource.objects.filter(source_id="GRAND").exists()
    assert Category.objects.filter(pk=leaf.pk).exists()
    assert_tree_consistent()


@pytest.fixture
def product_in_other(api, tree) -> int:
    response = api.post("/v2/products", {"names": ls(EN="Saw"), "parent": {"id": tree["other"].pk}})
    assert response.status_code == 201, response.content
    return response.json()["data"]["id"]


def test_bulk_delete_of_a_category_with_products_is_30008(api, tree, product_in_other):
    leaf = make_category("Leaf", sources=[("erp", "LEAF")])
    extra = api.post("/v2/products", {"names": ls(EN="Drill")}).json()["data"]["id"]
    category_add_products(category_id=leaf.pk, product_ids=[extra])
    before = category_snapshot()

    response = bulk(api, "sourceId", [{"source": "erp", "sourceId": "LEAF"}], delete=True)

    assert results(response, completed(failed=1)) == [
        failed(
            0,
            "LEAF",
            "sourceId",
            30008,
            "CategoryNotEmpty",
            f"Category with id [{leaf.pk}] is not empty: it contains products",
            record_id=leaf.pk,
        )
    ]
    assert category_snapshot() == before
    assert ProductCategory.objects.filter(category_id=leaf.pk).count() == 1


def test_bulk_delete_by_source_id(api, tree):
    response = bulk(
        api,
        "sourceId",
        [{"source": "erp", "sourceId": "GRAND"}, {"source": "pim", "sourceId": "GRAND"}],
        delete=True,
    )

    assert results(response, completed(deleted=1, failed=1)) == [
        ok(0, "delete", tree["grand"].pk, "GRAND", "sourceId"),
        failed(
            1,
            "GRAND",
            "sourceId",
            30006,
            "CategoryNotFound",
            "Category with sourceId [GRAND] and source [pim] not found",
        ),
    ]
    assert not Category.objects.filter(pk=tree["grand"].pk).exists()
    assert fetch(api, tree["child"].pk)["childCount"] == 0
    assert_tree_consistent()


# Whole-request failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code", "type_name"),
    [
        ('{"categories": [', 400, 10005, "InvalidJSONPayload"),
        ("", 400, 10005, "InvalidJSONPayload"),
        ("[]", 400, 10007, "SchemaValidationException"),
        ('{"products": []}', 400, 10007, "SchemaValidationException"),
        ('{"categories": "all"}', 400, 10007, "SchemaValidationException"),
    ],
)
def test_a_malformed_body_fails_the_whole_request(api, tree, body, status, code, type_name):
    before = table_counts(), category_snapshot()

    response = api.post(f"{URL}/sourceId", body)

    assert_error(response, status, code, type_name)
    assert (table_counts(), category_snapshot()) == before


def test_exactly_1000_items_are_accepted_as_one_deep_tree(api):
    items = [node("C-0")] + [
        node(f"C-{n}", parent={"sourceId": f"C-{n // 2}"}) for n in range(1, 1000)
    ]

    data = results(bulk(api, "sourceId", items), completed(created=1000))

    assert {result["action"] for result in data} == {"create"}
    assert Category.objects.count() == 1000
    assert_tree_consistent()


# dryRun, atomic, NDJSON ------------------------------------------------------------------------


def test_dry_run_of_a_tree_reports_the_outcomes_and_writes_nothing(api, tree):
    items = [
        node("ROOT", "Renamed root"),
        node("NEW", parent={"sourceId": "ROOT"}),
        node("NEWER", parent={"sourceId": "NEW"}),
        node("BAD", parent={"sourceId": "MISSING"}),
        node("CHILD", parent={"sourceId": "GRAND"}),
    ]
    before = table_counts(), category_snapshot()

    dry = bulk(api, "sourceId", items, params={"dryRun": "true"})

    dry_results = results(
        dry, completed(created=2, updated=1, failed=2), "Dry run: nothing was written"
    )
    assert (table_counts(), category_snapshot()) == before
    real = results(bulk(api, "sourceId", items), completed(created=2, updated=1, failed=2))
    assert [(r["action"], r.get("errors")) for r in dry_results] == [
        (r["action"], r.get("errors")) for r in real
    ]
    assert [r["action"] for r in real] == ["update", "create", "create", "error", "error"]
    assert real[4]["errors"][0]["code"] == 30009


def test_atomic_with_one_bad_item_applies_nothing(api, tree):
    before = table_counts(), category_snapshot()

    response = bulk(
        api,
        "sourceId",
        [
            node("ROOT", "Renamed"),
            node("NEW", parent={"sourceId": "ROOT"}),
            node("BAD", hidden="?"),
        ],
        params={"atomic": "true"},
    )

    not_applied = "not applied: request is atomic"
    assert results(response, completed(failed=3)) == [
        failed(
            0, "ROOT", "sourceId", 10017, "PayloadValidationError", not_applied, tree["root"].pk
        ),
        failed(1, "NEW", "sourceId", 10017, "PayloadValidationError", not_applied),
        failed(
            2,
            "BAD",
            "sourceId",
            10007,
            "SchemaValidationException",
            "hidden: Invalid enum value '?'",
        ),
    ]
    assert (table_counts(), category_snapshot()) == before


def test_atomic_bulk_delete_with_one_bad_item_deletes_nothing(api, tree):
    before = table_counts(), category_snapshot()

    response = bulk(
        api,
        "id",
        [{"id": tree["grand"].pk}, {"id": tree["root"].pk}],
        params={"atomic": "true"},
        delete=True,
    )

    data = results(response, completed(failed=2))
    assert [(r["action"], r["errors"][0]["code"]) for r in data] == [
        ("error", 10017),
        ("error", 30008),
    ]
    assert data[0]["errors"][0]["messages"] == ["not applied: request is atomic"]
    assert (table_counts(), category_snapshot()) == before


def test_atomic_with_good_items_applies_all(api):
    response = bulk(
        api,
        "sourceId",
        [node("ROOT"), node("CHILD", parent={"sourceId": "ROOT"})],
        params={"atomic": "true"},
    )

    assert [r["action"] for r in results(response, completed(created=2))] == ["create", "create"]
    assert by_pair("CHILD").parent_id == by_pair("ROOT").pk
    assert_tree_consistent()


def test_an_ndjson_body_builds_a_tree_with_directives_from_the_query(api, tree):
    body = ndjson(
        node("ROOT", names=ls(EN="Ignored", DE="Wurzel")),
        node("NEW", parent={"sourceId": "ROOT"}),
    )

    response = api.post(
        f"{URL}/sourceId",
        body,
        params={"directives": json.dumps({"skipIfNotEmpty": ["names"]})},
        content_type="application/x-ndjson",
    )

    assert results(response, completed(created=1, updated=1)) == [
        ok(0, "update", tree["root"].pk, "ROOT", "sourceId"),
        ok(1, "create", by_pair("NEW").pk, "NEW", "sourceId"),
    ]
    assert fetch(api, tree["root"].pk)["names"] == ls(EN="Root", DE="Wurzel")
    assert by_pair("NEW").parent_id == tree["root"].pk


# Scopes ----------------------------------------------------------------------------------------
