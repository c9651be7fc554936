"""The OpenAPI document: shared components, the helpers views declare operations with, hooks.

A view documents an action with drf-spectacular's ``extend_schema`` and the helpers below::

    @extend_schema(
        operation_id="categories_create",
        request=struct_body(CategoryWrite),
        responses=envelope_responses(201, "Category", errors=[*BODY_ERRORS, Code.CATEGORY_EXISTS]),
        parameters=[etag_header(201)],
    )

Request bodies come from the msgspec write Structs (the one definition of a resource's write
fields), response bodies from the output schemas registered here with ``@output_schema``, wrapped
in the success envelope; error responses list the contract codes they can carry. Every component
is added to the document by ``postprocess``.
"""

import copy
from collections.abc import Callable, Iterable

import django_filters
import msgspec
from django.conf import settings
from drf_spectacular.drainage import warn
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiRequest, OpenApiResponse
from rest_framework.permissions import SAFE_METHODS

from api.envelope import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from api.errors import http_status
from api.filters import RANGE_FILTERS
from api.resources.base import LOCALIZED_API_NAMES, SourcePair
from catalogue.errors import Code
from catalogue.localized import localized_fields

REF_PREFIX = "#/components/schemas/"
TOKEN_URL = "/oauth2/token/"
SECURITY_SCHEME = "oauth2"
NDJSON = "application/x-ndjson"
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"

# Errors any authenticated /v2/ operation can answer with, whatever it does. A path or query
# parameter holding text PostgreSQL cannot store (NUL, a lone surrogate) is refused with 10007
# before the operation runs, whichever it is.
COMMON_ERRORS = (Code.SCHEMA_VALIDATION, 401, 403, 429, 500)
# Errors of an operation that reads a JSON body.
BODY_ERRORS = (
    Code.INVALID_JSON_PAYLOAD,
    Code.SCHEMA_VALIDATION,
    Code.PAYLOAD_VALIDATION,
    Code.PAYLOAD_TOO_LARGE,
    Code.UNSUPPORTED_MEDIA_TYPE,
)
# Errors of resolving /<lookupKey>/<value> besides the entity's own NotFound.
LOOKUP_ERRORS = (Code.INVALID_LOOKUP_KEY, Code.PAYLOAD_VALIDATION)

_structs: dict[str, type[msgspec.Struct]] = {}
_output_schemas: dict[str, Callable[[], dict]] = {}
_generated: dict[str, dict] = {}


def ref(name: str) -> dict:
    return {"$ref": REF_PREFIX + name}


def nullable(schema: dict) -> dict:
    """Allow null besides `schema` (OpenAPI 3.1 / JSON Schema style)."""
    if isinstance(schema.get("type"), str) and "$ref" not in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def closed_object(properties: dict, *, optional: Iterable[str] = (), description: str = "") -> dict:
    """An object with exactly these properties, all required except `optional`."""
    required = [name for name in properties if name not in set(optional)]
    schema: dict = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def array_of(schema: dict, description: str = "") -> dict:
    result = {"type": "array", "items": schema}
    if description:
        result["description"] = description
    return result


# Registration ----------------------------------------------------------------------------------


def output_schema(name: str):
    """Register a function building the output schema component `name` (resolved lazily)."""

    def register(build: Callable[[], dict]) -> Callable[[], dict]:
        _output_schemas[name] = build
        return build

    return register


def register_struct(struct: type[msgspec.Struct]) -> dict:
    """A reference to the component of a msgspec Struct (added to the document)."""
    _structs[struct.__name__] = struct
    return ref(struct.__name__)


def struct_body(struct: type[msgspec.Struct]) -> dict:
    """A JSON request body described by a msgspec write Struct."""
    return {"application/json": register_struct(struct)}


def search_body(filterset_class, expands: Iterable[str], name: str) -> dict:
    """The `POST …/search` body for a resource: the list filters in their JSON form."""
    _generated[name] = _search_schema(filterset_class, sorted(expands))
    return {"application/json": ref(name)}


# Responses -------------------------------------------------------------------------------------

_ENVELOPES = {
    "single": ("SingleEnvelope", "Envelope", lambda name: ref(name)),
    "list": ("ListEnvelope", "ListEnvelope", lambda name: array_of(ref(name))),
    "collection": ("CollectionEnvelope", "CollectionEnvelope", lambda name: array_of(ref(name))),
}


def envelope_responses(
    status: int,
    schema: str | None = None,
    *,
    envelope: str = "single",
    errors: Iterable[int | Code] = (),
    not_modified: bool = False,
    description: str = "",
) -> dict:
    """Responses of an operation: its success envelope, then every error it can answer with.

    `schema` names an output component (``@output_schema``); None means the delete envelope
    (`{"data": {}, "messages": [...]}`). `envelope` is ``single`` (one record), ``list`` (a
    page) or ``collection`` (every item at once: data, messages, total). `errors` takes
    HTTP statuses (every contract code with that status) or `Code` members (exactly those).
    """
    if schema is None:
        body = ref("DoneEnvelope")
    else:
        base, suffix, data = _ENVELOPES[envelope]
        envelope_name = schema + suffix
        _generated[envelope_name] = {
            "allOf": [ref(base), {"type": "object", "properties": {"data": data(schema)}}]
        }
        body = ref(envelope_name)
    description = description or {201: "Created"}.get(status, "OK")
    responses: dict = {status: OpenApiResponse(response=body, description=description)}
    if not_modified:
        responses[304] = OpenApiResponse(
            description="Not modified: `If-None-Match` names the current `ETag`; no body."
        )
    responses.update(error_responses([*errors, *COMMON_ERRORS]))
    return responses


