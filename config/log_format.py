"""Log lines: plain text on a terminal, one JSON object per line in production (LOG_FORMAT).

Every line written while a request is handled carries its request id, including Django's
4xx/5xx warnings (logged after the request id middleware has finished) and gunicorn's access
log (whose id comes from the response's X-Request-ID header).
"""

import logging
import os
import traceback
from datetime import UTC, datetime

import orjson

from api.middleware import current_request_id
from config.access_log import RedactingLogger

PLAIN_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
# Fields a log call may add with `extra=` that the JSON lines carry as they are.
JSON_EXTRA_FIELDS = ("status_code", "method", "path", "duration_ms", "remote_addr")


def log_format() -> str:
    """'json' or 'plain' (the default), from LOG_FORMAT."""
    value = os.environ.get("LOG_FORMAT", "plain").strip().lower() or "plain"
    if value not in {"plain", "json"}:
        raise ValueError("LOG_FORMAT must be 'plain' or 'json'")
    return value


class RequestIdFilter(logging.Filter):
    """Set record.request_id: given with the record, else the current request's, else '-'."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) in (None, "-"):
            request_id = current_request_id.get()
            if request_id == "-":
                # django.request logs 4xx/5xx after the middleware has reset the context.
                request_id = getattr(getattr(record, "request", None), "request_id", "-")
            record.request_id = request_id
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for name in JSON_EXTRA_FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str | int | float):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def formatter() -> logging.Formatter:
    return JsonFormatter() if log_format() == "json" else logging.Formatter(PLAIN_FORMAT)


class GunicornLogger(RedactingLogger):
    """gunicorn's logger: access lines without secrets (see config/access_log.py) carrying the
    request id, and JSON lines when asked for."""

    access_fmt = "%(message)s"

    def setup(self, cfg):
        super().setup(cfg)
        json_lines = log_format() == "json"
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if getattr(handler, "_gunicorn", False):
                    handler.addFilter(RequestIdFilter())
                    if json_lines:
                        handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        extra = {
            "request_id": atoms["{x-request-id}o"],
            "status_code": int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"],
            "method": atoms["m"],
            "path": atoms["U"],
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "remote_addr": atoms["h"],
        }
        try:
            self.access_log.info(self.cfg.access_log_format, atoms, extra=extra)
        except Exception:
            self.error(traceback.format_exc())
