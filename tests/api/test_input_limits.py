"""Input refused before PostgreSQL sees it: unstorable text, duplicate keys, bounds and caps."""

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from api.inputs import find_bad_text
from api.middleware import TerminatedInputMiddleware
from catalogue.models import Category, Product, ProductSource
from tests.assertions import assert_error, category_snapshot, table_counts
from tests.factories import ls, make_category, make_product

NUL = "\u0000"
SURROGATE = "\ud800"


@pytest.fixture
def category(db) -> Category:
    return make_category("Drills", names={"DE": "Bohrer"}, sources=[("erp", "C-1")])


def schema_error(response, message: str) -> None:
    assert_error(response, 400, 10007, "SchemaValidationException", [message])


def raw_json(value) -> str:
    """JSON text as a client would send it; ensure_ascii escapes NUL and lone surrogates."""
    return json.dumps(value, ensure_ascii=True)


# Strings in bodies -------------------------------------------------------------------------------


BAD_BODIES = [
    (
        {"names": [{"language": "EN", "value": f"Saw{NUL}"}]},
        "names[0].value: must not contain NUL",
    ),
    (
        {"names": [{"language": "EN", "value": f"Saw{SURROGATE}"}]},
        "names[0].value: must not contain a lone surrogate",
    ),
    (
        {"names": [{"language": "EN", "value": "Saw"}], "sources": [{"source": f"e{NUL}rp"}]},
        "sources[0].source: must not contain NUL",
    ),
    (
        {"names": [{"language": "EN", "value": "Saw", f"va{NUL}lue": "x"}]},
        "names[0].va\\u0000lue: key must not contain NUL",
    ),
    ({f"{SURROGATE}": 1}, "\\ud800: key must not contain a lone surrogate"),
    ({"a": {"b": [[{"c": ["ok", f"x{NUL}"]}]]}}, "a.b[0][0].c[1]: must not contain NUL"),
]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v2/categories"), ("PATCH", "/v2/categories/id/{id}")],
)
def test_unstorable_text_in_a_body_is_400_naming_the_field(
    api, category, method, path, body, message
):
    before = category_snapshot()

    response = api.request(method, path.format(id=category.pk), raw_json(body))

    schema_error(response, message)
    assert category_snapshot() == before


def test_unstorable_text_in_a_search_body_is_400(api, category):
    response = api.post("/v2/categories/search", raw_json({"filters": {"term": f"a{NUL}"}}))

    schema_error(response, "filters.term: must not contain NUL")


def test_a_valid_surrogate_pair_is_stored(api):
    response = api.post("/v2/categories", raw_json({"names": ls(EN="Saw \U0001f600")}))

    assert response.status_code == 201, response.content
    assert Category.objects.get().name_en == "Saw \U0001f600"


def test_escaped_backslash_before_u0000_is_plain_text(api):
    # The JSON text holds \\u0000: a backslash and "u0000", no NUL.
    response = api.post("/v2/categories", '{"names": [{"language": "EN", "value": "a\\\\u0000"}]}')

    assert response.status_code == 201, response.content
    assert Category.objects.get().name_en == "a\\u0000"


def test_unstorable_text_in_a_bulk_item_fails_that_item_alone(api, db):
    body = {
        "products": [
            {"source": "erp", "sourceId": "P-1", "names": ls(EN="Valve")},
            {"source": "erp", "sourceId": "P-2", "names": ls(EN=f"Valve{NUL}")},
        ]
    }

    response = api.post("/v2/products/bulk/sourceId", raw_json(body))

    assert response.status_code == 200
    first, second = response.json()["data"]
    assert first["action"] == "create" and first["success"] is True
    assert second["action"] == "error" and second["key"] == "P-2"
    assert second["errors"] == [
        {
            "code": 10007,
            "type": "SchemaValidationException",
            "messages": ["names[0].value: must not contain NUL"],
        }
    ]
    assert list(ProductSource.objects.values_list("source_id", flat=True)) == ["P-1"]