def results_responses(
    *,
    errors: Iterable[int | Code] = (),
    description: str = "",
    envelope: str = "ResultsEnvelope",
) -> dict:
    """Responses of a many-item operation: 200 with one `ItemResult` per item.

    A per-item failure is reported in its result, so `errors` lists only what rejects the whole
    request.
    """
    responses: dict = {
        200: OpenApiResponse(
            response=ref(envelope),
            description=description or "One result per item, in request order.",
        )
    }
    responses.update(error_responses([*errors, *COMMON_ERRORS]))
    return responses


def export_responses(schema: str, *, errors: Iterable[int | Code] = ()) -> dict:
    """Responses of `GET …/export`: an NDJSON stream of `schema` records, then the errors."""
    line = f"{REF_PREFIX}{schema}"
    responses: dict = {
        (200, NDJSON): OpenApiResponse(
            response={
                "type": "string",
                "description": (
                    f"NDJSON: one `{schema}` object ({line}) per line, exactly as a single "
                    "GET returns it, ordered by id; streamed, without pages."
                ),
            },
            description="Every matching record, one JSON object per line.",
        )
    }
    responses.update(error_responses([*errors, *COMMON_ERRORS]))
    return responses


def error_responses(errors: Iterable[int | Code]) -> dict:
    """Error envelope responses, one per HTTP status, narrowed to the codes it can carry."""
    by_status: dict[int, list[Code]] = {}
    for error in errors:
        codes = [error] if isinstance(error, Code) else [c for c in Code if http_status(c) == error]
        if not codes:
            raise ValueError(f"No contract error code has HTTP status {error}")
        for code in codes:
            known = by_status.setdefault(http_status(code), [])
            if code not in known:
                known.append(code)
    responses = {}
    for status, codes in sorted(by_status.items()):
        codes.sort(key=lambda code: code.number)
        narrowed = {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {
                        "code": {"enum": [code.number for code in codes]},
                        "status": {"const": status},
                        "type": {"enum": [code.type_name for code in codes]},
                    },
                }
            },
        }
        responses[status] = OpenApiResponse(
            response={"allOf": [ref("ErrorEnvelope"), narrowed]},
            description="; ".join(f"{code.number} {code.type_name}" for code in codes),
        )
    return responses


# Parameters ------------------------------------------------------------------------------------


def _languages() -> list[str]:
    return list(settings.CATALOGUE_LANGUAGES)


def lookup_parameters(lookup) -> list[OpenApiParameter]:
    """`{key}`/`{value}` path parameters and the companion query parameters of a `Lookup`."""
    parameters = [
        OpenApiParameter(
            "key",
            str,
            OpenApiParameter.PATH,
            enum=list(lookup.keys),
            description="Lookup key: which identifier `value` is.",
        ),
        OpenApiParameter(
            "value", str, OpenApiParameter.PATH, description="The identifier's value."
        ),
    ]
    companions: dict[str, list[str]] = {}
    for key, kind in lookup.keys.items():
        if kind.companion:
            companions.setdefault(kind.companion, []).append(key)
    for companion, keys in companions.items():
        parameters.append(
            OpenApiParameter(
                companion,
                str,
                OpenApiParameter.QUERY,
                description=f"Required with lookup key {', '.join(keys)}.",
            )
        )
    return parameters


def language_parameter() -> OpenApiParameter:
    return OpenApiParameter(
        "language",
        {"type": "string", "enum": _languages()},
        OpenApiParameter.QUERY,
        description=(
            "Restrict every localized array to this language, falling back to the record's "
            "default language. Accepted in any case."
        ),
    )


def expands_parameter(expands: Iterable[str]) -> OpenApiParameter:
    return OpenApiParameter(
        "expands",
        {"type": "array", "items": {"type": "string", "enum": sorted(expands)}},
        OpenApiParameter.QUERY,
        style="form",
        explode=False,
        description="Related data to inline, comma-separated.",
    )


def page_parameters() -> list[OpenApiParameter]:
    return [
        OpenApiParameter(
            "page",
            {"type": "integer", "minimum": 1, "default": 1},
            OpenApiParameter.QUERY,
            description="1-based page number.",
        ),
        OpenApiParameter(
            "offset",
            {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_PAGE_SIZE,
                "default": DEFAULT_PAGE_SIZE,
            },
            OpenApiParameter.QUERY,
            description="Page size.",
        ),
    ]


def integer_parameter(name: str, minimum: int, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        {"type": "integer", "minimum": minimum},
        OpenApiParameter.QUERY,
        description=description,
    )


