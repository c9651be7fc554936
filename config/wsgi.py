import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from api.middleware import TerminatedInputMiddleware

# Chunked request bodies (no Content-Length) are read before Django sees the request.
application = TerminatedInputMiddleware(get_wsgi_application())
