"""Gunicorn settings for `make run`, the container and the benchmark.

Threaded workers keep client connections alive between requests, which integrators' HTTP
clients rely on; each thread holds its own database connection.

In production the server sits behind a buffering reverse proxy (see README, "Production"): a
thread is busy for as long as its client takes to send the request and read the response, so
slow clients talking to gunicorn directly can occupy every thread.
"""

import os

from config.access_log import ACCESS_LOG_FORMAT

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gthread, minus the quit handler that deadlocks on Ctrl-C (see config/workers.py).
worker_class = "config.workers.ThreadWorker"
threads = int(os.environ.get("WEB_THREADS", "4"))
# Idle kept-alive connections wait in the worker's poller, not in a thread. Behind a load
# balancer this must exceed the balancer's own idle timeout (60 s on most).
keepalive = int(os.environ.get("KEEPALIVE", "75"))
# A worker whose main loop stops answering for this long is restarted. Long requests do not
# trip it (their threads run beside the loop); PostgreSQL's statement_timeout bounds them.
timeout = 120
graceful_timeout = 30
control_socket_disable = True

# Request-line and header limits high enough that the application, not gunicorn, answers
# what it can: gunicorn refuses longer lines itself with an HTML 414 / 400. 8190 bytes is the
# longest request line gunicorn allows at all (a GET with about 1,000 numeric ids); longer
# filter lists go in the body of POST …/search.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 16384

accesslog = os.environ.get("ACCESS_LOG", "-") or None
logger_class = "config.log_format.GunicornLogger"
access_log_format = ACCESS_LOG_FORMAT