def list_parameters(filterset_class, expands: Iterable[str]) -> list[OpenApiParameter]:
    """Query parameters of `GET /v2/<resource>`: filters, sort, page, language, expands."""
    sort_fields = ", ".join(filterset_class.sort_fields)
    return [
        *filter_parameters(filterset_class),
        OpenApiParameter(
            "sort",
            str,
            OpenApiParameter.QUERY,
            description=(
                f"Comma-separated sort fields, `-` for descending: {sort_fields}. "
                "Ordering always ends with `id`."
            ),
        ),
        *page_parameters(),
        language_parameter(),
        expands_parameter(expands),
    ]


FILTER_DESCRIPTIONS = {
    "term": (
        "Text search over names in every language, codes and source ids. At most 200 characters. "
        "Case and accents do not matter, and letters and digits are words apart: `DN 50`, `DN50` "
        "and `dn-50` are the same search. Every word must match, one of these ways: as a whole "
        'word; by its stem, so plurals and other inflections match (`kabels` finds "Kabel", '
        '`valves` finds "Valve"; each name is stemmed in its own language); the last word also '
        'as the start of a longer word (search as you type: `thermo` finds "Thermostat"); '
        'inside a longer word, for compound words (`kraan` finds "Kogelkraan", `kabel` finds '
        '"Stroomkabel"); or corrected, when a word the catalogue does not know is one or two '
        'letters off one it does (`vlave` finds "Valve").\n\n'
        "Without `sort`, matches are ranked, best first: (1) the term is a record's code, EAN or "
        "source id exactly; (2) every word matches whole in the name in `language` (the "
        "catalogue's default language when absent); (3) every word matches whole in some "
        "language or code; (4) by stems or the start of the last word; (5) inside compound "
        "words; (6) by typo correction. A record ranks by the weakest way any of its words "
        "needed; ties are ordered by `id`. With `sort`, the requested order replaces the ranking."
    ),
    "ids": "Record ids, comma-separated; at most 1,000 (every list filter takes at most 1,000 values).",
    "createdAtFrom": "Created at or after this time.",
    "createdAtTo": "Created before this time.",
    "lastModifiedAtFrom": "Last modified at or after this time.",
    "lastModifiedAtTo": "Last modified before this time.",
}


def _filter_schema(filter_) -> dict:
    if isinstance(filter_, django_filters.BaseInFilter):
        if isinstance(filter_, django_filters.NumberFilter):
            return array_of({"type": "integer"})
        if isinstance(filter_, django_filters.ChoiceFilter):
            choices = [value for value, _ in filter_.extra["choices"]]
            return array_of({"type": "string", "enum": choices})
        return array_of({"type": "string"})
    if isinstance(filter_, django_filters.ChoiceFilter):
        return {"type": "string", "enum": [value for value, _ in filter_.extra["choices"]]}
    if isinstance(filter_, django_filters.IsoDateTimeFilter):
        return {"type": "string", "format": "date-time"}
    if isinstance(filter_, django_filters.BooleanFilter):
        return {"type": "boolean"}
    if isinstance(filter_, django_filters.NumberFilter):
        return {"type": "integer"}
    return {"type": "string"}


def filter_parameters(filterset_class) -> list[OpenApiParameter]:
    """One query parameter per filter of a FilterSet, in its query-string form."""
    parameters = []
    for name, filter_ in filterset_class.base_filters.items():
        if name == "sources":
            # The query form of `sources` is one pair of parameters (see params_from_query).
            parameters += [
                OpenApiParameter(
                    "source",
                    str,
                    OpenApiParameter.QUERY,
                    description="External source; give with `sourceIds`.",
                ),
                OpenApiParameter(
                    "sourceIds",
                    array_of({"type": "string"}),
                    OpenApiParameter.QUERY,
                    style="form",
                    explode=False,
                    description="Ids in `source`, comma-separated.",
                ),
            ]
            continue
        schema = _filter_schema(filter_)
        array = schema.get("type") == "array"
        parameters.append(
            OpenApiParameter(
                name,
                schema,
                OpenApiParameter.QUERY,
                style="form" if array else None,
                explode=False if array else None,
                description=FILTER_DESCRIPTIONS.get(name, ""),
            )
        )
    return parameters


def _search_schema(filterset_class, expands: list[str]) -> dict:
    filters: dict[str, dict] = {}
    range_bounds = {f"{name}{end}" for name in RANGE_FILTERS for end in ("From", "To")}
    for name, filter_ in filterset_class.base_filters.items():
        if name in range_bounds:
            continue
        if name == "sources":
            filters[name] = array_of(
                closed_object(
                    {"source": {"type": "string"}, "sourceIds": array_of({"type": "string"})}
                )
            )
            continue
        schema = _filter_schema(filter_)
        if isinstance(filter_, django_filters.ChoiceFilter) and schema.get("type") != "array":
            # A Y/N filter also takes a JSON boolean in a body.
            schema = {"anyOf": [schema, {"type": "boolean"}]}
        if name == "term":
            schema["description"] = FILTER_DESCRIPTIONS[name]
        filters[name] = schema
    for name in RANGE_FILTERS:
        bound = nullable({"type": "string", "format": "date-time"})
        filters[name] = {
            **closed_object({"from": bound, "to": bound}, optional=("from", "to")),
            "description": "Half-open range: from <= value < to; either end optional.",
        }
    sort_item = closed_object(
        {
            "field": {"type": "string", "enum": list(filterset_class.sort_fields)},
            "order": {"type": "string", "enum": ["ASC", "DESC"], "default": "ASC"},
        },
        optional=("order",),
    )
    return closed_object(
        {
            "filters": closed_object(filters, optional=filters),
            "sort": {
                "anyOf": [array_of(sort_item), {"type": "string"}],
                "description": "Sort fields in order; ordering always ends with `id`.",
            },
            "page": {"type": "integer", "minimum": 1, "default": 1},
            "offset": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_PAGE_SIZE,
                "default": DEFAULT_PAGE_SIZE,
            },
            "language": {"type": "string", "enum": _languages()},
            "expands": array_of({"type": "string", "enum": expands}),
        },
        optional=("filters", "sort", "page", "offset", "language", "expands"),
        description="The filters of the list endpoint in their JSON form.",
    )


IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description="Apply only if the record's current `ETag` is listed (else 412).",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description="Answer 304 without a body when the record's current `ETag` is listed.",
)


def etag_header(*statuses: int) -> OpenApiParameter:
    """The `ETag` response header on the given statuses."""
    return OpenApiParameter(
        "ETag",
        str,
        OpenApiParameter.HEADER,
        response=list(statuses),
        required=True,
        description="Version of the record; send it back in `If-Match`/`If-None-Match`.",
    )


# Resource operations -----------------------------------------------------------------------------


def lookup_errors(lookup) -> tuple[Code, ...]:
    """Errors of resolving `/<lookupKey>/<value>` with a `Lookup`."""
    several = any(not kind.unique for kind in lookup.keys.values())
    return (
        *LOOKUP_ERRORS,
        *([lookup.multiple_found] if several and lookup.multiple_found else []),
        lookup.not_found,
    )


def translation_parameter() -> OpenApiParameter:
    return OpenApiParameter(
        "language",
        {"type": "string", "enum": _languages()},
        OpenApiParameter.PATH,
        description="The language to remove (any case).",
    )


def resource_properties(resource) -> dict:
    """The fields of a record as the resource's presenter builds them, expands included."""
    properties: dict = {"id": {"type": "integer"}}
    if resource.has_language:
        properties["language"] = ref("Language")
    properties.update(localized_properties(resource.model))
    properties.update({f.api: f.schema() for f in resource.fields})
    if resource.spec.source_model is not None:
        properties.update(source_properties())
    properties.update(resource.computed)
    properties.update(timestamp_properties())
    properties.update(resource.expanded)
    return properties


def resource_output_schema(resource) -> dict:
    return closed_object(resource_properties(resource), optional=resource.expanded)


def _bulk_components(resource) -> None:
    """The bulk bodies of a resource: items, directives and the delete body."""
    from api.bulk import DIRECTIVES

    entity, name, limit = resource.entity, resource.name, resource.bulk_limit
    fields = sorted(resource.directive_fields)
    field_list = nullable(array_of({"type": "string", "enum": fields}))
    _generated[f"{entity}BulkDirectives"] = {
        "anyOf": [
            array_of(
                closed_object(
                    {
                        "operation": {"type": "string", "enum": list(DIRECTIVES)},
                        "fields": field_list,
                    },
                    optional=("fields",),
                )
            ),
            closed_object({directive: field_list for directive in DIRECTIVES}, optional=DIRECTIVES),
        ],
        "description": (
            "skipIfNotEmpty: keep these fields where they have a value; skipMoveOnUpdate: "
            "ignore `parent` of existing records; mergeTranslationsOnUpdate: languages an item "
            "leaves out of a localized field it sends are cleared; skipCreate: do not create "
            "records without a match."
        ),
    }
    keys_text = "; ".join(
        f"`{key}`: {', '.join(needed)}" for key, needed in resource.bulk_keys.items()
    )
    items = {"maxItems": limit}
    struct = resource.write_struct
    _structs[struct.__name__] = struct
    _generated[f"{entity}Bulk"] = closed_object(
        {
            name: array_of(ref(struct.__name__)) | items,
            "directives": ref(f"{entity}BulkDirectives"),
        },
        optional=("directives",),
        description=(
            f"Up to {limit} items, each matched by the URL's lookup key ({keys_text}). An item "
            "that is not valid fails alone."
        ),
    )
    _generated[f"{entity}BulkDelete"] = closed_object(
        {
            name: array_of(
                {"type": "object", "description": f"The key fields of the lookup key: {keys_text}."}
            )
            | items
        },
        description=f"Up to {limit} records, named by the URL's lookup key.",
    )


def bulk_body(resource) -> dict:
    """The request body of a bulk upsert of `resource` (JSON or NDJSON)."""
    _bulk_components(resource)
    return {"application/json": ref(f"{resource.entity}Bulk"), NDJSON: NDJSON_BODY}


NDJSON_BODY = {
    "type": "string",
    "description": (
        "NDJSON: one item per line; directives then go in the `directives` query "
        "parameter, in the object form, JSON-encoded."
    ),
}
BULK_ERRORS = (
    Code.INVALID_JSON_PAYLOAD,
    Code.SCHEMA_VALIDATION,
    Code.INVALID_LOOKUP_KEY,
    Code.PAYLOAD_TOO_LARGE,
    Code.UNSUPPORTED_MEDIA_TYPE,
)


