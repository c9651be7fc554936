"""Run the HTTP server under a small supervisor: what `make run` and the container start.

The supervisor owns everything the server needs for its lifetime:

- the embedded PostgreSQL, when DATABASE_URL is unset: it is started before gunicorn, started
  again if its postmaster dies while serving (requests meanwhile answer 503), and stopped
  after gunicorn is gone, so no postmaster outlives `make run`;
- gunicorn, in a session of its own: a terminal's Ctrl-C reaches only this process, which
  stops gunicorn gracefully (SIGTERM), waits a bounded time, and kills what is left.

A second Ctrl-C (or SIGTERM) while stopping kills gunicorn at once.
"""

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from catalogue.models import Category, Product

logger = logging.getLogger("serve")

# How often the supervisor looks at gunicorn and the postmaster.
POLL_SECONDS = 0.2
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Command(BaseCommand):
    help = (
        "Serve the API with gunicorn under a supervisor that also owns the embedded PostgreSQL "
        "(when DATABASE_URL is unset). Ctrl-C stops everything within seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--bind",
            default=os.environ.get("BIND", "127.0.0.1:8000"),
            help="Address to listen on (default: $BIND or 127.0.0.1:8000).",
        )
        parser.add_argument(
            "--migrate", action="store_true", help="Apply migrations before serving."
        )
        parser.add_argument(
            "--local-client",
            metavar="NAME",
            help="Create an API client with every write scope unless one of this name exists "
            "(its secret is printed once).",
        )
        parser.add_argument(
            "--demo",
            action="store_true",
            help="Load the demo catalogue (seed_demo) when the catalogue is empty.",
        )
        parser.add_argument(
            "--graceful-timeout",
            type=float,
            default=float(os.environ.get("GRACEFUL_TIMEOUT", "5")),
            help="Seconds in-flight requests get to finish on stop (default: 5).",
        )

    def handle(self, *args, bind, migrate, local_client, demo, graceful_timeout, **options):
        embedded = not os.environ.get("DATABASE_URL")
        try:
            try:
                self._prepare(migrate, local_client, demo)
            except KeyboardInterrupt:
                raise CommandError("Interrupted before serving", returncode=130) from None
            # From here on a stop signal stops gunicorn first and the database after it.
            self.stop_requested = threading.Event()
            self.hurry = threading.Event()
            for number in STOP_SIGNALS:
                signal.signal(number, self._on_signal)
            code = self._serve(bind, graceful_timeout, embedded)
        finally:
            if embedded:
                from config.embedded_db import release

                release()
        if code:
            raise CommandError(f"gunicorn exited with status {code}", returncode=code)

    def _prepare(self, migrate: bool, local_client: str | None, demo: bool) -> None:
        if migrate:
            call_command("migrate", interactive=False, verbosity=1)
        if local_client:
            call_command(
                "create_api_client",
                local_client,
                scopes=[scope for scope in settings.API_SCOPES if scope.endswith(".write")],
                if_missing=True,
            )
        if demo and not (Product.objects.exists() or Category.objects.exists()):
            call_command("seed_demo")
        # Workers open their own connections; this process needs none while it waits.
        connections.close_all()

    def _on_signal(self, number, frame):
        if self.stop_requested.is_set():
            self.hurry.set()
        self.stop_requested.set()

    def _serve(self, bind: str, graceful_timeout: float, embedded: bool) -> int:
        if embedded:
            from config.embedded_db import database_url
        env = {
            **os.environ,
            "DATABASE_URL": database_url() if embedded else os.environ["DATABASE_URL"],
            # Workers get DATABASE_URL, which alone would make them default to production.
            "DJANGO_ENV": settings.DJANGO_ENV,
        }
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "config/gunicorn.py",
            "--graceful-timeout",
            f"{graceful_timeout:g}",
            "--bind",
            bind,
            "config.wsgi:application",
        ]
        self.stdout.flush()  # what was printed so far (a new client's secret) comes first
        gunicorn = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, start_new_session=True)
        # Logged, not printed: in JSON mode every line the container writes is JSON.
        logger.info("Serving on http://%s/ (gunicorn pid %s); Ctrl-C stops", bind, gunicorn.pid)
        try:
            while not self.stop_requested.wait(POLL_SECONDS):
                if gunicorn.poll() is not None:
                    return gunicorn.returncode
                if embedded:
                    self._revive_database()
            logger.info("Stopping")
            self._stop(gunicorn, graceful_timeout)
            return 0
        finally:
            _kill_group(gunicorn)

    def _revive_database(self) -> None:
        from config import embedded_db

        if embedded_db.postmaster_pid() is not None:
            return
        logger.warning("The embedded PostgreSQL is not running; starting it again")
        started = time.monotonic()
        embedded_db.restart()
        logger.warning("The embedded PostgreSQL is back after %.1f s", time.monotonic() - started)

    def _stop(self, gunicorn: subprocess.Popen, graceful_timeout: float) -> None:
        """SIGTERM: gunicorn stops accepting and lets requests finish; then kill what is left."""
        with contextlib.suppress(ProcessLookupError):
            gunicorn.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + graceful_timeout + 2
        while gunicorn.poll() is None and time.monotonic() < deadline and not self.hurry.is_set():
            time.sleep(0.05)
        if gunicorn.poll() is None:
            logger.warning("gunicorn did not stop in time; killing it")


def _kill_group(process: subprocess.Popen) -> None:
    """Kill whatever is left of gunicorn's process group (the arbiter leads it) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
