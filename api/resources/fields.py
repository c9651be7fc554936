"""Field kinds: how one API field is written, stored, read back, built in SQL and documented.

A resource's field table pairs each API name with a model field and a kind; the write Struct,
the change conversion, the Python presenter, the SQL JSON builder and the OpenAPI output
schema all come from that one table.
"""

from dataclasses import dataclass, field
from decimal import Decimal as PyDecimal
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from catalogue import rules
from catalogue.errors import CatalogueError, Code

INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Kind:
    """A string of up to `max_length` characters (the base kind)."""

    max_length: int = 255

    def write_type(self) -> Any:
        return Annotated[str, Meta(max_length=self.max_length)]

    def to_model(self, value, path: str):
        return value

    def to_wire(self, value):
        return value

    def sql(self, column: str) -> str:
        return column

    def schema(self) -> dict:
        return {"type": "string", "maxLength": self.max_length}


Text = Kind


@dataclass(frozen=True)
class Choice(Kind):
    """One of a model's TextChoices values."""

    choices: tuple[tuple[str, str], ...] = ()

    def write_type(self) -> Any:
        return Literal[tuple(value for value, _ in self.choices)]

    def schema(self) -> dict:
        return {
            "type": "string",
            "enum": [value for value, _ in self.choices],
            "description": ", ".join(f"{value} {label}" for value, label in self.choices),
        }


@dataclass(frozen=True)
class YesNo(Kind):
    """A boolean column written and read as "Y" / "N"."""

    def write_type(self) -> Any:
        return Literal["Y", "N"]

    def to_model(self, value, path: str):
        return value == "Y"

    def to_wire(self, value):
        return "Y" if value else "N"

    def sql(self, column: str) -> str:
        return f"CASE WHEN {column} THEN 'Y' ELSE 'N' END"

    def schema(self) -> dict:
        return {"$ref": "#/components/schemas/YesNo"}


@dataclass(frozen=True)
class Flag(Kind):
    """A boolean read as JSON true/false; "Y" / "N" are accepted on input too."""

    def write_type(self) -> Any:
        return bool | Literal["Y", "N"]

    def to_model(self, value, path: str):
        return value is True or value == "Y"

    def sql(self, column: str) -> str:
        return column

    def schema(self) -> dict:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Integer(Kind):
    minimum: int = -(2**31)
    maximum: int = INT32_MAX

    def write_type(self) -> Any:
        return Annotated[int, Meta(ge=self.minimum, le=self.maximum)]

    def schema(self) -> dict:
        schema: dict = {"type": "integer"}
        if self.minimum >= 0:
            schema["minimum"] = self.minimum
        return schema


@dataclass(frozen=True)
class RecordId(Kind):
    """The id of another record, or null."""

    nullable: bool = True

    def write_type(self) -> Any:
        positive = Annotated[int, Meta(ge=1, le=2**63 - 1)]
        return positive | None if self.nullable else positive

    def schema(self) -> dict:
        return {"type": ["integer", "null"] if self.nullable else "integer"}


@dataclass(frozen=True)
class Decimal(Kind):
    """A non-negative decimal (4 places) or null; read back as a JSON number."""

    def write_type(self) -> Any:
        return Annotated[float, Meta(ge=0, le=1e11)] | None

    def to_model(self, value, path: str):
        if value is None:
            return None
        return PyDecimal(repr(value)).quantize(PyDecimal("0.0001"))

    def to_wire(self, value):
        if value is None:
            return None
        return int(value) if value == value.to_integral_value() else float(value)

    def sql(self, column: str) -> str:
        return f"trim_scale({column})"

    def schema(self) -> dict:
        return {"type": ["number", "null"], "minimum": 0}


ATTRIBUTE_NAME = rules.ATTRIBUTE_NAME


class Attribute(Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(pattern=ATTRIBUTE_NAME)]
    value: Annotated[str, Meta(max_length=255)]


@dataclass(frozen=True)
class Attributes(Kind):
    """Named values `[{"name": "COLOR", "value": "red"}]`; a write replaces the set."""

    def write_type(self) -> Any:
        return list[Attribute]

    def to_model(self, value, path: str):
        attributes = [{"name": attribute.name, "value": attribute.value} for attribute in value]
        for index, field_name, message in rules.attribute_problems(attributes):
            raise CatalogueError(Code.SCHEMA_VALIDATION, f"{path}[{index}].{field_name}: {message}")
        return attributes

    def schema(self) -> dict:
        return {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "pattern": ATTRIBUTE_NAME},
                    "value": {"type": "string", "maxLength": 255},
                },
                "required": ["name", "value"],
                "additionalProperties": False,
            },
            "description": "Named values, in the order last written.",
        }


@dataclass(frozen=True)
class Field:
    """One writable API field: its name, the model field it is stored in, and its kind."""

    api: str
    model: str
    kind: Kind = field(default_factory=Kind)
    description: str = ""

    def schema(self) -> dict:
        schema = dict(self.kind.schema())
        if self.description:
            if "$ref" in schema:
                return {"allOf": [schema], "description": self.description}
            schema["description"] = self.description
        return schema
