"""Test data builders. Records are created through the service layer, so they obey every rule
the API enforces; the bulk builder exists only for trees too large to create one by one.

API clients are built here too: a real OAuth2 client and a token from the real token endpoint.
"""

import base64
import json
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.test import Client

from api.services import IssuedClient, api_client_create
from catalogue.models import Category, Cluster, ClusterConfig, ClusterOption, Product, now_ms
from catalogue.records import ClusterRef, RecordChanges, Ref
from catalogue.services.bulk import BulkItem, Directives
from catalogue.services.categories import category_bulk_upsert, category_create
from catalogue.services.clusters import (
    CLUSTER_CONFIG_WRITES,
    CLUSTER_OPTION_WRITES,
    CLUSTER_WRITES,
    SettingChanges,
)
from catalogue.services.products import product_bulk_upsert, product_create


def category_changes(
    name: str | None = None,
    *,
    names: dict[str, str] | None = None,
    parent: Category | None = None,
    sources: list[tuple[str, str]] | None = None,
    localized: dict[str, dict[str, str]] | None = None,
    **fields,
) -> RecordChanges:
    """Return the RecordChanges a category create with these values would carry."""
    language = fields.get("language", settings.CATALOGUE_LANGUAGES[0])
    all_names = dict(names or {})
    if name is not None:
        all_names[language] = name
    changes = RecordChanges(fields=fields, localized={"name": all_names, **(localized or {})})
    if parent is not None:
        changes.relations["parent"] = Ref(id=parent.pk)
    if sources is not None:
        changes.sources = list(sources)
    return changes


def make_category(name: str = "Category", **kwargs) -> Category:
    """Create a category through the category service."""
    return Category.objects.get(pk=category_create(changes=category_changes(name, **kwargs)))


# Product fields given as the API names them (camelCase, localized arrays), for readable tests.
_PRODUCT_LOCALIZED = {
    "names": "name",
    "descriptions": "description",
    "shortDescriptions": "short_description",
    "slugs": "slug",
    "metadataTitles": "metadata_title",
    "metadataDescriptions": "metadata_description",
    "metadataKeywords": "metadata_keywords",
    "metadataCanonicalUrls": "metadata_canonical_url",
    "notes": "notes",
    "packageDescriptions": "package_description",
}
_YES_NO = {"hidden", "orderable", "returnable", "physical"}


def _snake(name: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name)


def ls(**values: str) -> list[dict]:
    """Build a localized-string array: ls(EN="Valve") -> [{"language": "EN", "value": ...}]."""
    return [{"language": language, "value": value} for language, value in values.items()]


def product_changes(name: str | None = "Product", **body) -> RecordChanges:
    """The RecordChanges of a product create, from API-style keyword arguments: camelCase
    fields, localized arrays (see `ls`), `parent={"id": …}`, `sources=[{"source", "sourceId"}]`."""
    language = body.get("language", settings.CATALOGUE_LANGUAGES[0]).upper()
    if "names" not in body:
        body["names"] = ls(**{language: name})
    changes = RecordChanges()
    for key, value in body.items():
        if key in _PRODUCT_LOCALIZED:
            changes.localized[_PRODUCT_LOCALIZED[key]] = {
                entry["language"].upper(): entry["value"] for entry in value
            }
        elif key == "parent":
            if value and "clusterId" in value:
                changes.relations["parent"] = ClusterRef(value["clusterId"])
            else:
                changes.relations["parent"] = Ref(id=value["id"]) if value else None
        elif key == "sources":
            changes.sources = [(pair["source"], pair["sourceId"]) for pair in value]
        elif key == "sourceId":
            changes.add_sources.append((body["source"], value))
        elif key == "source":
            continue
        elif key == "language":
            changes.fields["language"] = value.upper()
        elif key in _YES_NO:
            changes.fields[key] = value == "Y"
        else:
            changes.fields[_snake(key)] = value
    return changes


def make_product(name: str | None = "Product", **body) -> Product:
    """Create a product through the product service (see `product_changes`)."""
    return Product.objects.get(pk=product_create(changes=product_changes(name, **body)))


