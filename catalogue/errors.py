"""Error codes: a stable number and a type name per failure, defined once.

The domain raises them without knowing about HTTP; api/errors.py maps each to its status.
"""

from enum import Enum


class Code(Enum):
    AUTHENTICATION_FAILED = (10001, "AuthenticationFailed")
    INSUFFICIENT_SCOPE = (10003, "InsufficientScope")
    METHOD_NOT_ALLOWED = (10004, "MethodNotAllowed")
    INVALID_JSON_PAYLOAD = (10005, "InvalidJSONPayload")
    INVALID_LOOKUP_KEY = (10006, "InvalidLookupKey")
    SCHEMA_VALIDATION = (10007, "SchemaValidationException")
    NOT_FOUND = (10008, "NotFound")
    THROTTLED = (10009, "Throttled")
    UNSUPPORTED_MEDIA_TYPE = (10010, "UnsupportedMediaType")
    PAYLOAD_TOO_LARGE = (10011, "PayloadTooLarge")
    PRECONDITION_FAILED = (10012, "PreconditionFailed")
    INTERNAL_ERROR = (10014, "InternalError")
    PAGINATION = (10015, "PaginatedResponseException")
    LOOKUP_KEY_NOT_FOUND = (10016, "LookupKeyNotFound")
    PAYLOAD_VALIDATION = (10017, "PayloadValidationError")
    TRANSLATION_NOT_FOUND = (10018, "TranslationNotFound")

    CLUSTER_EXISTS = (20004, "ClusterExists")
    CLUSTER_MULTIPLE_FOUND = (20005, "ClusterMultipleFound")
    CLUSTER_NOT_FOUND = (20006, "ClusterNotFound")
    PARENT_CLUSTER_NOT_FOUND = (20007, "ParentClusterNotFound")
    CLUSTER_PRODUCT_NOT_ATTACHED = (20009, "ClusterProductNotAttached")

    CLUSTER_CONFIG_EXISTS = (21004, "ClusterConfigExists")
    CLUSTER_CONFIG_NOT_FOUND = (21005, "ClusterConfigNotFound")
    CLUSTER_CONFIG_SETTING_EXISTS = (21006, "ClusterConfigSettingExists")
    CLUSTER_CONFIG_SETTING_NOT_FOUND = (21007, "ClusterConfigSettingNotFound")
    CLUSTER_CONFIG_IN_USE = (21008, "ClusterConfigInUse")

    CLUSTER_OPTION_EXISTS = (22004, "ClusterOptionExists")
    CLUSTER_OPTION_NOT_FOUND = (22006, "ClusterOptionNotFound")

    CATEGORY_EXISTS = (30004, "CategoryExists")
    CATEGORY_MULTIPLE_FOUND = (30005, "CategoryMultipleFound")
    CATEGORY_NOT_FOUND = (30006, "CategoryNotFound")
    PARENT_CATEGORY_NOT_FOUND = (30007, "ParentCategoryNotFound")
    CATEGORY_NOT_EMPTY = (30008, "CategoryNotEmpty")
    CATEGORY_CYCLE = (30009, "CategoryCycle")
    PRIMARY_CATEGORY_REMOVAL = (30010, "PrimaryCategoryRemoval")

    PRODUCT_EXISTS = (80004, "ProductExists")
    PRODUCT_MULTIPLE_FOUND = (80005, "ProductMultipleFound")
    PRODUCT_NOT_FOUND = (80006, "ProductNotFound")

    @property
    def number(self) -> int:
        return self.value[0]

    @property
    def type_name(self) -> str:
        return self.value[1]


class CatalogueError(Exception):
    """A domain error that the API layer turns into the error envelope."""

    def __init__(self, code: Code, *messages: str):
        self.code = code
        self.messages = list(messages) or [code.type_name]
        super().__init__("; ".join(self.messages))


class ValidationFailed(CatalogueError):
    """Input does not fit the schema (10007) or the business rules (10017)."""