@pytest.mark.parametrize("text", [NUL, SURROGATE])
def test_unstorable_text_in_an_ndjson_line_fails_that_item_alone(api, db, text):
    lines = [
        raw_json({"source": "erp", "sourceId": "P-1", "names": ls(EN="Valve")}),
        raw_json({"source": "erp", "sourceId": "P-2", "names": ls(EN=f"Valve{text}")}),
    ]

    response = api.post(
        "/v2/products/bulk/sourceId", "\n".join(lines), content_type="application/x-ndjson"
    )

    assert response.status_code == 200
    first, second = response.json()["data"]
    assert first["action"] == "create"
    assert second["action"] == "error"
    assert second["errors"][0]["code"] == 10007
    assert second["errors"][0]["messages"][0].startswith("names[0].value: must not contain")
    assert list(ProductSource.objects.values_list("source_id", flat=True)) == ["P-1"]


def test_unstorable_text_outside_the_items_of_a_bulk_body_fails_the_request(api, db):
    before = table_counts()
    body = {
        "products": [{"source": "erp", "sourceId": "P-1", "names": ls(EN="Valve")}],
        "directives": {"skipIfNotEmpty": [f"names{NUL}"]},
    }

    response = api.post("/v2/products/bulk/sourceId", raw_json(body))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == 10007
    assert table_counts() == before


# The hook a bulk engine calls per item -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "prefix", "expected"),
    [
        ({"names": [{"language": "EN", "value": "ok"}]}, "", None),
        ("plain", "", None),
        (["é", "\U0001f600", 1, 2.5, None, True], "", None),
        (f"a{NUL}", "", "body: must not contain NUL"),
        (f"a{NUL}", "sku", "sku: must not contain NUL"),
        ({"names": [{"value": f"x{NUL}"}]}, "products[3]", "products[3].names[0].value: must not contain NUL"),
        ({"attributes": [{"name": "A", "value": SURROGATE}]}, "", "attributes[0].value: must not contain a lone surrogate"),
        ({f"k{NUL}": "v"}, "", "k\\u0000: key must not contain NUL"),
        ([[["deep", [f"{NUL}"]]]], "items", "items[0][0][1][0]: must not contain NUL"),
    ],
)  # fmt: skip
def test_find_bad_text_names_the_path_of_the_first_unstorable_string(value, prefix, expected):
    assert find_bad_text(value, prefix) == expected


def test_find_bad_text_handles_deep_nesting_without_recursion():
    value: object = f"x{NUL}"
    for _ in range(5000):
        value = [value]

    assert find_bad_text(value) == "[0]" * 5000 + ": must not contain NUL"


# JSON strictness ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ('{"names": [], "names": []}', "names: duplicate key"),
        (
            '{"names": [{"language": "EN", "value": "a", "value": "b"}]}',
            "names[0].value: duplicate key",
        ),
        ('{"hidden": NaN}', "NaN is not a JSON number"),
        ('{"priority": Infinity}', "Infinity is not a JSON number"),
        ('{"priority": 1e999}', "number 1e999 is out of range"),
        ('{"names": "\\u00"}', None),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_json_this_api_does_not_accept_is_400(api, category, body, detail):
    before = category_snapshot()

    response = api.post("/v2/categories", body)

    error = assert_error(response, 400, 10005, "InvalidJSONPayload")
    if detail is not None:
        assert error["messages"] == [f"Request body is not valid JSON: {detail}"]
    assert category_snapshot() == before


def test_a_body_that_is_not_utf8_is_400(api, category):
    response = api.post("/v2/categories", b'{"names": [{"language": "EN", "value": "\xff"}]}')

    assert_error(
        response,
        400,
        10005,
        "InvalidJSONPayload",
        ["Request body is not valid JSON: not UTF-8 (byte 40)"],
    )


def test_an_integer_beyond_64_bits_is_refused_by_the_field(api, db):
    response = api.post("/v2/categories", '{"names": [], "priority": 123456789012345678901234}')

    error = assert_error(response, 400, 10007, "SchemaValidationException")
    assert error["messages"][0].startswith("priority: ")
    assert not Category.objects.exists()


def test_duplicate_key_in_an_ndjson_line_is_400(api, db):
    response = api.post(
        "/v2/products/bulk/sourceId",
        '{"sourceId": "a"}\n{"sourceId": "a", "sourceId": "b"}',
        content_type="application/x-ndjson",
    )

    assert_error(
        response,
        400,
        10005,
        "InvalidJSONPayload",
        ["Request body is not valid JSON: line 2: sourceId: duplicate key"],
    )
    assert not Product.objects.exists()


