"""Cluster configs, clusters and cluster options: their planners and writers, the products of
a cluster and of an option, and the nested bulk of clusters with their products and options."""

from collections import defaultdict
from dataclasses import dataclass

from django.db import connection, transaction

from catalogue import rules
from catalogue.errors import CatalogueError, Code
from catalogue.models import (
    Cluster,
    ClusterCategory,
    ClusterConfig,
    ClusterConfigSetting,
    ClusterOption,
    ClusterOptionProduct,
    ClusterOptionSource,
    ClusterSource,
    Product,
)
from catalogue.models.base import now_ms
from catalogue.records import ClusterRef, RecordSpec, describe_key
from catalogue.services.bulk import BulkItem, Directives, deletes, upserts
from catalogue.services.categories import CATEGORIES
from catalogue.services.memberships import (
    Membership,
    category_add,
    category_remove,
    current_primaries,
    write_primary,
)
from catalogue.services.products import PRODUCTS, product_bulk_upsert
from catalogue.services.products import _match as _match_products
from catalogue.services.records import (
    RecordWrites,
    decide,
    lock_rows,
    match_keys,
    plan_deletes,
    plan_records,
    write_records,
    write_search_documents,
)

CLUSTER_CONFIGS = RecordSpec(
    model=ClusterConfig,
    source_model=None,
    entity="ClusterConfig",
    exists=Code.CLUSTER_CONFIG_EXISTS,
    not_found=Code.CLUSTER_CONFIG_NOT_FOUND,
)
CLUSTERS = RecordSpec(
    model=Cluster,
    source_model=ClusterSource,
    entity="Cluster",
    exists=Code.CLUSTER_EXISTS,
    not_found=Code.CLUSTER_NOT_FOUND,
    multiple_found=Code.CLUSTER_MULTIPLE_FOUND,
)
CLUSTER_OPTIONS = RecordSpec(
    model=ClusterOption,
    source_model=ClusterOptionSource,
    entity="ClusterOption",
    exists=Code.CLUSTER_OPTION_EXISTS,
    not_found=Code.CLUSTER_OPTION_NOT_FOUND,
)
CLUSTER_MEMBERSHIP = Membership(CLUSTERS, ClusterCategory, "cluster_id")


def _match_by(spec: RecordSpec, column: str, items: list[BulkItem]) -> dict:
    """Map item keys to record ids by a plain column (one query)."""
    keys = [item.key for item in items if item.pending and item.key is not None]
    found: dict = defaultdict(list)
    for value, pk in spec.model.objects.filter(**{f"{column}__in": keys}).values_list(column, "pk"):
        found[value].append(pk)
    return found


# Cluster configs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingChanges:
    """A config setting as a write gives it (attribute name, display type, priority)."""

    attribute_name: str
    display_type: str
    priority: int = 0


def plan_configs(items: list[BulkItem], lookup_key: str, directives: Directives) -> None:
    """Names follow the rules and are unique; they never change; settings are unique per
    attribute."""

    def match(batch):
        if lookup_key == "name":
            return _match_by(CLUSTER_CONFIGS, "name", batch)
        return match_keys(CLUSTER_CONFIGS, batch, lookup_key)

    def relate(pending: list[BulkItem], current_rows: dict) -> None:
        names = {item.extra["row"]["name"] for item in pending if item.pending}
        taken = dict(ClusterConfig.objects.filter(name__in=names).values_list("name", "pk"))
        claimed: dict[str, int] = {}
        for item in pending:
            if not item.pending:
                continue
            name = item.extra["row"]["name"]
            current = item.extra.get("current")
            problem = rules.config_name_problem(name)
            if problem:
                item.fail(CatalogueError(Code.SCHEMA_VALIDATION, f"name: {problem}"))
            elif current is not None and name != current["name"]:
                item.fail(
                    CatalogueError(Code.PAYLOAD_VALIDATION, "name: cannot be changed once created")
                )
            elif taken.get(name, item.record_id) != item.record_id or name in claimed:
                item.fail(rules.config_name_taken(name))
            else:
                claimed[name] = item.index
            if item.pending and "settings" in item.changes.relations:
                if current is not None:
                    item.fail(
                        CatalogueError(
                            Code.PAYLOAD_VALIDATION,
                            "settings: change them through the config's settings",
                        )
                    )
                    continue
                problem = rules.settings_problem(item.changes.relations["settings"])
                if problem:
                    item.fail(problem)

    pending, _ = plan_records(
        CLUSTER_CONFIGS, items, lookup_key, directives, match=match, relate=relate
    )
    decide(pending)


