"""Query counts stay constant whatever the page or tree size."""

import pytest

from catalogue.models import Category
from tests.assertions import assert_tree_consistent, expected_placement
from tests.factories import ForestNode, build_category_forest

# Every request pays one statement that checks the bearer token and counts the request
# against the rate limit.
PER_REQUEST = 1
# A list: count, page ids, rows, sources, ancestor paths, product counts; each expand that
# fetches related records adds one batch of rows, sources, paths and counts.
LIST = PER_REQUEST + 6
RELATED_BATCH = 4
LIST_QUERIES = {
    None: LIST,
    "parent": LIST + RELATED_BATCH,
    "children": LIST + RELATED_BATCH,
    "path": LIST + RELATED_BATCH,
    "parent,path": LIST + RELATED_BATCH,  # one batch serves both
    "parent,children,path": LIST + 2 * RELATED_BATCH,
}
# A single record: the lookup, then its sources, path and product count.
SINGLE_WITH_EXPANDS = PER_REQUEST + 4 + 2 * RELATED_BATCH
# Children: parent lookup, count, rows, sources, paths, product counts.
CHILDREN = PER_REQUEST + 6
# Tree: one query for the nodes (plus one for the root's bounds with rootId).
TREE = PER_REQUEST + 1


@pytest.fixture
def forest(db) -> list[ForestNode]:
    """5 roots, 4 children each, 5 grandchildren each: 125 categories."""
    return build_category_forest([5, 4, 5])


def count_nodes(nodes: list[dict]) -> int:
    return sum(1 + count_nodes(node["children"]) for node in nodes)


@pytest.mark.parametrize("expands", list(LIST_QUERIES), ids=str)
def test_list_runs_a_constant_number_of_queries(
    api, forest, django_assert_max_num_queries, expands
):
    counts = []
    for offset in (12, 100):
        params = {"offset": offset, **({"expands": expands} if expands else {})}
        with django_assert_max_num_queries(LIST_QUERIES[expands]) as captured:
            response = api.get("/v2/categories", params=params)
        assert response.status_code == 200
        assert len(response.json()["data"]) == offset
        counts.append(len(captured))

    assert counts[0] == counts[1]


@pytest.mark.parametrize("expands", list(LIST_QUERIES), ids=str)
def test_search_runs_a_constant_number_of_queries(
    api, forest, django_assert_max_num_queries, expands
):
    counts = []
    for offset in (12, 100):
        body = {"offset": offset, "expands": expands.split(",") if expands else []}
        with django_assert_max_num_queries(LIST_QUERIES[expands]) as captured:
            response = api.post("/v2/categories/search", body)
        assert response.status_code == 200
        assert len(response.json()["data"]) == offset
        counts.append(len(captured))

    assert counts[0] == counts[1]


def test_list_with_expands_is_correct_at_size(api, forest):
    response = api.get("/v2/categories", params={"offset": 125, "expands": "parent,children,path"})

    rows = response.json()["data"]
    placement = expected_placement()
    children_of: dict[int, list[int]] = {}
    for category in forest:
        if category.parent_id:
            children_of.setdefault(category.parent_id, []).append(category.pk)
    for row in rows:
        level, path = placement[row["id"]]
        assert row["level"] == level
        assert [ancestor["id"] for ancestor in row["path"]] == path
        assert (row["parent"] or {}).get("id") == (path[-1] if path else None)
        assert sorted(child["id"] for child in row["children"]) == children_of.get(row["id"], [])
        assert row["childCount"] == len(children_of.get(row["id"], []))


@pytest.mark.parametrize("which", ["root", "middle", "leaf"])
def test_single_record_with_expands_runs_a_bounded_number_of_queries(
    api, forest, django_assert_max_num_queries, which
):
    category = {"root": forest[0], "middle": forest[1], "leaf": forest[-1]}[which]

    with django_assert_max_num_queries(SINGLE_WITH_EXPANDS):
        response = api.get(
            f"/v2/categories/id/{category.pk}", params={"expands": "parent,children,path"}
        )

    assert response.status_code == 200


def test_children_run_a_constant_number_of_queries(api, db, django_assert_max_num_queries):
    (root, *_children) = build_category_forest([1, 120])
    counts = []
    for offset in (12, 100):
        with django_assert_max_num_queries(CHILDREN) as captured:
            response = api.get(f"/v2/categories/id/{root.pk}/children", params={"offset": offset})
        assert response.status_code == 200
        assert len(response.json()["data"]) == offset
        counts.append(len(captured))

    assert counts[0] == counts[1]


