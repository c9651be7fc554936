"""What each error code means, in one sentence: the text of the error reference page."""

from catalogue.errors import Code

DESCRIPTIONS: dict[Code, str] = {
    Code.AUTHENTICATION_FAILED: (
        "The request has no bearer token, or the token is malformed, expired or revoked; get a "
        "new one from /oauth2/token/."
    ),
    Code.INSUFFICIENT_SCOPE: (
        "The token is valid but lacks the scope this operation needs; the message names it."
    ),
    Code.METHOD_NOT_ALLOWED: "The path exists but does not accept this HTTP method.",
    Code.INVALID_JSON_PAYLOAD: (
        "The request body is not valid JSON, or not a JSON object where one is required."
    ),
    Code.INVALID_LOOKUP_KEY: (
        "The lookup key in the path is not one this resource supports (for example sku on "
        "categories)."
    ),
    Code.SCHEMA_VALIDATION: (
        "A field is missing, has the wrong type or value, is too long, or names an unknown "
        "language, filter, sort field or directive; the message names the field path."
    ),
    Code.NOT_FOUND: "No endpoint answers at this path.",
    Code.THROTTLED: (
        "The client sent more requests than its rate limit allows; retry after the number of "
        "seconds in Retry-After."
    ),
    Code.UNSUPPORTED_MEDIA_TYPE: (
        "The request body has a Content-Type other than application/json (or "
        "application/x-ndjson where bulk accepts it)."
    ),
    Code.PAYLOAD_TOO_LARGE: (
        "The request body is larger than the server accepts, or a bulk or many-item request "
        "has more items than its limit; nothing was applied."
    ),
    Code.PRECONDITION_FAILED: (
        "The If-Match header does not match the record's current ETag: someone changed it "
        "since you read it."
    ),
    Code.INTERNAL_ERROR: (
        "The server could not complete the request (also answered with status 503 while the "
        "database is unavailable); retrying later is safe for reads and idempotent writes."
    ),
    Code.PAGINATION: (
        "The page or offset parameter is not a positive integer, or the offset is over its maximum."
    ),
    Code.LOOKUP_KEY_NOT_FOUND: (
        "A bulk item does not carry the key field named in the request path (for example "
        "source and sourceId for bulk/sourceId)."
    ),
    Code.PAYLOAD_VALIDATION: (
        "The request is well formed but breaks a business rule, such as a missing name in the "
        "default language, a key sent twice in one bulk, or a missing companion parameter."
    ),
    Code.TRANSLATION_NOT_FOUND: "The record has no value in that language in any field.",
    Code.CLUSTER_EXISTS: "Another cluster already has this code, source pair or slug.",
    Code.CLUSTER_MULTIPLE_FOUND: "The lookup value matches more than one cluster.",
    Code.CLUSTER_NOT_FOUND: "No cluster matches the lookup key and value.",
    Code.PARENT_CLUSTER_NOT_FOUND: "The cluster named as parent does not exist.",
    Code.CLUSTER_PRODUCT_NOT_ATTACHED: "The product is not in this cluster.",
    Code.CLUSTER_CONFIG_EXISTS: "Another cluster config already has this name.",
    Code.CLUSTER_CONFIG_NOT_FOUND: "No cluster config matches the lookup key and value.",
    Code.CLUSTER_CONFIG_SETTING_EXISTS: (
        "The cluster config already has a setting for this attribute name."
    ),
    Code.CLUSTER_CONFIG_SETTING_NOT_FOUND: "The cluster config has no setting with this id.",
    Code.CLUSTER_CONFIG_IN_USE: "Clusters still use this cluster config, so it cannot be deleted.",
    Code.CLUSTER_OPTION_EXISTS: "Another cluster option already has this source pair.",
    Code.CLUSTER_OPTION_NOT_FOUND: "No cluster option matches the lookup key and value.",
    Code.CATEGORY_EXISTS: (
        "Another category already has this source pair or slug, or the product or cluster is "
        "already in the category."
    ),
    Code.CATEGORY_MULTIPLE_FOUND: "The lookup value matches more than one category.",
    Code.CATEGORY_NOT_FOUND: "No category matches the lookup key and value.",
    Code.PARENT_CATEGORY_NOT_FOUND: (
        "The category named as parent does not exist (or failed earlier in the same bulk)."
    ),
    Code.CATEGORY_NOT_EMPTY: (
        "The category still has child categories, products or clusters, so it cannot be deleted."
    ),
    Code.CATEGORY_CYCLE: "A category cannot be moved under itself or one of its descendants.",
    Code.PRIMARY_CATEGORY_REMOVAL: (
        "A product or cluster cannot be removed from its primary category; move it instead."
    ),
    Code.PRODUCT_EXISTS: "Another product already has this source pair or slug.",
    Code.PRODUCT_MULTIPLE_FOUND: "The sku or supplier code matches more than one product.",
    Code.PRODUCT_NOT_FOUND: "No product matches the lookup key and value.",
}