def write_configs(items: list[BulkItem]) -> None:
    creates, _ = write_records(CLUSTER_CONFIGS, items)
    ClusterConfigSetting.objects.bulk_create(
        ClusterConfigSetting(
            config_id=item.record_id,
            attribute_name=setting.attribute_name,
            display_type=setting.display_type,
            priority=setting.priority,
        )
        for item in creates
        for setting in item.changes.relations.get("settings", [])
    )


def plan_config_deletes(items: list[BulkItem], lookup_key: str) -> None:
    """A config that clusters use cannot go (21008)."""
    found = (
        _match_by(CLUSTER_CONFIGS, "name", items)
        if lookup_key == "name"
        else match_keys(CLUSTER_CONFIGS, items, lookup_key)
    )
    plan_deletes(CLUSTER_CONFIGS, items, found, lookup_key)
    ids = [item.record_id for item in items if item.action == "delete"]
    used = set(Cluster.objects.filter(config_id__in=ids).values_list("config_id", flat=True))
    for item in items:
        if item.action == "delete" and item.record_id in used:
            item.fail(
                CatalogueError(
                    Code.CLUSTER_CONFIG_IN_USE,
                    f"ClusterConfig with id [{item.record_id}] is used by clusters",
                )
            )


def delete_configs(items: list[BulkItem]) -> None:
    ClusterConfig.objects.filter(pk__in=[item.record_id for item in items]).delete()


cluster_config_bulk_upsert = upserts(plan_configs, write_configs)
cluster_config_bulk_delete = deletes(plan_config_deletes, delete_configs)
CLUSTER_CONFIG_WRITES = RecordWrites(
    CLUSTER_CONFIGS, cluster_config_bulk_upsert, cluster_config_bulk_delete
)


def _setting_not_found(config_id: int, setting_id) -> CatalogueError:
    return CatalogueError(
        Code.CLUSTER_CONFIG_SETTING_NOT_FOUND,
        f"ClusterConfigSetting with id [{setting_id}] not found in cluster config with id "
        f"[{config_id}]",
    )


def cluster_config_setting_add(*, config_id: int, setting: SettingChanges) -> int:
    """Add a driving attribute to a config; its attribute name must be new there (21006)."""
    problem = rules.settings_problem([setting])
    if problem:
        raise problem
    with transaction.atomic():
        config = ClusterConfig.objects.select_for_update().filter(pk=config_id).first()
        if config is None:
            raise CLUSTER_CONFIGS.not_found_error(describe_key("id", config_id))
        if config.settings.filter(attribute_name=setting.attribute_name).exists():
            raise rules.setting_taken(setting.attribute_name)
        created = ClusterConfigSetting.objects.create(
            config=config,
            attribute_name=setting.attribute_name,
            display_type=setting.display_type,
            priority=setting.priority,
        )
        ClusterConfig.objects.filter(pk=config_id).update(last_modified_at=now_ms())
        return created.pk