@pytest.mark.parametrize(
    ("params", "queries"),
    [
        ({}, TREE),
        ({"depth": 1}, TREE),
        ({"rootId": None}, TREE + 1),
        ({"rootId": None, "depth": 1}, TREE + 1),
    ],
)
def test_tree_runs_a_constant_number_of_queries(
    api, db, django_assert_max_num_queries, params, queries
):
    counts = []
    # A small forest, then one of 500 more categories next to it.
    for shape in ([2, 2], [5, 4, 5, 4]):
        nodes = build_category_forest(shape)
        query = {**params, "rootId": nodes[0].pk} if "rootId" in params else params
        with django_assert_max_num_queries(queries) as captured:
            response = api.get("/v2/categories/tree", params=query)
        assert response.status_code == 200
        counts.append(len(captured))

    assert counts[0] == counts[1]


# Ten thousand categories -----------------------------------------------------------------------


@pytest.fixture
def big_forest(db) -> list[ForestNode]:
    """10 roots, 9 children each, 10 grandchildren each, 10 great-grandchildren each: 10,000."""
    nodes = build_category_forest([10, 9, 10, 10])
    assert len(nodes) == 10_000
    return nodes


def assert_nested_like_the_parents(nodes: list[dict], parent_id=None, level=0) -> None:
    for node in nodes:
        assert node["parentId"] == parent_id
        assert node["level"] == level
        assert_nested_like_the_parents(node["children"], node["id"], level + 1)


def test_tree_of_ten_thousand_in_constant_queries(api, big_forest, django_assert_max_num_queries):
    with django_assert_max_num_queries(TREE):
        response = api.get("/v2/categories/tree")

    assert response.status_code == 200
    data = response.json()["data"]
    assert len(data) == 10
    assert count_nodes(data) == 10_000
    assert_nested_like_the_parents(data)

    with django_assert_max_num_queries(TREE + 1):
        subtree = api.get("/v2/categories/tree", params={"rootId": big_forest[1].pk, "depth": 1})
    assert [len(node["children"]) for node in subtree.json()["data"]] == [10]
    assert count_nodes(subtree.json()["data"]) == 11


def subtree_ids(nodes: list[ForestNode], root: ForestNode) -> list[int]:
    """Ids of `root` and its descendants, from the pre-order list the builder returned."""
    start = nodes.index(root)
    ids = [root.pk]
    for node in nodes[start + 1 :]:
        if node.level <= root.level:
            break
        ids.append(node.pk)
    return ids


def assert_api_placement(api, ids: list[int]) -> None:
    """The API's level and path of `ids` equal the values recomputed from parent links."""
    expected = expected_placement()
    response = api.get("/v2/categories", params={"ids": ",".join(map(str, ids)), "offset": 1000})
    rows = response.json()["data"]
    assert sorted(row["id"] for row in rows) == sorted(ids)
    for row in rows:
        level, path = expected[row["id"]]
        assert (row["level"], row["path"]) == (level, path), row["id"]


def test_moving_a_subtree_in_ten_thousand_keeps_level_and_path_right(api, big_forest):
    # given: a level-1 node with 110 descendants, and a leaf (level 3) in another tree
    moved = next(node for node in big_forest if node.level == 1)
    moved_ids = subtree_ids(big_forest, moved)
    assert len(moved_ids) == 111
    target = next(node for node in reversed(big_forest) if node.level == 3)
    assert target.tree_id != moved.tree_id

    # when
    response = api.patch(f"/v2/categories/id/{moved.pk}", {"parent": {"id": target.pk}})

    # then
    assert response.status_code == 200
    data = response.json()["data"]
    target_path = expected_placement()[target.pk][1]
    assert (data["level"], data["path"]) == (4, [*target_path, target.pk])
    assert_api_placement(api, moved_ids)
    deepest = Category.objects.filter(pk__in=moved_ids).order_by("-level").first()
    assert deepest.level == 6
    assert_tree_consistent()

    # and back out to a root, then under a node of its old tree
    assert api.patch(f"/v2/categories/id/{moved.pk}", {"parent": None}).status_code == 200
    assert_api_placement(api, moved_ids)
    old_sibling = next(node for node in big_forest if node.level == 1 and node.pk != moved.pk)
    response = api.patch(f"/v2/categories/id/{moved.pk}", {"parent": {"id": old_sibling.pk}})
    assert response.status_code == 200
    assert response.json()["data"]["path"] == [old_sibling.parent_id, old_sibling.pk]
    assert_api_placement(api, moved_ids)
    assert_tree_consistent()
    assert Category.objects.count() == 10_000
