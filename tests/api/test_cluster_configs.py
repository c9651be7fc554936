"""Cluster configs and their settings: create, read, change, delete, lists and searches."""

import pytest

from catalogue.models import ClusterConfig, ClusterConfigSetting
from tests.assertions import LIST_KEYS, TIMESTAMP, assert_error, cluster_snapshot, listed_ids
from tests.factories import make_cluster, make_cluster_config

URL = "/v2/clusterconfigs"


def setting(attribute: str, display: str = "dropdown", priority: int = 0) -> dict:
    return {"attributeName": attribute, "displayType": display, "priority": priority}


# Create ----------------------------------------------------------------------------------------


def test_create_with_settings_lower_cases_display_types(api):
    body = {
        "name": "Shirts_2",
        "settings": [setting("SIZE", "RADIO", 2), setting("COLOR", "Color", 1)],
    }

    response = api.post(URL, body)

    assert response.status_code == 201, response.content
    payload = response.json()
    assert set(payload) == {"data", "messages", "total"}
    assert (payload["messages"], payload["total"]) == (["Cluster config created"], 1)
    config = ClusterConfig.objects.get()
    size, color = ClusterConfigSetting.objects.order_by("attribute_name").reverse()
    data = payload["data"]
    assert data == {
        "id": config.pk,
        "name": "Shirts_2",
        "settings": [
            {
                "id": color.pk,
                "clusterConfigId": config.pk,
                "attributeName": "COLOR",
                "displayType": "color",
                "priority": 1,
            },
            {
                "id": size.pk,
                "clusterConfigId": config.pk,
                "attributeName": "SIZE",
                "displayType": "radio",
                "priority": 2,
            },
        ],
        "createdAt": data["createdAt"],
        "lastModifiedAt": data["createdAt"],
    }
    assert TIMESTAMP.match(data["createdAt"])
    assert response["ETag"]


def test_create_without_settings_has_none(api):
    response = api.post(URL, {"name": "Plain"})

    assert response.status_code == 201, response.content
    assert response.json()["data"]["settings"] == []


@pytest.mark.parametrize(
    ("body", "status", "code", "type_name"),
    [
        ({}, 400, 10007, "SchemaValidationException"),
        ({"name": "x"}, 400, 10007, "SchemaValidationException"),
        ({"name": "has space"}, 400, 10007, "SchemaValidationException"),
        ({"name": "a" * 36}, 400, 10007, "SchemaValidationException"),
        ({"name": "Ok", "settings": [setting("lower")]}, 400, 10007, "SchemaValidationException"),
        (
            {"name": "Ok", "settings": [setting("SIZE", "slider")]},
            400,
            10007,
            "SchemaValidationException",
        ),
        (
            {"name": "Ok", "settings": [setting("SIZE"), setting("SIZE", "radio")]},
            409,
            21006,
            "ClusterConfigSettingExists",
        ),
        ({"name": "Taken"}, 409, 21004, "ClusterConfigExists"),
    ],
    ids=[
        "no-name",
        "short-name",
        "space",
        "long-name",
        "attribute-pattern",
        "display-type",
        "duplicate-setting",
        "taken",
    ],
)
def test_create_rejections_change_nothing(api, body, status, code, type_name):
    make_cluster_config("Taken")
    before = cluster_snapshot()

    response = api.post(URL, body)

    assert_error(response, status, code, type_name)
    assert cluster_snapshot() == before


# Read ------------------------------------------------------------------------------------------


@pytest.fixture
def shirts(db):
    return make_cluster_config("Shirts", [("SIZE", "radio", 1), ("COLOR", "color", 2)])


def test_get_by_id_and_by_name(api, shirts):
    by_id = api.get(f"{URL}/id/{shirts.pk}")
    by_name = api.get(f"{URL}/name/Shirts/")

    assert by_id.status_code == by_name.status_code == 200
    assert by_id.json() == by_name.json()
    assert by_id.json()["messages"] == ["Cluster config found"]
    assert [s["attributeName"] for s in by_id.json()["data"]["settings"]] == ["SIZE", "COLOR"]
    assert by_id["ETag"] == by_name["ETag"]