def cluster_config_setting_update(*, config_id: int, setting_id: int, fields: dict) -> None:
    """Change a setting's display type or priority; its attribute name stays."""
    with transaction.atomic():
        ClusterConfig.objects.select_for_update().filter(pk=config_id).first()
        setting = ClusterConfigSetting.objects.filter(pk=setting_id, config_id=config_id).first()
        if setting is None:
            raise _setting_not_found(config_id, setting_id)
        if "attribute_name" in fields and fields["attribute_name"] != setting.attribute_name:
            raise CatalogueError(
                Code.PAYLOAD_VALIDATION, "attributeName: cannot be changed once created"
            )
        changed = [
            name
            for name in ("display_type", "priority")
            if name in fields and getattr(setting, name) != fields[name]
        ]
        for name in changed:
            setattr(setting, name, fields[name])
        if changed:
            setting.save(update_fields=changed)
            ClusterConfig.objects.filter(pk=config_id).update(last_modified_at=now_ms())


def cluster_config_setting_delete(*, config_id: int, setting_id: int) -> None:
    with transaction.atomic():
        ClusterConfig.objects.select_for_update().filter(pk=config_id).first()
        deleted, _ = ClusterConfigSetting.objects.filter(
            pk=setting_id, config_id=config_id
        ).delete()
        if not deleted:
            raise _setting_not_found(config_id, setting_id)
        ClusterConfig.objects.filter(pk=config_id).update(last_modified_at=now_ms())


# Clusters ----------------------------------------------------------------------------------


def _match_clusters(items: list[BulkItem], lookup_key: str) -> dict:
    if lookup_key == "code":
        return _match_by(CLUSTERS, "code", items)
    return match_keys(CLUSTERS, items, lookup_key)


def plan_clusters(items: list[BulkItem], lookup_key: str, directives: Directives) -> None:
    """Config (required on create, must exist), code (unique), primary category (`parent`),
    default product (one of the cluster's products)."""

    def relate(pending: list[BulkItem], current_rows: dict) -> None:
        rows = [item.extra["row"] for item in pending if item.pending]
        configs = set(
            ClusterConfig.objects.filter(
                pk__in={row["config_id"] for row in rows if row["config_id"]}
            ).values_list("pk", flat=True)
        )
        codes = {row["code"] for row in rows if row["code"]}
        code_owners = dict(Cluster.objects.filter(code__in=codes).values_list("code", "pk"))
        existing_ids = [item.record_id for item in pending if item.record_id]
        current_primary = current_primaries(CLUSTER_MEMBERSHIP, existing_ids)
        for item in pending:
            moving = "parent" in item.changes.relations
            item.extra["move"] = moving and not (item.record_id and directives.skip_move_on_update)
            item.extra["primary_changed"] = False
        parents = rules.resolve_refs(
            CATEGORIES,
            (item.changes.relations["parent"] for item in pending if item.extra["move"]),
        )
        defaults = _default_candidates(pending)
        claimed_codes: set[str] = set()
        for item in pending:
            if not item.pending:
                continue
            row = item.extra["row"]
            if not row["config_id"]:
                item.fail(CatalogueError(Code.SCHEMA_VALIDATION, "clusterConfigId: required"))
                continue
            if row["config_id"] not in configs:
                item.fail(CLUSTER_CONFIGS.not_found_error(describe_key("id", row["config_id"])))
                continue
            code = row["code"]
            if code and (
                code_owners.get(code, item.record_id) != item.record_id or code in claimed_codes
            ):
                item.fail(
                    CatalogueError(
                        Code.CLUSTER_EXISTS, f"Cluster with code [{code}] already exists"
                    )
                )
                continue
            claimed_codes.add(code)
            default = row["default_product_id"]
            if default is not None and default not in defaults.get(item.index, set()):
                item.fail(
                    CatalogueError(
                        Code.PAYLOAD_VALIDATION,
                        f"defaultProductId: product with id [{default}] is not a product of "
                        "this cluster",
                    )
                )
                continue
            if item.extra["move"]:
                ref = item.changes.relations["parent"]
                if ref is not None and parents.get(ref) is None:
                    item.fail(
                        rules.parent_not_found(Code.PARENT_CATEGORY_NOT_FOUND, "category", ref)
                    )
                    continue
                item.extra["primary"] = parents.get(ref) if ref is not None else None
                item.extra["primary_changed"] = item.extra["primary"] != current_primary.get(
                    item.record_id
                )

    pending, _ = plan_records(
        CLUSTERS,
        items,
        lookup_key,
        directives,
        match=lambda batch: _match_clusters(batch, lookup_key),
        relate=relate,
    )
    decide(pending)


