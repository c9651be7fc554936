"""Pages for people: the start page and the error code reference that errors link to."""

from django.http import JsonResponse
from django.shortcuts import render

from api.error_docs import DESCRIPTIONS
from api.errors import HTTP_STATUS
from catalogue.errors import Code

LINKS = {
    "docs": "/v2/docs/",
    "redoc": "/v2/redoc/",
    "schema": "/v2/schema/",
    "errors": "/v2/docs/errors",
    "admin": "/admin/",
    "token": "/oauth2/token/",
}


def home(request):
    """Point a browser (HTML) or a script (JSON) at the documentation and the admin."""
    if "text/html" in request.headers.get("Accept", ""):
        return render(request, "api/home.html", {"links": LINKS})
    return JsonResponse({"name": "Catalogue API", "links": LINKS})


def error_codes(request):
    """Every error code with its type, HTTP status and meaning; each row is an anchor."""
    rows = [
        {
            "number": code.number,
            "type": code.type_name,
            "status": HTTP_STATUS[code],
            "description": DESCRIPTIONS[code],
        }
        for code in sorted(Code, key=lambda c: c.number)
    ]
    return render(request, "api/error_codes.html", {"rows": rows})
