"""The behaviour every declared resource shares, tested once and run per resource.

Three parts, each a class of tests driven by the resource declaration:

- `CoreContract`: create/read/update/delete, every lookup key (found, unknown key, missing
  companion parameter, no match), unchanged PATCHes, timestamps, ETag / If-Match (412) /
  If-None-Match (304), list and search paging, sorting by id and dates, half-open date ranges,
  the NDJSON export, and the scope matrix (no token 401 10001, a read-only token on writes and
  other entities' tokens 403 10003);
- `TranslationContract`: `DELETE …/translation/<language>`;
- `BulkContract`: bulk create / update / unchanged / per-item errors (10016, 10017), dryRun,
  bulk delete, unknown bulk keys, the item limit (413).

`ResourceContract` is all three. A resource runs them with a few lines in
`tests/api/test_contract_<resource>.py` (see test_contract_products.py, …_categories.py):

    class TestClusterContract(ResourceContract):
        resource = CLUSTERS_RESOURCE   # path, lookup and bulk keys, scope, messages, limits
        sub_list = "/products"         # a GET list below one record ("" when there is none)
        sub_list_in_scope = False      # …/products needs product.read too: not in the matrix
        write_also_needs = ["product.write"]          # a cluster bulk writes products too
        bulk_result_extra = frozenset({"products", "options"})  # nested bulk results
        other_scopes = [["product.read"], ["category.write"]]   # default: other entities'

        def make_record(self):
            # One record: an EN default name, a DE translation, the source pairs erp/K-1 and
            # pim/K-2 when the resource has sources, and a value for every other lookup key.
            return make_cluster("Drills", config=self.config, names={"DE": "Bohrer"},
                                sources=[("erp", "K-1"), ("pim", "K-2")], code="C-1")

        def make_records(self, count):  # `count` plain records, in id order
            return [make_cluster(f"Cluster {n:02d}", config=self.config) for n in range(count)]

        def create_body(self, name):  # a valid create body (default: just `names`)
            return {"names": ls(EN=name), "clusterConfigId": self.config.pk}

        def extra_lookups(self, record):  # lookup keys beyond id and sourceId
            return [("code", "C-1", {})]

        def missing_lookups(self):  # (key, value, params, "<Title> with …") naming nothing
            return [("code", "NOPE", {}, "Cluster with code [NOPE]")]

Data the factories need (a cluster config above) must exist before a test takes its "nothing
changed" snapshot: create it in an autouse fixture of the subclass, not lazily. A resource
without translations or bulk writes (cluster configs: no language, no sources) subclasses
`CoreContract` alone; routes it does not offer (`resource.actions`) and lookup keys it does
not declare are left out of the loops. Further hooks: `update_body(number)` (default
`{"priority": 9 + number}`), `snapshot()` when writes touch more tables than the record's own
and its source pairs, `other_scopes`. Paths, status codes, error codes and messages come from
the declaration (`resource.name`, `.lookup`, `.bulk_keys`, `.bulk_limit`, `.scope`,
`.filterset.sort_fields`, `.actions`), so nothing else is written per resource; a test
(`test_every_declared_lookup_key_is_covered`) fails when a new lookup key is not exercised.
"""

import itertools
import json
from datetime import UTC, datetime

import pytest

from tests.assertions import (
    EMPTY_PAGE,
    LIST_KEYS,
    TIMESTAMP,
    assert_error,
    bulk_completed,
    bulk_failed,
    bulk_ok,
    bulk_results,
    listed_ids,
    ndjson_lines,
    table_counts,
)
from tests.factories import ALL_WRITE_SCOPES, ls

SINGLE_KEYS = {"data", "messages", "total"}
MISSING_IDS = ["999999", "abc", "1.5", "-1", "99999999999999999999", "9" * 23]
_NO_BODY = object()


def send(caller, method: str, path: str, body=_NO_BODY, **kwargs):
    """Send a request; a `body` of _NO_BODY (or None) sends no body at all."""
    if body is _NO_BODY or body is None:
        return caller.request(method, path, **kwargs)
    return caller.request(method, path, body, **kwargs)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# (method, suffix) of every route that names one record.
