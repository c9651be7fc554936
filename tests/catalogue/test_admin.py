"""The catalogue admin: its forms save through the services, so whatever the API refuses is a
form error with nothing saved; search, filters, actions and fixed query counts."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalogue.admin.products import ProductAdmin
from catalogue.models import (
    Category,
    Cluster,
    ClusterConfig,
    ClusterConfigSetting,
    ClusterOption,
    ClusterOptionProduct,
    Product,
    ProductAncestor,
    ProductCategory,
)
from catalogue.records import RecordChanges
from catalogue.services.clusters import CLUSTER_CONFIG_WRITES, CLUSTER_WRITES, SettingChanges
from tests.factories import ls, make_category, make_product

PRODUCTS = "/admin/catalogue/product/"
CATEGORIES = "/admin/catalogue/category/"
CONFIGS = "/admin/catalogue/clusterconfig/"
CLUSTERS = "/admin/catalogue/cluster/"
OPTIONS = "/admin/catalogue/clusteroption/"


@pytest.fixture
def staff(db) -> Client:
    user = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")
    browser = Client()
    browser.force_login(user)
    return browser


def product_form(**overrides) -> dict:
    """A product form as the add page posts it, with one English name."""
    data = {
        "language": "EN",
        "name_en": "Brass valve",
        "status": "A",
        "tax_code": "H",
        "unit": "1",
        "minimum_quantity": "1",
        "package_unit_quantity": "1",
        "priority": "0",
        "orderable": "on",
        "returnable": "on",
        "physical": "on",
        "attributes_name": ["COLOR", "SIZE"],
        "attributes_value": ["red", "DN15"],
        "sources_source": ["erp"],
        "sources_source_id": ["P-1"],
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def category_form(**overrides) -> dict:
    data = {"language": "EN", "name_en": "Valves", "priority": "0"}
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def errors_on(response) -> str:
    assert response.status_code == 200
    page = response.content.decode()
    assert "errornote" in page or "errorlist" in page
    return page


def settle_deferred_triggers() -> None:
    """Run the tree triggers that otherwise wait for the commit the test never makes."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def snapshot(model) -> list[tuple]:
    return list(model.objects.order_by("pk").values_list())


def changelist_ids(response) -> list[int]:
    assert response.status_code == 200
    return [
        int(pk)
        for pk in re.findall(r'name="_selected_action" value="(\d+)"', response.content.decode())
    ]


# Pages -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        PRODUCTS,
        f"{PRODUCTS}add/",
        CATEGORIES,
        f"{CATEGORIES}add/",
        CONFIGS,
        f"{CONFIGS}add/",
        CLUSTERS,
        f"{CLUSTERS}add/",
        OPTIONS,
        f"{OPTIONS}add/",
    ],
)
def test_every_page_opens(staff, path):
    assert staff.get(path).status_code == 200


# Products: search and list ---------------------------------------------------------------------


def test_search_by_dutch_name_finds_the_product(staff):
    wanted = make_product(names=ls(EN="Ball valve", NL="Kogelkraan"), sku="KK-1")
    make_product(names=ls(EN="Hose", NL="Slang"), sku="SL-1")

    response = staff.get(PRODUCTS, {"q": "kogelkraan"})

    assert changelist_ids(response) == [wanted.pk]
    assert "Ball valve" in response.content.decode()  # the name column


@pytest.mark.parametrize(
    "term",
    ["kogelkraan", "Kogelkranen"[:9], "kogelkarn", "KK-1", "sup-77", "8712345678906", "ERP-55"],
    ids=["name", "prefix", "typo", "sku", "supplier code", "ean", "source id"],
)
def test_search_uses_the_api_term_search(staff, term):
    wanted = make_product(
        names=ls(EN="Ball valve", NL="Kogelkraan"),
        sku="KK-1",
        supplierCode="SUP-77",
        eanCode="8712345678906",
        sources=[{"source": "erp", "sourceId": "ERP-55"}],
    )
    make_product(names=ls(EN="Hose"), sku="SL-1")

    assert changelist_ids(staff.get(PRODUCTS, {"q": term})) == [wanted.pk]