def bulk_parameters(resource, *, upsert: bool) -> list[OpenApiParameter]:
    parameters = [
        OpenApiParameter(
            "key",
            str,
            OpenApiParameter.PATH,
            enum=list(resource.bulk_keys),
            description="The lookup key that matches items to records.",
        ),
        OpenApiParameter(
            "dryRun",
            {"type": "boolean", "default": False},
            OpenApiParameter.QUERY,
            description="Report every outcome as a real run would, writing nothing.",
        ),
        OpenApiParameter(
            "atomic",
            {"type": "boolean", "default": False},
            OpenApiParameter.QUERY,
            description="Apply nothing if any item fails.",
        ),
    ]
    if upsert:
        parameters.append(
            OpenApiParameter(
                "directives",
                str,
                OpenApiParameter.QUERY,
                description="With an NDJSON body: the directives object, JSON-encoded.",
            )
        )
    return parameters


def with_example(request: dict, example) -> dict:
    """A request body (media type -> schema) whose JSON form carries this example."""
    if example is None:
        return request
    json_body = OpenApiRequest(
        request["application/json"],
        examples=[OpenApiExample("Example", value=example, request_only=True)],
    )
    return {**request, "application/json": json_body}


def standard_operation(resource, action: str) -> dict | None:
    """The documentation of a standard operation of a resource, from its declaration."""
    operation = _standard_operation(resource, action)
    if operation is not None and "request" in operation:
        operation["request"] = with_example(operation["request"], resource.examples.get(action))
    return operation


def _standard_operation(resource, action: str) -> dict | None:
    entity, name = resource.entity, resource.name
    noun = resource.spec.noun
    lookup = lookup_errors(resource.lookup)
    extra = tuple(resource.extra_errors.get(action, ()))
    described = resource.descriptions.get(action, "")
    _output_schemas.setdefault(entity, lambda: resource_output_schema(resource))
    record_parameters = lookup_parameters(resource.lookup)
    if action == "list":
        return {
            "operation_id": f"{name}_list",
            "summary": f"List {name}",
            "parameters": list_parameters(resource.filterset, resource.expands),
            "responses": envelope_responses(
                200, entity, envelope="list", errors=[Code.SCHEMA_VALIDATION, Code.PAGINATION]
            ),
        }
    if action == "search":
        return {
            "operation_id": f"{name}_search",
            "summary": f"Search {name}",
            "description": "The filters of the list endpoint in a JSON body. Needs the read scope.",
            "request": search_body(resource.filterset, resource.expands, f"{entity}Search"),
            "responses": envelope_responses(
                200, entity, envelope="list", errors=[*BODY_ERRORS, Code.PAGINATION]
            ),
        }
    if action == "export":
        return {
            "operation_id": f"{name}_export",
            "summary": f"Export {name} as NDJSON",
            "description": (
                f"Every {noun} matching the list filters, one JSON object per line, streamed "
                "in id order: `sort`, `page` and `offset` are checked but do not apply."
            ),
            "parameters": list_parameters(resource.filterset, resource.expands),
            "responses": export_responses(entity, errors=[Code.SCHEMA_VALIDATION, Code.PAGINATION]),
        }
    if action == "retrieve":
        return {
            "operation_id": f"{name}_retrieve",
            "summary": f"Read a {noun}",
            "parameters": [
                *record_parameters,
                language_parameter(),
                expands_parameter(resource.expands),
                IF_NONE_MATCH,
                etag_header(200, 304),
            ],
            "responses": envelope_responses(
                200, entity, not_modified=True, errors=[*lookup, Code.SCHEMA_VALIDATION]
            ),
        }
    if action == "create":
        return {
            "operation_id": f"{name}_create",
            "summary": f"Create a {noun}",
            "description": described,
            "request": struct_body(resource.write_struct),
            "parameters": [etag_header(201)],
            "responses": envelope_responses(
                201, entity, errors=[*BODY_ERRORS, *extra, resource.spec.exists]
            ),
        }
    if action == "partial_update":
        return {
            "operation_id": f"{name}_partial_update",
            "summary": f"Change a {noun}",
            "description": described,
            "request": struct_body(resource.write_struct),
            "parameters": [*record_parameters, IF_MATCH, etag_header(200)],
            "responses": envelope_responses(
                200,
                entity,
                errors=[
                    *BODY_ERRORS,
                    *lookup,
                    *extra,
                    resource.spec.exists,
                    Code.PRECONDITION_FAILED,
                ],
            ),
        }
    if action == "destroy":
        return {
            "operation_id": f"{name}_destroy",
            "summary": f"Delete a {noun}",
            "description": described,
            "parameters": [*record_parameters, IF_MATCH],
            "responses": envelope_responses(
                200, errors=[*lookup, *extra, Code.PRECONDITION_FAILED]
            ),
        }
    if action == "remove_translation":
        return {
            "operation_id": f"{name}_translation_destroy",
            "summary": f"Delete a translation of a {noun}",
            "description": (
                "Clears the language in every localized field; the default language cannot be "
                "removed."
            ),
            "parameters": [*record_parameters, translation_parameter(), IF_MATCH],
            "responses": envelope_responses(
                200,
                errors=[
                    *lookup,
                    Code.SCHEMA_VALIDATION,
                    Code.TRANSLATION_NOT_FOUND,
                    Code.PRECONDITION_FAILED,
                ],
            ),
        }
    if action in ("bulk_upsert", "bulk_delete"):
        _bulk_components(resource)
        upsert = action == "bulk_upsert"
        limit = resource.bulk_limit
        return {
            "operation_id": f"{name}_{action}",
            "summary": f"Create or update {name} in bulk" if upsert else f"Delete {name} in bulk",
            "description": (
                "A match by the lookup key is updated, anything else created. One result per "
                "item, in request order; an item fails alone."
                if upsert
                else "One result per item, in request order: `delete`, or `error` with the "
                "not-found code (or why it cannot go)."
            )
            + f" More than {limit} items: 413.",
            "request": {
                "application/json": ref(f"{entity}Bulk" if upsert else f"{entity}BulkDelete"),
                NDJSON: NDJSON_BODY,
            },
            "parameters": bulk_parameters(resource, upsert=upsert),
            "responses": results_responses(errors=BULK_ERRORS),
        }
    return None