def _create_many(upsert, model, all_changes: list[RecordChanges]) -> list:
    """Create records in one bulk write through the entity's service; in the given order."""
    items = [
        BulkItem(index=index, key=None, key_value=None, changes=changes)
        for index, changes in enumerate(all_changes)
    ]
    upsert(items=items, lookup_key="id", directives=Directives())
    for item in items:
        if item.error is not None:
            raise item.error
    records = model.objects.in_bulk([item.record_id for item in items])
    return [records[item.record_id] for item in items]


def make_products(bodies: list[dict]) -> list[Product]:
    """Create many products in one bulk write through the product service: each body is the
    keyword arguments of `make_product` (`name` plus API-style fields). Much faster than
    calling `make_product` in a loop; the records obey the same rules."""
    return _create_many(
        product_bulk_upsert,
        Product,
        [product_changes(**{"name": "Product", **body}) for body in bodies],
    )


def make_categories(bodies: list[dict]) -> list[Category]:
    """Create many categories in one bulk write through the category service: each body is
    the keyword arguments of `make_category` (`name`, `names`, `parent`, `sources`, …)."""
    return _create_many(
        category_bulk_upsert,
        Category,
        [category_changes(**{"name": "Category", **body}) for body in bodies],
    )


def make_cluster_config(name: str = "Config", settings: list[tuple] = ()) -> ClusterConfig:
    """Create a cluster config; settings are (attributeName, displayType[, priority])."""
    changes = RecordChanges(
        fields={"name": name},
        relations={"settings": [SettingChanges(*setting) for setting in settings]},
    )
    return ClusterConfig.objects.get(pk=CLUSTER_CONFIG_WRITES.create(changes=changes))


def make_cluster(
    name: str = "Cluster",
    *,
    config: ClusterConfig,
    parent: Category | None = None,
    sources: list[tuple[str, str]] | None = None,
    **fields,
) -> Cluster:
    """Create a cluster through the cluster service (fields as model fields: code, ...)."""
    language = fields.get("language", settings.CATALOGUE_LANGUAGES[0])
    changes = RecordChanges(
        fields={"config_id": config.pk, **fields}, localized={"name": {language: name}}
    )
    if parent is not None:
        changes.relations["parent"] = Ref(id=parent.pk)
    if sources is not None:
        changes.sources = list(sources)
    return Cluster.objects.get(pk=CLUSTER_WRITES.create(changes=changes))


def make_option(
    name: str = "Option",
    *,
    cluster: Cluster,
    products: list[Product] = (),
    sources: list[tuple[str, str]] | None = None,
    **fields,
) -> ClusterOption:
    """Create a cluster option through the option service (fields as model fields)."""
    language = fields.get("language", settings.CATALOGUE_LANGUAGES[0])
    changes = RecordChanges(
        fields=fields,
        localized={"name": {language: name}},
        relations={"cluster": cluster.pk, "products": [product.pk for product in products]},
    )
    if sources is not None:
        changes.sources = list(sources)
    return ClusterOption.objects.get(pk=CLUSTER_OPTION_WRITES.create(changes=changes))


@dataclass(frozen=True)
class ForestNode:
    """One category inserted by build_category_forest (no model instance: those are slow)."""

    pk: int
    parent_id: int | None
    tree_id: int
    lft: int
    rght: int
    level: int