def test_filters_by_status_category_subtree_and_dates(staff):
    tools = make_category("Tools")
    valves = make_category("Valves", parent=tools)
    other = make_category("Garden")
    in_child = make_product("In valves", parent={"id": valves.pk})
    in_parent = make_product("In tools", parent={"id": tools.pk}, status="N")
    make_product("In garden", parent={"id": other.pk})

    assert sorted(changelist_ids(staff.get(PRODUCTS, {"category": tools.pk}))) == sorted(
        [in_child.pk, in_parent.pk]
    )
    assert changelist_ids(staff.get(PRODUCTS, {"category": tools.pk, "status__exact": "N"})) == [
        in_parent.pk
    ]
    page = staff.get(PRODUCTS, {"category": tools.pk}).content.decode()
    assert "Tools \u203a Valves" in page  # the filter drills down, choices as paths
    assert (
        len(changelist_ids(staff.get(PRODUCTS, {"created_at__gte": "2000-01-01 00:00:00+00:00"})))
        == 3
    )
    assert (
        changelist_ids(staff.get(PRODUCTS, {"last_modified_at__lt": "2000-01-01 00:00:00+00:00"}))
        == []
    )


def test_the_list_shows_names_and_primary_category_paths(staff):
    tools = make_category("Tools")
    valves = make_category("Valves", parent=tools)
    make_product(names=ls(EN="Ball valve"), sku="KK-1", parent={"id": valves.pk})

    page = staff.get(PRODUCTS).content.decode()

    assert "Ball valve" in page
    assert "Tools \u203a Valves" in page


# Session, user, the category filter, the count, the page's ids, its rows, their primary
# categories and paths, the action form's category choices; a search adds its term lookups
# a category filter its path.
QUERIES = {"all": 9, "search": 13, "status": 9, "category": 11}


@pytest.mark.parametrize(
    "name, params",
    [
        ("all", {}),
        ("search", {"q": "valve"}),
        ("status", {"status__exact": "A"}),
        ("category", {"category": "tree"}),
    ],
)
def test_the_product_list_runs_a_fixed_number_of_queries(staff, name, params, monkeypatch):
    monkeypatch.setattr(ProductAdmin, "list_per_page", 5)
    tools = make_category("Tools")
    valves = make_category("Valves", parent=tools)
    params = {k: (tools.pk if v == "tree" else v) for k, v in params.items()}

    def count_queries(page: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = staff.get(PRODUCTS, {**params, "p": page})
        assert len(changelist_ids(response)) == 5
        return len(queries)

    for index in range(6):
        make_product(f"Valve {index}", parent={"id": valves.pk}, sku=f"V-{index}")
    few = count_queries(1)
    for index in range(6, 20):
        make_product(f"Valve {index}", parent={"id": valves.pk}, sku=f"V-{index}")
    many = [count_queries(1), count_queries(3)]

    assert [few, *many] == [QUERIES[name]] * 3


def test_a_long_filtered_list_is_counted_up_to_a_limit_then_estimated(staff, monkeypatch):
    monkeypatch.setattr("catalogue.admin.pagination.EXACT_COUNT_LIMIT", 3)
    for index in range(6):
        make_product(f"Valve {index}")
    with CaptureQueriesContext(connection) as queries:
        response = staff.get(PRODUCTS, {"status__exact": "A"})

    assert len(changelist_ids(response)) == 6
    assert any(q["sql"].startswith("EXPLAIN") for q in queries)
    assert any("LIMIT 4" in q["sql"] and "COUNT(*)" in q["sql"] for q in queries)


def test_the_whole_list_is_counted_without_scanning_the_table(staff):
    for index in range(3):
        make_product(f"Valve {index}")
    with CaptureQueriesContext(connection) as queries:
        page = staff.get(PRODUCTS).content.decode()

    assert "3 products" in page
    assert not any(
        re.search(r'count\(\*\).*FROM "catalogue_product"', q["sql"], re.IGNORECASE)
        for q in queries
    )


# Products: forms -------------------------------------------------------------------------------


def test_creating_a_product_with_attribute_rows_and_categories(staff):
    tools = make_category("Tools")
    valves = make_category("Valves", parent=tools)
    garden = make_category("Garden")

    response = staff.post(
        f"{PRODUCTS}add/",
        product_form(primary_category=str(valves.pk), extra_categories=[str(garden.pk)]),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    product = Product.objects.get()
    assert product.attributes == [
        {"name": "COLOR", "value": "red"},
        {"name": "SIZE", "value": "DN15"},
    ]
    assert product.slug_en == "brass-valve"
    assert [(s.source, s.source_id) for s in product.sources.all()] == [("erp", "P-1")]
    assert set(
        ProductCategory.objects.filter(product=product).values_list("category_id", "is_primary")
    ) == {(valves.pk, True), (garden.pk, False)}
    assert set(
        ProductAncestor.objects.filter(product_id=product.pk).values_list("category_id", flat=True)
    ) == {tools.pk, valves.pk, garden.pk}
    assert {"'brass':1A", "'valve':1A"} <= set(product.search.vector.split())


def test_the_change_page_shows_attributes_as_rows_and_categories_as_paths(staff):
    tools = make_category("Tools")
    valves = make_category("Valves", parent=tools)
    product = make_product(
        "Valve", parent={"id": valves.pk}, attributes=[{"name": "COLOR", "value": "red"}]
    )

    page = staff.get(f"{PRODUCTS}{product.pk}/change/").content.decode()

    assert 'name="attributes_name" value="COLOR"' in page
    assert 'name="attributes_value" value="red"' in page
    assert re.search(rf'<option value="{valves.pk}" selected>Tools \u203a Valves</option>', page)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"slug_en": "Not A Valid Slug!"}, "invalid slug"),
        ({"attributes_name": ["color"], "attributes_value": ["red"]}, "must match"),
        ({"attributes_name": ["COLOR", "COLOR"], "attributes_value": ["a", "b"]}, "duplicate"),
        ({"attributes_name": ["COLOR"], "attributes_value": ["x" * 256]}, "at most 255"),
        ({"sources_source": ["erp"], "sources_source_id": [""]}, "give both"),
        ({"name_en": "", "name_nl": "Kraan"}, "default language EN is required"),
    ],
    ids=["slug", "attribute name", "duplicate attribute", "long value", "half source", "name"],
)
def test_a_refused_product_create_is_a_form_error_and_saves_nothing(staff, overrides, message):
    page = errors_on(staff.post(f"{PRODUCTS}add/", product_form(**overrides)))

    assert message in page
    assert not Product.objects.exists()