class ResourceAutoSchema(AutoSchema):
    """Derives every standard operation of a resource's viewset from its declaration;
    only a resource's own actions carry `extend_schema`."""

    def _standard(self) -> dict | None:
        resource = getattr(self.view, "resource", None)
        action = getattr(self.view, "action", None)
        if resource is None or action is None:
            return None
        return standard_operation(resource, action)

    def _pick(self, key: str, fallback):
        standard = self._standard()
        if standard is not None and key in standard:
            return standard[key]
        return fallback()

    def get_operation_id(self):
        return self._pick("operation_id", super().get_operation_id)

    def get_summary(self):
        return self._pick("summary", super().get_summary)

    def get_description(self):
        standard = self._standard()
        if standard is not None:
            return standard.get("description", "")
        return super().get_description()

    def get_request_serializer(self):
        return self._pick("request", super().get_request_serializer)

    def get_response_serializers(self):
        return self._pick("responses", super().get_response_serializers)

    def get_override_parameters(self):
        own = super().get_override_parameters()
        standard = self._standard()
        return [*own, *standard.get("parameters", [])] if standard else own

    def get_tags(self):
        resource = getattr(self.view, "resource", None)
        return [resource.name] if resource is not None else super().get_tags()


# Security --------------------------------------------------------------------------------------


def required_scopes(view, method: str) -> list[str]:
    """The scopes api.auth.ScopePermission demands for this view action and method."""
    entity = getattr(view, "scope_entity", None)
    if entity is None:
        return []
    action = getattr(view, "action", None)
    read_only = method in SAFE_METHODS or action in getattr(view, "read_actions", ())
    needed = [f"{entity}.{'read' if read_only else 'write'}"]
    return needed + list(getattr(view, "extra_scopes", {}).get(action, []))


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.BearerTokenAuthentication"
    name = SECURITY_SCHEME

    def get_security_definition(self, auto_schema):
        return {
            "type": "oauth2",
            "description": (
                "OAuth2 client credentials: the token is a Bearer JWT valid for "
                f"{settings.TOKEN_TTL} seconds. A `*.write` scope implies the `*.read` scope "
                "of the same entity."
            ),
            "flows": {
                "clientCredentials": {"tokenUrl": TOKEN_URL, "scopes": dict(settings.API_SCOPES)}
            },
        }

    def get_security_requirement(self, auto_schema):
        return {self.name: required_scopes(auto_schema.view, auto_schema.method)}


# Components ------------------------------------------------------------------------------------


def localized_properties(model) -> dict:
    """The LS arrays a record of `model` returns, from the localized-field registration."""
    return {
        LOCALIZED_API_NAMES[field]: array_of(ref("LocalizedValue"))
        for field in localized_fields(model)
    }


def source_properties() -> dict:
    return {
        "source": nullable({"type": "string", "description": "Source of the first pair."}),
        "sourceId": nullable({"type": "string", "description": "Id of the first pair."}),
        "sources": array_of(ref("SourcePair"), "Every (source, sourceId) pair, in order."),
    }


def timestamp_properties() -> dict:
    return {"createdAt": ref("Timestamp"), "lastModifiedAt": ref("Timestamp")}