def _default_candidates(items: list[BulkItem]) -> dict[int, set[int]]:
    """Per item, the products its default may be: those in the cluster, and those the item
    brings along (nested products named by id)."""
    wanted = {
        item.extra["row"]["default_product_id"]
        for item in items
        if item.pending and item.extra["row"]["default_product_id"] is not None
    }
    in_cluster = (
        dict(Product.objects.filter(pk__in=wanted).values_list("pk", "cluster_id"))
        if wanted
        else {}
    )
    result: dict[int, set[int]] = {}
    for item in items:
        if not item.pending:
            continue
        brought = set(item.extra.get("nested_product_ids", ()))
        result[item.index] = {
            pk for pk, cluster in in_cluster.items() if cluster == item.record_id and cluster
        } | (brought & set(in_cluster))
    return result


def write_clusters(items: list[BulkItem]) -> None:
    creates, updates = write_records(CLUSTERS, items, changed=("primary_changed",))
    write_search_documents("clusters", creates + updates)
    write_primary(
        CLUSTER_MEMBERSHIP,
        {
            item.record_id: item.extra["primary"]
            for item in creates + updates
            if item.extra["primary_changed"]
        },
    )


def plan_cluster_deletes(items: list[BulkItem], lookup_key: str) -> None:
    plan_deletes(CLUSTERS, items, _match_clusters(items, lookup_key), lookup_key)


def delete_clusters(items: list[BulkItem]) -> None:
    """The clusters' products move to the clusters' primary categories; options go with them."""
    ids = sorted(item.record_id for item in items)
    primaries = current_primaries(CLUSTER_MEMBERSHIP, ids)
    products = list(Product.objects.filter(cluster_id__in=ids).values_list("pk", "cluster_id"))
    lock_rows(PRODUCTS, [pk for pk, _ in products])
    Product.objects.filter(pk__in=[pk for pk, _ in products]).update(
        cluster=None, last_modified_at=now_ms()
    )
    from catalogue.services.products import PRODUCT_MEMBERSHIP

    write_primary(
        PRODUCT_MEMBERSHIP,
        {pk: primaries[cluster] for pk, cluster in products if primaries.get(cluster)},
    )
    Cluster.objects.filter(pk__in=ids).delete()


cluster_bulk_upsert_flat = upserts(plan_clusters, write_clusters)
cluster_bulk_delete = deletes(plan_cluster_deletes, delete_clusters)
CLUSTER_WRITES = RecordWrites(CLUSTERS, cluster_bulk_upsert_flat, cluster_bulk_delete)


def category_add_clusters(*, category_id: int, cluster_ids: list[int]):
    """Add clusters to a category as extra (non-primary) memberships; one outcome per id."""
    return category_add(CLUSTER_MEMBERSHIP, category_id=category_id, record_ids=cluster_ids)


def category_remove_clusters(*, category_id: int, cluster_ids: list[int]):
    """Remove clusters from a category; the primary category cannot be removed this way."""
    return category_remove(CLUSTER_MEMBERSHIP, category_id=category_id, record_ids=cluster_ids)


# The products of a cluster -----------------------------------------------------------------


def _not_attached(product_id: int, cluster_id: int) -> CatalogueError:
    return CatalogueError(
        Code.CLUSTER_PRODUCT_NOT_ATTACHED,
        f"Product with id [{product_id}] is not in cluster with id [{cluster_id}]",
    )


