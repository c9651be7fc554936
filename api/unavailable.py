"""A database that cannot be reached answers 503 in the error envelope, not 500.

While PostgreSQL restarts (or the network to it is down) every query fails with a connection
error; callers should retry later rather than report a server bug. DRF views map it in the
exception handler; the middleware covers plain Django views such as the admin.
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

from catalogue.errors import Code

logger = logging.getLogger("api")

STATUS = 503
MESSAGE = "database unavailable"
# SQLSTATE classes of a lost or refused connection: 08 connection exception, 57P operator
# intervention (shutdown, crash recovery, "the database system is starting up").
UNAVAILABLE_STATES = ("08", "57P")


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached, not that a query was wrong."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    state = getattr(exc.__cause__, "sqlstate", None)
    # No SQLSTATE: the client library could not reach the server at all.
    return state is None or state.startswith(UNAVAILABLE_STATES)


def unavailable_response() -> JsonResponse:
    from api.exceptions import error_body

    return JsonResponse(
        error_body(Code.INTERNAL_ERROR, [MESSAGE], STATUS),
        status=STATUS,
        headers={"Retry-After": "1"},
    )


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not database_unavailable(exception):
            return None
        logger.warning("Database unavailable: %s", exception)
        return unavailable_response()
