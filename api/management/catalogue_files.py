"""Catalogue files for the import and export commands: NDJSON and CSV, rows and rejects.

NDJSON holds one bulk item per line, exactly as the bulk endpoint takes it (and as the export
endpoint writes records). CSV holds the same items flattened into columns:

- a localized field has a column per language: ``names.EN``, ``descriptions.NL``;
- a parent reference has a column per part: ``parent.id``, ``parent.source``, ``parent.sourceId``;
- attributes are ``attributes.COLOR`` columns, or one ``attributes`` column of JSON text;
- ``source`` and ``sourceId`` give one source pair, ``sources`` (JSON text) the whole set;
- other fields keep their API name; numbers are converted, empty cells are left out.

Either format may carry a ``type`` field (``product``/``category``/``cluster``) per row; ``_errors`` (what
the reject file adds) is ignored, so a fixed reject file imports as it is. An NDJSON line that
was not a JSON object is rejected as ``{"_line": "<its text>"}``; once fixed, the text is read.
"""

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from django.conf import settings

from api.importing import item_fields

ERRORS_FIELD = "_errors"
# A rejected NDJSON line that was not a JSON object, kept as text for the reject file.
LINE_FIELD = "_line"
TYPE_FIELD = "type"
# A row type as files spell it -> the resource.
TYPES = {
    "product": "products",
    "products": "products",
    "category": "categories",
    "categories": "categories",
    "cluster": "clusters",
    "clusters": "clusters",
}
SINGULAR = {"products": "product", "categories": "category", "clusters": "cluster"}
_INTEGER = re.compile(r"^[+-]?\d+$")


@dataclass
class Row:
    """One row of an input file: where it was, what it said, and the item it makes."""

    number: int
    original: Any  # the parsed line (NDJSON) or the row as a dict of cells (CSV)
    item: dict | None = None
    resource: str | None = None
    errors: list[dict] = field(default_factory=list)


def file_format(path: Path, given: str | None) -> str:
    if given:
        return given
    suffix = path.suffix.lower()
    if suffix in (".ndjson", ".jsonl"):
        return "ndjson"
    if suffix == ".csv":
        return "csv"
    raise ValueError(f"Cannot tell the format of {path.name}: use --format ndjson or csv")


def reject_path(path: Path) -> Path:
    """products.csv -> products.rejects.csv, next to the input."""
    return path.with_name(f"{path.stem}.rejects{path.suffix}")


def error_entry(code: int, type_name: str, message: str) -> dict:
    return {"code": code, "type": type_name, "messages": [message]}


class CountingReader(io.RawIOBase):
    """A binary file that counts the bytes read from it, for progress by position."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self.raw.readinto(buffer)
        self.consumed += count or 0
        return count


def _set_resource(row: Row, forced: str | None, value) -> None:
    """The row's resource: its type field, which must agree with --resource when given."""
    given = TYPES.get(str(value).strip().lower()) if value not in (None, "") else None
    row.resource = forced or given
    if row.resource is None:
        message = f"{TYPE_FIELD}: must be product or category (or give --resource)"
    elif forced and value not in (None, "") and given != forced:
        message = f"{TYPE_FIELD}: {value} is not one of the {forced} this import was given"
    else:
        return
    row.errors.append(error_entry(10007, "SchemaValidationException", message))


def read_ndjson(stream: BinaryIO, forced: str | None) -> Iterator[Row]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        row = Row(number=number, original=None)
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            row.original = {LINE_FIELD: line.decode(errors="replace").rstrip("\n")}
            row.errors.append(
                error_entry(10005, "InvalidJSONPayload", f"line {number} is not JSON: {exc}")
            )
            yield row
            continue
        if not isinstance(value, dict):
            row.original = {LINE_FIELD: line.decode().rstrip("\n")}
            row.errors.append(
                error_entry(10007, "SchemaValidationException", "item must be a JSON object")
            )
            yield row
            continue
        row.original = value
        if isinstance(value.get(LINE_FIELD), str) and set(value) <= {LINE_FIELD, ERRORS_FIELD}:
            # A rejected line that was not JSON, fixed in the reject file: read the fix.
            yield from _retry_line(value[LINE_FIELD], number, forced)
            continue
        row.item = {k: v for k, v in value.items() if k not in (ERRORS_FIELD, TYPE_FIELD)}
        _set_resource(row, forced, value.get(TYPE_FIELD))
        yield row


def _retry_line(text: str, number: int, forced: str | None) -> Iterator[Row]:
    for row in read_ndjson(io.BytesIO(text.encode() + b"\n"), forced):
        row.number = number
        yield row