def cluster_assign_products(
    *, cluster_id: int, product_ids: list[int]
) -> dict[int, CatalogueError | None]:
    """Move products into a cluster, from a category or another cluster; one outcome per id."""
    with transaction.atomic():
        _lock_clusters(product_ids, [cluster_id])
        return _move_products(product_ids, cluster_id=cluster_id, category_id=None)


def cluster_unassign_products(
    *,
    cluster_id: int,
    product_ids: list[int],
    to_category: int | None = None,
    to_cluster: int | None = None,
) -> dict[int, CatalogueError | None]:
    """Move products out of a cluster into a category (primary) or another cluster."""
    if (to_category is None) == (to_cluster is None):
        raise CatalogueError(
            Code.PAYLOAD_VALIDATION, "give exactly one destination: category or cluster"
        )
    with transaction.atomic():
        _lock_clusters(product_ids, [cluster_id, to_cluster])
        attached = set(
            Product.objects.filter(pk__in=product_ids, cluster_id=cluster_id).values_list(
                "pk", flat=True
            )
        )
        outcomes = {pk: _not_attached(pk, cluster_id) for pk in product_ids if pk not in attached}
        outcomes.update(
            _move_products(
                [pk for pk in product_ids if pk in attached],
                cluster_id=to_cluster,
                category_id=to_category,
            )
        )
        return outcomes


def _lock_clusters(product_ids: list[int], clusters: list[int | None]) -> None:
    """Lock, in id order, every cluster a move touches: `clusters` and those the products are
    in now (a move touches the clusters it leaves too), before any product row. Two moves in
    opposite directions then queue instead of deadlocking."""
    current = Product.objects.filter(pk__in=product_ids, cluster_id__isnull=False).values_list(
        "cluster_id", flat=True
    )
    lock_rows(CLUSTERS, sorted({*current, *clusters} - {None}))


def _move_products(
    product_ids: list[int], *, cluster_id: int | None, category_id: int | None
) -> dict[int, CatalogueError | None]:
    """Place products in a cluster (no primary category then) or as primary in a category."""
    from catalogue.services.products import PRODUCT_MEMBERSHIP, _clusters_changed

    ids = sorted(set(product_ids))
    lock_rows(PRODUCTS, ids)
    old = dict(Product.objects.filter(pk__in=ids).values_list("pk", "cluster_id"))
    Product.objects.filter(pk__in=ids).update(cluster_id=cluster_id, last_modified_at=now_ms())
    write_primary(PRODUCT_MEMBERSHIP, dict.fromkeys(ids, category_id))
    _clusters_changed([(pk, old.get(pk), cluster_id) for pk in ids])
    return dict.fromkeys(product_ids)


# Options -------------------------------------------------------------------------------------


