"""A lost database answers 503 in the error envelope; log lines carry the request id."""

import json
import logging
from datetime import timedelta
from types import SimpleNamespace

import psycopg
import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import InterfaceError, OperationalError
from django.test import Client
from gunicorn.config import Config

from api.auth import BearerTokenAuthentication
from api.unavailable import database_unavailable
from config.access_log import ACCESS_LOG_FORMAT
from config.log_format import GunicornLogger, JsonFormatter, RequestIdFilter
from tests.assertions import assert_error

UNAVAILABLE = {
    "code": 10014,
    "status": 503,
    "type": "InternalError",
    "messages": ["database unavailable"],
    "moreInfo": "/v2/docs/errors#10014",
}


def lost_connection(*args, **kwargs):
    try:
        raise psycopg.OperationalError("connection to server on socket failed: No such file")
    except psycopg.OperationalError as cause:
        raise OperationalError(str(cause)) from cause


def with_state(state: str) -> OperationalError:
    """The error Django raises for a server error of this SQLSTATE."""
    error = OperationalError(state)
    error.__cause__ = psycopg.errors.lookup(state)(state)
    return error


@pytest.mark.parametrize(
    ("exc", "unavailable"),
    [
        (with_state("08006"), True),  # connection failure
        (with_state("57P01"), True),  # admin shutdown
        (with_state("57P03"), True),  # the database system is starting up
        (InterfaceError("connection already closed"), True),
        (with_state("57014"), False),  # a statement timeout is not an outage
        (with_state("40P01"), False),  # deadlock
        (ValueError("no"), False),
    ],
)
def test_which_errors_mean_the_database_is_unavailable(exc, unavailable):
    assert database_unavailable(exc) is unavailable


@pytest.mark.django_db
def test_api_request_answers_503_while_the_database_is_unreachable(monkeypatch):
    monkeypatch.setattr(BearerTokenAuthentication, "authenticate", lost_connection)

    response = Client().get("/v2/products", HTTP_AUTHORIZATION="Bearer x")

    assert_error(response, 503, 10014, "InternalError", ["database unavailable"])
    assert response.json()["error"] == UNAVAILABLE
    assert response["Retry-After"] == "1"


@pytest.mark.django_db
def test_plain_django_view_answers_503_while_the_database_is_unreachable(monkeypatch):
    monkeypatch.setattr(SessionStore, "load", lost_connection)
    client = Client()
    client.cookies["sessionid"] = "a-session-the-admin-must-read"

    response = client.get("/admin/login/")

    assert response.status_code == 503
    assert response.json()["error"] == UNAVAILABLE


def test_django_4xx_warning_carries_the_request_id():
    # django.request logs 4xx after the request id middleware has finished
    record = logging.LogRecord("django.request", logging.WARNING, "", 0, "Not Found", (), None)
    record.request = SimpleNamespace(request_id="abc123")

    RequestIdFilter().filter(record)

    assert record.request_id == "abc123"


def test_json_lines_are_json_with_the_request_id():
    record = logging.LogRecord("api", logging.WARNING, "", 0, "hello %s", ("you",), None)
    record.request_id = "r-1"
    record.status_code = 404

    line = json.loads(JsonFormatter().format(record))

    assert line["message"] == "hello you"
    assert line["request_id"] == "r-1"
    assert line["level"] == "WARNING"
    assert line["status_code"] == 404
    assert line["time"].endswith("+00:00")


@pytest.mark.parametrize("log_format", ["plain", "json"])
def test_gunicorn_access_line_carries_the_request_id(monkeypatch, capsys, log_format):
    monkeypatch.setenv("LOG_FORMAT", log_format)
    config = Config()
    config.set("accesslog", "-")
    config.set("access_log_format", ACCESS_LOG_FORMAT)
    logger = GunicornLogger(config)
    response = SimpleNamespace(
        status="404 Not Found", headers=[("X-Request-ID", "req-42")], sent=12
    )
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/v2/nothing",
        "PATH_INFO": "/v2/nothing",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "QUERY_STRING": "term=valve&access_token=abc",
    }

    logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=3))

    line = capsys.readouterr().out.strip()
    if log_format == "json":
        entry = json.loads(line)
        assert entry["request_id"] == "req-42"
        assert entry["status_code"] == 404
        assert entry["path"] == "/v2/nothing"
        assert "rid=req-42" in entry["message"]
    else:
        assert line.startswith('127.0.0.1 "GET /v2/nothing?term=valve&access_token=[redacted] ')
        assert '" 404 12 ' in line and "rid=req-42" in line
    assert "abc" not in line


def test_settings_pick_json_lines_from_log_format(monkeypatch):
    from config.log_format import formatter

    monkeypatch.setenv("LOG_FORMAT", "json")
    assert isinstance(formatter(), JsonFormatter)
    monkeypatch.setenv("LOG_FORMAT", "plain")
    assert not isinstance(formatter(), JsonFormatter)
