"""renumber_forest: the nested sets (tree_id, lft, rght, level) recomputed from parent links."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalogue.models import Category
from catalogue.services.categories import renumber_forest
from tests.assertions import assert_tree_consistent
from tests.factories import build_category_forest, make_category

pytestmark = pytest.mark.django_db


def numbers() -> dict[int, tuple[int, int, int, int]]:
    return {
        row[0]: row[1:]
        for row in Category.objects.values_list("id", "tree_id", "lft", "rght", "level")
    }


def children(parent_id: int | None) -> list[int]:
    """Children of a parent (roots for None) in nested-set order."""
    if parent_id is None:
        return list(
            Category.objects.filter(parent_id=None).order_by("tree_id").values_list("id", flat=True)
        )
    return list(
        Category.objects.filter(parent_id=parent_id).order_by("lft").values_list("id", flat=True)
    )


def move(node: int, parent: int | None) -> None:
    Category.objects.filter(pk=node).update(parent_id=parent)


@pytest.fixture
def forest():
    """Two trees: three children under each root, two grandchildren under each child."""
    nodes = build_category_forest([2, 3, 2])
    by_parent: dict[int | None, list[int]] = {}
    for node in nodes:
        by_parent.setdefault(node.parent_id, []).append(node.pk)
    return by_parent


def test_a_consistent_forest_is_left_alone(forest):
    before = numbers()

    with CaptureQueriesContext(connection) as queries:
        renumber_forest()

    assert numbers() == before
    assert [query["sql"].split()[0] for query in queries] == ["SELECT"]


def test_a_moved_subtree_becomes_the_last_child_of_its_new_parent(forest):
    first_root, second_root = forest[None]
    moved = forest[first_root][0]
    target = forest[second_root][1]

    move(moved, target)
    renumber_forest([moved])

    assert_tree_consistent()
    assert children(target) == [*forest[target], moved]
    assert children(first_root) == forest[first_root][1:]
    row = Category.objects.get(pk=moved)
    assert (row.level, row.rght - row.lft) == (2, 5)  # itself and its two children
    assert {c.level for c in Category.objects.filter(parent_id=moved)} == {3}


def test_nodes_appended_together_keep_the_given_order(forest):
    first_root, second_root = forest[None]
    a, b = forest[first_root][0], forest[first_root][2]
    target = forest[second_root][0]

    move(a, target)
    move(b, target)
    renumber_forest([b, a])

    assert_tree_consistent()
    assert children(target) == [*forest[target], b, a]


def test_a_node_made_a_root_becomes_the_last_tree(forest):
    first_root, second_root = forest[None]
    moved = forest[second_root][1]

    move(moved, None)
    renumber_forest([moved])

    assert_tree_consistent()
    assert children(None) == [first_root, second_root, moved]
    assert Category.objects.get(pk=moved).tree_id == 3
    assert Category.objects.get(pk=moved).level == 0


def test_siblings_keep_their_order_when_others_move(forest):
    first_root, second_root = forest[None]
    moved = forest[first_root][1]

    move(moved, second_root)
    renumber_forest([moved])

    assert children(first_root) == [forest[first_root][0], forest[first_root][2]]
    assert children(second_root) == [*forest[second_root], moved]
    assert_tree_consistent()


def test_only_rows_whose_numbers_change_are_written(forest):
    second_root = forest[None][1]
    last_child = forest[second_root][-1]
    grandchild = forest[last_child][0]
    before = numbers()

    # The first grandchild of the last child becomes its last: only those two swap places.
    move(grandchild, last_child)
    renumber_forest([grandchild])

    after = numbers()
    changed = {node for node in after if after[node] != before[node]}
    assert changed == set(forest[last_child])
    assert_tree_consistent()


def test_new_categories_are_numbered_in_place():
    root = make_category("Root")
    child = make_category("Child", parent=root)
    grandchild = make_category("Grandchild", parent=child)
    # Rows as a bulk create inserts them, before renumbering: no numbers of their own yet.
    Category.objects.filter(pk__in=[child.pk, grandchild.pk]).update(
        tree_id=0, lft=0, rght=0, level=0
    )

    renumber_forest([child.pk, grandchild.pk])

    assert_tree_consistent()
    assert numbers() == {
        root.pk: (1, 1, 6, 0),
        child.pk: (1, 2, 5, 1),
        grandchild.pk: (1, 3, 4, 2),
    }


def test_a_bulk_move_through_the_api_renumbers_the_forest(forest, api):
    first_root, second_root = forest[None]
    moved = forest[first_root][0]

    response = api.post(
        "/v2/categories/bulk/id", {"categories": [{"id": moved, "parent": {"id": second_root}}]}
    )

    assert response.status_code == 200, response.content
    assert response.json()["data"][0]["action"] == "update"
    assert_tree_consistent()
    assert children(second_root) == [*forest[second_root], moved]
