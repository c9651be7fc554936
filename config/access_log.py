"""gunicorn's access log without secrets: the path, a redacted query and the request id.

A caller may put a token or secret in a query string (or a referer may carry one); the log
keeps parameter names and harmless values, replaces the values of parameters whose names look
like credentials, and cuts long queries. The full request line and the referer are not logged.
"""

import re
from urllib.parse import parse_qsl, quote

from gunicorn.glogging import Logger

SECRET_NAMES = re.compile(
    r"token|secret|passw|pwd|auth|credential|signature|^sig$|^code$|session|api[-_]?key|^key$",
    re.IGNORECASE,
)
REDACTED = "[redacted]"
# Header and environ atoms a format could name that carry credentials or the raw query.
SECRET_ATOMS = {
    "{authorization}i",
    "{proxy-authorization}i",
    "{cookie}i",
    "{referer}i",
    "{set-cookie}o",
    "{http_authorization}e",
    "{http_proxy_authorization}e",
    "{http_cookie}e",
    "{http_referer}e",
    "{query_string}e",
    "{raw_uri}e",
}
MAX_QUERY_CHARS = 512
ACCESS_LOG_FORMAT = (
    '%(h)s "%(m)s %(U)s%(Q)s %(H)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s "%(a)s"'
)


def redact_query(query: str) -> str:
    """The query with credential-like values replaced and at most MAX_QUERY_CHARS kept."""
    if not query:
        return ""
    parts = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        shown = REDACTED if SECRET_NAMES.search(name) else quote(value, safe=",:[]{}\"'@/")
        parts.append(f"{quote(name, safe='[]')}={shown}")
    redacted = "&".join(parts)
    if len(redacted) > MAX_QUERY_CHARS:
        redacted = redacted[:MAX_QUERY_CHARS] + f"…(+{len(redacted) - MAX_QUERY_CHARS} chars)"
    return redacted


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        query = redact_query(environ.get("QUERY_STRING", ""))
        atoms["q"] = query
        atoms["Q"] = f"?{query}" if query else ""
        atoms["r"] = f"{atoms['m']} {atoms['U']}{atoms['Q']} {atoms['H']}"
        atoms["f"] = "-"
        for name in SECRET_ATOMS & atoms.keys():
            atoms[name] = REDACTED
        return atoms
