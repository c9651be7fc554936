"""Product input Struct and output representation."""

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

import orjson
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef
from django.db.models.functions import JSONObject
from msgspec import UNSET, Meta, Struct, UnsetType

from api.envelope import iso
from api.serializers.category import category_queryset, parent_ref, present_categories
from api.serializers.common import (
    LocalizedString,
    LocalizedWrite,
    Text255,
    YesNo,
    common_changes,
    flag,
    yes_no,
)
from api.serializers.read import localized_block, sources_block
from catalogue.errors import CatalogueError, Code
from catalogue.localized import localized_fields
from catalogue.models import Product, ProductCategory, ProductSource
from catalogue.services.common import RecordChanges

PRODUCT_EXPANDS = {"sources", "categories", "parent", "cluster"}
ATTRIBUTE_NAME = re.compile(r"^[A-Z0-9_]{1,64}$")
Int32 = Annotated[int, Meta(ge=0, le=2**31 - 1)]
PositiveInt32 = Annotated[int, Meta(ge=1, le=2**31 - 1)]
Dimension = Annotated[float, Meta(ge=0, le=1e11)]


class Attribute(Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(pattern=r"^[A-Z0-9_]{1,64}$")]
    value: Text255


class ProductParent(Struct, forbid_unknown_fields=True):
    id: int | UnsetType = UNSET
    source: Annotated[str, Meta(min_length=1, max_length=255)] | UnsetType = UNSET
    sourceId: Annotated[str, Meta(min_length=1, max_length=255)] | UnsetType = UNSET
    clusterId: int | UnsetType = UNSET


class ProductWrite(LocalizedWrite, kw_only=True):
    notes: list[LocalizedString] | UnsetType = UNSET
    packageDescriptions: list[LocalizedString] | UnsetType = UNSET
    sku: Text255 | UnsetType = UNSET
    supplier: Text255 | UnsetType = UNSET
    supplierCode: Text255 | UnsetType = UNSET
    manufacturer: Text255 | UnsetType = UNSET
    oemCode: Text255 | UnsetType = UNSET
    eanCode: Text255 | UnsetType = UNSET
    barCode: Text255 | UnsetType = UNSET
    shortName: Text255 | UnsetType = UNSET
    package: Text255 | UnsetType = UNSET
    packageUnit: Text255 | UnsetType = UNSET
    status: Literal["A", "N", "T", "P", "S", "R"] | UnsetType = UNSET
    taxCode: Literal["H", "L", "N"] | UnsetType = UNSET
    unit: PositiveInt32 | UnsetType = UNSET
    minimumQuantity: PositiveInt32 | UnsetType = UNSET
    packageUnitQuantity: Int32 | UnsetType = UNSET
    priority: Int32 | UnsetType = UNSET
    hidden: YesNo | UnsetType = UNSET
    orderable: YesNo | UnsetType = UNSET
    returnable: YesNo | UnsetType = UNSET
    physical: YesNo | UnsetType = UNSET
    width: Dimension | UnsetType | None = UNSET
    height: Dimension | UnsetType | None = UNSET
    depth: Dimension | UnsetType | None = UNSET
    weight: Dimension | UnsetType | None = UNSET
    attributes: list[Attribute] | UnsetType = UNSET
    parent: ProductParent | UnsetType | None = UNSET
    # Read-only fields a client may send back unchanged; they are ignored.
    categoryIds: Any = UNSET
    clusterId: Any = UNSET


# API name -> model field for plain fields, with the conversion from the wire value.
PLAIN_FIELDS: dict[str, tuple[str, Any]] = {
    "sku": ("sku", None),
    "supplier": ("supplier", None),
    "supplierCode": ("supplier_code", None),
    "manufacturer": ("manufacturer", None),
    "oemCode": ("oem_code", None),
    "eanCode": ("ean_code", None),
    "barCode": ("bar_code", None),
    "shortName": ("short_name", None),
    "package": ("package", None),
    "packageUnit": ("package_unit", None),
    "status": ("status", None),
    "taxCode": ("tax_code", None),
    "unit": ("unit", None),
    "minimumQuantity": ("minimum_quantity", None),
    "packageUnitQuantity": ("package_unit_quantity", None),
    "priority": ("priority", None),
    "hidden": ("hidden", yes_no),
    "orderable": ("orderable", yes_no),
    "returnable": ("returnable", yes_no),
    "physical": ("physical", yes_no),
    "width": ("width", "decimal"),
    "height": ("height", "decimal"),
    "depth": ("depth", "decimal"),
    "weight": ("weight", "decimal"),
}