# Paths and query strings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("term=a%00b", "term: must not contain NUL"),
        ("skus=A,B%00", "skus: must not contain NUL"),
        ("language=E%00N", "language: must not contain NUL"),
        ("sort=id%00", "sort: must not contain NUL"),
        ("te%00rm=a", "te\\u0000rm: parameter name must not contain NUL"),
    ],
)
def test_unstorable_text_in_a_query_parameter_is_400_naming_it(api, db, query, message):
    schema_error(api.get(f"/v2/products?{query}"), message)


@pytest.mark.parametrize(
    "path",
    ["/v2/products/sku/a%00b", "/v2/products/sourceId/P%00?source=erp", "/v2/categories/id/1%00"],
)
def test_unstorable_text_in_a_path_is_400(api, db, path):
    schema_error(api.get(path), "path: must not contain NUL")


def test_unstorable_text_in_a_path_is_refused_before_the_write(api, category):
    before = category_snapshot()

    response = api.patch("/v2/categories/sourceId/C-1%00?source=erp", {"hidden": "Y"})

    schema_error(response, "path: must not contain NUL")
    assert category_snapshot() == before


@pytest.mark.parametrize("value", ["\uff11", "\u00b2", "\u0661", "1\u00b2"])
@pytest.mark.parametrize("resource", ["products", "categories"])
def test_an_id_of_non_ascii_digits_is_404(api, category, resource, value):
    make_product("Valve")
    entity = "Product" if resource == "products" else "Category"

    response = api.get(f"/v2/{resource}/id/{value}")

    assert_error(
        response,
        404,
        80006 if resource == "products" else 30006,
        f"{entity}NotFound",
        [f"{entity} with id [{value}] not found"],
    )


# Paging ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"page": "\uff11"}, "page must be a positive integer"),
        ({"page": "\u00b2"}, "page must be a positive integer"),
        ({"offset": "\u0661\u0662"}, "offset must be a positive integer"),
        ({"page": "1000000001"}, "page must not exceed 1000000000"),
        ({"page": "9" * 5000}, "page must not exceed 1000000000"),
        ({"page": "0" * 30 + "2"}, None),
        ({"page": "1000000000"}, None),
    ],
)
def test_page_and_offset_are_ascii_digits_within_bounds(api, db, params, message):
    response = api.get("/v2/products", params=params)

    if message is None:
        assert response.status_code == 200, response.content
        assert response.json()["data"] == []
    else:
        assert_error(response, 400, 10015, "PaginatedResponseException", [message])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"page": 10**12}, "page must not exceed 1000000000"),
        ({"page": 1e30}, "page must be a positive integer"),
        ({"page": "\uff12"}, "page must be a positive integer"),
        ({"offset": 10**30}, "offset must be a positive integer"),
    ],
)
def test_page_in_a_search_body_is_bounded(api, db, body, message):
    response = api.post("/v2/products/search", body)

    assert_error(response, 400, 10015, "PaginatedResponseException", [message])


# Dates -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9999-12-31T23:59:59Z", "must be from 0001-01-01T00:00:00.000Z to 9999-12-30T23:59:59.999Z"),
        ("9999-12-31T00:00:00Z", "must be from 0001-01-01T00:00:00.000Z to 9999-12-30T23:59:59.999Z"),
        ("0001-01-01T00:00:00+01:00", "must be from 0001-01-01T00:00:00.000Z to 9999-12-30T23:59:59.999Z"),
        ("2026-01-01T00:00:00+24:00", "Enter a valid date/time."),
        ("2026-13-01T00:00:00Z", "Enter a valid date/time."),
    ],
)  # fmt: skip
@pytest.mark.parametrize("name", ["createdAtFrom", "createdAtTo", "lastModifiedAtFrom"])
@pytest.mark.parametrize("resource", ["products", "categories"])
def test_a_date_python_or_postgresql_cannot_hold_is_400(api, db, resource, name, value, message):
    response = api.get(f"/v2/{resource}", params={name: value})

    schema_error(response, f"{name}: {message}")


def test_a_date_in_a_search_body_is_checked_too(api, db):
    body = {
        "filters": {
            "lastModifiedAt": {"from": "2026-01-01T00:00:00Z", "to": "9999-12-31T23:59:59Z"}
        }
    }

    response = api.post("/v2/products/search", body)

    schema_error(
        response,
        "filters.lastModifiedAt.to: must be from 0001-01-01T00:00:00.000Z to 9999-12-30T23:59:59.999Z",
    )