def test_a_refused_product_change_leaves_it_as_it_was(staff):
    make_product("Other", slugs=ls(EN="taken"), sku="O-1")
    product = make_product("Valve", attributes=[{"name": "COLOR", "value": "red"}], sku="V-1")
    before = snapshot(Product)
    url = f"{PRODUCTS}{product.pk}/change/"

    for overrides, message in [
        ({"slug_en": "taken"}, "already exists"),
        ({"attributes_name": ["bad name"], "attributes_value": ["x"]}, "must match"),
    ]:
        page = errors_on(staff.post(url, product_form(name_en="Valve", **overrides)))
        assert message in page

    assert snapshot(Product) == before


def test_the_primary_category_cannot_be_an_extra_one_too(staff):
    valves = make_category("Valves")
    product = make_product("Valve", parent={"id": valves.pk})
    before = snapshot(ProductCategory)

    page = errors_on(
        staff.post(
            f"{PRODUCTS}{product.pk}/change/",
            product_form(
                name_en="Valve",
                primary_category=str(valves.pk),
                extra_categories=[str(valves.pk)],
            ),
        )
    )

    assert "is the primary category already" in page
    assert snapshot(ProductCategory) == before


def test_a_source_pair_of_another_product_is_a_form_error(staff):
    make_product("Other", sources=[{"source": "erp", "sourceId": "P-1"}])
    before = snapshot(Product)

    page = errors_on(staff.post(f"{PRODUCTS}add/", product_form()))

    assert "sourceId [P-1] and source [erp] already exists" in page
    assert snapshot(Product) == before


# Products: actions -----------------------------------------------------------------------------


def act(staff, action: str, products, **fields):
    return staff.post(
        PRODUCTS,
        {"action": action, "_selected_action": [p.pk for p in products], **fields},
        follow=True,
    )