RECORD_ROUTES = [
    ("GET", ""),
    ("PATCH", ""),
    ("DELETE", ""),
    ("GET", "{sub_list}"),
    ("DELETE", "/translation/DE"),
]
UNKNOWN_KEYS = ["code", "ID", "sku", "SKU", "sourceid", "name", "ean", "eanCode"]
PAGES = [
    (None, None, (1, 12, 1, 3, 12), 0),
    (2, 10, (11, 20, 2, 3, 10), 10),
    (3, 10, (21, 25, 3, 3, 5), 20),
    (1, 25, (1, 25, 1, 1, 25), 0),
    (1, 1000, (1, 25, 1, 1, 25), 0),
    (5, 6, (25, 25, 5, 5, 1), 24),
    (25, 1, (25, 25, 25, 25, 1), 24),
]
BAD_PAGES = [
    ({"page": "0"}, "page must be a positive integer"),
    ({"page": "-1"}, "page must be a positive integer"),
    ({"page": "abc"}, "page must be a positive integer"),
    ({"page": "1.5"}, "page must be a positive integer"),
    ({"page": ""}, "page must be a positive integer"),
    ({"offset": "0"}, "offset must be a positive integer"),
    ({"offset": "ten"}, "offset must be a positive integer"),
    ({"offset": "1001"}, "offset must not exceed 1000"),
]
BAD_BODY_PAGES = [
    ({"page": True}, "page must be a positive integer"),
    ({"page": 1.5}, "page must be a positive integer"),
    ({"page": 0}, "page must be a positive integer"),
    ({"page": -1}, "page must be a positive integer"),
    ({"page": "x"}, "page must be a positive integer"),
    ({"offset": [10]}, "offset must be a positive integer"),
    ({"offset": -5}, "offset must be a positive integer"),
    ({"offset": 0}, "offset must be a positive integer"),
    ({"offset": 1001}, "offset must not exceed 1000"),
]
DATE_RANGES = [
    ("2026-01-02T00:00:00.000Z", "2026-01-03T00:00:00.000Z", [1, 2]),
    ("2026-01-02T10:00:00.123Z", None, [2, 3]),  # from is inclusive, to the millisecond
    (None, "2026-01-02T10:00:00.123Z", [0, 1]),  # to is exclusive
    ("2026-01-02T10:00:00.124Z", "2026-01-03T00:00:00.001Z", [3]),
    ("2026-01-02T10:00:00.123Z", "2026-01-02T10:00:00.124Z", [2]),
    ("2026-01-02T10:00:00.123Z", "2026-01-02T10:00:00.123Z", []),
    ("2026-01-04T00:00:00.000Z", None, []),
    (None, None, [0, 1, 2, 3]),
]
DATE_STAMPS = [
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2026, 1, 2, tzinfo=UTC),
    datetime(2026, 1, 2, 10, 0, 0, 123000, tzinfo=UTC),
    datetime(2026, 1, 3, tzinfo=UTC),
]