def _base_components() -> dict:
    codes = list(Code)
    return {
        "Language": {
            "type": "string",
            "enum": _languages(),
            "description": "A catalogue language code, upper-case.",
        },
        "Timestamp": {
            "type": "string",
            "format": "date-time",
            "pattern": TIMESTAMP_PATTERN,
            "description": "ISO-8601 UTC with milliseconds and a Z.",
        },
        "YesNo": {"type": "string", "enum": ["Y", "N"]},
        "LocalizedValue": closed_object({"language": ref("Language"), "value": {"type": "string"}}),
        "IdReference": closed_object({"id": {"type": "integer"}}),
        "ErrorEnvelope": closed_object(
            {
                "error": closed_object(
                    {
                        "code": {"type": "integer", "enum": sorted({c.number for c in codes})},
                        "status": {
                            "type": "integer",
                            "enum": sorted({http_status(c) for c in codes}),
                        },
                        "type": {"type": "string", "enum": sorted({c.type_name for c in codes})},
                        "messages": array_of({"type": "string"}) | {"minItems": 1},
                        "moreInfo": {"type": "string"},
                    }
                )
            },
            description="Every /v2/ error.",
        ),
        "SingleEnvelope": closed_object(
            {
                "data": {"type": "object"},
                "messages": array_of({"type": "string"}),
                "total": {"type": "integer", "const": 1},
            },
            description="One record.",
        ),
        "CollectionEnvelope": closed_object(
            {
                "data": {"type": "array"},
                "messages": array_of({"type": "string"}),
                "total": {"type": "integer", "minimum": 0, "description": "Items in data."},
            },
            description="Every item at once, without pages.",
        ),
        "ListEnvelope": closed_object(
            {
                "data": {"type": "array"},
                "messages": array_of({"type": "string"}),
                "start": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "1-based position of the first item (0 when empty).",
                },
                "end": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "1-based position of the last item (0 when empty).",
                },
                "page": {"type": "integer", "minimum": 1},
                "pages": {"type": "integer", "minimum": 0},
                "total": {"type": "integer", "minimum": 0, "description": "Items on this page."},
                "offset": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_PAGE_SIZE,
                    "description": "Page size.",
                },
                "itemsFound": {"type": "integer", "minimum": 0, "description": "All matches."},
            },
            description="A page of a list or search.",
        ),
        "DoneEnvelope": closed_object(
            {
                "data": {"type": "object", "maxProperties": 0},
                "messages": array_of({"type": "string"}),
            },
            description="A completed delete.",
        ),
    }


ITEM_ACTIONS = ["create", "update", "skip", "delete", "move", "error"]


def _item_result(nested: dict | None = None, description: str = "") -> dict:
    """An item's outcome; `nested` adds the results of items nested in it (cluster bulk)."""
    nested = nested or {}
    schema = closed_object(
        {
            "index": {
                "type": "integer",
                "minimum": 0,
                "description": "Position of the item in its request array.",
            },
            "action": {"type": "string", "enum": ITEM_ACTIONS},
            "id": nullable(
                {"type": "integer", "description": "The record's id; null when not resolved."}
            ),
            "key": {
                "description": (
                    "The item's value of the lookup key, as sent (an id, a source id, a code); "
                    "null when the item lacks it."
                ),
            },
            "lookupKey": {"type": "string", "description": "Which key the item was named by."},
            "success": {"type": "boolean"},
            "class": {
                "type": "string",
                "enum": ["product", "cluster"],
                "description": "Kind of record, where one request mixes kinds.",
            },
            "errors": array_of(ref("ItemError"), "Why the item failed.") | {"minItems": 1},
            **nested,
        },
        optional=("class", "errors"),
        description=description or "The outcome of one item of a many-item operation.",
    )
    # A failed item says `error` and carries its errors; a successful one carries none.
    schema["if"] = {"properties": {"success": {"const": False}}, "required": ["success"]}
    schema["then"] = {"properties": {"action": {"const": "error"}}, "required": ["errors"]}
    schema["else"] = {"properties": {"action": {"not": {"const": "error"}}, "errors": False}}
    return schema


@output_schema("ItemResult")
def item_result_schema() -> dict:
    return _item_result()


@output_schema("OptionItemResult")
def option_item_result_schema() -> dict:
    return _item_result(
        {"products": array_of(ref("ItemResult"), "The results of the option's products.")},
        "The outcome of an option of a cluster bulk, with its products'.",
    )


@output_schema("ClusterItemResult")
def cluster_item_result_schema() -> dict:
    return _item_result(
        {
            "products": array_of(ref("ItemResult"), "The results of the cluster's products."),
            "options": array_of(ref("OptionItemResult"), "The results of the cluster's options."),
        },
        "The outcome of a cluster of a cluster bulk, with its products' and options'.",
    )


@output_schema("ClusterResultsEnvelope")
def cluster_results_envelope_schema() -> dict:
    return closed_object(
        {
            "data": array_of(ref("ClusterItemResult"), "One result per cluster, in request order."),
            "messages": array_of({"type": "string"}, "A summary of the outcomes."),
        },
        description="The results of a cluster bulk, nested items' included.",
    )


@output_schema("ItemError")
def item_error_schema() -> dict:
    return closed_object(
        {
            "code": {"type": "integer", "enum": sorted({code.number for code in Code})},
            "type": {"type": "string", "enum": sorted({code.type_name for code in Code})},
            "messages": array_of({"type": "string"}) | {"minItems": 1},
        },
        description="One error of an item: an error code and its messages.",
    )


@output_schema("ResultsEnvelope")
def results_envelope_schema() -> dict:
    return closed_object(
        {
            "data": array_of(ref("ItemResult"), "One result per item, in request order."),
            "messages": array_of({"type": "string"}, "A summary of the outcomes."),
        },
        description="The results of a many-item operation.",
    )