def read_csv(stream: BinaryIO, forced: str | None) -> tuple[list[str], Iterator[Row]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    header = list(reader.fieldnames or [])

    def rows() -> Iterator[Row]:
        for cells in reader:
            row = Row(number=reader.line_num, original=cells)
            _set_resource(row, forced, cells.get(TYPE_FIELD))
            if row.resource is not None:
                try:
                    row.item = csv_item(cells, row.resource)
                except ValueError as exc:
                    row.errors.append(error_entry(10007, "SchemaValidationException", str(exc)))
            yield row

    return header, rows()


def csv_item(cells: dict[str, str | None], resource: str) -> dict:
    """Turn one CSV row into a bulk item of `resource`."""
    fields = item_fields(resource)
    item: dict[str, Any] = {}
    for column, raw in cells.items():
        if column is None:
            raise ValueError("row has more cells than the header has columns")
        value = (raw or "").strip() if raw is not None else ""
        if value == "" or column in (ERRORS_FIELD, TYPE_FIELD):
            continue
        name, _, part = column.partition(".")
        kind = fields[name].kind if name in fields else None
        if part and kind == "localized":
            item.setdefault(name, []).append({"language": part.upper(), "value": raw})
        elif part and kind == "reference":
            kinds = dict(fields[name].parts)
            item.setdefault(name, {})[part] = _typed(kinds.get(part), value)
        elif part and kind == "attributes":
            item.setdefault(name, []).append({"name": part, "value": value})
        elif kind in ("attributes", "sources"):
            try:
                item[name] = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise ValueError(f"{column}: must be JSON text") from None
        elif name == "id" and not part:
            item[name] = _typed("integer", value)
        else:
            item[column] = _typed(kind, value)
    return item


def _typed(kind: str | None, value: str):
    """Numbers from text; anything else (or a malformed number) as given, for the API to judge."""
    if kind == "integer" and _INTEGER.match(value):
        return int(value)
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return value
    return value


def csv_columns(resources: list[str]) -> list[str]:
    """Export columns for these resources: type, id, then every writable field flattened."""
    columns = [TYPE_FIELD, "id"]
    languages = settings.CATALOGUE_LANGUAGES
    for resource in resources:
        for name, spec in item_fields(resource).items():
            if spec.kind == "localized":
                wanted = [f"{name}.{language}" for language in languages]
            elif spec.kind == "reference":
                wanted = [f"{name}.{part}" for part, _ in spec.parts]
            elif spec.kind in ("readonly", "sources"):
                wanted = []
            else:
                wanted = [name]
            columns += [column for column in wanted if column not in columns]
    return columns


def csv_row(record: dict, resource: str, columns: list[str]) -> list[str]:
    """One exported record (the API's read shape) as cells under `columns`."""
    fields = item_fields(resource)
    cells: dict[str, str] = {TYPE_FIELD: SINGULAR[resource], "id": str(record["id"])}
    for name, spec in fields.items():
        value = record.get(name)
        if value is None:
            continue
        if spec.kind == "localized":
            for element in value:
                cells[f"{name}.{element['language']}"] = element["value"]
        elif spec.kind == "reference":
            for part, part_value in value.items():
                cells[f"{name}.{part}"] = str(part_value)
        elif spec.kind == "attributes":
            cells[name] = orjson.dumps(value).decode() if value else ""
        elif spec.kind in ("text", "integer", "number"):
            cells[name] = str(value)
    return [cells.get(column, "") for column in columns]


def errors_text(errors: list[dict]) -> str:
    """Errors for a CSV cell: 'code Type: message' joined by ' | '."""
    return " | ".join(
        f"{error['code']} {error['type']}: {message}"
        for error in errors
        for message in error["messages"]
    )


class RejectWriter:
    """Failed rows in the input's format, each with its errors in `_errors`; opened lazily."""

    def __init__(self, path: Path, file_format: str, header: list[str] | None = None):
        self.path = path
        self.format = file_format
        self.header = [c for c in (header or []) if c != ERRORS_FIELD] + [ERRORS_FIELD]
        self.count = 0
        self._file = None
        self._csv = None

    def write(self, row: Row) -> None:
        if self._file is None:
            self._file = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115
            if self.format == "csv":
                self._csv = csv.DictWriter(self._file, self.header, extrasaction="ignore")
                self._csv.writeheader()
        self.count += 1
        if self.format == "csv":
            self._csv.writerow({**row.original, ERRORS_FIELD: errors_text(row.errors)})
        else:
            line = {**row.original, ERRORS_FIELD: row.errors}
            self._file.write(orjson.dumps(line).decode() + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