def test_set_status_changes_the_selected_products(staff):
    first, second, untouched = (make_product(f"P{i}") for i in range(3))

    response = act(staff, "set_status", [first, second], status="P")

    assert "2 products set to" in response.content.decode()
    assert dict(Product.objects.values_list("pk", "status")) == {
        first.pk: "P",
        second.pk: "P",
        untouched.pk: "A",
    }
    # The status copies on memberships follow, through the same write as the API.
    assert Product.objects.get(pk=first.pk).last_modified_at > first.last_modified_at


def test_set_status_without_a_status_changes_nothing(staff):
    product = make_product("P")
    before = snapshot(Product)

    response = act(staff, "set_status", [product], status="")

    assert "Choose a status first." in response.content.decode()
    assert snapshot(Product) == before


def test_move_to_category_makes_it_the_primary_one(staff):
    old, new = make_category("Old"), make_category("New")
    moved, stays = (
        make_product("A", parent={"id": old.pk}),
        make_product("B", parent={"id": old.pk}),
    )

    response = act(staff, "move_to_category", [moved], category=str(new.pk))

    assert "1 products moved to New" in response.content.decode()
    assert ProductCategory.objects.get(product=moved, is_primary=True).category_id == new.pk
    assert ProductCategory.objects.get(product=stays, is_primary=True).category_id == old.pk
    assert set(
        ProductAncestor.objects.filter(category_id=new.pk).values_list("product_id", flat=True)
    ) == {moved.pk}


def test_move_to_an_unknown_category_changes_nothing(staff):
    old = make_category("Old")
    product = make_product("A", parent={"id": old.pk})
    before = snapshot(ProductCategory)

    response = act(staff, "move_to_category", [product], category="999999")

    assert "Choose a category first." in response.content.decode()
    assert snapshot(ProductCategory) == before


def test_the_move_action_searches_categories_instead_of_listing_them(staff):
    make_category("Tools")
    valves = make_category("Valves")

    page = staff.get(PRODUCTS).content.decode()
    found = staff.get(
        "/admin/autocomplete/",
        {
            "app_label": "catalogue",
            "model_name": "product",
            "field_name": "categories",
            "term": "valv",
        },
    )

    assert f'<option value="{valves.pk}"' not in page  # the action bar lists no categories
    assert 'data-field-name="categories"' in page
    assert found.status_code == 200
    assert [row["id"] for row in found.json()["results"]] == [str(valves.pk)]


# Categories ------------------------------------------------------------------------------------


def test_category_list_shows_paths_and_maintained_product_counts(staff):
    tools = make_category("Tools")
    valves = make_category("Valves", parent=tools)
    for index in range(3):
        make_product(f"V{index}", parent={"id": valves.pk})

    page = staff.get(CATEGORIES).content.decode()

    assert "Tools \u203a Valves" in page
    assert re.search(r'<td class="field-product_count">3</td>', page)
    assert len(re.findall(r'<td class="field-product_count">3</td>', page)) == 2


def test_the_category_list_runs_a_fixed_number_of_queries(staff):
    root = make_category("Root")

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert staff.get(CATEGORIES).status_code == 200
        return len(queries)

    few = count_queries()
    for index in range(10):
        child = make_category(f"Child {index}", parent=root)
        make_product(f"P{index}", parent={"id": child.pk})

    assert count_queries() == few


def test_category_search_in_every_language(staff):
    wanted = make_category("Valves", names={"NL": "Kranen"})
    make_category("Hoses")

    assert changelist_ids(staff.get(CATEGORIES, {"q": "kranen"})) == [wanted.pk]


@pytest.mark.parametrize("term", ["kraan", "kogelkranen", "kogelkarnen", "ball valve"])
def test_category_search_is_the_api_term_search(staff, term):
    # Words inside compound words, typos and stems, as the API's `term` finds them.
    wanted = make_category("Ball valves", names={"NL": "Kogelkranen"})
    make_category("Hoses", names={"NL": "Slangen"})

    assert changelist_ids(staff.get(CATEGORIES, {"q": term})) == [wanted.pk]


def test_the_parent_picker_shows_paths(staff):
    tools = make_category("Tools")
    make_category("Valves", parent=tools)

    page = staff.get(f"{CATEGORIES}add/").content.decode()

    assert "Tools \u203a Valves</option>" in page