def test_a_date_bound_that_is_not_a_string_is_400(api, db):
    response = api.post("/v2/products/search", {"filters": {"createdAt": {"from": ["2026"]}}})

    schema_error(response, "filters.createdAt.from: must be a timestamp string")


@pytest.mark.parametrize("offset_hours", [16, 20, 23, -16, -23])
@pytest.mark.parametrize("resource", ["products", "categories"])
def test_an_offset_postgresql_refuses_is_converted_to_utc(api, db, resource, offset_hours):
    # PostgreSQL accepts offsets up to 15:59; the filter compares in UTC whatever the offset.
    record = make_product("Valve") if resource == "products" else make_category("Saws")
    created = record.created_at.astimezone(UTC)
    zone = f"{'+' if offset_hours >= 0 else '-'}{abs(offset_hours):02d}:00"

    def at(moment: datetime) -> str:
        local = moment + timedelta(hours=offset_hours)
        return local.replace(tzinfo=None).isoformat(timespec="milliseconds") + zone

    before = api.get(
        f"/v2/{resource}", params={"createdAtFrom": at(created - timedelta(seconds=1))}
    )
    after = api.get(f"/v2/{resource}", params={"createdAtFrom": at(created + timedelta(seconds=1))})

    assert before.status_code == 200, before.content
    assert [row["id"] for row in before.json()["data"]] == [record.pk]
    assert after.json()["itemsFound"] == 0


# Search parameters: shapes and caps --------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["x", "[1]", "{}", '[{"source": "erp"}]', '[{"source": 1, "sourceIds": []}]']
)
def test_a_sources_query_parameter_that_is_not_the_json_array_is_400(api, db, value):
    response = api.get("/v2/products", params={"sources": value})

    schema_error(
        response,
        'sources: must be a JSON array [{"source": …, "sourceIds": […]}] (or use source and sourceIds)',
    )


def test_a_sources_query_parameter_in_the_body_shape_filters(api, db):
    match = make_product("Valve", source="erp", sourceId="P-1")
    make_product("Pump", source="erp", sourceId="P-2")

    response = api.get(
        "/v2/products", params={"sources": json.dumps([{"source": "erp", "sourceIds": ["P-1"]}])}
    )

    assert response.status_code == 200, response.content
    assert [row["id"] for row in response.json()["data"]] == [match.pk]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"language": 5}, "language: must be a string"),
        ({"language": ["EN"]}, "language: must be a string"),
        ({"filters": {"language": {"EN": 1}}}, "filters.language: must be a string"),
        ({"expands": [1]}, "expands: must be a list of strings"),
        ({"filters": {"term": ["valve"]}}, "filters.term: must be a single value"),
        ({"filters": {"term": {"q": "valve"}}}, "filters.term: must be a single value"),
        ({"filters": {"hidden": ["Y"]}}, "filters.hidden: must be a single value"),
        ({"filters": {"level": [1]}}, "filters.level: must be a single value"),
        ({"filters": {"skus": [["A"]]}}, "filters.skus: must be a list of strings or numbers"),
        ({"filters": {"ids": [{"id": 1}]}}, "filters.ids: must be a list of strings or numbers"),
        ({"filters": {"ids": {"id": 1}}}, "filters.ids: must be a list"),
    ],
)
def test_a_search_body_value_of_the_wrong_type_is_400(api, db, body, message):
    schema_error(api.post("/v2/products/search", body), message)


LIST_FILTERS = ["ids", "skus", "supplierCodes", "suppliers", "manufacturers", "eanCodes", "statuses", "categoryIds"]  # fmt: skip


@pytest.mark.parametrize("name", LIST_FILTERS)
def test_a_list_filter_takes_at_most_1000_values(api, db, name):
    values = [str(n) for n in range(1001)]

    in_query = api.get("/v2/products", params={name: ",".join(values)})
    in_body = api.post("/v2/products/search", {"filters": {name: values}})
    as_csv_in_body = api.post("/v2/products/search", {"filters": {name: ",".join(values)}})

    schema_error(in_query, f"{name}: at most 1000 values are allowed (1001 given)")
    schema_error(in_body, f"filters.{name}: at most 1000 values are allowed (1001 given)")
    schema_error(as_csv_in_body, f"filters.{name}: at most 1000 values are allowed (1001 given)")