@pytest.mark.parametrize(
    ("path", "status", "code", "type_name", "message"),
    [
        (
            "/id/999999",
            404,
            21005,
            "ClusterConfigNotFound",
            "ClusterConfig with id [999999] not found",
        ),
        ("/id/abc", 404, 21005, "ClusterConfigNotFound", None),
        (
            "/name/Nope",
            404,
            21005,
            "ClusterConfigNotFound",
            "ClusterConfig with name [Nope] not found",
        ),
        ("/code/Shirts", 400, 10006, "InvalidLookupKey", None),
    ],
)
def test_get_unknown(api, shirts, path, status, code, type_name, message):
    response = api.get(URL + path)

    assert_error(response, status, code, type_name, [message] if message else None)


def test_if_none_match_gives_304(api, shirts):
    tag = api.get(f"{URL}/id/{shirts.pk}")["ETag"]

    response = api.get(f"{URL}/id/{shirts.pk}", headers={"If-None-Match": tag})

    assert response.status_code == 304
    assert response.content == b""


# Lists and searches ----------------------------------------------------------------------------


@pytest.fixture
def three(db):
    return [make_cluster_config(name) for name in ("Beta", "Alpha", "Gamma")]


def test_list_envelope_and_sort(api, three):
    response = api.get(URL, params={"sort": "name"})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == LIST_KEYS
    assert [row["name"] for row in body["data"]] == ["Alpha", "Beta", "Gamma"]
    assert (body["itemsFound"], body["total"], body["page"], body["start"], body["end"]) == (
        3,
        3,
        1,
        1,
        3,
    )


def test_list_filters_by_names_and_ids(api, three):
    assert listed_ids(api.get(URL, params={"names": "Alpha,Gamma"})) == [
        three[1].pk,
        three[2].pk,
    ]
    assert listed_ids(api.get(URL, params={"ids": three[0].pk})) == [three[0].pk]


def test_search_takes_the_same_filters_in_a_body(api, three):
    body = {"filters": {"names": ["Beta", "Gamma"]}, "sort": [{"field": "id", "order": "DESC"}]}

    response = api.post(f"{URL}/search", body)

    assert listed_ids(response) == [three[2].pk, three[0].pk]


def test_unknown_filter_and_sort_are_rejected(api, three):
    assert_error(api.get(URL, params={"colour": "x"}), 400, 10007, "SchemaValidationException")
    assert_error(api.get(URL, params={"sort": "code"}), 400, 10007, "SchemaValidationException")


# Update ----------------------------------------------------------------------------------------


def test_patch_with_the_same_name_is_accepted(api, shirts):
    response = api.patch(f"{URL}/name/Shirts", {"name": "Shirts"})

    assert response.status_code == 200, response.content
    assert response.json()["messages"] == ["Cluster config updated"]


def test_renaming_is_refused(api, shirts):
    before = cluster_snapshot()

    response = api.patch(f"{URL}/id/{shirts.pk}", {"name": "Blouses"})

    assert_error(response, 400, 10017, "PayloadValidationError")
    assert cluster_snapshot() == before


def test_settings_cannot_be_replaced_through_the_config(api, shirts):
    before = cluster_snapshot()

    response = api.patch(f"{URL}/id/{shirts.pk}", {"settings": [setting("FIT")]})

    assert_error(response, 400, 10017, "PayloadValidationError")
    assert cluster_snapshot() == before


def test_if_match_mismatch_is_412(api, shirts):
    before = cluster_snapshot()

    response = api.delete(f"{URL}/id/{shirts.pk}", headers={"If-Match": '"1-1"'})

    assert_error(response, 412, 10012, "PreconditionFailed")
    assert cluster_snapshot() == before


# Settings --------------------------------------------------------------------------------------


def test_add_setting(api, shirts):
    old_tag = api.get(f"{URL}/id/{shirts.pk}")["ETag"]

    response = api.post(f"{URL}/id/{shirts.pk}/settings", setting("FIT", "IMAGE", 0))

    assert response.status_code == 201, response.content
    created = ClusterConfigSetting.objects.get(attribute_name="FIT")
    assert response.json() == {
        "data": {
            "id": created.pk,
            "clusterConfigId": shirts.pk,
            "attributeName": "FIT",
            "displayType": "image",
            "priority": 0,
        },
        "messages": ["Cluster config setting created"],
        "total": 1,
    }
    config = api.get(f"{URL}/id/{shirts.pk}")
    assert [s["attributeName"] for s in config.json()["data"]["settings"]] == [
        "FIT",
        "SIZE",
        "COLOR",
    ]
    assert config["ETag"] != old_tag