class CoreContract:
    """CRUD, lookups, ETags, scopes, lists and export: what every declared resource offers."""

    resource = None  # an api.resources.base.Resource instance
    sub_list = ""  # a GET list below one record: "/categories", "/children"
    # Whether the sub-list needs only this resource's read scope (else it stays out of the
    # scope matrix, which another entity's tests then cover).
    sub_list_in_scope = True
    # Scopes of other entities a writer of this one also needs (nested writes of a bulk).
    write_also_needs: list[str] = []
    other_scopes: list[list[str]] = []

    # What the declaration cannot say ----------------------------------------------------------
    def make_record(self):
        raise NotImplementedError

    def make_records(self, count: int) -> list:
        raise NotImplementedError

    def create_body(self, name: str) -> dict:
        return {"names": ls(EN=name)}

    def update_body(self, number: int = 0) -> dict:
        """A PATCH body that changes the record; each `number` gives other values."""
        return {"priority": 9 + number}

    def extra_lookups(self, record) -> list[tuple[str, str, dict]]:
        """(key, value, query parameters) of lookup keys other than id and sourceId."""
        return []

    def missing_lookups(self) -> list[tuple[str, str, dict, str]]:
        """(key, value, params, description) naming nothing, beyond the id and sourceId ones."""
        return []

    def snapshot(self):
        model, sources = self.resource.model, self.resource.spec.source_model
        rows = [list(model.objects.order_by("pk").values())]
        if sources is not None:
            rows.append(list(sources.objects.order_by("pk").values()))
        return rows, table_counts()

    # Derived from the declaration ------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"/v2/{self.resource.name}"

    @property
    def title(self) -> str:
        return self.resource.lookup.entity

    @property
    def noun(self) -> str:
        return self.resource.spec.noun

    def lookups(self, record) -> list[tuple[str, str, dict]]:
        pairs = [("sourceId", "K-1", {"source": "erp"}), ("sourceId", "K-2", {"source": "pim"})]
        return [
            ("id", str(record.pk), {}),
            *(pairs if self.has_source_key else []),
            *self.extra_lookups(record),
        ]

    @property
    def has_source_key(self) -> bool:
        return "sourceId" in self.resource.lookup.keys

    def offers(self, action: str) -> bool:
        return action in self.resource.actions

    def all_missing(self) -> list[tuple[str, str, dict, str]]:
        title = self.title
        pairs = [
            (
                "sourceId/K-9",
                {"source": "erp"},
                f"{title} with sourceId [K-9] and source [erp] not found",
            ),
            (
                "sourceId/K-1",
                {"source": "pim"},
                f"{title} with sourceId [K-1] and source [pim] not found",
            ),
        ]
        return [
            *((f"id/{value}", {}, f"{title} with id [{value}] not found") for value in MISSING_IDS),
            *(pairs if self.has_source_key else []),
            *(
                (f"{key}/{value}", params, f"{description} not found")
                for key, value, params, description in self.missing_lookups()
            ),
        ]

    def url(self, record, suffix: str = "", key: str = "id", value: str | None = None) -> str:
        value = str(record.pk) if value is None else value
        return f"{self.base}/{key}/{value}{suffix.format(sub_list=self.sub_list)}"

    def patch_body(self) -> dict:
        return self.update_body()

    def stored(self, record):
        return self.resource.model.objects.get(pk=record.pk)

    def fetch(self, api, record, **params) -> dict:
        response = api.get(self.url(record), params=params)
        assert response.status_code == 200, response.content
        return response.json()["data"]

    def routes(self):
        """(method, suffix) of every route naming one record that this resource offers."""
        return [
            (method, suffix)
            for method, suffix in RECORD_ROUTES
            if ("{sub_list}" not in suffix or self.sub_list)
            and ("translation" not in suffix or self.offers("remove_translation"))
        ]

    def body_for(self, method: str):
        return self.patch_body() if method == "PATCH" else None

    def endpoints(self, record) -> list[tuple[str, str, object, str, int]]:
        """(method, path, body, read or write, status when allowed) of every standard route."""
        offered = [
            ("list", "GET", self.base, None, "read", 200),
            ("search", "POST", f"{self.base}/search", {}, "read", 200),
            ("export", "GET", f"{self.base}/export", None, "read", 200),
            ("retrieve", "GET", self.url(record), None, "read", 200),
            ("create", "POST", self.base, self.create_body("New"), "write", 201),
            ("partial_update", "PATCH", self.url(record), self.patch_body(), "write", 200),
            (
                "remove_translation",
                "DELETE",
                self.url(record, "/translation/DE"),
                None,
                "write",
                200,
            ),
            ("destroy", "DELETE", self.url(record), None, "write", 200),
            (
                "bulk_upsert",
                "POST",
                f"{self.base}/bulk/id",
                {self.resource.name: [self.bulk_item({"id": 0})]},
                "write",
                200,
            ),
            (
                "bulk_delete",
                "POST",
                f"{self.base}/bulk/id/delete",
                {self.resource.name: [{"id": record.pk}]},
                "write",
                200,
            ),
        ]
        result = [endpoint for action, *endpoint in offered if self.offers(action)]
        if self.has_source_key:
            result.insert(4, ("GET", f"{self.base}/sourceId/K-1?source=erp", None, "read", 200))
        if self.sub_list and self.sub_list_in_scope:
            result.insert(4, ("GET", self.url(record, self.sub_list), None, "read", 200))
        return result

    def bulk_item(self, key_fields: dict, name: str = "Bulk") -> dict:
        return {**key_fields, **self.create_body(name)}

    def bulk(self, api, key: str, items, *, params=None, delete=False):
        path = f"{self.base}/bulk/{key}" + ("/delete" if delete else "")
        return api.post(path, {self.resource.name: items}, params=params)

    def dated(self) -> list:
        records = self.make_records(4)
        for record, stamp in zip(records, DATE_STAMPS, strict=True):
            self.resource.model.objects.filter(pk=record.pk).update(
                created_at=stamp, last_modified_at=stamp.replace(year=2027)
            )
        return records

    # Fixtures --------------------------------------------------------------------------------
    @pytest.fixture
    def record(self, db):
        return self.make_record()

    # Create, read, update, delete ------------------------------------------------------------
    def test_create_reads_back_as_stored(self, api, db):
        before = table_counts()

        response = api.post(self.base, self.create_body("Brass valve"))

        assert response.status_code == 201, response.content
        body = response.json()
        assert set(body) == SINGLE_KEYS
        assert (body["messages"], body["total"]) == ([f"{self.title} created"], 1)
        data = body["data"]
        stored = self.resource.model.objects.get()
        assert data["id"] == stored.pk
        sent = self.create_body("Brass valve")
        assert {key: data[key] for key in sent} == sent
        if "slug" in self.resource.localized:
            assert data["slugs"] == ls(EN="brass-valve")
        assert TIMESTAMP.match(data["createdAt"]) and TIMESTAMP.match(data["lastModifiedAt"])
        assert stored.created_at.microsecond % 1000 == 0
        assert stored.last_modified_at.microsecond % 1000 == 0
        assert table_counts()[self.resource.model._meta.db_table] == 1 + before.get(
            self.resource.model._meta.db_table, 0
        )
        read = api.get(self.url(stored))
        assert read.json()["data"] == data
        assert response["ETag"] == read["ETag"]

    def test_every_declared_lookup_key_is_covered(self, record):
        assert {key for key, _, _ in self.lookups(record)} == set(self.resource.lookup.keys)

    def test_get_by_every_lookup_key(self, api, record):
        stamp = int(self.stored(record).last_modified_at.timestamp() * 1000)
        for key, value, params in self.lookups(record):
            response = api.get(self.url(record, key=key, value=value), params=params)

            assert response.status_code == 200, (key, response.content)
            body = response.json()
            assert set(body) == SINGLE_KEYS
            assert (body["messages"], body["total"]) == ([f"{self.title} found"], 1)
            assert body["data"]["id"] == record.pk
            assert response["ETag"] == f'"{record.pk}-{stamp}"'

    def test_patch_by_every_lookup_key(self, api, record):
        for number, (key, lookup_value, params) in enumerate(self.lookups(record)):
            body = self.update_body(number)
            response = api.patch(self.url(record, key=key, value=lookup_value), body, params=params)

            assert response.status_code == 200, (key, response.content)
            assert response.json()["messages"] == [f"{self.title} updated"]
            data = response.json()["data"]
            assert {field: data[field] for field in body} == body
            assert self.fetch(api, record) == data

    def test_delete_by_every_lookup_key(self, api, db):
        not_found = self.resource.lookup.not_found
        count = len(self.lookups(self.make_record()))
        self.resource.model.objects.all().delete()
        for index in range(count):
            record = self.make_record()
            key, value, params = self.lookups(record)[index]

            response = api.delete(self.url(record, key=key, value=value), params=params)

            assert response.status_code == 200, (key, response.content)
            assert response.json() == {"data": {}, "messages": [f"{self.title} deleted"]}
            assert not self.resource.model.objects.filter(pk=record.pk).exists()
            sources = self.resource.spec.source_model
            if sources is not None:
                assert not sources.objects.exists()
            assert_error(
                api.get(self.url(record)),
                404,
                not_found.number,
                not_found.type_name,
                [f"{self.title} with id [{record.pk}] not found"],
            )

    def test_sub_list_by_every_lookup_key(self, api, record):
        for key, value, params in self.lookups(record):
            listed = api.get(self.url(record, self.sub_list, key, value), params=params)
            assert listed.status_code == 200, (key, listed.content)
            assert set(listed.json()) == (LIST_KEYS if self.sub_list else SINGLE_KEYS)

    def test_companion_parameter_is_required(self, api, record):
        before = self.snapshot()
        for key, kind in self.resource.lookup.keys.items():
            if not kind.companion:
                continue
            for method, suffix in self.routes():
                response = send(
                    api, method, self.url(record, suffix, key, "K-1"), self.body_for(method)
                )
                assert_error(
                    response,
                    400,
                    10017,
                    "PayloadValidationError",
                    [f"Query parameter [{kind.companion}] is required with lookup key [{key}]"],
                )
        assert self.snapshot() == before

    def test_unknown_lookup_key_is_400(self, api, record):
        before = self.snapshot()
        unknown = [key for key in UNKNOWN_KEYS if key not in self.resource.lookup.keys]
        for key, (method, suffix) in itertools.product(unknown, self.routes()):
            response = send(
                api, method, self.url(record, suffix, key, "K-1"), self.body_for(method)
            )

            assert_error(
                response,
                400,
                10006,
                "InvalidLookupKey",
                [
                    f"Lookup key [{key}] is not supported for {self.title.lower()} records "
                    f"(use {', '.join(self.resource.lookup.keys)})"
                ],
            )
        assert self.snapshot() == before

    def test_no_match_is_404_naming_key_and_value(self, api, record):
        not_found = self.resource.lookup.not_found
        before = self.snapshot()
        for path, params, message in self.all_missing():
            for method, suffix in self.routes():
                url = f"{self.base}/{path}{suffix.format(sub_list=self.sub_list)}"
                response = send(api, method, url, self.body_for(method), params=params)

                assert_error(response, 404, not_found.number, not_found.type_name, [message])
        assert self.snapshot() == before

    def test_unchanged_patch_keeps_last_modified_at_and_etag(self, api, record):
        before = api.get(self.url(record))
        snapshot = self.snapshot()
        data = before.json()["data"]
        bodies = [{}, data, *([{"names": data["names"]}] if "names" in data else [])]
        for body in bodies:
            response = api.patch(self.url(record), body)

            assert response.status_code == 200, response.content
            assert response.json()["data"] == before.json()["data"]
            assert response["ETag"] == before["ETag"]
        assert self.snapshot() == snapshot

    def test_patch_changes_the_record_and_last_modified_at_only(self, api, record):
        self.resource.model.objects.filter(pk=record.pk).update(
            created_at=datetime(2025, 6, 1, 12, 0, 0, 5000, tzinfo=UTC),
            last_modified_at=datetime(2025, 6, 2, tzinfo=UTC),
        )
        before = self.fetch(api, record)

        data = api.patch(self.url(record), self.patch_body()).json()["data"]

        assert data["createdAt"] == "2025-06-01T12:00:00.005Z"
        assert at(data["lastModifiedAt"]) > datetime(2025, 6, 2, tzinfo=UTC)
        assert data == {**before, **self.patch_body(), "lastModifiedAt": data["lastModifiedAt"]}

    def test_timestamps_have_milliseconds_and_z(self, api, record):
        self.resource.model.objects.filter(pk=record.pk).update(
            created_at=datetime(2026, 2, 19, 14, 30, 0, 0, tzinfo=UTC),
            last_modified_at=datetime(2026, 2, 19, 14, 30, 5, 123000, tzinfo=UTC),
        )

        data = self.fetch(api, record)

        assert data["createdAt"] == "2026-02-19T14:30:00.000Z"
        assert data["lastModifiedAt"] == "2026-02-19T14:30:05.123Z"

    # ETags -----------------------------------------------------------------------------------
    def test_etag_changes_when_the_record_changes(self, api, record):
        first = api.get(self.url(record))
        again = api.get(self.url(record))
        patched = api.patch(self.url(record), self.patch_body())
        after = api.get(self.url(record))

        assert first["ETag"].startswith('"') and first["ETag"].endswith('"')
        assert again["ETag"] == first["ETag"]
        assert patched["ETag"] == after["ETag"] != first["ETag"]

    def test_if_none_match_gives_304(self, api, record):
        etag = api.get(self.url(record))["ETag"]

        response = api.get(self.url(record), headers={"If-None-Match": etag})
        stale = api.get(self.url(record), headers={"If-None-Match": '"0-0"'})

        assert response.status_code == 304
        assert response.content == b""
        assert response["ETag"] == etag
        assert stale.status_code == 200
        assert stale.json()["data"]["id"] == record.pk

    def assert_stale_if_match_is_412(self, api, record, method: str, suffix: str = "") -> None:
        etag = api.get(self.url(record))["ETag"]
        before = self.snapshot()

        response = send(
            api,
            method,
            self.url(record, suffix),
            self.body_for(method),
            headers={"If-Match": '"1-1"'},
        )

        assert_error(
            response,
            412,
            10012,
            "PreconditionFailed",
            [f'If-Match "1-1" does not match the current ETag {etag}'],
        )
        assert self.snapshot() == before

    @pytest.mark.parametrize("method", ["PATCH", "DELETE"])
    def test_if_match_mismatch_is_412_and_changes_nothing(self, api, record, method):
        self.assert_stale_if_match_is_412(api, record, method)

    @pytest.mark.parametrize("header", ["{etag}", "*", '"0-0", {etag}'])
    def test_if_match_match_allows_patch_and_delete(self, api, record, header):
        etag = api.get(self.url(record))["ETag"]

        patched = api.patch(
            self.url(record), self.patch_body(), headers={"If-Match": header.format(etag=etag)}
        )
        assert patched.status_code == 200, patched.content
        assert {key: patched.json()["data"][key] for key in self.patch_body()} == self.patch_body()
        assert patched["ETag"] != etag
        deleted = api.delete(
            self.url(record), headers={"If-Match": header.format(etag=patched["ETag"])}
        )

        assert deleted.status_code == 200, deleted.content
        assert not self.resource.model.objects.filter(pk=record.pk).exists()

    def test_if_match_becomes_stale_after_a_write(self, api, record):
        etag = api.get(self.url(record))["ETag"]
        assert api.patch(self.url(record), self.update_body(0)).status_code == 200
        written = self.fetch(api, record)

        response = api.patch(self.url(record), self.update_body(1), headers={"If-Match": etag})

        assert response.status_code == 412
        assert self.fetch(api, record) == written

    # Lists, searches, paging, sorting, date ranges ------------------------------------------
    def test_pages_of_lists_and_searches(self, api, db):
        records = self.make_records(25)
        ids = [record.pk for record in records]

        for page, offset, meta, first_index in PAGES:
            params = {key: value for key, value in (("page", page), ("offset", offset)) if value}
            start, end, number, pages, total = meta
            for response in (
                api.get(self.base, params=params),
                api.post(f"{self.base}/search", params),
            ):
                assert response.status_code == 200, response.content
                body = response.json()
                assert set(body) == LIST_KEYS
                assert {k: v for k, v in body.items() if k != "data"} == {
                    "messages": [],
                    "start": start,
                    "end": end,
                    "page": number,
                    "pages": pages,
                    "total": total,
                    "offset": offset or 12,
                    "itemsFound": 25,
                }
                assert [row["id"] for row in body["data"]] == ids[first_index:][:total]
        for page in (4, 100):
            for response in (
                api.get(self.base, params={"page": page, "offset": 10}),
                api.post(f"{self.base}/search", {"page": page, "offset": 10}),
            ):
                assert response.json() == {
                    "data": [],
                    "messages": [],
                    "start": 0,
                    "end": 0,
                    "page": page,
                    "pages": 3,
                    "total": 0,
                    "offset": 10,
                    "itemsFound": 25,
                }

    def test_an_empty_list(self, api, db):
        assert api.get(self.base).json() == EMPTY_PAGE
        assert api.post(f"{self.base}/search", {}).json() == EMPTY_PAGE

    def test_bad_page_or_offset_is_400(self, api, db):
        for params, message in BAD_PAGES:
            for response in (
                api.get(self.base, params=params),
                api.post(f"{self.base}/search", params),
            ):
                assert_error(response, 400, 10015, "PaginatedResponseException", [message])
        for body, message in BAD_BODY_PAGES:
            response = api.post(f"{self.base}/search", body)
            assert_error(response, 400, 10015, "PaginatedResponseException", [message])

    def test_sort_by_id_and_dates_in_queries_and_bodies(self, api, db):
        records = self.make_records(4)
        ids = [record.pk for record in records]
        order = [2, 0, 3, 1]
        for index, position in enumerate(order):
            stamp = datetime(2026, 1, 1, 0, 0, index, tzinfo=UTC)
            self.resource.model.objects.filter(pk=ids[position]).update(
                created_at=stamp, last_modified_at=stamp.replace(year=2025 - index)
            )
        by_date = [ids[position] for position in order]
        cases = [
            (None, None, ids),
            ("id", [{"field": "id"}], ids),
            ("-id", [{"field": "id", "order": "DESC"}], ids[::-1]),
            ("createdAt", [{"field": "createdAt", "order": "asc"}], by_date),
            ("-lastModifiedAt", [{"field": "lastModifiedAt", "order": "DESC"}], by_date),
        ]
        for query, body, expected in cases:
            assert listed_ids(api.get(self.base, params={"sort": query} if query else None)) == (
                expected
            )
            assert listed_ids(api.post(f"{self.base}/search", {"sort": body} if body else {})) == (
                expected
            )
            assert (
                listed_ids(api.post(f"{self.base}/search", {"sort": query} if query else {}))
                == expected
            )

    def test_unknown_sort_is_400(self, api, db):
        allowed = ", ".join(self.resource.filterset.sort_fields)
        cases = [
            ("query", "colour", f"sort: unknown field colour (allowed: {allowed})"),
            ("query", "-colour", f"sort: unknown field colour (allowed: {allowed})"),
            ("query", "id,-colour", f"sort: unknown field colour (allowed: {allowed})"),
            ("body", [{"field": "colour"}], f"sort: unknown field colour (allowed: {allowed})"),
            ("body", [{"field": "id", "order": "UP"}], "sort[0].order: must be ASC or DESC"),
            ("body", [{"order": "ASC"}], "sort[0].field: required"),
            ("body", {"field": "id"}, "sort: must be an array of {field, order}"),
        ]
        for kind, sort, message in cases:
            if kind == "query":
                response = api.get(self.base, params={"sort": sort})
            else:
                response = api.post(f"{self.base}/search", {"sort": sort})
            assert_error(response, 400, 10007, "SchemaValidationException", [message])

    @pytest.mark.parametrize("field", ["createdAt", "lastModifiedAt"])
    def test_filter_by_half_open_date_range(self, api, db, field):
        records = self.dated()
        year = "2027" if field == "lastModifiedAt" else "2026"
        for start, end, expected in DATE_RANGES:
            start = start and start.replace("2026", year)
            end = end and end.replace("2026", year)
            query = {f"{field}From": start, f"{field}To": end}
            query = {key: value for key, value in query.items() if value}
            body = {key: value for key, value in (("from", start), ("to", end)) if value}
            wanted = [records[index].pk for index in expected]

            assert listed_ids(api.get(self.base, params=query)) == wanted, (start, end)
            searched = api.post(f"{self.base}/search", {"filters": {field: body}})
            assert listed_ids(searched) == wanted, (start, end)

    def test_date_bounds_round_trip_from_a_response(self, api, db):
        records = self.dated()
        stamp = self.fetch(api, records[2])["lastModifiedAt"]

        exact = api.post(
            f"{self.base}/search", {"filters": {"lastModifiedAt": {"from": stamp, "to": stamp}}}
        )
        from_here = api.get(self.base, params={"lastModifiedAtFrom": stamp})
        offset = api.get(
            self.base,
            params={"createdAtFrom": "2026-01-02T11:00:00.123+01:00", "createdAtTo": "2026-01-03"},
        )

        assert listed_ids(exact) == []
        assert listed_ids(from_here) == [records[2].pk, records[3].pk]
        assert listed_ids(offset) == [records[2].pk]

    # Export ----------------------------------------------------------------------------------
    def test_export_streams_every_record_as_ndjson_in_id_order(self, api, db):
        records = self.make_records(15)
        single = self.fetch(api, records[0])

        response = api.get(f"{self.base}/export", params={"page": 2, "offset": 10, "sort": "-id"})

        assert response.status_code == 200
        assert response.streaming
        assert response["Content-Type"] == "application/x-ndjson"
        rows = [json.loads(line) for line in ndjson_lines(response)]
        assert [row["id"] for row in rows] == [record.pk for record in records]
        assert rows[0] == single

    def test_export_of_nothing_is_an_empty_stream(self, api, db):
        response = api.get(f"{self.base}/export")

        assert response.status_code == 200
        assert response["Content-Type"] == "application/x-ndjson"
        assert b"".join(response.streaming_content) == b""

    # Scopes ----------------------------------------------------------------------------------
    def test_without_a_token_is_401_and_changes_nothing(self, anonymous, record):
        before = self.snapshot()
        for method, path, body, _kind, _status in self.endpoints(record):
            response = send(anonymous, method, path, body)

            assert_error(
                response,
                401,
                10001,
                "AuthenticationFailed",
                ["Authentication credentials were not provided"],
            )
            assert response["WWW-Authenticate"].startswith("Bearer")
            bad = send(anonymous, method, path, body, auth="Bearer not-a-token")
            assert_error(bad, 401, 10001, "AuthenticationFailed")
        assert self.snapshot() == before

    def test_scopes_of_other_entities_are_403(self, api_client_factory, record):
        scopes = self.other_scopes or [
            [scope] for scope in ALL_WRITE_SCOPES if not scope.startswith(f"{self.resource.scope}.")
        ]
        callers = [api_client_factory(scope_list) for scope_list in scopes]
        before = self.snapshot()
        for method, path, body, kind, _status in self.endpoints(record):
            for caller in callers:
                response = send(caller, method, path, body)

                assert_error(
                    response,
                    403,
                    10003,
                    "InsufficientScope",
                    [f"This operation needs the scope {self.resource.scope}.{kind}"],
                )
        assert self.snapshot() == before

    def test_read_scope_reads_but_does_not_write(self, api_client_factory, record):
        caller = api_client_factory([f"{self.resource.scope}.read"])
        before = self.snapshot()
        for method, path, body, kind, status in self.endpoints(record):
            response = send(caller, method, path, body)

            if kind == "read":
                assert response.status_code == status, (path, getattr(response, "content", b""))
            else:
                assert_error(
                    response,
                    403,
                    10003,
                    "InsufficientScope",
                    [f"This operation needs the scope {self.resource.scope}.write"],
                )
        assert self.snapshot() == before

    def test_write_scope_implies_read(self, api_client_factory, record):
        caller = api_client_factory([f"{self.resource.scope}.write", *self.write_also_needs])
        for method, path, body, _kind, status in self.endpoints(record):
            response = send(caller, method, path, body)

            assert response.status_code == status, (path, getattr(response, "content", b""))