def plan_options(items: list[BulkItem], lookup_key: str, directives: Directives) -> None:
    """The cluster an option belongs to (given on create, then fixed), its selectable
    products (when given, the whole set), and a default among them."""

    def relate(pending: list[BulkItem], current_rows: dict) -> None:
        existing_ids = [item.record_id for item in pending if item.record_id]
        current_products: dict[int, list[int]] = defaultdict(list)
        for option, product in (
            ClusterOptionProduct.objects.filter(option_id__in=existing_ids)
            .order_by("option_id", "product_id")
            .values_list("option_id", "product_id")
        ):
            current_products[option].append(product)
        wanted = {
            pk
            for item in pending
            if item.pending and item.changes.relations.get("products") is not None
            for pk in item.changes.relations["products"]
        }
        known = set(Product.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        for item in pending:
            if not item.pending:
                continue
            row = item.extra["row"]
            cluster = item.changes.relations.get("cluster")
            if item.record_id is None:
                if cluster is None:
                    item.fail(
                        CatalogueError(Code.PAYLOAD_VALIDATION, "an option is created in a cluster")
                    )
                    continue
                row["cluster_id"] = cluster
            old = current_products.get(item.record_id, [])
            products = item.changes.relations.get("products")
            if products is not None:
                missing = [pk for pk in products if pk not in known]
                if missing:
                    item.fail(PRODUCTS.not_found_error(describe_key("id", missing[0])))
                    continue
                products = list(dict.fromkeys(products))
            else:
                products = old
            item.extra["products"] = products
            item.extra["products_changed"] = sorted(products) != sorted(old)
            default = row["default_product_id"]
            if default is not None and default not in products:
                item.fail(
                    CatalogueError(
                        Code.PAYLOAD_VALIDATION,
                        f"defaultProductId: product with id [{default}] is not selectable in "
                        "this option",
                    )
                )

    pending, _ = plan_records(
        CLUSTER_OPTIONS,
        items,
        lookup_key,
        directives,
        match=lambda batch: match_keys(CLUSTER_OPTIONS, batch, lookup_key),
        relate=relate,
    )
    decide(pending)


def write_options(items: list[BulkItem]) -> None:
    creates, updates = write_records(CLUSTER_OPTIONS, items, changed=("products_changed",))
    write_search_documents("options", creates + updates)
    _write_selectable(
        {
            item.record_id: item.extra["products"]
            for item in creates + updates
            if item.extra["products_changed"]
        }
    )
    # A new option, or one moved in the order, changes its cluster's option list.
    touched = {item.extra["row"]["cluster_id"] for item in creates} | {
        item.extra["row"]["cluster_id"]
        for item in updates
        if item.extra["row"]["sort_order"] != (item.extra.get("current") or {}).get("sort_order")
    }
    if touched:
        Cluster.objects.filter(pk__in=sorted(touched)).update(last_modified_at=now_ms())


def _make_selectable(pairs: list[tuple[int, int]]) -> None:
    """Add (option, product) pairs to the options' selectable products; present ones stay."""
    if not pairs:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ClusterOptionProduct._meta.db_table} (option_id, product_id) "
            "SELECT * FROM unnest(%s::bigint[], %s::bigint[]) "
            "ON CONFLICT (option_id, product_id) DO NOTHING",
            [[pair[0] for pair in pairs], [pair[1] for pair in pairs]],
        )


def _write_selectable(sets: dict[int, list[int]]) -> None:
    """Replace the selectable products of options."""
    if not sets:
        return
    table = ClusterOptionProduct._meta.db_table
    rows = [(option, product) for option, products in sorted(sets.items()) for product in products]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE option_id = ANY(%s)", [sorted(sets)])
        if rows:
            cursor.execute(
                f"INSERT INTO {table} (option_id, product_id) "
                "SELECT * FROM unnest(%s::bigint[], %s::bigint[])",
                [[r[0] for r in rows], [r[1] for r in rows]],
            )


def plan_option_deletes(items: list[BulkItem], lookup_key: str) -> None:
    plan_deletes(CLUSTER_OPTIONS, items, match_keys(CLUSTER_OPTIONS, items, lookup_key), lookup_key)


def delete_options(items: list[BulkItem]) -> None:
    """Options go; their products stay where they are."""
    ids = [item.record_id for item in items]
    clusters = set(ClusterOption.objects.filter(pk__in=ids).values_list("cluster_id", flat=True))
    ClusterOption.objects.filter(pk__in=ids).delete()
    Cluster.objects.filter(pk__in=sorted(clusters)).update(last_modified_at=now_ms())


cluster_option_bulk_upsert = upserts(plan_options, write_options)
cluster_option_bulk_delete = deletes(plan_option_deletes, delete_options)
CLUSTER_OPTION_WRITES = RecordWrites(
    CLUSTER_OPTIONS, cluster_option_bulk_upsert, cluster_option_bulk_delete
)