def _decimal(value: float | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(repr(value)).quantize(Decimal("0.0001"))


def product_changes(item: ProductWrite, prefix: str = "") -> RecordChanges:
    changes = common_changes(item, prefix)
    for api_name, (model_field, conversion) in PLAIN_FIELDS.items():
        value = getattr(item, api_name)
        if value is UNSET:
            continue
        if conversion == "decimal":
            value = _decimal(value)
        elif conversion is not None:
            value = conversion(value)
        changes.fields[model_field] = value
    if item.attributes is not UNSET:
        seen = set()
        for index, attribute in enumerate(item.attributes):
            if attribute.name in seen:
                raise CatalogueError(
                    Code.SCHEMA_VALIDATION,
                    f'{prefix}attributes[{index}].name: duplicate attribute "{attribute.name}"',
                )
            seen.add(attribute.name)
        changes.fields["attributes"] = [
            {"name": attribute.name, "value": attribute.value} for attribute in item.attributes
        ]
    if item.parent is not UNSET:
        parent = item.parent
        if parent is not None and parent.clusterId is not UNSET:
            raise CatalogueError(
                Code.PAYLOAD_VALIDATION,
                f"{prefix}parent.clusterId: placing products in clusters is not available yet",
            )
        own_source = item.source if item.source is not UNSET else None
        changes.relations["parent"] = parent_ref(parent, prefix, own_source)
    return changes


def product_queryset():
    """Products with their sources and category memberships folded into the same query."""
    return Product.objects.annotate(
        source_pairs=ArraySubquery(
            ProductSource.objects.filter(owner_id=OuterRef("pk"))
            .order_by("position", "id")
            .values_list(JSONObject(s="source", i="source_id"))
        ),
        category_links=ArraySubquery(
            ProductCategory.objects.filter(product_id=OuterRef("pk"))
            .order_by("-is_primary", "category_id")
            .values_list(JSONObject(c="category_id", p="is_primary"))
        ),
    )


def _decoded(values: list) -> list:
    """JSON objects of an annotation array; raw SQL reads (see lookups) return them as text."""
    return [orjson.loads(v) if isinstance(v, str) else v for v in values]


def _number(value: Decimal | None):
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def present_products(records: list[Product], *, language=None, expands=frozenset()) -> list:
    """Build the API representation of products in a constant number of queries."""
    categories: dict[int, dict] = {}
    if expands & {"categories", "parent"}:
        ids = {link["c"] for record in records for link in _decoded(record.category_links)}
        found = list(category_queryset().filter(pk__in=ids))
        categories = {row["id"]: row for row in present_categories(found, language=language)}
    fields = localized_fields(Product)
    result = []
    for record in records:
        links = _decoded(record.category_links)
        pairs = _decoded(record.source_pairs)
        primary = links[0]["c"] if links and links[0]["p"] else None
        row = record.__dict__
        data = {
            "id": record.pk,
            "language": record.language,
            **localized_block(row, fields, record.language, language),
            "sku": record.sku,
            "supplier": record.supplier,
            "supplierCode": record.supplier_code,
            "manufacturer": record.manufacturer,
            "oemCode": record.oem_code,
            "eanCode": record.ean_code,
            "barCode": record.bar_code,
            "shortName": record.short_name,
            "package": record.package,
            "packageUnit": record.package_unit,
            "status": record.status,
            "taxCode": record.tax_code,
            "unit": record.unit,
            "minimumQuantity": record.minimum_quantity,
            "packageUnitQuantity": record.package_unit_quantity,
            "priority": record.priority,
            "hidden": flag(record.hidden),
            "orderable": flag(record.orderable),
            "returnable": flag(record.returnable),
            "physical": flag(record.physical),
            "width": _number(record.width),
            "height": _number(record.height),
            "depth": _number(record.depth),
            "weight": _number(record.weight),
            "attributes": record.attributes,
            "parent": {"id": primary} if primary else None,
            **sources_block([(pair["s"], pair["i"]) for pair in pairs]),
            "categoryIds": [link["c"] for link in links],
            "clusterId": None,
            "createdAt": iso(record.created_at),
            "lastModifiedAt": iso(record.last_modified_at),
        }
        if "parent" in expands and primary:
            data["parent"] = categories.get(primary)
        if "categories" in expands:
            data["categories"] = [
                {**categories[link["c"]], "isPrimary": link["p"]}
                for link in links
                if link["c"] in categories
            ]
        if "cluster" in expands:
            data["cluster"] = None
        result.append(data)
    return result