class TranslationContract(CoreContract):
    """Removing one language of a localized record (`…/translation/<language>`)."""

    def test_remove_a_translation_by_every_lookup_key(self, api, record):
        for key, value, params in self.lookups(record):
            self.resource.model.objects.filter(pk=record.pk).update(name_de="Wieder")

            response = api.delete(self.url(record, "/translation/DE", key, value), params=params)

            assert response.status_code == 200, (key, response.content)
            assert self.stored(record).name_de == ""

    def test_remove_a_translation_honours_if_match(self, api, record):
        self.assert_stale_if_match_is_412(api, record, "DELETE", "/translation/DE")
        etag = api.get(self.url(record))["ETag"]

        response = api.delete(self.url(record, "/translation/DE"), headers={"If-Match": etag})

        assert response.status_code == 200, response.content
        assert self.stored(record).name_de == ""

    @pytest.mark.parametrize("language", ["DE", "de"])
    def test_remove_a_translation(self, api, record, language):
        self.resource.model.objects.filter(pk=record.pk).update(
            last_modified_at=datetime(2026, 1, 1, tzinfo=UTC)
        )
        before = self.fetch(api, record)
        assert "DE" in {entry["language"] for entry in before["names"]}

        response = api.delete(self.url(record, f"/translation/{language}"))

        assert response.status_code == 200, response.content
        assert response.json() == {"data": {}, "messages": ["Translation deleted"]}
        after = self.fetch(api, record)
        localized = {
            key
            for key, value in before.items()
            if isinstance(value, list)
            and any(
                isinstance(entry, dict) and set(entry) == {"language", "value"} for entry in value
            )
        }
        for key in localized:
            assert after[key] == [entry for entry in before[key] if entry["language"] != "DE"]
        assert at(after["lastModifiedAt"]) > datetime(2026, 1, 1, tzinfo=UTC)
        unchanged = {*localized, "lastModifiedAt"}
        assert {k: v for k, v in after.items() if k not in unchanged} == {
            k: v for k, v in before.items() if k not in unchanged
        }

    def test_remove_the_default_language_is_400(self, api, record):
        before = self.snapshot()

        response = api.delete(self.url(record, "/translation/EN"))

        assert_error(
            response,
            400,
            10017,
            "PayloadValidationError",
            [f"Cannot delete the default language EN of this {self.noun}"],
        )
        assert self.snapshot() == before

    def test_remove_an_absent_translation_is_404(self, api, record):
        before = self.snapshot()

        response = api.delete(self.url(record, "/translation/FR"))

        assert_error(
            response,
            404,
            10018,
            "TranslationNotFound",
            [f"{self.title} with id [{record.pk}] has no translation in language [FR]"],
        )
        assert self.snapshot() == before

    def test_remove_an_unknown_language_is_400(self, api, record):
        before = self.snapshot()

        response = api.delete(self.url(record, "/translation/XX"))

        assert_error(
            response, 400, 10007, "SchemaValidationException", ['language: unknown language "XX"']
        )
        assert self.snapshot() == before