def option_assign_products(
    *, option_id: int, product_ids: list[int]
) -> dict[int, CatalogueError | None]:
    """Make products selectable in an option (they stay where they are)."""
    with transaction.atomic():
        lock_rows(CLUSTER_OPTIONS, [option_id])
        present = set(
            ClusterOptionProduct.objects.filter(
                option_id=option_id, product_id__in=product_ids
            ).values_list("product_id", flat=True)
        )
        outcomes: dict[int, CatalogueError | None] = {}
        new = []
        for product_id in product_ids:
            if product_id in present:
                outcomes[product_id] = CatalogueError(
                    Code.CLUSTER_OPTION_EXISTS,
                    f"Product with id [{product_id}] is already selectable in option with id "
                    f"[{option_id}]",
                )
            else:
                outcomes[product_id] = None
                present.add(product_id)
                new.append(ClusterOptionProduct(option_id=option_id, product_id=product_id))
        ClusterOptionProduct.objects.bulk_create(new)
        if new:
            ClusterOption.objects.filter(pk=option_id).update(last_modified_at=now_ms())
        return outcomes


def option_unassign_products(
    *, option_id: int, product_ids: list[int]
) -> dict[int, CatalogueError | None]:
    """Make products no longer selectable in an option; a default one stops being default."""
    with transaction.atomic():
        lock_rows(CLUSTER_OPTIONS, [option_id])
        present = set(
            ClusterOptionProduct.objects.filter(
                option_id=option_id, product_id__in=product_ids
            ).values_list("product_id", flat=True)
        )
        outcomes: dict[int, CatalogueError | None] = {}
        for product_id in product_ids:
            outcomes[product_id] = (
                None
                if product_id in present
                else CatalogueError(
                    Code.PRODUCT_NOT_FOUND,
                    f"Product with id [{product_id}] is not selectable in option with id "
                    f"[{option_id}]",
                )
            )
        removed = [pk for pk in product_ids if pk in present]
        if removed:
            ClusterOptionProduct.objects.filter(
                option_id=option_id, product_id__in=removed
            ).delete()
            ClusterOption.objects.filter(pk=option_id, default_product_id__in=removed).update(
                default_product=None
            )
            ClusterOption.objects.filter(pk=option_id).update(last_modified_at=now_ms())
        return outcomes


# Nested bulk ---------------------------------------------------------------------------------

# The key nested products and options are matched by, for each cluster lookup key.
NESTED_PRODUCT_KEY = {"id": "id", "sourceId": "sourceId", "code": "sku"}
NESTED_OPTION_KEY = {"id": "id", "sourceId": "sourceId", "code": "sourceId"}


@dataclass
class NestedCluster:
    """A cluster item of a nested bulk with its products and options (each a BulkItem;
    an option's products in `option_products[option index]`)."""

    item: BulkItem
    products: list[BulkItem]
    options: list[BulkItem]
    option_products: dict[int, list[BulkItem]]


def _not_applied(items: list[BulkItem], why: str) -> None:
    for item in items:
        if item.error is None:
            item.fail(CatalogueError(Code.PAYLOAD_VALIDATION, why))


