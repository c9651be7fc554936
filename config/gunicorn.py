"""Gunicorn settings for `make run`, the container and the benchmark.

Threaded workers keep client connections alive between requests, which integrators' HTTP
clients rely on; each thread holds its own database connection.
"""

import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
keepalive = 30
timeout = 120
control_socket_disable = True
accesslog = os.environ.get("ACCESS_LOG", "-") or None