def test_creating_a_category_under_another_with_a_translation(staff):
    tools = make_category("Tools")

    response = staff.post(
        f"{CATEGORIES}add/",
        category_form(
            name_nl="Kranen",
            parent=str(tools.pk),
            sources_source=["erp"],
            sources_source_id=["C-1"],
        ),
    )

    assert response.status_code == 302
    created = Category.objects.get(name_en="Valves")
    assert (created.parent_id, created.slug_en, created.slug_nl) == (tools.pk, "valves", "kranen")


def test_an_invalid_category_slug_is_a_form_error(staff):
    before = snapshot(Category)

    page = errors_on(staff.post(f"{CATEGORIES}add/", category_form(slug_en="Not Valid!")))

    assert "invalid slug" in page
    assert snapshot(Category) == before


def test_deleting_a_product_goes_through_the_service(staff):
    valves = make_category("Valves")
    product = make_product("Valve", parent={"id": valves.pk})

    response = staff.post(f"{PRODUCTS}{product.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Product.objects.exists()
    assert not ProductCategory.objects.exists()
    settle_deferred_triggers()
    assert not ProductAncestor.objects.exists()


def test_a_category_with_children_is_not_deleted(staff):
    tools = make_category("Tools")
    make_category("Valves", parent=tools)
    before = snapshot(Category)

    response = staff.post(f"{CATEGORIES}{tools.pk}/delete/", {"post": "yes"}, follow=True)

    assert response.status_code == 200
    assert "<title>Cannot delete category" in response.content.decode()
    assert snapshot(Category) == before


def test_deleting_an_empty_category_goes_through_the_service(staff):
    tools = make_category("Tools")
    valves = make_category("Valves", parent=tools)

    response = staff.post(f"{CATEGORIES}{valves.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert list(Category.objects.values_list("pk", flat=True)) == [tools.pk]


def move(staff, cut, target, position="last-child"):
    return staff.post(
        CATEGORIES,
        {"cmd": "move_node", "cut_item": cut.pk, "pasted_on": target.pk, "position": position},
    )


def test_dragging_a_category_moves_it_with_its_products(staff):
    tools, garden = make_category("Tools"), make_category("Garden")
    valves = make_category("Valves", parent=tools)
    product = make_product("Valve", parent={"id": valves.pk})

    response = move(staff, valves, garden)

    assert response.content == b"OK, moved."
    assert Category.objects.get(pk=valves.pk).parent_id == garden.pk
    settle_deferred_triggers()
    assert set(
        ProductAncestor.objects.filter(product_id=product.pk).values_list("category_id", flat=True)
    ) == {garden.pk, valves.pk}


def test_dragging_a_category_under_its_own_child_is_refused(staff):
    tools = make_category("Tools")
    valves = make_category("Valves", parent=tools)
    before = snapshot(Category)

    response = move(staff, tools, valves)

    assert response.content == b"FAIL, invalid move."
    assert snapshot(Category) == before


# Clusters --------------------------------------------------------------------------------------


def settings_form(rows: list[tuple], existing: int = 0, **fields) -> dict:
    data = {
        "settings-TOTAL_FORMS": str(len(rows)),
        "settings-INITIAL_FORMS": str(existing),
        "settings-MIN_NUM_FORMS": "0",
        "settings-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for index, row in enumerate(rows):
        pk, name, display, priority = row[:4]
        data.update(
            {
                f"settings-{index}-id": str(pk or ""),
                f"settings-{index}-attribute_name": name,
                f"settings-{index}-display_type": display,
                f"settings-{index}-priority": str(priority),
            }
        )
        if len(row) > 4 and row[4]:
            data[f"settings-{index}-DELETE"] = "on"
    return data


def test_creating_a_config_with_settings(staff):
    response = staff.post(
        f"{CONFIGS}add/",
        settings_form([(None, "COLOR", "color", 0), (None, "SIZE", "dropdown", 1)], name="shirts"),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    config = ClusterConfig.objects.get()
    assert config.name == "shirts"
    assert list(config.settings.values_list("attribute_name", "display_type", "priority")) == [
        ("COLOR", "color", 0),
        ("SIZE", "dropdown", 1),
    ]


@pytest.mark.parametrize(
    "name, rows, message",
    [
        ("a b", [], "letters, digits and underscores"),
        ("shirts", [(None, "color", "color", 0)], "must match"),
        ("shirts", [(None, "SIZE", "color", 0), (None, "SIZE", "radio", 1)], "duplicate data"),
    ],
    ids=["name", "attribute name", "duplicate setting"],
)
def test_a_refused_config_is_a_form_error_and_saves_nothing(staff, name, rows, message):
    page = errors_on(staff.post(f"{CONFIGS}add/", settings_form(rows, name=name)))

    assert message in page
    assert not ClusterConfig.objects.exists()
    assert not ClusterConfigSetting.objects.exists()


def test_editing_config_settings(staff):
    config_id = CLUSTER_CONFIG_WRITES.create(
        changes=RecordChanges(
            fields={"name": "shirts"},
            relations={
                "settings": [
                    SettingChanges("COLOR", "color", 0),
                    SettingChanges("SIZE", "dropdown", 1),
                ]
            },
        )
    )
    color, size = ClusterConfigSetting.objects.order_by("priority")

    response = staff.post(
        f"{CONFIGS}{config_id}/change/",
        settings_form(
            [
                (color.pk, "COLOR", "image", 5),
                (size.pk, "SIZE", "dropdown", 1, True),
                (None, "FIT", "radio", 2),
            ],
            existing=2,
        ),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(
        ClusterConfigSetting.objects.order_by("attribute_name").values_list(
            "attribute_name", "display_type", "priority"
        )
    ) == [("COLOR", "image", 5), ("FIT", "radio", 2)]


def test_a_setting_name_cannot_change(staff):
    config_id = CLUSTER_CONFIG_WRITES.create(
        changes=RecordChanges(
            fields={"name": "shirts"}, relations={"settings": [SettingChanges("COLOR", "color")]}
        )
    )
    setting = ClusterConfigSetting.objects.get()
    before = snapshot(ClusterConfigSetting)

    page = errors_on(
        staff.post(
            f"{CONFIGS}{config_id}/change/",
            settings_form([(setting.pk, "SHADE", "color", 0)], existing=1),
        )
    )

    assert "cannot be changed once created" in page
    assert snapshot(ClusterConfigSetting) == before


@pytest.fixture
def config(db) -> ClusterConfig:
    return ClusterConfig.objects.get(
        pk=CLUSTER_CONFIG_WRITES.create(changes=RecordChanges(fields={"name": "shirts"}))
    )


def cluster_form(config_, **overrides) -> dict:
    data = {
        "language": "EN",
        "name_en": "Shirt",
        "config": str(config_.pk),
        "priority": "0",
        "options-TOTAL_FORMS": "0",
        "options-INITIAL_FORMS": "0",
        "options-MIN_NUM_FORMS": "0",
        "options-MAX_NUM_FORMS": "0",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_creating_a_cluster_with_its_products(staff, config):
    shirts = make_category("Shirts")
    small, large = (
        make_product("S", parent={"id": shirts.pk}),
        make_product("L", parent={"id": shirts.pk}),
    )

    response = staff.post(
        f"{CLUSTERS}add/",
        cluster_form(
            config,
            code="SHIRT-1",
            primary_category=str(shirts.pk),
            products=[str(small.pk), str(large.pk)],
            default_product=str(small.pk),
        ),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    cluster = Cluster.objects.get()
    assert (cluster.code, cluster.config_id, cluster.default_product_id) == (
        "SHIRT-1",
        config.pk,
        small.pk,
    )
    assert set(cluster.products.values_list("pk", flat=True)) == {small.pk, large.pk}
    # Products in a cluster have no primary category of their own.
    assert not ProductCategory.objects.filter(product__in=[small, large], is_primary=True).exists()


def test_removing_a_product_from_a_cluster_moves_it_to_the_primary_category(staff, config):
    shirts = make_category("Shirts")
    small, large = make_product("S"), make_product("L")
    staff.post(
        f"{CLUSTERS}add/",
        cluster_form(
            config, primary_category=str(shirts.pk), products=[str(small.pk), str(large.pk)]
        ),
    )
    cluster = Cluster.objects.get()

    response = staff.post(
        f"{CLUSTERS}{cluster.pk}/change/",
        cluster_form(config, primary_category=str(shirts.pk), products=[str(small.pk)]),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(cluster.products.values_list("pk", flat=True)) == [small.pk]
    assert ProductCategory.objects.get(product=large, is_primary=True).category_id == shirts.pk


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"config": ""}, "This field is required"),
        ({"code": "TAKEN"}, "Cluster with code [TAKEN] already exists"),
        ({"slug_en": "Bad Slug"}, "invalid slug"),
        ({"default_product": "outsider"}, "is not a product of this cluster"),
    ],
    ids=["config", "code", "slug", "default"],
)
def test_a_refused_cluster_is_a_form_error_and_saves_nothing(staff, config, overrides, message):
    CLUSTER_WRITES.create(
        changes=RecordChanges(
            fields={"code": "TAKEN", "config_id": config.pk}, localized={"name": {"EN": "Taken"}}
        )
    )
    outsider = make_product("Outsider")
    overrides = {k: (str(outsider.pk) if v == "outsider" else v) for k, v in overrides.items()}
    before = snapshot(Cluster)

    page = errors_on(staff.post(f"{CLUSTERS}add/", cluster_form(config, **overrides)))

    assert message in page
    assert snapshot(Cluster) == before


def test_creating_and_editing_an_option_with_selectable_products(staff, config):
    cluster = Cluster.objects.get(
        pk=CLUSTER_WRITES.create(
            changes=RecordChanges(
                fields={"config_id": config.pk}, localized={"name": {"EN": "Shirt"}}
            )
        )
    )
    one, two = make_product("Warranty 1y"), make_product("Warranty 2y")
    form = {"language": "EN", "name_en": "Warranty", "sort_order": "0", "cluster": str(cluster.pk)}

    response = staff.post(
        f"{OPTIONS}add/",
        {**form, "products": [str(one.pk), str(two.pk)], "default_product": str(two.pk)},
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    option = ClusterOption.objects.get()
    assert (option.cluster_id, option.default_product_id) == (cluster.pk, two.pk)
    assert set(ClusterOptionProduct.objects.values_list("product_id", flat=True)) == {
        one.pk,
        two.pk,
    }
    # The cluster page lists it.
    assert "Warranty" in staff.get(f"{CLUSTERS}{cluster.pk}/change/").content.decode()

    # A default that is not selectable is refused, and nothing changes.
    before = snapshot(ClusterOptionProduct), snapshot(ClusterOption)
    page = errors_on(
        staff.post(
            f"{OPTIONS}{option.pk}/change/",
            {**form, "products": [str(one.pk)], "default_product": str(two.pk)},
        )
    )
    assert "is not selectable in this option" in page
    assert (snapshot(ClusterOptionProduct), snapshot(ClusterOption)) == before

    response = staff.post(f"{OPTIONS}{option.pk}/change/", {**form, "products": [str(one.pk)]})
    assert response.status_code == 302
    assert list(ClusterOptionProduct.objects.values_list("product_id", flat=True)) == [one.pk]


def test_product_pickers_search_with_the_api_term_search(staff):
    wanted = make_product(names=ls(EN="Ball valve", NL="Kogelkraan"))
    make_product("Hose")

    response = staff.get(
        "/admin/autocomplete/",
        {
            "app_label": "catalogue",
            "model_name": "clusteroption",
            "field_name": "products",
            "term": "kogelkraan",
        },
    )

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(wanted.pk)]


# Server errors ---------------------------------------------------------------------------------


def test_an_admin_failure_is_an_html_page(db, monkeypatch):
    user = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")
    browser = Client(raise_request_exception=False)
    browser.force_login(user)

    def broken(*args, **kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr("catalogue.admin.products.category_paths", broken)

    response = browser.get(PRODUCTS)

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Server error (500)" in page
    assert "secret detail" not in page
    assert response["X-Request-ID"] in page


def test_an_api_failure_outside_the_views_keeps_the_json_envelope(db, monkeypatch):
    from django.test import RequestFactory

    from api.views.service import server_error

    response = server_error(RequestFactory().get("/v2/products"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