def cluster_bulk_upsert(
    *,
    clusters: list[NestedCluster],
    lookup_key: str,
    directives: Directives,
    dry_run: bool = False,
    atomic: bool = False,
) -> list[NestedCluster]:
    """Create or update clusters with their products and options, on the bulk engine.

    Clusters go first, then their products (placed in their cluster), then their options,
    then the options' products (made selectable). A nested item fails alone; the items below
    a failed cluster or option are not applied. A dry run is the real run rolled back.
    """
    product_key = NESTED_PRODUCT_KEY[lookup_key]
    option_key = NESTED_OPTION_KEY[lookup_key]
    all_items = [
        item
        for nested in clusters
        for item in (
            nested.item,
            *nested.products,
            *nested.options,
            *(i for group in nested.option_products.values() for i in group),
        )
    ]
    with transaction.atomic():
        # A default product may be one the item brings along, if it exists already.
        named = _match_products(
            [p for nested in clusters for p in nested.products if p.error is None], product_key
        )
        for nested in clusters:
            nested.item.extra["nested_product_ids"] = [
                pk for p in nested.products for pk in named.get(p.key, [])
            ]
        cluster_bulk_upsert_flat(
            items=[nested.item for nested in clusters],
            lookup_key=lookup_key,
            directives=directives,
        )
        products, options = [], []
        for nested in clusters:
            if nested.item.error is not None or nested.item.action == "skip":
                _not_applied(
                    [
                        *nested.products,
                        *nested.options,
                        *(i for g in nested.option_products.values() for i in g),
                    ],
                    "not applied: its cluster failed or was skipped",
                )
                continue
            for product in nested.products:
                if product.error is None:
                    product.changes.relations["parent"] = ClusterRef(nested.item.record_id)
                    products.append(product)
            for option in nested.options:
                if option.error is None:
                    option.changes.relations["cluster"] = nested.item.record_id
                    options.append(option)
        _in_chunks(products, PRODUCT_CHUNK, product_bulk_upsert, product_key, directives)
        _in_chunks(options, OPTION_CHUNK, cluster_option_bulk_upsert, option_key, directives)
        option_products: list[BulkItem] = []
        selectable: dict[int, list[BulkItem]] = {}
        for nested in clusters:
            for index, option in enumerate(nested.options):
                group = nested.option_products.get(index, [])
                if option.error is not None or option.action == "skip":
                    _not_applied(group, "not applied: its option failed or was skipped")
                    continue
                selectable[option.record_id] = group
                option_products += [item for item in group if item.error is None]
        _in_chunks(option_products, PRODUCT_CHUNK, product_bulk_upsert, product_key, directives)
        _make_selectable(
            sorted(
                {
                    (option_id, item.record_id)
                    for option_id, group in selectable.items()
                    for item in group
                    if item.error is None and item.record_id
                }
            )
        )
        _restore_indexes(clusters)
        failed = any(item.error is not None for item in all_items)
        if atomic and failed:
            _not_applied(all_items, "not applied: request is atomic")
        if dry_run or (atomic and failed):
            transaction.set_rollback(True)
    return clusters


# Nested items go to the engine in runs of the sizes a flat bulk request takes.
PRODUCT_CHUNK, OPTION_CHUNK = 2000, 1000


def _in_chunks(items: list[BulkItem], size: int, upsert, lookup_key: str, directives) -> None:
    """Run nested items through an entity's bulk upsert, `size` at a time. A key repeated
    across chunks fails its later items as in one request."""
    seen: dict = {}
    for item in items:
        if item.error is None and item.key is not None:
            if item.key in seen:
                item.fail(
                    CatalogueError(
                        Code.PAYLOAD_VALIDATION,
                        f"{lookup_key} [{item.key_value}] appears more than once in this request",
                    )
                )
            else:
                seen[item.key] = item
    for start in range(0, len(items), size):
        chunk = items[start : start + size]
        _renumber(chunk)
        upsert(items=chunk, lookup_key=lookup_key, directives=directives)


def _renumber(items: list[BulkItem]) -> None:
    """Give nested items distinct positions for one engine run (kept to restore later)."""
    for position, item in enumerate(items):
        item.extra.setdefault("position", item.index)
        item.index = position


def _restore_indexes(clusters: list[NestedCluster]) -> None:
    for nested in clusters:
        for item in (
            *nested.products,
            *nested.options,
            *(i for g in nested.option_products.values() for i in g),
        ):
            item.index = item.extra.get("position", item.index)


def cluster_product_ids(cluster_id: int) -> list[int]:
    return list(
        Product.objects.filter(cluster_id=cluster_id).order_by("pk").values_list("pk", flat=True)
    )