def build_category_forest(fanout: list[int], *, name_prefix: str = "Node") -> list[ForestNode]:
    """Insert a forest with COPY: fanout[0] roots, and fanout[i] children under each node of
    level i-1. Ids come from the table's sequence and MPTT's lft/rght/level/tree_id are
    computed here, so ten thousand nodes take well under a second. Returns them in pre-order.
    """
    shape: list[tuple[int | None, int]] = []  # (index of the parent, level), in pre-order

    def grow(parent: int | None, level: int) -> None:
        if level >= len(fanout):
            return
        for _ in range(fanout[level]):
            shape.append((parent, level))
            grow(len(shape) - 1, level + 1)

    grow(None, 0)
    table = Category._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(shape)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(tree_id), 0) FROM {table}")
        tree_id = cursor.fetchone()[0]

    # Nested-set numbering: walk the pre-order list with a stack of the open nodes.
    lft, rght, trees = [0] * len(shape), [0] * len(shape), [0] * len(shape)
    counter, open_nodes = 0, []
    for index, (_parent, level) in enumerate(shape):
        while open_nodes and shape[open_nodes[-1]][1] >= level:
            counter += 1
            rght[open_nodes.pop()] = counter
        if level == 0:
            tree_id, counter = tree_id + 1, 0
        counter += 1
        lft[index], trees[index] = counter, tree_id
        open_nodes.append(index)
    while open_nodes:
        counter += 1
        rght[open_nodes.pop()] = counter

    nodes = [
        ForestNode(
            pk=ids[index],
            parent_id=ids[parent] if parent is not None else None,
            tree_id=trees[index],
            lft=lft[index],
            rght=rght[index],
            level=level,
        )
        for index, (parent, level) in enumerate(shape)
    ]
    language = settings.CATALOGUE_LANGUAGES[0]
    stamp = now_ms()
    fields = [f for f in Category._meta.concrete_fields if not getattr(f, "generated", False)]
    defaults = {f.attname: f.get_default() for f in fields}
    defaults.update(language=language, created_at=stamp, last_modified_at=stamp)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for index, node in enumerate(nodes):
                values = {
                    **defaults,
                    "id": node.pk,
                    "parent_id": node.parent_id,
                    "tree_id": node.tree_id,
                    "lft": node.lft,
                    "rght": node.rght,
                    "level": node.level,
                    f"name_{language.lower()}": f"{name_prefix} {index}",
                }
                copy.write_row([values[f.attname] for f in fields])
        # Fresh statistics, as autovacuum would give a committed bulk load; without them the
        # planner assumes an empty table and nests loops over the whole tree.
        cursor.execute(f"ANALYZE {table}")
    return nodes


# API clients ---------------------------------------------------------------------------------

ALL_WRITE_SCOPES = ["category.write", "cluster.write", "clusterconfig.write", "product.write"]
ALL_SCOPES = sorted(
    [*ALL_WRITE_SCOPES, "category.read", "cluster.read", "clusterconfig.read", "product.read"]
)

_NO_BODY = object()


def request_token(
    client_id: str,
    client_secret: str,
    *,
    scope: str | None = None,
    basic: bool = False,
    path: str = "/oauth2/token/",
):
    """POST /oauth2/token/ (client credentials), credentials in the body or as HTTP Basic."""
    form = {"grant_type": "client_credentials"}
    headers = {}
    if basic:
        pair = f"{client_id}:{client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    else:
        form.update(client_id=client_id, client_secret=client_secret)
    if scope is not None:
        form["scope"] = scope
    return Client().post(
        path,
        data=urlencode(form),
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )


def jwt_part(token: str, index: int) -> dict:
    """Decode the header (0) or the claims (1) of a JWT without checking its signature."""
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class ApiCaller:
    """A Django test client that sends JSON and an Authorization header on every request."""

    def __init__(self, token: str | None = None, issued: IssuedClient | None = None):
        self.token = token
        self.issued = issued
        self.client = Client()

    def request(
        self,
        method: str,
        path: str,
        body=_NO_BODY,
        *,
        params: dict | None = None,
        headers: dict | None = None,
        content_type: str = "application/json",
        auth: str | None = None,
    ):
        """Send `body` as JSON (bytes/str are sent as they are); `auth` overrides the header."""
        all_headers = dict(headers or {})
        authorization = auth if auth is not None else (self.token and f"Bearer {self.token}")
        if authorization:
            all_headers["Authorization"] = authorization
        if params:
            path = f"{path}?{urlencode(params, doseq=True)}"
        if body is _NO_BODY:
            data = b""
        elif isinstance(body, bytes | str):
            data = body
        else:
            data = json.dumps(body)
        return self.client.generic(
            method, path, data=data, content_type=content_type, headers=all_headers
        )

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=_NO_BODY, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def patch(self, path, body=_NO_BODY, **kwargs):
        return self.request("PATCH", path, body, **kwargs)

    def put(self, path, body=_NO_BODY, **kwargs):
        return self.request("PUT", path, body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


def make_api_caller(scopes: list[str], *, name: str = "test client") -> ApiCaller:
    """Create an API client allowed `scopes` and log it in through the real token endpoint."""
    issued = api_client_create(name=name, scopes=scopes)
    response = request_token(issued.client_id, issued.client_secret)
    assert response.status_code == 200, response.content
    return ApiCaller(response.json()["access_token"], issued)