@pytest.mark.parametrize(
    ("body", "status", "code", "type_name"),
    [
        (setting("SIZE"), 409, 21006, "ClusterConfigSettingExists"),
        (setting("size"), 400, 10007, "SchemaValidationException"),
        (setting("FIT", "wheel"), 400, 10007, "SchemaValidationException"),
        ({"displayType": "radio"}, 400, 10007, "SchemaValidationException"),
        ({**setting("FIT"), "colour": 1}, 400, 10007, "SchemaValidationException"),
    ],
    ids=["taken", "pattern", "display-type", "no-attribute", "unknown-field"],
)
def test_add_setting_rejections(api, shirts, body, status, code, type_name):
    before = cluster_snapshot()

    response = api.post(f"{URL}/id/{shirts.pk}/settings", body)

    assert_error(response, status, code, type_name)
    assert cluster_snapshot() == before


def test_patch_setting_changes_display_type_and_priority(api, shirts):
    size = shirts.settings.get(attribute_name="SIZE")

    response = api.patch(
        f"{URL}/name/Shirts/settings/{size.pk}", {"displayType": "DropDown", "priority": 9}
    )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "data": {
            "id": size.pk,
            "clusterConfigId": shirts.pk,
            "attributeName": "SIZE",
            "displayType": "dropdown",
            "priority": 9,
        },
        "messages": ["Cluster config setting updated"],
        "total": 1,
    }
    order = api.get(f"{URL}/id/{shirts.pk}").json()["data"]["settings"]
    assert [s["attributeName"] for s in order] == ["COLOR", "SIZE"]


@pytest.mark.parametrize(
    ("body", "status", "code", "type_name"),
    [
        ({"attributeName": "FIT"}, 400, 10017, "PayloadValidationError"),
        ({"displayType": "wheel"}, 400, 10007, "SchemaValidationException"),
        ({"priority": "high"}, 400, 10007, "SchemaValidationException"),
    ],
)
def test_patch_setting_rejections(api, shirts, body, status, code, type_name):
    size = shirts.settings.get(attribute_name="SIZE")
    before = cluster_snapshot()

    response = api.patch(f"{URL}/id/{shirts.pk}/settings/{size.pk}", body)

    assert_error(response, status, code, type_name)
    assert cluster_snapshot() == before


def test_setting_of_another_config_is_not_found(api, shirts):
    other = make_cluster_config("Other", [("SIZE", "radio")])
    foreign = other.settings.get()
    before = cluster_snapshot()

    for response in (
        api.patch(f"{URL}/id/{shirts.pk}/settings/{foreign.pk}", {"priority": 3}),
        api.delete(f"{URL}/id/{shirts.pk}/settings/{foreign.pk}"),
        api.delete(f"{URL}/id/{shirts.pk}/settings/abc"),
    ):
        assert_error(response, 404, 21007, "ClusterConfigSettingNotFound")
    assert cluster_snapshot() == before


def test_delete_setting(api, shirts):
    size = shirts.settings.get(attribute_name="SIZE")

    response = api.delete(f"{URL}/id/{shirts.pk}/settings/{size.pk}")

    assert response.status_code == 200
    assert response.json() == {"data": {}, "messages": ["Cluster config setting deleted"]}
    assert list(shirts.settings.values_list("attribute_name", flat=True)) == ["COLOR"]


# Delete ----------------------------------------------------------------------------------------


def test_delete_unused_config_removes_its_settings(api, shirts):
    response = api.delete(f"{URL}/name/Shirts")

    assert response.status_code == 200
    assert response.json() == {"data": {}, "messages": ["Cluster config deleted"]}
    assert not ClusterConfig.objects.exists()
    assert not ClusterConfigSetting.objects.exists()


def test_delete_config_in_use_is_409(api, shirts):
    make_cluster("Shirt", config=shirts)
    before = cluster_snapshot()

    response = api.delete(f"{URL}/id/{shirts.pk}")

    assert_error(
        response,
        409,
        21008,
        "ClusterConfigInUse",
        [f"ClusterConfig with id [{shirts.pk}] is used by clusters"],
    )
    assert cluster_snapshot() == before


def test_options_request_is_answered(api, shirts):
    assert api.request("OPTIONS", URL).status_code == 200
    assert api.request("OPTIONS", f"{URL}/id/{shirts.pk}").status_code == 200