class BulkContract(CoreContract):
    """Bulk upserts and deletes (`…/bulk/<key>`, `…/bulk/<key>/delete`); items keyed by
    `sourceId` (source erp) unless a test names another of the declared bulk keys."""

    bulk_result_extra: frozenset = frozenset()  # keys of nested results an item result adds

    def results(self, response, *messages: str) -> list[dict]:
        return bulk_results(response, *messages, extra=self.bulk_result_extra)

    def key_fields(self, key: str, value: str) -> dict:
        """An item's fields for bulk key `key`: {"id": 0} or every field of the key = value."""
        if key == "id":
            return {"id": 0}
        return {name: value for name in self.resource.bulk_keys[key]}

    def test_bulk_create_update_unchanged_and_a_failing_item(self, api, db):
        first = [
            self.bulk_item({"source": "erp", "sourceId": "B-1"}, "First"),
            self.bulk_item({"source": "erp", "sourceId": "B-2"}, "Second"),
        ]
        created = self.results(self.bulk(api, "sourceId", first), bulk_completed(created=2))
        ids = [result["id"] for result in created]
        assert created == [
            bulk_ok(0, "create", ids[0], "B-1", "sourceId"),
            bulk_ok(1, "create", ids[1], "B-2", "sourceId"),
        ]
        stamps = [self.fetch(api, self.stored_by_id(pk))["lastModifiedAt"] for pk in ids]
        unchanged_row = self.resource.model.objects.filter(pk=ids[1]).values().get()

        second = [
            self.bulk_item({"source": "erp", "sourceId": "B-1"}, "Renamed"),
            first[1],
            self.bulk_item({"source": "erp", "sourceId": "B-3"}, "Third")
            | {"names": ls(XX="Third")},
        ]
        data = self.results(self.bulk(api, "sourceId", second), bulk_completed(updated=2, failed=1))

        assert data == [
            bulk_ok(0, "update", ids[0], "B-1", "sourceId"),
            bulk_ok(1, "update", ids[1], "B-2", "sourceId"),
            bulk_failed(
                2,
                "B-3",
                "sourceId",
                10007,
                "SchemaValidationException",
                'names[0].language: unknown language "XX"',
            ),
        ]
        assert self.resource.model.objects.get(pk=ids[0]).name_en == "Renamed"
        assert self.resource.model.objects.filter(pk=ids[1]).values().get() == unchanged_row
        assert self.fetch(api, self.stored_by_id(ids[1]))["lastModifiedAt"] == stamps[1]
        assert self.resource.model.objects.count() == 2

    def stored_by_id(self, pk: int):
        return self.resource.model.objects.get(pk=pk)

    def test_bulk_item_without_its_key_fails_with_10016_and_the_others_apply(self, api, db):
        for key, fields in self.resource.bulk_keys.items():
            message = f"Item has no {' and '.join(fields)} (the lookup key of this request)"
            good = self.bulk_item(self.key_fields(key, f"GOOD-{key}"), "Good")
            cases = [({}, None)]
            if key == "id":  # an id that is not a number is no id; the key is echoed
                cases.append(({"id": "12"}, "12"))
            if len(fields) == 2:  # half a pair: the echoed key is the value given
                cases += [({fields[0]: "x"}, None), ({fields[1]: f"HALF-{key}"}, f"HALF-{key}")]
            for partial, echoed in cases:
                self.resource.model.objects.all().delete()
                data = self.results(
                    self.bulk(api, key, [self.bulk_item(partial, "Bad"), good]),
                    bulk_completed(created=1, failed=1),
                )
                made = self.resource.model.objects.get()
                assert data == [
                    bulk_failed(0, echoed, key, 10016, "LookupKeyNotFound", message),
                    bulk_ok(1, "create", made.pk, 0 if key == "id" else f"GOOD-{key}", key),
                ]
                assert made.name_en == "Good"

    def test_bulk_later_of_two_items_with_one_key_fails_with_10017(self, api, db):
        for key in self.resource.bulk_keys:
            self.resource.model.objects.all().delete()
            fields = {"id": 5} if key == "id" else self.key_fields(key, f"D-{key}")
            echoed = 5 if key == "id" else f"D-{key}"

            data = self.results(
                self.bulk(
                    api, key, [self.bulk_item(fields, "First"), self.bulk_item(fields, "Second")]
                ),
                bulk_completed(created=1, failed=1),
            )

            made = self.resource.model.objects.get()
            assert data == [
                bulk_ok(0, "create", made.pk, echoed, key),
                bulk_failed(
                    1,
                    echoed,
                    key,
                    10017,
                    "PayloadValidationError",
                    f"{key} [{echoed}] appears more than once in this request (first at index 0)",
                ),
            ]
            assert made.name_en == "First"

    def test_bulk_dry_run_reports_and_writes_nothing(self, api, record):
        items = [
            self.bulk_item({"source": "erp", "sourceId": "K-1"}, "Renamed"),
            self.bulk_item({"source": "erp", "sourceId": "B-2"}),
            self.bulk_item({"source": "erp", "sourceId": "B-3"}) | {"names": ls(XX="Bad")},
        ]
        before = self.snapshot()

        dry = self.results(
            self.bulk(api, "sourceId", items, params={"dryRun": "true"}),
            bulk_completed(created=1, updated=1, failed=1),
            "Dry run: nothing was written",
        )

        assert self.snapshot() == before
        assert [r["id"] for r in dry] == [record.pk, None, None]
        real = self.results(
            self.bulk(api, "sourceId", items), bulk_completed(created=1, updated=1, failed=1)
        )
        assert [(r["action"], r["success"], r.get("errors")) for r in dry] == [
            (r["action"], r["success"], r.get("errors")) for r in real
        ]

    def test_bulk_delete_and_its_dry_run(self, api, record):
        not_found = self.resource.lookup.not_found
        items = [{"id": record.pk}, {"id": record.pk + 1000}]
        expected = [
            bulk_ok(0, "delete", record.pk, record.pk, "id"),
            bulk_failed(
                1,
                record.pk + 1000,
                "id",
                not_found.number,
                not_found.type_name,
                f"{self.title} with id [{record.pk + 1000}] not found",
            ),
        ]
        before = self.snapshot()

        dry = self.bulk(api, "id", items, params={"dryRun": "true"}, delete=True)

        assert (
            self.results(dry, bulk_completed(deleted=1, failed=1), "Dry run: nothing was written")
            == expected
        )
        assert self.snapshot() == before
        real = self.bulk(api, "id", items, delete=True)
        assert self.results(real, bulk_completed(deleted=1, failed=1)) == expected
        assert not self.resource.model.objects.filter(pk=record.pk).exists()
        by_pair = self.bulk(api, "sourceId", [{"source": "erp", "sourceId": "K-1"}], delete=True)
        assert self.results(by_pair, bulk_completed(failed=1)) == [
            bulk_failed(
                0,
                "K-1",
                "sourceId",
                not_found.number,
                not_found.type_name,
                f"{self.title} with sourceId [K-1] and source [erp] not found",
            )
        ]

    @pytest.mark.parametrize("delete", [False, True], ids=["upsert", "delete"])
    def test_bulk_unknown_lookup_key_is_400(self, api, db, delete):
        before = table_counts()
        for key in [*UNKNOWN_KEYS, "supplier"]:
            if key in self.resource.bulk_keys:
                continue
            response = self.bulk(
                api, key, [self.bulk_item({"source": "erp", "sourceId": "B"})], delete=delete
            )

            assert_error(
                response,
                400,
                10006,
                "InvalidLookupKey",
                [
                    f"Lookup key [{key}] is not supported for {self.resource.name} bulk "
                    f"(use {', '.join(self.resource.bulk_keys)})"
                ],
            )
        assert table_counts() == before

    @pytest.mark.parametrize("delete", [False, True], ids=["upsert", "delete"])
    def test_bulk_over_the_limit_is_413_and_nothing_is_written(self, api, db, delete):
        limit = self.resource.bulk_limit
        items = [{"source": "erp", "sourceId": f"B-{n}"} for n in range(limit + 1)]
        if not delete:
            items = [self.bulk_item(keys) for keys in items]
        before = table_counts()

        response = self.bulk(api, "sourceId", items, delete=delete)

        assert_error(
            response,
            413,
            10011,
            "PayloadTooLarge",
            [f"{self.resource.name}: {limit + 1} items is more than the limit of {limit}"],
        )
        assert table_counts() == before

    def test_bulk_of_nothing_and_a_trailing_slash(self, api, db):
        assert self.results(self.bulk(api, "sourceId", []), bulk_completed()) == []
        response = api.post(
            f"{self.base}/bulk/sourceId/",
            {self.resource.name: [self.bulk_item({"source": "erp", "sourceId": "S"})]},
        )
        assert self.results(response, bulk_completed(created=1))[0]["action"] == "create"


class ResourceContract(TranslationContract, BulkContract):
    """Everything: a localized resource with source pairs, translations and bulk writes."""
