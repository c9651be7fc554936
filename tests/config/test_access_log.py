"""gunicorn's access log: path, redacted query and request id; no credentials."""

import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import SafeAtoms

from config import gunicorn as gunicorn_settings
from config.access_log import RedactingLogger, redact_query


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ""),
        ("page=2&offset=10", "page=2&offset=10"),
        ("access_token=abc&page=2", "access_token=[redacted]&page=2"),
        ("client_secret=s3cr3t&client_id=erp", "client_secret=[redacted]&client_id=erp"),
        ("password=x&Token=y&apiKey=z&api_key=z&key=k", "password=[redacted]&Token=[redacted]&apiKey=[redacted]&api_key=[redacted]&key=[redacted]"),
        ("X-Amz-Signature=abc&sig=1&code=9&session=2", "X-Amz-Signature=[redacted]&sig=[redacted]&code=[redacted]&session=[redacted]"),
        ("term=valve%20DN50&skus=A,B", "term=valve%20DN50&skus=A,B"),
        ("supplierCodes=X1&sourceIds=P-1", "supplierCodes=X1&sourceIds=P-1"),
        ("term=a%00b", "term=a%00b"),
    ],
)  # fmt: skip
def test_credential_like_values_are_redacted(query, expected):
    assert redact_query(query) == expected


def test_a_long_query_is_cut():
    redacted = redact_query("ids=" + ",".join(str(n) for n in range(1000)))

    assert redacted.startswith("ids=0,1,2,3")
    assert redacted.endswith(
        f"…(+{len('ids=' + ','.join(str(n) for n in range(1000))) - 512} chars)"
    )
    assert len(redacted) < 540


def access_line(query: str, *, headers=(), environ_extra=None) -> str:
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", gunicorn_settings.access_log_format)
    logger = RedactingLogger(cfg)
    environ = {
        "REMOTE_ADDR": "192.0.2.10",
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/v2/products?{query}",
        "PATH_INFO": "/v2/products",
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_USER_AGENT": "curl/8.5",
        "HTTP_REFERER": "https://example.com/?token=leak",
        "HTTP_AUTHORIZATION": "Bearer eyJ.secret.jwt",
        **(environ_extra or {}),
    }
    response = SimpleNamespace(status="200 OK", sent=512, headers=[("X-Request-ID", "rid-42")])
    request = SimpleNamespace(headers=[("AUTHORIZATION", "Bearer eyJ.secret.jwt"), *headers])
    atoms = SafeAtoms(logger.atoms(response, request, environ, timedelta(milliseconds=12)))
    return cfg.access_log_format % atoms


def test_the_access_line_has_path_redacted_query_and_request_id():
    line = access_line("term=valve&access_token=abc.def")

    assert line == (
        '192.0.2.10 "GET /v2/products?term=valve&access_token=[redacted] HTTP/1.1" '
        '200 512 12ms rid=rid-42 "curl/8.5"'
    )


def test_no_credential_reaches_the_line_even_through_a_custom_format():
    cfg_format = "%(r)s %(f)s %({authorization}i)s %({http_authorization}e)s %({query_string}e)s %({raw_uri}e)s"
    line = access_line("client_secret=abc")
    logger = RedactingLogger(Config())
    environ = {
        "REMOTE_ADDR": "192.0.2.10",
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/v2/products?client_secret=abc",
        "PATH_INFO": "/v2/products",
        "QUERY_STRING": "client_secret=abc",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": "https://example.com/?token=leak",
        "HTTP_AUTHORIZATION": "Bearer eyJ.secret.jwt",
    }
    response = SimpleNamespace(status="200 OK", sent=1, headers=[])
    request = SimpleNamespace(headers=[("AUTHORIZATION", "Bearer eyJ.secret.jwt")])
    custom = cfg_format % SafeAtoms(logger.atoms(response, request, environ, timedelta(0)))

    for text in (line, custom):
        assert "abc" not in text
        assert "leak" not in text
        assert "eyJ" not in text
    assert custom.startswith("GET /v2/products?client_secret=[redacted] HTTP/1.1 - [redacted]")


def test_the_server_settings_let_the_application_answer_first():
    assert gunicorn_settings.limit_request_line == 8190  # gunicorn's largest bounded value
    assert gunicorn_settings.limit_request_field_size >= 16384
    assert gunicorn_settings.logger_class == "config.log_format.GunicornLogger"
    assert gunicorn_settings.worker_class == "config.workers.ThreadWorker"


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_the_access_logger_logs_through_gunicorn():
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", gunicorn_settings.access_log_format)
    logger = RedactingLogger(cfg)
    captured = Lines()
    logger.access_log.addHandler(captured)

    logger.access(
        SimpleNamespace(status="404 Not Found", sent=10, headers=[("X-Request-ID", "r1")]),
        SimpleNamespace(headers=[]),
        {
            "REMOTE_ADDR": "192.0.2.1",
            "REQUEST_METHOD": "GET",
            "RAW_URI": "/v2/x?password=p",
            "PATH_INFO": "/v2/x",
            "QUERY_STRING": "password=p",
            "SERVER_PROTOCOL": "HTTP/1.1",
        },
        timedelta(milliseconds=3),
    )

    assert captured.lines == [
        '192.0.2.1 "GET /v2/x?password=[redacted] HTTP/1.1" 404 10 3ms rid=r1 "-"'
    ]