@output_schema("CategoryTreeNode")
def category_tree_node_schema() -> dict:
    return closed_object(
        {
            "id": {"type": "integer"},
            "language": ref("Language"),
            "names": array_of(ref("LocalizedValue")),
            "slugs": array_of(ref("LocalizedValue")),
            "hidden": ref("YesNo"),
            "priority": {"type": "integer"},
            "level": {"type": "integer", "minimum": 0},
            "parentId": nullable({"type": "integer"}),
            "children": array_of(ref("CategoryTreeNode"), "Ordered by priority, then name."),
        }
    )


def struct_components(structs: Iterable[type[msgspec.Struct]]) -> dict:
    """OpenAPI schemas of msgspec Structs and every Struct they reference."""
    _, components = msgspec.json.schema_components(
        tuple(structs), ref_template=REF_PREFIX + "{name}"
    )
    for schema in components.values():
        for prop in schema.get("properties", {}).values():
            if prop == {}:
                # Fields typed Any on a write Struct are read-only fields a client may echo.
                prop["description"] = "Read-only; accepted and ignored."
    return components


# Hooks -----------------------------------------------------------------------------------------


def preprocess(endpoints, **kwargs):
    """Publish each `re_path(r"…/?$")` route once, under its path without the trailing slash."""
    result = []
    for path, path_regex, method, callback in endpoints:
        if path_regex.endswith("/?$") and path.endswith("/"):
            path = path.rstrip("/")
        result.append((path, path_regex, method, callback))
    return result


_HEADERS = {
    "X-Request-ID": {
        "description": "The caller's X-Request-ID echoed, or a generated one.",
        "required": True,
        "schema": {"type": "string"},
    },
    "X-RateLimit-Limit": {
        "description": "Requests allowed per window for this client.",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in the current window.",
        "schema": {"type": "integer"},
    },
    "WWW-Authenticate": {
        "description": "The Bearer challenge.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "integer"},
    },
}


def _response_headers(status: str) -> dict:
    names = ["X-Request-ID", "X-RateLimit-Limit", "X-RateLimit-Remaining"]
    if status == "401":
        names.append("WWW-Authenticate")
    if status == "429":
        names.append("Retry-After")
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _single_error_type(response: dict) -> str | None:
    """The error type of a response that can carry only one error code, else None."""
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    parts = schema.get("allOf", [])
    if len(parts) != 2 or parts[0] != ref("ErrorEnvelope"):
        return None
    types = parts[1]["properties"]["error"]["properties"]["type"]["enum"]
    return types[0] if len(types) == 1 else None


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": (
        "Makes a retry safe: the first response is kept 24 hours for this client and key and "
        "returned again (with `Idempotent-Replayed: true`) without running the request. The "
        "same key with a different request is refused with 422 (code 10017)."
    ),
}


def _document_idempotency(operation: dict) -> None:
    parameters = operation.setdefault("parameters", [])
    if not any(p.get("name") == IDEMPOTENCY_KEY["name"] for p in parameters):
        parameters.append(dict(IDEMPOTENCY_KEY))
    operation.setdefault("responses", {}).setdefault(
        "422",
        {
            "description": "10017 PayloadValidationError: the Idempotency-Key was used for a "
            "different request (or, for category moves, 30009 CategoryCycle).",
            "content": {"application/json": {"schema": {"$ref": f"{REF_PREFIX}ErrorEnvelope"}}},
        },
    )


def postprocess(result, generator, request, public):
    """Add the shared components and headers; normalise what drf-spectacular guessed."""
    components = result.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(_base_components())
    # Output schemas first: building one may register a Struct it refers to.
    outputs = {name: build() for name, build in _output_schemas.items()}
    schemas.update(struct_components([SourcePair, *_structs.values()]))
    schemas.update(outputs)
    schemas.update(copy.deepcopy(_generated))
    components["schemas"] = dict(sorted(schemas.items()))
    components["headers"] = copy.deepcopy(_HEADERS)

    shared_responses = components.setdefault("responses", {})
    envelope_refs = {REF_PREFIX + name for name in _generated}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if "requestBody" in operation:
                # An empty body is not a JSON object: 400 10005.
                operation["requestBody"]["required"] = True
            if method == "post":
                _document_idempotency(operation)
            responses = operation.get("responses", {})
            for status, response in responses.items():
                response["headers"] = {**_response_headers(status), **response.get("headers", {})}
                for content in response.get("content", {}).values():
                    schema = content.get("schema", {})
                    # drf-spectacular takes a `list` action to return a bare array and wraps
                    # its response in one; ours return an envelope object.
                    if (
                        schema.get("type") == "array"
                        and schema["items"].get("$ref") in envelope_refs
                    ):
                        content["schema"] = schema["items"]
                name = _single_error_type(response)
                if name is not None:
                    shared_responses[name] = response
                    responses[status] = {"$ref": f"#/components/responses/{name}"}
    components["responses"] = dict(sorted(shared_responses.items()))

    for target in sorted(set(_refs(result))):
        if target.startswith(REF_PREFIX) and target[len(REF_PREFIX) :] not in schemas:
            warn(f"OpenAPI document refers to the undefined component {target}")
    return result
