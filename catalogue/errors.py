"""Error codes of the API contract: numeric code, type name and HTTP status, defined once."""

from enum import Enum


class Code(Enum):
    AUTHENTICATION_FAILED = (10001, "AuthenticationFailed", 401)
    INSUFFICIENT_SCOPE = (10003, "InsufficientScope", 403)
    METHOD_NOT_ALLOWED = (10004, "MethodNotAllowed", 405)
    INVALID_JSON_PAYLOAD = (10005, "InvalidJSONPayload", 400)
    INVALID_LOOKUP_KEY = (10006, "InvalidLookupKey", 400)
    SCHEMA_VALIDATION = (10007, "SchemaValidationException", 400)
    NOT_FOUND = (10008, "NotFound", 404)
    THROTTLED = (10009, "Throttled", 429)
    UNSUPPORTED_MEDIA_TYPE = (10010, "UnsupportedMediaType", 415)
    PAYLOAD_TOO_LARGE = (10011, "PayloadTooLarge", 413)
    PRECONDITION_FAILED = (10012, "PreconditionFailed", 412)
    INTERNAL_ERROR = (10014, "InternalError", 500)
    PAGINATION = (10015, "PaginatedResponseException", 400)
    LOOKUP_KEY_NOT_FOUND = (10016, "LookupKeyNotFound", 400)
    PAYLOAD_VALIDATION = (10017, "PayloadValidationError", 400)
    TRANSLATION_NOT_FOUND = (10018, "TranslationNotFound", 404)

    CLUSTER_EXISTS = (20004, "ClusterExists", 409)
    CLUSTER_MULTIPLE_FOUND = (20005, "ClusterMultipleFound", 400)
    CLUSTER_NOT_FOUND = (20006, "ClusterNotFound", 404)
    PARENT_CLUSTER_NOT_FOUND = (20007, "ParentClusterNotFound", 404)
    CLUSTER_PRODUCT_NOT_ATTACHED = (20009, "ClusterProductNotAttached", 422)

    CLUSTER_CONFIG_EXISTS = (21004, "ClusterConfigExists", 409)
    CLUSTER_CONFIG_NOT_FOUND = (21005, "ClusterConfigNotFound", 404)
    CLUSTER_CONFIG_SETTING_EXISTS = (21006, "ClusterConfigSettingExists", 409)
    CLUSTER_CONFIG_SETTING_NOT_FOUND = (21007, "ClusterConfigSettingNotFound", 404)
    CLUSTER_CONFIG_IN_USE = (21008, "ClusterConfigInUse", 409)

    CLUSTER_OPTION_EXISTS = (22004, "ClusterOptionExists", 409)
    CLUSTER_OPTION_NOT_FOUND = (22006, "ClusterOptionNotFound", 404)

    CATEGORY_EXISTS = (30004, "CategoryExists", 409)
    CATEGORY_MULTIPLE_FOUND = (30005, "CategoryMultipleFound", 400)
    CATEGORY_NOT_FOUND = (30006, "CategoryNotFound", 404)
    PARENT_CATEGORY_NOT_FOUND = (30007, "ParentCategoryNotFound", 404)
    CATEGORY_NOT_EMPTY = (30008, "CategoryNotEmpty", 409)
    CATEGORY_CYCLE = (30009, "CategoryCycle", 422)
    PRIMARY_CATEGORY_REMOVAL = (30010, "PrimaryCategoryRemoval", 422)

    PRODUCT_EXISTS = (80004, "ProductExists", 409)
    PRODUCT_MULTIPLE_FOUND = (80005, "ProductMultipleFound", 400)
    PRODUCT_NOT_FOUND = (80006, "ProductNotFound", 404)

    @property
    def number(self) -> int:
        return self.value[0]

    @property
    def type_name(self) -> str:
        return self.value[1]

    @property
    def status(self) -> int:
        return self.value[2]


class CatalogueError(Exception):
    """A domain error that the API layer turns into the error envelope."""

    def __init__(self, code: Code, *messages: str):
        self.code = code
        self.messages = list(messages) or [code.type_name]
        super().__init__("; ".join(self.messages))


class ValidationFailed(CatalogueError):
    """Input does not fit the schema (10007) or the business rules (10017)."""