@pytest.mark.parametrize("resource", ["products", "categories"])
def test_1000_values_are_accepted(api, db, resource):
    ids = [str(n) for n in range(1, 1001)]

    in_query = api.get(f"/v2/{resource}", params={"ids": ",".join(ids)})
    in_body = api.post(f"/v2/{resource}/search", {"filters": {"ids": ids}})

    assert (in_query.status_code, in_body.status_code) == (200, 200)


def test_source_ids_take_at_most_1000_values(api, db):
    ids = [f"P-{n}" for n in range(1001)]

    in_query = api.get("/v2/products", params={"source": "erp", "sourceIds": ",".join(ids)})
    in_body = api.post(
        "/v2/products/search", {"filters": {"sources": [{"source": "erp", "sourceIds": ids}]}}
    )
    groups = [{"source": f"s{n}", "sourceIds": ["x"]} for n in range(1001)]
    many_groups = api.post("/v2/products/search", {"filters": {"sources": groups}})

    schema_error(in_query, "sourceIds: at most 1000 values are allowed (1001 given)")
    schema_error(
        in_body, "filters.sources[0].sourceIds: at most 1000 values are allowed (1001 given)"
    )
    schema_error(many_groups, "filters.sources: at most 1000 values are allowed (1001 given)")


def test_term_takes_at_most_200_characters(api, db):
    in_query = api.get("/v2/products", params={"term": "v" * 201})
    in_body = api.post("/v2/products/search", {"filters": {"term": "v" * 201}})
    at_the_limit = api.get("/v2/products", params={"term": "v" * 200})

    schema_error(in_query, "term: at most 200 characters are allowed (201 given)")
    schema_error(in_body, "filters.term: at most 200 characters are allowed (201 given)")
    assert at_the_limit.status_code == 200, at_the_limit.content


def test_caps_apply_to_exports(api, db):
    response = api.get("/v2/products/export", params={"term": "v" * 201})

    schema_error(response, "term: at most 200 characters are allowed (201 given)")


# Chunked bodies ----------------------------------------------------------------------------------


def wsgi_call(body: bytes, *, token: str, path: str = "/v2/categories", **extra):
    """Call the WSGI application as a server does with a de-chunked body of unknown length."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **extra,
    }
    started = {}

    def start_response(status, headers, exc_info=None):
        started["status"] = int(status.split()[0])
        started["headers"] = dict(headers)

    application = TerminatedInputMiddleware(WSGIHandler())
    # As Django's test client does: the test's connection must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        result = application(environ, start_response)
        content = b"".join(result)
        getattr(result, "close", lambda: None)()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return started["status"], started["headers"], json.loads(content)


def test_a_chunked_body_without_content_length_is_read(api):
    status, _, body = wsgi_call(raw_json({"names": ls(EN="Saws")}).encode(), token=api.token)

    assert status == 201, body
    assert body["data"]["names"] == ls(EN="Saws")
    assert Category.objects.get().name_en == "Saws"


def test_a_chunked_body_over_the_size_limit_is_413(api, settings):
    settings.MAX_REQUEST_BYTES = 100
    body = raw_json({"names": ls(EN="S" * 200)}).encode()

    status, headers, error = wsgi_call(body, token=api.token)

    assert status == 413
    assert headers["Content-Type"] == "application/json"
    assert error == {
        "error": {
            "code": 10011,
            "status": 413,
            "type": "PayloadTooLarge",
            "messages": ["Request body exceeds 100 bytes"],
            "moreInfo": "/v2/docs/errors#10011",
        }
    }
    assert not Category.objects.exists()


def test_an_empty_chunked_body_is_still_an_empty_body(api):
    status, _, error = wsgi_call(b"", token=api.token)

    assert status == 400
    assert error["error"]["messages"] == ["Request body is not valid JSON: empty body"]


@pytest.mark.parametrize("path", ["children", "tree", "categories"])
def test_an_expands_value_where_none_is_offered_is_400(api, db, path):
    category = make_category("Tools")
    product = make_product("Hammer", parent={"id": category.pk})
    url = {
        "children": f"/v2/categories/id/{category.pk}/children",
        "tree": "/v2/categories/tree",
        "categories": f"/v2/products/id/{product.pk}/categories",
    }[path]

    response = api.get(url, params={"expands": "bogus"})

    assert_error(
        response,
        400,
        10007,
        "SchemaValidationException",
        ["expands: unknown value bogus (allowed: none)"],
    )
